"""Run one round of queries: bounded concurrency, outcomes fed back into the scheduler.

Concurrency is a fixed set of ``concurrency`` worker coroutines pulling refs from one
shared iterator, not a task per ref behind an ``asyncio.Semaphore``: with 10,000 due refs
the semaphore design creates 10,000 tasks (and their frames) up front, and stopping a
round after a 429 would mean cancelling thousands of them. Workers cost ``concurrency``
tasks whatever the round size, and stopping is one flag checked before each request.

Rounds never overlap: :meth:`Refresher.run_round` and :meth:`Refresher.refresh_now` hold
one ``asyncio.Lock``, so a second call WAITS for the running round to finish and then
runs its own (a manual refresh is never dropped; it just queues behind the round).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from aireiter_tui.domain.errors import AIReiterError, AuthenticationError, RateLimitedError
from aireiter_tui.domain.models import Task, TaskRef
from aireiter_tui.domain.sanitize import clean
from aireiter_tui.domain.scheduler import PollScheduler

_log = logging.getLogger(__name__)


class QueryClient(Protocol):
    """What the refresher needs from the API client (``AIReiterClient`` satisfies it)."""

    async def query_ref(self, ref: TaskRef) -> Task: ...


@dataclass(frozen=True, slots=True)
class RefreshOutcome:
    """One query's result: the task as now seen, or the error that prevented it."""

    ref: TaskRef
    task: Task | None = None
    error: AIReiterError | None = None


@dataclass(frozen=True, slots=True)
class RoundResult:
    """Everything one round produced.

    ``results`` holds one outcome per query answered (refs forgotten meanwhile are left
    out). ``not_sent`` counts refs taken but never sent because a 429 or an auth failure
    stopped the round; they were handed back to the scheduler and stay due.
    """

    results: list[RefreshOutcome]
    started: float
    finished: float
    not_sent: int = 0

    @property
    def duration(self) -> float:
        return self.finished - self.started

    @property
    def errors(self) -> list[RefreshOutcome]:
        return [outcome for outcome in self.results if outcome.error is not None]


def unexpected_error(exc: Exception) -> AIReiterError:
    """Wrap an exception the client should not have raised, keeping the round alive."""
    detail = clean(str(exc), max_length=200, single_line=True)
    error = AIReiterError(f"unexpected {type(exc).__name__}" + (f": {detail}" if detail else ""))
    error.__cause__ = exc
    return error


class Refresher:
    """Queries due tasks with bounded concurrency and reports each outcome.

    Args:
        client: Anything with ``async query_ref(ref) -> Task``.
        scheduler: Decides what is due; every outcome is fed back into it.
        concurrency: The most queries in flight at once.
        clock: Monotonic seconds, the same clock the scheduler's ``now`` comes from.
        on_outcome: Called with each kept outcome as it arrives (for streaming progress).
    """

    def __init__(
        self,
        client: QueryClient,
        scheduler: PollScheduler,
        *,
        concurrency: int,
        clock: Callable[[], float] = time.monotonic,
        on_outcome: Callable[[RefreshOutcome], None] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._client = client
        self._scheduler = scheduler
        self._concurrency = concurrency
        # A round takes every due ref, but only this many are sent at once: the scheduler
        # tells the status bar which are on the wire and which wait.
        scheduler.max_sending = concurrency
        self._clock = clock
        self.on_outcome = on_outcome
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    @property
    def running(self) -> bool:
        """Whether a round is under way."""
        return self._lock.locked()

    async def run_round(self, limit: int | None = None) -> RoundResult:
        """Query every ref due now (at most ``limit``); waits for a running round first."""
        async with self._lock:
            started = self._clock()
            return await self._run(self._scheduler.due(started, limit), started)

    async def refresh_now(self, refs: Iterable[TaskRef]) -> RoundResult:
        """Query these refs now, due or not (during a 429 pause they are only requested)."""
        async with self._lock:
            started = self._clock()
            return await self._run(self._scheduler.claim(refs, started), started)

    def wake(self) -> None:
        """Cut short a :meth:`wait_until_due` (call after tracking or requesting tasks)."""
        self._wake.set()

    async def wait_until_due(self, max_wait: float) -> None:
        """Sleep until the scheduler's next due time, ``max_wait`` at most, or a wake()."""
        nxt = self._scheduler.next_due_time()
        delay = max_wait if nxt is None else min(max_wait, nxt - self._clock())
        try:
            if delay > 0 and not self._wake.is_set():
                await asyncio.wait_for(self._wake.wait(), delay)
        except TimeoutError:
            pass
        finally:
            self._wake.clear()

    async def _run(self, refs: list[TaskRef], started: float) -> RoundResult:
        if not refs:
            return RoundResult([], started, started)
        results: list[RefreshOutcome] = []
        pending = iter(refs)
        sending: set[TaskRef] = set()
        halted = False
        scheduler, query, clock = self._scheduler, self._client.query_ref, self._clock

        async def worker() -> None:
            nonlocal halted
            # The shared iterator hands each ref to exactly one worker: next() never awaits.
            while not halted and (ref := next(pending, None)) is not None:
                sending.add(ref)
                task: Task | None = None
                error: AIReiterError | None = None
                try:
                    task = await query(ref)
                except AIReiterError as exc:
                    error = exc
                except Exception as exc:  # one bad task must not kill the round
                    error = unexpected_error(exc)
                sending.discard(ref)
                if isinstance(task, Task):
                    kept = scheduler.on_success(ref, task, clock())
                else:
                    task = None  # the protocol says Task; a broken client must not stall us
                    error = error or AIReiterError("the client returned no task")
                    kept = scheduler.on_error(ref, error, clock())
                    halted = halted or isinstance(error, RateLimitedError | AuthenticationError)
                if kept:
                    outcome = RefreshOutcome(ref, task, error)
                    results.append(outcome)
                    if self.on_outcome is not None:
                        self._notify(outcome)

        not_sent = 0
        try:
            # A TaskGroup, not gather(): should a worker raise (a bug), its siblings are
            # cancelled and awaited before the leftovers are handed back below.
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self._concurrency, len(refs))):
                    group.create_task(worker())
        finally:
            # Cancelled, or stopped by a 429/auth failure: whatever was taken but not
            # answered goes back to the scheduler, due now and not charged as an error.
            leftover = [*sending, *pending]
            not_sent = len(leftover)
            if leftover:
                scheduler.release(leftover, clock())
        finished = clock()
        scheduler.end_round(finished)
        return RoundResult(results, started, finished, not_sent)

    def _notify(self, outcome: RefreshOutcome) -> None:
        assert self.on_outcome is not None
        try:
            self.on_outcome(outcome)
        except Exception:  # a broken progress callback must not lose the round's results
            _log.exception("on_outcome callback failed")
