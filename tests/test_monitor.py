"""The Monitor without a terminal: the one way to change the watched set, saves taken as
snapshots, others' edits of the file adopted, undo that polls as before."""

from __future__ import annotations

import asyncio
import math
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.monitor import Monitor
from aireiter_tui.domain.poller import PollOutcome
from aireiter_tui.domain.session import credits_problem
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def make_monitor(path: Path, clock: Clock | None = None) -> Monitor:
    settings = Settings(poll_interval=5.0, slow_poll_interval=30.0, long_running_after=600.0)
    monitor = Monitor(
        WatchlistStore(path),
        settings,
        wall_clock=lambda: NOW,
        monotonic=clock or Clock(),
        rng=random.Random(3),
    )
    monitor.load()
    return monitor


def ref(name: str) -> TaskRef:
    return TaskRef(IdKind.TASK_ID, name)


def answer(
    monitor: Monitor, target: TaskRef, status: str, created: datetime | None
) -> float | None:
    """Take ``target`` as due, answer it with ``status``; returns the delay to its next
    poll (None: not polled again). Other due tasks are handed back untouched."""
    scheduler, now = monitor.scheduler, monitor.monotonic()
    monitor.scheduler.request(target, now)
    taken = scheduler.due(now)
    assert target in taken
    scheduler.release([other for other in taken if other != target], now)
    raw: dict[str, object] = {"task_id": target.id, "status": status}
    if created is not None:
        raw["created_at"] = created.isoformat()
    task = parse_task(raw)
    assert scheduler.on_success(target, task, now)
    monitor.record(PollOutcome(target, task))
    due = scheduler.next_due(target)
    return None if due is None else due - now


# --- the tracked rule ---------------------------------------------------------------------
def test_every_watched_row_is_tracked_and_removed_rows_are_not(tmp_path: Path) -> None:
    monitor = make_monitor(tmp_path / "w.toml")
    rows = monitor.add([ref("a"), ref("b"), ref("c")], "batch")
    assert [row.label for row in rows] == ["batch"] * 3
    assert monitor.add([ref("a")]) == []  # already watched
    assert len(monitor.scheduler) == 3
    monitor.remove([ref("b").key])
    assert ref("b") not in monitor.scheduler and len(monitor.scheduler) == 2
    assert [row.ref for row in monitor.undo_remove()] == [ref("b")]
    assert ref("b") in monitor.scheduler
    assert monitor.undo_remove() == []  # nothing left to undo


def test_undo_is_a_stack(tmp_path: Path) -> None:
    monitor = make_monitor(tmp_path / "w.toml")
    monitor.add([ref("a"), ref("b"), ref("c")])
    monitor.remove([ref("a").key])
    monitor.remove([ref("b").key, ref("c").key])
    assert [row.ref for row in monitor.undo_remove()] == [ref("b"), ref("c")]
    assert [row.ref for row in monitor.undo_remove()] == [ref("a")]
    assert set(monitor.session.rows) == {ref(n).key for n in "abc"}


@pytest.mark.parametrize("created", [NOW - timedelta(hours=1), None], ids=["dated", "undated"])
def test_undo_polls_a_long_runner_as_slowly_as_before(
    tmp_path: Path, created: datetime | None
) -> None:
    """Undo used to track the task without its age: an hour-old task came back on the
    fast interval. Undated tasks count from when they were first seen active."""
    clock = Clock()
    monitor = make_monitor(tmp_path / "w.toml", clock)
    fresh, old = ref("fresh"), ref("old")
    monitor.add([fresh, old])
    answer(monitor, old, "processing", created)
    clock.now += 700.0  # the undated one has now been seen active for 700 s
    assert (answer(monitor, fresh, "processing", NOW) or 0) <= 5.0 * 1.2
    assert (answer(monitor, old, "processing", created) or 0) >= 30.0 * 0.8  # a long runner
    monitor.remove([old.key, fresh.key])
    monitor.undo_remove()
    after = answer(monitor, old, "processing", created) or 0
    assert after >= 30.0 * 0.8, "after undo the long runner must stay on the slow interval"
    assert (answer(monitor, fresh, "processing", NOW) or 0) <= 5.0 * 1.2


def test_answers_and_edits_come_out_as_one_batch(tmp_path: Path) -> None:
    monitor = make_monitor(tmp_path / "w.toml")
    monitor.take_changes()
    monitor.add([ref("a"), ref("b")])
    answer(monitor, ref("a"), "completed", NOW)
    monitor.relabel(ref("b").key, "named")
    changes = monitor.take_changes()
    assert changes.reordered and changes.updated == {ref("a").key, ref("b").key}
    assert changes.outcomes == 1
    assert not monitor.has_changes and not monitor.take_changes()


