"""The dashboard's core: wiring, the background refresh worker, rendering the session.

State flows one way: the refresh worker streams outcomes into a buffer; a timer applies
the buffer to the :class:`~aireiter_tui.domain.session.Session` at most a few times a
second, repaints only the rows that changed, and marks the watchlist for a debounced
save on a thread. The user's actions and bindings are in :mod:`aireiter_tui.app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult, ScreenStackError
from textual.containers import Container
from textual.dom import NoScreen
from textual.widgets import Footer, Static

from aireiter_tui.backend import Backend
from aireiter_tui.bindings import keymap_problems
from aireiter_tui.domain.scheduler import PollScheduler
from aireiter_tui.domain.session import Row, Session, Transition
from aireiter_tui.domain.view import SortKey, ViewSpec, compute_order
from aireiter_tui.domain.watchlist import WatchEntry
from aireiter_tui.notices import EMPTY_STATE, finished_notices
from aireiter_tui.saver import WatchlistSaver
from aireiter_tui.widgets.cells import COLUMNS, refresh_note, row_cells
from aireiter_tui.widgets.detail_pane import DetailPane
from aireiter_tui.widgets.filter_box import FilterBox
from aireiter_tui.widgets.formatting import safe
from aireiter_tui.widgets.status_bar import StatusBar
from aireiter_tui.widgets.task_table import TaskTable

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


class Dashboard(App[None]):
    """Everything but the key actions (see :class:`aireiter_tui.app.AIReiterApp`)."""

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
        )
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
        self.problems.extend(self.session.load())
        # The loaded watchlist lives as long as the app: keep the cyclic GC from scanning
        # its ~100,000 objects again and again (a full pass cost 0.25 s at 10,000 tasks,
        # a freeze of the UI felt as key presses answered late).
        gc.freeze()
        # Now, not after the first frame: a key pressed at once (R, r, p) needs the tasks.
        self.scheduler.track_many(
            (
                (row.ref, task.status, task.created_at) if task else (row.ref, None, None)
                for row in self.session.rows.values()
                for task in (row.entry.task,)
            ),
            self.monotonic(),
        )
        self.query_one(TaskTable).focus()
        self.rebuild_view()
        self.set_interval(FLUSH_INTERVAL, self._flush_outcomes)
        self.set_interval(1.0, self._tick)
        self.set_interval(SAVE_INTERVAL, self.saver.save_soon)
        self.set_interval(ANNOUNCE_INTERVAL, self._announce_pending)
        if self.live:
            # The cached table is painted first; connecting (imports, client) comes after.
            self.call_after_refresh(self._connect_in_background)
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

    def _widgets_gone(self) -> bool:
        """True while the app shuts down (its timers may tick after the widgets went), and
        while another screen is on top (the main screen's widgets are not queryable)."""
        if self._table is None:
            return True
        # The table's own links, not a query: a query walks every node, per flush and tick.
        try:
            return self._table.screen is not self.screen
        except (ScreenStackError, NoScreen):
            return True

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

    # --- rendering ------------------------------------------------------------------
    def _cells(self, key: str) -> Sequence[Text]:
        row = self.session.rows.get(key)
        if row is None:
            return ()
        return row_cells(row, self.wall_clock())

    def rebuild_view(self) -> None:
        table = self.query_one(TaskTable)
        order = compute_order(self.session.rows.items(), self.spec, self.wall_clock())
        table.sorted_column = None if self.spec.sort is SortKey.ADDED else self.spec.sort.value
        table.sort_reverse = self.spec.reverse
        table.set_order(order)
        empty = self.query_one("#empty", Static)
        if not order:
            if self.session.rows:
                empty.update(f"No task matches {self.spec.describe()}.\nPress Escape to clear it.")
            else:
                empty.update(EMPTY_STATE)
        table.display = bool(order)
        empty.display = not order
        self.refresh_chrome()

    def refresh_chrome(self) -> None:
        """Status bar, banner and detail pane (cheap; runs every second and per flush)."""
        if self._widgets_gone():
            return
        state = self.scheduler.state(self.monotonic())
        mode: str = state.mode
        if self.backend.client is None:
            if not self._connect_done:
                mode = "connecting"
            elif self.backend.settings.api_key is None and self.backend.simulator is None:
                mode = "no-key"
            else:
                mode = "not-connected"
        self.query_one(StatusBar).show(
            where=self.backend.where, counts=self.session.counts(), state=state, mode=mode
        )
        banner = self.query_one("#banner", Static)
        lines = list(self.problems)
        if mode in ("offline", "auth-blocked", "rate-limited") and state.reason:
            lines.insert(0, state.reason)
        if self.spec.is_filtered:
            lines.append(
                f"Showing {self.query_one(TaskTable).row_count} of "
                f"{len(self.session.rows)} · {self.spec.describe()} · Esc clears"
            )
        text = "\n".join(lines[:3])
        # Unchanged most of the time: an update would lay out the whole screen again.
        if (text, bool(lines)) != self._banner_shown:
            self._banner_shown = (text, bool(lines))
            banner.update(safe(text, max_length=400) if lines else "")
            banner.display = bool(lines)
        self.update_details()

    def update_details(self) -> None:
        pane = self.query_one(DetailPane)
        pane.display = self.details_visible
        if not self.details_visible:
            return
        row = self.selected_row()
        note = refresh_note(row) if row is not None else None
        pane.show(row.entry if row else None, now=self.wall_clock(), note=note)

    def selected_row(self) -> Row | None:
        key = self.query_one(TaskTable).cursor_key
        return self.session.rows.get(key) if key is not None else None

    def on_task_table_cursor_moved(self, event: TaskTable.CursorMoved) -> None:
        self.update_details()

    def _tick(self) -> None:
        if self._widgets_gone():
            return
        # "elapsed" and "ago" move with the clock: repaint the visible rows only.
        self.query_one(TaskTable).invalidate_all()
        self.refresh_chrome()

    # --- others' additions -----------------------------------------------------------
    def _adopt(self, entries: list[WatchEntry]) -> None:
        rows = self.session.adopt(entries)
        now = self.monotonic()
        for row in rows:
            self.scheduler.track(row.ref, row.task.status if row.task else None, now)
        if rows:
            self.rebuild_view()
