"""Poller: continuous polling by a bounded pool; a hung query delays nobody; gate; robustness.

The poller runs for real on the event loop against fake clients; only the scheduler's
clock is fake. Nothing here waits for a fixed time: every wait is a bounded loop on a
condition (:func:`until`), and "nothing else went out" is checked after the poller has
demonstrably looked at the scheduler again (:meth:`Rig.settle`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable

import pytest
from scheduler_fixtures import make, ref, task

from aireiter_tui.domain.errors import (
    AIReiterError,
    AuthenticationError,
    NetworkError,
    RateLimitedError,
)
from aireiter_tui.domain.models import Task, TaskRef, TaskStatus
from aireiter_tui.domain.poller import Poller, PollOutcome
from aireiter_tui.domain.scheduler import PollScheduler

START = 100.0  # the fake monotonic clock's first reading
INTERVAL = 5.0  # the scheduler's poll interval in these tests (no jitter)
BACKOFF = 2.0  # the first error's backoff (backoff_base, no jitter)


class Clock:
    """The scheduler's and the poller's ``now``, moved by hand."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeClient:
    """Answers PROCESSING at once unless told otherwise, and counts what is on the wire.

    ``answers``: per ref, what to return (or raise) instead. ``holds``: per ref, an event
    the query waits for (never set: the query never answers). ``hold_all``: the same for
    every query. ``tickets``: if set, every query takes one before answering.
    """

    def __init__(self) -> None:
        self.calls: list[TaskRef] = []
        self.active = 0
        self.max_active = 0
        self.running: Counter[TaskRef] = Counter()
        self.answers: dict[TaskRef, Callable[[], Task]] = {}
        self.holds: dict[TaskRef, asyncio.Event] = {}
        self.hold_all: asyncio.Event | None = None
        self.tickets: asyncio.Semaphore | None = None

    def count(self, r: TaskRef) -> int:
        return self.calls.count(r)

    async def query_ref(self, ref: TaskRef) -> Task:
        self.calls.append(ref)
        self.active += 1
        self.running[ref] += 1
        self.max_active = max(self.max_active, self.active)
        try:
            await asyncio.sleep(0)
            if ref in self.holds:
                await self.holds[ref].wait()
            if self.hold_all is not None:
                await self.hold_all.wait()
            if self.tickets is not None:
                await self.tickets.acquire()
            answer = self.answers.get(ref)
            return answer() if answer is not None else task(TaskStatus.PROCESSING)
        finally:
            self.active -= 1
            self.running[ref] -= 1


def raiser(exc: Exception) -> Callable[[], Task]:
    def raise_it() -> Task:
        raise exc

    return raise_it


async def until(condition: Callable[[], bool], what: str = "the condition") -> None:
    """Let the loop run until ``condition`` holds; fail if it never does (bounded)."""
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def until_reaches(get: Callable[[], int], value: int, what: str) -> None:
    """:func:`until` ``get() >= value`` (a function of its own: no loop variable captured)."""
    await until(lambda: get() >= value, what)


class Rig:
    """A scheduler (fake clock, no jitter), a fake client and a poller running on them."""

    def __init__(self, n: int, *, concurrency: int, status: TaskStatus | None) -> None:
        self.clock = Clock()
        self.scheduler: PollScheduler = make(
            interval=INTERVAL, backoff_base=BACKOFF, jitter=0.0, rate_limit_default=30.0
        )
        for i in range(n):
            self.scheduler.track(ref(i), status, self.clock.now)
        self.client = FakeClient()
        self.outcomes: list[PollOutcome] = []
        self.looks = 0  # how often the poller asked the scheduler for due tasks
        original_due = self.scheduler.due

        def counting_due(now: float, limit: int | None = None) -> list[TaskRef]:
            self.looks += 1
            return original_due(now, limit)

        self.scheduler.due = counting_due  # type: ignore[method-assign]
        self.poller = Poller(
            self.client,
            self.scheduler,
            concurrency=concurrency,
            clock=self.clock,
            on_outcome=self.outcomes.append,
        )
        self.run: asyncio.Task[None] | None = None

    def outcomes_for(self, r: TaskRef) -> list[PollOutcome]:
        return [o for o in self.outcomes if o.ref == r]

    async def start(self) -> None:
        self.run = asyncio.create_task(self.poller.run())
        await until(lambda: self.poller.running, "the poller started")

    async def settle(self) -> None:
        """Wake the poller and wait until it has looked at the scheduler twice more."""
        for _ in range(2):
            before = self.looks
            self.poller.wake()
            await until_reaches(lambda: self.looks, before + 1, "the poller looked again")

    async def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        self.poller.wake()

    async def stop(self) -> None:
        if self.run is not None and not self.run.done():
            self.run.cancel()
            with pytest.raises(asyncio.CancelledError):
                await self.run


