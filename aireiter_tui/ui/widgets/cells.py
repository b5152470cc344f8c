"""The task table's columns and how a watched task becomes one row of cells."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from rich.text import Text

from aireiter_tui.domain.errors import TaskNotFoundError
from aireiter_tui.domain.insight import LiveFigures
from aireiter_tui.domain.models import IdKind
from aireiter_tui.domain.session import (
    MAX_PLAUSIBLE_CREDITS,
    Longest,
    Row,
    credits_problem,
    finish_seen,
    seen_unfinished,
)
from aireiter_tui.domain.view import run_seconds
from aireiter_tui.ui.widgets.columns import Column, FitText
from aireiter_tui.ui.widgets.formatting import (
    STALE_STYLE,
    STALE_SYMBOL,
    format_age,
    format_credits,
    format_duration,
    format_when,
    safe,
    safe_block,
    safe_visible,
    shorten_middle_text,
    status_text,
    unanswered_status,
)

#: Keys match :class:`~aireiter_tui.domain.view.SortKey` values, so a header click sorts.
COLUMNS: Final = (
    Column("task", "Task", 24, priority=0, grow_to=60),
    Column("model", "Model", 14, priority=2, grow_to=32),
    Column("status", "Status", 15, priority=0),
    Column("prompt", "Prompt", 0, priority=1),
    Column("created", "Created", 9, priority=5),
    Column("time", "Time", 7, priority=3, justify="right"),
    # Wide enough for the header and its sort arrow ("Credits ▲").
    Column("credits", "Credits", 9, priority=4, justify="right"),
    Column("outputs", "Out", 5, priority=4, justify="right"),
    Column("checked", "Checked", 9, priority=6, justify="right"),
    # The time left by the model's history (domain/insight.py): the first to go when narrow.
    Column("eta", "ETA", 6, priority=7, justify="right"),
)

#: Between a label and its ID in the Task column.
NAME_SEPARATOR: Final = " · "
#: The most of the Task column a label takes when the column grows to what it holds.
LABEL_CELLS: Final = 20
#: In a column too narrow for both, the ID keeps this much (or half the column, if more):
#: 14 cells show its first 7 and last 6 characters. The label gets the rest.
MIN_ID_CELLS: Final = 14
#: Narrower than this, a label says nothing: the ID alone is shown.
MIN_LABEL_CELLS: Final = 4


class NameCell(FitText):
    """The Task cell: the label (the user's prose, bold) and the ID (exact, invisible
    characters escaped; out_task_ids in italic). Fitted to a column too narrow for both,
    the ID keeps :data:`MIN_ID_CELLS` or half of it and is cut in the middle, so both its
    ends show; the label gets the rest and is cut at its end. Its plain text is the
    whole of both."""

    __slots__ = ("_ident", "_label")

    def __init__(self, label: Text | None, ident: Text) -> None:
        super().__init__()
        self._label = label
        self._ident = ident
        if label is not None:
            self.append_text(label)
            self.append(NAME_SEPARATOR, style="dim")
        self.append_text(ident)

    def fit_cell(self, width: int) -> Text:
        label, ident = self._label, self._ident
        if self.cell_len <= width:
            return self.copy()
        room = width - len(NAME_SEPARATOR)
        label_room = 0
        if label is not None:
            id_room = min(ident.cell_len, max(MIN_ID_CELLS, room // 2))
            label_room = min(label.cell_len, room - id_room)
        if label is None or label_room < MIN_LABEL_CELLS:
            return shorten_middle_text(ident, width)
        shown = label.copy()
        shown.truncate(label_room, overflow="ellipsis")
        shown.append(NAME_SEPARATOR, style="dim")
        shown.append_text(shorten_middle_text(ident, width - shown.cell_len))
        return shown


def name_cell(row: Row) -> NameCell:
    """The Task cell of ``row`` (see :class:`NameCell`)."""
    # IDs are shown exactly (invisible characters escaped): two IDs that look the same
    # must not read the same. The label is the user's prose: shown as written.
    style = "italic" if row.ref.kind is IdKind.OUT_TASK_ID else ""
    ident = safe_visible(row.ref.id, style=style)
    label = safe(row.label, max_length=40, style="bold") if row.label else None
    return NameCell(label, ident)


def natural_widths(longest: Longest) -> dict[str, int]:
    """How wide the Task and Model columns must be to show every watched one whole (the
    table grows them up to this, within their ``grow_to``, when there is room)."""
    name = longest.id
    if longest.label:
        name += min(longest.label, LABEL_CELLS) + len(NAME_SEPARATOR)
    return {"task": name, "model": longest.model}


def time_cell(row: Row, now: datetime) -> Text:
    """How long the task ran: growing (cyan) while it runs, frozen once it stopped; a
    failure the first check already found is only known to have come before it (``≤``)."""
    seconds = run_seconds(row, now)
    if seconds < 0:
        return Text()
    task = row.task
    shown = format_duration(seconds)
    if row.gone:
        return Text(shown, style="dim")
    if task is not None and not task.status.is_terminal:
        return Text(shown, style="cyan")
    if finish_seen(row.entry) is not None and not seen_unfinished(row.entry):
        shown = f"≤{shown}"
    return Text(shown)


#: Beside the status of a task unfinished for longer than its model usually takes.
STUCK_SYMBOL: Final = "⧖"


def eta_cell(row: Row, now: datetime, figures: LiveFigures | None) -> Text:
    """The ETA cell: ``≈3m10s`` left, ``?`` without an estimate, empty when finished."""
    estimate = figures.estimate(row.ref.key, now) if figures is not None else None
    if estimate is None:
        return Text()
    if estimate.seconds is None:
        return Text("?", style="dim")
    return Text(f"≈{format_duration(estimate.seconds)}", style="cyan")


def row_cells(row: Row, now: datetime, figures: LiveFigures | None = None) -> list[Text]:
    """One ``Text`` per column of :data:`COLUMNS`; network strings made safe.
    ``figures``: the ETA and the stuck mark (None: neither)."""
    task = row.task
    name = name_cell(row)
    checked = Text(format_age(row.checked_at, now), style="dim")
    if task is None:
        return [
            name,
            Text(),
            unanswered_status(row.error),
            Text(),
            Text(),
            Text(),
            credits_cell(None, row.entry.estimated_credits),
            Text(),
            checked,
            Text(),
        ]
    status = status_text(task.status, task.status_raw, stale=row.stale, gone=row.gone)
    if figures is not None and figures.stuck(row.ref.key, now):
        status.append(f" {STUCK_SYMBOL}", style="bold yellow")
    return [
        name,
        safe_visible(task.model or "", max_length=40),
        status,
        safe(task.prompt or "", max_length=300, style="dim" if not task.prompt else ""),
        Text(format_when(task.created_at, now)),
        time_cell(row, now),
        credits_cell(
            task.credits_used, row.entry.estimated_credits, running=not task.status.is_terminal
        ),
        Text(str(task.output_count) if task.output_count else ""),
        checked,
        eta_cell(row, now, figures),
    ]


def credits_cell(
    value: float | None, estimate: float | None = None, *, running: bool = False
) -> Text:
    """The Credits cell; a value that cannot be real is marked (not by colour alone) and
    is not in the header's total. Until the task says what it used (none yet, or 0 while
    it runs: nothing is charged before it ends), the submit answer's ``estimate`` is
    shown instead, as ``≈120``, dim."""
    if estimate is not None and (value is None or (running and value == 0)):
        return Text(f"≈{format_credits(estimate)}", style="dim")
    if credits_problem(value) is None:
        return Text(format_credits(value))
    assert value is not None
    shown = "huge" if value > MAX_PLAUSIBLE_CREDITS else "NaN" if value != value else ""
    return Text(f"{STALE_SYMBOL} {shown or format_credits(value)}", style=STALE_STYLE)


def refresh_note(row: Row) -> Text | None:
    """For the detail pane: why the last refresh failed, and what to do about it."""
    if row.error is None:
        return None
    if isinstance(row.error, TaskNotFoundError) and row.task is not None:
        # It answered for this ID before: the ID and its kind are right.
        if row.gone:
            message = (
                "⊘ The server no longer knows this task, though it answered for it before: it"
                " may have been deleted or expired. Its clock is stopped at its last answer;"
                " it is still checked now and then in case it comes back (r checks now)."
            )
        else:
            message = (
                "⚠ The server no longer knows this task, though it answered for it before;"
                " its last known state is kept (r checks again)."
            )
        return safe_block(message, style="bold yellow")
    message = f"⚠ could not refresh: {row.error.human()}"
    if isinstance(row.error, TaskNotFoundError):
        other = "task_id" if row.ref.kind is IdKind.OUT_TASK_ID else "out_task_id"
        article = "a" if row.ref.kind is IdKind.OUT_TASK_ID else "an"
        message += (
            f"\nCheck the ID. If it is {article} {other}, remove it (d) and add it again as"
            f" {other} (a, then ctrl+t)."
        )
    return safe_block(message, style="bold yellow")
