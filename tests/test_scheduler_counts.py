"""PollScheduler's counts and order against a model kept beside it (hypothesis).

The scheduler keeps the tasks found due apart and counts them as they come and go, so
the status bar's "queued" costs nothing however many wait; these tests hold that count,
the order tasks are handed out in and the next due time to what the due times say.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aireiter_tui.domain.errors import NetworkError, RateLimitedError, TaskNotFoundError
from aireiter_tui.domain.models import IdKind, Task, TaskRef, TaskStatus
from aireiter_tui.domain.scheduler import PollScheduler

WALL = 1_800_000_000.0


def ref(i: int) -> TaskRef:
    return TaskRef(IdKind.TASK_ID, f"order_{i}")


def task(status: TaskStatus) -> Task:
    return Task(task_id="t", status=status, status_raw=status.value)


def due_times(s: PollScheduler, refs: range) -> dict[TaskRef, float]:
    """The model: every scheduled task's own due time."""
    times = {r: s.next_due(r) for r in map(ref, refs)}
    return {r: t for r, t in times.items() if t is not None}


_ops = st.one_of(
    st.tuples(st.just("track"), st.integers(0, 7), st.sampled_from([None, *TaskStatus])),
    st.tuples(st.just("track_many"), st.integers(0, 7), st.sampled_from([None, *TaskStatus])),
    st.tuples(st.just("forget"), st.integers(0, 7), st.none()),
    st.tuples(st.just("request"), st.integers(0, 7), st.none()),
    st.tuples(st.just("request_all"), st.none(), st.none()),
    st.tuples(st.just("due"), st.one_of(st.none(), st.integers(0, 3)), st.none()),
    st.tuples(st.just("answer"), st.integers(0, 7), st.sampled_from(list(TaskStatus))),
    st.tuples(
        st.just("fail"),
        st.integers(0, 7),
        st.sampled_from([NetworkError("x"), TaskNotFoundError("x"), RateLimitedError("x", 0.0)]),
    ),
    st.tuples(st.just("advance"), st.floats(0.0, 60.0), st.none()),
    st.tuples(st.just("back"), st.floats(0.0, 30.0), st.none()),
    st.tuples(st.just("count"), st.floats(-30.0, 30.0), st.none()),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_ops, min_size=5, max_size=100), st.integers(0, 2**32))
def test_count_order_and_next_time_match_the_due_times(
    ops: list[tuple[Any, Any, Any]], seed: int
) -> None:
    s = PollScheduler(rng=random.Random(seed), wall_clock=lambda: WALL, slow_interval=20.0)
    now = 100.0
    in_flight: set[TaskRef] = set()
    for op, a, b in ops:
        if op == "track":
            s.track(ref(a), b, now)
        elif op == "track_many":
            s.track_many([(ref(a), b, None), (ref(a + 1), None, None)], now)
        elif op == "forget":
            s.forget(ref(a))
            in_flight.discard(ref(a))
        elif op == "request":
            s.request(ref(a), now)
        elif op == "request_all":
            s.request_all(now)
        elif op == "due":
            times = due_times(s, range(9))
            got = s.due(now, a)
            assert [times[r] for r in got] == sorted(times[r] for r in got)
            waiting = sorted(t for r, t in times.items() if r not in got and t <= now)
            assert not got or not waiting or waiting[0] >= times[got[-1]], "earliest first"
            in_flight |= set(got)
        elif op == "answer":
            if ref(a) in in_flight:
                s.on_success(ref(a), task(b), now)
                in_flight.discard(ref(a))
        elif op == "fail":
            if ref(a) in in_flight:
                s.on_error(ref(a), b, now)
                in_flight.discard(ref(a))
                s.resume_after_auth_change()
        elif op == "advance":
            now += a
        elif op == "back":  # a clock set back (a test's, say): still exact
            now -= a
        else:
            at = now + a
            times = due_times(s, range(9))
            if not s.gate.closed(at) and not s.gate.paused:
                assert s.due_count(at) == sum(1 for t in times.values() if t <= at)
        times = due_times(s, range(9))
        if not s.gate.auth_blocked and not s.gate.paused:
            expected = min(times.values(), default=None)
            assert s.gate.hold(expected) == s.next_due_time()


def test_a_hundred_thousand_due_are_counted_and_handed_out_in_order() -> None:
    s = PollScheduler(rng=random.Random(0), wall_clock=lambda: WALL)
    refs = [ref(i) for i in range(100_000)]
    s.track_many(((r, None, None) for r in refs), 10.0)
    assert s.due_count(10.0) == 100_000 and s.due_count(9.0) == 0
    first = s.due(10.0, 64)
    assert first == refs[:64] and s.due_count(10.0) == 100_000 - 64
    for r in first:
        s.on_success(r, task(TaskStatus.PROCESSING), 11.0)  # due again ~5 s later
    assert s.due_count(11.0) == 100_000 - 64
    assert s.due_count(30.0) == 100_000
    assert s.state(30.0, workers=1).in_flight == 0
