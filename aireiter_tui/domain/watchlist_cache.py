"""The snapshot cache beside the watchlist: what the server last said about each task.

The TOML holds the watched IDs and labels; this file holds, per task, the last snapshot,
the status history and when it was checked, pickled (re-parsing 10,000 snapshots from
JSON takes 0.35 s, unpickling them a third of that). Losing it loses nothing the user
owns: the tasks are queried again.

The file is a sequence of frames, each a pickle behind its length and CRC-32. The first
frames, the *base*, hold a header (the digest of the TOML they were written with) and
every entry: when the TOML still has that digest, the base is the whole watchlist and the
TOML need not be parsed. Each later frame, a *journal frame*, holds the snapshots that
changed since (appending 100 of them takes about a millisecond, rewriting 10,000 about
0.2 s). The checksums matter: a flipped byte inside a pickled ID still unpickles, as
another ID, which the next save would write into the TOML. A frame that is cut short,
fails its checksum or holds the wrong shapes ends the journal (the next save writes a new
base); in the base it means the TOML is parsed. The file is read with an unpickler that
can build only the watchlist's own classes, never call anything, and everything it builds
is checked field by field before anyone sees it.

A snapshot that cannot be pickled (a reply nesting thousands of lists raises
``RecursionError``) is left out on its own: that task is queried again, the others keep
theirs.
"""

from __future__ import annotations

import contextlib
import gc
import io
import operator
import os
import pickle
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Final

from aireiter_tui.domain.models import (
    IdKind,
    OutputKind,
    Task,
    TaskFailure,
    TaskInput,
    TaskOutput,
    TaskRef,
    TaskStatus,
)
from aireiter_tui.domain.paths import open_regular, replace_atomically
from aireiter_tui.domain.watchlist_codec import (
    MAX_LABEL_LENGTH,
    StatusChange,
    WatchEntry,
    visible_state,
)

# 5: frames with a length and a checksum (4 was bare pickles; it is ignored: the tasks are
# queried once more). 6: entries carry estimated_credits and retry_of. A format-5 base is
# still read: its entries unpickle with the six fields they had, the two new ones default
# to None (an older version ignores a format-6 cache and parses the TOML).
_CACHE_FORMAT: Final = 6
_READABLE_FORMATS: Final = frozenset({5, 6})
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
    """A frame could not be read or holds the wrong shapes (the caller falls back)."""


@dataclass(frozen=True)
class Header:
    """The base's first frame: what it was written for and how long the rest is."""

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
    clean_end: bool = True
    """Whether the journal ended at the end of the file (else frames must not be appended)."""


#: Before each frame's pickle: its length and its CRC-32.
_FRAME: Final = struct.Struct("<QI")


def _framed(payload: bytes) -> bytes:
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


