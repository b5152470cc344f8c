"""Watched tasks as a file for other programs: CSV, JSON or JSON Lines, no UI.

The dashboard's export key and ``aireiter-tui list --format`` both build their output
here, from rows in the view's order and the view's columns (each table column becomes one
or more fields: the Task column is the ``id`` and the ``label``), plus every field of
:data:`ALL_FIELDS` when asked.

Everything in a record came from the network or the watchlist and is data:

- CSV cells are one line with control characters as visible symbols (as ``list`` prints
  them), and a text cell that a spreadsheet would read as a formula (it begins with
  ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, after blanks too) gets a single
  quote in front, as OWASP's "CSV injection" advice says.
- JSON is strict and carries nothing raw for a terminal (see :func:`aireiter_tui.output.
  json_text`, the one home of that encoding): numbers stay numbers, times are ISO 8601 in
  UTC, params and metadata stay objects.
"""

from __future__ import annotations

import csv
import io
import math
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Final, TextIO

from aireiter_tui.domain.paths import NotRegularFile, replace_atomically
from aireiter_tui.domain.session import Row
from aireiter_tui.domain.view import run_seconds
from aireiter_tui.output import json_text, shown, timestamp, whole

#: A record's value: what strict JSON can say (lists of URLs, params as objects).
Value = object
#: Seconds left for a row's task by its key, or None (the dashboard's ETA column).
EtaSource = Callable[[str], float | None]


class ExportFormat(StrEnum):
    """The formats an export can be written in; the value is also the file's suffix."""

    CSV = "csv"
    JSON = "json"
    JSONL = "jsonl"

    @property
    def words(self) -> str:
        return {"csv": "CSV", "json": "JSON", "jsonl": "JSON Lines"}[self.value]


@dataclass(frozen=True, slots=True)
class _Context:
    now: datetime
    eta: EtaSource | None


def _prompt(row: Row, _: _Context) -> Value:
    # The whole prompt as submitted (the task's own ``prompt`` is cut for display).
    given = row.task.input if row.task is not None else None
    value = given.params.get("prompt") if given is not None else None
    return value if isinstance(value, str) else None


def _status(row: Row, _: _Context) -> Value:
    if row.task is None:
        return None
    return "gone" if row.gone else row.task.status_label


def _seconds(row: Row, context: _Context) -> Value:
    seconds = run_seconds(row, context.now)
    return round(seconds, 3) if seconds >= 0 else None


def _eta(row: Row, context: _Context) -> Value:
    seconds = context.eta(row.ref.key) if context.eta is not None else None
    return round(seconds, 3) if seconds is not None else None


def _when(moment: datetime | None) -> Value:
    return timestamp(moment) or None


_FIELDS: Final[Mapping[str, Callable[[Row, _Context], Value]]] = {
    "id": lambda row, _: row.ref.id,
    "kind": lambda row, _: row.ref.kind.value,
    "label": lambda row, _: row.label,
    "status": _status,
    "model": lambda row, _: row.task.model if row.task else None,
    "prompt": _prompt,
    "created": lambda row, _: _when(row.task.created_at if row.task else None),
    "completed": lambda row, _: _when(row.task.completed_at if row.task else None),
    "time": _seconds,
    "credits": lambda row, _: row.task.credits_used if row.task else None,
    "estimated_credits": lambda row, _: row.entry.estimated_credits,
    "output_count": lambda row, _: row.task.output_count if row.task else None,
    "outputs": lambda row, _: [o.url for o in row.task.outputs] if row.task else [],
    "error": lambda row, _: row.task.failure.message if row.task and row.task.failure else None,
    "params": lambda row, _: row.task.input.params if row.task and row.task.input else None,
    "metadata": lambda row, _: row.task.metadata if row.task else None,
    "task_id": lambda row, _: row.task.task_id if row.task else None,
    "out_task_id": lambda row, _: row.task.out_task_id if row.task else None,
    "added": lambda row, _: _when(row.added_at),
    "checked": lambda row, _: _when(row.checked_at),
    "retry_of": lambda row, _: row.entry.retry_of.key if row.entry.retry_of else None,
    "eta": _eta,
}

#: Every field of a task, in the order ``--all-fields`` adds them (the ETA is a guess from
#: other tasks, not a field: it comes with its column only).
ALL_FIELDS: Final[tuple[str, ...]] = tuple(name for name in _FIELDS if name != "eta")

