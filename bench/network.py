"""Network figures of continuous polling: draining N due tasks, a naive curl-like loop,
steady-state load, and head-of-line blocking behind a query that never answers.

There are no rounds: a :class:`~aireiter_tui.domain.poller.Poller` takes due tasks from
the :class:`~aireiter_tui.domain.scheduler.PollScheduler` while fewer than
``concurrency`` queries are on the wire. Each figure here runs the real scheduler and
poller; :func:`drain` and :func:`head_of_line` also run the real client on sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import http.client
import json
import random
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from aireiter_tui.api.client import AIReiterClient
from aireiter_tui.domain.gc_batches import BatchFreezer
from aireiter_tui.domain.models import IdKind, Task, TaskRef, TaskStatus, parse_task
from aireiter_tui.domain.poller import Poller, PollOutcome, QueryClient
from aireiter_tui.domain.scheduler import PollScheduler
from aireiter_tui.domain.secret import ApiKey
from aireiter_tui.simulator import Fault, Simulator, running_in_thread

#: Guard against a stuck poller: a drain that takes this many times its ideal is cut off.
DRAIN_PATIENCE = 20.0


class SteppedClock:
    """A monotonic clock that runs with real time plus an offset moved by jumps.

    While real queries are on the wire it advances as ``time.monotonic()`` does; when
    nothing can happen before the scheduler's next due time, :meth:`jump_to` skips the
    idle wait. ``frozen``: never advance with real time (no sockets involved).
    """

    def __init__(self, start: float = 1000.0, *, frozen: bool = False) -> None:
        self._frozen = frozen
        self._base = start if frozen else start - time.monotonic()

    def __call__(self) -> float:
        return self._base if self._frozen else self._base + time.monotonic()

    def jump_to(self, when: float) -> None:
        now = self()
        if when > now:
            self._base += when - now


async def _with_poller(poller: Poller, body: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run ``body()`` while ``poller`` runs; stop the poller afterwards, whatever happens."""
    runner = asyncio.create_task(poller.run(), name="bench poller")
    try:
        while not poller.running:
            await asyncio.sleep(0)
        return await body()
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


# --- (a) N due tasks, all answered -----------------------------------------------------
@dataclass(frozen=True, slots=True)
class DrainFigures:
    """N due tasks polled once each: wall seconds until the last first answer landed.

    ``latency``: mean seconds of one query sent alone on the same warm client, the
    ideal's unit. ``answered``: refs answered at least once (N unless cut off).
    ``peak``: the most queries the poller had on the wire at once.
    """

    seconds: float
    latency: float
    answered: int
    errors: Counter[str]
    tasks: dict[TaskRef, Task]
    peak: int

    def ideal(self, size: int, concurrency: int) -> float:
        return size / concurrency * self.latency


async def drain(
    base: str,
    key: str,
    refs: list[TaskRef],
    concurrency: int,
    *,
    interval: float,
    latency_samples: int = 40,
) -> DrainFigures:
    """Time a :class:`Poller` at ``concurrency`` until every ref was answered once.

    First a warm-up of ``concurrency`` queries opens the pool (the long-lived app has
    it open), then ``latency_samples`` queries one at a time give the mean single-request
    latency. Every ref is then tracked with no known status (due now) and the poller
    started; the clock stops at the first answer of the last ref. Answers that land
    early are rescheduled ``interval`` later, behind every ref still due, and may be
    polled again before the end: only first answers count.

    The cyclic GC is kept as the dashboard keeps it: what it tracks is frozen before
    polling starts (the dashboard freezes the list it has read), and each batch of
    first answers after a full collection (its monitor's :class:`BatchFreezer`).
    Otherwise every full collection would scan this process's other figures' leftovers
    too, and stall all 64 queries at once.
    """
    async with AIReiterClient(base, ApiKey(key), concurrency=concurrency) as client:
        await asyncio.gather(*(client.query_ref(ref) for ref in refs[:concurrency]))
        samples = []
        for ref in refs[:latency_samples]:
            started = time.perf_counter()
            await client.query_ref(ref)
            samples.append(time.perf_counter() - started)
        latency = statistics.fmean(samples)

        scheduler = PollScheduler(rng=random.Random(0), interval=interval)
        scheduler.track_many(((ref, None, None) for ref in refs), time.monotonic())
        gc.collect()
        gc.freeze()
        freezer = BatchFreezer(enabled=True)
        tasks: dict[TaskRef, Task] = {}
        first: set[TaskRef] = set()
        errors: Counter[str] = Counter()
        done = asyncio.Event()
        peak = [0]
        poller: Poller | None = None

        def on_outcome(outcome: PollOutcome) -> None:
            assert poller is not None
            peak[0] = max(peak[0], poller.in_flight + 1)  # + the one that just landed
            if outcome.task is not None:
                tasks[outcome.ref] = outcome.task
            if outcome.ref in first:
                return
            first.add(outcome.ref)
            if outcome.task is not None:
                freezer.count()
            if outcome.error is not None:
                errors[type(outcome.error).__name__] += 1
            if len(first) == len(refs):
                done.set()

        poller = Poller(client, scheduler, concurrency=concurrency, on_outcome=on_outcome)
        patience = max(60.0, DRAIN_PATIENCE * len(refs) / concurrency * latency)

        async def wait() -> float:
            started = time.perf_counter()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), patience)
            return time.perf_counter() - started

        try:
            seconds = await _with_poller(poller, wait)
        finally:
            freezer.close()
            gc.unfreeze()
    return DrainFigures(seconds, latency, len(first), errors, tasks, peak[0])


