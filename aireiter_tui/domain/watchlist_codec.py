"""Watch entries and their TOML form.

The TOML holds what the user owns: which tasks are watched, their labels and when they
were added, one inline table per line (easy to read, to edit and to delete a line of).
What the server last said (snapshots, status histories) lives in the snapshot cache
beside it (:mod:`.snapshot_db`), so the file stays about 90 bytes per task and
``tomllib`` reads 10,000 of them in about 0.1 s. Files written by earlier versions, with
a ``[tasks.snapshot]`` table under each task, are still read.

A task submitted from here also carries what only its submit knew, which no query brings
back: ``estimated_credits`` (the submit answer's estimate) and, for a retry, ``retry_of``
(the watched task it retries, as ``"kind:id"``; the other direction, "retried as", is
derived from it by :func:`retries_of`). Both are optional keys of the task's line, so the
format version stays 1: an older version reads the file and ignores them.

The TOML is written here by hand instead of with ``tomli_w`` (several times slower at
10,000 entries). Every string goes through :func:`toml_str` (JSON escapes are a subset of
TOML's basic-string escapes).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from aireiter_tui.domain.models import (
    IdKind,
    Task,
    TaskParseError,
    TaskRef,
    parse_task,
    validate_task_id,
)
from aireiter_tui.domain.sanitize import clean

HISTORY_LIMIT: Final = 50
FORMAT_VERSION: Final = 1
#: Longer labels are cut when read (and when written): a 10 MB label pasted into the file
#: by mistake held the first frame back 14 s, and every key 23 s. The label dialog allows
#: far fewer; this only bounds what a hand edit or a script may put there.
MAX_LABEL_LENGTH: Final = 500


@dataclass(slots=True)
class StatusChange:
    """The status a task was first seen with, or changed to, and when."""

    status: str
    at: datetime


@dataclass(slots=True)
class WatchEntry:
    """One watched task: how it is addressed, what we last saw, and its status history.

    Slotted: 100,000 of them stay for the whole run (a ``__dict__`` each was some 15 MB).
    """

    ref: TaskRef
    label: str | None
    added_at: datetime
    task: Task | None = None
    """The last snapshot received (or read back from the file)."""
    checked_at: datetime | None = None
    """When the last successful refresh happened."""
    history: list[StatusChange] = field(default_factory=list)
    """Status transitions seen so far, oldest first, at most ``HISTORY_LIMIT``."""
    estimated_credits: float | None = None
    """What the submit answer estimated the task would cost (tasks submitted here only)."""
    retry_of: TaskRef | None = None
    """The watched task this one was submitted to retry."""

    def copy(self) -> WatchEntry:
        """A copy to change while a save reads this one on another thread: every field,
        the history list new."""
        # Positional, not dataclasses.replace (several times slower): one per answer.
        return WatchEntry(
            self.ref,
            self.label,
            self.added_at,
            self.task,
            self.checked_at,
            list(self.history),
            self.estimated_credits,
            self.retry_of,
        )

    def record(self, task: Task, at: datetime) -> bool:
        """Store a fresh snapshot; return whether anything shown about the task changed."""
        previous, self.task, self.checked_at = self.task, task, at
        label = task.status_label
        status_changed = not self.history or self.history[-1].status != label
        if status_changed:
            self.history.append(StatusChange(label, at))
            del self.history[:-HISTORY_LIMIT]
        return status_changed or previous is None or visible_state(previous) != visible_state(task)


def retries_of(entries: Iterable[WatchEntry], ref: TaskRef) -> list[TaskRef]:
    """The watched tasks submitted to retry ``ref`` ("retried as"), in watchlist order."""
    return [entry.ref for entry in entries if entry.retry_of == ref]


def visible_state(task: Task) -> tuple[object, ...]:
    """What the table and the detail summary show of ``task`` (a change is worth saving)."""
    failure = task.failure.message if task.failure else None
    return (
        task.status_label,
        task.task_id,
        task.out_task_id,
        task.model,
        task.prompt,
        task.created_at,
        task.completed_at,
        task.outputs,
        task.outputs_omitted,
        failure,
        task.credits_used,
    )


def cut_label(label: str) -> str:
    """``label`` cut to ``MAX_LABEL_LENGTH`` characters, an ellipsis showing where."""
    if len(label) <= MAX_LABEL_LENGTH:
        return label
    return label[: MAX_LABEL_LENGTH - 1] + "…"


def toml_str(text: str) -> str:
    """A TOML basic string for ``text``."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    quoted = json.dumps(text, ensure_ascii=False)
    # JSON leaves DEL alone; TOML forbids it unescaped.
    return quoted.replace("\x7f", "\\u007f") if "\x7f" in quoted else quoted


