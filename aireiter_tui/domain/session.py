"""The dashboard's state without the dashboard: watched rows, their refresh errors,
counts, and what must be saved. Usable from a script; the App only renders it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Final

from aireiter_tui.domain.errors import AIReiterError
from aireiter_tui.domain.models import Task, TaskRef, TaskStatus, forgotten
from aireiter_tui.domain.view import AppendLog
from aireiter_tui.domain.watchlist import WatchlistError, WatchlistStore
from aireiter_tui.domain.watchlist_codec import StatusChange, WatchEntry


def finish_seen(entry: WatchEntry) -> StatusChange | None:
    """For a finished task the server gave no ``completed_at`` (it sends none for failed
    ones): the status history's change to its final status, i.e. when it was first seen
    finished. ``None`` for any other task, or when the history does not reach back."""
    task = entry.task
    if task is None or not task.status.is_terminal or task.completed_at is not None:
        return None
    history = entry.history
    if not history or history[-1].status != task.status_label:
        return None
    return history[-1]


def seen_unfinished(entry: WatchEntry) -> bool:
    """Whether the history saw the task before its latest status: then the time that
    status was first seen is within a poll of when it really changed; otherwise the task
    was already in it when first checked, and that time is only an upper bound."""
    return len(entry.history) > 1


def ended_at(entry: WatchEntry, gone: bool) -> datetime | None:
    """When the task's clock stopped: the server's ``completed_at``; for a finished task
    without one, when it was first seen finished (:func:`finish_seen`); for a task the
    server forgot (``gone``), its last answer. ``None``: still running, or not known."""
    task = entry.task
    if task is None:
        return None
    if gone:
        return entry.checked_at
    if not task.status.is_terminal:
        return None
    if task.completed_at is not None:
        return task.completed_at
    seen = finish_seen(entry)
    return seen.at if seen is not None else None


@dataclass(slots=True)
class Row:
    """One watched task as the dashboard shows it."""

    entry: WatchEntry
    #: The last refresh's error; the row keeps its last known status and shows a marker.
    error: AIReiterError | None = None

    @property
    def ref(self) -> TaskRef:
        return self.entry.ref

    @property
    def label(self) -> str | None:
        return self.entry.label

    @property
    def task(self) -> Task | None:
        return self.entry.task

    @property
    def stale(self) -> bool:
        return self.error is not None

    @property
    def added_at(self) -> datetime:
        return self.entry.added_at

    @property
    def checked_at(self) -> datetime | None:
        return self.entry.checked_at

    @property
    def name(self) -> str:
        return self.entry.label or self.entry.ref.id

    @property
    def gone(self) -> bool:
        """The server answered for this task before and now says it does not know it
        (see :func:`~aireiter_tui.domain.models.forgotten`)."""
        error = self.error
        if error is None:
            return False  # (most rows: read twice a row as a long list is taken in)
        task = self.entry.task
        return forgotten(task.status if task else None, error)

    @property
    def ended_at(self) -> datetime | None:
        """When the task's clock stopped (see :func:`ended_at`)."""
        return ended_at(self.entry, self.gone)


@dataclass(frozen=True, slots=True)
class Transition:
    """A task reached a final status during this session (for a notification)."""

    key: str
    name: str
    status: TaskStatus
    message: str | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one save writes, taken on the thread that owns the session: each row's entry
    by key, in order, and the refs removed meanwhile.

    The entries are the rows' own, not copies: the session never changes an entry in
    place once a snapshot may hold it (an edit or an answer replaces the row's entry with
    a changed copy), so a save thread reads them while the loop goes on."""

    by_key: Mapping[str, WatchEntry]
    removed: frozenset[TaskRef]
    #: The keys of the rows whose entries answers replaced since the last snapshot, when
    #: nothing else changed (no row came, went, moved or was relabelled: the file's lines
    #: are those of the last save); None when anything else did.
    touched: frozenset[str] | None = None

    @property
    def entries(self) -> list[WatchEntry]:
        """The entries in the list's order (walks them all: for the save's thread)."""
        return list(self.by_key.values())


@dataclass(frozen=True, slots=True)
class Saved:
    """What a save found that other processes had done to the file meanwhile."""

    added: list[WatchEntry] = field(default_factory=list)
    dropped: list[TaskRef] = field(default_factory=list)
    relabelled: dict[TaskRef, str | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.dropped or self.relabelled)


#: More credits than any one generation task could cost: such a value is the server's
#: mistake (or an attack on the header's total), flagged on its row and left out of totals.
MAX_PLAUSIBLE_CREDITS: Final = 1e9


def credits_problem(value: float | None) -> str | None:
    """Why a task's ``credits_used`` cannot be real (negative, absurd, not a number)."""
    if value is None or 0.0 <= value <= MAX_PLAUSIBLE_CREDITS:
        return None  # (the usual value in one comparison: NaN fails it; asked per task)
    if not math.isfinite(value):
        return "the credits used are not a number"
    if value < 0:
        return "the credits used are negative"
    if value > MAX_PLAUSIBLE_CREDITS:
        return "the credits used are implausibly large"
    return None