# --- saving -------------------------------------------------------------------------------
async def test_a_save_runs_on_a_snapshot_and_never_loses_an_add(tmp_path: Path) -> None:
    """The save thread used to iterate the live rows while the loop added and removed
    them: 'dictionary changed size during iteration'. Now it gets copies."""
    path = tmp_path / "w.toml"
    monitor = make_monitor(path)
    monitor.add([ref(f"seed{n}") for n in range(300)])
    kept: set[TaskRef] = {ref(f"seed{n}") for n in range(300)}
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        number = 0
        for _ in range(15):
            save = asyncio.create_task(monitor.save(force=True))
            await asyncio.sleep(0)  # the write starts on its thread
            while not save.done():
                number += 1
                new = ref(f"n{number}")
                monitor.add([new], f"label {number}")
                kept.add(new)
                if number % 3 == 0:
                    gone = ref(f"n{number - 1}")
                    monitor.remove([gone.key])
                    kept.discard(gone)
                if number % 7 == 0:
                    monitor.relabel(ref(f"seed{number % 300}").key, f"relabelled {number}")
                await asyncio.sleep(0)
            assert save.exception() is None
    finally:
        sys.setswitchinterval(switch)
    assert number > 15, "the saves finished before any edit could race them"
    assert monitor.close() is None
    assert {entry.ref for entry in WatchlistStore(path).load()} == kept


async def test_the_snapshot_is_not_the_live_state(tmp_path: Path) -> None:
    monitor = make_monitor(tmp_path / "w.toml")
    (row,) = monitor.add([ref("a")], "before")
    snapshot = monitor.session.snapshot()
    monitor.relabel(row.ref.key, "after")
    answer(monitor, row.ref, "completed", NOW)
    (copy,) = snapshot.entries
    assert copy is not row.entry and copy.label == "before" and copy.task is None
    assert copy.history is not row.entry.history


