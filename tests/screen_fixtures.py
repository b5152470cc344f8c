"""A tiny host app for the modal screens, and helpers to drive it with the keyboard."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget

import aireiter_tui

HOSTILE = ("[/]", "[@click=app.quit]", "\x1b[2J")
# What must never reach the terminal from a widget: C0 (tab aside), DEL and C1.
TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
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


async def until(pilot: Pilot[None], condition: Callable[[], bool]) -> None:
    """Let the app process messages until ``condition`` holds (bounded by turns, not time)."""
    for _ in range(200):
        if condition():
            return
        await pilot.pause()
    raise AssertionError("the condition never became true")


def shown(widget: Widget) -> str:
    """The plain text a widget renders."""
    return str(widget.render())


async def finish(pilot: Pilot[None], app: Host, count: int = 1) -> Any:
    """Wait for the ``count``-th dismissal; check the app survived; return its result."""
    await until(pilot, lambda: len(app.results) >= count)
    assert app.is_running
    assert app.screen is not app.modal
    return app.results[count - 1]
