"""The monitor's undo stack without a terminal: each removal, of one row or many, is one
step; steps come back last first, again and again, and the stack is bounded."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.monitor import UNDO_DEPTH, Monitor
from aireiter_tui.domain.watchlist import WatchlistStore

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def make_monitor(path: Path) -> Monitor:
    monitor = Monitor(
        WatchlistStore(path), Settings(), wall_clock=lambda: NOW, rng=random.Random(3)
    )
    monitor.load()
    return monitor


def ref(name: str) -> TaskRef:
    return TaskRef(IdKind.TASK_ID, name)


def test_a_bulk_removal_is_one_step_and_comes_back_whole_and_saved(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    monitor = make_monitor(path)
    monitor.add([ref(name) for name in "abcd"])
    monitor.remove([ref(name).key for name in "abc"])
    assert set(monitor.session.rows) == {ref("d").key}
    assert monitor.undo_depth == 1
    assert [row.ref for row in monitor.undo_remove()] == [ref(name) for name in "abc"]
    assert monitor.undo_depth == 0
    assert monitor.close() is None
    assert {entry.ref for entry in WatchlistStore(path).load()} == {ref(n) for n in "abcd"}


def test_the_stack_keeps_the_last_steps_only(tmp_path: Path) -> None:
    monitor = make_monitor(tmp_path / "w.toml")
    names = [f"t{number}" for number in range(UNDO_DEPTH + 2)]
    monitor.add([ref(name) for name in names])
    for name in names:
        monitor.remove([ref(name).key])
    assert monitor.undo_depth == UNDO_DEPTH
    back = [monitor.undo_remove()[0].ref.id for _ in range(UNDO_DEPTH)]
    assert back == list(reversed(names))[:UNDO_DEPTH]
    assert monitor.undo_remove() == []  # the two oldest removals are gone for good
    assert set(monitor.session.rows) == {ref(name).key for name in names[2:]}


def test_removing_nothing_is_no_step(tmp_path: Path) -> None:
    monitor = make_monitor(tmp_path / "w.toml")
    monitor.add([ref("a")])
    monitor.remove([ref("a").key])
    assert monitor.remove([ref("missing").key]) == []
    assert monitor.undo_depth == 1
    assert [row.ref for row in monitor.undo_remove()] == [ref("a")]


def test_undo_puts_the_rows_back_where_they_were(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    monitor = make_monitor(path)
    monitor.add([ref(name) for name in "abcdef"])
    monitor.remove([ref("e").key, ref("b").key])  # in the order a sorted view gave them
    monitor.remove([ref("a").key])
    monitor.add([ref("g")])  # added meanwhile: stays last
    monitor.undo_remove()
    assert [row.ref.id for row in monitor.session.rows.values()] == list("acdfg")
    monitor.undo_remove()
    assert [row.ref.id for row in monitor.session.rows.values()] == list("abcdefg")
    assert monitor.close() is None
    assert [entry.ref.id for entry in WatchlistStore(path).load()] == list("abcdefg")