#: Table columns whose content is more than one field, or named otherwise; any other
#: column exports as the field of its own name.
_COLUMN_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "task": ("id", "label"),
    "outputs": ("output_count",),
}


def column_fields(column: str) -> tuple[str, ...]:
    """The fields a table column exports as (none for a column that holds no field)."""
    if column in _COLUMN_FIELDS:
        return _COLUMN_FIELDS[column]
    return (column,) if column in _FIELDS else ()


def export_fields(columns: Iterable[str], *, all_fields: bool = False) -> tuple[str, ...]:
    """The fields of an export: the columns' own (see :data:`~aireiter_tui.domain.view.
    COLUMN_IDS`), then (``all_fields``) every other one."""
    names = [name for column in columns for name in column_fields(column)]
    if all_fields:
        names += ALL_FIELDS
    return tuple(dict.fromkeys(names))


def records(
    rows: Iterable[Row],
    fields: Sequence[str],
    *,
    now: datetime,
    eta: EtaSource | None = None,
) -> list[dict[str, Value]]:
    """One record per row, in the rows' order: each field's value as it came (``None``
    for what is not known), times as ISO 8601 in UTC, durations in seconds."""
    context = _Context(now, eta)
    getters = [(name, _FIELDS[name]) for name in fields]
    return [{name: get(row, context) for name, get in getters} for row in rows]


#: What a spreadsheet takes for the start of a formula (full-width forms too: some
#: spreadsheets fold them to ASCII).
_FORMULA_STARTS: Final = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")


def neutralised(cell: str, raw: str | None = None) -> str:
    """``cell`` with a ``'`` in front when a spreadsheet would read it as a formula: it
    begins with ``=``, ``+``, ``-`` or ``@`` (blanks before it do not help), or ``raw``,
    the value before it was made one line, began with a tab or a carriage return."""
    rest = cell.lstrip()
    starts_raw = raw is not None and raw[:1] in ("\t", "\r")
    if starts_raw or rest[:1] in _FORMULA_STARTS:
        return "'" + cell
    return cell


def _number(value: float) -> str:
    if not math.isfinite(value):
        return ""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def csv_cell(value: Value) -> str:
    """One value as a CSV cell: numbers as written, lists space-separated, objects as
    JSON, text on one line with nothing raw, formulas neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, list | tuple):
        joined = " ".join(shown(item) for item in value)
        return neutralised(joined, str(value[0]) if value else None)
    if isinstance(value, dict):
        return neutralised(json_text(value, io.StringIO()))
    text = str(value)
    return neutralised(shown(text), text)


def render(
    rows: Sequence[Mapping[str, Value]], fields: Sequence[str], fmt: ExportFormat, out: TextIO
) -> str:
    """The records as ``fmt``'s text, encodable on ``out`` (a file: any ``StringIO``)."""
    if fmt is ExportFormat.CSV:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(fields)
        writer.writerows([csv_cell(record.get(name)) for name in fields] for record in rows)
        return buffer.getvalue()
    if fmt is ExportFormat.JSONL:
        return "".join(json_text(record, out) + "\n" for record in rows)
    if not rows:
        return "[]\n"
    # One record per line: a diff or grep over two exports reads task by task.
    lines = ",\n".join("  " + json_text(record, out) for record in rows)
    return f"[\n{lines}\n]\n"


def default_name(fmt: ExportFormat, now: datetime) -> str:
    """``aireiter-export-20251218-100000.csv``: sorts by time, never asks to overwrite the
    export of a minute before."""
    return f"aireiter-export-{now:%Y%m%d-%H%M%S}.{fmt.value}"


def _umask() -> int:
    # os.umask() can only be read by setting it, which races with other threads.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o077


def write_export(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, through a symlink, keeping an
    existing file's mode (a new one gets the umask's); returns the path written.

    Raises:
        OSError: the folder does not exist, the target is not a regular file, or the
            write failed (an existing file is then left as it was).
    """
    target = path.expanduser().resolve()
    try:
        status = target.stat()
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    else:
        if not stat.S_ISREG(status.st_mode):
            raise NotRegularFile("a directory" if target.is_dir() else "a special file")
        mode = stat.S_IMODE(status.st_mode)
    blob = whole(text).encode("utf-8")
    replace_atomically(target, blob, f".{target.name}.", durable=True, mode=mode)
    return target
