"""Network figures: a full refresh round, a naive curl-like loop, steady-state load."""

from __future__ import annotations

import asyncio
import http.client
import json
import random
import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

from aireiter_tui.api.client import AIReiterClient
from aireiter_tui.domain.models import Task, TaskRef, TaskStatus, parse_task
from aireiter_tui.domain.refresher import Refresher, RefreshOutcome
from aireiter_tui.domain.scheduler import PollScheduler
from aireiter_tui.domain.secret import ApiKey


@dataclass(frozen=True, slots=True)
class RoundFigures:
    """One full round: wall seconds, errors, and the tasks it fetched."""

    seconds: float
    errors: Counter[str]
    tasks: dict[TaskRef, Task]


async def full_round(base: str, key: str, refs: list[TaskRef], concurrency: int) -> RoundFigures:
    """Time ``Refresher.run_round`` over the real client with every ref due.

    A warm-up of ``concurrency`` queries first opens the pool, as in the long-lived app
    (its pool keeps connections for 4 s between rounds).
    """
    async with AIReiterClient(base, ApiKey(key), concurrency=concurrency) as client:
        await asyncio.gather(*(client.query_ref(ref) for ref in refs[:concurrency]))
        scheduler = PollScheduler(rng=random.Random(0))
        now = time.monotonic()
        for ref in refs:
            scheduler.track(ref, None, now)
        refresher = Refresher(client, scheduler, concurrency=concurrency)
        started = time.perf_counter()
        result = await refresher.run_round()
        seconds = time.perf_counter() - started
    errors = Counter(type(o.error).__name__ for o in result.results if o.error is not None)
    if result.not_sent:
        errors["not sent"] += result.not_sent
    tasks = {o.ref: o.task for o in result.results if o.task is not None}
    return RoundFigures(seconds, errors, tasks)


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


class _CountingClient:
    """Answers instantly with the task's fixed status and counts queries per status."""

    def __init__(self, statuses: dict[TaskRef, TaskStatus]) -> None:
        self.statuses = statuses
        self.sent: Counter[TaskStatus] = Counter()

    async def query_ref(self, ref: TaskRef) -> Task:
        status = self.statuses[ref]
        self.sent[status] += 1
        return parse_task({"task_id": ref.id, "status": status.value})


@dataclass(frozen=True, slots=True)
class SteadyFigures:
    active: int
    terminal: int
    per_minute: int
    terminal_requests: int


def steady_state(
    active: int, terminal: int, *, interval: float, seconds: float = 60.0
) -> SteadyFigures:
    """Requests sent over ``seconds`` of a FAKE clock by the real scheduler and refresher.

    Tasks start with their cached statuses (as the app loads them from the watchlist);
    the clock jumps to each next due time, so a simulated minute takes milliseconds.
    """
    statuses: dict[TaskRef, TaskStatus] = {}
    for number in range(active + terminal):
        if number < active:
            status = TaskStatus.PROCESSING if number % 2 else TaskStatus.PENDING
        else:
            status = TaskStatus.COMPLETED if number % 10 else TaskStatus.FAILED
        statuses[TaskRef.from_key(f"task_id:order_steady{number:06d}")] = status
    clock = [1000.0]
    scheduler = PollScheduler(rng=random.Random(1), interval=interval)
    for ref, status in statuses.items():
        scheduler.track(ref, status, clock[0])
    client = _CountingClient(statuses)
    refresher = Refresher(client, scheduler, concurrency=64, clock=lambda: clock[0])
    end = clock[0] + seconds

    async def run() -> None:
        # A track()ed active task is due at once: that first burst is not steady state.
        await refresher.run_round()
        client.sent.clear()
        while True:
            due = scheduler.next_due_time()
            if due is None or due > end:
                return
            clock[0] = max(clock[0], due)
            await refresher.run_round()

    asyncio.run(run())
    terminal_sent = client.sent[TaskStatus.COMPLETED] + client.sent[TaskStatus.FAILED]
    total = sum(client.sent.values())
    return SteadyFigures(active, terminal, round(total * 60 / seconds), terminal_sent)


def outcomes_changing(
    tasks: dict[TaskRef, Task], share: float, seed: int = 0
) -> list[RefreshOutcome]:
    """Outcomes for ``share`` of the tasks, each moved one status forward (or re-labelled)."""
    from dataclasses import replace

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
        out.append(RefreshOutcome(ref, changed))
    return out