def naive_loop(base: str, key: str, refs: list[TaskRef]) -> float:
    """One query at a time on a new connection each (``Connection: close``), like curl.

    Returns the wall seconds for all of ``refs``.
    """
    address = urlsplit(base)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Connection": "close",
    }
    started = time.perf_counter()
    for ref in refs:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        try:
            body = json.dumps({ref.kind.value: ref.id})
            connection.request("POST", "/api/openapi/query", body=body, headers=headers)
            response = connection.getresponse()
            data = json.loads(response.read())
            parse_task(data["data"])
        finally:
            connection.close()
    return time.perf_counter() - started


# --- (b) steady state --------------------------------------------------------------------
class _CountingClient:
    """Answers instantly with the task's fixed status and counts queries per status."""

    def __init__(self, statuses: dict[TaskRef, TaskStatus]) -> None:
        self.statuses = statuses
        self.sent: Counter[TaskStatus] = Counter()

    async def query_ref(self, ref: TaskRef) -> Task:
        status = self.statuses[ref]
        self.sent[status] += 1
        return parse_task({"task_id": ref.id, "status": status.value})


async def _settle(poller: Poller, scheduler: PollScheduler, clock: Callable[[], float]) -> None:
    """Let the poller send everything due now and take every answer (instant client)."""
    for _ in range(1_000_000):
        due = scheduler.next_due_time()
        if not poller.in_flight and (due is None or due > clock()):
            return
        await asyncio.sleep(0)
    raise RuntimeError("the poller did not settle: something stays due or in flight")


@dataclass(frozen=True, slots=True)
class SteadyFigures:
    active: int
    terminal: int
    seconds: float
    active_requests: int
    terminal_requests: int

    @property
    def per_minute(self) -> float:
        return (self.active_requests + self.terminal_requests) * 60 / self.seconds

    @property
    def per_active_per_minute(self) -> float:
        return self.active_requests * 60 / self.seconds / max(1, self.active)


def steady_state(
    active: int, terminal: int, *, interval: float, concurrency: int, seconds: float = 600.0
) -> SteadyFigures:
    """Queries sent over ``seconds`` of a STEPPED clock by the real scheduler and poller.

    Tasks start with their cached statuses (as the app loads them from the watchlist).
    The client answers at once, so between due times nothing is on the wire and the
    clock jumps to the scheduler's next due time (the poller is woken, as its own timer
    would wake it then): ten simulated minutes take well under a second.
    """
    statuses: dict[TaskRef, TaskStatus] = {}
    for number in range(active + terminal):
        if number < active:
            status = TaskStatus.PROCESSING if number % 2 else TaskStatus.PENDING
        else:
            status = TaskStatus.COMPLETED if number % 10 else TaskStatus.FAILED
        statuses[TaskRef.from_key(f"task_id:order_steady{number:06d}")] = status
    clock = SteppedClock(frozen=True)
    scheduler = PollScheduler(rng=random.Random(1), interval=interval)
    scheduler.track_many(((ref, status, None) for ref, status in statuses.items()), clock())
    client = _CountingClient(statuses)
    poller = Poller(client, scheduler, concurrency=concurrency, clock=clock)

    async def run() -> None:
        # A track()ed active task is due at once: that first burst is not steady state.
        await _settle(poller, scheduler, clock)
        client.sent.clear()
        end = clock() + seconds
        while True:
            due = scheduler.next_due_time()
            if due is None or due > end:
                return
            clock.jump_to(due)
            poller.wake()
            await _settle(poller, scheduler, clock)

    asyncio.run(_with_poller(poller, run))
    terminal_sent = client.sent[TaskStatus.COMPLETED] + client.sent[TaskStatus.FAILED]
    active_sent = sum(client.sent.values()) - terminal_sent
    return SteadyFigures(active, terminal, seconds, active_sent, terminal_sent)


# --- (c) head-of-line ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class HeadOfLineFigures:
    """How often tasks due every ``interval`` were asked while one query hung.

    ``gaps``: seconds (stepped clock) between consecutive sends of the same task, over
    every healthy task. ``hung_sent``: queries sent for the hung task (1: it was never
    given up, nor sent twice). ``hung_on_wire``: whether it was still unanswered at the end.
    """

    interval: float
    jitter: float
    span: float
    healthy: int
    gaps: list[float]
    hung_sent: int
    hung_on_wire: bool
    errors: Counter[str]

    @property
    def mean_gap(self) -> float:
        return statistics.fmean(self.gaps) if self.gaps else float("inf")

    @property
    def max_gap(self) -> float:
        return max(self.gaps, default=float("inf"))


