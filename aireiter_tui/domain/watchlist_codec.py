"""Watch entries and their TOML form.

The TOML is written here by hand instead of with ``tomli_w``: for 10,000 entries
``tomli_w`` takes about a second, this takes well under a tenth of that. Every string
goes through :func:`toml_str` (JSON escapes are a subset of TOML's basic-string escapes)
and the raw task JSON is written as a TOML literal string in which ``'`` and every
non-ASCII or control character are JSON ``\\u`` escapes, so it never needs quoting.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
MAX_RAW_CHARS: Final = 256 * 1024
PROMPT_EXCERPT: Final = 200
ERROR_EXCERPT: Final = 500
FORMAT_VERSION: Final = 1


@dataclass
class StatusChange:
    """The status a task was first seen with, or changed to, and when."""

    status: str
    at: datetime


@dataclass
class WatchEntry:
    """One watched task: how it is addressed, what we last saw, and its status history."""

    ref: TaskRef
    label: str | None
    added_at: datetime
    task: Task | None = None
    """The last snapshot received (or read back from the file)."""
    checked_at: datetime | None = None
    """When the last successful refresh happened."""
    history: list[StatusChange] = field(default_factory=list)
    """Status transitions seen so far, oldest first, at most ``HISTORY_LIMIT``."""

    def record(self, task: Task, at: datetime) -> bool:
        """Store a fresh snapshot; return whether anything shown about the task changed."""
        previous, self.task, self.checked_at = self.task, task, at
        label = task.status_label
        status_changed = not self.history or self.history[-1].status != label
        if status_changed:
            self.history.append(StatusChange(label, at))
            del self.history[:-HISTORY_LIMIT]
        return status_changed or previous is None or _visible(previous) != _visible(task)


def _visible(task: Task) -> tuple[object, ...]:
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
        failure,
        task.credits_used,
    )


class FormatError(ValueError):
    """The document as a whole has the wrong shape (the store adds the file name)."""


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


def raw_json(task: Task) -> str | None:
    """The task's raw JSON, ASCII-only and without ``'``; ``None`` if too large."""
    try:
        text = json.dumps(task.raw, separators=(",", ":"), default=str)
    except (TypeError, ValueError, RecursionError):
        return None
    if len(text) > MAX_RAW_CHARS:
        return None
    # "'" can only occur inside JSON strings, where \u0027 means the same.
    return text.replace("'", "\\u0027")


def _summary(task: Task) -> dict[str, Any]:
    summary: dict[str, Any] = {"status": task.status_label}
    if task.model is not None:
        summary["model"] = task.model
    if task.prompt is not None:
        summary["prompt"] = task.prompt[:PROMPT_EXCERPT]
    for key in ("created_at", "completed_at"):
        value = getattr(task, key)
        if value is not None:
            summary[key] = value
    if task.credits_used is not None:
        summary["credits_used"] = task.credits_used
    summary["outputs"] = [output.url for output in task.outputs]
    if task.failure is not None:
        summary["error"] = task.failure.message[:ERROR_EXCERPT]
    return summary


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return toml_str(value)
    if isinstance(value, datetime):
        return toml_time(value)
    if isinstance(value, float):
        return repr(value)
    return "[" + ", ".join(toml_str(item) for item in value) + "]"


_Fingerprint = tuple[Any, ...]


def _fingerprint(entry: WatchEntry) -> _Fingerprint:
    last = entry.history[-1] if entry.history else None
    return (entry.task, last, entry.label, entry.added_at, entry.checked_at, len(entry.history))


def _same(a: _Fingerprint, b: _Fingerprint) -> bool:
    # Identity for the snapshot and last change: comparing Tasks by value would walk
    # their raw JSON, and record() always installs a new object when anything changes.
    return a[0] is b[0] and a[1] is b[1] and a[2:] == b[2:]


class Encoder:
    """Turns entries into TOML text, remembering each entry's text between saves.

    A refresh round changes only some entries, so the TOML of the others is reused
    (keyed by ref, checked against a fingerprint of the entry).
    """

    def __init__(self) -> None:
        self._chunks: dict[TaskRef, tuple[_Fingerprint, str]] = {}

    def remember(self, entries: Sequence[WatchEntry], chunks: Sequence[str]) -> None:
        """Adopt ``chunks`` (the TOML of ``entries``, e.g. from the cache) as known."""
        self._chunks = {e.ref: (_fingerprint(e), c) for e, c in zip(entries, chunks, strict=True)}

    def chunks_for(self, entries: Sequence[WatchEntry]) -> list[str] | None:
        """The remembered TOML of each entry, if every one is known."""
        found = [self._chunks.get(entry.ref) for entry in entries]
        return [chunk[1] for chunk in found if chunk is not None] if all(found) else None

    def encode(self, entries: Iterable[WatchEntry]) -> str:
        """Return the TOML document for ``entries``."""
        parts = [f"# aireiter-tui watchlist\nversion = {FORMAT_VERSION}\n"]
        memo: dict[TaskRef, tuple[_Fingerprint, str]] = {}
        for entry in entries:
            print_ = _fingerprint(entry)
            known = self._chunks.get(entry.ref)
            chunk = known[1] if known is not None and _same(known[0], print_) else _chunk(entry)
            memo[entry.ref] = (print_, chunk)
            parts.append(chunk)
        self._chunks = memo
        return "".join(parts)


def _chunk(entry: WatchEntry) -> str:
    head: dict[str, Any] = {"id": entry.ref.id, "kind": entry.ref.kind.value}
    if entry.label is not None:
        head["label"] = entry.label
    head["added_at"] = entry.added_at
    if entry.checked_at is not None:
        head["checked_at"] = entry.checked_at
    lines = ["\n[[tasks]]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in head.items()]
    lines.append("history = [")
    lines += [
        f"  {{status = {toml_str(change.status)}, at = {toml_time(change.at)}}},"
        for change in entry.history
    ]
    lines.append("]")
    if entry.task is not None:
        lines.append("\n[tasks.snapshot]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in _summary(entry.task).items()]
        raw = raw_json(entry.task)
        if raw is not None:
            lines.append(f"raw = '{raw}'")
    return "\n".join(lines) + "\n"


def _when(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


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
        kind = IdKind(str(item.get("kind")))
    except ValueError:
        warnings.append(f'{where}: skipped, "kind" must be "task_id" or "out_task_id"')
        return None
    ref = TaskRef(kind, ident)
    label = item.get("label")
    if label is not None and not isinstance(label, str):
        warnings.append(f"{where}: the label is not a string and was dropped")
        label = None
    added_at = _when(item.get("added_at"))
    if added_at is None:
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
    )


def decode(document: Any) -> tuple[list[WatchEntry], list[str]]:
    """Read a parsed document into entries; bad entries are skipped with a warning.

    Raises:
        FormatError: the top level has the wrong shape or a newer format version.
    """
    if not isinstance(document, dict):
        raise FormatError("the top level is not a table")
    version = document.get("version", FORMAT_VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise FormatError(f'"version" must be an integer, got {json.dumps(version, default=str)}')
    if version != FORMAT_VERSION:
        raise FormatError(f"it has format version {version}; this program reads version 1")
    tasks = document.get("tasks", [])
    if not isinstance(tasks, list):
        raise FormatError('"tasks" must be an array of [[tasks]] tables')
    warnings: list[str] = []
    entries: list[WatchEntry] = []
    seen: set[TaskRef] = set()
    for index, item in enumerate(tasks):
        entry = _entry(index, item, warnings)
        if entry is not None and entry.ref not in seen:
            seen.add(entry.ref)
            entries.append(entry)
    return entries, warnings
