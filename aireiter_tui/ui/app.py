"""The App: what is app-wide. The backend's lifecycle (the demo's simulator before the
watchlist is read, the client after the first frame, both stopped on quit), the monitor
and its background work, the theme, the keymap and the command palette. The dashboard
itself is :class:`~aireiter_tui.ui.main_screen.MainScreen`.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from textual import work
from textual.app import App, SystemCommand
from textual.markup import escape
from textual.screen import Screen

from aireiter_tui.backend import Backend
from aireiter_tui.domain.config import remember
from aireiter_tui.domain.errors import ConfigError
from aireiter_tui.domain.monitor import Monitor
from aireiter_tui.ui.bindings import (
    ACTIONS,
    command_keys,
    display_keys,
    keymap_problems,
    keys_of,
    usable_keymap,
)
from aireiter_tui.ui.main_screen import MainScreen

#: Seconds a thread holding the GIL keeps it while the event loop waits (see on_mount).
UI_SWITCH_INTERVAL: Final = 0.001


class AIReiterApp(App[None]):
    """A live, keyboard-driven dashboard of AIReiter generation tasks.

    Args:
        backend: the client, store and (for --demo) simulator to use.
        wall_clock: "now" for durations and "ago" columns (frozen in snapshot tests).
        monotonic: the scheduler's clock.
        rng: randomness for backoff jitter (seeded in tests).
        live: connect and poll (snapshot scenes turn it off).
    """

    CSS_PATH = "styles/app.tcss"
    TITLE = "aireiter-tui"
    _switch_interval = UI_SWITCH_INTERVAL

    def __init__(
        self,
        backend: Backend,
        *,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        live: bool = True,
    ) -> None:
        super().__init__()
        self.backend = backend
        settings = backend.settings
        self.live = live
        self.monitor = Monitor(
            backend.store,
            settings,
            wall_clock=wall_clock,
            monotonic=monotonic,
            rng=rng,
            keep_frozen=True,
        )
        #: Messages for the banner: the config's warnings, an unknown theme, bad [keys],
        #: why there is no client; the main screen adds the watchlist's.
        self.problems: list[str] = list(settings.warnings)
        #: Why the save on quitting failed, for the command to print after the app exits.
        self.final_error: str | None = None
        self.main_screen = MainScreen(
            self.monitor,
            backend,
            self.problems,
            wall_clock=wall_clock,
            live=live,
            on_loaded=self._connect_in_background,
        )
        if settings.theme in self.available_themes:
            self.theme = settings.theme
        else:
            known = ", ".join(sorted(self.available_themes))
            self.problems.append(f"Unknown theme {settings.theme!r} in the config; known: {known}.")

    def get_default_screen(self) -> Screen[None]:
        return self.main_screen

    async def on_mount(self) -> None:
        # The loop gets the GIL back within a millisecond (not Python's 5) when a thread
        # holds it: the watchlist read in parts, a save, the client's parsing. Each frame
        # takes the GIL several times, and key presses waited for every one of them.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(UI_SWITCH_INTERVAL)
        # Runs before the main screen reads the watchlist: the demo's simulator seeds it.
        keymap = self.backend.settings.keymap
        if keymap:
            self.problems.extend(keymap_problems(keymap))
            # Entries onto a key the table keeps for itself are refused (the banner says
            # so): applied, they would silently unbind the default key and bind nothing.
            self.set_keymap(usable_keymap(keymap))
        await self.backend.prepare()
        if not self.live:
            await self.connect()  # snapshot scenes: the "no key" state from the first frame

    async def on_unmount(self) -> None:
        # Every answer that came is in the session already; queries still on the wire
        # are dropped with the cancelled workers.
        self.final_error = self.monitor.close()
        await self.backend.stop()
        sys.setswitchinterval(self._switch_interval)

    # --- connecting and background work ------------------------------------------------
    @work(exclusive=True, group="connect", exit_on_error=False)
    async def _connect_in_background(self) -> None:
        await self.connect()

    async def connect(self) -> None:
        """Set up the client, then keep the watchlist up to date in the background."""
        backend = self.backend
        try:
            await backend.connect()
        except Exception as error:  # a bug here must not leave the header "connecting"
            backend.problem = f"Could not set up the client ({type(error).__name__})."
        self.main_screen.connect_done = True
        if backend.problem:
            self.problems.append(backend.problem)
        if backend.client is not None:
            self.monitor.connect(backend.client)
        if self.main_screen.is_attached:
            self.main_screen.refresh_chrome()
        if self.live:
            self._run_monitor()

    @work(exclusive=True, group="monitor", exit_on_error=False)
    async def _run_monitor(self) -> None:
        await self.monitor.run()

    # --- the theme picked in the palette is remembered -------------------------------
    def watch_theme(self, theme: str) -> None:
        path = self.backend.theme_path
        if path is not None and self.is_running and theme != self.backend.settings.theme:
            self._remember_theme(path, theme)

    @work(thread=True, exclusive=True, group="theme", exit_on_error=False)
    def _remember_theme(self, path: Path, theme: str) -> None:
        try:
            remember(path, {"theme": theme})
        except (OSError, ConfigError) as error:
            self.call_from_thread(
                self.notify,
                f"Could not remember the theme: {error}",
                severity="warning",
                markup=False,
            )

    # --- command palette: every action, with its key ------------------------------------
    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        keymap = self.backend.settings.keymap
        for action in ACTIONS:
            if action.id == "quit":
                continue
            # The palette reads help as markup; keys can come from the user's config.
            shown = escape(f"{keys_of(action, keymap)} · {action.description}")
            yield SystemCommand(action.label, shown, self._palette(action.action))
        bound, _ = command_keys(self.backend.settings.commands, keymap)
        for command in self.backend.settings.commands.values():
            keys = [display_keys(key) for key, each in bound.items() if each is command]
            # Both come from the user's config: never read as markup.
            where = f"{' / '.join(keys)} · " if keys else ""
            about = f"{where}[commands.{command.name}] for the marked tasks or the selected one"
            run = self._palette(f"run_command({command.name!r})")
            yield SystemCommand(escape(command.title), escape(about), run)

    def _palette(self, action: str) -> Callable[[], object]:
        return lambda: self.main_screen.run_action(action)