class _Recording:
    """The real client, noting when each query was sent (stepped clock) and which are
    on the wire."""

    def __init__(self, client: QueryClient, clock: Callable[[], float]) -> None:
        self._client, self._clock = client, clock
        self.sent: defaultdict[TaskRef, list[float]] = defaultdict(list)
        self.on_wire: set[TaskRef] = set()

    async def query_ref(self, ref: TaskRef) -> Task:
        self.sent[ref].append(self._clock())
        self.on_wire.add(ref)
        try:
            return await self._client.query_ref(ref)
        finally:
            self.on_wire.discard(ref)


async def _head_of_line(
    base: str,
    key: str,
    hung: TaskRef,
    healthy: list[TaskRef],
    *,
    interval: float,
    concurrency: int,
    span: float,
    timeout: float,
) -> HeadOfLineFigures:
    clock = SteppedClock()
    errors: Counter[str] = Counter()

    def on_outcome(outcome: PollOutcome) -> None:
        if outcome.error is not None:
            errors[type(outcome.error).__name__] += 1

    async with AIReiterClient(base, ApiKey(key), timeout=timeout, concurrency=concurrency) as api:
        client = _Recording(api, clock)
        scheduler = PollScheduler(rng=random.Random(2), interval=interval)
        # The hung task first: the poller sends it before the others.
        scheduler.track_many(((ref, None, None) for ref in [hung, *healthy]), clock())
        poller = Poller(
            client, scheduler, concurrency=concurrency, clock=clock, on_outcome=on_outcome
        )

        async def run() -> bool:
            end = clock() + span
            while clock() < end:
                due = scheduler.next_due_time()
                idle = not (client.on_wire - {hung})
                if idle and due is not None and due > clock():
                    # Only the hung query is on the wire and nothing is due before `due`:
                    # skip the idle wait. (A design that waited for the hung query before
                    # sending anything due would wait here in real time, not jump.)
                    clock.jump_to(min(due, end))
                    poller.wake()
                await asyncio.sleep(0.001)
            return hung in client.on_wire

        hung_on_wire = await _with_poller(poller, run)
    gaps = [
        later - earlier
        for ref in healthy
        for earlier, later in zip(client.sent[ref], client.sent[ref][1:], strict=False)
    ]
    return HeadOfLineFigures(
        interval,
        scheduler.jitter,
        span,
        len(healthy),
        gaps,
        len(client.sent[hung]),
        hung_on_wire,
        errors,
    )


def head_of_line(
    *,
    interval: float,
    concurrency: int,
    span: float,
    healthy: int = 4,
    latency_ms: float = 50.0,
    timeout: float = 300.0,
) -> HeadOfLineFigures:
    """One task whose query never answers beside ``healthy`` tasks due every ``interval``.

    A simulator in a thread (``latency_ms`` per request) pins every task at
    ``processing`` and hangs the first task's queries for an hour (the HANG fault); the
    client's request timeout is ``timeout`` (longer than ``span``, so the hung query is
    never given up). The real client, scheduler and poller run on a stepped clock for
    ``span`` seconds: real time while a healthy query is on the wire, a jump to the next
    due time when only the hung query is.
    """
    sim = Simulator(latency_ms=latency_ms)
    pairs = sim.add_tasks(healthy + 1, status_mix={"processing": 1.0})
    for _, ident in pairs:
        sim.force_status(ident, "processing")
    refs = [TaskRef(IdKind(kind), ident) for kind, ident in pairs]
    hung, others = refs[0], refs[1:]
    sim.set_fault(Fault.HANG, task_id=hung.id, delay=3600.0)
    with running_in_thread(sim) as base:
        return asyncio.run(
            _head_of_line(
                base,
                sim.api_key,
                hung,
                others,
                interval=interval,
                concurrency=concurrency,
                span=span,
                timeout=timeout,
            )
        )


# --- outcomes for the UI figures ------------------------------------------------------------
def outcomes_changing(tasks: dict[TaskRef, Task], share: float, seed: int = 0) -> list[PollOutcome]:
    """Outcomes for ``share`` of the tasks, each moved one status forward (or re-labelled)."""
    rng = random.Random(seed)
    picked = rng.sample(sorted(tasks, key=lambda r: r.key), max(1, int(len(tasks) * share)))
    forward = {
        TaskStatus.PENDING: TaskStatus.PROCESSING,
        TaskStatus.PROCESSING: TaskStatus.COMPLETED,
    }
    out = []
    for ref in picked:
        task = tasks[ref]
        status = forward.get(task.status)
        if status is None:
            changed = replace(task, credits_used=(task.credits_used or 0.0) + 1.0)
        else:
            changed = replace(task, status=status, status_raw=status.value)
        out.append(PollOutcome(ref, changed))
    return out