def toml_time(when: datetime) -> str:
    """An RFC 3339 offset datetime in UTC (naive values are taken as UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


class FormatError(ValueError):
    """The document as a whole has the wrong shape (the store adds the file name)."""


HEADER: Final = (
    "# aireiter-tui watchlist: the tasks you watch, one per line.\n"
    "# Edit it freely: a running dashboard takes your changes in when it next saves.\n"
    "# What the server last said about each task is kept in the .db file beside it.\n"
    f"version = {FORMAT_VERSION}\n"
)


def _line(entry: WatchEntry) -> str:
    label = "" if entry.label is None else f", label = {toml_str(entry.label)}"
    submitted = ""
    if entry.estimated_credits is not None:
        # repr() of a finite float is a TOML float (100.0, 1e+16); the reader checks it.
        submitted += f", estimated_credits = {float(entry.estimated_credits)!r}"
    if entry.retry_of is not None:
        submitted += f", retry_of = {toml_str(entry.retry_of.key)}"
    return (
        f"  {{id = {toml_str(entry.ref.id)}, kind = {_KINDS[entry.ref.kind]}{label}, "
        f"added_at = {toml_time(entry.added_at)}{submitted}}},\n"
    )


#: Each kind as a TOML string, made once (not once per line of 100,000).
_KINDS: Final = {kind: toml_str(kind.value) for kind in IdKind}


def encode(entries: Iterable[WatchEntry]) -> str:
    """The TOML document for ``entries``."""
    return "".join([HEADER, "tasks = [\n", *map(_line, entries), "]\n"])


def _when(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if value.tzinfo is UTC:
        return value
    try:
        # In UTC, as every other time here: writing 0001-01-01T00:00:00+23:00 back in UTC
        # (or comparing it with another offset) would raise OverflowError.
        return value.astimezone(UTC)
    except OverflowError:
        return None


def _from_summary(ref: TaskRef, summary: dict[str, Any]) -> Task:
    """Rebuild a task from the readable summary fields (when ``raw`` is missing or bad)."""
    data: dict[str, Any] = {ref.kind.value: ref.id, "status": summary.get("status")}
    for key in ("created_at", "completed_at"):
        when = _when(summary.get(key))
        if when is not None:
            data[key] = when.isoformat()
    params = {"prompt": summary["prompt"]} if isinstance(summary.get("prompt"), str) else {}
    data["input"] = {"model": summary.get("model"), "params": params}
    outputs = summary.get("outputs")
    if isinstance(outputs, list):
        data["output"] = [{"url": url} for url in outputs if isinstance(url, str)]
    if isinstance(summary.get("error"), str):
        data["error"] = {"message": summary["error"]}
    credits = summary.get("credits_used")
    if isinstance(credits, int | float) and not isinstance(credits, bool):
        data["credits_used"] = credits
    return parse_task(data)


def _snapshot(ref: TaskRef, value: Any) -> Task | None:
    if not isinstance(value, dict):
        return None
    raw = value.get("raw")
    try:
        if isinstance(raw, str):
            return parse_task(json.loads(raw))
        if isinstance(raw, dict):
            return parse_task(raw)
    except (ValueError, TaskParseError, RecursionError):
        pass
    return _from_summary(ref, value)


def _entry(index: int, item: Any, warnings: list[str]) -> WatchEntry | None:
    where = f"task {index + 1}"
    if not isinstance(item, dict):
        warnings.append(f"{where}: skipped, it is not a table")
        return None
    ident = item.get("id")
    problem = "the ID is missing" if not isinstance(ident, str) else validate_task_id(ident)
    if problem or not isinstance(ident, str):
        warnings.append(f"{where}: skipped, {problem}")
        return None
    where = f"task {clean(ident, max_length=60, single_line=True)}"
    try:
        # Left out (a line added by hand), it is the usual kind.
        kind = IdKind(str(item.get("kind", IdKind.TASK_ID.value)))
    except ValueError:
        warnings.append(f'{where}: skipped, "kind" must be "task_id" or "out_task_id"')
        return None
    ref = TaskRef(kind, ident)
    label = item.get("label")
    if label is not None and not isinstance(label, str):
        warnings.append(f"{where}: the label is not a string and was dropped")
        label = None
    elif label is not None and len(label) > MAX_LABEL_LENGTH:
        warnings.append(
            f"{where}: the label is {len(label):,} characters long; "
            f"it was cut to {MAX_LABEL_LENGTH}"
        )
        label = cut_label(label)
    added_at = _when(item.get("added_at"))
    if added_at is None:
        if "added_at" in item:  # left out (a line added by hand) needs no word
            warnings.append(f"{where}: no valid added_at, using the current time")
        added_at = datetime.now(UTC)
    history = []
    raw_history = item.get("history")
    for change in raw_history if isinstance(raw_history, list) else ():
        at = _when(change.get("at")) if isinstance(change, dict) else None
        if at is not None and isinstance(change.get("status"), str):
            history.append(StatusChange(change["status"], at))
    return WatchEntry(
        ref=ref,
        label=label,
        added_at=added_at,
        task=_snapshot(ref, item.get("snapshot")),
        checked_at=_when(item.get("checked_at")),
        history=history[-HISTORY_LIMIT:],
        estimated_credits=_estimate(item, where, warnings),
        retry_of=_retry_of(item, where, warnings),
    )


def _estimate(item: dict[str, Any], where: str, warnings: list[str]) -> float | None:
    value = item.get("estimated_credits")
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # a TOML integer beyond any float
            number = math.inf
        if math.isfinite(number) and number >= 0:
            return number
    warnings.append(f"{where}: estimated_credits is not a number of credits and was dropped")
    return None


def _retry_of(item: dict[str, Any], where: str, warnings: list[str]) -> TaskRef | None:
    value = item.get("retry_of")
    if value is None:
        return None
    if isinstance(value, str):
        kind, _, ident = value.partition(":")
        if kind in (IdKind.TASK_ID.value, IdKind.OUT_TASK_ID.value) and not validate_task_id(ident):
            return TaskRef(IdKind(kind), ident)
    warnings.append(
        f'{where}: retry_of must be "task_id:ID" or "out_task_id:ID"; the link was dropped'
    )
    return None


@dataclass
class Merge:
    """What a save took over from another process's changes to the file."""

    dropped: list[TaskRef] = field(default_factory=list)
    """Watched here, removed there since this store last read or wrote the file."""
    relabelled: dict[TaskRef, str | None] = field(default_factory=dict)
    """Labels changed there and not here, with the label the file now has (the entries
    the save returned carry it; the caller's own entries are left as they were)."""

    def rebase(
        self,
        ours: Sequence[WatchEntry],
        base: dict[TaskRef, str | None],
        theirs: Sequence[WatchEntry],
    ) -> list[WatchEntry]:
        """``ours`` with the changes from ``base`` (each ref's label in the file as last
        read or written) to ``theirs`` (the file now) applied; a relabelled entry is a
        copy, never ``ours`` changed in place."""
        now = {entry.ref: entry for entry in theirs}
        kept = []
        for entry in ours:
            there = now.get(entry.ref)
            if entry.ref in base and there is None:
                self.dropped.append(entry.ref)
                continue
            was = base.get(entry.ref, entry.label)
            if there is not None and there.label != was and entry.label == was:
                entry = replace(entry, label=there.label)
                self.relabelled[entry.ref] = there.label
            kept.append(entry)
        return kept


