"""The snapshot cache beside the watchlist: what the server last said about each task.

The TOML holds the watched IDs and labels; this file holds, per task, the last snapshot,
the status history and when it was checked, pickled (re-parsing 10,000 snapshots from
JSON takes 0.35 s, unpickling them a third of that). Losing it loses nothing the user
owns: the tasks are queried again.

The file is a sequence of pickles. The first, the *base*, holds every entry and the
digest of the TOML it was written with: when the TOML still has that digest, the base
is the whole watchlist and the TOML need not be parsed. Each later pickle, a *journal
frame*, holds the snapshots that changed since (appending 100 of them takes about a
millisecond, rewriting 10,000 about 0.2 s). A frame cut short by a crash is ignored with
everything after it. The file is read with an unpickler that can build only the
watchlist's own classes, never call anything.
"""

from __future__ import annotations

import contextlib
import gc
import io
import operator
import os
import pickle
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Final

from aireiter_tui.domain.models import Task, TaskFailure, TaskInput, TaskOutput, TaskRef
from aireiter_tui.domain.paths import replace_atomically
from aireiter_tui.domain.watchlist_codec import StatusChange, WatchEntry, visible_state

_CACHE_FORMAT: Final = 4
_CACHE_CLASSES: Final = {
    ("aireiter_tui.domain.models", "Task"),
    ("aireiter_tui.domain.models", "TaskInput"),
    ("aireiter_tui.domain.models", "TaskOutput"),
    ("aireiter_tui.domain.models", "TaskFailure"),
    ("aireiter_tui.domain.models", "TaskStatus"),
    ("aireiter_tui.domain.models", "OutputKind"),
    ("aireiter_tui.domain.models", "IdKind"),
    ("aireiter_tui.domain.models", "TaskRef"),
    ("aireiter_tui.domain.watchlist_codec", "WatchEntry"),
    ("aireiter_tui.domain.watchlist_codec", "StatusChange"),
    ("datetime", "datetime"),
    ("datetime", "timezone"),
    ("datetime", "timedelta"),
}

#: What the cache knows about one task: (snapshot, checked at, status history).
Snapshot = tuple[Task | None, datetime | None, list[StatusChange]]


def snapshot_of(entry: WatchEntry) -> Snapshot:
    return entry.task, entry.checked_at, entry.history


