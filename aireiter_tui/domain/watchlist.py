"""The watchlist file: load, merge-on-save under a lock, atomic replace.

Several processes may share one watchlist (the dashboard and ``aireiter-tui add`` in
another terminal). :meth:`WatchlistStore.save` therefore re-reads the file under an
exclusive lock and keeps what others added, and writes by replacing the file
atomically, so a crash leaves either the old or the new file, never a partial one.

Parsing 10,000 entries with ``tomllib`` (and re-parsing their tasks) takes about two
seconds, so next to the TOML the store keeps ``<name>.cache``: the decoded entries and
their TOML text, pickled, tagged with a hash of the TOML bytes. It is used only when that
hash matches (a hand-edited TOML always wins), and it is read with an unpickler that
can build only the watchlist's own classes, never call anything else.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import io
import operator
import os
import pickle
import re
import tempfile
import tomllib
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from aireiter_tui.domain.models import (
    IdKind,
    Task,
    TaskFailure,
    TaskInput,
    TaskOutput,
    TaskRef,
    validate_task_id,
)
from aireiter_tui.domain.watchlist_codec import (
    Encoder,
    FormatError,
    StatusChange,
    WatchEntry,
    decode,
)

__all__ = [
    "StatusChange",
    "WatchEntry",
    "WatchlistError",
    "WatchlistStore",
    "parse_id_list",
]

_SEPARATORS: Final = re.compile(r"[\s,;]+")
_CACHE_FORMAT: Final = 2
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


def _reducer(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    # Pickling a slots dataclass the default way calls dataclasses.fields() per object
    # (in Python); rebuilding it with its own __init__ from a tuple is several times faster.
    values = operator.attrgetter(*(f.name for f in fields(cls)))
    return lambda obj: (cls, values(obj))


_REDUCERS: Final = {
    cls: _reducer(cls)
    for cls in (Task, TaskInput, TaskOutput, TaskFailure, TaskRef, WatchEntry, StatusChange)
}


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
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


class WatchlistError(Exception):
    """The watchlist file cannot be read or written; ``str()`` names the file and why."""


def parse_id_list(text: str, kind: IdKind) -> tuple[list[TaskRef], list[tuple[str, str]]]:
    """Split pasted text on spaces, commas, semicolons and newlines into task refs.

    Returns:
        The valid refs (duplicates dropped, order kept) and ``(text, reason)`` for each
        rejected piece.
    """
    refs: list[TaskRef] = []
    rejected: list[tuple[str, str]] = []
    seen: set[str] = set()
    for part in _SEPARATORS.split(text):
        if not part:
            continue
        reason = validate_task_id(part)
        if reason is None and not _encodable(part):
            reason = "the ID contains characters that cannot be saved"
        if reason is not None:
            rejected.append((part if len(part) <= 100 else part[:99] + "…", reason))
        elif part not in seen:
            seen.add(part)
            refs.append(TaskRef(kind, part))
    return refs, rejected


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _reason(error: OSError) -> str:
    return (error.strerror or str(error)).lower()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_atomically(target: Path, blob: bytes, prefix: str, *, durable: bool) -> None:
    """Write ``blob`` to a temp file beside ``target`` and rename it over ``target``."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_dir(target.parent)