class Decoder:
    """Reads a parsed document's tasks into entries one at a time, as a reader hands
    them over (a long list is shown while it is read): bad entries are skipped with a
    warning (:attr:`warnings`), a task listed twice is taken once (the first)."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self._seen: set[TaskRef] = set()
        self._index = 0

    @staticmethod
    def version(value: Any) -> None:
        """Check the document's ``version``.

        Raises:
            FormatError: not an integer, or another format version.
        """
        if not isinstance(value, int) or isinstance(value, bool):
            raise FormatError(f'"version" must be an integer, got {json.dumps(value, default=str)}')
        if value != FORMAT_VERSION:
            raise FormatError(f"it has format version {value}; this program reads version 1")

    def take(self, item: Any) -> WatchEntry | None:
        """The entry of the next task's table, or None (skipped, or listed before)."""
        entry = _entry(self._index, item, self.warnings)
        self._index += 1
        if entry is None or entry.ref in self._seen:
            return None
        self._seen.add(entry.ref)
        return entry


def decode(document: Any) -> tuple[list[WatchEntry], list[str]]:
    """Read a parsed document into entries; bad entries are skipped with a warning.

    Raises:
        FormatError: the top level has the wrong shape or a newer format version.
    """
    if not isinstance(document, dict):
        raise FormatError("the top level is not a table")
    decoder = Decoder()
    decoder.version(document.get("version", FORMAT_VERSION))
    tasks = document.get("tasks", [])
    if not isinstance(tasks, list):
        raise FormatError('"tasks" must be an array of [[tasks]] tables')
    entries = [entry for item in tasks if (entry := decoder.take(item)) is not None]
    return entries, decoder.warnings
