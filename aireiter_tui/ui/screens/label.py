"""A small dialog to set, change or remove the label of a watched task."""

from __future__ import annotations

import re
from typing import ClassVar, Final

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.validation import ValidationResult, Validator
from textual.widgets import Button, Input, Static

from aireiter_tui.domain.sanitize import clean
from aireiter_tui.ui.screens.dialog import DialogScreen
from aireiter_tui.ui.widgets.formatting import ControlCharHighlighter, safe

MAX_LABEL_LENGTH: Final = 80
# Same set the sanitiser replaces: C0/C1 controls, DEL and the bidi overrides.
_CONTROL_RE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def label_problem(text: str) -> str | None:
    """Say why ``text`` cannot be a task label, or return ``None`` (empty is fine)."""
    if _CONTROL_RE.search(text):
        return "the label contains control characters"
    length = len(text.strip())
    if length > MAX_LABEL_LENGTH:
        return f"the label is {length} characters long; at most {MAX_LABEL_LENGTH}"
    return None


class LabelValidator(Validator):
    """Input validator wrapping :func:`label_problem` (so the field turns red as you type)."""

    def validate(self, value: str) -> ValidationResult:
        problem = label_problem(value)
        return self.failure(problem, value) if problem else self.success()


class LabelScreen(DialogScreen[str | None]):
    """Edit a task's label.

    Dismisses with the new label (stripped), ``""`` to remove the label, or ``None``
    when cancelled.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape", "cancel", "Cancel", id="label.cancel", tooltip="Keep the label as it was"
        ),
    ]

    DEFAULT_CSS = """
    LabelScreen {
        & > #dialog {
            width: 64;
        }
        & #task-name {
            color: $text-muted;
            margin-bottom: 1;
        }
        & #buttons {
            margin-top: 1;
        }
    }
    """

    def __init__(self, current: str | None, task_name: str) -> None:
        """Build the dialog.

        Args:
            current: The label the task has now, if any.
            task_name: How the task is called in the table (its ID), shown for context.
        """
        super().__init__()
        # The label came from a file the user may have hand-edited: make control
        # characters visible rather than let the Input send them to the terminal.
        self._current = clean(current or "", single_line=True)
        self._task_name = task_name

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as dialog:
            dialog.border_title = Text("Label")
            yield Static(safe(self._task_name, max_length=200), id="task-name", markup=False)
            yield Input(
                value=self._current,
                placeholder="a short note to recognise the task",
                validators=[LabelValidator()],
                validate_on=["changed", "submitted"],
                highlighter=ControlCharHighlighter(),
                id="label-input",
            )
            yield Static(
                Text(f"Enter saves · empty removes the label · at most {MAX_LABEL_LENGTH} chars"),
                id="hint",
            )
            yield Static(id="problem", markup=False)
            with Horizontal(id="buttons"):
                yield Button(Text("Cancel"), id="cancel")
                yield Button(Text("Save"), variant="primary", id="save")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @property
    def value(self) -> str:
        """What the field holds now."""
        return self.query_one(Input).value

    def _show_problem(self, problem: str | None) -> None:
        widget = self.query_one("#problem", Static)
        widget.update(Text(problem or ""))
        widget.set_class(problem is not None, "-shown")

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        self._show_problem(label_problem(event.value))

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        """Save the label if it is acceptable; otherwise say why not and stay open."""
        text = self.value
        problem = label_problem(text)
        if problem is not None:
            self._show_problem(problem)
            self.app.bell()
            return
        self.dismiss(text.strip())

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without changing anything."""
        self.dismiss(None)
