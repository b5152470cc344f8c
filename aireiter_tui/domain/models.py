"""The task model and its total parser.

:func:`parse_task` accepts any JSON value. It returns a :class:`Task` for anything that
is a JSON object (fields of the wrong type are dropped and listed in
``Task.warnings``), and raises :class:`TaskParseError` with a readable reason for
anything else. It never raises ``KeyError``/``TypeError``/``AttributeError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final
from urllib.parse import urlsplit

from aireiter_tui.domain.fields import (
    JSON,
    best_error_message,
    compact,
    is_empty_error,
    optional_str,
    parse_credits,
    parse_datetime,
    split_urls,
    type_name,
)

__all__ = [
    "JSON",
    "IdKind",
    "OutputKind",
    "Task",
    "TaskFailure",
    "TaskInput",
    "TaskOutput",
    "TaskParseError",
    "TaskRef",
    "TaskStatus",
    "best_error_message",
    "guess_output_kind",
    "parse_datetime",
    "parse_status",
    "parse_task",
    "split_urls",
    "validate_task_id",
]

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

    @property
    def is_terminal(self) -> bool:
        """Completed and failed tasks never change again."""
        return self in (TaskStatus.COMPLETED, TaskStatus.FAILED)

    @property
    def is_active(self) -> bool:
        """Queued or running: worth polling."""
        return self in (TaskStatus.PENDING, TaskStatus.PROCESSING)


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


def guess_output_kind(url: str) -> OutputKind:
    """Guess image/video/other from the URL's path extension."""
    try:
        path = urlsplit(url).path
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
    comma-joined list of URLs, split; ``attachments`` is the flattened, split list.
    """

    model: str | None
    params: dict[str, JSON]
    attachments: tuple[str, ...]
    url_lists: dict[str, tuple[str, ...]]
    raw: JSON

    @property
    def prompt(self) -> str | None:
        value = self.params.get("prompt")
        return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Task:
    """One AIReiter task as last seen."""

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

    @property
    def model(self) -> str | None:
        return self.input.model if self.input else None

    @property
    def prompt(self) -> str | None:
        return self.input.prompt if self.input else None

    @property
    def status_label(self) -> str:
        """The status as the API said it (the raw value for unknown ones)."""
        if self.status is TaskStatus.UNKNOWN:
            return self.status_raw or "unknown"
        return self.status.value


def parse_status(value: JSON) -> tuple[TaskStatus, str | None]:
    """Map the API's status value to a :class:`TaskStatus` and the raw text."""
    if not isinstance(value, str):
        return TaskStatus.UNKNOWN, None if value is None else compact(value, 60)
    try:
        status = TaskStatus(value.strip().lower())
    except ValueError:
        return TaskStatus.UNKNOWN, value
    return status, value


def _looks_like_url_list(value: str) -> bool:
    parts = split_urls(value)
    return bool(parts) and all("://" in part or part.startswith("data:") for part in parts)


def _parse_input(raw: JSON, warnings: list[str]) -> TaskInput | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        warnings.append(f"input: expected an object, got {type_name(raw)}")
        return None
    model = raw.get("model")
    if model is not None and not isinstance(model, str):
        warnings.append(f"input.model: expected a string, got {type_name(model)}")
        model = None
    params = raw.get("params")
    if params is None:
        params = {}
    elif not isinstance(params, dict):
        warnings.append(f"input.params: expected an object, got {type_name(params)}")
        params = {}
    url_lists = {
        str(key): split_urls(value)
        for key, value in params.items()
        if isinstance(value, str) and _looks_like_url_list(value)
    }
    attachments: list[str] = []
    raw_attachments = raw.get("attachments")
    if isinstance(raw_attachments, str):
        raw_attachments = [raw_attachments]
    if isinstance(raw_attachments, list):
        for index, item in enumerate(raw_attachments):
            if isinstance(item, str):
                attachments.extend(split_urls(item))
            elif isinstance(item, dict) and isinstance(item.get("url"), str):
                attachments.extend(split_urls(item["url"]))
            else:
                warnings.append(f"input.attachments[{index}]: no url")
    elif raw_attachments is not None:
        warnings.append(f"input.attachments: expected a list, got {type_name(raw_attachments)}")
    return TaskInput(model, params, tuple(attachments), url_lists, raw)


def _parse_outputs(raw: JSON, warnings: list[str]) -> tuple[TaskOutput, ...]:
    if raw is None:
        return ()
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        warnings.append(f"output: expected a list, got {type_name(raw)}")
        return ()
    outputs: list[TaskOutput] = []
    for index, item in enumerate(raw):
        url = item.get("url") if isinstance(item, dict) else item
        if isinstance(url, str) and url.strip():
            outputs.append(TaskOutput(url.strip(), guess_output_kind(url.strip())))
        else:
            warnings.append(f"output[{index}]: no url")
    return tuple(outputs)


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
    return Task(
        task_id=optional_str(data, "task_id", warnings),
        out_task_id=optional_str(data, "out_task_id", warnings),
        status=status,
        status_raw=status_raw,
        created_at=times["created_at"],
        completed_at=times["completed_at"],
        input=_parse_input(data.get("input"), warnings),
        outputs=_parse_outputs(data.get("output"), warnings),
        failure=failure,
        credits_used=credits,
        metadata=metadata,
        raw=data,
        warnings=tuple(warnings),
    )


def validate_task_id(text: str) -> str | None:
    """Say why ``text`` is not a usable task ID, or return ``None``."""
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
