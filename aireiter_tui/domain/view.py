"""Which watched tasks are shown, and in what order: filtering and sorting, no UI.

The table widget renders whatever order this computes; keeping the logic here makes it
testable without a terminal and cheap at 10,000 rows (one pass to filter, one sort).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Protocol, TypeVar

from aireiter_tui.domain.models import Task, TaskRef, TaskStatus

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


_E = TypeVar("_E", bound=StrEnum)


def _following(member: _E) -> _E:
    """The next member of ``member``'s enum, wrapping around (for keys that cycle)."""
    members = list(type(member))
    return members[(members.index(member) + 1) % len(members)]


class StatusFilter(StrEnum):
    """The status filter, cycled with one key."""

    ALL = "all"
    ACTIVE = "active"
    #: Unfinished for longer than its model usually takes (see
    #: :meth:`~aireiter_tui.domain.insight.LiveFigures.stuck`).
    STUCK = "stuck"
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    UNKNOWN = "unknown"
    #: No longer known to the server (see :attr:`~aireiter_tui.domain.session.Row.gone`).
    GONE = "gone"
    ERRORS = "errors"

    def next(self) -> StatusFilter:
        return _following(self)


class SortKey(StrEnum):
    """What the table can be sorted by: the order rows were added, or any column. Each
    column's value is its id (in the config's ``columns`` and a view's ``sort``); they
    come in the table's default column order."""

    ADDED = "added"
    #: The Task column, sorted by what it shows first: the label, else the ID.
    NAME = "task"
    MODEL = "model"
    STATUS = "status"
    PROMPT = "prompt"
    CREATED = "created"
    TIME = "time"
    CREDITS = "credits"
    OUTPUTS = "outputs"
    CHECKED = "checked"
    ETA = "eta"

    def next(self) -> SortKey:
        return _following(self)


#: Every column's id, in the table's default order.
COLUMN_IDS: Final = tuple(key.value for key in SortKey if key is not SortKey.ADDED)


def next_sort(current: SortKey, shown: Sequence[SortKey]) -> SortKey:
    """The sort after ``current`` when cycling through the ``shown`` columns, then back
    to the added order (a column not shown is left for the first shown one)."""
    if current in shown:
        index = shown.index(current) + 1
        return shown[index] if index < len(shown) else SortKey.ADDED
    return shown[0] if shown else SortKey.ADDED


class RowSource(Protocol):
    """What the view needs of a watched task (the app's row state satisfies it)."""

    @property
    def ref(self) -> TaskRef: ...
    @property
    def label(self) -> str | None: ...
    @property
    def task(self) -> Task | None: ...
    @property
    def stale(self) -> bool: ...
    @property
    def added_at(self) -> datetime: ...
    @property
    def checked_at(self) -> datetime | None: ...
    @property
    def gone(self) -> bool: ...
    @property
    def ended_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class ViewSpec:
    """Everything that decides the visible order."""

    text: str = ""
    status: StatusFilter = StatusFilter.ALL
    sort: SortKey = SortKey.ADDED
    reverse: bool = False

    @property
    def is_filtered(self) -> bool:
        return bool(self.text) or self.status is not StatusFilter.ALL

    def describe(self) -> str:
        """A short human summary, e.g. ``status: failed · text: "dog" · sort: credits ↓``."""
        parts = []
        if self.status is not StatusFilter.ALL:
            parts.append(f"status: {self.status.value}")
        if self.text:
            parts.append(f'text: "{self.text}"')
        if self.sort is not SortKey.ADDED or self.reverse:
            parts.append(f"sort: {self.sort.value} {'↓' if self.reverse else '↑'}")
        return " · ".join(parts)


_STATUS_ORDER: Final = {
    TaskStatus.PROCESSING: 0,
    TaskStatus.PENDING: 1,
    TaskStatus.UNKNOWN: 2,
    TaskStatus.FAILED: 4,
    TaskStatus.COMPLETED: 5,
}
#: Gone tasks sort after the unknown statuses (nothing runs) and before the finished ones;
#: never fetched ones come last.
_GONE_ORDER: Final = 3
_UNFETCHED_ORDER: Final = 7


