"""A small dialog that names the current filters and sort as a saved view (a new tab)."""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from aireiter_tui.domain.view import ViewSpec
from aireiter_tui.domain.views import MAX_VIEW_NAME, view_name_problem
from aireiter_tui.ui.screens.dialog import DialogScreen
from aireiter_tui.ui.widgets.formatting import ControlCharHighlighter, safe


class SaveViewScreen(DialogScreen[str | None]):
    """Ask a name for a new view of ``spec``; dismisses with it (stripped), or ``None``.

    Args:
        spec: what the view will show (said in the dialog).
        taken: the names of the views there are (a new one must differ).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="save_view.cancel", tooltip="Save nothing"),
    ]

    DEFAULT_CSS = """
    SaveViewScreen {
        & > #dialog {
            width: 64;
        }
        & #what {
            color: $text-muted;
            margin-bottom: 1;
        }
        & #buttons {
            margin-top: 1;
        }
    }
    """

    def __init__(self, spec: ViewSpec, taken: Collection[str]) -> None:
        super().__init__()
        self._spec = spec
        self._taken = tuple(taken)

    def compose(self) -> ComposeResult:
        what = self._spec.describe() or "every task, in the order added"
        with Vertical(id="dialog") as dialog:
            dialog.border_title = Text("Save view")
            yield Static(safe(f"A new tab that shows {what}.", max_length=200), id="what")
            yield Input(
                placeholder="a name for its tab, e.g. Failed today",
                max_length=MAX_VIEW_NAME,
                highlighter=ControlCharHighlighter(),
                id="view-name",
            )
            yield Static(Text("Enter saves · Esc cancels"), id="hint")
            yield Static(id="problem", markup=False)
            with Horizontal(id="buttons"):
                yield Button(Text("Cancel"), id="cancel")
                yield Button(Text("Save"), variant="primary", id="save")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def _show_problem(self, problem: str | None) -> None:
        widget = self.query_one("#problem", Static)
        widget.update(Text(problem[:1].upper() + problem[1:] + "." if problem else ""))
        widget.set_class(problem is not None, "-shown")

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        problem = view_name_problem(event.value, self._taken) if event.value.strip() else None
        self._show_problem(problem)

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        """Save under the name typed if it can be one; otherwise say why and stay open."""
        name = self.query_one(Input).value
        problem = view_name_problem(name, self._taken)
        if problem is not None:
            self._show_problem(problem)
            self.app.bell()
            return
        self.dismiss(name.strip())

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without saving."""
        self.dismiss(None)
