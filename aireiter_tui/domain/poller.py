"""Continuous polling: each watched task is queried when it falls due, by a bounded pool.

There are no rounds. A dispatcher takes due tasks from the scheduler while fewer than
``concurrency`` queries are on the wire and starts one query for each; a query that
lands sends the next due task in its slot itself, or frees the slot and wakes the
dispatcher when nothing is due. A slow or hung query thus occupies one slot until its
timeout and delays nobody else, and a manual refresh goes out as soon as a slot is free.
The scheduler's gate (429 pause, refused key, user pause) is honoured by the scheduler
handing out nothing while it is closed; queries already sent finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from aireiter_tui.domain.errors import AIReiterError, RateLimitedError
from aireiter_tui.domain.models import Task, TaskRef
from aireiter_tui.domain.poll_gate import RequestTally
from aireiter_tui.domain.sanitize import clean
from aireiter_tui.domain.scheduler import PollScheduler

_log = logging.getLogger(__name__)

#: The dispatcher looks at the scheduler at least this often (seconds) while it waits:
#: a 429 pause running out or a clock moved by a test is noticed without a wake().
MAX_SLEEP: Final = 0.25


class QueryClient(Protocol):
    """What the poller needs from the API client (``AIReiterClient`` satisfies it)."""

    async def query_ref(self, ref: TaskRef) -> Task: ...


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """One query's result: the task as now seen, or the error that prevented it."""

    ref: TaskRef
    task: Task | None = None
    error: AIReiterError | None = None


def unexpected_error(exc: Exception) -> AIReiterError:
    """Wrap an exception the client should not have raised, keeping polling alive."""
    detail = clean(str(exc), max_length=200, single_line=True)
    error = AIReiterError(f"unexpected {type(exc).__name__}" + (f": {detail}" if detail else ""))
    error.__cause__ = exc
    return error


class Poller:
    """Queries due tasks, at most ``concurrency`` at once, and reports each outcome.

    Args:
        client: Anything with ``async query_ref(ref) -> Task``.
        scheduler: Decides what is due; every outcome is fed back into it.
        concurrency: The most queries on the wire at once.
        clock: Monotonic seconds, the same clock the scheduler's ``now`` comes from.
        on_outcome: Called with each outcome the scheduler kept (a reply for a task
            forgotten meanwhile is dropped), on the event loop's thread.
    """

    def __init__(
        self,
        client: QueryClient,
        scheduler: PollScheduler,
        *,
        concurrency: int,
        clock: Callable[[], float] = time.monotonic,
        on_outcome: Callable[[PollOutcome], None] = lambda outcome: None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._client = client
        self._scheduler = scheduler
        self.concurrency = concurrency
        self._clock = clock
        self._on_outcome = on_outcome
        self._sending: dict[asyncio.Task[None], TaskRef] = {}
        # The newest query of each ref: a ref forgotten and tracked again (an undone
        # removal) may have an older query still on the wire, whose reply is stale.
        self._latest: dict[TaskRef, asyncio.Task[None]] = {}
        self._wake: asyncio.Event | None = None
        self.running = False
        #: Queries sent in the last minute and 429s seen (the status bar shows them).
        self.tally = RequestTally()

    @property
    def in_flight(self) -> int:
        """Queries on the wire now."""
        return len(self._sending)

    def wake(self) -> None:
        """Look for due tasks now (call after tracking or requesting tasks)."""
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """Poll until cancelled; on the way out, unanswered tasks go back to the scheduler."""
        self._wake = wake = asyncio.Event()
        self.running = True
        scheduler, clock = self._scheduler, self._clock
        try:
            while True:
                wake.clear()
                free = self.concurrency - len(self._sending)
                if free > 0:
                    for ref in scheduler.due(clock(), free):
                        self._start(ref)
                if len(self._sending) >= self.concurrency:
                    delay = None  # a landing query wakes us
                else:
                    due_at = scheduler.next_due_time()
                    delay = MAX_SLEEP if due_at is None else due_at - clock()
                    if delay <= 0:
                        continue
                    delay = min(delay, MAX_SLEEP)
                # asyncio.timeout, not wait_for: on 3.11 wait_for drops a cancel that
                # arrives just as the event is set, and the poller would run on.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await wake.wait()
        finally:
            self.running = False
            self._wake = None
            sending = list(self._sending)
            unanswered = list(self._latest)
            self._sending.clear()
            self._latest.clear()
            for task in sending:
                task.cancel()
            for task in sending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            # Sent but unanswered: due again, not charged as an error.
            scheduler.release(unanswered, clock())

    def _start(self, ref: TaskRef) -> None:
        task = asyncio.create_task(self._query(ref), name=f"poll {ref.key}")
        self._send(ref, task)

    def _send(self, ref: TaskRef, task: asyncio.Task[None]) -> None:
        self.tally.sent(self._clock())
        self._sending[task] = ref
        self._latest[ref] = task

    async def _query(self, ref: TaskRef) -> None:
        """Query ``ref``; once it lands, the next due task in the same slot, and so on.

        The landing query sends the next one itself, before the replies that arrived
        with it are handled. Sent by the dispatcher, it would go out only after all of
        them: replies that land together would go out again together, and at
        concurrency 64 those clumps each wait for the whole clump's handling.
        """
        me = asyncio.current_task()
        assert me is not None  # always: this coroutine runs as the task _start made
        while True:
            task: Task | None = None
            error: AIReiterError | None = None
            try:
                task = await self._client.query_ref(ref)
            except AIReiterError as exc:
                error = exc
                if isinstance(exc, RateLimitedError):
                    self.tally.rate_limited(self._clock())
            except Exception as exc:  # one bad task must not stop polling
                error = unexpected_error(exc)
            if self._sending.pop(me, None) is None:
                return  # cancelled on the way out: run() hands it back
            self._land(ref, me, task, error)
            # (after _land: its outcome may have asked for refreshes or set a pause)
            due = (
                self._scheduler.due(self._clock(), 1)
                if len(self._sending) < self.concurrency
                else []
            )
            if not due:
                self.wake()
                return
            ref = due[0]
            me.set_name(f"poll {ref.key}")
            self._send(ref, me)

    def _land(
        self,
        ref: TaskRef,
        query: asyncio.Task[None],
        task: Task | None,
        error: AIReiterError | None,
    ) -> None:
        if self._latest.get(ref) is not query:
            return  # a newer query of the same ref is on the wire: this reply is stale
        del self._latest[ref]
        scheduler, now = self._scheduler, self._clock()
        if isinstance(task, Task):
            kept = scheduler.on_success(ref, task, now)
        else:
            task = None  # the protocol says Task; a broken client must not stall us
            error = error or AIReiterError("the client returned no task")
            kept = scheduler.on_error(ref, error, now)
        if kept:
            try:
                self._on_outcome(PollOutcome(ref, task, error))
            except Exception:  # a broken consumer must not stop polling
                _log.exception("on_outcome callback failed")