@pytest.fixture
async def rig_factory() -> AsyncIterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def factory(
        n: int = 0, *, concurrency: int = 4, status: TaskStatus | None = TaskStatus.PROCESSING
    ) -> Rig:
        rig = Rig(n, concurrency=concurrency, status=status)
        made.append(rig)
        return rig

    yield factory
    for rig in made:
        await rig.stop()


RigFactory = Callable[..., Rig]


async def test_every_due_ref_is_queried_once_rescheduled_and_reported(
    rig_factory: RigFactory,
) -> None:
    rig = rig_factory(10, concurrency=4)
    await rig.start()
    await until(lambda: len(rig.outcomes) == 10, "ten outcomes")
    await rig.settle()
    assert sorted(rig.client.calls) == [ref(i) for i in range(10)]  # each exactly once
    assert sorted(o.ref for o in rig.outcomes) == [ref(i) for i in range(10)]
    assert all(o.task is not None and o.error is None for o in rig.outcomes)
    assert all(rig.scheduler.next_due(ref(i)) == START + INTERVAL for i in range(10))
    assert rig.poller.in_flight == 0 and rig.scheduler.state(rig.clock.now).in_flight == 0

    await rig.advance(INTERVAL)  # due again: queried again, once each
    await until(lambda: len(rig.outcomes) == 20, "twenty outcomes")
    await rig.settle()
    assert Counter(rig.client.calls) == {ref(i): 2 for i in range(10)}
    assert all(rig.scheduler.next_due(ref(i)) == START + 2 * INTERVAL for i in range(10))


async def test_concurrency_is_bounded_and_a_freed_slot_is_refilled(
    rig_factory: RigFactory,
) -> None:
    rig = rig_factory(20, concurrency=4)
    rig.client.tickets = tickets = asyncio.Semaphore(0)
    await rig.start()
    await until(lambda: rig.client.active == 4, "four queries on the wire")
    assert rig.poller.in_flight == 4 and len(rig.client.calls) == 4
    assert rig.scheduler.state(rig.clock.now, workers=4).queued == 16
    for answered in range(1, 17):  # one answer at a time: its slot goes to the next task
        tickets.release()
        await until_reaches(lambda: len(rig.outcomes), answered, f"{answered} outcomes")
        await until_reaches(lambda: len(rig.client.calls), 4 + answered, "the slot refilled")
        assert len(rig.outcomes) == answered and len(rig.client.calls) == 4 + answered
        assert rig.client.active == 4 and rig.poller.in_flight == 4
    for _ in range(4):
        tickets.release()
    await until(lambda: len(rig.outcomes) == 20, "twenty outcomes")
    assert rig.client.max_active == 4
    assert Counter(rig.client.calls) == {ref(i): 1 for i in range(20)}
    await until(lambda: rig.poller.in_flight == 0, "nothing in flight")


