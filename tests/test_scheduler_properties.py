"""PollScheduler's invariants over random sequences of operations (hypothesis)."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aireiter_tui.domain.errors import (
    AIReiterError,
    AuthenticationError,
    NetworkError,
    RateLimitedError,
    ServerError,
    TaskNotFoundError,
)
from aireiter_tui.domain.models import IdKind, Task, TaskRef, TaskStatus
from aireiter_tui.domain.scheduler import PollScheduler

WALL = 1_800_000_000.0  # the fake wall clock, in Unix seconds


def ref(i: int) -> TaskRef:
    return TaskRef(IdKind.TASK_ID, f"order_{i}")


def task(status: TaskStatus) -> Task:
    return Task(task_id="t", status=status, status_raw=status.value)


_ERRORS: list[AIReiterError] = [
    NetworkError("down"),
    ServerError("502", 502),
    TaskNotFoundError("gone"),
    RateLimitedError("429", 3.0),
    RateLimitedError("429"),
    AuthenticationError("bad key"),
]
_ops = st.one_of(
    st.tuples(st.just("track"), st.integers(0, 2), st.sampled_from([None, *TaskStatus])),
    st.tuples(st.just("forget"), st.integers(0, 2), st.none()),
    st.tuples(st.just("request"), st.integers(0, 2), st.none()),
    st.tuples(st.just("request_all"), st.none(), st.none()),
    st.tuples(st.just("due"), st.one_of(st.none(), st.integers(0, 4)), st.none()),
    st.tuples(st.just("success"), st.integers(0, 2), st.sampled_from(list(TaskStatus))),
    st.tuples(st.just("error"), st.integers(0, 2), st.sampled_from(_ERRORS)),
    st.tuples(st.just("advance"), st.floats(0.0, 400.0), st.none()),
    st.tuples(st.just("pause"), st.booleans(), st.none()),
    st.tuples(st.just("resume_auth"), st.none(), st.none()),
    st.tuples(st.just("state"), st.none(), st.none()),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_ops, min_size=5, max_size=80), st.integers(0, 2**32))
def test_invariants_hold_over_random_operations(ops: list[tuple[Any, Any, Any]], seed: int) -> None:
    s = PollScheduler(rng=random.Random(seed), wall_clock=lambda: WALL)
    now = 0.0
    tracked: dict[TaskRef, TaskStatus | None] = {}
    wanted: set[TaskRef] = set()  # requested manually and not yet answered
    in_flight: set[TaskRef] = set()
    for op, a, b in ops:
        if op == "track":
            tracked[ref(a)] = b
            s.track(ref(a), b, now)
        elif op == "forget":
            assert s.forget(ref(a)) == (ref(a) in tracked)
            tracked.pop(ref(a), None)
            wanted.discard(ref(a))
            in_flight.discard(ref(a))
        elif op == "request":
            if s.request(ref(a), now):
                wanted.add(ref(a))
        elif op == "request_all":
            s.request_all(now)
            wanted |= set(tracked)
        elif op == "due":
            got = s.due(now, a)
            assert len(got) == len(set(got))
            assert a is None or len(got) <= a
            for r in got:
                assert r in tracked, "a forgotten ref was returned"
                assert r not in in_flight, "a ref was returned while in flight"
                status = tracked[r]
                terminal = status is not None and status.is_terminal
                assert not terminal or r in wanted, "a terminal task was due unrequested"
            in_flight |= set(got)
        elif op == "success":
            assert s.on_success(ref(a), task(b), now) == (ref(a) in in_flight)
            if ref(a) in in_flight:
                tracked[ref(a)] = b
                wanted.discard(ref(a))
                in_flight.discard(ref(a))
        elif op == "error":
            assert s.on_error(ref(a), b, now) == (ref(a) in in_flight)
            in_flight.discard(ref(a))
        elif op == "advance":
            now += a
        elif op == "pause":
            s.set_paused(a)
        elif op == "resume_auth":
            s.resume_after_auth_change()
        else:  # not after every op: state() drops stale heap items, which would hide bugs
            state = s.state(now)
            assert state.in_flight == len(in_flight) and state.tracked == len(tracked)
            assert state.next_poll_in is None or state.next_poll_in >= 0.0
