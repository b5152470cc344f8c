"""The figures take in a change batch at a cost of what changed: rows added at the end of
a 100,000-row list are found without a set of every key (some 13 ms a batch)."""

from __future__ import annotations

from collections.abc import KeysView
from datetime import UTC, datetime, timedelta

from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.insight import InsightWatch, LiveFigures
from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.session import Row, Session

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def ref(name: str) -> TaskRef:
    return TaskRef(IdKind.TASK_ID, name)


class _NoKeySet(dict[str, Row]):
    """Rows whose keys refuse to become a set (a set of 100,000 keys per batch)."""

    def keys(self) -> _CountedKeys:  # type: ignore[override]
        return _CountedKeys(self)


class _CountedKeys(KeysView[str]):
    def __sub__(self, other: object) -> set[str]:
        raise AssertionError("a set of every key was made")

    def __rsub__(self, other: object) -> set[str]:
        raise AssertionError("a set of every key was made")


def test_the_figures_take_in_rows_added_at_the_end_without_a_set_of_every_key() -> None:
    session = Session(None, lambda: NOW)
    session.add([ref(f"t{number}") for number in range(30)])
    watch = InsightWatch(Settings())
    watch.take(session.rows, (), full=True)
    session.add([ref("late")])
    task = parse_task({"task_id": "late", "status": "processing", "created_at": NOW.isoformat()})
    session.apply(ref("late"), task, None)
    watch.take(_NoKeySet(session.rows), (), full=True)
    watch.take(_NoKeySet(session.rows), (), full=True)  # nothing new
    assert watch.figures.outlook(NOW).active == 1
    assert set(watch.figures.keys()) == set(session.rows.keys())


class _NoWalk(dict[str, Row]):
    """Rows that refuse to be walked (at 1,000,000 rows, a walk per part read)."""

    def keys(self) -> KeysView[str]:  # type: ignore[override]
        raise AssertionError("every key was walked")

    def __iter__(self):  # type: ignore[no-untyped-def]
        raise AssertionError("every key was walked")


def test_rows_added_at_the_end_come_from_the_append_log_without_a_walk() -> None:
    session = Session(None, lambda: NOW)
    session.add([ref(f"t{number}") for number in range(30)])
    watch = InsightWatch(Settings())
    watch.take(session.rows, (), full=True, log=session.appended)
    session.add([ref("late")])
    task = parse_task({"task_id": "late", "status": "processing", "created_at": NOW.isoformat()})
    session.apply(ref("late"), task, None)
    watch.take(_NoWalk(session.rows), (), full=True, log=session.appended)
    assert watch.figures.outlook(NOW).active == 1
    # A removal: the log starts again, and the figures compare the rows once.
    session.remove([ref("late").key, ref("t3").key])
    watch.take(session.rows, (), full=True, log=session.appended)
    assert watch.figures.outlook(NOW).active == 0
    assert set(watch.figures.keys()) == set(session.rows.keys())


def test_rows_taken_in_together_give_the_figures_of_rows_taken_in_one_by_one() -> None:
    session = Session(None, lambda: NOW)
    session.add([ref(f"t{number}") for number in range(60)])
    for number in range(60):
        status = ("completed", "failed", "processing", "pending")[number % 4]
        created = NOW - timedelta(minutes=number + 1)
        answer = {
            "task_id": f"t{number}",
            "status": status,
            "created_at": created.isoformat(),
            "input": {"model": ("veo3", "nano_banana", "")[number % 3]},
            "credits_used": float(number % 7) * 10,
        }
        if status == "completed":
            answer["completed_at"] = (created + timedelta(seconds=30 + number)).isoformat()
        session.apply(ref(f"t{number}"), parse_task(answer), None)
    rows = list(session.rows.items())
    one_by_one, together = LiveFigures(), LiveFigures()
    for key, row in rows:
        one_by_one.update(key, row.entry, gone=row.gone)
    together.take_new(rows[:25])
    together.take_new(rows[20:])  # (five taken in again: the usual way)
    for name in ("_seen", "_active", "_credits_by_day"):
        assert getattr(together, name) == getattr(one_by_one, name), name
    assert {m: (v.durations, v.running) for m, v in together._models.items()} == {
        m: (v.durations, v.running) for m, v in one_by_one._models.items()
    }
    assert together.outlook(NOW) == one_by_one.outlook(NOW)