async def test_others_edits_are_adopted_without_a_save_of_our_own(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    monitor = make_monitor(path)
    monitor.add([ref("a"), ref("b"), ref("c")])
    assert monitor.close() is None  # written once
    monitor.take_changes()
    assert not monitor.session.dirty
    await monitor.sync()
    assert not monitor.take_changes(), "an unchanged file is not read again"
    other = WatchlistStore(path)
    a, b, c = other.load()
    c.label = "from elsewhere"
    other.save([a, c, WatchEntry(ref("d"), "new", NOW)], removed=[b.ref])
    await monitor.sync()
    rows = monitor.session.rows
    assert list(rows) == [ref("a").key, ref("c").key, ref("d").key]
    assert rows[ref("c").key].label == "from elsewhere" and rows[ref("d").key].label == "new"
    assert ref("d") in monitor.scheduler and ref("b") not in monitor.scheduler
    changes = monitor.take_changes()
    assert changes.reordered and ref("c").key in changes.updated


async def test_a_label_changed_here_during_a_save_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    monitor = make_monitor(path)
    monitor.add([ref("a")])
    assert monitor.close() is None
    other = WatchlistStore(path)
    (entry,) = other.load()
    entry.label = "theirs"
    other.save([entry])
    save = asyncio.create_task(monitor.save(force=True))
    await asyncio.sleep(0)  # the snapshot is taken
    monitor.relabel(ref("a").key, "mine, typed meanwhile")
    saved = await save
    assert saved is not None and saved.relabelled == {ref("a"): "theirs"}
    assert monitor.session.rows[ref("a").key].label == "mine, typed meanwhile"
    assert monitor.close() is None
    assert WatchlistStore(path).load()[0].label == "mine, typed meanwhile"


async def test_a_failed_save_is_reported_once_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aireiter_tui.domain.watchlist import WatchlistError

    path = tmp_path / "w.toml"
    monitor = make_monitor(path)
    monitor.add([ref("a")])
    store = monitor.session.store
    assert store is not None
    real_save = store.save

    def full_disk(*args: object, **kwargs: object) -> list[WatchEntry]:
        raise WatchlistError("No space left on device.")

    monkeypatch.setattr(store, "save", full_disk)
    assert await monitor.save() is None
    assert monitor.take_changes().save_error == "No space left on device."
    monitor.add([ref("b")])
    assert await monitor.save() is None
    assert monitor.take_changes().save_error is None  # told once per run of failures
    assert monitor.session.dirty
    monkeypatch.setattr(store, "save", real_save)
    assert await monitor.save() is not None
    assert [e.ref for e in WatchlistStore(path).load()] == [ref("a"), ref("b")]


async def test_run_saves_and_adopts_on_its_own(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    monitor = make_monitor(path)
    monitor.add([ref("a")])
    runner = asyncio.create_task(monitor.run(save_interval=0.05, watch_interval=0.02))
    try:
        for _ in range(200):
            if path.exists() and [e.ref for e in WatchlistStore(path).load()] == [ref("a")]:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("the running monitor never saved")
        other = WatchlistStore(path)
        other.save([*other.load(), WatchEntry(ref("z"), None, NOW)])
        for _ in range(200):
            if ref("z").key in monitor.session.rows:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("the running monitor never adopted the other program's addition")
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner


# --- totals ---------------------------------------------------------------------------------
def _with_credits(monitor: Monitor, name: str, credits: float) -> None:
    (row,) = monitor.add([ref(name)])
    task = parse_task({"task_id": name, "status": "completed", "credits_used": credits})
    monitor.record(PollOutcome(row.ref, task))


def test_credit_totals_stay_exact_and_skip_impossible_values(tmp_path: Path) -> None:
    """Two tasks of 1.5e308 credits made the header total `inf`, and it stayed `inf`
    after both were removed; floats added and taken away drifted."""
    monitor = make_monitor(tmp_path / "w.toml")
    for number, credits in enumerate([0.1, 0.2, 0.3] * 100):
        _with_credits(monitor, f"small{number}", credits)
    exact = monitor.session.counts().credits
    assert exact == 60.0
    for name, credits in [("huge1", 1.5e308), ("huge2", 1.5e308), ("neg", -50.0)]:
        _with_credits(monitor, name, credits)
    assert monitor.session.counts().credits == 60.0  # impossible values are left out
    monitor.remove([ref("huge1").key, ref("huge2").key, ref("neg").key])
    monitor.remove([ref(f"small{n}").key for n in range(0, 300, 2)])
    monitor.undo_remove()
    assert monitor.session.counts().credits == 60.0  # back exactly, no drift


@pytest.mark.parametrize(
    ("credits", "problem"),
    [
        (120.0, None),
        (0.0, None),
        (None, None),
        (-1.0, "the credits used are negative"),
        (1.5e308, "the credits used are implausibly large"),
        (float("inf"), "the credits used are not a number"),
        (float("nan"), "the credits used are not a number"),
    ],
)
def test_impossible_credits_are_named(credits: float | None, problem: str | None) -> None:
    assert credits_problem(credits) == problem


@pytest.mark.parametrize(
    ("credits", "shown"),
    [(120.0, "120"), (-50.0, "⚠ -50"), (1.5e308, "⚠ huge"), (float("nan"), "⚠ NaN")],
)
def test_an_impossible_credit_value_is_marked_on_its_row(credits: float, shown: str) -> None:
    from aireiter_tui.ui.widgets.cells import credits_cell

    assert credits_cell(credits).plain == shown


@given(
    values=st.lists(st.floats(min_value=0, max_value=1e9, allow_nan=False), max_size=40),
    gone=st.lists(st.integers(min_value=0, max_value=39), max_size=40),
)
def test_the_running_credit_sum_is_exact(values: list[float], gone: list[int]) -> None:
    from aireiter_tui.domain.session import _add_exactly

    partials: list[float] = []
    for value in values:
        _add_exactly(partials, value)
    removed = {index for index in gone if index < len(values)}
    for index in removed:
        _add_exactly(partials, -values[index])
    kept = [value for index, value in enumerate(values) if index not in removed]
    assert math.fsum(partials) == math.fsum(kept)


async def test_a_dashboard_save_keeps_what_a_submit_left_on_the_entry(tmp_path: Path) -> None:
    """The snapshot used to copy the entry field by field, dropping later fields."""
    monitor = make_monitor(tmp_path / "w.toml")
    (old,) = monitor.add([ref("a")], "shot")
    (new,) = monitor.add([ref("a-r1")], "shot")
    new.entry.estimated_credits, new.entry.retry_of = 120.0, old.ref
    await monitor.save(force=True)
    assert monitor.close() is None
    saved = {entry.ref: entry for entry in WatchlistStore(tmp_path / "w.toml").load()}
    assert (saved[new.ref].estimated_credits, saved[new.ref].retry_of) == (120.0, old.ref)
