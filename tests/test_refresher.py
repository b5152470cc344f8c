"""Refresher: bounded concurrency, no overlapping rounds, stop on 429/auth, robust outcomes."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest

from aireiter_tui.domain.errors import (
    AIReiterError,
    AuthenticationError,
    NetworkError,
    RateLimitedError,
)
from aireiter_tui.domain.models import IdKind, Task, TaskRef, TaskStatus
from aireiter_tui.domain.refresher import Refresher, RefreshOutcome
from aireiter_tui.domain.scheduler import PollScheduler


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeClient:
    """Answers PROCESSING unless told otherwise; can hold every call until ``gate`` opens."""

    def __init__(self) -> None:
        self.calls: list[TaskRef] = []
        self.active = 0
        self.max_active = 0
        self.gate: asyncio.Event | None = None
        self.behaviour: dict[TaskRef, Callable[[], Task]] = {}

    async def query_ref(self, ref: TaskRef) -> Task:
        self.calls.append(ref)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if self.gate is not None:
                await self.gate.wait()
            else:
                await asyncio.sleep(0)
            if ref in self.behaviour:
                return self.behaviour[ref]()
            return task(TaskStatus.PROCESSING)
        finally:
            self.active -= 1


def ref(i: int) -> TaskRef:
    return TaskRef(IdKind.TASK_ID, f"order_{i}")


def task(status: TaskStatus) -> Task:
    return Task(task_id="t", status=status, status_raw=status.value)


def raiser(exc: BaseException) -> Callable[[], Task]:
    def raise_it() -> Task:
        raise exc

    return raise_it


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition`` holds (bounded, no timed sleeps)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


def setup(n: int, concurrency: int = 4) -> tuple[PollScheduler, FakeClient, FakeClock, Refresher]:
    clock = FakeClock()
    scheduler = PollScheduler(rng=random.Random(3), wall_clock=lambda: 0.0)
    for i in range(n):
        scheduler.track(ref(i), TaskStatus.PROCESSING, clock.now)
    client = FakeClient()
    return (
        scheduler,
        client,
        clock,
        Refresher(client, scheduler, concurrency=concurrency, clock=clock),
    )


async def test_round_queries_every_due_ref_and_reschedules() -> None:
    scheduler, client, _, refresher = setup(10)
    streamed: list[RefreshOutcome] = []
    refresher.on_outcome = streamed.append
    result = await refresher.run_round()
    assert sorted(client.calls) == [ref(i) for i in range(10)]
    assert len(result.results) == 10 and result.results == streamed
    assert all(o.task is not None and o.error is None for o in result.results)
    assert result.errors == [] and result.not_sent == 0 and result.duration == 0.0
    assert all(scheduler.next_due(ref(i)) is not None for i in range(10))
    assert (await refresher.run_round()).results == []  # nothing due at the same instant


async def test_limit_bounds_the_round() -> None:
    _, client, _, refresher = setup(10)
    result = await refresher.run_round(limit=3)
    assert len(result.results) == 3 and len(client.calls) == 3


async def test_concurrency_is_bounded() -> None:
    _, client, _, refresher = setup(20, concurrency=4)
    client.gate = asyncio.Event()
    round_ = asyncio.create_task(refresher.run_round())
    await until(lambda: client.active == 4)
    for _ in range(50):  # give extra workers every chance to appear
        await asyncio.sleep(0)
    assert client.active == 4 and len(client.calls) == 4
    client.gate.set()
    result = await round_
    assert client.max_active == 4 and len(result.results) == 20


async def test_rounds_never_overlap() -> None:
    scheduler, client, clock, refresher = setup(3, concurrency=8)
    client.gate = asyncio.Event()
    first = asyncio.create_task(refresher.run_round())
    await until(lambda: len(client.calls) == 3)
    assert refresher.running
    scheduler.track(ref(50), TaskStatus.PENDING, clock.now)
    second = asyncio.create_task(refresher.refresh_now([ref(0), ref(50)]))
    for _ in range(50):
        await asyncio.sleep(0)
    assert len(client.calls) == 3  # the second round waits for the first
    client.gate.set()
    first_result, second_result = await first, await second
    assert len(first_result.results) == 3
    assert sorted(o.ref for o in second_result.results) == [ref(0), ref(50)]
    assert client.max_active == 3 and not refresher.running


async def test_mid_round_rate_limit_stops_sending_and_keeps_the_rest_due() -> None:
    scheduler, client, clock, refresher = setup(10, concurrency=2)
    client.behaviour[ref(0)] = raiser(RateLimitedError("429", retry_after=20.0))
    result = await refresher.run_round()
    assert len(client.calls) == 2  # the two first requests; nothing after the 429
    assert [o.ref for o in result.errors] == [ref(0)]
    assert len(result.results) == 2 and result.not_sent == 8
    assert scheduler.state(clock.now).mode == "rate-limited"
    unsent = [ref(i) for i in range(2, 10)]
    assert all(scheduler.next_due(r) == clock.now for r in unsent)  # not backed off
    assert (await refresher.run_round()).results == []
    clock.now += 20.0
    del client.behaviour[ref(0)]
    again = await refresher.run_round()
    assert {o.ref for o in again.results} == {ref(i) for i in range(10)}


async def test_mid_round_auth_failure_stops_sending() -> None:
    scheduler, client, _, refresher = setup(10, concurrency=1)
    client.behaviour[ref(1)] = raiser(AuthenticationError("the API key was refused"))
    result = await refresher.run_round()
    assert client.calls == [ref(0), ref(1)] and result.not_sent == 8
    assert scheduler.auth_blocked
    assert (await refresher.run_round()).results == []


async def test_unexpected_client_exception_becomes_an_outcome() -> None:
    scheduler, client, _, refresher = setup(5)
    client.behaviour[ref(2)] = raiser(ZeroDivisionError("boom\x1b[31m"))
    client.behaviour[ref(3)] = raiser(NetworkError("reset"))
    client.behaviour[ref(4)] = lambda: None  # type: ignore[assignment,return-value]
    result = await refresher.run_round()
    assert len(result.results) == 5
    by_ref = {o.ref: o for o in result.results}
    error = by_ref[ref(2)].error
    assert isinstance(error, AIReiterError) and by_ref[ref(2)].task is None
    assert error.message == "unexpected ZeroDivisionError: boom␛[31m"
    assert isinstance(error.__cause__, ZeroDivisionError)
    assert isinstance(by_ref[ref(3)].error, NetworkError)
    assert isinstance(by_ref[ref(4)].error, AIReiterError) and by_ref[ref(4)].task is None
    assert by_ref[ref(0)].task is not None
    assert scheduler.state(0.0).in_flight == 0


async def test_results_for_refs_forgotten_during_the_round_are_dropped() -> None:
    scheduler, client, _, refresher = setup(4)
    client.gate = asyncio.Event()
    streamed: list[RefreshOutcome] = []
    refresher.on_outcome = streamed.append
    round_ = asyncio.create_task(refresher.run_round())
    await until(lambda: len(client.calls) == 4)
    scheduler.forget(ref(1))
    client.gate.set()
    result = await round_
    assert sorted(o.ref for o in result.results) == [ref(0), ref(2), ref(3)]
    assert ref(1) not in {o.ref for o in streamed}


async def test_a_broken_progress_callback_does_not_lose_results() -> None:
    _, _, _, refresher = setup(3)

    def broken(_: RefreshOutcome) -> None:
        raise RuntimeError("ui gone")

    refresher.on_outcome = broken
    result = await refresher.run_round()
    assert len(result.results) == 3


async def test_refresh_now_queries_terminal_tasks_and_skips_unknown_refs() -> None:
    scheduler, client, clock, refresher = setup(0)
    scheduler.track(ref(1), TaskStatus.COMPLETED, clock.now)
    client.behaviour[ref(1)] = lambda: task(TaskStatus.COMPLETED)
    result = await refresher.refresh_now([ref(1), ref(99)])
    assert client.calls == [ref(1)] and [o.ref for o in result.results] == [ref(1)]
    assert scheduler.next_due(ref(1)) is None  # still completed: not polled again


async def test_cancelled_round_hands_every_ref_back() -> None:
    scheduler, client, clock, refresher = setup(6, concurrency=2)
    client.gate = asyncio.Event()
    round_ = asyncio.create_task(refresher.run_round())
    await until(lambda: len(client.calls) == 2)
    round_.cancel()
    with pytest.raises(asyncio.CancelledError):
        await round_
    state = scheduler.state(clock.now)
    assert state.in_flight == 0 and not refresher.running
    client.gate.set()
    again = await refresher.run_round()
    assert len(again.results) == 6


async def test_state_tells_queries_on_the_wire_from_those_waiting_for_a_worker() -> None:
    scheduler, client, clock, refresher = setup(6, concurrency=2)
    client.gate = asyncio.Event()
    round_ = asyncio.create_task(refresher.run_round())
    await until(lambda: len(client.calls) == 2)
    state = scheduler.state(clock.now)
    assert (state.in_flight, state.queued) == (2, 4)  # six taken, two workers
    client.gate.set()
    await round_
    state = scheduler.state(clock.now)
    assert (state.in_flight, state.queued) == (0, 0)


async def test_offline_after_a_round_of_network_errors() -> None:
    scheduler, client, clock, refresher = setup(3)
    for i in range(3):
        client.behaviour[ref(i)] = raiser(NetworkError("connection refused"))
    await refresher.run_round()
    assert scheduler.state(clock.now).mode == "offline"
    assert scheduler.offline_since == clock.now


async def test_wait_until_due_returns_when_due_or_woken() -> None:
    _, _, _, refresher = setup(1)
    await refresher.wait_until_due(max_wait=3600.0)  # already due: no wait at all
    await refresher.run_round()
    waiter = asyncio.create_task(refresher.wait_until_due(max_wait=3600.0))
    await asyncio.sleep(0)
    assert not waiter.done()
    refresher.wake()
    await waiter
    refresher.wake()  # a wake before the wait is not lost
    await refresher.wait_until_due(max_wait=3600.0)


def test_concurrency_must_be_positive() -> None:
    scheduler = PollScheduler(rng=random.Random(1))
    with pytest.raises(ValueError):
        Refresher(FakeClient(), scheduler, concurrency=0)
