"""The watchlist file: load, merge-on-save under a lock, atomic replace.

Several processes may share one watchlist (the dashboard and ``aireiter-tui add`` in
another terminal). :meth:`WatchlistStore.save` therefore re-reads the file under an
exclusive lock and keeps what others added, and writes by replacing the file
atomically, so a crash leaves either the old or the new file, never a partial one.
Saving respects the file as the user set it up: a symlink is written through (the file it
points to is replaced, in its own folder, as editors do), the file's mode is kept, a
read-only file is not replaced, and anything but a regular file (a FIFO, a directory, a
device) is never opened, let alone replaced.

Next to the TOML the store keeps ``<name>.cache`` (see :mod:`.watchlist_cache`): the
tasks' snapshots, and a copy of the whole list that spares parsing the TOML while the
TOML is still the one it was written with.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import tomllib
from collections.abc import Collection, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Final

from aireiter_tui.domain.models import IdKind, TaskRef, validate_task_id
from aireiter_tui.domain.paths import (
    NotRegularFile,
    exclusive_lock,
    open_regular,
    replace_atomically,
)
from aireiter_tui.domain.watchlist_cache import CacheDamaged, SnapshotCache, attach, gc_paused
from aireiter_tui.domain.watchlist_codec import (
    MAX_LABEL_LENGTH,
    Encoder,
    FormatError,
    Merge,
    WatchEntry,
    cut_label,
    decode,
)

_SEPARATORS: Final = re.compile(r"[\s,;]+")


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


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


def _reason(error: OSError) -> str:
    return (error.strerror or str(error)).lower()


#: The file as read: its bytes, and its ``fstat`` (the mode a save keeps, the stamp).
_Read = tuple[bytes, os.stat_result]


def _read_only(info: os.stat_result, path: Path) -> bool:
    # The write bits too, not only access(): root may write anything, yet a file whose
    # owner took every write bit away was meant to stay as it is.
    return not info.st_mode & 0o222 or not os.access(path, os.W_OK)


class WatchlistStore:
    """The watchlist TOML file at ``path`` (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self.cache_path = path.with_name(path.name + ".cache")
        self.last_warnings: list[str] = []
        """Entries skipped or repaired by the last load (or save that had to re-read)."""
        self.last_merge = Merge()
        """What the last save took over from changes another process made to the file."""
        self._encoder = Encoder()
        # The hash of the bytes this process last read or wrote, and their entries: a
        # save that finds the same bytes on disk need not parse them again.
        self._known: tuple[str, list[WatchEntry]] | None = None
        # Each ref's label in those bytes: the base of the next save's three-way merge
        # (the entries themselves may be the caller's, changed since).
        self._base: dict[TaskRef, str | None] | None = None
        self._cache = SnapshotCache(self.cache_path)
        # What the file looked like when this store last read or wrote it (see
        # changed_on_disk): None when it did not exist.
        self._stamp: tuple[int, int, int] | None = None

    def changed_on_disk(self) -> bool:
        """Whether the file is not the one this store last read or wrote: another process
        (``aireiter-tui add``, an editor) changed it since. A cheap ``stat``, no read."""
        return _stamp(self.path) != self._stamp

    def load(self) -> list[WatchEntry]:
        """Read the watchlist; a missing file is an empty list.

        Raises:
            WatchlistError: the file is unreadable, not TOML, or its top level has the
                wrong shape. The file is not touched.
        """
        read = self._read()
        if read is None:
            self.last_warnings = []
            return []
        return self._load(read[0], _digest(read[0]))

    def load_parts(self) -> Iterator[tuple[list[WatchEntry], bool]]:
        """The same entries as :meth:`load`, in parts of up to ``PART_SIZE`` when the cache
        allows it (it matches the TOML and has no journal), so that a caller can show the
        first part before reading the rest. Otherwise in one part. Each part comes with
        whether it is the last.

        Raises:
            WatchlistError: as :meth:`load`, at the first ``next()``.
        """
        read = self._read()
        if read is None:
            self.last_warnings = []
            return
        data = read[0]
        digest = _digest(data)
        found = self._cache.parts(digest)
        given: set[TaskRef] = set()
        if found is not None:
            header, parts = found
            self.last_warnings = list(header.warnings)
            entries: list[WatchEntry] = []
            try:
                for number, part in enumerate(parts, 1):
                    entries.extend(part)
                    given.update(entry.ref for entry in part)
                    yield part, number == header.parts
            except CacheDamaged:
                pass  # the rest comes from the TOML, without snapshots
            else:
                self._remember(digest, entries)
                return
        rest = [entry for entry in self._load(data, digest) if entry.ref not in given]
        if rest:
            yield rest, True

    def _load(self, data: bytes, digest: str) -> list[WatchEntry]:
        with gc_paused():
            entries = self._decode(data, digest)
        if any("skipped" in warning for warning in self.last_warnings):
            self._keep_copy(data, digest)
        return list(entries)

    def _keep_copy(self, data: bytes, digest: str) -> None:
        """Keep the file as read when entries had to be skipped: the next save drops them."""
        copy = self.path.with_name(f"{self.path.name}.skipped-{digest[:12]}")
        try:
            if not copy.exists():
                replace_atomically(copy, data, f".{copy.name}.", durable=True)
        except OSError as error:
            self.last_warnings.append(f"could not keep a copy of the file ({_reason(error)})")
            return
        self.last_warnings.append(f"the file as it was is kept in {copy}")

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
        self._known = self._base = self._stamp = None
        return target

    def save(
        self,
        entries: Sequence[WatchEntry],
        removed: Collection[TaskRef] = (),
        *,
        write_cache: bool = True,
    ) -> list[WatchEntry]:
        """Merge ``entries`` with what is on disk and write the result atomically.

        The merge is three-way, against the file as this store last read or wrote it:
        entries another process added are kept (after ``entries``); entries it removed
        are dropped from ``entries`` too, and a label it changed is taken over where
        ``entries`` did not change it (see :attr:`last_merge`). Entries in ``removed``
        are dropped. Duplicate refs are ignored (the first one wins). The snapshots that
        changed are appended to the cache's journal; with ``write_cache=True`` the cache
        is instead rewritten whole when anything in it is out of date (about 0.2 s at
        10,000 entries: the dashboard does it on quit).

        Returns:
            The merged list that was written.

        Raises:
            WatchlistError: the file on disk cannot be read (it is never overwritten), is
                read-only and would change, or the new one cannot be written (the old one
                is left intact).
        """
        gone = set(removed)
        self.last_merge = Merge()
        with self._locked():
            found = self._read()
            on_disk: list[WatchEntry] = []
            digest = None
            if found is not None:
                data = found[0]
                digest = _digest(data)
                if self._known is not None and self._known[0] == digest:
                    on_disk = self._known[1]
                else:
                    base = self._base
                    on_disk = self._decode(data, digest)
                    if base is not None:
                        entries = self.last_merge.rebase(entries, base, on_disk)
            merged: list[WatchEntry] = []
            seen: set[TaskRef] = set()
            for entry in [*entries, *(e for e in on_disk if e.ref not in gone)]:
                if entry.ref not in seen:
                    seen.add(entry.ref)
                    if entry.label is not None and len(entry.label) > MAX_LABEL_LENGTH:
                        # (from `add --label`, say): the file never holds a label that
                        # reading it would have to cut, nor does the cache's copy.
                        entry = replace(entry, label=cut_label(entry.label))
                    merged.append(entry)
            self._write(merged, digest, None if found is None else found[1], write_cache)
        return merged

    def _remember(self, digest: str, entries: list[WatchEntry]) -> None:
        self._known = (digest, entries)
        self._base = {entry.ref: entry.label for entry in entries}

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(exclusive_lock(self.lock_path))
            except OSError as error:
                raise WatchlistError(
                    f"Could not lock the watchlist {self.path} ({_reason(error)}); "
                    "nothing was saved"
                ) from None
            yield

    def _read(self) -> _Read | None:
        try:
            with open_regular(self.path) as handle:
                # The stamp before reading: a change made while reading shows as a
                # change next time.
                info = os.fstat(handle.fileno())
                data = handle.read()
        except FileNotFoundError:
            self._stamp = None
            return None
        except NotRegularFile as error:
            raise WatchlistError(
                f"{self.path}: is {error.kind}, not a regular file; it is not read or written"
            ) from None
        except OSError as error:
            raise WatchlistError(f"{self.path}: cannot be read ({_reason(error)})") from None
        self._stamp = info.st_mtime_ns, info.st_size, info.st_ino
        return data, info

    def _decode(self, data: bytes, digest: str) -> list[WatchEntry]:
        cached = self._cache.read()
        if cached is not None and cached.header.digest == digest:
            entries, self.last_warnings = cached.entries, list(cached.header.warnings)
        else:
            entries, self.last_warnings = self._parse(data)
            if cached is not None:
                attach(entries, cached.snapshots)
        self._remember(digest, entries)
        return entries

    def _parse(self, data: bytes) -> tuple[list[WatchEntry], list[str]]:
        try:
            with gc_paused():
                document = tomllib.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise WatchlistError(f"{self.path}: is not UTF-8 text") from None
        except tomllib.TOMLDecodeError as error:
            raise WatchlistError(f"{self.path}: is not valid TOML ({error})") from None
        except RecursionError:
            raise WatchlistError(f"{self.path}: is nested too deeply to read") from None
        try:
            with gc_paused():
                return decode(document)
        except FormatError as error:
            raise WatchlistError(f"{self.path}: {error}") from None

    def _write(
        self,
        entries: list[WatchEntry],
        on_disk: str | None,
        info: os.stat_result | None,
        write_cache: bool,
    ) -> None:
        """Write ``entries`` unless the file (``on_disk``: its digest; ``info``: its
        ``fstat``, None when there is none) already says exactly this."""
        text = self._encoder.encode(entries)
        cacheable = True
        try:
            blob = text.encode("utf-8")
        except UnicodeEncodeError:
            # Lone surrogates (a label typed in a broken terminal, say) cannot be UTF-8.
            blob, cacheable = text.encode("utf-8", "replace"), False
        digest = _digest(blob)
        # Through a symlink to the file itself, as editors write: replacing the link
        # would leave its target with the old list and the user's setup undone.
        target = Path(os.path.realpath(self.path))
        self._sweep_temp_files(target)
        if digest != on_disk:  # else the file already says exactly this
            if info is not None and _read_only(info, target):
                raise WatchlistError(f"{self.path} is read-only; changes are not saved")
            # The mode the user gave the file (a new one is 0600, as mkstemp makes it:
            # no chmod needed then).
            mode = None if info is None else stat.S_IMODE(info.st_mode) & 0o777
            try:
                if mode is None or mode == 0o600:
                    replace_atomically(target, blob, f".{target.name}.save-", durable=True)
                else:
                    replace_atomically(
                        target, blob, f".{target.name}.save-", durable=True, mode=mode
                    )
            except OSError as error:
                raise WatchlistError(
                    f"Could not save the watchlist to {self.path} ({_reason(error)}); "
                    "the previous file is unchanged"
                ) from None
            self.last_warnings = []
        self._stamp = _stamp(self.path)
        self._remember(digest, entries)
        # The cache is only ever a shortcut: failing to write it, for whatever reason,
        # must not fail a save whose TOML is already written (the caller would take the
        # save as failed and keep retrying it).
        with contextlib.suppress(Exception):
            # A file that had to be written with replacement characters differs from the
            # entries: a base claiming its digest would bring the originals back.
            claimed = digest if cacheable else ""
            self._cache.update(claimed, entries, self.last_warnings, rewrite=write_cache)

    def _sweep_temp_files(self, target: Path) -> None:
        """Remove temp files left by a process killed mid-save (we hold the lock)."""
        for stale in target.parent.glob(f".{target.name}.save-*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()
