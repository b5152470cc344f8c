"""Figures about the watched tasks as a whole: credits per model and per day, how long
each model takes (median, 95th percentile), failure rates, throughput, the time left for
unfinished tasks (ETA), stuck tasks, the budget's share and notifications' text.

Everything comes from what the watchlist already holds (each task's last answer and its
status history): nothing is fetched for it. No Textual here.

Two ways in:

- :func:`report` computes every figure from a list of entries at once (the insight
  screen when it opens or switches its window, and ``aireiter-tui stats``);
- :class:`LiveFigures` keeps, per model, the sorted durations of finished tasks and the
  unfinished tasks, updated only for the rows a change batch names, so the table (four
  repaints a second, 10,000 rows) asks for an ETA or a stuck mark in O(log n) without a
  percentile computed per row per repaint.

Days are UTC days: the figures must not change with the machine's time zone, and the
screen says so.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections import Counter, defaultdict
from collections.abc import Iterable, KeysView, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from itertools import islice
from operator import eq
from typing import Final

from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import TaskStatus
from aireiter_tui.domain.poll_gate import RequestTally
from aireiter_tui.domain.sanitize import clean
from aireiter_tui.domain.session import Row, credits_problem, ended_at
from aireiter_tui.domain.view import AppendLog
from aireiter_tui.domain.watchlist_codec import WatchEntry

#: Fewer finished tasks of a model than this give no estimate: a median of two is luck.
MIN_FINISHED: Final = 5
#: Throughput is counted per minute over this many minutes.
THROUGHPUT_MINUTES: Final = 60
#: A model name shown for tasks whose answer named none.
NO_MODEL: Final = "(no model)"
#: Budget shares that are announced, in percent (each once per day or month).
BUDGET_LEVELS: Final = (80, 100)

# (Compared with ``is`` per task: an enum's ``in`` and class lookups cost a third of
# taking in an answer.)
_PENDING: Final = TaskStatus.PENDING
_PROCESSING: Final = TaskStatus.PROCESSING
_COMPLETED: Final = TaskStatus.COMPLETED


class Window(StrEnum):
    """Which tasks the figures cover, by their creation time (UTC days)."""

    TODAY = "today"
    WEEK = "7d"
    ALL = "all"

    def start(self, now: datetime) -> datetime | None:
        """The earliest creation time inside the window (None: no bound)."""
        midnight = datetime.combine(utc_day(now), datetime.min.time(), tzinfo=UTC)
        if self is Window.TODAY:
            return midnight
        if self is Window.WEEK:
            return midnight - timedelta(days=6)
        return None

    @property
    def words(self) -> str:
        return {"today": "today", "7d": "the last 7 days", "all": "all time"}[self.value]


def utc_day(moment: datetime) -> date:
    """The UTC calendar day of ``moment`` (naive values are taken as UTC)."""
    if moment.tzinfo is UTC:
        return moment.date()  # (the usual case: a conversion per task cost a third more)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).date()


def percentile(ordered: Sequence[float], q: float, start: int = 0) -> float | None:
    """The ``q`` quantile (0..1) of ``ordered[start:]`` (sorted ascending), interpolated
    linearly between the closest ranks (as numpy's default and spreadsheets do): the
    median of 10, 20, 30, 40 is 25. None for no values. No slice is copied."""
    count = len(ordered) - start
    if count <= 0:
        return None
    position = start + q * (count - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def model_of(entry: WatchEntry) -> str:
    """The task's model as shown (one line, control characters made visible)."""
    task = entry.task
    model = task.model if task is not None else None
    return clean(model, max_length=80, single_line=True) if model else NO_MODEL


def duration(entry: WatchEntry) -> float | None:
    """Seconds from creation to completion of a completed task whose end is known."""
    task = entry.task
    if task is None or task.status is not _COMPLETED:
        return None
    created = task.created_at
    if created is None:
        return None
    # (The server's completed_at first, as ended_at says: ended_at itself, for each of
    # 100,000 tasks read, was a tenth of taking the list in.)
    end = task.completed_at or ended_at(entry, gone=False)
    if end is None:
        return None
    seconds = (end - created).total_seconds()
    return seconds if seconds >= 0 else None


def plausible_credits(entry: WatchEntry) -> float:
    """The task's ``credits_used``, or 0 when none or not real (see ``credits_problem``)."""
    value = entry.task.credits_used if entry.task is not None else None
    return value if value is not None and credits_problem(value) is None else 0.0


def _created(entry: WatchEntry) -> datetime:
    """When the task was created; when the server never said, when it was added here."""
    task = entry.task
    return task.created_at if task is not None and task.created_at is not None else entry.added_at


# --- the whole report ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ModelFigures:
    """One model's figures within a window."""

    model: str
    tasks: int
    completed: int
    failed: int
    active: int
    credits: float
    #: Seconds from creation to completion, of the completed tasks whose end is known.
    median: float | None
    p95: float | None
    #: Credits per UTC day of the window, oldest first (for a sparkline).
    daily: tuple[float, ...]

    @property
    def failure_rate(self) -> float | None:
        """Failed among the finished (None: none finished)."""
        finished = self.completed + self.failed
        return self.failed / finished if finished else None


@dataclass(frozen=True, slots=True)
class Report:
    """Every figure of one window (see :func:`report`)."""

    window: Window
    now: datetime
    models: tuple[ModelFigures, ...]
    #: The UTC days the ``daily`` series cover, oldest first.
    days: tuple[date, ...]
    #: Tasks finished (completed or failed) in each of the last 60 minutes, oldest first.
    throughput: tuple[int, ...]
    credits_today: float
    credits_month: float

    @property
    def credits(self) -> float:
        return math.fsum(model.credits for model in self.models)

    @property
    def tasks(self) -> int:
        return sum(model.tasks for model in self.models)

    def as_json(self) -> dict[str, object]:
        """The figures as plain JSON values (``stats --json``)."""
        return {
            "window": self.window.value,
            "now": self.now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "days": [day.isoformat() for day in self.days],
            "tasks": self.tasks,
            "credits": round(self.credits, 6),
            "credits_today": round(self.credits_today, 6),
            "credits_month": round(self.credits_month, 6),
            "finished_per_minute_last_hour": list(self.throughput),
            "models": [
                {
                    "model": m.model,
                    "tasks": m.tasks,
                    "completed": m.completed,
                    "failed": m.failed,
                    "active": m.active,
                    "credits": round(m.credits, 6),
                    "median_seconds": m.median,
                    "p95_seconds": m.p95,
                    "failure_rate": m.failure_rate,
                    "credits_per_day": [round(value, 6) for value in m.daily],
                }
                for m in self.models
            ],
        }


def _window_days(window: Window, now: datetime, entries: Sequence[WatchEntry]) -> list[date]:
    today = utc_day(now)
    start = window.start(now)
    if start is not None:
        first = start.date()
    else:
        first = min((utc_day(_created(entry)) for entry in entries), default=today)
        first = min(first, today)
    return [first + timedelta(days=offset) for offset in range((today - first).days + 1)]


def report(entries: Iterable[WatchEntry], now: datetime, window: Window = Window.ALL) -> Report:
    """Every figure for the tasks created inside ``window`` (see the module docstring).

    Throughput and the budget's credits (today, this month) do not depend on the window.
    """
    entries = list(entries)
    start = window.start(now)
    inside = [entry for entry in entries if start is None or _created(entry) >= start]
    days = _window_days(window, now, inside)
    day_index = {day: index for index, day in enumerate(days)}
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    credits: dict[str, list[float]] = defaultdict(list)
    daily: dict[str, list[float]] = {}
    durations: dict[str, list[float]] = defaultdict(list)
    for entry in inside:
        model = model_of(entry)
        task = entry.task
        count = counts[model]
        count["tasks"] += 1
        if task is not None:
            if task.status is TaskStatus.COMPLETED:
                count["completed"] += 1
            elif task.status is TaskStatus.FAILED:
                count["failed"] += 1
            elif task.status.is_active:
                count["active"] += 1
        value = plausible_credits(entry)
        credits[model].append(value)
        series = daily.setdefault(model, [0.0] * len(days))
        index = day_index.get(utc_day(_created(entry)))
        if index is not None:
            series[index] += value
        seconds = duration(entry)
        if seconds is not None:
            durations[model].append(seconds)
    models = []
    for model in sorted(counts, key=lambda name: (-math.fsum(credits[name]), name)):
        ordered = sorted(durations[model])
        count = counts[model]
        models.append(
            ModelFigures(
                model=model,
                tasks=count["tasks"],
                completed=count["completed"],
                failed=count["failed"],
                active=count["active"],
                credits=math.fsum(credits[model]),
                median=percentile(ordered, 0.5),
                p95=percentile(ordered, 0.95),
                daily=tuple(daily[model]),
            )
        )
    today, month = credits_in_day_and_month(entries, now)
    return Report(
        window=window,
        now=now,
        models=tuple(models),
        days=tuple(days),
        throughput=throughput(entries, now),
        credits_today=today,
        credits_month=month,
    )


def throughput(entries: Iterable[WatchEntry], now: datetime) -> tuple[int, ...]:
    """Tasks finished in each of the last :data:`THROUGHPUT_MINUTES` minutes, oldest first
    (by when each one's clock stopped: ``completed_at``, or when it was seen failed)."""
    buckets = [0] * THROUGHPUT_MINUTES
    for entry in entries:
        task = entry.task
        if task is None or not task.status.is_terminal:
            continue
        end = ended_at(entry, gone=False)
        if end is None:
            continue
        minutes_ago = int((now - end).total_seconds() // 60)
        if 0 <= minutes_ago < THROUGHPUT_MINUTES:
            buckets[THROUGHPUT_MINUTES - 1 - minutes_ago] += 1
    return tuple(buckets)


def credits_in_day_and_month(entries: Iterable[WatchEntry], now: datetime) -> tuple[float, float]:
    """Credits of the tasks created on ``now``'s UTC day and in its UTC month."""
    today = utc_day(now)
    day: list[float] = []
    month: list[float] = []
    for entry in entries:
        created = utc_day(_created(entry))
        if (created.year, created.month) == (today.year, today.month):
            value = plausible_credits(entry)
            month.append(value)
            if created == today:
                day.append(value)
    return math.fsum(day), math.fsum(month)


# --- kept up to date for the table ----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Estimate:
    """The time left for an unfinished task: ``seconds``, or ``None`` with ``reason``."""

    seconds: float | None
    reason: str = ""


NO_ESTIMATE: Final = Estimate(None, "no estimate")


@dataclass(frozen=True, slots=True)
class Outlook:
    """The whole set of unfinished tasks: when the last is expected to finish."""

    active: int
    #: Seconds until the last of those with an estimate finishes (None: none has one).
    seconds: float | None
    without_estimate: int


@dataclass(slots=True)
class _Seen:
    """What one row contributes to the figures, as last taken in."""

    model: str
    duration: float | None = None
    #: Creation time of an unfinished task (None: finished, gone, or not known).
    active_since: datetime | None = None
    day: date | None = None
    credits: float = 0.0


@dataclass(slots=True)
class _Model:
    durations: list[float] = field(default_factory=list)
    #: Its unfinished tasks, oldest first: (``active_since`` as a POSIX timestamp, key).
    running: list[tuple[float, str]] = field(default_factory=list)


#: At most this many model names are remembered cleaned (see ``LiveFigures._shown``).
_SHOWN_MODELS: Final = 1_000


def _since(item: tuple[float, str]) -> float:
    return item[0]


class LiveFigures:
    """Per-model durations and the unfinished tasks, updated row by row.

    ``limits``: seconds after which an unfinished task of a model counts as stuck,
    whatever its history says (the config's ``[stuck_after]``; ``"*"`` for every model).
    """

    def __init__(self, limits: Mapping[str, float] | None = None) -> None:
        self.limits = dict(limits or {})
        self._seen: dict[str, _Seen] = {}
        #: The unfinished ones among them, in the order they were taken in (each model's
        #: are also in ``_Model.running``, by age, for the outlook and the stuck check).
        self._active: dict[str, _Seen] = {}
        self._models: dict[str, _Model] = defaultdict(_Model)
        self._credits_by_day: defaultdict[date, float] = defaultdict(float)
        #: Keys of the tasks already announced as stuck (each is announced once).
        self.announced: set[str] = set()
        # Each model name as the server sent it -> as shown (cleaning it was a fifth of
        # the cost of taking in an answer); bounded, for a server that names thousands.
        self._shown: dict[str, str] = {}
        # The last outlook worked out, when (a POSIX timestamp), and at which change: the
        # status bar asks several times a second (see outlook).
        self._changes = 0
        self._outlook: tuple[int, float, Outlook] | None = None

    def update(self, key: str, entry: WatchEntry | None, *, gone: bool = False) -> None:
        """Take in the row ``key`` as it is now (None: it left the watchlist)."""
        seen = self._seen_in(entry, gone) if entry is not None else None
        old = self._seen.get(key)
        if seen is not None and seen == old:
            return  # (most answers: the same status, and nothing the figures hold moved)
        self._seen.pop(key, None)
        self._changes += 1
        if self._active.pop(key, None) is not None:
            assert old is not None and old.active_since is not None
            running = self._models[old.model].running
            del running[bisect_left(running, (old.active_since.timestamp(), key))]
        if old is not None:
            if old.duration is not None:
                durations = self._models[old.model].durations
                index = bisect_right(durations, old.duration) - 1
                if index >= 0 and durations[index] == old.duration:
                    del durations[index]
            if old.day is not None:
                self._credits_by_day[old.day] -= old.credits
        if entry is None:
            self.announced.discard(key)
            return
        assert seen is not None
        if seen.duration is not None:
            insort(self._models[seen.model].durations, seen.duration)
        if seen.active_since is not None:
            self._active[key] = seen
            insort(self._models[seen.model].running, (seen.active_since.timestamp(), key))
        else:
            self.announced.discard(key)
        if seen.day is not None:
            self._credits_by_day[seen.day] += seen.credits
        self._seen[key] = seen

    def take_new(self, rows: Iterable[tuple[str, Row]]) -> None:
        """Take in rows (``key, row``) added to the list, as :meth:`update` does each,
        each model's durations sorted once for all of them (a part of a long list read
        holds a thousand finished tasks: a bisection and a move each cost more)."""
        seen_by_key, active, models = self._seen, self._active, self._models
        by_day = self._credits_by_day
        durations: defaultdict[str, list[float]] = defaultdict(list)
        for key, row in rows:
            if key in seen_by_key:  # (not new after all: taken in the usual way)
                self.update(key, row.entry, gone=row.gone)
                continue
            seen = self._seen_in(row.entry, row.gone)
            self._changes += 1
            if seen.duration is not None:
                durations[seen.model].append(seen.duration)
            if seen.active_since is not None:
                active[key] = seen
                insort(models[seen.model].running, (seen.active_since.timestamp(), key))
            if seen.day is not None:
                by_day[seen.day] += seen.credits
            seen_by_key[key] = seen
        for model, more in durations.items():
            kept = models[model].durations
            kept += more
            kept.sort()

    def _seen_in(self, entry: WatchEntry, gone: bool) -> _Seen:
        """What the row of ``entry`` contributes to the figures."""
        task = entry.task
        raw = task.model if task is not None else None
        model = self._shown.get(raw or "")
        if model is None:
            model = model_of(entry)
            if len(self._shown) < _SHOWN_MODELS:
                self._shown[raw or ""] = model
        if task is None:
            return _Seen(model)
        status = task.status
        if status is _COMPLETED:
            seen = _Seen(model, duration(entry))
        else:
            seen = _Seen(model)
            if (status is _PENDING or status is _PROCESSING) and not gone and task.created_at:
                seen.active_since = task.created_at
        credits = plausible_credits(entry)
        if credits:
            seen.credits = credits
            seen.day = utc_day(_created(entry))
        return seen

    def sync(self, rows: Iterable[tuple[str, WatchEntry, bool]]) -> None:
        """Take in every row (``key, entry, gone``) and forget those no longer there."""
        present = set()
        for key, entry, gone in rows:
            present.add(key)
            self.update(key, entry, gone=gone)
        for key in [key for key in self._seen if key not in present]:
            self.update(key, None)

    def keys(self) -> KeysView[str]:
        """The rows taken in (a live view)."""
        return self._seen.keys()

    def finished(self, model: str) -> int:
        """How many completed tasks of ``model`` have a known duration."""
        return len(self._models[model].durations) if model in self._models else 0

    def p95(self, model: str) -> float | None:
        if self.finished(model) < MIN_FINISHED:
            return None
        return percentile(self._models[model].durations, 0.95)

    def limit(self, model: str) -> float | None:
        """After how many seconds an unfinished task of ``model`` is stuck (None: unknown)."""
        configured = self.limits.get(model, self.limits.get("*"))
        return configured if configured is not None else self.p95(model)

    def estimate(self, key: str, now: datetime) -> Estimate | None:
        """The time left for the row ``key``: None when it is not unfinished."""
        seen = self._seen.get(key)
        if seen is None or seen.active_since is None:
            return None
        return self.estimate_for(seen.model, (now - seen.active_since).total_seconds())

    def estimate_for(self, model: str, age: float) -> Estimate:
        """The median remaining time of ``model``'s completed tasks that ran longer than
        ``age`` seconds (what those that lasted this long still took)."""
        if self.finished(model) < MIN_FINISHED:
            return NO_ESTIMATE
        durations = self._models[model].durations
        start = bisect_right(durations, max(age, 0.0))
        median = percentile(durations, 0.5, start)
        if median is None:
            return Estimate(None, "longer than any finished")
        return Estimate(median - max(age, 0.0))

    def stuck(self, key: str, now: datetime) -> bool:
        """Whether the row ``key`` is unfinished for longer than its model's limit."""
        seen = self._seen.get(key)
        if seen is None or seen.active_since is None:
            return False
        limit = self.limit(seen.model)
        return limit is not None and (now - seen.active_since).total_seconds() > limit

    def stuck_keys(self, now: datetime) -> list[str]:
        """Every stuck row, in the order they were taken in."""
        stuck: set[str] = set()
        moment = now.timestamp()
        for model, figures in self._models.items():
            limit = self.limit(model) if figures.running else None
            if limit is not None:
                # Stuck: running for more than ``limit``, i.e. the oldest ones.
                older = bisect_left(figures.running, moment - limit, key=_since)
                stuck.update(key for _, key in figures.running[:older])
        return [key for key in self._active if key in stuck] if stuck else []

    def newly_stuck(self, now: datetime) -> list[str]:
        """Stuck rows not announced before; marks them announced."""
        fresh = [key for key in self.stuck_keys(now) if key not in self.announced]
        self.announced.update(fresh)
        return fresh

    def outlook(self, now: datetime) -> Outlook:
        """How many tasks are unfinished and when the last with an estimate finishes.

        Not one estimate per task: within the ages between two finished durations the
        same finished tasks ran longer, so the estimate only falls as the age grows, and
        the youngest task of each such span has its span's longest. One estimate per
        span that holds a task, youngest first.

        Worked out at most once a second while no row changes: within it, the last
        answer less the time since (exact unless a task's age crossed a finished duration
        meanwhile, which moves the figure by less than that second's share of a median).
        """
        moment = now.timestamp()
        last = self._outlook
        if last is not None and last[0] == self._changes and 0 <= moment - last[1] < 1:
            outlook = last[2]
            if outlook.seconds is None:
                return outlook
            return Outlook(
                outlook.active, outlook.seconds - (moment - last[1]), outlook.without_estimate
            )
        outlook = self._work_out(moment)
        self._outlook = (self._changes, moment, outlook)
        return outlook

    def _work_out(self, moment: float) -> Outlook:
        without = 0
        longest: float | None = None
        for figures in self._models.values():
            running = figures.running
            if not running:
                continue
            durations = figures.durations
            if len(durations) < MIN_FINISHED:
                without += len(running)
                continue
            index = len(running) - 1  # the youngest
            while index >= 0:
                age = max(moment - running[index][0], 0.0)
                start = bisect_right(durations, age)
                if start == len(durations):
                    without += index + 1  # it and every older one: longer than any finished
                    break
                median = percentile(durations, 0.5, start)
                assert median is not None
                guess = median - age
                if longest is None or guess > longest:
                    longest = guess
                # On to the youngest task that ran at least as long as durations[start]:
                # an older one than this. (moment - durations[start] can round back to
                # this task's own start when that duration is its age plus one ulp:
                # the same index again, for ever, with the dashboard frozen.)
                older = bisect_right(running, moment - durations[start], key=_since) - 1
                index = min(older, index - 1)
        return Outlook(len(self._active), longest, without)

    def credits_on(self, day: date) -> float:
        return max(0.0, round(self._credits_by_day.get(day, 0.0), 6))

    def credits_in_month(self, day: date) -> float:
        total = math.fsum(
            value
            for when, value in self._credits_by_day.items()
            if (when.year, when.month) == (day.year, day.month)
        )
        return max(0.0, round(total, 6))


# --- budget ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BudgetShare:
    """How much of a budget is used: ``used`` of ``budget`` credits over ``period``."""

    period: str  # "day" or "month"
    used: float
    budget: float

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.budget if self.budget > 0 else 0.0

    @property
    def level(self) -> int:
        """The highest of :data:`BUDGET_LEVELS` reached (0: none)."""
        return max((level for level in BUDGET_LEVELS if self.percent >= level), default=0)


def budget_shares(
    used_today: float, used_month: float, per_day: float | None, per_month: float | None
) -> list[BudgetShare]:
    """The configured budgets with what is used of each."""
    shares = []
    if per_day is not None:
        shares.append(BudgetShare("day", used_today, per_day))
    if per_month is not None:
        shares.append(BudgetShare("month", used_month, per_month))
    return shares


class BudgetAlarm:
    """Says each budget level once per day (or month): the status bar shows the share
    all the time, a toast only when a level is first crossed."""

    def __init__(self) -> None:
        self._said: set[tuple[str, str, int]] = set()

    def crossed(self, shares: Iterable[BudgetShare], now: datetime) -> list[BudgetShare]:
        """The shares whose level was reached and not said before in their period."""
        today = utc_day(now)
        fresh = []
        for share in shares:
            level = share.level
            if not level:
                continue
            period = today.isoformat() if share.period == "day" else today.isoformat()[:7]
            said = (share.period, period, level)
            if said in self._said:
                continue
            # Reaching 100 % also stands for 80 %: the lower level is not said after it.
            for lower in BUDGET_LEVELS:
                if lower <= level:
                    self._said.add((share.period, period, lower))
            fresh.append(share)
        return fresh


# --- desktop notifications ---------------------------------------------------------------------


def _osc_field(text: str, limit: int) -> str:
    # No control character may end the sequence early or start another one, and ";"
    # separates OSC 777's fields.
    cleaned = "".join(
        ch for ch in clean(text, max_length=limit, single_line=True) if ch.isprintable()
    )
    return cleaned.replace(";", ",")


def notification(kind: str, title: str, body: str) -> str:
    """The escape sequence that asks the terminal for a desktop notification ("" for
    ``off``): OSC 9 (iTerm2, WezTerm, kitty, Windows Terminal, foot) has one text; OSC 777
    (rxvt, VTE terminals, Ghostty) a title and a body. Network text is made one printable
    line first."""
    if kind == "osc9":
        return f"\x1b]9;{_osc_field(f'{title}: {body}', 200)}\x07"
    if kind == "osc777":
        return f"\x1b]777;notify;{_osc_field(title, 60)};{_osc_field(body, 200)}\x07"
    return ""


# --- what the dashboard keeps ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Summary:
    """The status bar's share of the figures."""

    outlook: Outlook
    shares: tuple[BudgetShare, ...]
    #: Queries sent in the last minute and 429 answers in it (None: not polling).
    sent: int | None = None
    limited: int = 0


def _in_order(rows: Mapping[str, Row], keys: set[str]) -> list[str]:
    """``keys`` (all in ``rows``) in the rows' order. Rows join at the end (an undo may
    put some back further up), so the walk goes from the end until it has them all."""
    found: list[str] = []
    if keys:
        ordered = rows if isinstance(rows, dict) else dict(rows)
        for key in reversed(ordered):
            if key in keys:
                found.append(key)
                if len(found) == len(keys):
                    break
    found.reverse()
    return found


class InsightWatch:
    """The dashboard's figures, kept up to date from the monitor's change batches, and the
    alerts they call for (a stuck task once, a budget level once per period)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.figures = LiveFigures(settings.stuck_after)
        self.alarm = BudgetAlarm()
        # The keys of the rows taken in, in list order: rows added at the end (a part of
        # the list read, an add) are found by comparing it with the rows in C, no set.
        self._keys: list[str] = []
        # Where the rows' append log was at the last batch (None: compare).
        self._mark: tuple[int, int] | None = None

    def take(
        self,
        rows: Mapping[str, Row],
        updated: Iterable[str],
        *,
        full: bool,
        log: AppendLog | None = None,
    ) -> None:
        """Take in a change batch: the ``updated`` rows, and with ``full`` (rows added or
        removed) the rows new to the figures and those gone. The monitor names every row
        whose status, times or credits changed in ``updated``. ``log``: the rows' append
        log, if they keep one (then rows added at the end are found without a walk)."""
        figures = self.figures
        appended = log.since(self._mark) if log is not None else None
        self._mark = log.mark() if log is not None else None
        if full or appended:
            keys = self._keys
            if appended is not None:
                added = appended
                keys.extend(added)
            elif len(rows) >= len(keys) and all(map(eq, keys, rows.keys())):
                # Only added at the end: 2 ms at 100,000 rows, a set of them all 13 ms.
                added = list(islice(rows.keys(), len(keys), None))
                keys.extend(added)
            else:
                known = figures.keys()
                # Set operations in C, and a walk over the new rows only: at 100,000 rows
                # a Python loop over them cost 40-170 ms per batch while the list was read.
                new = rows.keys() - known
                if len(known) + len(new) > len(rows):  # (else none is gone)
                    for key in known - rows.keys():
                        figures.update(key, None)
                added = _in_order(rows, new)
                self._keys = list(rows.keys())
            figures.take_new((key, rows[key]) for key in added)
        for key in updated:
            changed = rows.get(key)
            entry = changed.entry if changed is not None else None
            figures.update(key, entry, gone=changed is not None and changed.gone)

    def shares(self, now: datetime) -> list[BudgetShare]:
        today = utc_day(now)
        return budget_shares(
            self.figures.credits_on(today),
            self.figures.credits_in_month(today),
            self.settings.budget_credits_per_day,
            self.settings.budget_credits_per_month,
        )

    def summary(self, now: datetime, tally: RequestTally | None, monotonic: float) -> Summary:
        sent = tally.last_minute(monotonic) if tally is not None else None
        limited = tally.limited_last_minute(monotonic) if tally is not None else 0
        return Summary(self.figures.outlook(now), tuple(self.shares(now)), sent, limited)

    def alerts(self, rows: Mapping[str, Row], now: datetime) -> list[tuple[str, str]]:
        """Sentences to announce now, with their severity: tasks newly stuck, budget
        levels newly reached."""
        said = []
        stuck = [rows[key] for key in self.figures.newly_stuck(now) if key in rows]
        if stuck:
            first = stuck[0]
            model = model_of(first.entry)
            limit = self.figures.limit(model)
            usual = f" (its limit: {limit:.0f} s)" if limit is not None else ""
            name = clean(first.name, max_length=60, single_line=True)
            more = f" and {len(stuck) - 1} more tasks" if len(stuck) > 1 else ""
            said.append(
                (
                    f"{name}{more}: unfinished for longer than {model} usually takes{usual}. "
                    "The status filter (f) shows the stuck ones.",
                    "warning",
                )
            )
        for share in self.alarm.crossed(self.shares(now), now):
            period = "today's" if share.period == "day" else "this month's"
            said.append(
                (
                    f"{share.percent:.0f} % of {period} budget used "
                    f"({share.used:g} of {share.budget:g} credits).",
                    "error" if share.level >= 100 else "warning",
                )
            )
        return said
