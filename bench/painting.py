"""Knowing when a frame was painted, headless.

Headless Textual composes every frame (the compositor calls each dirty widget's
``render_line``) but skips encoding it into escape sequences for the terminal. The
apps here do that encoding too, so a "paint" costs what it costs in a real terminal,
and they time-stamp every frame. A hook on ``TaskTable.render_line`` tells when the
cursor row was drawn with the cursor on it; the frame after that is the one the user
sees the cursor move in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import RenderableType
from textual._compositor import CompositorUpdate
from textual.app import App
from textual.screen import Screen
from textual.strip import Strip

from aireiter_tui.ui import app as app_module
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.widgets.task_table import TaskTable

APP_CSS = str(Path(app_module.__file__).parent / str(AIReiterApp.CSS_PATH))


class FrameClock:
    """Time stamps of painted frames, and a pending "wait for the cursor" probe."""

    def __init__(self) -> None:
        self.frames = 0
        self.last_paint = 0.0
        self.cursor_target: int | None = None
        self.cursor_drawn = False
        self.pressed_at = 0.0
        self.latencies: list[float] = []
        self.painted = asyncio.Event()
        self.on_frame: Callable[[], None] | None = None

    def expect_cursor(self, row: int) -> None:
        self.cursor_target, self.cursor_drawn = row, False
        self.painted.clear()
        self.pressed_at = time.perf_counter()

    def frame(self, app: App[Any], renderable: RenderableType | None) -> None:
        if renderable is None:
            return
        if app.is_headless and isinstance(renderable, CompositorUpdate):
            renderable.render_segments(app.console)  # the encoding headless skips
        self.frames += 1
        self.last_paint = time.perf_counter()
        if self.cursor_target is not None and self.cursor_drawn:
            self.latencies.append(self.last_paint - self.pressed_at)
            self.cursor_target = None
            self.painted.set()
        if self.on_frame is not None:
            self.on_frame()


class MeasuredApp(AIReiterApp):
    """The real app, with every frame encoded and time-stamped."""

    frame_clock: FrameClock
    # A relative CSS_PATH resolves beside the subclass's module: point at the app's own.
    CSS_PATH = APP_CSS

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        super()._display(screen, renderable)
        self.frame_clock.frame(self, renderable)


def hook_cursor_rows(clock: FrameClock) -> Callable[[], None]:
    """Wrap ``TaskTable.render_line`` to note when the cursor's row is drawn; returns undo."""
    original = TaskTable.render_line

    def render_line(self: TaskTable, y: int) -> Strip:
        strip = original(self, y)
        target = clock.cursor_target
        drawn = y > 0 and int(self.scroll_y) + y - 1 == target
        if target is not None and self.cursor_row == target and drawn:
            clock.cursor_drawn = True
        return strip

    TaskTable.render_line = render_line  # type: ignore[method-assign]

    def undo() -> None:
        TaskTable.render_line = original  # type: ignore[method-assign]

    return undo