def _add_exactly(partials: list[float], value: float) -> None:
    """Add ``value`` to the exact sum held as non-overlapping ``partials`` (Shewchuk's
    algorithm, as ``math.fsum`` uses): floats added and taken away one by one drift
    (2359.9999999), and the total must come back exactly when tasks are removed."""
    kept = 0
    for other in partials:
        if abs(value) < abs(other):
            value, other = other, value
        high = value + other
        low = other - (high - value)
        if low:
            partials[kept] = low
            kept += 1
        value = high
    partials[kept:] = [value]


def _add_all_exactly(partials: list[float], values: list[float]) -> None:
    """:func:`_add_exactly` each of ``values`` (plausible credits: ``0 <= v <= 1e9``).

    Whole numbers (the usual credits) are summed first: their sum is exact while it
    stays below 2**53, and a part of a list holds a few thousand of at most 1e9 each.
    """
    try:
        whole = len(values) * MAX_PLAUSIBLE_CREDITS < 2.0**53 and all(map(float.is_integer, values))
    except TypeError:  # (an int from a script: Python 3.11's int has no is_integer)
        whole = False
    if whole:
        if values:
            _add_exactly(partials, sum(values))
        return
    for value in values:
        _add_exactly(partials, value)


@dataclass(slots=True)
class Counts:
    """Per-status totals for the header (``unfetched``: never answered, and no error;
    ``gone``: no longer known to the server, counted under no status (see
    :attr:`Row.gone`); ``errors``: every row whose last refresh failed, gone ones too;
    ``credits``: the sum of every plausible ``credits_used``, see :func:`credits_problem`)."""

    by_status: dict[TaskStatus, int] = field(default_factory=dict)
    unfetched: int = 0
    errors: int = 0
    credits: float = 0.0
    total: int = 0
    gone: int = 0


@dataclass(frozen=True, slots=True)
class Longest:
    """The longest watched ID, label and model, in characters (0: none), so the table's
    columns can grow to what they hold."""

    id: int = 0
    label: int = 0
    model: int = 0


class _Lengths:
    """How many watched values have each length, so the longest is known at any time
    (a removal may take the longest away) without a walk over the rows."""

    __slots__ = ("_counts", "_longest")

    def __init__(self) -> None:
        self._counts: Counter[int] = Counter()
        self._longest: int | None = 0

    def add_all(self, lengths: Counter[int]) -> None:
        """:meth:`add` each length, as many times as counted."""
        lengths.pop(0, None)
        if lengths:
            self._counts.update(lengths)
            self._longest = None

    def add(self, length: int, sign: int) -> None:
        if not length:
            return
        counts = self._counts
        counts[length] += sign
        if counts[length] <= 0:
            del counts[length]
        self._longest = None

    @property
    def longest(self) -> int:
        if self._longest is None:
            self._longest = max(self._counts, default=0)
        return self._longest


