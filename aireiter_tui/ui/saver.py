"""Saving the watchlist from the dashboard: debounced, off the event loop, never lost."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import App

from aireiter_tui.domain.session import Saved, Session
from aireiter_tui.domain.watchlist import WatchlistError

#: Seconds a save may be put off while a refresh round is running.
MAX_SAVE_DELAY = 30.0


class WatchlistSaver:
    """Writes the session's changes on a worker thread when asked (a timer asks).

    A failed save keeps everything in memory and is retried at the next call; the user
    is told once per run of failures (a full disk stays full for a while). The frequent
    saves append changed snapshots to the cache's journal; the final save, on quit,
    rewrites the cache whole so that the next start reads one compact file.
    """

    def __init__(
        self,
        app: App[None],
        session: Session,
        adopt: Callable[[Saved], None],
        *,
        busy: Callable[[], bool] = lambda: False,
        loading: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app = app
        self._session = session
        self._adopt = adopt
        self._busy = busy
        self._loading = loading
        self._clock = clock
        self._last_save = clock()
        self._saving = False
        self._failures = 0
        #: Why the save on quitting failed, for the command to print after the app exits.
        self.final_error: str | None = None

    def save_soon(self) -> None:
        """Start a save on a thread if there is something to save and none is running."""
        session = self._session
        if not session.dirty or self._saving or session.save_blocked or self._loading():
            return  # (a list not yet read to its end must not be saved)
        # A save holds the interpreter for a while (0.06 s at 10,000 entries, more when
        # the cache is rewritten): during a refresh round it waits (the answers keep
        # arriving) unless it is overdue.
        if self._busy() and self._clock() - self._last_save < MAX_SAVE_DELAY:
            return
        self._saving = True
        self._last_save = self._clock()
        self._app.run_worker(
            self._save, thread=True, group="save", exclusive=True, exit_on_error=False
        )

    def _save(self) -> None:
        try:
            # Rewriting the whole cache costs ~0.2 s at 10,000 tasks: done on quit.
            others = self._session.save(write_cache=False)
        except WatchlistError as error:
            self._app.call_from_thread(self._failed, str(error))
            return
        finally:
            self._saving = False
        self._failures = 0
        if others:
            self._app.call_from_thread(self._adopt, others)

    def _failed(self, message: str) -> None:
        self._failures += 1
        if self._failures == 1:
            self._app.notify(
                f"{message} Nothing was lost: it will be tried again.",
                title="Not saved",
                severity="error",
                markup=False,
                timeout=8,
            )

    def save_on_quit(self) -> None:
        """Save now, blocking (also when nothing changed: the load cache is written here)."""
        try:
            self._session.save()
        except WatchlistError as error:
            self.final_error = str(error)
