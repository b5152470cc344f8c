"""The export dialog: where to write the view's rows, and in which format."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar, Final

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Select, Static

from aireiter_tui.domain.session import Row
from aireiter_tui.export import (
    EtaSource,
    ExportFormat,
    export_fields,
    records,
    render,
    write_export,
)
from aireiter_tui.ui.screens.dialog import DialogScreen
from aireiter_tui.ui.widgets.formatting import ControlCharHighlighter, safe

#: Rows read per turn of the event loop: about 10 ms (0.15 s for 10,000 every field).
EXPORT_SLICE: Final = 1000


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """What the user chose: the file (absolute, ``~`` expanded), its format, and whether
    every field of each task comes after the view's columns."""

    path: Path
    format: ExportFormat
    all_fields: bool


class _Tick(Checkbox):
    """A checkbox whose state reads without colour: ``X`` ticked, blank not (the stock
    one draws ``X`` for both and tells them apart by colour alone)."""

    BUTTON_INNER = " "

    def watch_value(self) -> None:
        self.BUTTON_INNER = "X" if self.value else " "
        super().watch_value()


def format_of(name: str) -> ExportFormat | None:
    """The format a file name's suffix asks for (``.csv``, ``.json``, ``.jsonl``)."""
    suffix = Path(name.strip()).suffix.lower().lstrip(".")
    return next((fmt for fmt in ExportFormat if fmt.value == suffix), None)


class ExportScreen(DialogScreen[ExportRequest | None]):
    """Ask for the export's file name and format; dismisses with an
    :class:`ExportRequest`, or ``None`` when cancelled.

    The format follows the file name's suffix, and choosing a format changes the suffix.
    A file that exists is replaced only after a second Enter; a missing folder is refused.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="export.cancel", tooltip="Write nothing"),
    ]

    DEFAULT_CSS = """
    ExportScreen {
        & > #dialog {
            width: 80;
        }
        & #what {
            height: auto;
            margin-bottom: 1;
        }
        & #options {
            height: auto;
            margin-top: 1;
        }
        & #format {
            width: 24;
        }
        & #buttons {
            margin-top: 1;
        }
    }
    """

    def __init__(self, default: Path, count: int, columns: int, view: str) -> None:
        """Build the dialog.

        Args:
            default: The file name offered (its suffix sets the first format).
            count: How many rows the view shows (all of them are exported).
            columns: How many columns it shows.
            view: The view's filter and sort in words ("" for none).
        """
        super().__init__()
        self._default = default
        self._count = count
        self._columns = columns
        self._view = view
        #: The existing file the user was told about: Enter again on it replaces it.
        self._warned: Path | None = None

    def compose(self) -> ComposeResult:
        fmt = format_of(self._default.name) or ExportFormat.CSV
        noun = "task" if self._count == 1 else "tasks"
        what = f"{self._count:,} {noun} as the view shows them, {self._columns} columns"
        if self._view:
            what += f" ({self._view})"
        with Vertical(id="dialog") as dialog:
            dialog.border_title = Text("Export")
            yield Static(safe(what + ".", max_length=300), id="what")
            yield Input(
                value=str(self._default),
                placeholder="file name (~ allowed)",
                highlighter=ControlCharHighlighter(),
                id="path",
            )
            with Horizontal(id="options"):
                yield Select(
                    [(Text(each.words), each) for each in ExportFormat],
                    value=fmt,
                    allow_blank=False,
                    id="format",
                )
                yield _Tick(Text("Every field (params, outputs, error...)"), id="all-fields")
            yield Static(id="problem", markup=False)
            yield Static(
                Text("Enter exports · the format follows the suffix · Esc cancels"), id="hint"
            )
            with Horizontal(id="buttons"):
                yield Button(Text("Cancel"), id="cancel")
                yield Button(Text("Export"), variant="primary", id="export")

    def on_mount(self) -> None:
        path = self.query_one("#path", Input)
        path.focus()
        # The cursor on the name, before its suffix: the part most often changed.
        path.cursor_position = len(path.value) - len(self._default.suffix)

    @property
    def format(self) -> ExportFormat:
        value = self.query_one("#format", Select).value
        return value if isinstance(value, ExportFormat) else ExportFormat.CSV

    def _show_problem(self, problem: str | None) -> None:
        widget = self.query_one("#problem", Static)
        widget.update(safe(problem or "", max_length=300))
        widget.set_class(problem is not None, "-shown")

    @on(Input.Changed, "#path")
    def _path_changed(self, event: Input.Changed) -> None:
        self._warned = None
        self._show_problem(None)
        wanted = format_of(event.value)
        select = self.query_one("#format", Select)
        if wanted is not None and select.value != wanted:
            select.value = wanted

    @on(Select.Changed, "#format")
    def _format_changed(self, event: Select.Changed) -> None:
        box = self.query_one("#path", Input)
        current = format_of(box.value)
        chosen = self.format
        if current is not None and current is not chosen:
            path = box.value.rstrip()
            box.value = path[: len(path) - len(current.value)] + chosen.value

    def _problem(self, path: Path) -> str | None:
        if path.is_dir():
            return f"{path} is a folder: add a file name."
        if not path.parent.is_dir():
            return f"The folder {path.parent} does not exist."
        if path.exists() and path != self._warned:
            self._warned = path
            return f"{path} exists: Enter again replaces it."
        return None

    @on(Input.Submitted, "#path")
    @on(Button.Pressed, "#export")
    def action_export(self) -> None:
        """Export, unless the file name cannot be written (then say why, stay open)."""
        typed = self.query_one("#path", Input).value.strip()
        if not typed:
            self._show_problem("Type a file name.")
            return
        path = Path(typed).expanduser()
        path = path if path.is_absolute() else Path.cwd() / path
        problem = self._problem(path)
        if problem is not None:
            self._show_problem(problem)
            return
        all_fields = self.query_one("#all-fields", Checkbox).value
        self.dismiss(ExportRequest(path, self.format, all_fields))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close, writing nothing."""
        self.dismiss(None)


async def export_view(
    host: Widget,
    request: ExportRequest,
    rows: Mapping[str, Row],
    order: Sequence[str],
    columns: Sequence[str],
    *,
    now: datetime,
    eta: EtaSource | None,
) -> None:
    """Write the rows with these keys (the view's order) and ``columns`` as the request
    says, and toast where (or why not).

    The rows are live state: they are read on the event loop, a slice per turn so the
    screen keeps moving, then encoded and written on a thread.
    """
    fields = export_fields(columns, all_fields=request.all_fields)
    found: list[dict[str, object]] = []
    for start in range(0, len(order), EXPORT_SLICE):
        part = [rows[key] for key in order[start : start + EXPORT_SLICE] if key in rows]
        found += records(part, fields, now=now, eta=eta)
        await asyncio.sleep(0)

    def write() -> Path:
        return write_export(request.path, render(found, fields, request.format, io.StringIO()))

    try:
        written = await asyncio.to_thread(write)
    except OSError as error:
        host.notify(
            f"Not exported to {request.path}: {error.strerror or error}.",
            title="Export failed",
            severity="error",
            markup=False,
        )
        return
    noun = "task" if len(found) == 1 else "tasks"
    host.notify(
        f"Exported {len(found):,} {noun} ({request.format.words}) to {written}.",
        markup=False,
        timeout=8,
    )