async def test_each_reply_of_a_burst_sends_the_next_due_task_before_the_next_reply() -> None:
    # Replies that land together must not go out again together: at concurrency 64 each
    # would wait for the whole clump to be handled first.
    clock = Clock()
    scheduler = make(interval=INTERVAL, backoff_base=BACKOFF, jitter=0.0)
    for i in range(8):
        scheduler.track(ref(i), TaskStatus.PROCESSING, clock.now)
    client = FakeClient()
    client.hold_all = burst = asyncio.Event()
    sent_when_handled: list[int] = []
    poller = Poller(
        client,
        scheduler,
        concurrency=4,
        clock=clock,
        on_outcome=lambda outcome: sent_when_handled.append(len(client.calls)),
    )
    run = asyncio.create_task(poller.run())
    try:
        await until(lambda: client.active == 4, "four queries on the wire")
        burst.set()  # the four replies land in the same turn of the loop
        await until(lambda: len(sent_when_handled) == 8, "eight outcomes")
        assert sent_when_handled[:4] == [4, 5, 6, 7]
        assert sorted(client.calls) == [ref(i) for i in range(8)]
        assert client.max_active == 4
    finally:
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run


async def test_a_hung_query_holds_one_slot_and_delays_nobody(rig_factory: RigFactory) -> None:
    hung, healthy = ref(0), ref(1)
    rig = rig_factory(2, concurrency=4)
    rig.client.holds[hung] = asyncio.Event()  # never set: this query never answers
    await rig.start()
    await until(lambda: len(rig.outcomes_for(healthy)) == 1, "the healthy task answered")
    assert rig.client.running[hung] == 1 and rig.poller.in_flight == 1
    for step in range(1, 5):
        await rig.advance(INTERVAL)  # the healthy task falls due again
        await until_reaches(
            lambda: len(rig.outcomes_for(healthy)), step + 1, f"healthy answered (step {step})"
        )
        assert len(rig.outcomes_for(healthy)) == rig.client.count(healthy) == step + 1
        assert rig.scheduler.next_due(healthy) == rig.clock.now + INTERVAL
        assert rig.client.count(hung) == 1 and rig.client.running[hung] == 1
        await until(lambda: rig.poller.in_flight == 1, "only the hung query in flight")
    for step in range(5, 7):  # no wake(): the poller notices the due time by itself
        rig.clock.now += INTERVAL
        await until_reaches(
            lambda: len(rig.outcomes_for(healthy)), step + 1, f"healthy answered (step {step})"
        )
        assert len(rig.outcomes_for(healthy)) == rig.client.count(healthy) == step + 1
        assert rig.client.count(hung) == 1 and rig.client.running[hung] == 1
    assert rig.outcomes_for(hung) == []
    assert rig.scheduler.next_due(hung) is None  # still in flight, not rescheduled


async def test_a_429_closes_the_gate_until_the_pause_ends_without_charging(
    rig_factory: RigFactory,
) -> None:
    rig = rig_factory(6, concurrency=2)
    rig.client.answers[ref(0)] = raiser(RateLimitedError("429", retry_after=20.0))
    rig.client.holds[ref(1)] = slow = asyncio.Event()
    await rig.start()
    await until(lambda: len(rig.outcomes_for(ref(0))) == 1, "the 429 landed")
    assert isinstance(rig.outcomes_for(ref(0))[0].error, RateLimitedError)
    assert rig.scheduler.state(rig.clock.now).mode == "rate-limited"
    slow.set()  # a query sent before the 429 still finishes and is reported
    await until(lambda: len(rig.outcomes_for(ref(1))) == 1, "the query in flight landed")
    assert rig.outcomes_for(ref(1))[0].task is not None
    await rig.settle()
    await rig.advance(19.0)  # one second short of the pause's end
    await rig.settle()
    assert rig.client.calls == [ref(0), ref(1)]  # nothing new went out during the pause
    assert rig.poller.in_flight == 0
    assert rig.scheduler.next_due(ref(0)) == START  # not charged: due at once, held by the gate
    assert all(rig.scheduler.next_due(ref(i)) == START for i in range(2, 6))

    del rig.client.answers[ref(0)]
    rig.clock.now += 1.0  # the pause ends; no wake(): the poller notices by itself
    await until(lambda: len(rig.outcomes) == 8, "every task answered again")
    assert Counter(rig.client.calls) == {ref(0): 2, ref(1): 2, **{ref(i): 1 for i in range(2, 6)}}
    assert rig.scheduler.state(rig.clock.now).mode == "live"


