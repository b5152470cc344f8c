"""Which watched tasks are shown, and in what order: filtering and sorting, no UI.

The table widget renders whatever order this computes; keeping the logic here makes it
testable without a terminal. :func:`compute_order` computes it from scratch (one pass to
filter, one sort); :class:`LiveOrder` keeps it up to date a changed row at a time, which
at 100,000 rows is what lets a batch of answers cost milliseconds, not a full sort.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from itertools import islice
from operator import eq, itemgetter
from typing import Any, Final, Protocol, TypeVar, overload

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


def _status_rank(row: RowSource, now: datetime) -> int:
    task = row.task
    if task is None:
        return _UNFETCHED_ORDER
    return _GONE_ORDER if row.gone else _STATUS_ORDER.get(task.status, 6)


def _credits(row: RowSource, now: datetime) -> float:
    task = row.task
    credits = task.credits_used if task else None
    # NaN compares false both ways and would scramble the order.
    return credits if credits is not None and math.isfinite(credits) else 0.0


def _prompt(row: RowSource, now: datetime) -> str:
    task = row.task
    return (task.prompt or "").lower() if task else ""


def _model(row: RowSource, now: datetime) -> str:
    task = row.task
    return (task.model or "") if task else ""


def _created(row: RowSource, now: datetime) -> datetime:
    task = row.task
    return (task.created_at if task else None) or _EPOCH


def _outputs(row: RowSource, now: datetime) -> int:
    task = row.task
    return task.output_count if task else 0


#: Each column's sort value of a row, one function per column (a full sort at 100,000
#: rows calls one a row: no chain of tests per call). ETA is not a row's own value.
_SORT_VALUES: Final[dict[SortKey, Callable[[RowSource, datetime], Any]]] = {
    SortKey.NAME: lambda row, now: (row.label or row.ref.id).lower(),
    SortKey.MODEL: _model,
    SortKey.PROMPT: _prompt,
    SortKey.STATUS: _status_rank,
    SortKey.CREATED: _created,
    SortKey.TIME: lambda row, now: run_seconds(row, now),
    SortKey.CREDITS: _credits,
    SortKey.OUTPUTS: _outputs,
    SortKey.CHECKED: lambda row, now: row.checked_at or _EPOCH,
}


def _sort_value(row: RowSource, key: SortKey, now: datetime) -> Any:
    value = _SORT_VALUES.get(key)
    return value(row, now) if value is not None else 0


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


_Entry = tuple[Any, int, str]
#: Above this many moved rows a batch is placed in one copy of the list (see
#: ``LiveOrder._merge``) instead of a bisect and a list move per row: each move shifts
#: half the list on average (18 us at 100,000 rows), the copy costs about 1 ms there.
_BULK: Final = 64


class AppendLog:
    """The keys of the rows added at the end of a mapping of rows, in order, since rows
    were last removed or moved there. A follower of the rows (:class:`LiveOrder`, the
    insight figures) takes in the rows added since its :meth:`mark` without comparing
    every key it knows with the rows (a walk per part of a long list read: quadratic over
    the list)."""

    __slots__ = ("_epoch", "_keys")

    def __init__(self) -> None:
        self._epoch = 0
        self._keys: list[str] = []

    def mark(self) -> tuple[int, int]:
        """Where the log is now."""
        return self._epoch, len(self._keys)

    def since(self, mark: tuple[int, int] | None) -> list[str] | None:
        """The keys added at the end since ``mark``, or None when rows were removed or
        moved since (or there is no mark): the follower must compare then."""
        if mark is None or mark[0] != self._epoch:
            return None
        return self._keys[mark[1] :]

    def added(self, key: str) -> None:
        self._keys.append(key)

    def reshaped(self) -> None:
        """Rows were removed or moved: every follower compares once more."""
        self._epoch += 1
        self._keys = []


class LiveOrder(Sequence[str]):
    """The order :func:`compute_order` gives, kept up to date as rows change, come and go.

    The shown rows are kept as entries ``(sort value, tie, key)`` in ascending order;
    ``tie`` is the row's added number, negated for a reversed column sort, and a reversed
    order is read from the end: that reproduces the stable sort's ties (added order
    first) both ways. A batch that changes N of n rows costs O(N log n) comparisons
    (each changed row leaves its place and is inserted at its new one by bisection)
    instead of a filter and a sort over every row; only a new filter or sort
    (:meth:`rebuild`) goes over them all.

    Values that move with the clock or with other rows (a running task's time, the ETA,
    the stuck filter) are those at :attr:`now`, the time of the last :meth:`rebuild`:
    between rebuilds the order is compute_order's at that time (see :attr:`volatile`).
    """

    def __init__(self) -> None:
        self.spec = ViewSpec()
        #: The "now" of the values that move with the clock.
        self.now = _EPOCH
        self._rows: Mapping[str, RowSource] = {}
        self._stuck: Callable[[str], bool] | None = None
        self._eta: Callable[[str], float | None] | None = None
        self._value: Callable[[str, RowSource], Any] = lambda key, row: 0
        self._passes: Callable[[str, RowSource], bool] | None = None
        self._negate = False
        #: Shown rows' entries, ascending.
        self._entries: list[_Entry] = []
        #: Each shown row's entry by key (how it is found again in ``_entries``).
        self._placed: dict[str, _Entry] = {}
        #: Every row's added number (shown or not): the insertion order, for ties.
        self._added: dict[str, int] = {}
        self._next_added = 0
        # The rows' append log, if they keep one, and where ``_added`` is in it.
        self._log: AppendLog | None = None
        self._mark: tuple[int, int] | None = None

    # --- the order ------------------------------------------------------------------------
    @property
    def volatile(self) -> bool:
        """Whether the order moves by itself: sorted by time or ETA, or filtered to stuck
        tasks (another row's answer or the clock changes them). :meth:`rebuild` brings
        it up to date."""
        spec = self.spec
        return spec.sort in (SortKey.TIME, SortKey.ETA) or spec.status is StatusFilter.STUCK

    def rebuild(
        self,
        rows: Mapping[str, RowSource],
        spec: ViewSpec,
        now: datetime,
        *,
        stuck: Callable[[str], bool] | None = None,
        eta: Callable[[str], float | None] | None = None,
        log: AppendLog | None = None,
    ) -> None:
        """Compute the order of ``rows`` (in insertion order, watched as they change:
        the same mapping is read again by :meth:`apply`) from scratch; ``stuck`` and
        ``eta`` as for :func:`compute_order`; ``log``: the rows' :class:`AppendLog`, if
        they keep one. A longer text filter (typing into the filter box) only drops rows
        from the order shown."""
        narrower = self._narrows(rows, spec) and log is self._log
        self._rows, self.spec, self.now = rows, spec, now
        self._stuck, self._eta = stuck, eta
        self._value = self._valuer()
        self._passes = self._filter()
        if narrower and self._passes is not None:
            passes = self._passes
            kept = [entry for entry in self._entries if passes(entry[2], rows[entry[2]])]
            self._entries = kept
            self._placed = dict(zip(map(itemgetter(2), kept), kept, strict=True))
            return
        self._negate = spec.reverse and spec.sort is not SortKey.ADDED
        self._log = log
        self._mark = None if log is None else log.mark()
        # (zip and itemgetter: the dictionaries are built in C, at 100,000 rows 5x faster.)
        self._added = dict(zip(rows, range(len(rows)), strict=True))
        self._next_added = len(self._added)
        self._entries = entries = self._all_entries()
        if spec.sort is not SortKey.ADDED:
            entries.sort()
        self._placed = dict(zip(map(itemgetter(2), entries), entries, strict=True))

    def _narrows(self, rows: Mapping[str, RowSource], spec: ViewSpec) -> bool:
        """Whether ``spec`` shows some of the rows shown now, in the same order: the same
        rows, sort and status, and a text that contains the current one (every row it
        matches, the current one matched)."""
        old, text, old_text = self.spec, spec.text.lower(), self.spec.text.lower()
        return (
            rows is self._rows
            and not self.volatile
            and (spec.sort, spec.reverse, spec.status) == (old.sort, old.reverse, old.status)
            and text != old_text
            and old_text in text
        )

    def _all_entries(self) -> list[_Entry]:
        """Every shown row's entry, in added order: one comprehension and no call per
        row but its sort value and filter (what a new sort or filter costs at 100,000)."""
        rows, passes, sign = self._rows, self._passes, -1 if self._negate else 1
        numbered = zip(range(0, sign * len(rows), sign), rows.items(), strict=True)
        if self.spec.sort is SortKey.ADDED:
            if passes is None:
                return [
                    (0, number, key) for number, key in zip(range(len(rows)), rows, strict=True)
                ]
            return [(0, number, key) for number, (key, row) in numbered if passes(key, row)]
        value, now = _SORT_VALUES.get(self.spec.sort), self.now
        if value is not None:
            if passes is None:
                return [(value(row, now), number, key) for number, (key, row) in numbered]
            return [
                (value(row, now), number, key)
                for number, (key, row) in numbered
                if passes(key, row)
            ]
        valued = self._value
        return [
            (valued(key, row), number, key)
            for number, (key, row) in numbered
            if passes is None or passes(key, row)
        ]

    def apply(self, updated: Collection[str], *, reordered: bool = False) -> None:
        """Take in a batch: the rows with keys in ``updated`` changed; ``reordered``: rows
        were added (at the end) or removed. Rows put back between others (an undo) renumber
        every row: the order is computed again."""
        moved: set[str] = set()
        rows, added = self._rows, self._added
        # A row changed that was never seen come: it came (a batch that did not say so).
        if reordered or any(key not in added and key in rows for key in updated):
            known = len(added)
            gone: set[str] = set()
            appended = self._log.since(self._mark) if self._log is not None else None
            if self._log is not None:
                self._mark = self._log.mark()
            if appended is not None:
                tail = appended  # (rows only added at the end since the last batch)
            elif len(rows) >= known and all(map(eq, islice(rows, known), added)):
                # Rows only added at the end (a part of the list read, an add): one pass
                # in C over the keys, no set of them all.
                tail = list(islice(rows, known, None))
            else:
                gone = added.keys() - rows.keys()
                new = rows.keys() - added.keys()
                tail = list(islice(rows, len(rows) - len(new), None))
                if not new.issuperset(tail):
                    self.rebuild(
                        rows, self.spec, self.now, stuck=self._stuck, eta=self._eta, log=self._log
                    )
                    return
            for number, key in enumerate(tail, self._next_added):
                added[key] = number
            self._next_added += len(tail)
            for key in gone:
                del added[key]
            if not gone and self._passes is None and self.spec.sort is SortKey.ADDED:
                # Rows added at the end of an unfiltered list in its own order (a part of
                # the list read): after every other, as they came; no sort, no search.
                arrived = [(0, added[key], key) for key in tail]
                self._entries.extend(arrived)
                self._placed.update(zip(tail, arrived, strict=True))
                return
            moved = gone.union(tail)
        if self._passes is not None or self.spec.sort is not SortKey.ADDED:
            # (In the added order, unfiltered, a row's data never moves it.)
            moved.update(updated)
        self._place(moved)

    def _place(self, keys: Iterable[str]) -> None:
        rows, placed = self._rows, self._placed
        moves: list[tuple[_Entry | None, _Entry | None]] = []
        for key in keys:
            row = rows.get(key)
            new = self._entry(key, row) if row is not None else None
            old = placed.get(key)
            if new == old:
                continue
            moves.append((old, new))
            if new is None:
                del placed[key]
            else:
                placed[key] = new
        entries = self._entries
        if len(moves) <= _BULK:
            for old, new in moves:
                if old is not None:
                    del entries[bisect_left(entries, old)]
                if new is not None:
                    insort(entries, new)
            return
        arrived = sorted(new for _, new in moves if new is not None)
        left = [old for old, _ in moves if old is not None]
        if not left and (not entries or not arrived or entries[-1] < arrived[0]):
            entries.extend(arrived)  # rows read in added order: after every other
        else:
            self._entries = self._merge(left, arrived)

    def _merge(self, left: list[_Entry], arrived: list[_Entry]) -> list[_Entry]:
        """The entries without those ``left`` and with those ``arrived`` (sorted), in one
        pass of slices (copied in C): each change's place found by bisection in the
        entries as they are. An insertion comes before a removal at the same place."""
        entries = self._entries
        edits: list[tuple[int, int, _Entry]] = [
            (bisect_left(entries, entry), 1, entry) for entry in left
        ]
        edits += [(bisect_left(entries, entry), 0, entry) for entry in arrived]
        edits.sort()
        merged: list[_Entry] = []
        start = 0
        for place, removal, entry in edits:
            merged += entries[start:place]
            if removal:
                start = place + 1
            else:
                merged.append(entry)
                start = place
        merged += entries[start:]
        return merged

    def _entry(self, key: str, row: RowSource) -> _Entry | None:
        if self._passes is not None and not self._passes(key, row):
            return None
        number = self._added[key]
        return (self._value(key, row), -number if self._negate else number, key)

    def _valuer(self) -> Callable[[str, RowSource], Any]:
        sort, now = self.spec.sort, self.now
        if sort is SortKey.ETA:
            left = self._eta or (lambda key: None)
            return lambda key, row: eta_order(left(key))
        value = _SORT_VALUES.get(sort)
        if value is None:
            return lambda key, row: 0
        return lambda key, row: value(row, now)

    def _filter(self) -> Callable[[str, RowSource], bool] | None:
        spec = self.spec
        needle = spec.text.lower()
        if spec.status is StatusFilter.ALL and not needle:
            return None
        stuck = self._stuck
        if spec.status is StatusFilter.STUCK and stuck is not None:
            return lambda key, row: matches(row, spec, needle, stuck=stuck(key))
        return lambda key, row: matches(row, spec, needle)

    # --- reading it -----------------------------------------------------------------------
    def index_of(self, key: str) -> int | None:
        """Where the row with this key is shown (None: it is not)."""
        entry = self._placed.get(key)
        if entry is None:
            return None
        index = bisect_left(self._entries, entry)
        return len(self._entries) - 1 - index if self.spec.reverse else index

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._placed

    def __iter__(self) -> Iterator[str]:
        entries = reversed(self._entries) if self.spec.reverse else iter(self._entries)
        return (entry[2] for entry in entries)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return list(self)[index]
        size = len(self._entries)
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError(index)
        return self._entries[size - 1 - index if self.spec.reverse else index][2]
