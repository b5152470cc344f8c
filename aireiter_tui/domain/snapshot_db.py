"""The snapshot cache beside the watchlist: an SQLite database of what the server last said.

The TOML holds what the user owns (which tasks are watched, their labels); ``<name>.db``
beside it holds, per task, the server's last reply, when it was checked and its status
history, so that a start shows every status before a single query. Losing it loses nothing
the user owns: the tasks are queried again.

Tables (the schema's version is ``PRAGMA user_version``; a file of a newer program's version
is neither read nor written, one of an earlier version is made again):

- ``snapshots``: one row per task: typed columns for what the table shows, sorts and
  filters on (status, model, prompt, the IDs, created and completed times, credits, output
  count, when it was checked, the failure's message), so that a query or a script needs no
  parse; and the reply itself as JSON text. A start builds each task from the columns and
  leaves the reply unparsed until something reads the rest of the task (the detail pane,
  an export, the next answer's comparison): it is then read by
  :func:`~aireiter_tui.domain.models.parse_task`, the same total parser the network's
  answers go through (see :class:`~aireiter_tui.domain.models.Task`). Parsing every
  reply at load cost 15 µs a task, two thirds of reading a row.
- ``history``: the status changes, one row each.
- ``watched``: a copy of the TOML's list (ID, label, when added, the submit's estimate and
  retry link, in order), with the digest of the TOML it copies in ``meta``. While the TOML
  still has that digest a start reads the list from here, a part at a time (the first
  part in milliseconds), instead of parsing the whole TOML before showing anything.

Nothing read is trusted: every value's type is checked, times must be in range, and a
row's checksum (over the columns a task is built from and the reply) must hold (SQLite
checks none: a flipped byte in an ID would otherwise come back as another ID, which the
next save would write into the TOML). A snapshot that fails any of it is a miss for that
task alone (it is queried again); a ``watched`` row that fails has the TOML parsed instead.

Writes run under the watchlist's lock, in one transaction each (WAL, so readers in other
processes are never blocked and never see half a save): the rows that changed since this
process last wrote or read them are upserted, the rows of tasks no longer watched deleted.
Two dashboards and the CLI share the file: each writes only what it saw change, and a
``watched`` copy another process wrote since is rewritten whole.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import secrets
import sqlite3
import stat
import sys
import threading
import zlib
from array import array
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from aireiter_tui.domain.models import (
    NOT_KEPT,
    IdKind,
    Task,
    TaskRef,
    TaskStatus,
    deferred_task,
    validate_task_id,
)
from aireiter_tui.domain.watchlist_codec import (
    MAX_LABEL_LENGTH,
    StatusChange,
    WatchEntry,
    visible_state,
)

#: 2: the checksum covers the columns a loaded task is built from, ``prompt`` holds the
#: whole prompt (as ``Task.prompt`` has it) and the IDs have columns. A file of version 1
#: is made again.
SCHEMA_VERSION: Final = 2
#: Entries per part when the list is read (from the database or the text): a part is
#: taken in on the event loop in one go, and each costs the loop a little besides its rows.
PART_SIZE: Final = 2_000
#: Entries in the first part read from the database: more than a screen shows, and
#: read in a few milliseconds (it is read before the first frame).
FIRST_PART_SIZE: Final = 250
#: How long a writer waits for another process's transaction before giving up this save.
_BUSY_SECONDS: Final = 10.0
#: Keys per ``IN (...)`` list (SQLite's limit on parameters was 999 before 3.32).
_IN_CHUNK: Final = 500
#: The failure's message in its column is for scripts (a task's own is read from the reply).
_FAILURE_EXCERPT: Final = 200

_SCHEMA: Final = f"""
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE watched (
    key TEXT PRIMARY KEY,
    position INTEGER,
    label TEXT,
    added_at INTEGER,
    estimated_credits REAL,
    retry_of TEXT,
    checksum INTEGER
);
CREATE INDEX watched_by_position ON watched (position);
CREATE TABLE snapshots (
    key TEXT PRIMARY KEY,
    status TEXT,
    model TEXT,
    prompt TEXT,
    task_id TEXT,
    out_task_id TEXT,
    created_at INTEGER,
    completed_at INTEGER,
    credits REAL,
    outputs INTEGER,
    checked_at INTEGER,
    failure TEXT,
    reply TEXT,
    checksum INTEGER
);
CREATE TABLE history (
    key TEXT,
    seq INTEGER,
    status TEXT,
    at INTEGER,
    PRIMARY KEY (key, seq)
) WITHOUT ROWID;
PRAGMA user_version = {SCHEMA_VERSION};
"""

#: What the cache knows about one task: (snapshot, checked at, status history).
Snapshot = tuple[Task | None, datetime | None, list[StatusChange]]

_gc_lock = threading.Lock()
_gc_depth = 0
_gc_was_enabled = False


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building thousands of objects that all stay alive (the
    collections their allocations trigger find nothing and cost a third of the time).

    Safe on several threads at once: the GC comes back when the last of them is done.
    """
    global _gc_depth, _gc_was_enabled
    with _gc_lock:
        if _gc_depth == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_was_enabled:
                gc.enable()