class WatchlistStore:
    """The watchlist TOML file at ``path`` (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self.cache_path = path.with_name(path.name + ".cache")
        self.last_warnings: list[str] = []
        """Entries skipped or repaired by the last load (or save that had to re-read)."""
        self._encoder = Encoder()
        # The hash of the bytes this process last read or wrote, and their entries: a
        # save that finds the same bytes on disk need not parse them again.
        self._known: tuple[str, list[WatchEntry]] | None = None
        # The file digest the cache on disk matches, when known (skips rewriting it).
        self._cache_digest: str | None = None

    def load(self) -> list[WatchEntry]:
        """Read the watchlist; a missing file is an empty list.

        Raises:
            WatchlistError: the file is unreadable, not TOML, or its top level has the
                wrong shape. The file is not touched.
        """
        data = self._read()
        if data is None:
            self.last_warnings = []
            return []
        entries = self._decode(data, _digest(data))
        return list(entries)

    def move_aside(self) -> Path:
        """Rename a corrupt file to ``<name>.corrupt-YYYYmmdd-HHMMSS`` and return its path."""
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        counter = 1
        while target.exists():
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{counter}")
            counter += 1
        with self._locked():
            try:
                os.rename(self.path, target)
            except OSError as error:
                raise WatchlistError(
                    f"{self.path}: could not be moved aside ({_reason(error)})"
                ) from None
        self._known = None
        return target

    def save(
        self,
        entries: Sequence[WatchEntry],
        removed: Collection[TaskRef] = (),
        *,
        write_cache: bool = True,
    ) -> list[WatchEntry]:
        """Merge ``entries`` with what is on disk and write the result atomically.

        Entries on disk that are neither in ``entries`` nor in ``removed`` were added by
        another process and are kept. Duplicate refs are ignored (the first one wins).
        ``write_cache=False`` skips the load cache (about 0.4 s of a 10,000-entry save):
        the dashboard's frequent saves use it and write the cache once, on quit; a stale
        cache is removed, so the next load never trusts it.

        Returns:
            The merged list that was written: ``entries`` followed by the others' additions.

        Raises:
            WatchlistError: the file on disk cannot be read (it is never overwritten) or
                the new one cannot be written (the old one is left intact).
        """
        gone = set(removed)
        with self._locked():
            data = self._read()
            on_disk: list[WatchEntry] = []
            digest = None
            if data is not None:
                digest = _digest(data)
                if self._known is not None and self._known[0] == digest:
                    on_disk = self._known[1]
                else:
                    on_disk = self._decode(data, digest)
            merged: list[WatchEntry] = []
            seen: set[TaskRef] = set()
            for entry in [*entries, *(e for e in on_disk if e.ref not in gone)]:
                if entry.ref not in seen:
                    seen.add(entry.ref)
                    merged.append(entry)
            self._write(merged, digest, write_cache=write_cache)
        return merged

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise WatchlistError(
                f"Could not lock the watchlist {self.path} ({_reason(error)}); nothing was saved"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise WatchlistError(f"{self.path}: cannot be read ({_reason(error)})") from None

    def _decode(self, data: bytes, digest: str) -> list[WatchEntry]:
        cached = self._from_cache(digest)
        if cached is not None:
            entries, self.last_warnings = cached
            self._cache_digest = digest
        else:
            entries, self.last_warnings = self._parse(data)
            self._encoder.encode(entries)
            with contextlib.suppress(OSError):
                if self._write_cache(digest, entries):
                    self._cache_digest = digest
        self._known = (digest, entries)
        return entries

    def _parse(self, data: bytes) -> tuple[list[WatchEntry], list[str]]:
        try:
            with _gc_paused():
                document = tomllib.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise WatchlistError(f"{self.path}: is not UTF-8 text") from None
        except tomllib.TOMLDecodeError as error:
            raise WatchlistError(f"{self.path}: is not valid TOML ({error})") from None
        except RecursionError:
            raise WatchlistError(f"{self.path}: is nested too deeply to read") from None
        try:
            with _gc_paused():
                return decode(document)
        except FormatError as error:
            raise WatchlistError(f"{self.path}: {error}") from None

    def _from_cache(self, digest: str) -> tuple[list[WatchEntry], list[str]] | None:
        try:
            with self.cache_path.open("rb") as handle, _gc_paused():
                cache = _CacheUnpickler(io.BufferedReader(handle)).load()
            if cache["format"] != _CACHE_FORMAT or cache["digest"] != digest:
                return None
            entries, chunks = cache["entries"], cache["chunks"]
            if not all(isinstance(entry, WatchEntry) for entry in entries):
                return None
            self._encoder.remember(entries, chunks)
            return entries, [str(text) for text in cache["warnings"]]
        except Exception:
            # Any damage to the cache (truncation, old format, tampering) only means
            # falling back to the TOML, which stays the source of truth.
            return None

    def _write_cache(self, digest: str, entries: list[WatchEntry]) -> bool:
        """Write the load cache for the file with this digest; False if it could not be."""
        chunks = self._encoder.chunks_for(entries)
        if chunks is None:
            return False
        cache = {
            "format": _CACHE_FORMAT,
            "digest": digest,
            "warnings": self.last_warnings,
            "entries": entries,
            "chunks": chunks,
        }
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.dispatch_table = _REDUCERS  # type: ignore[assignment]
        with _gc_paused():
            pickler.dump(cache)
        blob = buffer.getvalue()
        prefix = f".{self.cache_path.name}."
        _replace_atomically(self.cache_path, blob, prefix, durable=False)
        return True

    def _write(self, entries: list[WatchEntry], on_disk: str | None, *, write_cache: bool) -> None:
        text = self._encoder.encode(entries)
        cacheable = True
        try:
            blob = text.encode("utf-8")
        except UnicodeEncodeError:
            # Lone surrogates (a label typed in a broken terminal, say) cannot be UTF-8;
            # the cache would then differ from the file, so none is written.
            blob, cacheable = text.encode("utf-8", "replace"), False
        digest = _digest(blob)
        self._sweep_temp_files()
        if digest != on_disk:  # else the file already says exactly this
            try:
                _replace_atomically(self.path, blob, f".{self.path.name}.save-", durable=True)
            except OSError as error:
                raise WatchlistError(
                    f"Could not save the watchlist to {self.path} ({_reason(error)}); "
                    "the previous file is unchanged"
                ) from None
            self.last_warnings = []
        self._known = (digest, entries)
        if self._cache_digest == digest:
            return
        with contextlib.suppress(OSError, pickle.PicklingError):
            if cacheable and write_cache and self._write_cache(digest, entries):
                self._cache_digest = digest
            else:
                self.cache_path.unlink(missing_ok=True)
                self._cache_digest = None

    def _sweep_temp_files(self) -> None:
        """Remove temp files left by a process killed mid-save (we hold the lock)."""
        for stale in self.path.parent.glob(f".{self.path.name}.save-*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()
