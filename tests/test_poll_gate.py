"""The scheduler's global gate: the user's pause, 429 pauses, a refused key, offline."""

from __future__ import annotations

import pytest
from scheduler_fixtures import make, ref, task

from aireiter_tui.domain.errors import (
    AuthenticationError,
    NetworkError,
    RateLimitedError,
    ServerError,
    TaskNotFoundError,
)
from aireiter_tui.domain.models import TaskStatus
from aireiter_tui.domain.poll_gate import MAX_RETRY_AFTER


@pytest.mark.parametrize("retry_after", [12.0, None])
def test_rate_limit_pauses_everything(retry_after: float | None) -> None:
    s = make(rate_limit_default=30.0)
    for i in range(3):
        s.track(ref(i), TaskStatus.PROCESSING, 0.0)
    assert s.due(0.0, limit=1) == [ref(0)]
    s.on_error(ref(0), RateLimitedError("429", retry_after), 1.0)
    resume = 1.0 + (retry_after or 30.0)
    assert s.gate.paused_until == resume and s.gate.pause_reason
    state = s.state(2.0)
    assert state.mode == "rate-limited" and state.next_poll_in == resume - 2.0
    assert s.next_due_time() == resume
    for t in (1.0, 5.0, resume - 0.001):
        assert s.due(t) == []
    s.request(ref(1), 5.0)  # a manual refresh waits for the pause too
    assert s.due(5.0) == []
    assert sorted(s.due(resume)) == [ref(0), ref(1), ref(2)]  # the 429'd task is not charged
    assert s.gate.paused_until is None and s.state(resume).mode == "live"


def test_rate_limit_without_retry_after_doubles_per_pause_and_caps() -> None:
    s = make(rate_limit_default=30.0, backoff_max=300.0)
    for i in range(3):
        s.track(ref(i), TaskStatus.PROCESSING, 0.0)
    now = 0.0
    pauses = []
    for _ in range(6):
        taken = s.due(now)
        assert taken
        for r in taken:  # a burst of 429s from one round counts once
            s.on_error(r, RateLimitedError("429"), now)
        assert s.gate.paused_until is not None
        pauses.append(s.gate.paused_until - now)
        now = s.gate.paused_until
    assert pauses == [30.0, 60.0, 120.0, 240.0, 300.0, 300.0]
    taken = s.due(now)
    s.on_success(taken[0], task(TaskStatus.PROCESSING), now)
    s.on_error(taken[1], RateLimitedError("429"), now)
    assert s.gate.paused_until == now + 30.0


def test_absurd_retry_after_is_capped() -> None:
    s = make()
    s.track(ref(1), None, 0.0)
    s.due(0.0)
    s.on_error(ref(1), RateLimitedError("429", 1e12), 0.0)
    assert s.gate.paused_until == MAX_RETRY_AFTER


def test_auth_failure_stops_all_polling_until_resumed() -> None:
    s = make()
    for i in range(3):
        s.track(ref(i), TaskStatus.PROCESSING, 0.0)
    s.due(0.0, limit=1)
    s.on_error(ref(0), AuthenticationError("the API key was refused"), 0.0)
    assert s.gate.auth_blocked
    assert s.due(1e6) == [] and s.next_due_time() is None
    state = s.state(1.0)
    assert state.mode == "auth-blocked" and state.reason == "the API key was refused"
    s.resume_after_auth_change()
    assert sorted(s.due(2.0)) == [ref(0), ref(1), ref(2)] and s.gate.last_error is None


def test_manual_request_clears_the_auth_block() -> None:
    s = make()
    s.track(ref(1), TaskStatus.COMPLETED, 0.0)
    s.track(ref(2), TaskStatus.PROCESSING, 0.0)
    s.due(0.0)
    s.on_error(ref(2), AuthenticationError("bad key"), 0.0)
    s.request(ref(1), 5.0)
    assert not s.gate.auth_blocked
    assert sorted(s.due(5.0)) == [ref(1), ref(2)]


def test_replies_for_forgotten_refs_are_ignored() -> None:
    s = make()
    s.track(ref(1), None, 0.0)
    assert s.due(0.0) == [ref(1)]
    assert s.forget(ref(1)) and not s.forget(ref(1))
    assert not s.on_success(ref(1), task(TaskStatus.PROCESSING), 1.0)
    assert not s.on_error(ref(1), NetworkError("x"), 1.0)
    s.track(ref(1), TaskStatus.PROCESSING, 2.0)  # watched again: the old reply is stale
    assert not s.on_success(ref(1), task(TaskStatus.COMPLETED), 2.0)
    assert s.due(2.0) == [ref(1)] and len(s) == 1 and ref(1) in s
    assert s.state(2.0).in_flight == 1