# --- values in and out ---------------------------------------------------------------------
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


def _micros(when: datetime) -> int:
    """A time as whole microseconds since the epoch, UTC: exact, and sorts as it should."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - _EPOCH) // _MICROSECOND


def _micros_or_none(when: datetime | None) -> int | None:
    return None if when is None else _micros(when)


class _Bad(Exception):
    """A value read from the file is not what was written there."""


def _time(value: object) -> datetime:
    if type(value) is not int:
        raise _Bad
    try:
        return _EPOCH + _MICROSECOND * value  # (quicker than timedelta(microseconds=))
    except OverflowError:
        raise _Bad from None


_KINDS: Final = {kind.value: kind for kind in IdKind}
#: The statuses a ``status`` column names as themselves (any other label is UNKNOWN's:
#: its raw text).
_KNOWN: Final = {status.value: status for status in TaskStatus if status is not TaskStatus.UNKNOWN}


def _ref(value: object) -> TaskRef:
    if type(value) is not str:
        raise _Bad
    kind, _, ident = value.partition(":")
    known = _KINDS.get(kind)
    if known is None or validate_task_id(ident) is not None:
        raise _Bad
    return TaskRef.keyed(known, ident, value)


def _storable(text: str) -> str:
    """``text`` as SQLite can hold it: a lone surrogate (from a ``\\ud800`` escape in a
    reply, or a broken terminal) cannot be UTF-8, and would fail the whole save."""
    if text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")


def _optional_text(text: str | None, limit: int | None = None) -> str | None:
    if text is None:
        return None
    return _storable(text if limit is None else text[:limit])


_TEXT_OR_NONE: Final = frozenset({str, type(None)})
_INT_OR_NONE: Final = frozenset({int, type(None)})
_FLOAT_OR_NONE: Final = frozenset({float, type(None)})


#: A value that is None, in the text a checksum is taken of (values are joined by \x1f).
_NUL: Final = "\x00"


def _crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


def _watched_checksum(
    key: str,
    position: int,
    label: str | None,
    added: int,
    estimate: float | None,
    retry_of: str | None,
) -> int:
    """The CRC-32 of a ``watched`` row's values, joined by \x1f (None as \x00).

    (One f-string, not a join over the values: taken 200,000 times in a 100,000-task load.)
    """
    return _crc(
        f"{key}\x1f{position}\x1f{_NUL if label is None else label}\x1f{added}\x1f"
        f"{estimate!r}\x1f{_NUL if retry_of is None else retry_of}"
    )


# --- rows ----------------------------------------------------------------------------------
_WATCHED_COLUMNS: Final = "key, position, label, added_at, estimated_credits, retry_of, checksum"
_SNAPSHOT_COLUMNS: Final = (
    "status, model, prompt, task_id, out_task_id, created_at, completed_at, credits, outputs, "
    "checked_at, failure, "
    "reply, checksum"
)
_UPSERT_WATCHED: Final = (
    f"INSERT INTO watched ({_WATCHED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET position = excluded.position, label = excluded.label, "
    "added_at = excluded.added_at, estimated_credits = excluded.estimated_credits, "
    "retry_of = excluded.retry_of, checksum = excluded.checksum"
)
_UPSERT_SNAPSHOT: Final = (
    f"INSERT INTO snapshots (key, {_SNAPSHOT_COLUMNS}) VALUES ({', '.join('?' * 14)}) "
    "ON CONFLICT (key) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _SNAPSHOT_COLUMNS.split(", "))
)

#: What makes an entry's ``watched`` row: a row is written again only when one changes.
_Line = tuple[str | None, datetime, float | None, TaskRef | None]


def _line(entry: WatchEntry) -> _Line:
    return entry.label, entry.added_at, entry.estimated_credits, entry.retry_of


def _watched_row(entry: WatchEntry, position: int) -> tuple[Any, ...]:
    key = entry.ref.key
    label = _optional_text(entry.label)
    added = _micros(entry.added_at)
    estimate = entry.estimated_credits
    retry_of = None if entry.retry_of is None else entry.retry_of.key
    return (
        key,
        position,
        label,
        added,
        estimate,
        retry_of,
        _watched_checksum(key, position, label, added, estimate, retry_of),
    )


def _watched_entry(row: Sequence[Any], snapshot: Snapshot | None = None) -> WatchEntry:
    """The entry of a ``watched`` row (its columns in ``_WATCHED_COLUMNS`` order, first
    in ``row``), with ``snapshot`` if given (built with it: no second pass over it).

    Raises:
        _Bad: any value of the wrong type or range, or the checksum fails.
    """
    key, position, label, added, estimate, retry_of, checksum = row[:7]
    if not (
        type(position) is int
        and type(label) in _TEXT_OR_NONE
        and type(estimate) in _FLOAT_OR_NONE
        and type(retry_of) in _TEXT_OR_NONE
        and type(checksum) is int
    ):
        raise _Bad
    if checksum != _watched_checksum(key, position, label, added, estimate, retry_of):
        raise _Bad
    if label is not None and len(label) > MAX_LABEL_LENGTH:
        raise _Bad
    if estimate is not None and not (math.isfinite(estimate) and estimate >= 0):
        raise _Bad
    task, checked_at, history = snapshot if snapshot is not None else (None, None, [])
    return WatchEntry(
        _ref(key),
        label,
        _time(added),
        task,
        checked_at,
        history,
        estimate,
        None if retry_of is None else _ref(retry_of),
    )


def _reply_text(task: Task) -> str | None:
    """The reply as JSON text (ASCII: lone surrogates escaped), or None when it cannot be
    written (a reply nesting thousands of lists raises ``RecursionError``)."""
    try:
        return json.dumps(task.raw, ensure_ascii=True, separators=(",", ":"))
    except (ValueError, TypeError, RecursionError):
        return None


def _snapshot_row(entry: WatchEntry, task: Task, reply: str) -> tuple[Any, ...]:
    key = entry.ref.key
    status = _storable(task.status_label)
    given = (task.model, task.prompt, task.task_id, task.out_task_id)
    texts = tuple(_optional_text(text) for text in given)
    # A lone surrogate cannot be stored: such a column is not the task's own text.
    changed = sum(1 << bit for bit, text in enumerate(texts) if text != given[bit])
    created = _micros_or_none(task.created_at)
    completed = _micros_or_none(task.completed_at)
    credits = task.credits_used
    outputs = task.output_count
    return (
        key,
        status,
        *texts,
        created,
        completed,
        credits,
        outputs,
        _micros_or_none(entry.checked_at),
        _optional_text(task.failure.message if task.failure else None, _FAILURE_EXCERPT),
        reply,
        _row_checksum(key, reply, status, texts, created, completed, credits, outputs, changed)
        | changed << 32,
    )


def _row_checksum(
    key: str,
    reply: str,
    status: str,
    texts: Sequence[str | None],
    created: int | None,
    completed: int | None,
    credits: float | None,
    outputs: int,
    changed: int,
) -> int:
    """The CRC-32 of what a loaded task is built from (the columns it takes as they are,
    the reply the rest is read from later, and which texts were changed to be stored:
    those bits, one per text column, are kept above the CRC in the ``checksum`` column)."""
    # (+ 0.0: SQLite stores -0.0 as 0.0; the two are equal, and must check alike)
    credits = None if credits is None else credits + 0.0
    model, prompt, task_id, out_task_id = texts
    return _crc(
        f"{key}\x1f{reply}\x1f{status}\x1f{_NUL if model is None else model}\x1f"
        f"{_NUL if prompt is None else prompt}\x1f{_NUL if task_id is None else task_id}\x1f"
        f"{_NUL if out_task_id is None else out_task_id}\x1f"
        f"{_NUL if created is None else created}\x1f{_NUL if completed is None else completed}"
        f"\x1f{credits!r}\x1f{outputs}\x1f{changed}"
    )


#: The text columns a task takes (model, prompt, task_id, out_task_id): one bit each in a
#: row's ``changed``.
_TEXTS: Final = 4


def _history(rows: Iterable[Sequence[Any]]) -> list[StatusChange]:
    """Raises: _Bad, OverflowError."""
    history = []
    for status, at in rows:
        if type(status) is not str or type(at) is not int:
            raise _Bad
        history.append(StatusChange(status, _EPOCH + _MICROSECOND * at))
    return history


def _snapshot(key: str, values: Sequence[Any], history: Sequence[Sequence[Any]]) -> Snapshot:
    """A task's snapshot from its ``snapshots`` row (``values``: the columns after the
    key) and its ``history`` rows.

    The task is built from the typed columns, its reply left as text to be parsed when
    first needed (see :func:`~aireiter_tui.domain.models.deferred_task`): the checksum
    covers every column the task takes and the reply, so a row that passes it is what
    this program wrote, from ``parse_task`` of that same reply. (A reply that is not a
    task cannot pass it; if one ever did, reading it gives a task with a warning.)

    Raises:
        _Bad: a value of the wrong type or range, or a checksum that fails.
    """
    (
        status,
        model,
        prompt,
        task_id,
        out_task_id,
        created,
        completed,
        credits,
        outputs,
        checked,
        failure,
        reply,
        checksum,
    ) = values
    texts: tuple[Any, ...] = (model, prompt, task_id, out_task_id)
    # (type() in a set: no call per value, 100,000 rows at a start)
    if not (
        type(status) is str
        and type(model) in _TEXT_OR_NONE
        and type(prompt) in _TEXT_OR_NONE
        and type(task_id) in _TEXT_OR_NONE
        and type(out_task_id) in _TEXT_OR_NONE
        and type(created) in _INT_OR_NONE
        and type(completed) in _INT_OR_NONE
        and type(credits) in _FLOAT_OR_NONE
        and type(outputs) is int
        and type(checked) in _INT_OR_NONE
        and type(failure) in _TEXT_OR_NONE
        and type(reply) is str
        and type(checksum) is int
    ):
        raise _Bad
    changed = checksum >> 32
    if not 0 <= changed < 1 << _TEXTS or checksum & 0xFFFFFFFF != (
        _row_checksum(key, reply, status, texts, created, completed, credits, outputs, changed)
    ):
        raise _Bad
    if outputs < 0 or (credits is not None and not math.isfinite(credits)):
        raise _Bad
    if changed:
        texts = tuple(NOT_KEPT if changed >> bit & 1 else text for bit, text in enumerate(texts))
    elif model is not None:
        # One string per model, not one per task (a few models across 100,000 tasks).
        texts = (sys.intern(model), prompt, task_id, out_task_id)
    try:  # (the times inline: five calls a row to a helper cost 0.1 s at 100,000)
        task = deferred_task(
            reply,
            _KNOWN.get(status, TaskStatus.UNKNOWN),
            None if created is None else _EPOCH + _MICROSECOND * created,
            None if completed is None else _EPOCH + _MICROSECOND * completed,
            credits,
            outputs,
            *texts,
        )
        return (
            task,
            None if checked is None else _EPOCH + _MICROSECOND * checked,
            _history(history),
        )
    except OverflowError:
        raise _Bad from None


def _snapshot_or_none(
    key: str, values: Sequence[Any], history: Sequence[Sequence[Any]]
) -> Snapshot | None:
    try:
        return _snapshot(key, values, history)
    except _Bad:
        return None


class _Outdated(sqlite3.DatabaseError):
    """The file is an earlier version's cache: it is made again (its snapshots are only
    news the next queries bring back)."""


class MirrorDamaged(Exception):
    """A ``watched`` row could not be read: the TOML must be parsed instead."""


def _damaged(error: sqlite3.Error) -> bool:
    """Whether ``error`` says the file is not a usable database of ours (then it is made
    again), rather than busy, locked, read-only or out of space (then it is left as is)."""
    if isinstance(error, _Outdated):
        return True
    code = getattr(error, "sqlite_errorcode", None)
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return True
    message = str(error)
    return "no such table" in message or "no such column" in message or "malformed" in message


# --- reading -------------------------------------------------------------------------------
class Reader:
    """One consistent read of the database (a read transaction: a save by another process
    meanwhile is not seen half-way), closed with :meth:`close`."""

    def __init__(self, db: SnapshotDB, connection: sqlite3.Connection) -> None:
        self._db = db
        self._connection = connection
        self._digest = ""
        connection.execute("BEGIN")

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._connection.close()

    def mirror(self, digest: str) -> tuple[int, list[str]] | None:
        """How many entries the ``watched`` copy holds and the warnings the TOML was read
        with, if it copies the TOML with ``digest``; else None."""
        self._digest = digest
        try:
            meta = dict(self._connection.execute("SELECT name, value FROM meta").fetchall())
            if not digest or meta.get("digest") != digest:
                return None
            warnings = json.loads(meta.get("warnings", "[]"))
            # A row lost to a damaged page would leave the copy short while every row
            # left checks out: the count and the sum of the checksums must be the ones
            # written. And the parts, read by position, must meet every row once.
            count, total, placed, distinct = self._connection.execute(
                "SELECT count(*), total(checksum), "
                "count(*) FILTER (WHERE typeof(position) = 'integer' AND position >= 0), "
                "count(DISTINCT position) FROM watched"
            ).fetchone()
            if meta.get("rows") != f"{count}:{int(total)}" or not count == placed == distinct:
                return None
        except (sqlite3.Error, ValueError, TypeError):
            return None
        if type(warnings) is not list or not all(type(w) is str for w in warnings):
            return None
        return count, warnings

    def mirror_parts(self, *, snapshots: bool = True) -> Iterator[list[WatchEntry]]:
        """The ``watched`` copy in order, :data:`FIRST_PART_SIZE` entries in the first
        part and :data:`PART_SIZE` in each other, each entry with its snapshot when
        ``snapshots`` (a snapshot that cannot be read is left out).

        Raises:
            MirrorDamaged: a row could not be read (at the ``next()`` that met it).
        """
        select = f"SELECT w.{_WATCHED_COLUMNS.replace(', ', ', w.')}"
        if snapshots:
            select += ", s." + _SNAPSHOT_COLUMNS.replace(", ", ", s.")
            select += " FROM watched w LEFT JOIN snapshots s ON s.key = w.key"
        else:
            select += " FROM watched w"
        query = f"{select} WHERE w.position > ? ORDER BY w.position LIMIT ?"
        after, size = -1, FIRST_PART_SIZE
        # What the file holds, for the next write (read whole: the file's copy).
        read = _ReadBack(self._digest, snapshots)
        while True:
            try:
                rows = self._connection.execute(query, (after, size)).fetchall()
            except sqlite3.Error:
                raise MirrorDamaged from None
            size = PART_SIZE
            if not rows:
                self._db.knew(read)
                return
            first, after = rows[0][1], rows[-1][1]
            if type(first) is not int or type(after) is not int:
                raise MirrorDamaged
            try:
                history = self._history_between(first, after) if snapshots else {}
            except sqlite3.Error:
                raise MirrorDamaged from None
            part = []
            with gc_paused():
                for row in rows:
                    snapshot = None
                    if snapshots and row[7] is not None:
                        # (None for a row that cannot be read: that task alone is queried)
                        snapshot = _snapshot_or_none(row[0], row[7:], history.get(row[0], ()))
                    try:
                        part.append(_watched_entry(row, snapshot))
                    except _Bad:
                        raise MirrorDamaged from None
                read.add(part, [row[1] for row in rows])
            yield part

    def snapshots(self, entries: Sequence[WatchEntry]) -> None:
        """Give parsed entries their snapshots from the database (a TOML written by an
        older version may carry its own: the newer of the two wins)."""
        keys = [entry.ref.key for entry in entries]
        found: dict[str, tuple[Any, ...]] = {}
        history: dict[str, list[tuple[Any, Any]]] = {}
        try:
            for at in range(0, len(keys), _IN_CHUNK):
                chunk = keys[at : at + _IN_CHUNK]
                marks = ", ".join("?" * len(chunk))
                for row in self._connection.execute(
                    f"SELECT key, {_SNAPSHOT_COLUMNS} FROM snapshots WHERE key IN ({marks})", chunk
                ):
                    found[row[0]] = row[1:]
                for key, status, at_ in self._connection.execute(
                    f"SELECT key, status, at FROM history WHERE key IN ({marks}) ORDER BY key, seq",
                    chunk,
                ):
                    history.setdefault(key, []).append((status, at_))
        except sqlite3.Error:
            return  # what was found is kept; the rest are queried again
        with gc_paused():
            for entry in entries:
                values = found.get(entry.ref.key)
                if values is not None:
                    self._attach(entry, values, history.get(entry.ref.key, []))

    def _history_between(self, first: int, last: int) -> dict[str, list[tuple[Any, Any]]]:
        history: dict[str, list[tuple[Any, Any]]] = {}
        rows = self._connection.execute(
            "SELECT h.key, h.status, h.at FROM watched w JOIN history h ON h.key = w.key "
            "WHERE w.position BETWEEN ? AND ? ORDER BY h.key, h.seq",
            (first, last),
        )
        for key, status, at in rows:
            history.setdefault(key, []).append((status, at))
        return history

    def _attach(self, entry: WatchEntry, values: Sequence[Any], history: Sequence[Any]) -> None:
        """Give a parsed ``entry`` its snapshot from a row, and remember that the file
        holds it."""
        snapshot = _snapshot_or_none(entry.ref.key, values, history)
        if snapshot is None:
            return  # this task alone is queried again
        task, checked_at, changes = snapshot
        if entry.checked_at is not None and (checked_at is None or checked_at < entry.checked_at):
            return  # the TOML of an older version carried newer news
        entry.task, entry.checked_at, entry.history = task, checked_at, changes
        self._db.saw(entry)


# --- the database --------------------------------------------------------------------------
#: What the file holds for a task: its snapshot object, its last status change, and when it
#: was checked.
_Held = tuple[Task | None, StatusChange | None, datetime | None]


def _held(entry: WatchEntry) -> _Held:
    return entry.task, entry.history[-1] if entry.history else None, entry.checked_at


class _ReadBack:
    """What a whole read of the ``watched`` copy found, entry by entry, as it was then
    (a caller may change an entry in place afterwards): kept in flat lists, and made
    into :class:`SnapshotDB`'s tables only when a write needs them (built as each row
    was read, they held up reading a long list, and took room while it was shown)."""

    __slots__ = ("checked", "digest", "lasts", "lines", "places", "refs", "snapshots", "tasks")

    def __init__(self, digest: str, snapshots: bool) -> None:
        self.digest, self.snapshots = digest, snapshots
        self.refs: list[TaskRef] = []
        self.places = array("q")
        self.lines: list[_Line] = []
        self.tasks: list[Task | None] = []
        self.lasts: list[StatusChange | None] = []
        self.checked: list[datetime | None] = []

    def add(self, entries: list[WatchEntry], places: list[int]) -> None:
        """Note a part as read (``places``: each entry's position), a list at a time."""
        self.refs += [entry.ref for entry in entries]
        self.places.extend(places)
        self.lines += map(_line, entries)
        if self.snapshots:
            self.tasks += [entry.task for entry in entries]
            self.lasts += [entry.history[-1] if entry.history else None for entry in entries]
            self.checked += [entry.checked_at for entry in entries]


class SnapshotDB:
    """The database at ``path``, and what this process knows is in it.

    Writes must happen under the watchlist's lock (the store holds it when it calls
    :meth:`update`); reads need no lock.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        # Each task's snapshot as this process last wrote or read it (unchanged since: not
        # written again); None: nothing known, every snapshot is written.
        self._held: dict[TaskRef, _Held] | None = {}
        # The watched copy as this process last wrote it: each ref's position and line,
        # valid while the file's digest is the one written with it.
        self._mirror: dict[TaskRef, tuple[int, _Line]] | None = None
        self._mirror_digest: str | None = None
        # What the last whole read found, not yet taken into _mirror and _held.
        self._read_back: _ReadBack | None = None
        # Which file this process knows (a file made again is another): see _write.
        self._origin: str | None = None

    def knew(self, read: _ReadBack) -> None:
        """Remember what a reader found, whole: taken in when a write first needs it
        (see :meth:`_settle`)."""
        self._settle()
        self._read_back = read

    def saw(self, entry: WatchEntry) -> None:
        """Remember that the file holds ``entry``'s snapshot (a reader found it there)."""
        self._settle()
        if self._held is not None:
            self._held[entry.ref] = _held(entry)

    def _settle(self) -> None:
        """Take in what the last whole read found (see :meth:`knew`)."""
        read, self._read_back = self._read_back, None
        if read is None:
            return
        self._mirror = dict(zip(read.refs, zip(read.places, read.lines, strict=True), strict=True))
        self._mirror_digest = read.digest
        held = self._held
        if read.snapshots and held is not None:
            for ref, task, last, checked in zip(
                read.refs, read.tasks, read.lasts, read.checked, strict=True
            ):
                if task is not None:
                    held[ref] = task, last, checked

    # --- opening ---------------------------------------------------------------------
    def _kind(self) -> str:
        try:
            mode = os.lstat(self.path).st_mode
        except FileNotFoundError:
            return "missing"
        except OSError:
            return "other"
        return "file" if stat.S_ISREG(mode) else "other"

    def _connect(self) -> sqlite3.Connection:
        # check_same_thread off: a read goes on across the loader's threads, one at a time.
        connection = sqlite3.connect(
            self.path, timeout=_BUSY_SECONDS, isolation_level=None, check_same_thread=False
        )
        # A crash may lose the last save (its news come again with the next query), never
        # the file: WAL stays consistent without a sync per transaction.
        connection.execute("PRAGMA synchronous = NORMAL")
        return connection

    def reader(self) -> Reader | None:
        """A read of the file, or None: missing, not a regular file (a FIFO is never
        opened), not a database, or of another schema version."""
        self._settle()
        if self._kind() != "file":
            return None
        connection = None
        try:
            connection = self._connect()
            (version,) = connection.execute("PRAGMA user_version").fetchone()
            if version != SCHEMA_VERSION:
                connection.close()
                return None
            reader = Reader(self, connection)
            (origin,) = connection.execute(
                "SELECT value FROM meta WHERE name = 'origin'"
            ).fetchone() or (None,)
        except sqlite3.Error:
            if connection is not None:
                connection.close()
            return None
        if origin != self._origin:
            self._origin, self._held = origin, {}
        return reader

    def _open_for_writing(self) -> sqlite3.Connection | None:
        """A connection to write with, the file made first if need be; None when the file
        is another program's (a newer schema version) or cannot be made."""
        kind = self._kind()
        if kind == "other":
            # A FIFO, a symlink or a device in the cache's place is not ours to write
            # through; a directory cannot be removed and the cache is then skipped.
            try:
                self.path.unlink()
            except OSError:
                return None
        connection = self._connect()
        try:
            (version,) = connection.execute("PRAGMA user_version").fetchone()
            if version == 0:
                self._create(connection)
            elif version < SCHEMA_VERSION:
                raise _Outdated(f"a cache of schema version {version}")
            elif version != SCHEMA_VERSION:
                connection.close()
                return None
        except BaseException:
            connection.close()
            raise
        return connection

    def _create(self, connection: sqlite3.Connection) -> None:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("BEGIN IMMEDIATE")
        try:
            (version,) = connection.execute("PRAGMA user_version").fetchone()
            if version == 0:  # (another process may have made it meanwhile)
                (tables,) = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
                if tables:
                    raise sqlite3.DatabaseError("no such table: a database that is not ours")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(
                    "INSERT INTO meta VALUES ('origin', ?), ('digest', ''), ('warnings', '[]')",
                    (secrets.token_hex(8),),
                )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def _remove(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                self.path.with_name(self.path.name + suffix).unlink()

    # --- writing ---------------------------------------------------------------------
    def update(
        self, digest: str, entries: Sequence[WatchEntry], warnings: list[str], *, rewrite: bool
    ) -> None:
        """Bring the file up to date with ``entries``, written as the TOML with ``digest``
        ("": a TOML the entries cannot be read back from; the copy is then never used).

        Upserts the snapshots that changed and the ``watched`` rows whose line or place
        changed, deletes the rows of tasks no longer watched, in one transaction.
        ``rewrite`` (on quit) also writes when each task was last checked, and leaves the
        WAL folded back into the file.

        Raises:
            sqlite3.Error, OSError: the file could not be written; what it holds is then
                forgotten, so the next update writes everything.
        """
        self._settle()
        try:
            try:
                self._write_once(digest, entries, warnings, rewrite)
            except sqlite3.DatabaseError as error:
                if not _damaged(error):
                    raise
                # Not a database, or not ours any more: a cache is made again.
                self._remove()
                self._held, self._mirror = None, None
                self._write_once(digest, entries, warnings, rewrite)
        except BaseException:
            self._held, self._mirror = None, None
            raise

    def update_snapshots(self, entries: Sequence[WatchEntry]) -> bool:
        """Write the snapshots of ``entries`` that changed, and nothing else (their list
        is the ``watched`` copy's already). Returns False, having written nothing, when
        this process does not know what the file holds (made again by another process, a
        write that failed, nothing read yet): :meth:`update` is then needed.

        A failure is not raised: the cache is only a shortcut (the next update writes
        everything).
        """
        self._settle()
        held = self._held
        if held is None or self._origin is None:
            return False
        try:
            connection = self._open_for_writing()
            if connection is None:
                return True  # another program's file: never written (as update does)
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    (origin,) = connection.execute(
                        "SELECT value FROM meta WHERE name = 'origin'"
                    ).fetchone() or (None,)
                    if origin != self._origin:
                        connection.execute("ROLLBACK")
                        return False
                    self._write_snapshots(connection, self._changed(entries, held), held)
                    connection.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        connection.execute("ROLLBACK")
                    raise
            finally:
                connection.close()
        except (sqlite3.Error, OSError):
            # (held may name rows the rollback undid: nothing it says is trusted now)
            self._held, self._mirror = None, None
            return False
        return True

    def _write_once(
        self, digest: str, entries: Sequence[WatchEntry], warnings: list[str], rewrite: bool
    ) -> None:
        connection = self._open_for_writing()
        if connection is None:
            return
        try:
            self._write(connection, digest, entries, warnings, rewrite)
        finally:
            connection.close()

    def _write(
        self,
        connection: sqlite3.Connection,
        digest: str,
        entries: Sequence[WatchEntry],
        warnings: list[str],
        rewrite: bool,
    ) -> None:
        connection.execute("BEGIN IMMEDIATE")
        try:
            meta = dict(connection.execute("SELECT name, value FROM meta").fetchall())
            if meta.get("origin") != self._origin:
                # Made again since this process last saw it (or never seen): nothing it
                # holds is known.
                self._origin, self._held, self._mirror = meta.get("origin"), None, None
            if meta.get("digest") != self._mirror_digest:
                self._mirror = None  # another process wrote its own copy since
            held = self._held or {}
            changed = self._changed(entries, held)
            gone = self._write_watched(connection, entries, meta.get("digest"), digest)
            if self._held is not None:
                present = {entry.ref for entry in entries}
                gone.update(ref.key for ref in held if ref not in present)
            self._write_snapshots(connection, changed, held)
            if gone:
                rows = [(key,) for key in gone]
                connection.executemany("DELETE FROM snapshots WHERE key = ?", rows)
                connection.executemany("DELETE FROM history WHERE key = ?", rows)
            if self._held is None or rewrite:
                # Rows of tasks no one watches any more (dropped while nothing was known).
                for table in ("snapshots", "history"):
                    connection.execute(
                        f"DELETE FROM {table} WHERE key NOT IN (SELECT key FROM watched)"
                    )
            if rewrite:
                self._write_checked(connection, entries, held)
            said = json.dumps(warnings)
            if meta.get("warnings") != said:
                connection.execute("UPDATE meta SET value = ? WHERE name = 'warnings'", (said,))
            connection.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise
        for ref in _refs_of(gone):
            held.pop(ref, None)
        self._held = held
        if rewrite:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _write_watched(
        self,
        connection: sqlite3.Connection,
        entries: Sequence[WatchEntry],
        on_file: str | None,
        digest: str,
    ) -> set[str]:
        """Bring the ``watched`` copy to ``entries``; returns the keys it dropped."""
        mirror = self._mirror
        if mirror is not None and on_file == digest and self._mirror_digest == digest:
            return set()  # the copy is this TOML already
        new: dict[TaskRef, tuple[int, _Line]] = {}
        rows = []
        last = -1
        for entry in entries:
            known = mirror.get(entry.ref) if mirror is not None else None
            line = _line(entry)
            # Kept where the order allows: removals leave gaps, additions go after.
            position = known[0] if known is not None and known[0] > last else last + 1
            last = position
            new[entry.ref] = (position, line)
            if known != (position, line):
                rows.append(_watched_row(entry, position))
        if mirror is None:
            dropped = {
                key
                for (key,) in connection.execute("SELECT key FROM watched")
                if type(key) is not str or not _still(key, new)
            }
            connection.execute("DELETE FROM watched")
        else:
            dropped = {ref.key for ref in mirror if ref not in new}
            connection.executemany("DELETE FROM watched WHERE key = ?", [(k,) for k in dropped])
        connection.executemany(_UPSERT_WATCHED, rows)
        connection.execute("UPDATE meta SET value = ? WHERE name = 'digest'", (digest,))
        count, total = connection.execute(
            "SELECT count(*), total(checksum) FROM watched"
        ).fetchone()
        connection.execute(
            "INSERT OR REPLACE INTO meta VALUES ('rows', ?)", (f"{count}:{int(total)}",)
        )
        self._mirror, self._mirror_digest = new, digest
        return {key for key in dropped if type(key) is str}

    def _write_snapshots(
        self,
        connection: sqlite3.Connection,
        changed: Sequence[WatchEntry],
        held: dict[TaskRef, _Held],
    ) -> None:
        snapshots: list[tuple[Any, ...]] = []
        keys: list[tuple[str]] = []
        history: list[tuple[str, int, str, int]] = []
        for entry in changed:
            task = entry.task
            assert task is not None  # (_changed leaves out entries without one)
            held[entry.ref] = _held(entry)
            reply = _reply_text(task)
            if reply is None:
                continue  # the file keeps older news of it: it is queried again
            key = entry.ref.key
            snapshots.append(_snapshot_row(entry, task, reply))
            keys.append((key,))
            history.extend(
                (key, seq, _storable(change.status), _micros(change.at))
                for seq, change in enumerate(entry.history)
            )
        connection.executemany(_UPSERT_SNAPSHOT, snapshots)
        connection.executemany("DELETE FROM history WHERE key = ?", keys)
        connection.executemany("INSERT INTO history VALUES (?, ?, ?, ?)", history)

    def _write_checked(
        self,
        connection: sqlite3.Connection,
        entries: Sequence[WatchEntry],
        held: dict[TaskRef, _Held],
    ) -> None:
        """When each task was last checked, for those checked since their snapshot was
        written with nothing new (the frequent saves leave those out)."""
        rows = []
        for entry in entries:
            known = held.get(entry.ref)
            if known is not None and entry.checked_at is not None and known[2] != entry.checked_at:
                rows.append((_micros(entry.checked_at), entry.ref.key))
                held[entry.ref] = (known[0], known[1], entry.checked_at)
        connection.executemany("UPDATE snapshots SET checked_at = ? WHERE key = ?", rows)

    @staticmethod
    def _changed(entries: Sequence[WatchEntry], held: dict[TaskRef, _Held]) -> list[WatchEntry]:
        """Entries whose snapshot or history differs from what the file holds.

        A refresh brings a new snapshot object even when nothing changed; one that shows
        the same is not worth a write (only its check time would be newer: see
        ``rewrite``). An entry without a snapshot has no news: the file's is kept.
        """
        changed = []
        for entry in entries:
            if entry.task is None:
                continue
            last = entry.history[-1] if entry.history else None
            known = held.get(entry.ref)
            if known is not None and known[1] is last:
                if known[0] is entry.task:
                    continue
                old, new = known[0], entry.task
                if old is not None and visible_state(old) == visible_state(new):
                    held[entry.ref] = (new, last, known[2])
                    continue
            changed.append(entry)
        return changed


def _still(key: str, watched: dict[TaskRef, tuple[int, _Line]]) -> bool:
    try:
        return _ref(key) in watched
    except _Bad:
        return False


def _refs_of(keys: Iterable[str]) -> Iterator[TaskRef]:
    """The refs of row keys (a key that is not valid is nobody's)."""
    for key in keys:
        with contextlib.suppress(_Bad):
            yield _ref(key)
