"""The dashboard's core: wiring, reading the watchlist, the background refresh worker.

State flows one way: the refresh worker streams outcomes into a buffer; a timer applies
the buffer to the :class:`~aireiter_tui.domain.session.Session` at most a few times a
second, repaints only the rows that changed, and marks the watchlist for a debounced
save on a thread. How the session is drawn is in :mod:`aireiter_tui.ui.dashboard_view`; the
user's actions and bindings are in :mod:`aireiter_tui.ui.app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from textual import events, work
from textual.app import ComposeResult
from textual.containers import Container
from textual.widgets import Footer, Static

from aireiter_tui.backend import Backend
from aireiter_tui.domain.loading import PartLoader
from aireiter_tui.domain.scheduler import PollScheduler
from aireiter_tui.domain.session import Row, Saved, Session, Transition
from aireiter_tui.domain.view import SortKey, ViewSpec
from aireiter_tui.ui.bindings import keymap_problems
from aireiter_tui.ui.dashboard_view import DashboardView
from aireiter_tui.ui.notices import EMPTY_STATE, finished_notices
from aireiter_tui.ui.saver import WatchlistSaver
from aireiter_tui.ui.widgets.cells import COLUMNS
from aireiter_tui.ui.widgets.detail_pane import DetailPane
from aireiter_tui.ui.widgets.filter_box import FilterBox
from aireiter_tui.ui.widgets.status_bar import StatusBar
from aireiter_tui.ui.widgets.task_table import TaskTable

if TYPE_CHECKING:  # imported on connecting, after the first frame
    from aireiter_tui.domain.refresher import Refresher, RefreshOutcome

#: From this many columns the detail pane sits beside the table, else below it.
WIDE_LAYOUT = 150
#: How often buffered refresh outcomes are applied to the screen (coalescing bursts).
FLUSH_INTERVAL = 0.25
#: Finished tasks are announced at most this often (see notices.finished_notices).
ANNOUNCE_INTERVAL = 2.0
#: How long edits and snapshots wait before the watchlist is written (debounce).
SAVE_INTERVAL = 5.0
#: Seconds of reading the watchlist per frame after the first (about 5 ms per 1,000 tasks).
LOAD_SLICE = 0.03


class Dashboard(DashboardView):
    """Everything but the key actions (see :class:`aireiter_tui.ui.app.AIReiterApp`)."""

    def __init__(
        self,
        backend: Backend,
        *,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        live: bool = True,
    ) -> None:
        """
        Args:
            backend: the client, store and (for --demo) simulator to use.
            wall_clock: "now" for durations and "ago" columns (frozen in snapshot tests).
            monotonic: the scheduler's clock.
            rng: randomness for backoff jitter (seeded in tests).
            live: start the background refresh (snapshot scenes turn it off).
        """
        super().__init__()
        self.backend = backend
        settings = backend.settings
        self.wall_clock = wall_clock
        self.monotonic = monotonic
        self.live = live
        self.session = Session(backend.store, wall_clock)
        self.scheduler = PollScheduler(
            interval=settings.poll_interval,
            slow_interval=settings.slow_poll_interval,
            long_running_after=settings.long_running_after,
            rng=rng or random.Random(),
            wall_clock=lambda: self.wall_clock().timestamp(),
        )
        self.spec = ViewSpec()
        self.details_visible = True
        self.problems: list[str] = list(settings.warnings)
        self._outcomes: list[RefreshOutcome] = []
        self._transitions: list[Transition] = []
        self.saver = WatchlistSaver(
            self,
            self.session,
            self._adopt,
            busy=lambda: self._refresher is not None and self._refresher.running,
            loading=lambda: not self.loader.done,
        )
        self.loader = PartLoader(self.session, on_rows=self._track, keep_frozen=True)
        self._connect_done = False
        self._wake = asyncio.Event()
        self._refresher: Refresher | None = None
        self._last_removed: list[Row] = []
        self._table: TaskTable | None = None
        self._banner_shown: tuple[str, bool] | None = None
        if settings.theme in self.available_themes:
            self.theme = settings.theme
        else:
            known = ", ".join(sorted(self.available_themes))
            self.problems.append(f"Unknown theme {settings.theme!r} in the config; known: {known}.")

    # --- layout ---------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static(id="banner", markup=False)
        # The layout class the first resize would set, set now: adding it after mounting
        # restyles every widget in the body (~10 ms before the first frame).
        wide = "-wide" if self.size.width >= WIDE_LAYOUT else None
        with Container(id="body", classes=wide):
            with Container(id="list"):
                self._table = TaskTable(COLUMNS, self._cells, id="table")
                yield self._table
                yield Static(EMPTY_STATE, id="empty", markup=False)
            yield DetailPane(id="details")
        yield FilterBox(id="filter")
        yield Footer()

    async def on_mount(self) -> None:
        keymap = self.backend.settings.keymap
        if keymap:
            self.problems.extend(keymap_problems(keymap))
            self.set_keymap(keymap)
        await self.backend.prepare()
        # The first part of a long list is painted before the rest is read, a part a frame.
        # Tracked now, not after the first frame: a key pressed at once (R, r, p) needs them.
        self.loader.start()
        if not self.live:
            self.loader.finish()  # snapshot scenes: everything at once
        if self.loader.done:
            self._loaded()
        self.query_one(TaskTable).focus()
        self.rebuild_view()
        self.set_interval(FLUSH_INTERVAL, self._flush_outcomes)
        self.set_interval(1.0, self._tick)
        self.set_interval(SAVE_INTERVAL, self.saver.save_soon)
        self.set_interval(ANNOUNCE_INTERVAL, self._announce_pending)
        if self.live:
            # The first part is painted first; the rest, then connecting (imports, client)
            # come after.
            self.call_after_refresh(self._load_rest)
        else:
            await self._connect()

    @work(exclusive=True, group="connect", exit_on_error=False)
    async def _connect_in_background(self) -> None:
        await self._connect()

    async def _connect(self) -> None:
        try:
            await self.backend.connect()
        except Exception as error:  # a bug here must not leave the header "connecting"
            self.backend.problem = f"Could not set up the client ({type(error).__name__})."
        self._connect_done = True
        if self.backend.problem:
            self.problems.append(self.backend.problem)
        self.refresh_chrome()
        if self.backend.client is not None and self.live:
            from aireiter_tui.domain.refresher import Refresher

            self._refresher = Refresher(
                self.backend.client,
                self.scheduler,
                concurrency=self.backend.settings.concurrency,
                clock=self.monotonic,
                on_outcome=self._queue_outcome,
            )
            self._refresh_loop()

    async def on_unmount(self) -> None:
        # The widgets are gone by now: record late answers in the session only, then save.
        outcomes, self._outcomes = self._outcomes, []
        for outcome in outcomes:
            self.session.apply(outcome.ref, outcome.task, outcome.error)
        self.loader.finish()  # quitting at once: the whole list is saved, in its order
        self.saver.save_on_quit()
        await self.backend.stop()

    def on_resize(self, event: events.Resize) -> None:
        # The event's size: self.size still holds the previous one while this runs.
        self.query_one("#body").set_class(event.size.width >= WIDE_LAYOUT, "-wide")
        # Narrow terminals: a compact footer without the palette hint (ctrl+p is on the
        # help screen) keeps "? Help" and "q Quit" on screen.
        footer = self.query_one(Footer)
        footer.compact = event.size.width < 120
        footer.show_command_palette = event.size.width >= 100

    # --- refresh --------------------------------------------------------------------
    @work(exclusive=True, group="refresh", exit_on_error=False)
    async def _refresh_loop(self) -> None:
        """Run rounds back to back; sleep until the next task is due or we are woken."""
        refresher = self._refresher
        assert refresher is not None
        while True:
            now = self.monotonic()
            due_at = self.scheduler.next_due_time()
            # The scheduler knows what pause allows (manual requests still go out).
            if due_at is not None and due_at <= now:
                try:
                    await refresher.run_round()
                except Exception as error:  # a bug must not stop refreshing for good
                    self.log.error("refresh round failed", repr(error))
                self._flush_outcomes()
                continue
            wait = 1.0 if due_at is None else min(max(due_at - now, 0.05), 1.0)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    def wake_refresh(self) -> None:
        self._wake.set()

    def _queue_outcome(self, outcome: RefreshOutcome) -> None:
        self._outcomes.append(outcome)

    def _flush_outcomes(self) -> None:
        if not self._outcomes or self._widgets_gone():
            return  # on the way out, on_unmount records what is left
        outcomes, self._outcomes = self._outcomes, []
        changed: list[str] = []
        transitions: list[Transition] = []
        for outcome in outcomes:
            did_change, transition = self.session.apply(outcome.ref, outcome.task, outcome.error)
            if did_change:
                changed.append(outcome.ref.key)
            if transition is not None:
                transitions.append(transition)
        self.apply_changes(changed)
        self._transitions.extend(transitions)

    def apply_changes(self, keys: Sequence[str]) -> None:
        """Repaint changed rows; re-sort/re-filter only when the order may depend on them."""
        if keys:
            # Only insertion order is independent of the rows' data (a label renames too).
            if self.spec.is_filtered or self.spec.sort is not SortKey.ADDED:
                self.rebuild_view()
            else:
                self.query_one(TaskTable).invalidate(keys)
        self.refresh_chrome()

    def _announce_pending(self) -> None:
        transitions, self._transitions = self._transitions, []
        for notice in finished_notices(transitions):
            self.notify(notice.body, title=notice.title, severity=notice.severity, markup=False)
        if transitions and self.backend.settings.bell:
            self.bell()

    # --- rows read from the watchlist, or added to it by others -----------------------
    def _track(self, rows: list[Row]) -> None:
        tasks = ((row.ref, row.entry.task) for row in rows)
        self.scheduler.track_many(
            (
                (ref, task.status, task.created_at) if task else (ref, None, None)
                for ref, task in tasks
            ),
            self.monotonic(),
        )

    def _loaded(self) -> None:
        self.problems.extend(self.loader.problems)
        self.wake_refresh()

    def _load_rest(self) -> None:
        """Read the rest of a long watchlist, a slice of time per frame; then connect."""
        if not self.loader.done:
            if self._widgets_gone():  # shutting down, or a dialog opened at once
                if self.is_running:
                    self.set_timer(0.1, self._load_rest)
                return
            deadline = time.perf_counter() + LOAD_SLICE
            while not self.loader.done and time.perf_counter() < deadline:
                self.loader.step()
            if self.loader.done:
                self._loaded()
            self.rebuild_view()
            if not self.loader.done:
                self.call_after_refresh(self._load_rest)
                return
        # After the frame: the client's imports hold the loop for ~0.15 s.
        self.call_after_refresh(self._connect_in_background)

    def _adopt(self, saved: Saved) -> None:
        """Show what another process did to the file, as the last save merged it."""
        self._track(self.session.adopt(saved.added))
        for row in self.session.forget(saved.dropped):
            self.scheduler.forget(row.ref)
        if saved:
            self.rebuild_view()
