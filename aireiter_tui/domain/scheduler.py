"""When each watched task is queried next: intervals, backoff, 429 pauses, the auth stop.

Pure and synchronous: times are ``now`` (monotonic seconds) from the caller, randomness an
injected ``random.Random``. The one wall-clock reading is the injectable ``wall_clock``: a
``created_at`` date's age can only be known against one.

Complexity: scheduled tasks sit in heaps of ``(due_at, token, ref)``: those not yet due
in one, those found due (by :meth:`due` or :meth:`due_count` at some ``now``) moved to a
second, whose live items are counted as they come and go, so "how many are due" costs
O(1) however many wait (the status bar asks several times a second while 100,000 tasks
are due at once). A reschedule pushes a new item with a new token; items whose token is
outdated are dropped when they reach a top (lazy invalidation), and the heaps are
rebuilt from their live items once stale ones outnumber them 3:1. ``due(now, limit)`` is
O((k + m + s) log h) for k refs returned, m items found due and s stale items dropped (h:
heap size); a reschedule is O(log h) amortised; an idle tick is O(1). Terminal tasks
never enter a heap: 10,000 tracked with 100 active keep h near 100.

Errors: a 429 or a refused key holds ALL polling back (:class:`~aireiter_tui.domain.
poll_gate.PollGate` says how long) without charging the task: it stays due behind the gate.
``TaskNotFoundError`` retries at ``slow_interval`` without growth (right after submit the
ID may not exist yet; a typo stays cheap to watch); for a task that was answered before
(the server forgot it) the delay grows like a backoff, but never below ``slow_interval``.
Anything else (network, 5xx, bad response) backs the task off
``min(backoff_max, backoff_base * 2**(n-1)) * (1 ± jitter)``; only a run of such failures
across several tasks marks the server offline (the gate's call).
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from aireiter_tui.domain.errors import (
    AIReiterError,
    AuthenticationError,
    RateLimitedError,
    TaskNotFoundError,
)
from aireiter_tui.domain.models import Task, TaskRef, TaskStatus
from aireiter_tui.domain.poll_gate import PollGate, SchedulerState

_COMPACT_MIN: Final = 64
_TERMINAL: Final = frozenset(status for status in TaskStatus if status.is_terminal)


@dataclass(slots=True)
class _Entry:
    status: TaskStatus | None
    since: float | None = None  # monotonic time the task started (or was first seen active)
    due_at: float | None = None  # None: not scheduled (terminal, or in flight)
    token: int = 0
    ready: bool = False  # its live item is in the heap of due items (PollScheduler._ready)
    in_flight: bool = False
    requested: bool = False  # manual refresh not yet answered: due even when terminal
    errors: int = 0


class PollScheduler:
    """Decides which tasks are due for a query; see the module docstring for the rules."""

    def __init__(
        self,
        *,
        rng: random.Random | None = None,
        interval: float = 5.0,
        slow_interval: float = 30.0,
        long_running_after: float = 600.0,
        backoff_base: float = 2.0,
        backoff_max: float = 300.0,
        jitter: float = 0.2,
        rate_limit_default: float = 30.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if min(interval, slow_interval, backoff_base, backoff_max, rate_limit_default) <= 0:
            raise ValueError("intervals and delays must be positive")
        if not 0 <= jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        self._rng = rng if rng is not None else random.Random()
        self.interval, self.slow_interval = interval, slow_interval
        self.long_running_after = long_running_after
        self.backoff_base, self.backoff_max, self.jitter = backoff_base, backoff_max, jitter
        self.rate_limit_default = rate_limit_default
        #: What holds every task back at once (429 pause, refused key, user pause, offline).
        self.gate = PollGate(rate_limit_default=rate_limit_default, backoff_max=backoff_max)
        self._wall_clock = wall_clock
        self._entries: dict[TaskRef, _Entry] = {}
        self._heap: list[tuple[float, int, TaskRef]] = []  # not yet found due
        self._ready: list[tuple[float, int, TaskRef]] = []  # found due, not yet dispatched
        self._ready_live = 0  # entries whose live item is in _ready
        self._horizon = -math.inf  # items due up to here have been moved to _ready
        self._tokens = itertools.count(1)
        self._scheduled = self._in_flight = 0
        self._requested: dict[TaskRef, None] = {}  # insertion-ordered set

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, ref: object) -> bool:
        return ref in self._entries

    def track(
        self,
        ref: TaskRef,
        status: TaskStatus | None,
        now: float,
        *,
        created_at: datetime | None = None,
    ) -> None:
        """Watch ``ref`` (or update what we know of it).

        Never-fetched (``None``), active and unknown tasks are due now, unless already
        scheduled (a re-track keeps a pending backoff); terminal ones are not scheduled.
        """
        entry = self._entries.get(ref)
        if entry is None:
            entry = self._entries[ref] = _Entry(status)
        entry.status = status
        self._note_age(entry, status, created_at, now)
        if entry.in_flight:
            return
        if status is not None and status.is_terminal and not entry.requested:
            self._unschedule(entry)
        elif entry.due_at is None:
            self._schedule(ref, entry, now)

    def track_many(
        self,
        items: Iterable[tuple[TaskRef, TaskStatus | None, datetime | None]],
        now: float,
        *,
        started: Mapping[TaskRef, float] | None = None,
    ) -> None:
        """:meth:`track` for each ``(ref, status, created_at)``, e.g. a loaded watchlist.

        The same rules, at a fraction of the cost for 10,000 refs: a ref seen for the
        first time gets its entry directly, and the due ones join the heap in one heapify.
        ``started``: when tasks began, as :meth:`started` said before they were forgotten
        (an undone removal polls a long runner as slowly as before).
        """
        started = started or {}
        entries, tokens = self._entries, self._tokens
        wall = self._wall_clock()  # once: the ages differ by microseconds at most
        fresh: list[tuple[float, int, TaskRef]] = []
        for ref, status, created_at in items:
            entry = _Entry(status)
            if entries.setdefault(ref, entry) is not entry:  # (one hash of the ref, not two)
                self.track(ref, status, now, created_at=created_at)
                continue
            if status in _TERMINAL:
                continue
            if status is not None and created_at is not None:
                entry.since = now - max(0.0, wall - created_at.timestamp())
            elif status is not None:
                entry.since = now
            if ref in started:
                since = started[ref]
                entry.since = since if entry.since is None else min(entry.since, since)
            entry.due_at = now
            entry.token = next(tokens)
            fresh.append((now, entry.token, ref))
        self._scheduled += len(fresh)
        heap = self._heap
        if len(fresh) * max(1, len(heap).bit_length()) < len(heap):
            # A part of a long list joining many due already: pushed one by one (k log n),
            # not a heapify of them all per part (quadratic over a list read in parts).
            for item in fresh:
                heapq.heappush(heap, item)
        else:
            heap.extend(fresh)
            heapq.heapify(heap)

    def started(self, ref: TaskRef) -> float | None:
        """When the task began (or was first seen active), on this scheduler's clock."""
        entry = self._entries.get(ref)
        return None if entry is None else entry.since

    def forget(self, ref: TaskRef) -> bool:
        """Stop watching ``ref``; a reply already in flight for it will be ignored."""
        entry = self._entries.pop(ref, None)
        if entry is None:
            return False
        self._requested.pop(ref, None)
        self._unschedule(entry)
        if entry.in_flight:
            self._in_flight -= 1
        return True

    def request(self, ref: TaskRef, now: float) -> bool:
        """Manual refresh: due now, even if terminal, paused by the user or auth-blocked."""
        entry = self._entries.get(ref)
        if entry is None:
            return False
        self.resume_after_auth_change()
        entry.requested = True
        self._requested[ref] = None
        if not entry.in_flight:
            self._schedule(ref, entry, now)
        return True

    def request_all(self, now: float) -> None:
        """Manual refresh of every tracked task, terminal ones included."""
        for ref in list(self._entries):
            self.request(ref, now)

    def due(self, now: float, limit: int | None = None) -> list[TaskRef]:
        """Return the refs due at ``now``, earliest first, and mark them in flight."""
        if self.gate.closed(now) or (limit is not None and limit <= 0):
            return []
        if self.gate.paused:
            times = {r: self._entries[r].due_at for r in self._requested}
            wanted = sorted((t, r) for r, t in times.items() if t is not None and t <= now)
            for _, ref in wanted[:limit]:
                self._dispatch(self._entries[ref])
            return [ref for _, ref in wanted[:limit]]
        self._promote(now)
        out: list[TaskRef] = []
        ready = self._ready
        while ready and (limit is None or len(out) < limit):
            if not self._is_stale(ready[0]) and ready[0][0] > now:
                break  # found due at a later ``now`` than this one (a clock set back)
            item = heapq.heappop(ready)
            if not self._is_stale(item):
                self._dispatch(self._entries[item[2]])
                out.append(item[2])
        return out

    def release(self, refs: Iterable[TaskRef], now: float) -> None:
        """Give back refs taken but never sent: they are due again at ``now``, not charged."""
        for ref in refs:
            entry = self._entries.get(ref)
            if entry is not None and entry.in_flight:
                self._land(entry)
                self._schedule(ref, entry, now)

    def on_success(self, ref: TaskRef, task: Task, now: float) -> bool:
        """Record a reply; False (and nothing done) if ``ref`` is not in flight any more."""
        entry = self._entries.get(ref)
        if entry is None or not entry.in_flight:
            return False
        self._land(entry)
        self.gate.on_answer()
        entry.errors, entry.requested = 0, False
        self._requested.pop(ref, None)
        entry.status = task.status
        self._note_age(entry, task.status, task.created_at, now)
        if not task.status.is_terminal:
            long_running = entry.since is not None and now - entry.since >= self.long_running_after
            base = self.slow_interval if long_running else self.interval
            self._schedule(ref, entry, now + base * self._jitter_factor())
        return True

    def on_error(self, ref: TaskRef, error: AIReiterError, now: float) -> bool:
        """Record a failed query; False (and nothing done) if ``ref`` is not in flight."""
        entry = self._entries.get(ref)
        if entry is None or not entry.in_flight:
            return False
        polled = self._scheduled + self._in_flight
        self._land(entry)
        self.gate.on_error(error, now, ref, polled=polled)
        delay = 0.0  # rate limit and auth: due at once, the global gate holds it back
        if isinstance(error, TaskNotFoundError):
            entry.errors += 1
            delay = self.slow_interval * self._jitter_factor()
            if entry.status is not None:
                # It answered before, so the ID is right and the server forgot the task:
                # asked ever more rarely (never faster than the slow interval), never
                # given up, so a server that brings it back is noticed.
                delay = max(delay, self.backoff_delay(entry.errors))
        elif not isinstance(error, RateLimitedError | AuthenticationError):
            entry.errors += 1
            delay = self.backoff_delay(entry.errors)
        status = entry.status
        if entry.requested or status is None or not status.is_terminal:
            self._schedule(ref, entry, now + delay)
        return True

    def backoff_delay(self, errors: int) -> float:
        """The delay after ``errors`` consecutive failures of one task (jitter included)."""
        exponent = min(max(errors, 1) - 1, 60)  # 2**60 s is past any cap; avoids overflow
        return min(self.backoff_max, self.backoff_base * 2.0**exponent) * self._jitter_factor()

    def set_paused(self, paused: bool) -> None:
        """While paused by the user only manual requests go out."""
        self.gate.paused = paused

    def resume_after_auth_change(self) -> None:
        """The key changed (or the user asked to retry): polling may start again."""
        self.gate.resume_after_auth_change()

    def next_due(self, ref: TaskRef) -> float | None:
        """The task's own due time (ignoring global pauses); None if unscheduled/in flight."""
        entry = self._entries.get(ref)
        return None if entry is None else entry.due_at

    def next_due_time(self) -> float | None:
        """The earliest time :meth:`due` may return something, or None (nothing, or blocked)."""
        if self.gate.auth_blocked:
            return None
        if self.gate.paused:
            times = [self._entries[r].due_at for r in self._requested]
            nxt = min((t for t in times if t is not None), default=None)
        else:
            tops = []
            for heap in (self._ready, self._heap):
                while heap and self._is_stale(heap[0]):
                    heapq.heappop(heap)
                if heap:
                    tops.append(heap[0][0])
            nxt = min(tops, default=None)
        return self.gate.hold(nxt)

    @property
    def next_retry_at(self) -> float | None:
        """When offline: when the next attempt goes out."""
        return self.next_due_time() if self.gate.offline_since is not None else None

    def due_count(self, now: float) -> int:
        """How many tasks are due at ``now`` and not yet taken (O(1) amortised, unless
        ``now`` is earlier than a time asked before: then a walk over the heaps)."""
        if self.gate.closed(now):
            return 0
        if self.gate.paused:
            times = (self._entries[r].due_at for r in self._requested)
            return sum(1 for t in times if t is not None and t <= now)
        if now >= self._horizon:
            self._promote(now)
            return self._ready_live
        items = itertools.chain(self._ready, self._heap)
        return sum(1 for item in items if item[0] <= now and not self._is_stale(item))

    def state(self, now: float, *, workers: int | None = None) -> SchedulerState:
        """What polling is doing; ``workers``: the most queries sent at once (when all
        are busy, the tasks due meanwhile are counted as queued)."""
        nxt = self.next_due_time()
        until = None if nxt is None else max(0.0, nxt - now)
        idle = self._scheduled == 0 and self._in_flight == 0
        mode, reason = self.gate.mode(now, idle=idle)
        busy = workers is not None and self._in_flight >= workers
        queued = self.due_count(now) if busy else 0
        return SchedulerState(mode, self._in_flight, len(self._entries), until, reason, queued)

    def _note_age(
        self, entry: _Entry, status: TaskStatus | None, created_at: datetime | None, now: float
    ) -> None:
        if status is None or status.is_terminal:
            return
        age = 0.0 if created_at is None else self._wall_clock() - created_at.timestamp()
        start = now - max(0.0, age)
        entry.since = start if entry.since is None else min(entry.since, start)

    def _jitter_factor(self) -> float:
        return 1.0 + self._rng.uniform(-self.jitter, self.jitter) if self.jitter else 1.0

    def _is_stale(self, item: tuple[float, int, TaskRef]) -> bool:
        entry = self._entries.get(item[2])
        return entry is None or entry.token != item[1] or entry.due_at is None

    def _schedule(self, ref: TaskRef, entry: _Entry, at: float) -> None:
        if entry.due_at is None:
            self._scheduled += 1
        elif entry.ready:
            self._ready_live -= 1  # its item there goes stale
        entry.due_at = at
        entry.token = next(self._tokens)
        entry.ready = at <= self._horizon
        if entry.ready:
            self._ready_live += 1
            heapq.heappush(self._ready, (at, entry.token, ref))
        else:
            heapq.heappush(self._heap, (at, entry.token, ref))
        held = len(self._heap) + len(self._ready)
        if held > _COMPACT_MIN and held > 4 * self._scheduled:
            for heap in (self._heap, self._ready):
                heap[:] = [item for item in heap if not self._is_stale(item)]
                heapq.heapify(heap)

    def _unschedule(self, entry: _Entry) -> None:
        if entry.due_at is not None:
            self._scheduled -= 1
            entry.due_at = None
            if entry.ready:
                self._ready_live -= 1
                entry.ready = False

    def _promote(self, now: float) -> None:
        """Move the items due at ``now`` to the heap of due items, counting them."""
        self._horizon = max(self._horizon, now)
        heap, ready, entries = self._heap, self._ready, self._entries
        while heap and heap[0][0] <= now:
            item = heapq.heappop(heap)
            if not self._is_stale(item):
                entries[item[2]].ready = True
                self._ready_live += 1
                heapq.heappush(ready, item)

    def _dispatch(self, entry: _Entry) -> None:
        self._unschedule(entry)
        entry.in_flight = True
        self._in_flight += 1

    def _land(self, entry: _Entry) -> None:
        entry.in_flight = False
        self._in_flight -= 1
