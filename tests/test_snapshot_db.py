"""The snapshot database beside the watchlist (``domain/snapshot_db.py``): a row of the
wrong types is a miss for its task alone, two processes writing at once lose nothing, the
pickled cache of earlier versions is migrated whole, and a database of another schema
version is left alone."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from harness import (
    SIZE,
    AppFactory,
    all_fetched,
    refs_of,
    seed_watchlist,
    settings_for,
    status_of,
    table,
    wait_for,
)
from watchlist_fixtures import T0, entry, ids

from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.snapshot_db import SCHEMA_VERSION
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import StatusChange, WatchEntry
from aireiter_tui.simulator import Simulator

DATA = Path(__file__).parent / "data" / "legacy_cache"


def _sql(path: Path, statement: str, *args: object) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(path.with_name(path.name + ".db"))) as db, db:
        return db.execute(statement, args).fetchall()


# --- a row of the wrong types ----------------------------------------------------------


@pytest.mark.sim(seed=3)
async def test_a_row_of_the_wrong_types_is_queried_again_and_the_others_shown_from_the_cache(
    sim: Simulator, app_factory: AppFactory, tmp_path: Path
) -> None:
    refs = refs_of(sim.add_tasks(3, status_mix={"completed": 1.0}))
    path = tmp_path / "watchlist.toml"
    seed_watchlist(path, refs)
    first = app_factory(settings_for(sim))
    async with first.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: all_fetched(first), "every task fetched")
        await pilot.press("q")
    bad = refs[1]
    # Text where a time is, as another program (or a damaged page) could leave it.
    _sql(path, "UPDATE snapshots SET checked_at = 'yesterday' WHERE key = ?", bad.key)

    sim.reset_counters()
    shown = app_factory(settings_for(sim), live=False)
    async with shown.run_test(size=SIZE):  # the first frame: no crash, the rest cached
        assert list(table(shown).order) == [ref.key for ref in refs]
        statuses = [status_of(shown, ref) for ref in refs]
    assert statuses == ["completed", None, "completed"] and sim.request_count == 0

    again = app_factory(settings_for(sim))
    async with again.run_test(size=SIZE) as pilot:
        assert [status_of(again, ref) for ref in (refs[0], refs[2])] == ["completed"] * 2
        await wait_for(pilot, lambda: status_of(again, bad) == "completed", "queried again")
        assert sim.requests_by_task[bad.id] >= 1
        await pilot.press("q")
    assert all(e.task is not None for e in WatchlistStore(path).load())  # written back


def test_a_reply_that_is_not_a_task_costs_only_its_own_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    WatchlistStore(path).save([entry("a", "completed"), entry("b", "failed"), entry("c")])
    _sql(path, "UPDATE snapshots SET reply = '[1, 2]' WHERE key = 'task_id:b'")
    _sql(path, "UPDATE snapshots SET reply = '{\"status\": ' WHERE key = 'task_id:c'")
    loaded = WatchlistStore(path).load()
    assert ids(loaded) == ["a", "b", "c"]
    assert [e.task.status_label if e.task else None for e in loaded] == ["completed", None, None]


# --- two processes at once ---------------------------------------------------------------


def _write_many(path: str, prefix: str, count: int, rounds: int, start: Any) -> None:
    """A process watching tasks of its own, saving news of them round after round."""
    store = WatchlistStore(Path(path))
    mine = [WatchEntry(TaskRef(IdKind.TASK_ID, f"{prefix}{n}"), prefix, T0) for n in range(count)]
    start.wait()
    for number in range(rounds):
        when = T0 + timedelta(seconds=number)
        status = "completed" if number == rounds - 1 else ("pending", "processing")[number % 2]
        for item in mine:
            item.record(parse_task({"task_id": item.ref.id, "status": status}), when)
        mine = [e for e in store.save(mine, write_cache=False) if e.label == prefix]


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    context = multiprocessing.get_context("fork")
    start = context.Barrier(2)
    writers = [
        context.Process(target=_write_many, args=(str(path), prefix, 150, 12, start))
        for prefix in ("left", "right")
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [writer.exitcode for writer in writers] == [0, 0]
    loaded = {e.ref.id: e for e in WatchlistStore(path).load()}
    assert sorted(loaded) == sorted(f"{p}{n}" for p in ("left", "right") for n in range(150))
    for item in loaded.values():
        assert item.task is not None and item.task.status_label == "completed", item.ref
        assert [change.status for change in item.history][-1] == "completed"
    assert _sql(path, "SELECT count(*) FROM snapshots") == [(300,)]


# --- the pickled cache of earlier versions ------------------------------------------------


def _expected(folder: Path) -> list[dict[str, Any]]:
    expected: list[dict[str, Any]] = json.loads((folder / "expected.json").read_text())
    return expected


def _as_written(item: WatchEntry) -> dict[str, Any]:
    return {
        "key": item.ref.key,
        "reply": None if item.task is None else item.task.raw,
        "checked_at": None if item.checked_at is None else item.checked_at.isoformat(),
        "history": [[change.status, change.at.isoformat()] for change in item.history],
    }


@pytest.mark.parametrize("version", ["format6", "format5"])
def test_the_pickled_cache_is_migrated_once_keeping_every_snapshot(
    tmp_path: Path, version: str
) -> None:
    """Files the pickled cache wrote (tests/data/legacy_cache/: a base and, for format 6,
    journal frames after it) are read once, moved into the database and removed."""
    for name in ("watchlist.toml", "watchlist.toml.cache"):
        shutil.copy(DATA / version / name, tmp_path / name)
    path = tmp_path / "watchlist.toml"
    expected = _expected(DATA / version)
    store = WatchlistStore(path)
    loaded = store.load()
    assert [_as_written(item) for item in loaded] == expected
    assert all(item.task == parse_task(item.task.raw) for item in loaded if item.task is not None)
    assert not store.legacy_cache_path.exists() and store.cache_path.exists()
    # From the database now, the same.
    assert [_as_written(item) for item in WatchlistStore(path).load()] == expected
    assert sum(item["reply"] is not None for item in expected) > 0


def test_a_damaged_pickled_cache_is_dropped_and_the_list_kept(tmp_path: Path) -> None:
    for name in ("watchlist.toml", "watchlist.toml.cache"):
        shutil.copy(DATA / "format6" / name, tmp_path / name)
    legacy = tmp_path / "watchlist.toml.cache"
    legacy.write_bytes(legacy.read_bytes()[:100])
    store = WatchlistStore(tmp_path / "watchlist.toml")
    loaded = store.load()
    assert [item.ref.key for item in loaded] == [i["key"] for i in _expected(DATA / "format6")]
    assert all(item.task is None for item in loaded)  # queried again
    assert not legacy.exists()


# --- another schema version -----------------------------------------------------------------


def test_a_database_of_a_newer_version_is_neither_read_nor_written(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    WatchlistStore(path).save([entry("a", "completed")])
    _sql(path, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    database = path.with_name(path.name + ".db")
    before = database.read_bytes()
    store = WatchlistStore(path)
    loaded = store.load()
    assert ids(loaded) == ["a"] and loaded[0].task is None  # queried again
    loaded[0].record(parse_task({"task_id": "a", "status": "failed"}), T0)
    store.save([*loaded, entry("b")])
    assert ids(WatchlistStore(path).load()) == ["a", "b"]  # the TOML is saved
    assert database.read_bytes() == before  # the newer program's file is left alone


def test_a_database_that_is_not_ours_is_made_again(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    WatchlistStore(path).save([entry("a", "completed")])
    database = path.with_name(path.name + ".db")
    for stale in tmp_path.glob("watchlist.toml.db*"):
        stale.unlink()
    with contextlib.closing(sqlite3.connect(database)) as db, db:
        db.execute("CREATE TABLE other (x)")
    store = WatchlistStore(path)
    loaded = store.load()
    assert loaded[0].task is None
    loaded[0].record(parse_task({"task_id": "a", "status": "failed"}), T0)
    loaded[0].history.append(StatusChange("failed", datetime(2026, 1, 1, tzinfo=UTC)))
    store.save(loaded)
    assert WatchlistStore(path).load()[0].task is not None
    assert _sql(path, "SELECT count(*) FROM sqlite_master WHERE name = 'other'") == [(0,)]
