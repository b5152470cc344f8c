"""The watchlist file: load, merge-on-save under a lock, atomic replace.

Several processes may share one watchlist (the dashboard and ``aireiter-tui add`` in
another terminal). :meth:`WatchlistStore.save` therefore re-reads the file under an
exclusive lock and keeps what others added, and writes by replacing the file
atomically, so a crash leaves either the old or the new file, never a partial one.
Saving respects the file as the user set it up: a symlink is written through (the file it
points to is replaced, in its own folder, as editors do), the file's mode is kept, a
read-only file is not replaced, and anything but a regular file (a FIFO, a directory, a
device) is never opened, let alone replaced.

Next to the TOML the store keeps ``<name>.db`` (see :mod:`.snapshot_db`): the tasks'
snapshots, and a copy of the whole list that spares parsing the TOML while the TOML is
still the one it was written with. The ``<name>.cache`` of earlier versions is read once,
moved into it and removed (see :mod:`.legacy_cache`).
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, NamedTuple

from aireiter_tui.domain.legacy_cache import read_legacy
from aireiter_tui.domain.models import IdKind, TaskRef, validate_task_id
from aireiter_tui.domain.paths import (
    NotRegularFile,
    exclusive_lock,
    open_regular,
    replace_atomically,
)
from aireiter_tui.domain.snapshot_db import (
    PART_SIZE,
    MirrorDamaged,
    Reader,
    Snapshot,
    SnapshotDB,
    gc_paused,
)
from aireiter_tui.domain.watchlist_codec import (
    MAX_LABEL_LENGTH,
    Decoder,
    FormatError,
    Merge,
    WatchEntry,
    cut_label,
    decode,
    encode,
)

_SEPARATORS: Final = re.compile(r"[\s,;]+")


# --- the TOML as this program writes it, read without tomllib --------------------------------
# tomllib is pure Python: 10,000 lines cost 0.1 s and 1,000,000 some 10 s. The file as the
# encoder writes it (and as a hand edit in the same form leaves it) is read here with one
# regular expression per line; anything else (another spacing, a comment after a value,
# an escape in a string) is read by tomllib whole, which also says what is wrong.
_WS: Final = r"[ \t]*"
#: A TOML basic string without escapes: anything but quotes, backslashes and controls
#: other than tab (which TOML forbids there unescaped).
_STR: Final = r'"([^"\\\x00-\x08\x0a-\x1f\x7f]*)"'
_DATETIME: Final = r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?Z"
_NUMBER: Final = r"([+-]?(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{1,20})?(?:[eE][+-]?[0-9]{1,3})?)"


def _pair(key: str, value: str) -> str:
    return f"(?:{_WS},{_WS}{key}{_WS}={_WS}{value})?"


_ENTRY_LINE: Final = re.compile(
    f"{_WS}\\{{{_WS}id{_WS}={_WS}{_STR}"
    + _pair("kind", _STR)
    + _pair("label", _STR)
    + _pair("added_at", _DATETIME)
    + _pair("estimated_credits", _NUMBER)
    + _pair("retry_of", _STR)
    + f"{_WS}\\}}{_WS}(,?){_WS}"
)
_SKIPPED_LINE: Final = re.compile(f"{_WS}(?:#[^\\x00-\\x08\\x0a-\\x1f\\x7f]*)?")
_VERSION_LINE: Final = re.compile(f"version{_WS}={_WS}([+-]?(?:0|[1-9][0-9]{{0,17}})){_WS}")
_TASKS_OPEN: Final = re.compile(f"tasks{_WS}={_WS}\\[{_WS}")
_TASKS_CLOSE: Final = re.compile(f"{_WS}\\]{_WS}")


def _when(groups: Sequence[str | None]) -> datetime:
    """The time of a ``_DATETIME`` match's groups.

    Raises:
        ValueError: a date that does not exist (tomllib refuses it too).
    """
    year, month, day, hour, minute, second, fraction = groups
    return datetime(
        int(year or 0),
        int(month or 0),
        int(day or 0),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        int((fraction or "").ljust(6, "0")),
        tzinfo=UTC,
    )


def _number(text: str) -> int | float:
    return int(text) if not any(mark in text for mark in ".eE") else float(text)


def _plain_entry(match: re.Match[str]) -> dict[str, Any]:
    """The table of one entry line (as tomllib reads it).

    Raises:
        ValueError: a date that does not exist (tomllib refuses it too).
    """
    ident, kind, label, *when, estimate, retry_of, _comma = match.groups()
    item: dict[str, Any] = {"id": ident}
    if kind is not None:
        item["kind"] = kind
    if label is not None:
        item["label"] = label
    if when[0] is not None:
        item["added_at"] = _when(when)
    if estimate is not None:
        item["estimated_credits"] = _number(estimate)
    if retry_of is not None:
        item["retry_of"] = retry_of
    return item


#: The ``[[tasks]]`` form a script may write: a table per task, a key per line.
_TABLE_OPEN: Final = re.compile(f"{_WS}\\[\\[{_WS}tasks{_WS}\\]\\]{_WS}")
_TABLE_KEYS: Final = {
    "id": re.compile(f"{_WS}id{_WS}={_WS}{_STR}{_WS}"),
    "kind": re.compile(f"{_WS}kind{_WS}={_WS}{_STR}{_WS}"),
    "label": re.compile(f"{_WS}label{_WS}={_WS}{_STR}{_WS}"),
    "retry_of": re.compile(f"{_WS}retry_of{_WS}={_WS}{_STR}{_WS}"),
    "added_at": re.compile(f"{_WS}added_at{_WS}={_WS}{_DATETIME}{_WS}"),
    "estimated_credits": re.compile(f"{_WS}estimated_credits{_WS}={_WS}{_NUMBER}{_WS}"),
}
_TABLE_KEY: Final = re.compile(f"{_WS}([A-Za-z_]+){_WS}=")


class NotPlain(Exception):
    """The text is not in a form :func:`plain_toml` reads (tomllib reads it, or says
    what is wrong with it)."""


def plain_toml(text: str) -> Iterator[tuple[str, Any]]:
    """The watchlist ``text`` read a line at a time, as tomllib reads it, when it is in a
    form the encoder writes (``tasks = [`` with one inline table per line) or a script
    would (a ``[[tasks]]`` table per task, a ``key = value`` per line), with comments and
    blank lines anywhere and ``version = N`` first: yields ``("version", N)``, then
    ``("array", None)`` where ``tasks = [`` opens, and ``("task", table)`` for each
    task, in order, as it goes (a long list is shown while it is read).

    Raises:
        NotPlain: at the first line it does not read (what was yielded is what tomllib
            reads for those lines).
    """
    if "\r" in text:
        raise NotPlain  # (TOML allows CRLF; the encoder never writes it)
    form = ""  # "" before any task, "array" inside tasks = [...], "closed", "tables"
    comma = True  # whether the entry line before had its comma
    table: dict[str, Any] | None = None
    try:
        for line in text.split("\n"):
            if _SKIPPED_LINE.fullmatch(line):
                continue
            if form == "array":
                entry = _ENTRY_LINE.fullmatch(line)
                if entry is not None and comma:
                    yield "task", _plain_entry(entry)
                    comma = entry.group(entry.re.groups) == ","
                elif _TASKS_CLOSE.fullmatch(line):
                    form = "closed"
                else:
                    raise NotPlain
            elif form == "tables" and (key := _TABLE_KEY.match(line)) is not None:
                assert table is not None
                name = key.group(1)
                pattern = _TABLE_KEYS.get(name)
                value = pattern.fullmatch(line) if pattern is not None else None
                if value is None or name in table:
                    raise NotPlain  # (another key or value type, or a key twice)
                if name == "added_at":
                    table[name] = _when(value.groups())
                elif name == "estimated_credits":
                    table[name] = _number(value.group(1))
                else:
                    table[name] = value.group(1)
            elif _TABLE_OPEN.fullmatch(line) and form in ("", "tables"):
                if table is not None:
                    yield "task", table
                table, form = {}, "tables"
            elif form == "" and (version := _VERSION_LINE.fullmatch(line)):
                form = "version"
                yield "version", int(version.group(1))
            elif form in ("", "version") and _TASKS_OPEN.fullmatch(line):
                form = "array"
                yield "array", None
            elif form == "version" and _TABLE_OPEN.fullmatch(line):
                table, form = {}, "tables"
            else:
                raise NotPlain
    except ValueError:
        raise NotPlain from None
    if form == "array":
        raise NotPlain  # never closed
    if table is not None:
        yield "task", table


def read_plain_toml(text: str) -> dict[str, Any] | None:
    """The document ``tomllib.loads(text)`` returns, if ``text`` is in a form
    :func:`plain_toml` reads; None for anything else."""
    document: dict[str, Any] = {}
    try:
        for kind, value in plain_toml(text):
            if kind == "version":
                document["version"] = value
            elif kind == "array":
                document["tasks"] = []
            else:
                document.setdefault("tasks", []).append(value)
    except NotPlain:
        return None
    return document


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


class Part(NamedTuple):
    """Entries of the watchlist as :meth:`WatchlistStore.load_parts` reads them."""

    entries: list[WatchEntry]
    last: bool
    """No part follows."""
    total: int
    """How many entries the whole list holds (while a list is read from its text, an
    estimate until the last part)."""


def _attach(entries: Sequence[WatchEntry], snapshots: dict[TaskRef, Snapshot]) -> None:
    """Give parsed entries the snapshots of an old cache (a TOML written by an even older
    version may carry its own: the newer of the two wins)."""
    for entry in entries:
        found = snapshots.get(entry.ref)
        if found is None:
            continue
        checked_at = found[1]
        if entry.checked_at is not None and (checked_at is None or checked_at < entry.checked_at):
            continue
        entry.task, entry.checked_at, entry.history = found


def _read_only(info: os.stat_result, path: Path) -> bool:
    # The write bits too, not only access(): root may write anything, yet a file whose
    # owner took every write bit away was meant to stay as it is.
    return not info.st_mode & 0o222 or not os.access(path, os.W_OK)


class WatchlistStore:
    """The watchlist TOML file at ``path`` (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self.cache_path = path.with_name(path.name + ".db")
        self.legacy_cache_path = path.with_name(path.name + ".cache")
        self.last_warnings: list[str] = []
        """Entries skipped or repaired by the last load (or save that had to re-read)."""
        self.last_merge = Merge()
        """What the last save took over from changes another process made to the file."""
        # The hash of the bytes this process last read or wrote, and their entries: a
        # save that finds the same bytes on disk need not parse them again.
        self._known: tuple[str, list[WatchEntry]] | None = None
        # Each ref's label in those bytes: the base of the next save's three-way merge
        # (the entries themselves may be the caller's, changed since).
        self._base: dict[TaskRef, str | None] | None = None
        self._db = SnapshotDB(self.cache_path)
        #: Whether the last :meth:`load_parts` read the list from the database's copy of
        #: the file (the copy was current: the database holds the list as the file does).
        self.read_from_copy = False
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
        with gc_paused():  # (some 100,000 objects, all kept)
            return [entry for part in self.load_parts() for entry in part.entries]

    def load_parts(self) -> Iterator[Part]:
        """The same entries as :meth:`load`, :data:`PART_SIZE` at a time, so that a caller
        can show the first part before the rest is read, and read them on another thread.

        From the database's copy of the list while it copies this TOML (the first part
        then costs milliseconds); else the TOML is parsed whole first, and each part's
        snapshots are read as it is handed out.

        Raises:
            WatchlistError: as :meth:`load`, at the first ``next()``.
        """
        self.read_from_copy = False
        read = self._read()
        if read is None:
            self.last_warnings = []
            return
        data = read[0]
        digest = _digest(data)
        self._migrate(data, digest)
        reader = self._db.reader()
        try:
            yield from self._parts(data, digest, reader)
        finally:
            if reader is not None:
                reader.close()

    def _parts(self, data: bytes, digest: str, reader: Reader | None) -> Iterator[Part]:
        given: set[TaskRef] = set()
        found = reader.mirror(digest) if reader is not None else None
        if reader is not None and found is not None:
            total, self.last_warnings = found
            entries: list[WatchEntry] = []
            try:
                for part in reader.mirror_parts():
                    entries.extend(part)
                    given.update(entry.ref for entry in part)
                    yield Part(part, len(entries) >= total, total)
            except MirrorDamaged:
                pass  # the rest comes from the TOML
            else:
                self._remember(digest, entries)
                self.read_from_copy = True
                return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass  # (said by _load)
        else:
            decoded: list[WatchEntry] = []
            try:
                for part, last, total in self._stream(text, given, decoded):
                    if reader is not None:
                        reader.snapshots(part)
                    yield Part(part, last, total)
            except NotPlain:
                pass  # the rest is read by tomllib, whole (the parts shown stay)
            else:
                self._keep_copy(data, digest)
                self._remember(digest, decoded)
                return
        entries = self._load(data, digest)
        rest = [entry for entry in entries if entry.ref not in given]
        total = len(given) + len(rest)
        for at in range(0, len(rest), PART_SIZE):
            part = rest[at : at + PART_SIZE]
            if reader is not None:
                reader.snapshots(part)
            yield Part(part, at + PART_SIZE >= len(rest), total)
        self._remember(digest, entries)

    def _stream(
        self, text: str, given: set[TaskRef], decoded: list[WatchEntry]
    ) -> Iterator[tuple[list[WatchEntry], bool, int]]:
        """The entries of ``text`` (in a form :func:`plain_toml` reads) as they are read,
        :data:`PART_SIZE` at a time: ``(entries, last, total)``, ``total`` an estimate
        until the last part. Those of ``given`` are left out (and added to it as they are
        handed out); ``decoded`` gets every entry, in order.

        Raises:
            NotPlain: at the first line that needs tomllib.
            WatchlistError: another format version.
        """
        decoder = Decoder()
        # (a count in C over the text, for "reading N of M": a table or a line per task)
        estimate = max(text.count("[[tasks]]"), text.count("{"))
        read = 0
        part: list[WatchEntry] = []
        full: list[WatchEntry] | None = None  # handed out once another entry follows
        for kind, value in plain_toml(text):
            if kind == "version":
                try:
                    decoder.version(value)
                except FormatError as error:
                    raise WatchlistError(f"{self.path}: {error}") from None
            if kind != "task" or (entry := decoder.take(value)) is None:
                continue
            decoded.append(entry)
            if entry.ref in given:
                continue
            if full is not None:
                read += len(full)
                given.update(item.ref for item in full)
                yield full, False, max(estimate, read + 1)
                full = None
            part.append(entry)
            if len(part) == PART_SIZE:
                full, part = part, []
        self.last_warnings = decoder.warnings
        last = full if full is not None else part
        if last:
            given.update(item.ref for item in last)
            yield last, True, read + len(last)

    def _load(self, data: bytes, digest: str) -> list[WatchEntry]:
        entries, self.last_warnings = self._parse(data)
        self._keep_copy(data, digest)
        return entries

    def _migrate(self, data: bytes, digest: str) -> None:
        """Move the snapshots of an earlier version's cache into the database, once."""
        legacy = self.legacy_cache_path
        if not os.path.lexists(legacy):
            return
        try:
            with self._locked():
                if not os.path.lexists(legacy):
                    return  # another process moved it meanwhile
                snapshots = read_legacy(legacy)
                if snapshots:
                    entries, warnings = self._parse(data)
                    _attach(entries, snapshots)
                    # A list read with warnings is parsed again at the next start, so that
                    # they are said again (and a skipped entry's file kept).
                    self._db.update("" if warnings else digest, entries, [], rewrite=True)
                legacy.unlink()
        except Exception:
            # (a lock that cannot be taken, a database that cannot be written, a TOML that
            # cannot be read: the load says that one): the old file stays for a later start.
            return

    def _keep_copy(self, data: bytes, digest: str) -> None:
        """Keep the file as read (``digest``: its digest) when the read had to skip entries
        (its warnings say so): the next save drops them."""
        if not any("skipped" in warning for warning in self.last_warnings):
            return
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
        changed are written to the database; ``write_cache=True`` (the dashboard's save on
        quit) also writes when each task was last checked.

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
                    on_disk = self._decode(data, digest, {entry.ref for entry in entries})
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

    def save_snapshots(self, entries: Sequence[WatchEntry]) -> bool:
        """Write the snapshots of ``entries`` (answers changed them; the list's lines are
        those this store last wrote or read) and nothing else: no read of the file, no
        merge, no TOML. Returns False, having written nothing, when that is not enough:
        the file changed since (another process, an editor) or the database is not the
        one this store knows; :meth:`save` is then needed.

        Raises:
            WatchlistError: the lock could not be taken.
        """
        with self._locked():
            if self._known is None or _stamp(self.path) != self._stamp:
                return False
            return self._db.update_snapshots(entries)

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

    def _decode(self, data: bytes, digest: str, known: Collection[TaskRef]) -> list[WatchEntry]:
        """The entries of ``data``, the file as another process left it, with their
        snapshots, except for those in ``known`` (the caller has its own)."""
        reader = self._db.reader()
        try:
            entries: list[WatchEntry] | None = None
            found = reader.mirror(digest) if reader is not None else None
            if reader is not None and found is not None:
                with contextlib.suppress(MirrorDamaged):
                    parts = reader.mirror_parts(snapshots=False)
                    entries = [entry for part in parts for entry in part]
                    self.last_warnings = found[1]
            if entries is None:
                entries, self.last_warnings = self._parse(data)
            if reader is not None:
                reader.snapshots([entry for entry in entries if entry.ref not in known])
        finally:
            if reader is not None:
                reader.close()
        self._remember(digest, entries)
        return entries

    def _parse(self, data: bytes) -> tuple[list[WatchEntry], list[str]]:
        try:
            with gc_paused():
                text = data.decode("utf-8")
                document = read_plain_toml(text)
                if document is None:
                    document = tomllib.loads(text)
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
        text = encode(entries)
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
            self._db.update(claimed, entries, self.last_warnings, rewrite=write_cache)

    def _sweep_temp_files(self, target: Path) -> None:
        """Remove temp files left by a process killed mid-save (we hold the lock)."""
        for stale in target.parent.glob(f".{target.name}.save-*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()
