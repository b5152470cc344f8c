"""The snapshot cache of earlier versions, read once to be migrated to the database.

Versions before the SQLite cache (:mod:`.snapshot_db`) kept ``<watchlist>.cache``: a
sequence of frames, each a pickle behind its length and CRC-32; the first frames (the
*base*) hold a header and every entry, the later ones (the *journal*) the snapshots that
changed since. The store reads it once, writes what it holds into the database and
removes it.

It is read as it always was: with an unpickler that can build only the watchlist's own
classes (by their module paths of that time) and never call anything, and everything it
builds is checked field by field before anyone sees it. A frame that is cut short, fails
its checksum or holds the wrong shapes ends the journal; a base that does so gives
nothing (the tasks are queried again).
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
from aireiter_tui.domain.paths import open_regular
from aireiter_tui.domain.snapshot_db import Snapshot, gc_paused
from aireiter_tui.domain.watchlist_codec import MAX_LABEL_LENGTH, StatusChange, WatchEntry

# 5: frames with a length and a checksum. 6: entries carry estimated_credits and retry_of
# (a format-5 entry unpickles with the six fields it had, the two new ones default to None).
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


class _CacheUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _CACHE_CLASSES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in the cache")


class _Damaged(Exception):
    """A frame could not be read or holds the wrong shapes."""


@dataclass(frozen=True)
class _Header:
    """The base's first frame: what it was written for and how long the rest is."""

    digest: str
    """The digest of the TOML the base was written with."""
    warnings: list[str]
    parts: int
    end: int
    """Where the base ends in the file (any journal frames follow)."""


#: Before each frame's pickle: its length and its CRC-32.
_FRAME: Final = struct.Struct("<QI")


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
            _Damaged: cut short, failing its checksum, not unpickling, or not valid.
        """
        head = self.handle.read(_FRAME.size)
        if len(head) < _FRAME.size:
            raise _Damaged("cut short")
        length, checksum = _FRAME.unpack(head)
        # Checked before reading: a damaged length must not ask for gigabytes.
        if length > self.size - self.position - _FRAME.size:
            raise _Damaged("cut short")
        payload = self.handle.read(length)
        self.position += _FRAME.size + length
        if len(payload) != length or zlib.crc32(payload) != checksum:
            raise _Damaged("checksum")
        try:
            with gc_paused():
                value = _CacheUnpickler(io.BytesIO(payload)).load()
            # Inside the try: a crafted object may lack the attributes a check reads.
            if valid(value):
                return value
        except Exception as error:
            raise _Damaged(type(error).__name__) from None
        raise _Damaged("wrong shape")


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


def _read_header(frames: _Frames) -> _Header:
    """The base's header.

    Raises:
        _Damaged: damaged, or another format (an older version's cache).
    """
    head = frames.load(_valid_head)
    return _Header(
        head["digest"], list(head["warnings"]), head["parts"], frames.position + head["length"]
    )


def _read_parts(frames: _Frames, header: _Header) -> Iterator[list[WatchEntry]]:
    for _ in range(header.parts):
        part: list[WatchEntry] = frames.load(_valid_part)
        yield part


def _read_journal(frames: _Frames, snapshots: dict[TaskRef, Snapshot]) -> None:
    """Apply every whole frame to ``snapshots``."""
    while not frames.at_end():
        try:
            frame = frames.load(_valid_frame)
        except _Damaged:
            # Cut short by a crash, or damaged: the snapshots in it and after it are only
            # older news than what the next refresh brings.
            return
        for ref, task, checked_at, history in frame:
            snapshots[ref] = (task, checked_at, history)


def _open(path: Path) -> BinaryIO | None:
    try:
        return open_regular(path)
    except OSError:  # missing, unreadable, or a FIFO put in its place (never waited on)
        return None


def read_legacy(path: Path) -> dict[TaskRef, Snapshot] | None:
    """Every task's latest snapshot in the old cache at ``path`` (the base's, then the
    journal's), or ``None`` if it is missing, damaged or of another format."""
    handle = _open(path)
    if handle is None:
        return None
    try:
        with handle, gc_paused():
            frames = _Frames(handle)
            header = _read_header(frames)
            snapshots: dict[TaskRef, Snapshot] = {}
            for part in _read_parts(frames, header):
                for entry in part:
                    snapshots[entry.ref] = (entry.task, entry.checked_at, entry.history)
            if frames.position != header.end:
                raise _Damaged("the base is not as long as its header says")
            _read_journal(frames, snapshots)
        return snapshots
    except Exception:
        # Any damage to the base (truncation, an old format, tampering) only means the
        # tasks are queried again.
        return None
