"""The event loop's own work at scale: a save's snapshot and its taking back cost what
changed, not the list; entries are never copied per row; the GC is kept off the loaded
list and off big batches of answers. And, whatever the order of edits, answers, saves
and other processes' edits, the file ends up saying what the session holds."""

from __future__ import annotations

import asyncio
import gc
import random
from collections.abc import ItemsView, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.insight import InsightWatch
from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.monitor import Monitor
from aireiter_tui.domain.poller import PollOutcome
from aireiter_tui.domain.session import Row, Saved, Session, Snapshot
from aireiter_tui.domain.snapshot_db import SnapshotDB
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def ref(name: str) -> TaskRef:
    return TaskRef(IdKind.TASK_ID, name)


def make_monitor(path: Path) -> Monitor:
    monitor = Monitor(
        WatchlistStore(path), Settings(), wall_clock=lambda: NOW, rng=random.Random(1)
    )
    monitor.load()
    return monitor


def answer(monitor: Monitor, target: TaskRef, status: str) -> None:
    task = parse_task({"task_id": target.id, "status": status, "created_at": NOW.isoformat()})
    monitor.record(PollOutcome(target, task))


def test_a_snapshot_copies_no_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monitor = make_monitor(tmp_path / "w.toml")
    monitor.add([ref(f"t{number}") for number in range(50)])
    answer(monitor, ref("t3"), "processing")
    monitor.relabel(ref("t4").key, "label")

    def no_copies(self: WatchEntry) -> WatchEntry:
        raise AssertionError("an entry was copied for a snapshot")

    monkeypatch.setattr(WatchEntry, "copy", no_copies)
    snapshot = monitor.session.snapshot()
    rows = monitor.session.rows
    assert [entry.ref for entry in snapshot.entries] == [row.ref for row in rows.values()]
    # The very entries the rows hold: nothing per row is kept twice.
    assert all(
        entry is row.entry for entry, row in zip(snapshot.entries, rows.values(), strict=True)
    )


def test_a_snapshot_is_not_changed_by_later_edits(tmp_path: Path) -> None:
    monitor = make_monitor(tmp_path / "w.toml")
    (row,) = monitor.add([ref("a")], "before")
    answer(monitor, row.ref, "processing")
    snapshot = monitor.session.snapshot()
    (taken,) = snapshot.entries
    history = list(taken.history)
    task = taken.task
    monitor.relabel(row.ref.key, "after")
    answer(monitor, row.ref, "completed")
    assert (taken.label, taken.task, taken.history) == ("before", task, history)
    assert row.entry.label == "after" and row.entry.task is not None
    assert row.entry.task.status.value == "completed" and len(row.entry.history) == 2


class _NoWalk(Mapping[str, WatchEntry]):
    """A snapshot's entries that refuse to be walked: only looked up."""

    def __init__(self, entries: dict[str, WatchEntry]) -> None:
        self._entries = entries

    def __getitem__(self, key: str) -> WatchEntry:
        return self._entries[key]

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the whole snapshot was walked")

    def __len__(self) -> int:
        return len(self._entries)


def test_taking_a_save_back_looks_only_at_what_it_found(tmp_path: Path) -> None:
    session = Session(WatchlistStore(tmp_path / "w.toml"), lambda: NOW)
    session.add([ref(f"t{number}") for number in range(20)])
    session.remove([ref("t5").key])
    snapshot = session.snapshot()
    walled = Snapshot(_NoWalk(dict(snapshot.by_key)), snapshot.removed)
    saved = Saved(
        added=[WatchEntry(ref("new"), None, NOW)],
        dropped=[ref("t1")],
        relabelled={ref("t2"): "theirs"},
    )
    added, dropped, relabelled = session.take_saved(walled, saved)
    assert [row.ref for row in added] == [ref("new")]
    assert [row.ref for row in dropped] == [ref("t1")]
    assert relabelled == [ref("t2").key] and session.rows[ref("t2").key].label == "theirs"
    assert not session.take_saved(walled, Saved())[0]


# --- the property: the file says what the session holds ------------------------------------
_NAMES = [f"task{number}" for number in range(12)]
_STATUSES = ["pending", "processing", "completed", "failed"]

_edit = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(_NAMES)),
    st.tuples(st.just("remove"), st.sampled_from(_NAMES)),
    st.tuples(st.just("undo"), st.none()),
    st.tuples(st.just("label"), st.sampled_from(_NAMES), st.sampled_from([None, "x", "y"])),
    st.tuples(st.just("answer"), st.sampled_from(_NAMES), st.sampled_from(_STATUSES)),
    st.tuples(st.just("theirs_add"), st.sampled_from(_NAMES)),
    st.tuples(st.just("theirs_remove"), st.sampled_from(_NAMES)),
    st.tuples(st.just("theirs_label"), st.sampled_from(_NAMES), st.sampled_from(["p", "q"])),
    st.tuples(st.just("save"), st.booleans()),
)


