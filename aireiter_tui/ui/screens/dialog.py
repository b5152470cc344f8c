"""The look every modal dialog shares: a centred, bordered box over a dimmed screen."""

from __future__ import annotations

from typing import TypeVar

from textual.screen import ModalScreen
from textual.widget import Widget

ResultType = TypeVar("ResultType")


class DialogScreen(ModalScreen[ResultType]):
    """A modal screen whose content sits in a ``#dialog`` container.

    Subclasses set the dialog's width and style their own parts; the frame, the muted
    ``#hint``, the ``#problem`` line (shown with the ``-shown`` class) and the
    right-aligned ``#buttons`` row look the same in every dialog.
    """

    DEFAULT_CSS = """
    DialogScreen {
        align: center middle;
        background: $background 60%;

        & > #dialog {
            max-width: 100%;
            height: auto;
            max-height: 100%;
            border: thick $primary;
            border-title-color: $text;
            border-title-style: bold;
            background: $surface;
            padding: 0 1;
        }
        & #hint {
            color: $text-muted;
            height: auto;
        }
        & #problem {
            color: $text-error;
            height: auto;
            display: none;
        }
        & #problem.-shown {
            display: block;
        }
        & #buttons {
            height: auto;
            align-horizontal: right;
            & > Button {
                margin-left: 1;
            }
        }
    }
    """

    def fit_to_screen(self, grower: Widget, minimum: int, maximum: int) -> None:
        """Give ``grower`` (a child of ``#dialog`` that scrolls) the rows the rest of the
        dialog leaves on the screen, between ``minimum`` and ``maximum``: a dialog taller
        than the screen would push its buttons and hints out of sight. Call it once the
        dialog is laid out, and again on each resize."""
        dialog = self.query_one("#dialog")
        others = dialog.styles.gutter.height + sum(
            child.outer_size.height + child.styles.margin.height
            for child in dialog.children
            if child is not grower
        )
        grower.styles.max_height = min(max(self.size.height - others, minimum), maximum)
