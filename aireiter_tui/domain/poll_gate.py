"""The global gate in front of every task's own schedule: what holds ALL polling back.

:class:`~aireiter_tui.domain.scheduler.PollScheduler` owns one :class:`PollGate` and asks it
before handing out any due task. Pure and synchronous like the scheduler: ``now`` is
monotonic seconds from the caller.

- The user's pause: only manual requests go out.
- A 429 pause: nothing goes out until ``paused_until``, manual requests included. It lasts
  the server's ``retry_after`` (capped at an hour), else 30 s doubling per further 429
  (capped at ``backoff_max``); 429s of requests already in flight during a pause count
  once, and a successful query resets the doubling.
- The auth stop: a refused key stops everything until :meth:`PollGate.resume_after_auth_change`
  (the key changed, or the user asked for a refresh).
- Offline is not a hold but a label, and it needs evidence that the server as a whole is
  down, not that some queries failed: it is set once the failures since the last answer
  number at least ``OFFLINE_FAILURES`` and span at least ``OFFLINE_TASKS`` different tasks
  (or every polled task, when fewer are polled). A server failing 30 % of its queries thus
  leaves the app live with those rows marked, while a server that is down fails every
  task it is asked about. Any answer (a "task not found" or a 429 is one) ends the streak
  and the label. The tasks' own backoff keeps the retries cheap meanwhile.

None of these charge the task whose query met them: it stays due behind the gate.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Final, Literal

from aireiter_tui.domain.errors import (
    AIReiterError,
    AuthenticationError,
    RateLimitedError,
    TaskNotFoundError,
)

Mode = Literal["live", "paused", "rate-limited", "offline", "auth-blocked", "idle"]

MAX_RETRY_AFTER: Final = 3600.0  # a bogus Retry-After must not freeze polling for days
#: Failed queries in a row (no answer between) before the server counts as offline, however
#: few tasks are polled: one task failing once or twice is that task's trouble.
OFFLINE_FAILURES: Final = 3
#: Different tasks among those failures: one task's own trouble is that row's, not the
#: server's (fewer suffice when fewer tasks are polled at all).
OFFLINE_TASKS: Final = 8


@dataclass(frozen=True, slots=True)
class SchedulerState:
    """A snapshot of the scheduler for the status bar: what polling is doing and why.

    ``in_flight``: queries sent and not answered yet; ``queued``: tasks due now that wait
    for one of the poller's workers to be free (counted only while all are busy).
    """

    mode: Mode
    in_flight: int
    tracked: int
    next_poll_in: float | None
    reason: str
    queued: int = 0


#: The span :meth:`RequestTally.last_minute` counts over (seconds).
TALLY_SPAN: Final = 60.0


class RequestTally:
    """The queries sent in the last minute and the 429 answers seen, for the status bar:
    a user sharing a key sees why polling slowed down. ``now`` is monotonic seconds."""

    def __init__(self) -> None:
        self._sent: deque[float] = deque()
        self._limited: deque[float] = deque()
        #: Every 429 answer since the start.
        self.rate_limited_total = 0

    def sent(self, now: float) -> None:
        self._sent.append(now)
        self._trim(self._sent, now)

    def rate_limited(self, now: float) -> None:
        self.rate_limited_total += 1
        self._limited.append(now)
        self._trim(self._limited, now)

    def last_minute(self, now: float) -> int:
        """Queries sent in the last :data:`TALLY_SPAN` seconds."""
        self._trim(self._sent, now)
        return len(self._sent)

    def limited_last_minute(self, now: float) -> int:
        """429 answers in the last :data:`TALLY_SPAN` seconds."""
        self._trim(self._limited, now)
        return len(self._limited)

    @staticmethod
    def _trim(times: deque[float], now: float) -> None:
        while times and times[0] <= now - TALLY_SPAN:
            times.popleft()


class PollGate:
    """The pauses and stops that apply to every task at once; see the module docstring.

    Attributes:
        paused: paused by the user.
        paused_until: end of the current 429 pause (monotonic), or None.
        pause_reason: why the 429 pause lasts as long as it does, for the status bar.
        auth_blocked: the key was refused; nothing goes out until it changes.
        last_error: the last error that says something about the server as a whole.
        offline_since: when the failure that proved the server down came, or None.
    """

    def __init__(self, *, rate_limit_default: float, backoff_max: float) -> None:
        self.rate_limit_default, self.backoff_max = rate_limit_default, backoff_max
        self.paused = False
        self.paused_until: float | None = None
        self.pause_reason: str | None = None
        self.auth_blocked = False
        self.last_error: AIReiterError | None = None
        self.offline_since: float | None = None
        self._rate_streak = 0
        self._streak = 0  # failed queries since the last answer
        self._streak_tasks: set[Hashable] = set()  # which tasks; at most OFFLINE_TASKS kept

    def closed(self, now: float) -> bool:
        """True while nothing may go out, not even a manual request: auth stop or 429 pause."""
        return self.auth_blocked or self.rate_limited(now)

    def rate_limited(self, now: float) -> bool:
        """True during a 429 pause; a pause that has run out is cleared here."""
        if self.paused_until is not None and now >= self.paused_until:
            self.paused_until = self.pause_reason = None
        return self.paused_until is not None

    def hold(self, due_at: float | None) -> float | None:
        """``due_at`` moved to the end of the 429 pause, if there is one."""
        if due_at is not None and self.paused_until is not None:
            return max(due_at, self.paused_until)
        return due_at

    def on_answer(self) -> None:
        """A query got its answer: the server is reachable and no longer limiting us."""
        self._answered()
        self._rate_streak = 0

    def on_error(
        self, error: AIReiterError, now: float, task: Hashable = None, *, polled: int | None = None
    ) -> None:
        """Record what a failed query (of ``task``) tells about the server as a whole;
        ``polled``: how many tasks are being polled at all (None: as many as it takes)."""
        if isinstance(error, TaskNotFoundError):
            self._answered()  # the server answered: we are online
            return
        if isinstance(error, RateLimitedError):
            self._answered()  # a 429 is an answer too: the server is up, only busy
            self._pause_for_rate_limit(error, now)
        elif isinstance(error, AuthenticationError):
            self._answered()
            self.auth_blocked = True
        else:
            self._streak += 1
            if len(self._streak_tasks) < OFFLINE_TASKS:
                self._streak_tasks.add(task)
            tasks_needed = OFFLINE_TASKS if polled is None else min(OFFLINE_TASKS, max(polled, 1))
            evidence = self._streak >= OFFLINE_FAILURES and len(self._streak_tasks) >= tasks_needed
            if evidence and self.offline_since is None:
                self.offline_since = now
        self.last_error = error

    def _answered(self) -> None:
        self._streak = 0
        self._streak_tasks.clear()
        self.offline_since = None

    def resume_after_auth_change(self) -> None:
        """The key changed (or the user asked to retry): polling may start again."""
        if self.auth_blocked:
            self.auth_blocked = False
            if isinstance(self.last_error, AuthenticationError):
                self.last_error = None

    def mode(self, now: float, *, idle: bool) -> tuple[Mode, str]:
        """What polling is doing and why; ``idle``: no task is scheduled or in flight."""
        if self.auth_blocked:
            error = self.last_error
            return "auth-blocked", error.human() if error else "the API key was refused"
        if self.paused:
            return "paused", "paused by the user"
        if self.rate_limited(now):
            return "rate-limited", self.pause_reason or "rate limited by the server"
        if self.offline_since is not None:
            error = self.last_error
            return "offline", error.human() if error else "no answer from the server"
        if idle:
            return "idle", "no active task to watch"
        return "live", ""

    def _pause_for_rate_limit(self, error: RateLimitedError, now: float) -> None:
        retry_after = error.retry_after
        if retry_after is not None and retry_after > 0:
            delay = min(retry_after, MAX_RETRY_AFTER)  # NaN compares False: falls to the cap
            self.pause_reason = f"rate limited by the server (HTTP 429, retry after {delay:g} s)"
        else:
            if not self.rate_limited(now):  # in-flight 429s of one burst count once
                self._rate_streak += 1
            exponent = min(max(self._rate_streak, 1) - 1, 60)
            delay = min(self.backoff_max, self.rate_limit_default * 2.0**exponent)
            self.pause_reason = f"rate limited by the server (HTTP 429); waiting {delay:g} s"
        until = now + delay
        self.paused_until = until if self.paused_until is None else max(self.paused_until, until)
