"""The task model and its total parser.

:func:`parse_task` accepts any JSON value. It returns a :class:`Task` for anything that
is a JSON object (fields of the wrong type are dropped and listed in
``Task.warnings``), and raises :class:`TaskParseError` with a readable reason for
anything else. It never raises ``KeyError``/``TypeError``/``AttributeError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from itertools import islice
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from aireiter_tui.domain.errors import AIReiterError, TaskNotFoundError
from aireiter_tui.domain.fields import (
    JSON,
    MAX_ITEM_WARNINGS,
    MAX_NAME_CHARS,
    MAX_OUTPUTS,
    MAX_TEXT_CHARS,
    MAX_URLS,
    best_error_message,
    cap,
    compact,
    is_empty_error,
    optional_str,
    parse_credits,
    parse_datetime,
    split_url_list,
    type_name,
)

MAX_ID_LENGTH: Final = 256


class TaskParseError(ValueError):
    """A JSON value could not be read as a task; ``reason`` says why, for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TaskStatus(StrEnum):
    """Where a task is in its life. Anything the API sends that we do not know is UNKNOWN."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    UNKNOWN = "unknown"

    # Hashed as its text, in C: Enum's own __hash__ is a Python call, made for each of
    # 100,000 tasks counted by status as a list is read (and equal strings and members
    # then hash alike, as equal values must).
    __hash__ = str.__hash__

    @property
    def is_terminal(self) -> bool:
        """Completed and failed tasks never change again."""
        return self in (TaskStatus.COMPLETED, TaskStatus.FAILED)

    @property
    def is_active(self) -> bool:
        """Queued or running: worth polling."""
        return self in (TaskStatus.PENDING, TaskStatus.PROCESSING)


def forgotten(status: TaskStatus | None, error: AIReiterError | None) -> bool:
    """Whether a task is no longer known to the server: it answered for it before (with
    an unfinished ``status``) and now says it does not know it.

    Such a task is not running as far as anyone can tell: its clock stops, it is not
    counted as pending or processing, and it is polled rarely (the server may bring it
    back). A finished task keeps its final status: that is still what happened to it.
    """
    return isinstance(error, TaskNotFoundError) and status is not None and not status.is_terminal


class IdKind(StrEnum):
    """Which of the two IDs the API accepts a watched task is known by."""

    TASK_ID = "task_id"
    OUT_TASK_ID = "out_task_id"


@dataclass(frozen=True, slots=True, order=True)
class TaskRef:
    """How a watched task is addressed: its ID and which kind of ID it is."""

    kind: IdKind
    id: str
    key: str = field(init=False, repr=False, compare=False)
    """A stable string key (for table rows and dictionaries)."""

    def __post_init__(self) -> None:
        # Computed once: every refresh outcome looks its row up by it.
        object.__setattr__(self, "key", f"{self.kind.value}:{self.id}")

    def __hash__(self) -> int:
        # The key's hash, cached by the string: the generated hash built a tuple and
        # called the enum's Python-level __hash__ for every lookup of every row (a
        # load looks each ref up in five dictionaries). Equal refs have equal keys.
        return hash(self.key)

    @classmethod
    def keyed(cls, kind: IdKind, ident: str, key: str) -> TaskRef:
        """The ref of ``kind`` and ``ident`` whose :attr:`key` the caller holds already
        (exactly ``f"{kind.value}:{ident}"``): it is kept, not built again (a read of
        100,000 rows from the snapshot cache)."""
        ref = object.__new__(cls)
        put = object.__setattr__
        put(ref, "kind", kind)
        put(ref, "id", ident)
        put(ref, "key", key)
        return ref

    @classmethod
    def from_key(cls, key: str) -> TaskRef:
        kind, _, ident = key.partition(":")
        return cls(IdKind(kind), ident)


class OutputKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    OTHER = "other"


_IMAGE_EXT: Final = {"png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff", "avif", "heic"}
_VIDEO_EXT: Final = {"mp4", "mov", "webm", "mkv", "avi", "m4v", "gifv"}


#: Characters a URL scheme may hold after its first letter (as :func:`urlsplit` judges).
_SCHEME_CHARS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-."
)


def url_path(url: str) -> str:
    """``urlsplit(url).path``; raises ValueError where :func:`urlsplit` does.

    A URL of printable ASCII without brackets (every output URL seen) is cut here
    without building the whole split (:func:`urlsplit` took 6 µs an output, a third of
    parsing a task): with nothing :func:`urlsplit` strips or checks, its path is what
    follows the scheme and the ``//`` authority, up to the query or fragment. Any other
    URL goes to :func:`urlsplit` itself.
    """
    if not (url.isascii() and url.isprintable()) or url[:1] == " " or "[" in url or "]" in url:
        return urlsplit(url).path
    colon = url.find(":")
    if colon > 0 and url[0].isalpha() and _SCHEME_CHARS.issuperset(url[1:colon]):
        url = url[colon + 1 :]
    if url[:2] == "//":
        ends = [at for at in (url.find(mark, 2) for mark in "/?#") if at >= 0]
        url = url[min(ends) :] if ends else ""
    for mark in "#?":
        url = url.partition(mark)[0]
    return url


def guess_output_kind(url: str) -> OutputKind:
    """Guess image/video/other from the URL's path extension."""
    try:
        path = url_path(url)
    except ValueError:
        return OutputKind.OTHER
    ext = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    if ext in _IMAGE_EXT:
        return OutputKind.IMAGE
    if ext in _VIDEO_EXT:
        return OutputKind.VIDEO
    return OutputKind.OTHER