class _Frames:
    """Reads the frames of an open cache file, up to its size when opened (a frame another
    process appends meanwhile is for its next reader)."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.size = os.fstat(handle.fileno()).st_size
        self.position = handle.tell()

    def at_end(self) -> bool:
        return self.position >= self.size

    def load(self, valid: Callable[[Any], bool]) -> Any:
        """The next frame's value, if its checksum holds and ``valid`` accepts it.

        Raises:
            CacheDamaged: cut short, failing its checksum, not unpickling, or not valid.
        """
        head = self.handle.read(_FRAME.size)
        if len(head) < _FRAME.size:
            raise CacheDamaged("cut short")
        length, checksum = _FRAME.unpack(head)
        # Checked before reading: a damaged length must not ask for gigabytes.
        if length > self.size - self.position - _FRAME.size:
            raise CacheDamaged("cut short")
        payload = self.handle.read(length)
        self.position += _FRAME.size + length
        if len(payload) != length or zlib.crc32(payload) != checksum:
            raise CacheDamaged("checksum")
        try:
            with gc_paused():
                value = _CacheUnpickler(io.BytesIO(payload)).load()
            # Inside the try: a crafted object may lack the attributes a check reads.
            if valid(value):
                return value
        except Exception as error:
            raise CacheDamaged(type(error).__name__) from None
        raise CacheDamaged("wrong shape")


# The checks below run on everything read from the file, about 1 µs an entry: the
# unpickler builds our classes from whatever arguments the file gives, and a field of the
# wrong type would crash whatever reads it first (a sort, the TOML encoder), far from here.
# ``type(x) is`` rather than isinstance: nothing in the file may be a subclass, and it is
# faster.


def _is_time(value: object) -> bool:
    # Every time here is in UTC (the parsers and clocks make them so): comparing a naive
    # one with an aware one raises TypeError, and one at the edge of the range in another
    # offset raises OverflowError when written back in UTC.
    return type(value) is datetime and value.tzinfo is UTC


def _is_time_or_none(value: object) -> bool:
    return value is None or (type(value) is datetime and value.tzinfo is UTC)


_ONLY_STR: Final = frozenset({str})


def _are_strs(values: object, container: type) -> bool:
    # map(type) and the set test run in C: no Python frame per item.
    return type(values) is container and _ONLY_STR.issuperset(map(type, values))  # type: ignore[call-overload]


def _valid_ref(ref: object) -> bool:
    return (
        type(ref) is TaskRef
        and type(ref.kind) is IdKind
        and type(ref.id) is str
        and ref.key == f"{ref.kind.value}:{ref.id}"  # (the key can be set apart from them)
    )


def _valid_input(given: object) -> bool:
    return (
        type(given) is TaskInput
        and (given.model is None or type(given.model) is str)
        and type(given.params) is dict
        and _are_strs(given.attachments, tuple)
        and type(given.url_lists) is dict
        and all(_are_strs(urls, tuple) for urls in given.url_lists.values())
        and type(given.attachments_omitted) is int
        and type(given.url_lists_omitted) is dict
    )


def _valid_task(task: object) -> bool:
    # Written out rather than composed: this runs 10,000 times at every start, and in
    # Python each call costs as much as several checks.
    if task is None:
        return True
    if not (
        type(task) is Task
        and type(task.status) is TaskStatus
        and (task.task_id is None or type(task.task_id) is str)
        and (task.status_raw is None or type(task.status_raw) is str)
        and (task.out_task_id is None or type(task.out_task_id) is str)
        and _is_time_or_none(task.created_at)
        and _is_time_or_none(task.completed_at)
        and (task.input is None or _valid_input(task.input))
        and (task.failure is None or type(task.failure) is TaskFailure)
        and (task.credits_used is None or type(task.credits_used) is float)
        and (task.metadata is None or type(task.metadata) is dict)
        and type(task.outputs) is tuple
        and type(task.outputs_omitted) is int
        and (not task.warnings or _are_strs(task.warnings, tuple))
    ):
        return False
    if task.failure is not None and type(task.failure.message) is not str:
        return False
    for output in task.outputs:
        if not (
            type(output) is TaskOutput
            and type(output.url) is str
            and type(output.kind) is OutputKind
        ):
            return False
    return True


def _valid_history(history: object) -> bool:
    if type(history) is not list:
        return False
    for change in history:
        if not (
            type(change) is StatusChange
            and type(change.status) is str
            and type(change.at) is datetime
            and change.at.tzinfo is UTC
        ):
            return False
    return True


def _valid_entry(entry: object) -> bool:
    return (
        type(entry) is WatchEntry
        and _valid_ref(entry.ref)
        # Longer ones are cut when the TOML is read, and when it is written: not ours.
        and (
            entry.label is None
            or (type(entry.label) is str and len(entry.label) <= MAX_LABEL_LENGTH)
        )
        and _is_time(entry.added_at)
        and _valid_task(entry.task)
        and _is_time_or_none(entry.checked_at)
        and _valid_history(entry.history)
        and (entry.estimated_credits is None or type(entry.estimated_credits) is float)
        and (entry.retry_of is None or _valid_ref(entry.retry_of))
    )


def _valid_part(part: object) -> bool:
    return type(part) is list and all(_valid_entry(entry) for entry in part)


def _valid_snapshot(item: object) -> bool:
    return (
        type(item) is tuple
        and len(item) == 4
        and _valid_ref(item[0])
        and _valid_task(item[1])
        and _is_time_or_none(item[2])
        and _valid_history(item[3])
    )


def _valid_frame(frame: object) -> bool:
    return type(frame) is list and all(_valid_snapshot(item) for item in frame)


def _valid_head(head: object) -> bool:
    return (
        type(head) is dict
        and head.get("format") in _READABLE_FORMATS
        and type(head.get("digest")) is str
        and _are_strs(head.get("warnings"), list)
        and type(head.get("parts")) is int
        and type(head.get("length")) is int
        and head["parts"] >= 0
        and head["length"] >= 0
    )


def _read_header(frames: _Frames) -> Header:
    """The base's header.

    Raises:
        CacheDamaged: damaged, or another format (an older version's cache).
    """
    head = frames.load(_valid_head)
    return Header(
        head["digest"], list(head["warnings"]), head["parts"], frames.position + head["length"]
    )


def _read_parts(frames: _Frames, header: Header) -> Iterator[list[WatchEntry]]:
    for _ in range(header.parts):
        part: list[WatchEntry] = frames.load(_valid_part)
        yield part


def _read_journal(frames: _Frames, snapshots: dict[TaskRef, Snapshot]) -> tuple[int, bool]:
    """Apply every whole frame to ``snapshots``; return how many snapshots they held, and
    whether the file ended cleanly (a frame appended after a damaged one would never be
    read: the next save must write a new base instead)."""
    count = 0
    while not frames.at_end():
        try:
            frame = frames.load(_valid_frame)
        except CacheDamaged:
            # Cut short by a crash, or damaged: the snapshots in it and after it are only
            # older news than what the next refresh brings.
            return count, False
        for ref, task, checked_at, history in frame:
            snapshots[ref] = (task, checked_at, history)
        count += len(frame)
    return count, True


def _open(path: Path) -> BinaryIO | None:
    try:
        return open_regular(path)
    except OSError:  # missing, unreadable, or a FIFO put in its place (never waited on)
        return None


def read_cache(path: Path) -> Cached | None:
    """The cache at ``path``, or ``None`` if it is missing, damaged or of another format."""
    handle = _open(path)
    if handle is None:
        return None
    try:
        with handle, gc_paused():
            frames = _Frames(handle)
            header = _read_header(frames)
            entries = [entry for part in _read_parts(frames, header) for entry in part]
            if frames.position != header.end:
                raise CacheDamaged("the base is not as long as its header says")
            snapshots = {entry.ref: snapshot_of(entry) for entry in entries}
            journaled, clean = _read_journal(frames, snapshots)
            if journaled:
                for entry in entries:
                    entry.task, entry.checked_at, entry.history = snapshots[entry.ref]
        return Cached(header, entries, snapshots, journaled, clean)
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


def _dump_each(items: Sequence[Any], alone: Callable[[Any], Any | None]) -> bytes:
    """One pickle of the list ``items``; if that fails, of each item as ``alone`` makes it
    when the item cannot be pickled by itself (``None``: left out).

    Why an item cannot be pickled does not matter (a reply nesting a thousand lists raises
    ``RecursionError``, anything else some other error): it must cost only that item's
    snapshot, never the others'. Only the failing case pays for pickling items one by one.
    """
    try:
        return _dump(list(items))
    except Exception:
        pass
    kept = []
    for item in items:
        try:
            _dump(item)
        except Exception:
            item = alone(item)
            if item is None:
                continue
        kept.append(item)
    return _dump(kept)


def _without_snapshot(entry: WatchEntry) -> WatchEntry:
    # The base must still list the entry (it stands for the whole TOML); the task is
    # queried again. What only its submit knew stays.
    return WatchEntry(
        entry.ref,
        entry.label,
        entry.added_at,
        estimated_credits=entry.estimated_credits,
        retry_of=entry.retry_of,
    )


def dump_base(digest: str, entries: Sequence[WatchEntry], warnings: list[str]) -> bytes:
    """A whole cache (a base and no journal) for the TOML file with this digest."""
    parts = [
        _framed(_dump_each(entries[at : at + PART_SIZE], _without_snapshot))
        for at in range(0, len(entries), PART_SIZE)
    ]
    length = sum(map(len, parts))
    head = {"format": _CACHE_FORMAT, "digest": digest, "warnings": warnings}
    return b"".join([_framed(_dump({**head, "parts": len(parts), "length": length})), *parts])


def dump_frame(entries: Sequence[WatchEntry]) -> bytes:
    """A journal frame holding the snapshots of ``entries``, to append to a cache (a
    snapshot that cannot be pickled is left out: the file keeps older news of it)."""
    return _framed(_dump_each([(entry.ref, *snapshot_of(entry)) for entry in entries], _leave_out))


def _leave_out(item: Any) -> None:
    return None


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
        # Each task's snapshot as last written, or found impossible to pickle (either way
        # not worth trying again until it changes); None: nothing known, write a base.
        self._held: dict[TaskRef, _Held] | None = None
        self._base_digest: str | None = None
        self._journaled = 0

    def read(self) -> Cached | None:
        """Read the file and remember what it holds (``None``: no usable cache)."""
        with gc_paused():  # see gc_paused: some 100,000 objects, all kept
            cached = read_cache(self.path)
            # A journal that ends in damage takes no more frames: None has the next
            # update write a new base.
            if cached is None or not cached.clean_end:
                self._held = None
            else:
                self._held = {
                    ref: _held(task, history)
                    for ref, (task, _, history) in cached.snapshots.items()
                }
        if cached is not None:
            self._base_digest, self._journaled = cached.header.digest, cached.journaled
        return cached

    def parts(self, digest: str) -> tuple[Header, Iterator[list[WatchEntry]]] | None:
        """The base's entries part by part, if it was written for the TOML with ``digest``
        and no journal follows it; ``None`` otherwise (then :meth:`read` the whole file).

        The iterator raises :class:`CacheDamaged` if a part cannot be read.
        """
        handle = _open(self.path)
        if handle is None:
            return None
        try:
            frames = _Frames(handle)
            header: Header | None = _read_header(frames)
        except Exception:
            header = None
        if header is None or header.digest != digest or frames.size != header.end:
            handle.close()
            return None
        return header, self._parts(frames, header)

    def _parts(self, frames: _Frames, header: Header) -> Iterator[list[WatchEntry]]:
        held: dict[TaskRef, _Held] = {}
        with frames.handle:
            for part in _read_parts(frames, header):
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

        Raises:
            OSError: the file could not be written; what it holds is then forgotten, so
                the next update writes a new base.
        """
        try:
            self._update(digest, entries, warnings, rewrite=rewrite)
        except BaseException:
            self._held = None
            raise

    def _update(
        self, digest: str, entries: Sequence[WatchEntry], warnings: list[str], *, rewrite: bool
    ) -> None:
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
            # O_NONBLOCK: a FIFO put in the file's place fails (ENXIO) instead of waiting
            # for a reader; O_NOFOLLOW: a symlink put there is not appended through (the
            # failure has the next update replace it with a new base).
            flags = os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(self.path, flags)
            with os.fdopen(fd, "ab") as handle:
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
