"""PollScheduler: due times by status, backoff (the global pauses: test_poll_gate.py;
invariants: test_scheduler_properties.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from scheduler_fixtures import ACTIVE, WALL, make, ref, task

from aireiter_tui.domain.errors import (
    NetworkError,
    ServerError,
    TaskNotFoundError,
)
from aireiter_tui.domain.models import TaskRef, TaskStatus
from aireiter_tui.domain.scheduler import PollScheduler


def test_never_fetched_active_and_unknown_are_due_terminal_never() -> None:
    s = make()
    statuses = [None, *ACTIVE, TaskStatus.UNKNOWN, TaskStatus.COMPLETED, TaskStatus.FAILED]
    for i, status in enumerate(statuses):
        s.track(ref(i), status, 0.0)
    assert sorted(s.due(0.0)) == sorted(ref(i) for i in range(4))
    assert s.due(1e9) == []  # in flight now; the terminal ones never come
    for i in range(4):
        assert s.on_success(ref(i), task(TaskStatus.COMPLETED), 1.0)
    assert s.due(1e9) == [] and s.next_due_time() is None
    assert s.state(1e9).mode == "idle"


def test_due_is_earliest_first_respects_limit_and_excludes_in_flight() -> None:
    s = make()
    for i in range(5):
        s.track(ref(i), None, float(10 - i))
    assert s.due(5.0) == []
    assert s.due(100.0, limit=2) == [ref(4), ref(3)]
    assert s.due(100.0, limit=0) == []
    assert s.due(100.0) == [ref(2), ref(1), ref(0)]
    assert s.due(200.0) == []
    assert s.state(200.0).in_flight == 5


def test_active_and_unknown_tasks_repoll_at_interval_with_jitter() -> None:
    s = make(interval=5.0, jitter=0.2)
    s.track(ref(1), TaskStatus.PENDING, 0.0)
    s.track(ref(2), TaskStatus.UNKNOWN, 0.0)
    s.due(0.0)
    s.on_success(ref(1), task(TaskStatus.PROCESSING), 1.0)
    s.on_success(ref(2), task(TaskStatus.UNKNOWN), 1.0)
    for r in (ref(1), ref(2)):
        due_at = s.next_due(r)
        assert due_at is not None and 1.0 + 4.0 <= due_at <= 1.0 + 6.0


def test_terminal_task_polled_again_only_when_requested() -> None:
    s = make()
    s.track(ref(1), TaskStatus.COMPLETED, 0.0)
    s.track(ref(2), TaskStatus.FAILED, 0.0)
    assert s.due(1e6) == []
    assert s.request(ref(1), 10.0) and not s.request(ref(99), 10.0)
    assert s.next_due(ref(1)) == 10.0
    assert s.due(10.0) == [ref(1)]
    s.on_success(ref(1), task(TaskStatus.COMPLETED), 11.0)
    assert s.due(1e6) == []
    s.request_all(20.0)
    assert sorted(s.due(20.0)) == [ref(1), ref(2)]


def test_failed_manual_refresh_of_terminal_task_is_retried_then_stops() -> None:
    s = make(jitter=0.0)
    s.track(ref(1), TaskStatus.COMPLETED, 0.0)
    s.request(ref(1), 0.0)
    s.due(0.0)
    s.on_error(ref(1), NetworkError("down"), 0.0)
    assert s.due(2.0) == [ref(1)]
    s.on_success(ref(1), task(TaskStatus.COMPLETED), 3.0)
    assert s.next_due(ref(1)) is None


def test_retracking_keeps_backoff_and_terminal_unschedules() -> None:
    s = make(jitter=0.0)
    s.track(ref(1), TaskStatus.PROCESSING, 0.0)
    s.due(0.0)
    s.on_error(ref(1), ServerError("502", 502), 0.0)
    s.track(ref(1), TaskStatus.PROCESSING, 1.0)
    assert s.next_due(ref(1)) == 2.0
    s.track(ref(1), TaskStatus.COMPLETED, 1.0)
    assert s.next_due(ref(1)) is None
    s.track(ref(1), TaskStatus.PENDING, 5.0)
    assert s.next_due(ref(1)) == 5.0


def test_task_seen_terminal_while_in_flight_is_not_retried_after_an_error() -> None:
    s = make()
    s.track(ref(1), TaskStatus.PROCESSING, 0.0)
    s.due(0.0)
    s.track(ref(1), TaskStatus.COMPLETED, 1.0)  # e.g. a webhook or another view saw it end
    s.on_error(ref(1), NetworkError("reset"), 1.0)
    assert s.next_due(ref(1)) is None and s.due(1e6) == []


def test_a_pending_manual_request_survives_a_terminal_retrack() -> None:
    s = make()
    s.track(ref(1), TaskStatus.COMPLETED, 0.0)
    s.request(ref(1), 1.0)
    s.track(ref(1), TaskStatus.COMPLETED, 2.0)
    assert s.due(2.0) == [ref(1)]


def test_long_runners_by_created_at_use_the_slow_interval() -> None:
    s = make(interval=5.0, slow_interval=30.0, long_running_after=600.0, jitter=0.0)
    old = datetime.fromtimestamp(WALL - 700, tz=UTC)
    young = datetime.fromtimestamp(WALL - 100, tz=UTC)
    s.track(ref(1), TaskStatus.PROCESSING, 0.0, created_at=old)
    s.track(ref(2), TaskStatus.PROCESSING, 0.0, created_at=young)
    s.due(0.0)
    s.on_success(ref(1), task(TaskStatus.PROCESSING, old), 0.0)
    s.on_success(ref(2), task(TaskStatus.PROCESSING, young), 0.0)
    assert s.next_due(ref(1)) == 30.0
    assert s.next_due(ref(2)) == 5.0


def test_long_runners_by_watched_time_use_the_slow_interval() -> None:
    s = make(interval=5.0, slow_interval=30.0, long_running_after=600.0, jitter=0.0)
    s.track(ref(1), TaskStatus.PENDING, 0.0)
    now = 0.0
    while now < 600.0:
        assert s.due(now) == [ref(1)]
        s.on_success(ref(1), task(TaskStatus.PROCESSING), now)
        assert s.next_due(ref(1)) == now + 5.0
        now += 5.0
    assert s.due(now) == [ref(1)]
    s.on_success(ref(1), task(TaskStatus.PROCESSING), now)
    assert s.next_due(ref(1)) == now + 30.0


def test_backoff_grows_exponentially_and_is_capped() -> None:
    s = make(backoff_base=2.0, backoff_max=300.0, jitter=0.0)
    assert [s.backoff_delay(n) for n in range(1, 11)] == [
        2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0, 300.0
    ]  # fmt: skip
    assert s.backoff_delay(10_000) == 300.0


def test_backoff_jitter_stays_within_bounds_and_varies() -> None:
    s = make(backoff_base=2.0, backoff_max=300.0, jitter=0.2)
    for n in (1, 3, 9, 50):
        nominal = min(300.0, 2.0 * 2 ** (n - 1))
        samples = [s.backoff_delay(n) for _ in range(200)]
        assert all(0.8 * nominal <= d <= 1.2 * nominal for d in samples)
        assert max(samples) - min(samples) > 0.2 * nominal


def test_errors_back_off_per_task_and_success_resets() -> None:
    s = make(jitter=0.0)
    s.track(ref(1), TaskStatus.PROCESSING, 0.0)
    s.track(ref(2), TaskStatus.PROCESSING, 0.0)
    now = 0.0
    s.due(now)
    s.on_success(ref(2), task(TaskStatus.PROCESSING), now)
    for expected in (2.0, 4.0, 8.0):
        s.on_error(ref(1), NetworkError("refused"), now)
        assert s.next_due(ref(1)) == now + expected
        now += expected
        assert ref(1) in s.due(now)
    s.on_success(ref(1), task(TaskStatus.PROCESSING), now)
    assert s.next_due(ref(1)) == now + 5.0


def test_not_found_retries_at_the_slow_interval_without_growth() -> None:
    s = make(slow_interval=30.0, jitter=0.0)
    s.track(ref(1), None, 0.0)
    for now in (0.0, 30.0, 60.0):
        assert s.due(now) == [ref(1)]
        s.on_error(ref(1), TaskNotFoundError("no such task"), now)
        assert s.next_due(ref(1)) == now + 30.0
    assert s.gate.last_error is None


def test_steady_state_polls_only_the_active_tasks() -> None:
    s = make(interval=5.0)
    active = {ref(i) for i in range(0, 10_000, 100)}
    for i in range(10_000):
        status = TaskStatus.PROCESSING if ref(i) in active else TaskStatus.COMPLETED
        s.track(ref(i), status, 0.0)
    requests: list[TaskRef] = []
    now = 0.0
    while now <= 60.0:  # one simulated minute, a tick every 100 ms
        taken = s.due(now)
        requests.extend(taken)
        for r in taken:
            s.on_success(r, task(TaskStatus.PROCESSING), now)
        now += 0.1
    assert set(requests) == active
    # 100 tasks polled every 4-6 s over 60 s, plus the first poll at t=0.
    assert 100 * (1 + 60 // 6) <= len(requests) <= 100 * (1 + 60 // 4)
    assert s.state(now).mode == "live"


def test_invalid_configuration_is_refused() -> None:
    with pytest.raises(ValueError):
        PollScheduler(interval=0)
    with pytest.raises(ValueError):
        PollScheduler(jitter=1.0)