@dataclass(frozen=True, slots=True)
class TaskOutput:
    """One generated resource."""

    url: str
    kind: OutputKind


@dataclass(frozen=True, slots=True)
class TaskFailure:
    """The ``error`` object of a failed task: whatever it held, and the best message in it."""

    raw: JSON
    message: str


@dataclass(frozen=True, slots=True)
class TaskInput:
    """What the task was submitted with.

    ``params`` is kept exactly as given; ``url_lists`` holds every string param that is a
    comma-joined list of URLs, split; ``attachments`` is the flattened, split list. Each
    list keeps its first :data:`MAX_URLS` URLs: ``attachments_omitted`` and
    ``url_lists_omitted`` (by param, only those cut) count the rest.
    """

    model: str | None
    params: dict[str, JSON]
    attachments: tuple[str, ...]
    url_lists: dict[str, tuple[str, ...]]
    raw: JSON
    attachments_omitted: int = 0
    url_lists_omitted: dict[str, int] = field(default_factory=dict)

    @property
    def prompt(self) -> str | None:
        """The prompt, cut to :data:`MAX_TEXT_CHARS` (the params keep it whole)."""
        value = self.params.get("prompt")
        return cap(value, MAX_TEXT_CHARS) if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Task:
    """One AIReiter task as last seen.

    A task read back from the snapshot cache (:func:`deferred_task`) is built from the
    cache's typed columns (status, times, credits, model, prompt, IDs, output count)
    and keeps the reply as JSON text: the rest of it (input, outputs, failure,
    metadata, warnings, ``raw``) is parsed by :func:`parse_task` the first time any of
    it is read. Loading 100,000 tasks then parses none of them; the detail pane, an
    export or a new answer's comparison parse the few they touch. Either way the task
    is equal to ``parse_task`` of its reply.
    """

    task_id: str | None
    status: TaskStatus
    status_raw: str | None
    created_at: datetime | None = None
    completed_at: datetime | None = None
    input: TaskInput | None = None
    outputs: tuple[TaskOutput, ...] = ()
    failure: TaskFailure | None = None
    credits_used: float | None = None
    metadata: dict[str, JSON] | None = None
    out_task_id: str | None = None
    raw: JSON = None
    warnings: tuple[str, ...] = field(default=())
    outputs_omitted: int = 0
    """How many more outputs the response listed beyond the :data:`MAX_OUTPUTS` kept."""
    # What the table, sort and counts read of every task, kept apart from ``input`` and
    # ``outputs`` so that reading them never parses a deferred reply.
    _model: str | None = field(default=None, init=False, repr=False, compare=False)
    _prompt: str | None = field(default=None, init=False, repr=False, compare=False)
    _output_count: int = field(default=0, init=False, repr=False, compare=False)
    # The reply as JSON text while the fields above are not all read from it.
    _reply: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        given = self.input
        if given is not None:
            object.__setattr__(self, "_model", given.model)
            object.__setattr__(self, "_prompt", given.prompt)
        object.__setattr__(self, "_output_count", len(self.outputs) + self.outputs_omitted)

    def __getstate__(self) -> list[Any]:
        return [getattr(self, name) for name in _PUBLIC_FIELDS]

    def __setstate__(self, state: list[Any]) -> None:
        # The public fields only, as an earlier version's pickle holds them (the pickled
        # cache is migrated from those): the summary slots follow from them when read.
        for name, value in zip(_PUBLIC_FIELDS, state, strict=False):
            object.__setattr__(self, name, value)

    if not TYPE_CHECKING:  # (mypy would take any attribute name as valid)

        def __getattr__(self, name: str) -> Any:
            # Reached only for a slot that was never set: the deferred part of a task
            # from the cache, or (from an earlier version's pickle) the summary slots.
            if name not in _DEFERRED:
                raise AttributeError(name)
            _fill(self)
            return object.__getattribute__(self, name)

    @property
    def output_count(self) -> int:
        """How many outputs the response listed, kept or not."""
        return self._output_count

    @property
    def model(self) -> str | None:
        return self._model

    @property
    def prompt(self) -> str | None:
        """The prompt, cut to :data:`MAX_TEXT_CHARS` (the params keep it whole)."""
        return self._prompt

    @property
    def status_label(self) -> str:
        """The status as the API said it (the raw value for unknown ones)."""
        if self.status is TaskStatus.UNKNOWN:
            return self.status_raw or "unknown"
        return self.status.value