def matches(row: RowSource, spec: ViewSpec, needle: str, *, stuck: bool = False) -> bool:
    """True if the row passes the status filter and contains ``needle`` (lower case);
    ``stuck``: whether the row is stuck (the view cannot tell: it needs the history)."""
    task = row.task
    # A gone task is shown as gone, not with its last status: the filters agree.
    status = task.status if task and not row.gone else None
    wanted = spec.status
    if wanted is StatusFilter.ERRORS:
        if not row.stale:
            return False
    elif wanted is StatusFilter.GONE:
        if not row.gone:
            return False
    elif wanted is StatusFilter.STUCK:
        if not stuck:
            return False
    elif wanted is StatusFilter.ACTIVE:
        if row.gone:
            return False
        if status is not None and not status.is_active and status is not TaskStatus.UNKNOWN:
            return False
    elif wanted is not StatusFilter.ALL and (status is None or status.value != wanted.value):
        return False
    if not needle:
        return True
    haystack = [row.ref.id, row.label or ""]
    if task is not None:
        haystack += [task.model or "", task.prompt or ""]
        haystack += [task.task_id or "", task.out_task_id or ""]
    return any(needle in part.lower() for part in haystack)


def _sort_value(row: RowSource, key: SortKey, now: datetime) -> Any:
    task = row.task
    if key is SortKey.NAME:
        return (row.label or row.ref.id).lower()
    if key is SortKey.MODEL:
        return (task.model or "") if task else ""
    if key is SortKey.PROMPT:
        return (task.prompt or "").lower() if task else ""
    if key is SortKey.STATUS:
        if task is None:
            return _UNFETCHED_ORDER
        return _GONE_ORDER if row.gone else _STATUS_ORDER.get(task.status, 6)
    if key is SortKey.CREATED:
        return (task.created_at if task else None) or _EPOCH
    if key is SortKey.TIME:
        return run_seconds(row, now)
    if key is SortKey.CREDITS:
        credits = task.credits_used if task else None
        # NaN compares false both ways and would scramble the order.
        return credits if credits is not None and math.isfinite(credits) else 0.0
    if key is SortKey.OUTPUTS:
        return task.output_count if task else 0
    if key is SortKey.CHECKED:
        return row.checked_at or _EPOCH
    return 0


def run_seconds(row: RowSource, now: datetime) -> float:
    """Run time: from ``created_at`` to when the clock stopped (``row.ended_at``: the
    server's ``completed_at``, when a failure was first seen, a gone task's last answer),
    or to ``now`` while the task runs.

    -1 when unknown: never answered, no ``created_at``, or a finished task whose end
    nothing tells (counting on to "now" would be a made-up figure).
    """
    task = row.task
    if task is None or task.created_at is None:
        return -1.0
    end = row.ended_at
    if end is not None:
        return (end - task.created_at).total_seconds()
    if task.status.is_terminal or row.gone:
        return -1.0
    return (now - task.created_at).total_seconds()


def eta_order(seconds: float | None) -> tuple[int, float]:
    """How a row's time left sorts: estimates first, shortest first; then unfinished
    rows without one (``math.inf``); then rows with none to give (``None``: finished)."""
    if seconds is None:
        return (2, 0.0)
    if math.isinf(seconds) or math.isnan(seconds):
        return (1, 0.0)
    return (0, seconds)


def compute_order(
    rows: Iterable[tuple[str, RowSource]],
    spec: ViewSpec,
    now: datetime,
    *,
    stuck: Callable[[str], bool] | None = None,
    eta: Callable[[str], float | None] | None = None,
) -> list[str]:
    """Keys of the rows that pass ``spec``'s filters, in its sort order.

    ``rows`` must come in insertion (added) order; sorting is stable, so ties keep it.
    ``stuck``: whether the row with a key is stuck (asked only for the stuck filter;
    None: none is). ``eta``: the row's seconds left, ``math.inf`` for an unfinished one
    without an estimate, ``None`` for a finished one (asked only to sort by ETA; None:
    no row has one).
    """
    needle = spec.text.lower()
    if spec.status is StatusFilter.STUCK and stuck is not None:
        is_stuck = stuck
        kept = [(k, row) for k, row in rows if matches(row, spec, needle, stuck=is_stuck(k))]
    else:
        kept = [(key, row) for key, row in rows if matches(row, spec, needle)]
    if spec.sort is SortKey.ADDED:
        keys = [key for key, _ in kept]
        return keys[::-1] if spec.reverse else keys
    if spec.sort is SortKey.ETA:
        left = eta or (lambda key: None)
        kept.sort(key=lambda item: eta_order(left(item[0])), reverse=spec.reverse)
    else:
        kept.sort(key=lambda item: _sort_value(item[1], spec.sort, now), reverse=spec.reverse)
    return [key for key, _ in kept]
