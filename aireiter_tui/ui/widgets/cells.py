"""The task table's columns and how a watched task becomes one row of cells."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from rich.text import Text

from aireiter_tui.domain.errors import TaskNotFoundError
from aireiter_tui.domain.models import IdKind
from aireiter_tui.domain.session import MAX_PLAUSIBLE_CREDITS, Row, credits_problem
from aireiter_tui.domain.view import task_seconds
from aireiter_tui.ui.widgets.columns import Column
from aireiter_tui.ui.widgets.formatting import (
    STALE_STYLE,
    STALE_SYMBOL,
    format_ago,
    format_credits,
    format_duration,
    format_when,
    safe,
    safe_block,
    safe_visible,
    status_text,
)

#: Keys match :class:`~aireiter_tui.domain.view.SortKey` values, so a header click sorts.
COLUMNS: Final = (
    Column("name", "Task", 24, priority=0, grow_to=34),
    Column("model", "Model", 14, priority=2),
    Column("status", "Status", 15, priority=0),
    Column("prompt", "Prompt", 0, priority=1),
    Column("created", "Created", 9, priority=5),
    Column("time", "Time", 7, priority=3, justify="right"),
    Column("credits", "Credits", 7, priority=4, justify="right"),
    Column("outputs", "Out", 3, priority=4, justify="right"),
    Column("checked", "Checked", 9, priority=6, justify="right"),
)


def row_cells(row: Row, now: datetime) -> list[Text]:
    """One ``Text`` per column of :data:`COLUMNS`; network strings made safe."""
    task = row.task
    # A label leads, the ID follows (two tasks may share a label); out_task_ids in italic.
    # IDs and models are shown exactly (invisible characters escaped): two IDs that look
    # the same must not read the same. The label is the user's prose: shown as written.
    name = safe_visible(row.ref.id, style="italic" if row.ref.kind is IdKind.OUT_TASK_ID else "")
    if row.label:
        name = safe(row.label, max_length=40, style="bold") + Text(" · ", style="dim") + name
    if task is None:
        return [
            name,
            Text(),
            Text(f"{STALE_SYMBOL} {row.error.label}", style=STALE_STYLE)
            if row.error is not None
            else status_text(None, None),
            Text(),
            Text(),
            Text(),
            Text(),
            Text(),
            Text(format_ago(row.checked_at, now), style="dim"),
        ]
    seconds = task_seconds(task, now)
    time_style = "" if task.status.is_terminal else "cyan"
    return [
        name,
        safe_visible(task.model or "", max_length=40),
        status_text(task.status, task.status_raw, stale=row.stale),
        safe(task.prompt or "", max_length=300, style="dim" if not task.prompt else ""),
        Text(format_when(task.created_at, now)),
        Text(format_duration(seconds) if seconds >= 0 else "", style=time_style),
        credits_cell(task.credits_used),
        Text(str(task.output_count) if task.output_count else ""),
        Text(format_ago(row.checked_at, now), style="dim"),
    ]


def credits_cell(value: float | None) -> Text:
    """The Credits cell; a value that cannot be real is marked (not by colour alone) and
    is not in the header's total."""
    if credits_problem(value) is None:
        return Text(format_credits(value))
    assert value is not None
    shown = "huge" if value > MAX_PLAUSIBLE_CREDITS else "NaN" if value != value else ""
    return Text(f"{STALE_SYMBOL} {shown or format_credits(value)}", style=STALE_STYLE)


def refresh_note(row: Row) -> Text | None:
    """For the detail pane: why the last refresh failed, and what to do about it."""
    if row.error is None:
        return None
    message = f"⚠ could not refresh: {row.error.human()}"
    if isinstance(row.error, TaskNotFoundError):
        other = "task_id" if row.ref.kind is IdKind.OUT_TASK_ID else "out_task_id"
        article = "a" if row.ref.kind is IdKind.OUT_TASK_ID else "an"
        message += (
            f"\nCheck the ID. If it is {article} {other}, remove it (d) and add it again as"
            f" {other} (a, then ctrl+t)."
        )
    return safe_block(message, style="bold yellow")
