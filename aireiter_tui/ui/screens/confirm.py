"""A yes/no question before an action that cannot be undone."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from aireiter_tui.domain.sanitize import url_lookalike
from aireiter_tui.ui.screens.dialog import DialogScreen
from aireiter_tui.ui.widgets.formatting import safe, safe_block, safe_visible

#: The most of a URL a question shows: enough to recognise it, and the dialog scrolls.
_MAX_URL_SHOWN = 400


class ConfirmScreen(DialogScreen[bool]):
    """Ask before doing something; dismisses with ``True`` to go ahead, ``False`` not to.

    ``y`` and Enter confirm (Enter on a focused button presses that button, so with
    ``focus_cancel`` Enter cancels), ``n`` and Escape cancel. A plain ``str`` body is
    shown as text, never parsed as markup.
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
        focus_cancel: bool = False,
    ) -> None:
        """Build the dialog.

        Args:
            title: Shown in the dialog's border.
            body: The question and whatever the user needs to decide.
            confirm_label: Text of the confirming button.
            danger: Style the dialog and its button as destructive.
            focus_cancel: Focus Cancel at first, so an Enter pressed out of habit (or
                typed ahead) does not go ahead; ``y`` still does.
        """
        super().__init__(classes="-danger" if danger else None)
        self._title = title
        self._body = body
        self._confirm_label = confirm_label
        self._danger = danger
        self._focus_cancel = focus_cancel

    @classmethod
    def open_link(cls, url: str, warning: str) -> ConfirmScreen:
        """Ask before opening ``url``, which may imitate another link (``warning``, from
        :func:`~aireiter_tui.domain.sanitize.url_warning`, says why): the link as written
        (invisible characters as ``⟨U+200B⟩``) and as the browser will read it."""
        body = safe_block(warning, style="bold")
        body.append("\n\n")
        body.append_text(safe_visible(url, max_length=_MAX_URL_SHOWN))
        lookalike = url_lookalike(url)
        if lookalike is not None and lookalike.ascii_url and lookalike.ascii_url != url:
            body.append("\nThe browser reads it as: ", style="dim")
            body.append_text(safe_visible(lookalike.ascii_url, max_length=_MAX_URL_SHOWN))
        body.append("\n\nOpen it anyway?")
        return cls("Open this link?", body, confirm_label="Open anyway", focus_cancel=True)

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
        self.query_one("#cancel" if self._focus_cancel else "#confirm", Button).focus()

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
