"""A tiny host app for the modal screens, and helpers to drive it with the keyboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import wait_for
from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget

import aireiter_tui

HOSTILE = ("[/]", "[@click=app.quit]", "\x1b[2J")
SIZE = (80, 24)


class Host(App[None]):
    """Pushes a screen on mount (and more with :meth:`show`); records what each returned.

    It loads the real app's stylesheet: its rules outrank a screen's DEFAULT_CSS, and a
    selector meant for the main screen once stretched the confirm dialog to full height.
    """

    CSS_PATH = Path(aireiter_tui.__file__).parent / "ui" / "styles" / "app.tcss"

    def __init__(self, modal: Screen[Any]) -> None:
        super().__init__()
        self.modal = modal
        self.results: list[Any] = []

    def on_mount(self) -> None:
        self.show(self.modal)

    def show(self, modal: Screen[Any]) -> None:
        self.modal = modal
        self.push_screen(modal, self.results.append)


def shown(widget: Widget) -> str:
    """The plain text a widget renders."""
    return str(widget.render())


async def finish(pilot: Pilot[None], app: Host, count: int = 1) -> Any:
    """Wait for the ``count``-th dismissal; check the app survived; return its result."""
    await wait_for(pilot, lambda: len(app.results) >= count, f"dismissal {count}")
    assert app.is_running
    assert app.screen is not app.modal
    return app.results[count - 1]