async def test_a_refused_key_stops_everything_until_a_manual_request(
    rig_factory: RigFactory,
) -> None:
    rig = rig_factory(6, concurrency=1)
    rig.client.answers[ref(1)] = raiser(AuthenticationError("the API key was refused"))
    await rig.start()
    await until(lambda: len(rig.outcomes) == 2, "two outcomes")
    assert isinstance(rig.outcomes_for(ref(1))[0].error, AuthenticationError)
    await rig.settle()
    await rig.advance(1000.0)  # time does not lift an auth stop
    await rig.settle()
    assert rig.client.calls == [ref(0), ref(1)]
    assert rig.scheduler.gate.auth_blocked
    assert rig.scheduler.state(rig.clock.now).mode == "auth-blocked"
    assert rig.scheduler.next_due(ref(1)) == START  # not charged

    del rig.client.answers[ref(1)]
    assert rig.scheduler.request(ref(5), rig.clock.now)
    rig.poller.wake()
    await until(lambda: set(rig.client.calls) == {ref(i) for i in range(6)}, "all queried")
    await until(lambda: len(rig.outcomes_for(ref(1))) == 2, "the refused task retried")
    assert not rig.scheduler.gate.auth_blocked
    assert rig.client.max_active == 1


async def test_polling_resumes_after_the_key_changes(rig_factory: RigFactory) -> None:
    rig = rig_factory(3, concurrency=1)
    rig.client.answers[ref(0)] = raiser(AuthenticationError("the API key was refused"))
    await rig.start()
    await until(lambda: len(rig.outcomes) == 1, "the refusal landed")
    await rig.settle()
    assert rig.client.calls == [ref(0)]
    del rig.client.answers[ref(0)]
    rig.scheduler.resume_after_auth_change()
    rig.poller.wake()
    await until(lambda: len(rig.outcomes) == 4, "every task answered")
    assert sorted(rig.client.calls) == [ref(0), ref(0), ref(1), ref(2)]


async def test_client_exceptions_become_outcomes_and_polling_goes_on(
    rig_factory: RigFactory,
) -> None:
    rig = rig_factory(5, concurrency=2)
    rig.client.answers[ref(2)] = raiser(ZeroDivisionError("boom"))
    rig.client.answers[ref(3)] = raiser(NetworkError("reset"))
    rig.client.answers[ref(4)] = lambda: None  # type: ignore[assignment,return-value]
    await rig.start()
    await until(lambda: len(rig.outcomes) == 5, "five outcomes")

    unexpected = rig.outcomes_for(ref(2))[0]
    assert unexpected.task is None and isinstance(unexpected.error, AIReiterError)
    assert unexpected.error.message == "unexpected ZeroDivisionError: boom"
    assert isinstance(unexpected.error.__cause__, ZeroDivisionError)
    assert isinstance(rig.outcomes_for(ref(3))[0].error, NetworkError)
    nothing = rig.outcomes_for(ref(4))[0]
    assert nothing.task is None and isinstance(nothing.error, AIReiterError)
    assert nothing.error.message == "the client returned no task"
    assert all(rig.outcomes_for(ref(i))[0].task is not None for i in (0, 1))
    for i in (2, 3, 4):  # failures back off like any error
        assert rig.scheduler.next_due(ref(i)) == START + BACKOFF

    await rig.advance(INTERVAL)  # and everyone is polled again
    await until(lambda: len(rig.outcomes) == 10, "ten outcomes")
    assert Counter(rig.client.calls) == {ref(i): 2 for i in range(5)}