class Session:
    """Watched rows in insertion order, plus what changed since the last save."""

    def __init__(self, store: WatchlistStore | None, now: Callable[[], datetime]) -> None:
        self.store = store
        self.now = now
        self.rows: dict[str, Row] = {}
        self._removed: set[TaskRef] = set()
        self.dirty = False
        # The credits used, as the exact sum of these floats (see _add_exactly).
        self._credits: list[float] = []
        # Each row's entry by key, in the rows' order: what a snapshot hands a save. An
        # entry in here is never changed in place (see _replace), so a snapshot is a copy
        # of this table, not of any entry (100,000 rows: under a millisecond, and no
        # second entry kept per row).
        self._entries: dict[str, WatchEntry] = {}
        # The rows answers changed since the last snapshot, or None once anything else
        # changed (see Snapshot.touched): a save of answers alone is then a write of
        # their snapshots, not of the whole list (read, merged and written again).
        self._touched: set[str] | None = None
        #: How many times a row came, went, moved or was relabelled.
        self.line_edits = 0
        #: The keys of rows added at the end of ``rows`` (see AppendLog).
        self.appended = AppendLog()
        self._counts = Counts(by_status={status: 0 for status in TaskStatus})
        self._ids, self._labels, self._models = _Lengths(), _Lengths(), _Lengths()
        #: Why the watchlist cannot be saved (a file we could not read is never overwritten).
        self.save_blocked: str | None = None

    # --- saving: snapshot here, write on any thread, take the result back here -------
    def snapshot(self) -> Snapshot:
        """What a save writes; marks the session clean (a failed write calls
        :meth:`save_failed`). No entry is copied (see :class:`Snapshot`)."""
        self.dirty = False
        touched = None if self._touched is None else frozenset(self._touched)
        self._touched = set()
        return Snapshot(self._entries.copy(), frozenset(self._removed), touched)

    def write(self, snapshot: Snapshot, *, write_cache: bool = True) -> Saved:
        """Write ``snapshot`` (blocking). Safe on a worker thread: it reads only the
        snapshot and the store. Returns what the file had from other processes, to hand
        to :meth:`take_saved` on the session's own thread.

        ``write_cache=False`` for frequent saves: see :meth:`WatchlistStore.save`.

        Raises:
            WatchlistError: the file could not be read or written (nothing is lost).
        """
        if self.store is None or self.save_blocked:
            return Saved()
        if snapshot.touched is not None and not write_cache:
            by_key = snapshot.by_key
            touched = [by_key[key] for key in snapshot.touched if key in by_key]
            if self.store.save_snapshots(touched):
                return Saved()
        merged = self.store.save(snapshot.entries, snapshot.removed, write_cache=write_cache)
        known = snapshot.by_key
        merge = self.store.last_merge
        added = [entry for entry in merged if entry.ref.key not in known]
        return Saved(added, merge.dropped, merge.relabelled)

    def _lines_changed(self) -> None:
        """A row came, went, moved or was relabelled: the list's lines are not the file's."""
        self._touched = None
        self.line_edits += 1

    def lines_saved(self) -> None:
        """The list's lines are the file's (read from it, with nothing else changed): the
        next save of answers alone need not write the whole list."""
        if self._touched is None:
            self._touched = set()

    def save_failed(self) -> None:
        """A write failed: everything stays to be saved next time."""
        self.dirty = True
        self._touched = None

    def take_saved(
        self, snapshot: Snapshot, saved: Saved
    ) -> tuple[list[Row], list[Row], list[str]]:
        """Apply what a save found to the live rows: others' additions, removals and
        labels (a label changed here since the snapshot wins). Returns the rows added,
        the rows dropped and the keys relabelled. Looks only at what the save found."""
        if snapshot.removed:
            self._removed -= snapshot.removed
        relabelled = []
        for ref, label in saved.relabelled.items():
            row = self.rows.get(ref.key)
            written = snapshot.by_key.get(ref.key)
            if row is not None and row.entry.label == (written.label if written else None):
                self._relabel(row, label)
                relabelled.append(ref.key)
        dropped = self.forget(saved.dropped)
        return self.adopt(saved.added), dropped, relabelled

    def save(self, *, write_cache: bool = True) -> Saved:
        """Snapshot, write and take back in one blocking call (scripts, and on quit)."""
        snapshot = self.snapshot()
        try:
            saved = self.write(snapshot, write_cache=write_cache)
        except WatchlistError:
            self.save_failed()
            raise
        self.take_saved(snapshot, saved)
        return saved

    def forget(self, refs: Iterable[TaskRef]) -> list[Row]:
        """Drop rows another process removed from the file (not an undoable removal)."""
        return self._drop(ref.key for ref in refs)

    def adopt(self, entries: Iterable[WatchEntry]) -> list[Row]:
        """Take in entries another process added to the file (or a part of the list as
        it is read)."""
        rows, removed, kept, log = self.rows, self._removed, self._entries, self.appended
        added = []
        for entry in entries:
            key = entry.ref.key
            if key not in rows and not (removed and entry.ref in removed):
                row = rows[key] = Row(entry)
                kept[key] = entry
                log.added(key)
                added.append(row)
        if added:
            self._lines_changed()
            self._tally_new(added)
        return added

    # --- edits ----------------------------------------------------------------------
    def add(self, refs: Sequence[TaskRef], label: str | None = None) -> list[Row]:
        added = []
        for ref in refs:
            if ref.key in self.rows:
                continue
            self._removed.discard(ref)
            added.append(self._insert(Row(WatchEntry(ref=ref, label=label, added_at=self.now()))))
        self.dirty = self.dirty or bool(added)
        return added

    def remove(self, keys: Iterable[str]) -> list[Row]:
        removed = self._drop(keys)
        self._removed.update(row.ref for row in removed)
        self.dirty = self.dirty or bool(removed)
        return removed

    def positions(self, keys: Iterable[str]) -> dict[str, int]:
        """Where these rows are in the list (by key; rows not watched are left out)."""
        wanted = set(keys)
        return {key: index for index, key in enumerate(self.rows) if key in wanted}

    def restore(self, rows: Sequence[Row], positions: Mapping[str, int] | None = None) -> None:
        """Undo a removal: put the rows back, each at its index in ``positions`` (as
        :meth:`positions` gave them before the removal) when it has one, else at the end."""
        back: list[tuple[int, str]] = []
        for row in rows:
            self._removed.discard(row.ref)
            key = row.ref.key
            if key not in self.rows:
                self._insert(row)
                if positions is not None and key in positions:
                    back.append((positions[key], key))
        self.dirty = self.dirty or bool(rows)
        if back:
            self._reinsert(sorted(back))

    def _reinsert(self, placed: list[tuple[int, str]]) -> None:
        """Move the rows of ``placed`` (index, key; by index) to those indexes, the others
        keeping their order: one pass, however many come back."""
        moved = {key for _, key in placed}
        others = iter([key for key in self.rows if key not in moved])
        order: list[str] = []
        for index, key in placed:
            order.extend(islice(others, max(0, index - len(order))))
            order.append(key)
        order.extend(others)
        rows = self.rows
        self._lines_changed()
        self.appended.reshaped()
        reordered = {key: rows[key] for key in order}
        # The same dict, reordered in place: others hold on to it.
        rows.clear()
        rows.update(reordered)
        self._entries = {key: row.entry for key, row in reordered.items()}

    def set_label(self, key: str, label: str | None) -> bool:
        row = self.rows.get(key)
        if row is None or row.entry.label == label:
            return False
        self._relabel(row, label)
        self.dirty = True
        return True

    def _relabel(self, row: Row, label: str | None) -> None:
        self._lines_changed()
        self._labels.add(len(row.entry.label or ""), -1)
        entry = row.entry.copy()
        entry.label = label
        self._replace(row, entry)
        self._labels.add(len(label or ""), +1)

    def _replace(self, row: Row, entry: WatchEntry) -> None:
        """Give ``row`` a changed copy of its entry: the one it had may be in a snapshot
        that a save is reading on another thread."""
        row.entry = self._entries[row.ref.key] = entry

    # --- refresh results --------------------------------------------------------------
    def apply(
        self, ref: TaskRef, task: Task | None, error: AIReiterError | None
    ) -> tuple[bool, Transition | None]:
        """Record one refresh outcome. Returns (row changed, final-status transition)."""
        row = self.rows.get(ref.key)
        if row is None:
            return False, None  # removed while the request was in flight
        # Credits change rarely between answers: the exact sum is only touched when they do.
        old_credits = row.entry.task.credits_used if row.entry.task else None
        new_credits = task.credits_used if task else old_credits
        same_credits = old_credits == new_credits
        self._tally(row, -1, credits=not same_credits, names=False)
        if task is None:
            changed = row.error is None or row.error.message != (error.message if error else "")
            row.error = error
            self._tally(row, +1, credits=not same_credits, names=False)
            return changed, None
        before = row.task.status if row.task else None
        had_error = row.error is not None
        row.error = None
        entry = row.entry.copy()
        changed = entry.record(task, self.now()) or had_error
        self._replace(row, entry)
        if self._touched is not None:
            self._touched.add(ref.key)
        self._tally(row, +1, credits=not same_credits, names=False)
        self.dirty = True
        transition = None
        if task.status.is_terminal and before is not None and before != task.status:
            message = task.failure.message if task.failure else None
            transition = Transition(ref.key, row.name, task.status, message)
        return changed, transition

    def counts(self) -> Counts:
        """Per-status totals, kept up to date by every change (no walk over the rows)."""
        counts = self._counts
        # Rounded: adding and taking away floats leaves dust (2359.9999999).
        credits = round(math.fsum(self._credits), 6)
        return Counts(
            dict(counts.by_status),
            counts.unfetched,
            counts.errors,
            credits,
            len(self.rows),
            counts.gone,
        )

    def longest(self) -> Longest:
        """The longest ID, label and model watched now (kept up to date by every change)."""
        return Longest(self._ids.longest, self._labels.longest, self._models.longest)

    def _drop(self, keys: Iterable[str]) -> list[Row]:
        dropped = []
        for key in keys:
            row = self.rows.pop(key, None)
            if row is not None:
                self._lines_changed()
                self.appended.reshaped()
                del self._entries[key]
                self._tally(row, -1)
                dropped.append(row)
        return dropped

    def _insert(self, row: Row) -> Row:
        self._lines_changed()
        self.appended.added(row.ref.key)
        self.rows[row.ref.key] = row
        self._entries[row.ref.key] = row.entry
        self._tally(row, +1)
        return row

    def _tally_new(self, rows: Sequence[Row]) -> None:
        """:meth:`_tally` ``(row, +1)`` of rows that just came (a part of a long list:
        the lengths counted together, no call per row for them)."""
        counts, by_status, credits = self._counts, self._counts.by_status, self._credits
        self._ids.add_all(Counter([len(row.entry.ref.id) for row in rows]))
        self._labels.add_all(Counter([len(row.entry.label or "") for row in rows]))
        models: Counter[int] = Counter()
        values: list[float] = []
        for row in rows:
            task = row.entry.task
            if task is None:
                counts.unfetched += row.error is None
            else:
                models[len(task.model or "")] += 1
                if row.gone:
                    counts.gone += 1
                else:
                    by_status[task.status] += 1
                value = task.credits_used
                if value and credits_problem(value) is None:
                    values.append(value)
            if row.error is not None:
                counts.errors += 1
        _add_all_exactly(credits, values)
        self._models.add_all(models)

    def _tally(self, row: Row, sign: int, *, credits: bool = True, names: bool = True) -> None:
        """Add (``sign`` 1) or take away (-1) one row's share of the counts (``credits``:
        its credits too; ``names``: its ID's and label's lengths too, which no answer
        changes)."""
        counts, task = self._counts, row.entry.task
        if names:
            self._ids.add(len(row.entry.ref.id), sign)
            self._labels.add(len(row.entry.label or ""), sign)
        if task is None:
            # Never answered: "new" until a refresh fails, then it counts as an error.
            counts.unfetched += sign * (row.error is None)
        else:
            self._models.add(len(task.model or ""), sign)
            if row.gone:
                counts.gone += sign
            else:
                counts.by_status[task.status] += sign
            value = task.credits_used
            if credits and value and credits_problem(value) is None:
                _add_exactly(self._credits, value if sign > 0 else -value)
        if row.error is not None:
            counts.errors += sign