def _ours(monitor: Monitor, step: tuple[object, ...], at: datetime) -> None:
    kind = step[0]
    if kind == "add":
        monitor.add([ref(str(step[1]))])
    elif kind == "remove":
        monitor.remove([ref(str(step[1])).key])
    elif kind == "undo":
        monitor.undo_remove()
    elif kind == "label":
        label = step[2]
        monitor.relabel(ref(str(step[1])).key, label if isinstance(label, str) else None)
    elif kind == "answer":
        target = ref(str(step[1]))
        if target.key in monitor.session.rows:
            task = parse_task({"task_id": target.id, "status": step[2]})
            monitor.session.now = lambda: at
            monitor.record(PollOutcome(target, task))


def _theirs(path: Path, step: tuple[object, ...]) -> None:
    """Another process's edit of the file (as `aireiter-tui add/remove` makes them)."""
    other = WatchlistStore(path)
    entries = other.load()
    target = ref(str(step[1]))
    if step[0] == "theirs_add":
        other.save([*entries, WatchEntry(target, "added there", NOW)])
    elif step[0] == "theirs_remove":
        other.save(entries, removed=[target])
    else:
        changed = [
            WatchEntry(e.ref, str(step[2]), e.added_at) if e.ref == target else e for e in entries
        ]
        other.save(changed)


async def _run(path: Path, steps: list[tuple[object, ...]]) -> Monitor:
    monitor = make_monitor(path)
    pending: asyncio.Task[Saved | None] | None = None
    for number, step in enumerate(steps):
        at = NOW + timedelta(seconds=number)
        if step[0] == "save":
            if pending is None:
                pending = asyncio.create_task(monitor.save(force=bool(step[1])))
                await asyncio.sleep(0)  # its snapshot is taken; what follows races the write
            else:
                await pending
                pending = None
        elif str(step[0]).startswith("theirs"):
            if pending is not None:
                await pending  # (they wait for our lock too)
                pending = None
            _theirs(path, step)
        else:
            _ours(monitor, step, at)
    if pending is not None:
        await pending
    assert monitor.close() is None
    return monitor


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(_edit, max_size=30))
def test_the_saved_file_says_what_the_session_holds(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[object, ...]]
) -> None:
    path = tmp_path_factory.mktemp("prop") / "w.toml"
    monitor = asyncio.run(_run(path, steps))
    rows = monitor.session.rows
    # Read back by a fresh process: the TOML and the snapshot database.
    read = WatchlistStore(path).load()
    assert [entry.ref for entry in read] == [row.ref for row in rows.values()]
    assert [entry.label for entry in read] == [row.label for row in rows.values()]
    for entry in read:
        live = rows[entry.ref.key].entry
        assert (entry.task.status if entry.task else None) == (
            live.task.status if live.task else None
        )
        assert [change.status for change in entry.history] == [
            change.status for change in live.history
        ]
    SnapshotDB(path.with_name(path.name + ".db"))  # (still opens)


# --- the GC ---------------------------------------------------------------------------
def test_a_big_batch_of_answers_is_frozen_out_of_the_gcs_scans(tmp_path: Path) -> None:
    monitor = Monitor(
        WatchlistStore(tmp_path / "w.toml"), Settings(), wall_clock=lambda: NOW, keep_frozen=True
    )
    monitor.load()
    refs = [ref(f"t{number}") for number in range(300)]
    monitor.add(refs)
    gc.unfreeze()
    try:
        monitor.freezer.batch = 100
        for target in refs[:99]:
            answer(monitor, target, "processing")
        assert gc.get_freeze_count() == 0, "a small batch stays with the GC"
        answer(monitor, refs[99], "processing")
        gc.collect()
        # After the batch, the first full collection leaves the survivors frozen: the
        # answers' snapshots are never scanned again.
        assert gc.get_freeze_count() > 0
        task = monitor.session.rows[refs[0].key].entry.task
        assert task is not None and not _scanned(task)
    finally:
        monitor.close()
        gc.unfreeze()
    monitor.freezer.count(1000)
    gc.collect()
    assert gc.get_freeze_count() == 0, "a closed monitor freezes nothing"


def _scanned(thing: object) -> bool:
    """Whether the GC's generations (not the frozen ones) hold ``thing``."""
    return any(candidate is thing for candidate in gc.get_objects())