async def test_a_reply_for_a_forgotten_ref_is_dropped(rig_factory: RigFactory) -> None:
    rig = rig_factory(4, concurrency=4)
    rig.client.holds[ref(1)] = slow = asyncio.Event()
    await rig.start()
    await until(lambda: len(rig.outcomes) == 3, "the other three answered")
    assert rig.client.running[ref(1)] == 1
    assert rig.scheduler.forget(ref(1))
    slow.set()
    await until(lambda: rig.client.active == 0, "the forgotten query answered")
    await until(lambda: rig.poller.in_flight == 0, "its slot is free")
    await rig.settle()
    assert rig.outcomes_for(ref(1)) == [] and len(rig.outcomes) == 3
    assert ref(1) not in rig.scheduler
    assert rig.scheduler.state(rig.clock.now).in_flight == 0


async def test_a_ref_tracked_again_while_its_old_query_is_in_flight(
    rig_factory: RigFactory,
) -> None:
    rig = rig_factory(1, concurrency=2)
    rig.client.holds[ref(0)] = old = asyncio.Event()
    await rig.start()
    await until(lambda: rig.client.active == 1, "the first query is on the wire")
    rig.scheduler.forget(ref(0))
    rig.scheduler.track(ref(0), TaskStatus.PROCESSING, rig.clock.now)  # e.g. an undone removal
    rig.scheduler.track(ref(1), TaskStatus.PROCESSING, rig.clock.now)
    rig.client.holds[ref(0)] = new = asyncio.Event()  # for a query sent from now on
    rig.poller.wake()
    await until(lambda: len(rig.client.calls) >= 2, "a second query went out")
    assert rig.client.max_active <= 2  # never more than `concurrency` on the wire

    rig.client.answers[ref(0)] = lambda: task(TaskStatus.COMPLETED)  # the stale reply
    old.set()
    await until(
        lambda: rig.client.count(ref(0)) == 2 and rig.client.running[ref(0)] == 1,
        "the old query answered and the new one is on the wire",
    )
    rig.client.answers[ref(0)] = lambda: task(TaskStatus.PROCESSING)  # the fresh reply
    new.set()
    await until(lambda: len(rig.outcomes_for(ref(1))) == 1, "the other task answered")
    await until(lambda: rig.client.active == 0, "every query answered")
    await until(lambda: rig.poller.in_flight == 0, "every slot free")
    reported = [o.task.status for o in rig.outcomes_for(ref(0)) if o.task is not None]
    assert reported == [TaskStatus.PROCESSING]  # the stale reply is dropped
    assert rig.client.max_active <= 2


async def test_a_broken_outcome_callback_does_not_stop_polling(
    rig_factory: RigFactory, caplog: pytest.LogCaptureFixture
) -> None:
    rig = rig_factory(3, concurrency=2)
    seen: list[PollOutcome] = []

    def broken(outcome: PollOutcome) -> None:
        seen.append(outcome)
        raise RuntimeError("ui gone")

    rig.poller._on_outcome = broken  # the Rig's own callback, swapped for a broken one
    with caplog.at_level(logging.ERROR, logger="aireiter_tui.domain.poller"):
        await rig.start()
        await until(lambda: len(seen) == 3, "every outcome offered to the callback")
        assert all(rig.scheduler.next_due(ref(i)) == START + INTERVAL for i in range(3))
        await rig.advance(INTERVAL)
        await until(lambda: len(seen) == 6, "polled again")
    assert Counter(rig.client.calls) == {ref(i): 2 for i in range(3)}
    assert rig.run is not None and not rig.run.done()
    assert sum("on_outcome callback failed" in r.getMessage() for r in caplog.records) == 6


