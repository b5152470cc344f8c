"""A yes/no question before an action that cannot be undone."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from aireiter_tui.ui.screens.dialog import DialogScreen
from aireiter_tui.ui.widgets.formatting import safe, safe_block


class ConfirmScreen(DialogScreen[bool]):
    """Ask before doing something; dismisses with ``True`` to go ahead, ``False`` not to.

    ``y`` and Enter confirm (Enter on a focused button presses that button), ``n`` and
    Escape cancel. A plain ``str`` body is shown as text, never parsed as markup.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "confirm", "Yes", id="confirm.yes", tooltip="Go ahead"),
        Binding("n,escape", "cancel", "No", id="confirm.no", tooltip="Leave everything as it is"),
        Binding("left,right", "toggle_focus", "Switch button", show=False),
    ]

    # Ids here stay clear of the main screen's (app.tcss styles ``#body`` as ``height: 1fr``,
    # and app CSS outranks DEFAULT_CSS): a shared id once stretched this dialog to full height.
    DEFAULT_CSS = """
    ConfirmScreen {
        & > #dialog {
            width: 60;
        }
        &.-danger > #dialog {
            border: thick $error;
        }
        & #message {
            height: auto;
            max-height: 14;
            padding: 1 0;
        }
    }
    """

    def __init__(
        self,
        title: str,
        body: Text | str,
        *,
        confirm_label: str = "Remove",
        danger: bool = True,
    ) -> None:
        """Build the dialog.

        Args:
            title: Shown in the dialog's border.
            body: The question and whatever the user needs to decide.
            confirm_label: Text of the confirming button.
            danger: Style the dialog and its button as destructive.
        """
        super().__init__(classes="-danger" if danger else None)
        self._title = title
        self._body = body
        self._confirm_label = confirm_label
        self._danger = danger

    def compose(self) -> ComposeResult:
        body = self._body if isinstance(self._body, Text) else safe_block(self._body)
        with Vertical(id="dialog") as dialog:
            dialog.border_title = safe(self._title, max_length=60)
            with VerticalScroll(id="message"):
                yield Static(body, markup=False)
            with Horizontal(id="buttons"):
                yield Button(Text("Cancel"), id="cancel")
                yield Button(
                    safe(self._confirm_label, max_length=30),
                    variant="error" if self._danger else "primary",
                    id="confirm",
                )

    def on_mount(self) -> None:
        self.query_one("#confirm", Button).focus()

    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        """Go ahead."""
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Do nothing."""
        self.dismiss(False)

    def action_toggle_focus(self) -> None:
        """Arrow keys move between the two buttons, as in most dialogs."""
        self.focus_next(Button)
