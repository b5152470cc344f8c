"""What a copy key sent to the clipboard, shown whole to be selected by hand.

Copying goes through the terminal (OSC 52), which many terminals and tmux ignore by
default, and nothing tells the app whether it arrived. This dialog shows the same text
so it can be selected with the mouse or the terminal's own copy mode instead.
"""

from __future__ import annotations

import io
import os
from typing import ClassVar, Final

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static, TextArea

from aireiter_tui.domain.fields import JSON
from aireiter_tui.output import json_text
from aireiter_tui.ui.screens.dialog import DialogScreen
from aireiter_tui.ui.widgets.formatting import safe, visible_controls

#: The most of a text the dialog holds: a TextArea lays out every line it is given, and
#: a response of several megabytes would stall the screen. The clipboard has it whole.
MAX_SHOWN_CHARS: Final = 200_000
#: Rows the text may take (with its border): it scrolls past that.
MIN_TEXT_ROWS: Final = 3
MAX_TEXT_ROWS: Final = 30


def clipboard_note(key: str) -> str:
    """The sentence after "… sent to the terminal's clipboard": the terminal decides
    whether it arrives, and ``key`` pressed again shows the text to select by hand."""
    # tmux drops OSC 52 from the programs inside it unless set-clipboard is on (its
    # default, "external", lets only tmux itself set the clipboard).
    tmux = " (in tmux: set -g set-clipboard on)" if os.environ.get("TMUX") else ""
    return (
        f"It arrives only if the terminal allows OSC 52{tmux}. "
        f"{key} again shows it to select by hand."
    )


def task_json(raw: JSON) -> str | None:
    """``raw`` as indented, strict JSON (NaN as null; control and bidi characters
    escaped, so pasting it writes nothing a terminal would act on), or ``None`` when it
    is nested too deeply to encode."""
    try:
        return json_text(raw, io.StringIO(), indent=2)
    except (RecursionError, ValueError):
        return None


class _ShownText(TextArea):
    """A read-only ``TextArea`` that draws control characters as symbols, never raw."""

    def get_line(self, line_index: int) -> Text:
        return visible_controls(self.document.get_line(line_index))


class CopyTextScreen(DialogScreen[None]):
    """Show ``text`` read-only, whole and wrapped, to be selected by hand; Esc closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="copy_text.close", tooltip="Close this dialog"),
    ]

    DEFAULT_CSS = """
    CopyTextScreen {
        & > #dialog {
            width: 100;
        }
        & TextArea {
            height: auto;
            max-height: 12;
        }
        & #buttons {
            margin-top: 1;
        }
    }
    """

    def __init__(self, title: str, text: str) -> None:
        """Build the dialog.

        Args:
            title: What the text is (shown in the border).
            text: What was copied; past :data:`MAX_SHOWN_CHARS` it is cut, and says so.
        """
        super().__init__()
        self._title = title
        self._cut = len(text) > MAX_SHOWN_CHARS
        self._text = text[:MAX_SHOWN_CHARS] if self._cut else text

    def compose(self) -> ComposeResult:
        hint = (
            "Select it with the mouse (Shift+drag in most terminals) or the terminal's "
            "copy mode. Esc closes."
        )
        if self._cut:
            hint = f"Only the first {MAX_SHOWN_CHARS:,} characters are shown. " + hint
        with Vertical(id="dialog") as dialog:
            dialog.border_title = safe(self._title, max_length=60)
            yield Static(Text(hint), id="hint")
            yield _ShownText(self._text, read_only=True, soft_wrap=True, id="copied-text")
            with Horizontal(id="buttons"):
                yield Button(Text("Close (Esc)"), variant="primary", id="close")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()
        self.call_after_refresh(self._fit_text)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_text)

    def _fit_text(self) -> None:
        self.fit_to_screen(self.query_one(TextArea), MIN_TEXT_ROWS, MAX_TEXT_ROWS)

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        """Close the dialog."""
        self.dismiss(None)