def test_user_pause_lets_only_manual_requests_through() -> None:
    s = make()
    s.track(ref(1), TaskStatus.PROCESSING, 0.0)
    s.track(ref(2), TaskStatus.COMPLETED, 0.0)
    s.set_paused(True)
    assert s.due(10.0) == [] and s.next_due_time() is None
    assert s.state(10.0).mode == "paused"
    s.request(ref(2), 10.0)
    assert s.next_due_time() == 10.0
    assert s.due(10.0) == [ref(2)]
    s.set_paused(False)
    assert s.due(10.0) == [ref(1)]


def test_offline_once_every_polled_task_failed() -> None:
    s = make(jitter=0.0)
    for i in range(3):
        s.track(ref(i), TaskStatus.PROCESSING, 0.0)
    for r in s.due(0.0):
        s.on_error(r, NetworkError("connection refused"), 0.0)
    state = s.state(1.0)
    assert state.mode == "offline" and state.reason == "connection refused"
    assert s.gate.offline_since == 0.0 and s.next_retry_at == 2.0
    for r in s.due(2.0):
        s.on_error(r, NetworkError("still down"), 2.0)
    assert s.gate.offline_since == 0.0
    taken = s.due(6.0)
    s.on_error(taken[0], NetworkError("flaky"), 6.0)
    s.on_success(taken[1], task(TaskStatus.PROCESSING), 6.0)
    assert s.gate.offline_since is None and s.state(6.0).mode == "live" and s.next_retry_at is None


def test_a_few_failed_queries_among_many_tasks_do_not_mean_offline() -> None:
    """Tasks fall due at different times: one task's 503 says nothing about the server
    while the other tasks get answers."""
    s = make(jitter=0.0)
    for i in range(20):
        s.track(ref(i), TaskStatus.PROCESSING, float(i) / 10)
    now = 0.0
    for i in range(20):  # one task at a time; every third fails, as a flaky server does
        now = i / 10
        (r,) = s.due(now)
        if i % 3 == 0:
            s.on_error(r, ServerError("The server returned an error page (HTTP 503).", 503), now)
        else:
            s.on_success(r, task(TaskStatus.PROCESSING), now)
        assert s.state(now).mode == "live", i
    # Seven different tasks failing in a row, no answer between: still not proof.
    for _ in range(7):
        (r,) = s.due(10.0, limit=1)
        s.on_error(r, ServerError("503", 503), 10.0)
    assert s.state(10.0).mode == "live"
    (r,) = s.due(10.5, limit=1)  # the eighth: the server as a whole is failing
    s.on_error(r, ServerError("The server returned an error page (HTTP 503).", 503), 10.5)
    assert s.state(10.5).mode == "offline" and s.gate.offline_since == 10.5


def test_one_polled_task_failing_goes_offline_only_after_several_tries() -> None:
    s = make(jitter=0.0)
    s.track(ref(0), TaskStatus.PROCESSING, 0.0)
    s.track(ref(1), TaskStatus.COMPLETED, 0.0)  # not polled: does not count
    for n, now in enumerate((0.0, 2.0, 6.0), 1):
        assert s.due(now) == [ref(0)]
        s.on_error(ref(0), NetworkError("refused"), now)
        assert (s.state(now).mode == "offline") is (n == 3), n


@pytest.mark.parametrize(
    "answer",
    [
        TaskNotFoundError("unknown"),
        RateLimitedError("429", retry_after=0.001),
        None,  # a task
    ],
)
def test_any_answer_ends_the_run_of_failures(answer: Exception | None) -> None:
    s = make(jitter=0.0)
    for i in range(4):
        s.track(ref(i), TaskStatus.PROCESSING, 0.0)
    taken = s.due(0.0)
    for r in taken[:2]:
        s.on_error(r, ServerError("503", 503), 0.0)
    if isinstance(answer, Exception):
        s.on_error(taken[2], answer, 0.0)  # type: ignore[arg-type]
    else:
        s.on_success(taken[2], task(TaskStatus.PROCESSING), 0.0)
    s.on_error(taken[3], ServerError("503", 503), 0.0)
    for r in s.due(1.0):  # two more failures: four in all, but not in a row
        s.on_error(r, ServerError("503", 503), 1.0)
    assert s.gate.offline_since is None
