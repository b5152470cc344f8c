"""Filling a session part by part (``PartLoader``), as the dashboard starts."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from watchlist_fixtures import entry

from aireiter_tui.domain import loading
from aireiter_tui.domain.loading import PartLoader
from aireiter_tui.domain.models import TaskStatus
from aireiter_tui.domain.session import Row, Session
from aireiter_tui.domain.snapshot_db import FIRST_PART_SIZE, PART_SIZE
from aireiter_tui.domain.watchlist import WatchlistStore


def _session(path: Path) -> Session:
    return Session(WatchlistStore(path), lambda: datetime(2026, 1, 1, tzinfo=UTC))


def _save(path: Path, count: int) -> None:
    statuses = ("pending", "completed", "failed")
    WatchlistStore(path).save([entry(f"t{n}", statuses[n % 3]) for n in range(count)])
    # Newer than its database copy (a hand edit): start() reads only a small file.
    later = path.stat().st_mtime_ns + 60 * 10**9
    os.utime(path, ns=(later, later))


def test_a_long_list_comes_in_parts_and_ends_with_every_row_counted(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    count = 2 * PART_SIZE + 500
    _save(path, count)
    session = _session(path)
    loader = PartLoader(session)
    assert loader.start() == []  # a file this long is read from its first part on
    sizes = []
    while not loader.done:
        sizes.append(len(loader.step()))
        assert (loader.read, loader.total) == (len(session.rows), count)
    # (the database's copy: a small first part, for the first frame)
    assert sizes == [FIRST_PART_SIZE, PART_SIZE, PART_SIZE, 500 - FIRST_PART_SIZE]
    assert loader.step() == [] and loader.problems == []
    counts = session.counts()
    assert counts.total == count and counts.by_status[TaskStatus.FAILED] == count // 3
    assert list(session.rows) == [f"task_id:t{n}" for n in range(count)]


def test_each_row_is_handed_on_once_in_order_and_frozen_if_asked(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    _save(path, PART_SIZE + 7)
    seen: list[str] = []
    session = _session(path)
    loader = PartLoader(session, on_rows=lambda rows: seen.extend(r.ref.key for r in rows))
    loader.start()
    assert len(seen) == FIRST_PART_SIZE
    loader.finish()
    assert seen == list(session.rows) and len(seen) == PART_SIZE + 7

    frozen = gc.get_freeze_count()
    try:
        PartLoader(_session(path), keep_frozen=True).finish()
        assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()


def test_a_small_file_has_its_first_part_read_at_once_by_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.toml"
    _save(path, PART_SIZE + 5)
    monkeypatch.setattr(loading, "QUICK_FILE_BYTES", path.stat().st_size)
    session = _session(path)
    loader = PartLoader(session)
    assert len(loader.start()) == FIRST_PART_SIZE and not loader.done
    assert len(loader.finish()) == PART_SIZE + 5 - FIRST_PART_SIZE and loader.done


async def test_run_reads_on_a_thread_and_adopts_each_part_on_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    _save(path, 2 * PART_SIZE + 3)
    session = _session(path)
    readers: set[int] = set()
    store = session.store
    assert store is not None
    parts = store.load_parts

    def watched() -> object:
        for part in parts():
            readers.add(threading.get_ident())
            yield part

    store.load_parts = watched  # type: ignore[method-assign]
    adopted: list[tuple[int, int]] = []

    def on_part(rows: list[Row]) -> None:
        adopted.append((threading.get_ident(), len(rows)))

    loader = PartLoader(session)
    loader.start()
    await loader.run(on_part)
    loop_thread = threading.get_ident()
    assert loop_thread not in readers and readers  # read elsewhere...
    sizes = [FIRST_PART_SIZE, PART_SIZE, PART_SIZE + 3 - FIRST_PART_SIZE]
    assert adopted == [(loop_thread, size) for size in sizes]
    assert loader.done and len(session.rows) == 2 * PART_SIZE + 3


async def test_finish_takes_over_from_a_thread_mid_part_keeping_the_order(
    tmp_path: Path,
) -> None:
    """Quitting while a thread reads a part: the save on quit reads the rest itself."""
    path = tmp_path / "w.toml"
    _save(path, 3 * PART_SIZE)
    session = _session(path)
    store = session.store
    assert store is not None
    parts, inside, go_on = store.load_parts, threading.Event(), threading.Event()

    def slow() -> object:
        for number, part in enumerate(parts()):
            if number == 1:
                inside.set()
                go_on.wait(timeout=30)  # (a guard: the test releases it at once)
            yield part

    store.load_parts = slow  # type: ignore[method-assign]
    loader = PartLoader(session)
    loader.start()
    reading = asyncio.ensure_future(loader.run())
    await asyncio.to_thread(inside.wait, 30)
    threading.Timer(0.05, go_on.set).start()
    loader.finish()  # waits for the thread's part, then reads the last one
    reading.cancel()
    assert list(session.rows) == [f"task_id:t{n}" for n in range(3 * PART_SIZE)]


def test_a_list_of_one_part_is_done_after_it(tmp_path: Path) -> None:
    for count in (3, FIRST_PART_SIZE):
        path = tmp_path / f"w{count}.toml"
        _save(path, count)
        loader = PartLoader(_session(path))
        assert len(loader.start()) == count and loader.done


def test_finish_reads_the_rest_so_a_save_keeps_the_order(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    _save(path, PART_SIZE + 10)
    before = path.read_bytes()
    session = _session(path)
    loader = PartLoader(session)
    loader.start()
    assert len(loader.finish()) == PART_SIZE + 10 - FIRST_PART_SIZE and loader.done
    session.dirty = True
    session.save()
    assert path.read_bytes() == before


def test_an_unreadable_file_is_a_problem_and_blocks_saving(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text("version = [", encoding="utf-8")
    session = _session(path)
    loader = PartLoader(session)
    assert loader.start() == [] and loader.done
    (problem,) = loader.problems
    assert "is not valid TOML" in problem and "not saved" in problem
    assert session.save_blocked is not None


def test_skipped_entries_are_reported_when_done(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text('version = 1\ntasks = [{id = "ok", kind = "task_id"}, 5]\n')
    loader = PartLoader(_session(path))
    assert len(loader.start()) == 1 and loader.done
    assert any("skipped" in problem for problem in loader.problems)


def test_no_store_is_done_at_once() -> None:
    loader = PartLoader(Session(None, lambda: datetime(2026, 1, 1, tzinfo=UTC)))
    assert loader.start() == [] and loader.done and loader.problems == []
