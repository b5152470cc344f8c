"""What a submit leaves on a watch entry (the estimate, the retry link) lasts: in the TOML,
in the snapshot database, through hand edits; files of earlier versions still read (the
old pickled cache's migration: ``test_snapshot_db.py``)."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import StatusChange, WatchEntry, retries_of

T0 = datetime(2025, 12, 18, 10, 0, tzinfo=UTC)
OLD = TaskRef(IdKind.TASK_ID, "order_failed_1")
NEW = TaskRef(IdKind.OUT_TASK_ID, "shot-7-r1")


def entries() -> list[WatchEntry]:
    failed = parse_task({"task_id": OLD.id, "status": "failed", "error": {"message": "x"}})
    return [
        WatchEntry(OLD, "lighthouse", T0, failed, T0, [StatusChange("failed", T0)]),
        WatchEntry(NEW, "lighthouse", T0, estimated_credits=120.0, retry_of=OLD),
    ]


def loaded(path: Path) -> dict[TaskRef, WatchEntry]:
    return {entry.ref: entry for entry in WatchlistStore(path).load()}


def test_the_estimate_and_the_retry_link_are_in_the_toml_line(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    WatchlistStore(path).save(entries())
    line = path.read_text().splitlines()[-2]
    assert line == (
        '  {id = "shot-7-r1", kind = "out_task_id", label = "lighthouse",'
        " added_at = 2025-12-18T10:00:00Z, estimated_credits = 120.0,"
        ' retry_of = "task_id:order_failed_1"},'
    )
    assert tomllib.loads(path.read_text())["version"] == 1  # optional keys: still version 1
    path.with_name(path.name + ".db").unlink()  # the TOML alone
    found = loaded(path)
    assert (found[NEW].estimated_credits, found[NEW].retry_of) == (120.0, OLD)
    assert (found[OLD].estimated_credits, found[OLD].retry_of) == (None, None)
    assert retries_of(found.values(), OLD) == [NEW] and retries_of(found.values(), NEW) == []


def test_the_cache_keeps_them_when_the_toml_is_not_parsed(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    WatchlistStore(path).save(entries())
    ((part, last, _),) = list(WatchlistStore(path).load_parts())
    assert last and part[0].task is not None  # the database's copy, snapshots and all
    assert (part[1].estimated_credits, part[1].retry_of) == (120.0, OLD)


def test_an_entry_whose_snapshot_cannot_be_cached_keeps_them(tmp_path: Path) -> None:
    deep: list[object] = []
    for _ in range(5000):  # deeper than JSON can be written
        deep = [deep]
    odd = parse_task({"out_task_id": NEW.id, "status": "pending", "metadata": {"deep": deep}})
    kept = entries()
    kept[1].task = odd
    path = tmp_path / "watchlist.toml"
    WatchlistStore(path).save(kept)
    ((part, _, _),) = WatchlistStore(path).load_parts()
    assert part[1].task is None  # queried again
    assert (part[1].estimated_credits, part[1].retry_of) == (120.0, OLD)


def test_a_copy_for_a_save_keeps_every_field() -> None:
    entry = entries()[1]
    copy = entry.copy()
    assert copy == entry and copy.history is not entry.history


def test_hand_edited_values_that_make_no_sense_are_dropped_with_a_word(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    path.write_text(
        "version = 1\ntasks = [\n"
        '  {id = "a-1", estimated_credits = -5, retry_of = "order_x"},\n'
        '  {id = "a-2", estimated_credits = "lots", retry_of = "task_id:has space"},\n'
        '  {id = "a-3", estimated_credits = 7, retry_of = "out_task_id:a-1"},\n'
        "]\n"
    )
    store = WatchlistStore(path)
    found = {entry.ref.id: entry for entry in store.load()}
    assert [(e.estimated_credits, e.retry_of) for e in found.values()] == [
        (None, None),
        (None, None),
        (7.0, TaskRef(IdKind.OUT_TASK_ID, "a-1")),
    ]
    assert store.last_warnings == [
        "task a-1: estimated_credits is not a number of credits and was dropped",
        'task a-1: retry_of must be "task_id:ID" or "out_task_id:ID"; the link was dropped',
        "task a-2: estimated_credits is not a number of credits and was dropped",
        'task a-2: retry_of must be "task_id:ID" or "out_task_id:ID"; the link was dropped',
    ]