async def test_cancelling_run_hands_in_flight_refs_back_uncharged(
    rig_factory: RigFactory,
) -> None:
    rig = rig_factory(6, concurrency=2)
    rig.client.hold_all = asyncio.Event()  # never set while the first run lasts
    await rig.start()
    await until(lambda: rig.client.active == 2, "two queries on the wire")
    sent = list(rig.client.calls)
    assert len(sent) == 2 and all(rig.scheduler.next_due(r) is None for r in sent)
    rig.clock.now = START + 3.0
    await rig.stop()
    assert not rig.poller.running and rig.poller.in_flight == 0
    assert rig.client.active == 0  # the queries on the wire were cancelled
    assert rig.outcomes == []
    assert all(rig.scheduler.next_due(r) == START + 3.0 for r in sent)  # due again, now
    state = rig.scheduler.state(rig.clock.now)
    assert state.in_flight == 0 and state.mode == "live"
    assert rig.scheduler.gate.last_error is None
    rig.poller.wake()  # harmless while not running

    # Not charged: the next failure of a handed-back ref is its first (backoff 2 s, not 4 s).
    rig.client.hold_all = None
    for i in range(6):
        rig.client.answers[ref(i)] = raiser(NetworkError("reset"))
    await rig.start()
    await until(lambda: len(rig.outcomes) == 6, "every task queried by the new run")
    assert sorted(o.ref for o in rig.outcomes) == [ref(i) for i in range(6)]
    assert all(rig.scheduler.next_due(ref(i)) == START + 3.0 + BACKOFF for i in range(6))


async def test_a_cancel_right_after_a_wake_stops_the_poller(rig_factory: RigFactory) -> None:
    """asyncio.wait_for on Python 3.11 drops a cancel that arrives just as the awaited
    event is set: the poller ran on after its worker was cancelled."""
    rig = rig_factory(1)
    await rig.start()
    await until(lambda: len(rig.outcomes) == 1, "the first answer")
    for _ in range(5):
        run = rig.run
        assert run is not None
        rig.poller.wake()
        await asyncio.sleep(0)
        run.cancel()
        await until(run.done, "the cancelled poller to stop")
        assert run.cancelled() and not rig.poller.running
        await rig.start()


async def test_a_manual_request_for_a_terminal_task_goes_out(rig_factory: RigFactory) -> None:
    rig = rig_factory(0, concurrency=2)
    rig.scheduler.track(ref(1), TaskStatus.COMPLETED, rig.clock.now)
    rig.scheduler.track(ref(2), TaskStatus.FAILED, rig.clock.now)
    rig.client.answers[ref(1)] = lambda: task(TaskStatus.COMPLETED)
    await rig.start()
    await rig.settle()
    assert rig.client.calls == []  # terminal tasks are not polled
    assert rig.scheduler.request(ref(1), rig.clock.now)
    rig.poller.wake()
    await until(lambda: len(rig.outcomes) == 1, "the requested task answered")
    assert rig.client.calls == [ref(1)]
    outcome = rig.outcomes[0]
    assert outcome.ref == ref(1) and outcome.task is not None and outcome.error is None
    await rig.advance(INTERVAL)
    await rig.settle()
    assert rig.client.calls == [ref(1)]  # still completed: not polled again
    assert rig.scheduler.next_due(ref(1)) is None


async def test_while_paused_by_the_user_only_requests_go_out(rig_factory: RigFactory) -> None:
    rig = rig_factory(3, concurrency=2)
    rig.scheduler.set_paused(True)
    await rig.start()
    await rig.settle()
    assert rig.client.calls == []
    rig.scheduler.request(ref(2), rig.clock.now)
    rig.poller.wake()
    await until(lambda: len(rig.outcomes) == 1, "the requested task answered")
    await rig.settle()
    assert rig.client.calls == [ref(2)]
    rig.scheduler.set_paused(False)
    rig.poller.wake()
    await until(lambda: len(rig.outcomes) == 3, "the others answered")
    assert sorted(rig.client.calls) == [ref(0), ref(1), ref(2)]


async def test_a_task_tracked_while_running_is_picked_up(rig_factory: RigFactory) -> None:
    rig = rig_factory(0, concurrency=2)
    await rig.start()
    await rig.settle()
    assert rig.client.calls == [] and rig.poller.in_flight == 0
    rig.scheduler.track(ref(7), None, rig.clock.now)  # never fetched: due now
    rig.poller.wake()
    await until(lambda: len(rig.outcomes) == 1, "the new task answered")
    assert rig.client.calls == [ref(7)]


@pytest.mark.parametrize("concurrency", [0, -1])
def test_concurrency_must_be_positive(concurrency: int) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        Poller(FakeClient(), make(), concurrency=concurrency)