def _reducer(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    # Pickling a slots dataclass the default way calls dataclasses.fields() per object
    # (in Python); rebuilding it with its own __init__ from a tuple is several times faster.
    values = operator.attrgetter(*(f.name for f in fields(cls) if f.init))
    return lambda obj: (cls, values(obj))


_REDUCERS: Final = {
    cls: _reducer(cls)
    for cls in (Task, TaskInput, TaskOutput, TaskFailure, TaskRef, WatchEntry, StatusChange)
}


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building or dumping thousands of objects.

    Those objects are all alive until the end, so the collections the allocations
    trigger find nothing and cost a third of the time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _CacheUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _CACHE_CLASSES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in the cache")


#: Entries per pickle in the base: a reader can show the first part before the rest.
PART_SIZE: Final = 1000


class CacheDamaged(Exception):
    """A part of the base could not be read (the caller falls back to the TOML)."""


@dataclass(frozen=True)
class Header:
    """The base's first pickle: what it was written for and how long the rest is."""

    digest: str
    """The digest of the TOML the base was written with."""
    warnings: list[str]
    parts: int
    end: int
    """Where the base ends in the file (any journal frames follow)."""


@dataclass
class Cached:
    """A cache as read: the base's entries with the journal applied to them."""

    header: Header
    entries: list[WatchEntry]
    snapshots: dict[TaskRef, Snapshot]
    """Every task's latest snapshot, also those only the journal knows."""
    journaled: int
    """How many snapshots the journal holds (the store rewrites a base when it grows)."""


def _read_header(handle: BinaryIO) -> Header | None:
    head = _CacheUnpickler(handle).load()
    if not isinstance(head, dict) or head.get("format") != _CACHE_FORMAT:
        return None
    digest, parts, length = head["digest"], head["parts"], head["length"]
    if not isinstance(digest, str) or not isinstance(parts, int) or not isinstance(length, int):
        return None
    warnings = [str(text) for text in head["warnings"]]
    return Header(digest, warnings, parts, handle.tell() + length)


def _read_parts(handle: BinaryIO, header: Header) -> Iterator[list[WatchEntry]]:
    for _ in range(header.parts):
        try:
            with gc_paused():
                part = _CacheUnpickler(handle).load()
        except Exception as error:
            raise CacheDamaged(type(error).__name__) from None
        if not isinstance(part, list) or not all(isinstance(e, WatchEntry) for e in part):
            raise CacheDamaged("not a list of entries")
        yield part


def _valid_snapshot(item: Any) -> bool:
    return (
        isinstance(item, tuple)
        and len(item) == 4
        and isinstance(item[0], TaskRef)
        and (item[1] is None or isinstance(item[1], Task))
        and (item[2] is None or isinstance(item[2], datetime))
        and isinstance(item[3], list)
        and all(isinstance(change, StatusChange) for change in item[3])
    )


def _read_journal(stream: BinaryIO, snapshots: dict[TaskRef, Snapshot]) -> int:
    """Apply every whole frame to ``snapshots``; return how many snapshots they held."""
    count = 0
    while True:
        try:
            # An unpickler per frame: each frame was pickled on its own, with its own memo.
            frame = _CacheUnpickler(stream).load()
        except EOFError:
            return count
        except Exception:
            # A frame cut short by a crash (or damaged): the snapshots in it and after it
            # are only older news than what the next refresh brings.
            return count
        if not isinstance(frame, list) or not all(_valid_snapshot(item) for item in frame):
            return count
        for ref, task, checked_at, history in frame:
            snapshots[ref] = (task, checked_at, history)
        count += len(frame)


def read_cache(path: Path) -> Cached | None:
    """The cache at ``path``, or ``None`` if it is missing, damaged or of another format."""
    try:
        with path.open("rb") as handle, gc_paused():
            header = _read_header(handle)
            if header is None:
                return None
            entries = [entry for part in _read_parts(handle, header) for entry in part]
            snapshots = {entry.ref: snapshot_of(entry) for entry in entries}
            journaled = _read_journal(handle, snapshots)
            if journaled:
                for entry in entries:
                    entry.task, entry.checked_at, entry.history = snapshots[entry.ref]
        return Cached(header, entries, snapshots, journaled)
    except Exception:
        # Any damage to the base (truncation, an old format, tampering) only means the
        # TOML is parsed and the tasks are queried again.
        return None


def _dump(value: Any) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _REDUCERS  # type: ignore[assignment]
    with gc_paused():
        pickler.dump(value)
    return buffer.getvalue()


def dump_base(digest: str, entries: Sequence[WatchEntry], warnings: list[str]) -> bytes:
    """A whole cache (a base and no journal) for the TOML file with this digest."""
    parts = [_dump(list(entries[at : at + PART_SIZE])) for at in range(0, len(entries), PART_SIZE)]
    length = sum(map(len, parts))
    head = {"format": _CACHE_FORMAT, "digest": digest, "warnings": warnings}
    return b"".join([_dump({**head, "parts": len(parts), "length": length}), *parts])


def dump_frame(entries: Sequence[WatchEntry]) -> bytes:
    """A journal frame holding the snapshots of ``entries``, to append to a cache."""
    return _dump([(entry.ref, *snapshot_of(entry)) for entry in entries])


def attach(entries: Sequence[WatchEntry], snapshots: dict[TaskRef, Snapshot]) -> None:
    """Give parsed entries their cached snapshots (a TOML written by an older version
    may carry its own; the newer of the two wins)."""
    for entry in entries:
        found = snapshots.get(entry.ref)
        if found is None:
            continue
        checked_at = found[1]
        if entry.checked_at is not None and (checked_at is None or checked_at < entry.checked_at):
            continue
        entry.task, entry.checked_at, entry.history = found


#: What the file holds for a task: its snapshot object and its last status change.
_Held = tuple[Task | None, StatusChange | None]


def _held(task: Task | None, history: list[StatusChange]) -> _Held:
    return task, history[-1] if history else None


class SnapshotCache:
    """The cache file at ``path``, and what this process knows is in it.

    Writes must happen under the watchlist's lock (the store holds it when it calls
    :meth:`update`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._held: dict[TaskRef, _Held] | None = None
        self._base_digest: str | None = None
        self._journaled = 0

    def read(self) -> Cached | None:
        """Read the file and remember what it holds (``None``: no usable cache)."""
        with gc_paused():  # see gc_paused: some 100,000 objects, all kept
            cached = read_cache(self.path)
            if cached is None:
                self._held = None
                return None
            self._held = {
                ref: _held(task, history) for ref, (task, _, history) in cached.snapshots.items()
            }
        self._base_digest, self._journaled = cached.header.digest, cached.journaled
        return cached

    def parts(self, digest: str) -> tuple[Header, Iterator[list[WatchEntry]]] | None:
        """The base's entries part by part, if it was written for the TOML with ``digest``
        and no journal follows it; ``None`` otherwise (then :meth:`read` the whole file).

        The iterator raises :class:`CacheDamaged` if a part cannot be read.
        """
        try:
            handle = self.path.open("rb")
        except OSError:
            return None
        try:
            header = _read_header(handle)
            size = os.fstat(handle.fileno()).st_size
        except Exception:
            header = None
        if header is None or header.digest != digest or size != header.end:
            handle.close()
            return None
        return header, self._parts(handle, header)

    def _parts(self, handle: BinaryIO, header: Header) -> Iterator[list[WatchEntry]]:
        held: dict[TaskRef, _Held] = {}
        with handle:
            for part in _read_parts(handle, header):
                held.update((entry.ref, _held(entry.task, entry.history)) for entry in part)
                yield part
        self._held, self._base_digest, self._journaled = held, header.digest, 0

    def update(
        self, digest: str, entries: Sequence[WatchEntry], warnings: list[str], *, rewrite: bool
    ) -> None:
        """Bring the file up to date with ``entries``, written as the TOML with ``digest``.

        Appends the snapshots that changed, or writes a new base when there is none, when
        the journal has grown as large as the list, or when ``rewrite`` and the base is
        out of date in any way.
        """
        changed = self._changed(entries)
        stale = bool(changed) or self._journaled > 0 or self._base_digest != digest
        if (
            self._held is None
            or not self.path.exists()
            or self._journaled + len(changed) > max(len(entries), 100)
            or (rewrite and stale)
        ):
            blob = dump_base(digest, entries, warnings)
            replace_atomically(self.path, blob, f".{self.path.name}.", durable=False)
            self._held = {entry.ref: _held(entry.task, entry.history) for entry in entries}
            self._base_digest, self._journaled = digest, 0
        elif changed:
            blob = dump_frame(changed)
            with self.path.open("ab") as handle:
                handle.write(blob)
            for entry in changed:
                self._held[entry.ref] = _held(entry.task, entry.history)
            self._journaled += len(changed)

    def _changed(self, entries: Sequence[WatchEntry]) -> list[WatchEntry]:
        """Entries whose snapshot or history differs from what the file holds.

        A refresh brings a new snapshot object even when nothing changed; one that shows
        the same is not worth a frame (only its check time would be newer).
        """
        held = self._held or {}
        changed = []
        for entry in entries:
            last = entry.history[-1] if entry.history else None
            known = held.get(entry.ref)
            if known is not None and known[1] is last:
                if known[0] is entry.task:
                    continue
                old, new = known[0], entry.task
                if old is not None and new is not None and visible_state(old) == visible_state(new):
                    held[entry.ref] = (new, last)
                    continue
            changed.append(entry)
        return changed