async def test_what_the_first_save_keeps_is_frozen_out_of_the_gcs_scans(tmp_path: Path) -> None:
    monitor = Monitor(
        WatchlistStore(tmp_path / "w.toml"), Settings(), wall_clock=lambda: NOW, keep_frozen=True
    )
    monitor.load()
    monitor.freezer.batch = 100
    try:
        monitor.add([ref(f"t{number}") for number in range(60)])
        gc.collect()
        gc.unfreeze()
        assert await monitor.save() is not None
        gc.collect()
        # The store remembers each entry's label in the file (the next merge's base).
        store = monitor.session.store
        assert store is not None and store._base is not None and ref("t7") in store._base
        assert not _scanned(store._base)
    finally:
        monitor.close()
        gc.unfreeze()


class _NoPythonWalk(dict[str, Row]):
    """Rows that refuse a walk in Python (a loop over 100,000 rows per batch); the C-level
    set operations of their keys still work."""

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the rows were walked")

    def items(self) -> ItemsView[str, Row]:
        raise AssertionError("the rows were walked")


def test_the_figures_take_in_added_and_removed_rows_without_a_walk() -> None:
    session = Session(None, lambda: NOW)
    session.add([ref(f"t{number}") for number in range(30)])
    for number in range(30):
        task = parse_task(
            {"task_id": f"t{number}", "status": "processing", "created_at": NOW.isoformat()}
        )
        session.apply(ref(f"t{number}"), task, None)
    watch = InsightWatch(Settings())
    rows = _NoPythonWalk(session.rows)
    watch.take(rows, (), full=True)
    assert watch.figures.outlook(NOW).active == 30
    watch.take(rows, (), full=True)  # nothing new: nothing walked
    session.remove([ref("t3").key])
    session.add([ref("late")])
    rows = _NoPythonWalk(session.rows)
    watch.take(rows, (), full=True)
    assert watch.figures.outlook(NOW).active == 29
    assert set(watch.figures.keys()) == set(session.rows.keys())
    # The order they were taken in is the list's (the stuck filter keeps it).
    watch.figures.limits = {"*": 0.0}
    stuck = watch.figures.stuck_keys(NOW + timedelta(seconds=1))
    assert stuck == [key for key in session.rows if key != ref("late").key]


def test_the_outlook_is_worked_out_once_a_second_while_nothing_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aireiter_tui.domain import insight

    session = Session(None, lambda: NOW)
    names = [f"t{number}" for number in range(20)]
    session.add([ref(name) for name in names])
    for number, name in enumerate(names):
        status = "completed" if number < 10 else "processing"
        data = {"task_id": name, "status": status, "created_at": NOW.isoformat()}
        if status == "completed":
            data["completed_at"] = (NOW + timedelta(seconds=30 + number)).isoformat()
        session.apply(ref(name), parse_task(data), None)
    watch = InsightWatch(Settings())
    watch.take(session.rows, (), full=True)
    later = NOW + timedelta(seconds=5, milliseconds=100)
    first = watch.figures.outlook(later)
    assert first.active == 10 and first.seconds is not None
    calls: list[object] = []
    real = insight.percentile

    def counted(*args: object, **kwargs: object) -> float | None:
        calls.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(insight, "percentile", counted)
    again = watch.figures.outlook(later + timedelta(milliseconds=500))
    assert not calls, "worked out again within the same second"
    assert first.seconds is not None and again.seconds is not None
    assert (again.active, again.without_estimate) == (first.active, first.without_estimate)
    assert again.seconds == pytest.approx(first.seconds - 0.5)
    # A new second, or a change, works it out again.
    next_second = watch.figures.outlook(later + timedelta(seconds=1)).seconds
    assert next_second == pytest.approx(first.seconds - 1)
    assert calls
    calls.clear()
    data = {"task_id": "t15", "status": "completed", "created_at": NOW.isoformat()}
    session.apply(ref("t15"), parse_task(data), None)
    watch.take(session.rows, [ref("t15").key], full=False)
    assert watch.figures.outlook(later + timedelta(seconds=1)).active == 9


def test_answers_that_replace_answers_of_this_run_freeze_nothing(tmp_path: Path) -> None:
    # Each frees the one before: nothing grows, and a freeze would only keep whatever
    # the UI's caches hold at that moment.
    monitor = Monitor(
        WatchlistStore(tmp_path / "w.toml"), Settings(), wall_clock=lambda: NOW, keep_frozen=True
    )
    monitor.load()
    refs = [ref(f"t{number}") for number in range(50)]
    monitor.add(refs)
    for target in refs:
        answer(monitor, target, "pending")
    monitor.freezer.batch = 100  # (the rows and their first answers make 100)
    gc.collect()
    gc.unfreeze()
    try:
        for status in ("processing", "processing", "completed"):
            for target in refs:
                answer(monitor, target, status)
        gc.collect()
        assert gc.get_freeze_count() == 0
    finally:
        monitor.close()
        gc.unfreeze()
