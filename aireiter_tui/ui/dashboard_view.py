"""How the dashboard draws its session: the table's order, the status bar, the banner and
the detail pane. The state it draws is set up by :class:`~aireiter_tui.ui.dashboard.Dashboard`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from rich.text import Text
from textual.app import App, ScreenStackError
from textual.dom import NoScreen
from textual.widgets import Static

from aireiter_tui.backend import Backend
from aireiter_tui.domain.scheduler import PollScheduler
from aireiter_tui.domain.session import Row, Session
from aireiter_tui.domain.view import SortKey, ViewSpec, compute_order
from aireiter_tui.ui.notices import EMPTY_STATE, UNREADABLE_STATE, banner_lines
from aireiter_tui.ui.widgets.cells import refresh_note, row_cells
from aireiter_tui.ui.widgets.detail_pane import DetailPane
from aireiter_tui.ui.widgets.formatting import safe
from aireiter_tui.ui.widgets.status_bar import StatusBar
from aireiter_tui.ui.widgets.task_table import TaskTable


class DashboardView(App[None]):
    """The dashboard's drawing (see the module docstring)."""

    backend: Backend
    session: Session
    scheduler: PollScheduler
    spec: ViewSpec
    problems: list[str]
    details_visible: bool
    wall_clock: Callable[[], datetime]
    monotonic: Callable[[], float]
    _connect_done: bool
    _table: TaskTable | None
    _banner_shown: tuple[str, bool] | None

    def _widgets_gone(self) -> bool:
        """True while the app shuts down (its timers may tick after the widgets went), and
        while another screen is on top (the main screen's widgets are not queryable)."""
        # Not running: shutting down removes the widgets one by one (a timer ticking in
        # between found the table but no status bar).
        if self._table is None or not self.is_running:
            return True
        # The table's own links, not a query: a query walks every node, per flush and tick.
        try:
            return self._table.screen is not self.screen
        except (ScreenStackError, NoScreen):
            return True

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
                empty.update(UNREADABLE_STATE if self.session.save_blocked else EMPTY_STATE)
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
        shown = self._table.row_count if self._table is not None else 0
        filtered = self.spec.describe() if self.spec.is_filtered else None
        lines = banner_lines(
            self.problems, mode, state.reason, filtered, shown, len(self.session.rows)
        )
        text = "\n".join(lines)
        # Unchanged most of the time: an update would lay out the whole screen again.
        if (text, bool(lines)) != self._banner_shown:
            self._banner_shown = (text, bool(lines))
            banner = self.query_one("#banner", Static)
            # One problem per line: each folded and cut on its own, never run together.
            banner.update(Text("\n").join(safe(line, max_length=300) for line in lines))
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