_PUBLIC_FIELDS: Final = tuple(name for name in Task.__dataclass_fields__ if name[0] != "_")
#: Task fields a deferred task reads from its reply when first asked for one.
_REPLY_FIELDS: Final = (
    "task_id",
    "out_task_id",
    "status_raw",
    "input",
    "outputs",
    "failure",
    "metadata",
    "raw",
    "warnings",
    "outputs_omitted",
)
_DEFERRED: Final = frozenset({*_REPLY_FIELDS, "_model", "_prompt", "_output_count", "_reply"})
#: The reply's JSON read in one call into C (``json.loads`` adds three Python layers).
_scan_json: Final[Callable[[str, int], tuple[JSON, int]]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_UNREADABLE: Final = "the cached reply could not be read; the next refresh brings it again"


def read_reply(text: str) -> Task:
    """The task in a reply's JSON text, as :func:`parse_task` reads it; never raises
    (text that is not one JSON object gives an empty task with a warning)."""
    try:
        data, end = _scan_json(text, 0)
        if end == len(text):
            return parse_task(data)
    except (ValueError, StopIteration, RecursionError, TaskParseError):
        pass
    return Task(None, TaskStatus.UNKNOWN, None, warnings=(_UNREADABLE,))


def _fill(task: Task) -> None:
    """Set every slot of ``task`` still unset, from its reply (or, for a task of an
    earlier version's pickle, from its other fields)."""
    try:
        reply = object.__getattribute__(task, "_reply")
    except AttributeError:
        reply = None
    if reply is not None:
        full = read_reply(reply)
        for name in _REPLY_FIELDS:
            if not _is_set(task, name):
                object.__setattr__(task, name, object.__getattribute__(full, name))
        for name in ("_model", "_prompt"):
            if not _is_set(task, name):
                object.__setattr__(task, name, object.__getattribute__(full, name))
        object.__setattr__(task, "_reply", None)
        return
    # Read past __getattr__: a field the pickle did not set raises AttributeError here
    # (as any unset slot does) instead of coming back to this function.
    given = object.__getattribute__(task, "input")
    outputs = object.__getattribute__(task, "outputs")
    omitted = object.__getattribute__(task, "outputs_omitted")
    object.__setattr__(task, "_model", given.model if given else None)
    object.__setattr__(task, "_prompt", given.prompt if given else None)
    object.__setattr__(task, "_output_count", len(outputs) + omitted)
    object.__setattr__(task, "_reply", None)


def _is_set(task: Task, name: str) -> bool:
    try:
        object.__getattribute__(task, name)
    except AttributeError:
        return False
    return True


#: A summary value a deferred task does not have: read from the reply when asked for.
NOT_KEPT: Final = object()


def deferred_task(
    reply: str,
    status: TaskStatus,
    created_at: datetime | None,
    completed_at: datetime | None,
    credits_used: float | None,
    output_count: int,
    model: str | object | None = NOT_KEPT,
    prompt: str | object | None = NOT_KEPT,
    task_id: str | object | None = NOT_KEPT,
    out_task_id: str | object | None = NOT_KEPT,
) -> Task:
    """A task whose summary is given (as the snapshot cache's columns hold it, taken
    from ``parse_task`` of ``reply``) and whose other fields are read from ``reply``
    when first needed (see :class:`Task`). A text :data:`NOT_KEPT` (the column could
    not hold it exactly) is read from the reply too."""
    task = object.__new__(Task)
    put = object.__setattr__
    put(task, "status", status)
    put(task, "created_at", created_at)
    put(task, "completed_at", completed_at)
    put(task, "credits_used", credits_used)
    put(task, "_output_count", output_count)
    # (The text filter reads the IDs of every row: they are kept like the summary.)
    for name, text in (
        ("_model", model),
        ("_prompt", prompt),
        ("task_id", task_id),
        ("out_task_id", out_task_id),
    ):
        if text is not NOT_KEPT:
            put(task, name, text)
    put(task, "_reply", reply)
    return task


#: The statuses as the API spells them: looked up whole before any stripping or casing.
_STATUSES: Final = {status.value: status for status in TaskStatus}


def parse_status(value: JSON) -> tuple[TaskStatus, str | None]:
    """Map the API's status value to a :class:`TaskStatus` and the raw text.

    The raw text is cut to :data:`MAX_NAME_CHARS`: it is shown, kept in the history and
    saved, and no status the API knows is anywhere near that long.
    """
    if not isinstance(value, str):
        return TaskStatus.UNKNOWN, None if value is None else compact(value, 60)
    exact = _STATUSES.get(value)
    if exact is not None:
        return exact, value
    if len(value) > MAX_NAME_CHARS:
        return TaskStatus.UNKNOWN, cap(value, MAX_NAME_CHARS)
    try:
        status = TaskStatus(value.strip().lower())
    except ValueError:
        return TaskStatus.UNKNOWN, value
    return status, value


def _url_list(value: str) -> tuple[tuple[str, ...], int] | None:
    """The kept URLs and the count of the rest, if ``value`` is a comma-joined URL list.

    Judged by the kept parts only: a 2 MB list is not split whole to decide; and text
    with no ``://`` nor ``data:`` anywhere (a prompt) is not split at all.
    """
    if "://" not in value and "data:" not in value:
        return None
    parts, omitted = split_url_list(value, MAX_URLS)
    if parts and all("://" in part or part.startswith("data:") for part in parts):
        return parts, omitted
    return None


class _ItemWarnings:
    """Warnings about the entries of one list: the first few, then one line for the rest
    (100,000 bad entries would otherwise make 100,000 warnings)."""

    def __init__(self, warnings: list[str], name: str, problem: str) -> None:
        self._warnings = warnings
        self._name = name
        self._problem = problem
        self.count = 0

    def add(self, index: int) -> None:
        self.count += 1
        if self.count <= MAX_ITEM_WARNINGS:
            self._warnings.append(f"{self._name}[{index}]: {self._problem}")

    def close(self, more: int = 0) -> None:
        """Write the line for the entries not warned about (``more`` were never looked at)."""
        rest = max(0, self.count - MAX_ITEM_WARNINGS) + more
        if rest > 0:
            self._warnings.append(f"{self._name}: {rest:,} more entries with {self._problem}")


def _parse_input(raw: JSON, warnings: list[str]) -> TaskInput | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        warnings.append(f"input: expected an object, got {type_name(raw)}")
        return None
    model = raw.get("model")
    if isinstance(model, str):
        model = cap(model, MAX_NAME_CHARS)
    elif model is not None:
        warnings.append(f"input.model: expected a string, got {type_name(model)}")
        model = None
    params = raw.get("params")
    if params is None:
        params = {}
    elif not isinstance(params, dict):
        warnings.append(f"input.params: expected an object, got {type_name(params)}")
        params = {}
    url_lists: dict[str, tuple[str, ...]] = {}
    url_lists_omitted: dict[str, int] = {}
    for key, value in params.items():
        found = _url_list(value) if isinstance(value, str) else None
        if found is not None:
            url_lists[str(key)] = found[0]
            if found[1]:
                url_lists_omitted[str(key)] = found[1]
    attachments: list[str] = []
    omitted = 0
    raw_attachments = raw.get("attachments")
    if isinstance(raw_attachments, str):
        raw_attachments = [raw_attachments]
    if isinstance(raw_attachments, list):
        no_url = _ItemWarnings(warnings, "input.attachments", "no url")
        for index, item in enumerate(raw_attachments):
            url = item.get("url") if isinstance(item, dict) else item
            if isinstance(url, str):
                # Once the list is full the rest is only counted (a room of 0 splits nothing).
                kept, more = split_url_list(url, MAX_URLS - len(attachments))
                attachments.extend(kept)
                omitted += more
            else:
                no_url.add(index)
        no_url.close()
    elif raw_attachments is not None:
        warnings.append(f"input.attachments: expected a list, got {type_name(raw_attachments)}")
    return TaskInput(model, params, tuple(attachments), url_lists, raw, omitted, url_lists_omitted)


def _output_url(item: JSON) -> str | None:
    """The URL of one output entry (a string or an object with a ``url``), or ``None``."""
    url = item.get("url") if isinstance(item, dict) else item
    return url if isinstance(url, str) and url and not url.isspace() else None


def _parse_outputs(raw: JSON, warnings: list[str]) -> tuple[tuple[TaskOutput, ...], int]:
    """The first :data:`MAX_OUTPUTS` outputs, and how many more usable ones follow."""
    if raw is None:
        return (), 0
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        warnings.append(f"output: expected a list, got {type_name(raw)}")
        return (), 0
    outputs: list[TaskOutput] = []
    no_url = _ItemWarnings(warnings, "output", "no url")
    omitted = 0
    for index, item in enumerate(raw):
        if len(outputs) == MAX_OUTPUTS:
            # Past the cap the entries are only counted: no objects, no URL parsing.
            rest = len(raw) - index
            omitted = sum(1 for entry in islice(raw, index, None) if _output_url(entry) is not None)
            no_url.close(rest - omitted)
            return tuple(outputs), omitted
        url = _output_url(item)
        if url is None:
            no_url.add(index)
        else:
            url = url.strip()
            outputs.append(TaskOutput(url, guess_output_kind(url)))
    no_url.close()
    return tuple(outputs), omitted


def parse_task(data: JSON) -> Task:
    """Read the ``data`` object of a query response as a :class:`Task`.

    Raises:
        TaskParseError: ``data`` is not a JSON object.
    """
    if not isinstance(data, dict):
        raise TaskParseError(f"expected the task as a JSON object, got {type_name(data)}")
    warnings: list[str] = []
    status, status_raw = parse_status(data.get("status"))
    if "status" not in data:
        warnings.append("status: missing")
    elif not isinstance(data["status"], str | None):
        warnings.append(f"status: expected a string, got {type_name(data['status'])}")
    credits = parse_credits(data.get("credits_used"), warnings)
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        warnings.append(f"metadata: expected an object, got {type_name(metadata)}")
        metadata = None
    failure = None
    raw_error = data.get("error")
    if not is_empty_error(raw_error) or status is TaskStatus.FAILED:
        failure = TaskFailure(raw_error, best_error_message(raw_error))
    times = {}
    for key in ("created_at", "completed_at"):
        times[key] = parse_datetime(data.get(key))
        if data.get(key) is not None and times[key] is None:
            warnings.append(f"{key}: not a date")
    outputs, outputs_omitted = _parse_outputs(data.get("output"), warnings)
    return Task(
        # No usable ID is longer: cutting there never changes one that can be queried.
        task_id=optional_str(data, "task_id", warnings, MAX_ID_LENGTH),
        out_task_id=optional_str(data, "out_task_id", warnings, MAX_ID_LENGTH),
        status=status,
        status_raw=status_raw,
        created_at=times["created_at"],
        completed_at=times["completed_at"],
        input=_parse_input(data.get("input"), warnings),
        outputs=outputs,
        outputs_omitted=outputs_omitted,
        failure=failure,
        credits_used=credits,
        metadata=metadata,
        raw=data,
        warnings=tuple(warnings),
    )


def validate_task_id(text: str) -> str | None:
    """Say why ``text`` is not a usable task ID, or return ``None``."""
    # The usual ID passes on checks made in C: isprintable() rules out every control and
    # every whitespace but " " (tests/test_models.py checks each code point), so the
    # per-character loops below (60 µs for a 25-character ID) run only to find a reason.
    if (
        text.isprintable()
        and 0 < len(text) <= MAX_ID_LENGTH
        and " " not in text
        and "," not in text
        and "://" not in text
        and "…" not in text
    ):
        return None
    if not text:
        return "the ID is empty"
    if len(text) > MAX_ID_LENGTH:
        return f"the ID is longer than {MAX_ID_LENGTH} characters"
    if any(ch.isspace() for ch in text):
        return "the ID contains spaces"
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in text):
        return "the ID contains control characters"
    if "," in text:
        return "the ID contains a comma"
    if "://" in text:
        return "this is a URL, not a task ID"
    if "…" in text:
        return "the ID was cut off ('…'): copy the whole ID (y copies the selected one)"
    return None
