"""The dashboard's main screen: its widgets, its bindings and the action behind each key.

It draws what the :class:`~aireiter_tui.domain.monitor.Monitor` holds and changes it only
through the monitor. State flows one way: four times a second the screen takes the
monitor's batch of changes and applies it (repaints the changed rows, re-sorts when the
order may depend on them, announces finished tasks). The timers run whichever screen is
on top: under a dialog or the help screen the table, status bar and toasts keep changing.
"""

from __future__ import annotations

import asyncio
import copy
import math
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Container
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, Static

from aireiter_tui.backend import Backend
from aireiter_tui.domain.insight import (
    MIN_FINISHED,
    NO_ESTIMATE,
    Estimate,
    InsightWatch,
    notification,
)
from aireiter_tui.domain.models import TaskRef, TaskStatus
from aireiter_tui.domain.monitor import Monitor
from aireiter_tui.domain.retry_links import RetryLinks
from aireiter_tui.domain.sanitize import url_refusal, url_warning, visible
from aireiter_tui.domain.selection import Marks
from aireiter_tui.domain.session import Row, Transition
from aireiter_tui.domain.view import LiveOrder, SortKey, ViewSpec, next_sort
from aireiter_tui.domain.views import ColumnChoice, View
from aireiter_tui.ui.bindings import (
    ACTIONS,
    app_bindings,
    command_keys,
    display_keys,
    first_key,
    keys_of,
)
from aireiter_tui.ui.notices import EMPTY_STATE, UNREADABLE_STATE, banner_lines, finished_notices
from aireiter_tui.ui.widgets.cells import COLUMNS, natural_widths, refresh_note, row_cells
from aireiter_tui.ui.widgets.columns import arrange
from aireiter_tui.ui.widgets.detail_pane import DetailPane
from aireiter_tui.ui.widgets.filter_box import FilterBox
from aireiter_tui.ui.widgets.footer import KeyFooter
from aireiter_tui.ui.widgets.formatting import (
    format_credits,
    format_duration,
    safe,
    shorten_middle,
)
from aireiter_tui.ui.widgets.status_bar import StatusBar
from aireiter_tui.ui.widgets.task_table import TaskTable
from aireiter_tui.ui.widgets.view_tabs import ViewTabs

# The dialogs (and webbrowser) are imported when first used: the first frame needs none
# of them, and their imports (TextArea, RadioSet, OptionList...) delay it by ~25 ms.
if TYPE_CHECKING:
    from pathlib import Path

    from aireiter_tui.domain.submitting import JournalRecord, Submitter
    from aireiter_tui.ui.screens.add_tasks import AddTasksResult
    from aireiter_tui.ui.screens.downloads import DownloadJob
    from aireiter_tui.ui.screens.export import ExportRequest
    from aireiter_tui.ui.screens.submit import SubmitOutcome

#: From this many columns the detail pane sits beside the table, else below it.
WIDE_LAYOUT = 150
#: How often the monitor's changes are applied to the screen (coalescing bursts).
FLUSH_INTERVAL = 0.25
#: How old (seconds) an order sorted by time or ETA, or filtered to stuck tasks, may grow
#: before a batch computes it again whole: between, a batch only moves its own rows.
VOLATILE_REFRESH = 5.0
#: Finished tasks are announced at most this often (see notices.finished_notices).
ANNOUNCE_INTERVAL = 2.0
#: Seconds between repaints of the status bar while the watchlist is read: a part is
#: taken in every few milliseconds, and a frame for each was most of what reading cost
#: the event loop.
READING_REFRESH = 0.2

_BROWSER_LOCK = threading.Lock()
#: One write of the config at a time: a column change and a saved view, each a
#: read-modify-write of the file, would otherwise lose one another.
_CONFIG_LOCK = threading.Lock()


def _reading(read: int, total: int | None) -> str:
    """The status bar's words while the watchlist is read."""
    if not total:
        return "reading the watchlist…"
    return f"reading {read:,} of {total:,}…"


def _no_output_reason(row: Row | None) -> str:
    if row is None:
        return "No task is selected."
    if row.task is not None and row.task.status is TaskStatus.FAILED:
        return "The selected task failed, so it has no output (its error is in the detail pane)."
    if row.task is not None and row.task.status is TaskStatus.COMPLETED:
        return "The selected task completed with no output URL."
    return "The selected task has no output yet."


#: Cells of an ID in a toast: enough for both ends of ``order_lwU2d-VkUq9-tlCCmrdYu``.
_TOAST_ID_WIDTH = 30
#: Cells of a URL in a toast (it wraps): the host and the file name.
_TOAST_URL_WIDTH = 80


def _seconds_left(estimate: Estimate | None) -> float | None:
    """An ETA as the view sorts it: seconds, ``inf`` without an estimate, ``None`` for a
    task that is not running."""
    if estimate is None:
        return None
    return math.inf if estimate.seconds is None else estimate.seconds


def _named(label: str | None, ident: str, width: int = _TOAST_ID_WIDTH) -> str:
    """``hero (order_lwU2…CCmrdYu)``: the label alone is ambiguous when several tasks
    share it, so the ID is named too, cut in the middle so both of its ends show."""
    shown_id = shorten_middle(visible(ident), width)
    if not label:
        return shown_id
    return f"{safe(label, max_length=60).plain} ({shown_id})"


#: How many tasks a bulk question names one by one (the rest are counted).
_LISTED_ROWS = 5
#: Above this many outputs, opening them asks first (each is a browser tab).
OPEN_WITHOUT_ASKING = 5


def _listed(rows: Sequence[Row]) -> Text:
    """The first few ``rows`` a line each (label and ID, as :func:`_named`), then how
    many more: what a bulk question shows of the tasks it acts on."""
    lines = Text()
    for row in rows[:_LISTED_ROWS]:
        lines.append("\n• ")
        lines.append(_named(row.label, row.ref.id, 40))
    if len(rows) > _LISTED_ROWS:
        lines.append(f"\n… and {len(rows) - _LISTED_ROWS} more", style="dim")
    return lines


def _counted(count: int, one: str, many: str) -> str:
    """``"1 task has no output"`` / ``"3 tasks have no output"``; "" for none."""
    if not count:
        return ""
    return f"{count} {one}" if count == 1 else f"{count} {many}"


def _open_browser(url: str) -> bool:
    # webbrowser registers the known browsers on first use without a lock: two first
    # opens at once could see an empty list and report that no browser exists.
    import webbrowser

    with _BROWSER_LOCK:
        return webbrowser.open(url, 2)


class MainScreen(Screen[None]):
    """The watched tasks: status bar, banner, table, detail pane, filter box, footer.

    Args:
        monitor: the watched tasks; every change goes through it.
        backend: where the tasks come from (named in the status bar).
        problems: the app's messages for the banner (config, keys, connection); the
            screen adds what reading the watchlist found.
        wall_clock: "now" for durations and "ago" columns (frozen in snapshot tests).
        live: read the watchlist a part per frame, then call ``on_loaded`` (snapshot
            scenes read it at once; their app connects before the screen is shown).
        on_loaded: called once the whole watchlist is read (the app connects then).
    """

    BINDINGS: ClassVar[list[BindingType]] = list(app_bindings())

    def __init__(
        self,
        monitor: Monitor,
        backend: Backend,
        problems: list[str],
        *,
        wall_clock: Callable[[], datetime],
        live: bool = True,
        on_loaded: Callable[[], object] = lambda: None,
    ) -> None:
        super().__init__(id="main")
        self.monitor = monitor
        self.backend = backend
        self.problems = problems
        self.wall_clock = wall_clock
        self.live = live
        self._on_loaded = on_loaded
        self.spec = ViewSpec()
        #: The rows ``spec`` shows, in its order (the table shows this very object).
        self._order = LiveOrder()
        self.details_visible = True
        #: Whether connecting has been tried (the status bar says "connecting" before).
        self.connect_done = False
        self._transitions: list[Transition] = []
        self._table: TaskTable | None = None
        self._banner_shown: tuple[str, bool] | None = None
        #: How many of ``problems`` the user has hidden from the banner (x): those found
        #: later show again; the help screen lists them all.
        self._problems_hidden = 0
        #: The detail pane has the whole body (z); the table is hidden meanwhile.
        self.details_zoomed = False
        #: ETA, stuck tasks, budget: kept up to date from the change batches.
        self.insight = InsightWatch(backend.settings)
        #: The marked rows, by task: the rows bulk actions take (see targets()).
        self.marks = Marks()
        #: The columns of the All tab and of every view without its own (None: all).
        self.columns = backend.settings.columns
        #: Where each shown column's cell is in a row's cells (see _cells).
        self._picked = [index for index, _ in arrange(COLUMNS, self.columns)]
        #: The tab whose view was last applied (0: All).
        self._view_index = 0
        # [commands.NAME] keys, bound on this screen only (never under a dialog); a key
        # that is taken is refused and the banner says so.
        bound, refused = command_keys(backend.settings.commands, backend.settings.keymap)
        self.problems.extend(refused)
        for key, command in bound.items():
            self._bindings.bind(key, f"run_command({command.name!r})", command.title, show=False)

    # --- layout ---------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static(id="banner", markup=False)
        # The layout class the first resize would set, set now: adding it after mounting
        # restyles every widget in the body (~10 ms before the first frame).
        wide = "-wide" if self.app.size.width >= WIDE_LAYOUT else None
        with Container(id="body", classes=wide):
            with Container(id="list"):
                yield ViewTabs(self.backend.settings.views, id="tabs")
                self._table = TaskTable(
                    [column for _, column in arrange(COLUMNS, self.columns)],
                    self._cells,
                    natural=lambda: natural_widths(self.monitor.session.longest()),
                    marks=self.marks,
                    id="table",
                )
                yield self._table
                yield Static(EMPTY_STATE, id="empty", markup=False)
            pane = DetailPane(id="details", backend=self.backend)
            pane.previews = self.backend.settings.previews
            yield pane
        yield FilterBox(id="filter")
        yield KeyFooter()

    def on_mount(self) -> None:
        loader = self.monitor.loader
        # A small list's first part is on the first frame; the rest is read on a thread.
        loader.start()
        if not self.live:
            loader.finish()  # snapshot scenes: everything at once
        if loader.done:
            self._loaded()
        self.query_one(TaskTable).focus()
        self.apply_changes(rebuild=True)
        # The selected task in the pane on the first frame: filled in once the table had
        # its size, it laid the screen out a second time (25 ms) before the rest of the
        # list was read.
        self.update_details()
        self.set_interval(FLUSH_INTERVAL, self.apply_changes)
        self.set_interval(1.0, self._tick)
        self.set_interval(ANNOUNCE_INTERVAL, self._announce_pending)
        if self.live:
            self.call_after_refresh(self._load_rest)

    def on_resize(self, event: events.Resize) -> None:
        # The event's size: self.size still holds the previous one while this runs.
        self.query_one("#body").set_class(event.size.width >= WIDE_LAYOUT, "-wide")

    def _shutting_down(self) -> bool:
        """True once the app stops: its timers may tick while the widgets are removed one
        by one (a tick in between found the table but no status bar)."""
        return self._table is None or not self.is_attached or not self.app.is_running

    # --- reading the watchlist ------------------------------------------------------
    @work(exclusive=True, group="watchlist")
    async def _load_rest(self) -> None:
        """Read the rest of the watchlist on a thread, a part at a time (keys are answered
        meanwhile; the status bar says how far it has come); then connect."""
        loader = self.monitor.loader
        if not loader.done:
            await loader.run(on_part=self._part_read)
            if self._shutting_down():
                return
            self._loaded()
            self.apply_changes()  # (each part was taken in as it came: no walk of them all)
        # After the frame: the client's imports hold the loop for ~0.15 s.
        self.call_after_refresh(self._on_loaded)

    def _part_read(self, rows: list[Row]) -> None:
        # Each part is taken in as it comes (a part of rows at a time: the flush timer
        # would find ten parts at once on a long list, and hold the keys that long); the
        # first is painted whole.
        if rows and not self._shutting_down():
            self.apply_changes(rebuild=len(self.monitor.session.rows) == len(rows))

    def _loaded(self) -> None:
        self.problems.extend(self.monitor.loader.problems)

    # --- applying the monitor's changes -----------------------------------------------
    def apply_changes(self, *, rebuild: bool = False) -> None:
        """Apply the monitor's batch: repaint changed rows, re-sort or re-filter only when
        the order may depend on them, queue finished tasks for announcing. ``rebuild``:
        compute the order again whatever the batch says."""
        if self._shutting_down():
            return  # on the way out, the monitor keeps what is left and saves it
        changes = self.monitor.take_changes()
        if changes.save_error:
            self.notify(
                f"{changes.save_error} Nothing was lost: it will be tried again.",
                title="Not saved",
                severity="error",
                markup=False,
                timeout=8,
            )
        self._transitions.extend(changes.transitions)
        full = rebuild or changes.reordered
        session = self.monitor.session
        self.insight.take(session.rows, changes.updated, full=full, log=session.appended)
        self.query_one(ViewTabs).take(self.monitor.session.rows, changes.updated, full=full)
        if rebuild:
            self.rebuild_view()
        elif changes.updated or changes.reordered:
            self.update_view(changes.updated, reordered=changes.reordered)
        else:
            self.refresh_chrome()

    def update_view(self, keys: Collection[str], *, reordered: bool = False) -> None:
        """Move the rows with these keys (their data changed) to their place in the order,
        and take in the rows added or removed (``reordered``): O(changed · log rows),
        never a sort of every row (see :class:`LiveOrder`)."""
        order = self._order
        stale = (self.wall_clock() - order.now).total_seconds() >= VOLATILE_REFRESH
        if order.volatile and stale:
            self.rebuild_view()  # a running task's time or ETA moved by itself meanwhile
            return
        if reordered:
            self._retries = None  # rows came or went: the detail pane's links are read again
            if self.marks:
                self.marks.keep_only(self.monitor.session.rows)  # a removed task's mark too
        table = self.query_one(TaskTable)
        table.change_order(lambda: order.apply(keys, reordered=reordered), keys)
        self._show_emptiness()
        self.refresh_chrome()

    def _announce_pending(self) -> None:
        transitions, self._transitions = self._transitions, []
        for notice in finished_notices(transitions):
            self.notify(notice.body, title=notice.title, severity=notice.severity, markup=False)
            # Opt-in desktop notification: the terminal turns the sequence into one.
            sequence = notification(self.backend.settings.notify, notice.title, notice.body)
            driver = self.app._driver
            if sequence and driver is not None:
                driver.write(sequence)
        if transitions and self.backend.settings.bell:
            self.app.bell()

    def _tick(self) -> None:
        if self._shutting_down():
            return
        # "elapsed" and "ago" move with the clock: repaint the visible rows only.
        self.query_one(TaskTable).invalidate_all()
        for sentence, severity in self.insight.alerts(self.monitor.session.rows, self.wall_clock()):
            self.notify(sentence, severity=severity, markup=False, timeout=8)  # type: ignore[arg-type]
        self.refresh_chrome()

    # --- drawing --------------------------------------------------------------------
    def _cells(self, key: str) -> Sequence[Text]:
        row = self.monitor.session.rows.get(key)
        if row is None:
            return ()
        cells = row_cells(row, self.wall_clock(), self.insight.figures)
        return [cells[index] for index in self._picked]

    def rebuild_view(self) -> None:
        """Compute the visible order again and redraw everything around it."""
        self._retries = None  # rows came or went: the detail pane's links are read again
        session = self.monitor.session
        table = self.query_one(TaskTable)
        if self.marks:
            self.marks.keep_only(session.rows)  # a removed task's mark goes with it
        now, figures = self.wall_clock(), self.insight.figures
        current = table.cursor_key  # (read before the order changes under the table)
        self._order.rebuild(
            session.rows,
            self.spec,
            now,
            stuck=lambda key: figures.stuck(key, now),
            eta=lambda key: _seconds_left(figures.estimate(key, now)),
            log=session.appended,
        )
        table.sorted_column = None if self.spec.sort is SortKey.ADDED else self.spec.sort.value
        table.sort_reverse = self.spec.reverse
        table.set_order(self._order, keep_key=current)
        self._show_emptiness()
        self.refresh_chrome()

    def _show_emptiness(self) -> None:
        """The table, or instead of it why it is empty."""
        session, order = self.monitor.session, self._order
        table, empty = self.query_one(TaskTable), self.query_one("#empty", Static)
        if not order:
            if session.rows:
                empty.update(f"No task matches {self.spec.describe()}.\nPress Escape to clear it.")
            elif not self.monitor.loaded:
                empty.update("Reading the watchlist…")
            else:
                empty.update(UNREADABLE_STATE if session.save_blocked else EMPTY_STATE)
        table.display = bool(order)
        empty.display = not order

    def refresh_chrome(self) -> None:
        """Status bar, banner and detail pane (cheap; runs every second and per flush)."""
        if self._shutting_down():
            return
        monitor, backend = self.monitor, self.backend
        if not monitor.loaded:
            now = time.monotonic()
            if now - self._chrome_at < READING_REFRESH:
                if self._chrome_timer is None:  # (the last change is drawn all the same)
                    wait = READING_REFRESH - (now - self._chrome_at)
                    self._chrome_timer = self.set_timer(wait, self._chrome_later)
                return
            self._chrome_at = now
        state = monitor.state()
        mode: str = state.mode
        if backend.client is None:
            if not self.connect_done:
                mode = "connecting"
            elif backend.settings.api_key is None and backend.simulator is None:
                mode = "no-key"
            else:
                mode = "not-connected"
        if not monitor.loaded:
            mode = _reading(monitor.loader.read, monitor.loader.total)
        counts = monitor.session.counts()
        tabs = self.query_one(ViewTabs)
        stuck = self.insight.figures.stuck_keys(self.wall_clock()) if tabs.wants_stuck else ()
        tabs.show_counts(counts.total, stuck)
        poller = monitor.poller
        summary = self.insight.summary(
            self.wall_clock(), poller.tally if poller else None, monitor.monotonic()
        )
        marked = len(self.marks)
        hidden = self._hidden_marks() if marked else 0
        self.query_one(StatusBar).show(
            where=backend.where,
            counts=counts,
            state=state,
            mode=mode,
            summary=summary,
            marked=marked,
            hidden=hidden,
        )
        shown = self._table.row_count if self._table is not None else 0
        filtered = self.spec.describe() if self.spec.is_filtered else None
        # Config and watchlist problems can be hidden (x); why nothing is refreshed cannot.
        lines = banner_lines(
            self.problems[self._problems_hidden :],
            mode,
            state.reason,
            filtered,
            shown,
            counts.total,
            hide_key=first_key("hide_problems", backend.settings.keymap),
        )
        text = "\n".join(lines)
        # Unchanged most of the time: an update would lay out the whole screen again.
        if (text, bool(lines)) != self._banner_shown:
            self._banner_shown = (text, bool(lines))
            banner = self.query_one("#banner", Static)
            # One problem per line: each folded and cut on its own, never run together.
            banner.update(Text("\n").join(safe(line, max_length=300) for line in lines))
            banner.display = bool(lines)
        if monitor.loaded:
            # (While the list is read, its parts leave the selected task as it is: the
            # pane follows the cursor, and its times once every task is read.)
            self.update_details()

    def update_details(self) -> None:
        pane = self.query_one(DetailPane)
        pane.display = self.details_visible
        if not self.details_visible:
            return
        row = self.selected_row()
        note = refresh_note(row) if row is not None else None
        error = row.error if row is not None else None
        retried_as: list[TaskRef] = []
        if row is not None:
            if self._retries is None:
                self._retries = self._retry_index()
            retried_as = list(self._retries.get(row.ref, ()))
        pane.show(
            row.entry if row else None,
            now=self.wall_clock(),
            note=note,
            error=error,
            retried_as=retried_as,
            eta=self._eta_words(row),
        )

    def _eta_words(self, row: Row | None) -> str | None:
        """The detail pane's ETA line for an unfinished task, or ``None``."""
        if row is None:
            return None
        estimate = self.insight.figures.estimate(row.ref.key, self.wall_clock())
        if estimate is None:
            return None
        if estimate.seconds is None:
            if estimate is NO_ESTIMATE:
                return f"no estimate (fewer than {MIN_FINISHED} of its model finished)"
            return f"no estimate ({estimate.reason})"
        # The median of what the model's finished tasks that ran this long still took.
        return f"≈{format_duration(estimate.seconds)} left"

    #: The watched retries of each task, for the detail pane's links: brought up to date
    #: on demand after a rebuild of the view (rows added or removed), not on every flush.
    _retries: dict[TaskRef, list[TaskRef]] | None = None
    #: When the chrome was last drawn while the watchlist was read (see READING_REFRESH),
    #: and the timer that draws what changed since.
    _chrome_at = -math.inf
    _chrome_timer: Timer | None = None
    #: A cursor move's pane update is waiting for the frame (see the cursor's handler).
    _details_pending = False

    def _chrome_later(self) -> None:
        self._chrome_timer = None
        self.refresh_chrome()

    _retry_links: RetryLinks | None = None

    def _retry_index(self) -> dict[TaskRef, list[TaskRef]]:
        if self._retry_links is None:
            self._retry_links = RetryLinks()
        session = self.monitor.session
        return self._retry_links.update(session.rows, session.appended)

    def selected_row(self) -> Row | None:
        key = self.query_one(TaskTable).cursor_key
        return self.monitor.session.rows.get(key) if key is not None else None

    def targets(self) -> list[Row]:
        """The rows an action applies to: the marked rows the view shows, in its order;
        else the cursor's row; else none. Marked rows a filter hides are left alone (an
        action takes only what the user can see)."""
        rows = self.monitor.session.rows
        if self.marks:
            marked = self.marks.in_order(self.query_one(TaskTable).order)
            if marked:
                return [rows[key] for key in marked if key in rows]
        row = self.selected_row()
        return [row] if row is not None else []

    def on_task_table_cursor_moved(self, event: TaskTable.CursorMoved) -> None:
        # The pane follows in the frame after the cursor's: a new task in it lays the
        # screen out again (10-45 ms), which held the cursor's own frame; moves that come
        # before then are drawn in the pane once.
        if not self._details_pending:
            self._details_pending = True
            self.call_after_refresh(self._details_after_move)

    def _details_after_move(self) -> None:
        self._details_pending = False
        if not self._shutting_down():
            self.update_details()

    # --- marks --------------------------------------------------------------------
    def _hidden_marks(self) -> int:
        """How many marked rows the view hides (a bulk action leaves them alone)."""
        table = self.query_one(TaskTable)
        return sum(1 for key in self.marks if not table.shows(key))

    def _marks_changed(self, keys: Iterable[str]) -> None:
        self.query_one(TaskTable).marks_changed(keys)
        self.refresh_chrome()

    def action_toggle_mark(self) -> None:
        """Mark or unmark the cursor's row, then move down (space space space marks three
        rows in a row, as in mutt and ranger)."""
        table = self.query_one(TaskTable)
        key = table.cursor_key
        if key is None:
            return
        self.marks.toggle(key)
        self._marks_changed([key])
        table.action_cursor_down()

    def _extend_marks(self, step: int) -> None:
        table = self.query_one(TaskTable)
        start = table.cursor_key
        if start is None:
            return
        table.cursor_row += step
        end = table.cursor_key or start
        self._marks_changed(self.marks.extend(table.order, start, end))

    def action_extend_marks_down(self) -> None:
        """Mark from the cursor down; shift+↑ back over the run unmarks it again."""
        self._extend_marks(+1)

    def action_extend_marks_up(self) -> None:
        """Mark from the cursor up; shift+↓ back over the run unmarks it again."""
        self._extend_marks(-1)

    def action_mark_all(self) -> None:
        """Mark every visible row; when all of them are marked already, unmark them."""
        visible = list(self.query_one(TaskTable).order)
        self.marks.toggle_all(visible)
        self._marks_changed(visible)

    def _clear_marks(self) -> None:
        cleared = self.marks.clear()
        self._marks_changed(cleared)
        noun = "task" if len(cleared) == 1 else "tasks"
        self.notify(f"Unmarked {len(cleared)} {noun}.", markup=False, timeout=3)

    # --- watchlist ------------------------------------------------------------------
    def action_add_tasks(self) -> None:
        from aireiter_tui.ui.screens.add_tasks import AddTasksScreen

        existing = [row.ref for row in self.monitor.session.rows.values()]
        self.app.push_screen(AddTasksScreen(existing), self._tasks_added)

    def _tasks_added(self, result: AddTasksResult | None) -> None:
        if not result or not result.refs:
            return
        # The monitor's batch says the order changed: applied now, not again at the flush.
        added = self.monitor.add(result.refs, result.label)
        self.apply_changes()
        if added:
            self.query_one(TaskTable).move_to_key(added[0].ref.key)
            if len(added) == 1:
                said = f"Watching {_named(added[0].label, added[0].ref.id)}."
            else:
                said = f"Watching {len(added)} more tasks ({added[0].ref.kind.value}s)."
            self.notify(said, markup=False)

    def action_remove_task(self) -> None:
        """Remove the targets (see :meth:`targets`) after one question naming them; one
        ``u`` brings them all back."""
        rows = self.targets()
        if not rows:
            return
        from aireiter_tui.ui.screens.confirm import ConfirmScreen

        if len(rows) == 1:
            row = rows[0]
            # The ID as well as the label, whole if it fits the dialog's line (56 cells):
            # several tasks may share one label.
            body = Text("Stop watching this task?\n")
            if row.label:
                body.append_text(safe(row.label, max_length=80, style="bold"))
                body.append("\n")
            body.append(f"{row.ref.kind.value} ")
            body.append(shorten_middle(visible(row.ref.id), 56 - len(row.ref.kind.value) - 1))
            body.append("\n\nThe task itself is not cancelled. Press u to undo.")
            title = "Remove task"
        else:
            body = Text(f"Stop watching these {len(rows)} tasks?\n")
            body.append_text(_listed(rows))
            body.append("\n\nThe tasks themselves are not cancelled. Press u to undo.")
            title = f"Remove {len(rows)} tasks"
        hidden = self._hidden_marks() if self.marks else 0
        if hidden:
            noun = "task" if hidden == 1 else "tasks"
            body.append(f"\n{hidden} marked {noun} hidden by the filter stay.", style="dim")
        keys = [row.ref.key for row in rows]
        self.app.push_screen(ConfirmScreen(title, body), self._remove_confirmed(keys))

    def _remove_confirmed(self, keys: list[str]) -> Callable[[bool | None], None]:
        def done(confirmed: bool | None) -> None:
            if not confirmed:
                return
            removed = self.monitor.remove(keys)  # one step for undo, however many
            self.apply_changes()
            if len(removed) == 1:
                name = _named(removed[0].label, removed[0].ref.id)
                self.notify(f"Removed {name} (u brings it back).", markup=False)
            elif removed:
                self.notify(f"Removed {len(removed)} tasks (u brings them back).", markup=False)

        return done

    def action_undo_remove(self) -> None:
        """Bring back the last removal; again, the one before (a bounded stack)."""
        rows = self.monitor.undo_remove()
        if not rows:
            self.notify("Nothing to bring back.", markup=False)
            return
        self.apply_changes()
        self.query_one(TaskTable).move_to_key(rows[0].ref.key)
        name = _named(rows[0].label, rows[0].ref.id)
        more = f" and {len(rows) - 1} more" if len(rows) > 1 else ""
        left = self.monitor.undo_depth
        still = f" u again brings back the removal before ({left} left)." if left else ""
        self.notify(f"Watching {name}{more} again.{still}", markup=False)

    def action_edit_label(self) -> None:
        """Set or clear the label of the targets: one label for all of them."""
        from aireiter_tui.ui.screens.label import LabelScreen

        rows = self.targets()
        if not rows:
            return
        keys = [row.ref.key for row in rows]
        if len(rows) == 1:
            shown_as = _named(None, rows[0].ref.id)
            context = rows[0].ref.id
        else:
            shown_as = f"{len(rows)} tasks"
            context = f"{len(rows)} tasks: " + ", ".join(
                shorten_middle(visible(row.ref.id), _TOAST_ID_WIDTH) for row in rows[:3]
            )
            context += f" and {len(rows) - 3} more" if len(rows) > 3 else ""
        # The label they share, if they do: the field starts from it.
        labels = {row.label for row in rows}
        current = labels.pop() if len(labels) == 1 else None

        def done(label: str | None) -> None:
            if label is None:
                return
            changed = [key for key in keys if self.monitor.relabel(key, label or None)]
            if not changed:
                return
            self.apply_changes()
            if label:
                said = f"Label of {shown_as} set to “{safe(label, max_length=60).plain}”."
            else:
                said = f"Label of {shown_as} removed."
            self.notify(said, markup=False)

        self.app.push_screen(LabelScreen(current, context), done)

    @work(exclusive=True, group="reload", exit_on_error=False)
    async def action_reload_watchlist(self) -> None:
        """Take in what other programs changed in the watchlist file, now."""
        if self.monitor.session.save_blocked:
            self.notify("The watchlist file could not be read; see the banner.", markup=False)
            return
        saved = await self.monitor.save(force=True)
        if saved is None:
            return  # a save is under way (it takes the changes in) or failed (a toast says)
        self.apply_changes()
        parts = [
            f"{len(saved.added)} added" if saved.added else "",
            f"{len(saved.dropped)} removed" if saved.dropped else "",
            f"{len(saved.relabelled)} relabelled" if saved.relabelled else "",
        ]
        done = ", ".join(part for part in parts if part)
        self.notify(
            f"Watchlist reloaded: {done} elsewhere." if done else "No changes from elsewhere.",
            markup=False,
            timeout=3,
        )

    # --- submitting -----------------------------------------------------------------
    #: The duplicate guard around the client, made on first use (see _submit_guard).
    _guard: Submitter | None = None

    def _submit_guard(self) -> Submitter | None:
        """The guard that sends drafts through the app's client, never one out_task_id
        twice; ``None`` (and a toast says why) when there is no client."""
        from aireiter_tui.domain.submitting import SubmitJournal, Submitter

        client = self.backend.client
        if client is None:
            reason = self.backend.problem or "the client is not set up yet."
            self.notify(
                f"Nothing can be submitted: {reason}",
                severity="warning",
                markup=False,
            )
            return None
        if self._guard is None or self._guard.client is not client:
            store = self.backend.store
            journal = SubmitJournal.beside(store.path) if store else SubmitJournal(None)
            self._guard = Submitter(client, journal)
        return self._guard

    def action_retry_task(self) -> None:
        """Retry the target if it failed: confirm the model, params and cost first. Of
        several targets, the failed ones, after one question (the rest are skipped)."""
        rows = self.targets()
        if len(rows) > 1:
            self._retry_failed_of(rows)
            return
        row = rows[0] if rows else None
        if row is None:
            return
        if row.task is None or row.task.status is not TaskStatus.FAILED:
            from aireiter_tui.domain.drafts import NotRetryable, retry_draft

            try:
                retry_draft(row.ref, row.task, ())
            except NotRetryable as problem:
                self.notify(f"Not retried: {problem}", markup=False)
            return
        guard = self._submit_guard()
        if guard is not None:
            self._open_retry(row, guard)

    def _retry_failed_of(self, rows: Sequence[Row]) -> None:
        failed = [r for r in rows if r.task is not None and r.task.status is TaskStatus.FAILED]
        skipped = _counted(len(rows) - len(failed), "not failed", "not failed")
        if not failed:
            self.notify(f"Nothing retried: none of the {len(rows)} tasks failed.", markup=False)
            return
        guard = self._submit_guard()
        if guard is None:
            return
        if len(failed) == 1:
            # One to retry: its own dialog, where the params can be read first.
            self.notify(f"Retrying the one failed task; {skipped} skipped.", markup=False)
            self._open_retry(failed[0], guard)
            return
        self._retry_many(failed, skipped, guard)

    async def _journal_records(self, guard: Submitter) -> dict[str, JournalRecord] | None:
        """The submit journal's records, read off the event loop (file locks); None, with
        a toast, when it cannot be read."""
        journal = guard.journal
        try:
            return await asyncio.to_thread(journal.records)
        except OSError as error:
            self.notify(f"Not retried: {journal.problem(error)}.", severity="error", markup=False)
            return None

    @work(exclusive=True, group="submit-dialog", exit_on_error=False)
    async def _retry_many(self, rows: list[Row], skipped: str, guard: Submitter) -> None:
        """Retry failed ``rows`` after one question; those retried before, or whose
        model and params are unknown, are left out and counted."""
        from aireiter_tui.domain.drafts import Draft, NotRetryable, ids_in_use, retry_draft
        from aireiter_tui.domain.models import IdKind
        from aireiter_tui.domain.submitting import SubmitError, SubmitUnknown, retries_in, watch
        from aireiter_tui.domain.watchlist_codec import retries_of
        from aireiter_tui.ui.screens.confirm import ConfirmScreen

        records = await self._journal_records(guard)
        if records is None:
            return
        entries = [other.entry for other in self.monitor.session.rows.values()]
        taken = set(records) | ids_in_use(entries)
        drafts: list[tuple[Row, Draft]] = []
        retried_before = unknown = 0
        for row in rows:
            earlier = retries_in(records, row.ref)
            unresolved = [record for record in earlier if not record.resolved]
            if not unresolved and (earlier or retries_of(entries, row.ref)):
                retried_before += 1  # a second retry is a choice made one task at a time
                continue
            try:
                draft = retry_draft(row.ref, row.task, taken, label=row.label)
            except NotRetryable:
                unknown += 1
                continue
            if unresolved:
                # Its answer was lost: the same out_task_id, so the server is asked first.
                draft = replace(draft, out_task_id=unresolved[-1].out_task_id)
            taken.add(draft.out_task_id)
            drafts.append((row, draft))
        skips = "; ".join(
            note
            for note in (
                skipped,
                _counted(retried_before, "retried before (t on its row)", "retried before"),
                _counted(unknown, "with unknown model or params", "with unknown model or params"),
            )
            if note
        )
        if not drafts:
            self.notify(f"Nothing retried: {skips}.", markup=False)
            return
        credits = sum(row.task.credits_used or 0 for row, _ in drafts if row.task is not None)
        body = Text(f"Retry {len(drafts)} failed tasks?\n")
        body.append_text(_listed([row for row, _ in drafts]))
        body.append(
            "\n\nEach is submitted again as a new task: the same model and params, a new "
            f"out_task_id (…-r1). Together they used {format_credits(credits) or '0'} credits."
        )
        if skips:
            body.append(f"\nSkipped: {skips}.", style="dim")
        screen = ConfirmScreen(
            f"Retry {len(drafts)} tasks", body, confirm_label=f"Retry {len(drafts)}", danger=False
        )
        if not await self.app.push_screen_wait(screen):
            return
        made = 0
        problems: list[str] = []
        for row, draft in drafts:
            try:
                submitted = await guard.submit(draft)
            except SubmitUnknown as unclear:
                # Watched by its out_task_id: polling finds out whether the server has it.
                ref = TaskRef(IdKind.OUT_TASK_ID, draft.out_task_id)
                for new in self.monitor.add([ref], draft.label):
                    new.entry.retry_of = draft.retry_of
                problems.append(f"{_named(row.label, row.ref.id)}: {unclear.message}")
                continue
            except SubmitError as error:
                problems.append(f"{_named(row.label, row.ref.id)}: {error.message}")
                continue
            watch(self.monitor, submitted)
            made += 1
        self.apply_changes()
        tail = f" Skipped: {skips}." if skips else ""
        if made:
            self.notify(f"Retried {made} tasks as new ones.{tail}", markup=False, timeout=8)
        for problem in problems:
            self.notify(problem, title="Not retried", severity="warning", markup=False, timeout=12)

    @work(exclusive=True, group="submit-dialog", exit_on_error=False)
    async def _open_retry(self, row: Row, guard: Submitter) -> None:
        from aireiter_tui.domain.drafts import NotRetryable, ids_in_use, retry_draft
        from aireiter_tui.domain.submitting import retries_in
        from aireiter_tui.domain.watchlist_codec import retries_of
        from aireiter_tui.ui.screens.submit import SubmitMode, SubmitScreen

        records = await self._journal_records(guard)
        if records is None:
            return
        try:
            draft = retry_draft(
                row.ref,
                row.task,
                set(records) | ids_in_use(r.entry for r in self.monitor.session.rows.values()),
                label=row.label,
            )
        except NotRetryable as problem:
            self.notify(f"Not retried: {problem}", markup=False)
            return
        earlier = retries_in(records, row.ref)
        unresolved = [record for record in earlier if not record.resolved]
        note = None
        if unresolved:
            # Its answer was lost: the same out_task_id, so the server is asked first.
            draft = replace(draft, out_task_id=unresolved[-1].out_task_id)
            note = (
                "An earlier retry's answer was lost: this one asks the server about it first"
                " and sends only if the server does not have it."
            )
        else:
            entries = [other.entry for other in self.monitor.session.rows.values()]
            done = [record.task_id or record.out_task_id for record in earlier]
            done += [ref.id for ref in retries_of(entries, row.ref) if ref.id not in done]
            if done:
                shown = ", ".join(shorten_middle(visible(ident), 30) for ident in done[:3])
                note = f"Already retried as {shown}: this makes one more task."
        assert row.task is not None
        screen = SubmitScreen(
            SubmitMode.RETRY,
            draft,
            guard.submit,
            original=_named(row.label, row.ref.id),
            original_credits=row.task.credits_used,
            note=note,
        )
        self.app.push_screen(screen, self._submitted)

    def action_duplicate_task(self) -> None:
        """Submit a copy of the selected task, its model and params edited first."""
        from aireiter_tui.domain.drafts import Draft, new_out_task_id
        from aireiter_tui.ui.screens.submit import SubmitMode, SubmitScreen

        row = self.selected_row()
        if row is None:
            return
        given = row.task.input if row.task is not None else None
        if given is None or not given.model:
            name = _named(row.label, row.ref.id)
            self.notify(
                f"Not duplicated: the model and params of {name} are not known yet.",
                markup=False,
            )
            return
        guard = self._submit_guard()
        if guard is None:
            return
        assert row.task is not None
        metadata = row.task.metadata if isinstance(row.task.metadata, dict) else None
        draft = Draft(
            given.model,
            copy.deepcopy(given.params),
            new_out_task_id(self.wall_clock()),
            metadata=copy.deepcopy(metadata),
            label=row.label,
        )
        screen = SubmitScreen(
            SubmitMode.DUPLICATE, draft, guard.submit, original=_named(row.label, row.ref.id)
        )
        self.app.push_screen(screen, self._submitted)

    def action_new_task(self) -> None:
        """Submit a new task: a model, params as JSON, or a template to start from."""
        from aireiter_tui.domain.drafts import PROMPT, Draft, new_out_task_id
        from aireiter_tui.ui.screens.submit import SubmitMode, SubmitScreen

        guard = self._submit_guard()
        if guard is None:
            return
        draft = Draft("", {PROMPT: ""}, new_out_task_id(self.wall_clock()))
        templates = self.backend.settings.templates
        screen = SubmitScreen(SubmitMode.NEW, draft, guard.submit, templates=templates)
        self.app.push_screen(screen, self._submitted)

    def _submitted(self, outcome: SubmitOutcome | None) -> None:
        """Watch what the dialog submitted, at once; an unclear submit is watched by its
        out_task_id, so the poller finds out whether the server has it."""
        from aireiter_tui.domain.models import IdKind, TaskRef
        from aireiter_tui.domain.submitting import watch
        from aireiter_tui.ui.screens.submit import Unclear

        if outcome is None:
            return
        if isinstance(outcome, Unclear):
            draft = outcome.draft
            ref = TaskRef(IdKind.OUT_TASK_ID, draft.out_task_id)
            for row in self.monitor.add([ref], draft.label):
                row.entry.retry_of = draft.retry_of
            self.apply_changes()
            self.query_one(TaskTable).move_to_key(ref.key)
            self.notify(
                f"{outcome.message} It is watched by its out_task_id meanwhile.",
                title="Unknown whether it was accepted",
                severity="warning",
                markup=False,
                timeout=12,
            )
            return
        watch(self.monitor, outcome)
        self.apply_changes()
        self.query_one(TaskTable).move_to_key(outcome.ref.key)
        self.notify(outcome.sentence(), markup=False, timeout=6)
        for warning in outcome.warnings:
            self.notify(warning, severity="warning", markup=False, timeout=10)

    # --- outputs --------------------------------------------------------------------
    def action_open_output(self) -> None:
        """Open the target's output (a chooser when it has several); for several
        targets, every output of each, asking first above :data:`OPEN_WITHOUT_ASKING`."""
        from aireiter_tui.ui.screens.output_chooser import OutputChooserScreen

        rows = self.targets()
        if len(rows) > 1:
            self._open_outputs_of(rows)
            return
        row = rows[0] if rows else None
        outputs = row.task.outputs if row and row.task else ()
        if not outputs:
            self.notify(_no_output_reason(row), markup=False)
        elif len(outputs) == 1:
            self.open_url_safely(outputs[0].url)
        else:
            self.app.push_screen(OutputChooserScreen(outputs), self._chosen)

    def _chosen(self, url: str | None) -> None:
        if url:
            self.open_url_safely(url)

    def _open_outputs_of(self, rows: Sequence[Row]) -> None:
        """Open every output of ``rows``. Links that may imitate another are left out
        (each needs its own look: ``o`` on its row asks), as are non-http(s) ones."""
        from aireiter_tui.ui.screens.confirm import ConfirmScreen

        urls: list[str] = []
        suspicious = refused = bare = 0
        for row in rows:
            outputs = row.task.outputs if row.task else ()
            bare += not outputs
            for output in outputs:
                if url_refusal(output.url) is not None:
                    refused += 1
                elif url_warning(output.url) is not None:
                    suspicious += 1
                else:
                    urls.append(output.url)
        notes = [
            _counted(bare, "task has no output", "tasks have no output"),
            _counted(refused, "output is not an http(s) link", "outputs are not http(s) links"),
            _counted(
                suspicious,
                "link may imitate another (o on its row shows it)",
                "links may imitate others (o on their rows shows them)",
            ),
        ]
        left_out = "; ".join(note for note in notes if note)
        if not urls:
            self.notify(f"Nothing opened: {left_out}.", markup=False)
            return
        tasks = len(rows) - bare
        what = f"{len(urls)} outputs of {tasks} tasks"
        if len(urls) <= OPEN_WITHOUT_ASKING:
            self._open_many(urls, what, left_out)
            return
        body = Text(f"Open {what} in the browser? Each opens a tab.")
        if left_out:
            body.append(f"\n\nLeft out: {left_out}.", style="dim")

        def confirmed(go_ahead: bool | None) -> None:
            if go_ahead:
                self._open_many(urls, what, left_out)

        screen = ConfirmScreen(
            f"Open {len(urls)} outputs", body, confirm_label=f"Open {len(urls)}", danger=False
        )
        self.app.push_screen(screen, confirmed)

    @work(exclusive=False, group="browser", exit_on_error=False)
    async def _open_many(self, urls: list[str], what: str, left_out: str) -> None:
        # One at a time, off the event loop (see _open_in_browser), and one toast.
        failed = 0
        for url in urls:
            failed += not await asyncio.to_thread(_open_browser, url)
        tail = f" Left out: {left_out}." if left_out else ""
        if not failed:
            self.notify(f"Opened {what} in the browser.{tail}", markup=False)
        else:
            self.notify(
                f"No browser could be started for {failed} of {what}; Y copies the URLs.{tail}",
                severity="warning",
                markup=False,
            )

    def open_url_safely(self, url: str) -> bool:
        """Open ``url`` in the browser off the event loop, if it is plain http(s).

        A URL that may imitate another (a host in lookalike letters, invisible
        characters) is opened only once the user has confirmed, having seen the host
        as DNS reads it. Returns False if the URL is refused.
        """
        reason = url_refusal(url)
        if reason is not None:
            self.notify(f"Not opened: {reason}.", severity="warning", markup=False)
            return False
        warning = url_warning(url)
        if warning is not None:
            from aireiter_tui.ui.screens.confirm import ConfirmScreen

            def confirmed(go_ahead: bool | None) -> None:
                if go_ahead:
                    self._open_in_browser(url)

            self.app.push_screen(ConfirmScreen.open_link(url, warning), confirmed)
            return True
        self._open_in_browser(url)
        return True

    @work(exclusive=False, group="browser", exit_on_error=False)
    async def _open_in_browser(self, url: str) -> None:
        # webbrowser.open can block for the browser's lifetime: never on the event loop.
        opened = await asyncio.to_thread(_open_browser, url)
        shown_url = shorten_middle(visible(url), _TOAST_URL_WIDTH)
        if opened:
            self.notify(f"Opened {shown_url} in the browser.", markup=False)
        else:
            self.notify(
                f"No browser could be started for {shown_url}; the URL is in the detail pane "
                "(Y copies it).",
                severity="warning",
                markup=False,
            )

    #: What the last copy key sent, by binding id: the same key for the same text shows
    #: it in a dialog instead (whether the terminal took it cannot be known).
    _last_copy: tuple[str, str] | None = None

    def _copy(self, action_id: str, text: str, what: str, title: str) -> None:
        """Send ``text`` to the terminal's clipboard and say what that means; the same
        key again for the same text shows it to be selected by hand."""
        from aireiter_tui.ui.screens.copy_text import CopyTextScreen, clipboard_note

        if self._last_copy == (action_id, text):
            self._last_copy = None
            self.app.push_screen(CopyTextScreen(title, text))
            return
        self._last_copy = (action_id, text)
        self.app.copy_to_clipboard(text)
        key = first_key(action_id, self.backend.settings.keymap)
        self.notify(
            f"{what} sent to the terminal's clipboard. {clipboard_note(key)}",
            markup=False,
            timeout=8,
        )

    def action_copy_id(self) -> None:
        """Copy the target's ID; several targets' IDs a line each, in the view's order."""
        rows = self.targets()
        if len(rows) > 1:
            text = "\n".join(row.ref.id for row in rows)
            self._copy("copy_id", text, f"{len(rows)} task IDs", "Task IDs")
        elif rows:
            row = rows[0]
            name = _named(row.label, row.ref.id)
            self._copy("copy_id", row.ref.id, f"The ID of {name}", "Task ID")

    def action_copy_json(self) -> None:
        """Copy the selected task's response as the server sent it, as indented JSON."""
        from aireiter_tui.ui.screens.copy_text import task_json

        row = self.selected_row()
        if row is None:
            return
        name = _named(row.label, row.ref.id)
        if row.task is None or row.task.raw is None:
            self.notify(f"No answer from the server for {name} yet: no JSON.", markup=False)
            return
        text = task_json(row.task.raw)
        if text is None:
            self.notify(
                f"The response of {name} is nested too deeply to copy; "
                "aireiter-tui query --json ID prints it.",
                severity="warning",
                markup=False,
            )
            return
        self._copy("copy_json", text, f"The JSON of {name}", "Task JSON")

    def action_copy_url(self) -> None:
        """Copy the target's output URL (a chooser when it has several); for several
        targets, every output URL of each, a line each."""
        from aireiter_tui.ui.screens.output_chooser import OutputChooserScreen

        rows = self.targets()
        if len(rows) > 1:
            self._copy_urls_of(rows)
            return
        row = rows[0] if rows else None
        outputs = row.task.outputs if row and row.task else ()
        if not outputs:
            self.notify(_no_output_reason(row), markup=False)
        elif len(outputs) == 1:
            self._copy_url(outputs[0].url)
        else:
            chooser = OutputChooserScreen(outputs, purpose="copy")
            self.app.push_screen(chooser, lambda url: self._copy_url(url) if url else None)

    def _copy_url(self, url: str) -> None:
        if url_refusal(url) is not None:
            self.notify(
                "That output URL is not a plain http(s) link; not copied.",
                severity="warning",
                markup=False,
            )
            return
        shown_url = shorten_middle(visible(url), _TOAST_URL_WIDTH)
        self._copy("copy_url", url, f"The URL {shown_url}", "Output URL")

    def _copy_urls_of(self, rows: Sequence[Row]) -> None:
        urls: list[str] = []
        refused = bare = 0
        for row in rows:
            outputs = row.task.outputs if row.task else ()
            bare += not outputs
            for output in outputs:
                if url_refusal(output.url) is None:
                    urls.append(output.url)
                else:
                    refused += 1
        notes = [
            _counted(bare, "task has no output", "tasks have no output"),
            _counted(refused, "output is not an http(s) link", "outputs are not http(s) links"),
        ]
        left_out = "; ".join(note for note in notes if note)
        if not urls:
            self.notify(f"Nothing copied: {left_out}.", markup=False)
            return
        what = f"{len(urls)} output URLs of {len(rows) - bare} tasks"
        if left_out:
            what += f" (left out: {left_out})"
        self._copy("copy_url", "\n".join(urls), what, "Output URLs")

    # --- previews and downloads ----------------------------------------------------------
    def action_preview_next(self) -> None:
        self._step_preview(1)

    def action_preview_previous(self) -> None:
        self._step_preview(-1)

    def _step_preview(self, delta: int) -> None:
        if not self.details_visible or not self.query_one(DetailPane).step_preview(delta):
            self.notify("Nothing else to preview for this task.", markup=False, timeout=2)

    def action_toggle_previews(self) -> None:
        """Show or hide the previews; remembered in the config (not in --demo)."""
        pane = self.query_one(DetailPane)
        pane.previews = not pane.previews
        self.update_details()
        key = first_key("toggle_previews", self.backend.settings.keymap)
        said = "Previews on." if pane.previews else f"Previews off ({key} shows them again)."
        self.notify(said, markup=False, timeout=3)
        path = self.backend.theme_path
        if path is not None:
            self._remember_previews(path, pane.previews)

    @work(thread=True, exclusive=True, group="remember-previews", exit_on_error=False)
    def _remember_previews(self, path: Path, previews: bool) -> None:
        from aireiter_tui.domain.config import remember
        from aireiter_tui.domain.errors import ConfigError

        try:
            remember(path, {"previews": previews})
        except (OSError, ConfigError) as error:
            self.app.call_from_thread(
                self.notify, f"Could not remember it: {error}", severity="warning", markup=False
            )

    #: The download under way or last run (``w`` while one runs shows it again).
    _downloads: DownloadJob | None = None

    def action_download_outputs(self) -> None:
        """Download the outputs of the marked tasks, or of the selected one."""
        rows = self.targets()
        if len(rows) == 1 and not (rows[0].task and rows[0].task.outputs):
            self.notify(_no_output_reason(rows[0]), markup=False)
            return
        self._download(rows, f"None of the {len(rows)} marked tasks has an output yet.")

    def action_download_all_outputs(self) -> None:
        """Download the outputs of every completed task in view (asks first past 10)."""
        from aireiter_tui.ui.screens.confirm import ConfirmScreen
        from aireiter_tui.ui.screens.downloads import CONFIRM_OVER

        rows = self.monitor.session.rows
        done = [
            row
            for key in self.query_one(TaskTable).order
            if (row := rows.get(key)) is not None
            and row.task is not None
            and row.task.status is TaskStatus.COMPLETED
            and row.task.outputs
        ]
        if len(done) <= CONFIRM_OVER:
            self._download(done, "No completed task in view has an output.")
            return
        outputs = sum(len(row.task.outputs) for row in done if row.task)
        body = (
            f"Download the {outputs:,} outputs of the {len(done):,} completed tasks in view "
            f"into {self.backend.download_dir}?\n\nFiles already there are not fetched again."
        )
        question = ConfirmScreen("Download all", body, confirm_label="Download", danger=False)
        self.app.push_screen(question, lambda yes: self._download(done, "") if yes else None)

    def _download(self, rows: Sequence[Row], nothing: str) -> None:
        from aireiter_tui.ui.screens.downloads import DownloadsScreen, job_for

        running = self._downloads
        if running is not None and running.ended is None:
            self.notify("A download is under way: here it is.", markup=False, timeout=3)
            self.app.push_screen(DownloadsScreen(running))
            return
        job = job_for(rows, self.backend.download_dir)
        if job is None:
            self.notify(nothing or "Nothing to download.", markup=False)
            return
        self._downloads = job
        job.stop = self._run_downloads(job).cancel
        self.app.push_screen(DownloadsScreen(job))

    @work(exclusive=True, group="downloads", exit_on_error=False)
    async def _run_downloads(self, job: DownloadJob) -> None:
        from aireiter_tui.backend import MEGABYTE
        from aireiter_tui.domain.downloads import Downloader
        from aireiter_tui.domain.output_fetch import output_client

        limit = self.backend.settings.max_output_mb * MEGABYTE
        try:
            async with output_client() as client:
                job.finish(await Downloader(client, limit).run(job.items, job.on_progress))
        except asyncio.CancelledError:
            # c, or quitting: the .part files stay, and w resumes them with Range.
            job.interrupted()
            raise
        finally:
            self._downloads_ended(job)

    def _downloads_ended(self, job: DownloadJob) -> None:
        if self._shutting_down():
            return
        whole = job.count("failed") == 0 and job.ended == "finished"
        self.notify(
            job.summary(),
            title="Downloads",
            severity="information" if whole else "warning",
            markup=False,
        )
        self.query_one(DetailPane).outputs_changed()

    def action_open_local_output(self) -> None:
        """Open the selected task's downloaded output (the previewed one first) with the
        platform's opener."""
        from aireiter_tui.domain.download_names import plan, saved_path

        row = self.selected_row()
        outputs = row.task.outputs if row and row.task else ()
        if row is None or not outputs:
            self.notify(_no_output_reason(row), markup=False)
            return
        previewed = self.query_one(DetailPane).previewed
        items = plan([(row.ref.id, [output.url for output in outputs])], self.backend.download_dir)
        items.sort(key=lambda item: previewed is None or item.url != previewed.url)
        path = next((found for item in items if (found := saved_path(item))), None)
        if path is None:
            key = first_key("download", self.backend.settings.keymap)
            self.notify(f"Not downloaded yet: {key} downloads it.", markup=False)
            return
        self._open_file(path)

    @work(exclusive=False, group="open-file", exit_on_error=False)
    async def _open_file(self, path: Path) -> None:
        from aireiter_tui.ui.screens.downloads import open_with_system

        problem = await asyncio.to_thread(open_with_system, path)
        if problem is None:
            self.notify(f"Opened {path}.", markup=False)
        else:
            self.notify(
                f"Not opened: {problem}. The file is {path}.", severity="warning", markup=False
            )

    # --- view -----------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if self.focused is box:
            raise SkipAction()  # a "/" typed in the filter is part of its text
        box.add_class("-visible")
        # At once, not with focus() (after the keys already queued): the keys typed
        # right after "/" go to the box.
        self.set_focus(box)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.set_spec(text=event.value.strip())

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        box = self.query_one("#filter", Input)
        if not box.value:
            box.remove_class("-visible")
        self.query_one(TaskTable).focus()

    def action_clear_filter(self) -> None:
        if self.details_zoomed:
            self._set_zoom(False)  # Esc in the maximised pane: back to the table first
            return
        table = self.query_one(TaskTable)
        if isinstance(self.focused, DetailPane) and table.display:
            table.focus()  # Esc in the pane: back to the table first
            return
        if self.marks:
            self._clear_marks()  # the marks first; the next Esc clears the filters
            return
        if self._view_index:
            self._apply_view(0)  # a saved view's filters: Esc goes back to the All tab
            table.focus()
            return
        box = self.query_one("#filter", Input)
        box.value = ""
        box.remove_class("-visible")
        self.set_spec(text="", status=ViewSpec().status)
        table.focus()

    def action_cycle_status_filter(self) -> None:
        self.set_spec(status=self.spec.status.next())

    def action_cycle_sort(self) -> None:
        # Through the columns shown, in their order; a new column starts ascending, as a
        # click on its header does.
        shown = [SortKey(column.key) for column in self.query_one(TaskTable).columns]
        self.set_spec(sort=next_sort(self.spec.sort, shown), reverse=False)

    def action_reverse_sort(self) -> None:
        self.set_spec(reverse=not self.spec.reverse)

    def on_task_table_header_clicked(self, event: TaskTable.HeaderClicked) -> None:
        try:
            key = SortKey(event.column)
        except ValueError:
            return
        if key is self.spec.sort:
            self.set_spec(reverse=not self.spec.reverse)
        else:
            self.set_spec(sort=key, reverse=False)

    def on_task_table_selected(self, event: TaskTable.Selected) -> None:
        # Enter: show the pane and move into it (Esc or Tab go back to the table).
        if not self.details_visible:
            self.action_toggle_details()
        self.query_one(DetailPane).focus()

    def set_spec(self, **changes: object) -> None:
        """Change the filter or sort (keyword arguments as :class:`ViewSpec`'s fields)."""
        values = {
            "text": self.spec.text,
            "status": self.spec.status,
            "sort": self.spec.sort,
            "reverse": self.spec.reverse,
        }
        values.update(changes)
        spec = ViewSpec(**values)  # type: ignore[arg-type]
        if spec != self.spec:
            self.spec = spec
            self.rebuild_view()

    def action_toggle_details(self) -> None:
        if self.details_zoomed:
            # Hiding the maximised pane gives the whole body back to the table.
            self._set_zoom(False)
            self.details_visible = False
        else:
            self.details_visible = not self.details_visible
        self.update_details()

    def action_toggle_zoom(self) -> None:
        """Give the detail pane the whole body (a long error or outputs read at 80x24),
        or give the table back."""
        self._set_zoom(not self.details_zoomed)

    def _set_zoom(self, zoomed: bool) -> None:
        self.details_zoomed = zoomed
        self.query_one("#body").set_class(zoomed, "-zoom")
        if zoomed:
            self.details_visible = True
            self.update_details()
            self.query_one(DetailPane).focus()  # arrows and page keys scroll it at once
        else:
            self.query_one(TaskTable).focus()

    def action_hide_problems(self) -> None:
        """Hide the config and watchlist problems from the banner; the help screen keeps
        them, and problems found later show again."""
        if self._problems_hidden == len(self.problems):
            self.notify("The banner shows no problems to hide.", markup=False, timeout=3)
            return
        self._problems_hidden = len(self.problems)
        self.refresh_chrome()

    # --- refresh --------------------------------------------------------------------
    def action_refresh_selected(self) -> None:
        """Refresh the targets now (see :meth:`targets`)."""
        rows = self.targets()
        if not rows:
            return
        self.monitor.refresh([row.ref for row in rows])
        name = safe(rows[0].name, max_length=60).plain if len(rows) == 1 else f"{len(rows)} tasks"
        self.notify(f"Refreshing {name}…", markup=False, timeout=2)

    def action_refresh_all(self) -> None:
        self.monitor.refresh_all()
        count = len(self.monitor.session.rows)
        self.notify(f"Refreshing all {count} tasks…", markup=False, timeout=2)

    def action_toggle_pause(self) -> None:
        paused = not self.monitor.paused
        self.monitor.set_paused(paused)
        self.refresh_chrome()
        self.notify("Refresh paused." if paused else "Refresh resumed.", markup=False, timeout=2)

    def action_insight(self) -> None:
        """The insight screen: figures over every watched task."""
        from aireiter_tui.ui.screens.insight import InsightScreen

        entries = [row.entry for row in self.monitor.session.rows.values()]
        self.app.push_screen(InsightScreen(entries, self.wall_clock))

    # --- export and commands on rows ------------------------------------------------
    def action_export(self) -> None:
        """Export the view (its rows in order, its columns) to a file the user names."""
        from pathlib import Path

        from aireiter_tui.export import ExportFormat, default_name
        from aireiter_tui.ui.screens.export import ExportScreen

        table = self.query_one(TaskTable)
        folder = self.backend.download_dir
        folder = folder if folder.is_dir() else Path.cwd()
        default = folder / default_name(ExportFormat.CSV, self.wall_clock())
        screen = ExportScreen(default, table.row_count, len(table.columns), self.spec.describe())
        self.app.push_screen(screen, self._export_chosen)

    def _export_chosen(self, request: ExportRequest | None) -> None:
        from aireiter_tui.ui.screens.export import export_view

        if request is None:
            return
        table = self.query_one(TaskTable)
        now, figures = self.wall_clock(), self.insight.figures

        def eta(key: str) -> float | None:
            estimate = figures.estimate(key, now)
            return estimate.seconds if estimate is not None else None

        columns = [column.key for column in table.columns]
        rows, order = self.monitor.session.rows, list(table.order)
        job = export_view(self, request, rows, order, columns, now=now, eta=eta)
        self.run_worker(job, group="export", exit_on_error=False)

    def action_run_command(self, name: str) -> None:
        """Run the ``[commands.NAME]`` of the config for the marked rows, or the cursor's."""
        from aireiter_tui.ui.screens.command_output import run_for_rows

        command = self.backend.settings.commands.get(name)
        if command is not None:
            run_for_rows(self, command, self.targets(), lambda row: _named(row.label, row.ref.id))

    # --- columns and saved views ----------------------------------------------------
    def _view_columns(self) -> tuple[ColumnChoice, ...] | None:
        """The columns shown now: the active view's own, else those of every view."""
        tabs = self.query_one(ViewTabs)
        own = tabs.views[self._view_index - 1].columns if self._view_index else None
        return own if own is not None else self.columns

    def show_columns(self, choices: tuple[ColumnChoice, ...] | None) -> None:
        """Show these columns; a sort by a column no longer shown goes back to the added
        order (its arrow would be nowhere)."""
        arranged = arrange(COLUMNS, choices)
        self._picked = [index for index, _ in arranged]
        self.query_one(TaskTable).set_columns([column for _, column in arranged])
        shown = {column.key for _, column in arranged}
        if self.spec.sort is not SortKey.ADDED and self.spec.sort.value not in shown:
            self.set_spec(sort=SortKey.ADDED, reverse=False)

    def action_columns(self) -> None:
        """The column dialog: every change shows at once and is remembered on closing,
        for the active view when it has columns of its own, else for every view."""
        from aireiter_tui.ui.screens.columns import ColumnsScreen

        tabs = self.query_one(ViewTabs)
        index = self._view_index
        own = index and tabs.views[index - 1].columns is not None
        before = self._view_columns()

        def changed(choices: tuple[ColumnChoice, ...]) -> None:
            if own:
                tabs.replace_view(index, replace(tabs.views[index - 1], columns=choices))
            else:
                self.columns = choices
            if self._view_index == index:
                self.show_columns(choices)

        def closed(choices: tuple[ColumnChoice, ...] | None) -> None:
            if choices is None or choices == before:
                return
            if own:
                self._remember({"views": [view.to_toml() for view in tabs.views]})
            else:
                self._remember({"columns": [choice.spelled() for choice in choices]})

        scope = None
        if own:
            scope = f"the view “{tabs.views[index - 1].name}”"
        elif any(view.columns is not None for view in tabs.views):
            scope = "every tab without columns of its own"
        elif tabs.views:
            scope = "every tab"
        remembered = self.backend.theme_path is not None
        screen = ColumnsScreen(COLUMNS, before, changed, scope=scope, remembered=remembered)
        self.app.push_screen(screen, closed)

    def _apply_view(self, index: int) -> None:
        """Show the tab at ``index`` (0: All): its filters, sort and columns."""
        tabs = self.query_one(ViewTabs)
        self._view_index = index
        tabs.select(index)
        view = tabs.views[index - 1] if index else View("")
        box = self.query_one("#filter", Input)
        with box.prevent(Input.Changed):
            box.value = view.text
        box.set_class(bool(view.text), "-visible")
        self.show_columns(self._view_columns())
        self.set_spec(text=view.text, status=view.status, sort=view.sort, reverse=view.reverse)

    def on_tabs_tab_activated(self, event: ViewTabs.TabActivated) -> None:
        # A click on a tab (keys apply their view at once: this finds it applied).
        tabs = self.query_one(ViewTabs)
        index = tabs.index_of(event.tab)
        if index != self._view_index:
            self._apply_view(index)

    def action_show_view(self, number: int) -> None:
        """Show tab ``number`` (1: All, then the saved views in order)."""
        views = self.query_one(ViewTabs).views
        if number - 1 > len(views):
            key = first_key("save_view", self.backend.settings.keymap)
            have = f"{len(views)} saved views" if views else "no saved view"
            self.notify(
                f"No tab {number}: there are {have} ({key} saves the filters and sort as one).",
                markup=False,
                timeout=4,
            )
            return
        self._apply_view(number - 1)

    def action_cycle_view(self, step: int) -> None:
        """Show the next (1) or previous (-1) tab, round the ends."""
        tabs = len(self.query_one(ViewTabs).views) + 1
        if tabs == 1:
            self.action_show_view(2)  # says there is none, and how to save one
            return
        self._apply_view((self._view_index + step) % tabs)

    def action_save_view(self) -> None:
        """Ask a name, then save the filters, the sort and (when they differ from every
        view's) the columns as a new tab; remembered in the config (not in --demo)."""
        from aireiter_tui.ui.screens.save_view import SaveViewScreen

        tabs = self.query_one(ViewTabs)
        taken = [view.name for view in tabs.views]
        self.app.push_screen(SaveViewScreen(self.spec, taken), self._view_named)

    async def _view_named(self, name: str | None) -> None:
        if not name:
            return
        tabs = self.query_one(ViewTabs)
        current = self._view_columns()
        columns = current if current != self.columns else None
        view = View.of(name, self.spec, columns)
        await tabs.add_view(view, self.monitor.session.rows)
        self._view_index = len(tabs.views)
        self.refresh_chrome()
        self._remember({"views": [saved.to_toml() for saved in tabs.views]})
        key = len(tabs.views) + 1
        shown = safe(view.name, max_length=40).plain
        demo = self.backend.theme_path is None
        where = " for this run (the demo writes no config)" if demo else ""
        hint = f" {key} shows it." if key <= 9 else ""
        self.notify(f"Saved the view “{shown}”{where}.{hint}", markup=False, timeout=5)

    def _remember(self, values: dict[str, object]) -> None:
        """Write these top-level keys into the config, off the loop (never in --demo)."""
        path = self.backend.theme_path
        if path is not None:
            self._remember_in(path, values)

    @work(thread=True, exclusive=False, group="remember-views", exit_on_error=False)
    def _remember_in(self, path: Path, values: dict[str, object]) -> None:
        from aireiter_tui.domain.config import remember
        from aireiter_tui.domain.errors import ConfigError

        try:
            with _CONFIG_LOCK:
                remember(path, values)
        except (OSError, ConfigError) as error:
            self.app.call_from_thread(
                self.notify, f"Could not remember it: {error}", severity="warning", markup=False
            )

    # --- help -----------------------------------------------------------------------
    def action_help(self) -> None:
        from aireiter_tui.ui.screens.help import HelpRow, HelpScreen

        keymap = self.backend.settings.keymap
        rows = [HelpRow(keys_of(a, keymap), a.description, a.group) for a in ACTIONS]
        rows += [
            HelpRow("↑ ↓ / j k", "Move the cursor", "Table"),
            HelpRow("PgUp PgDn Home End", "Move by pages, to the ends", "Table"),
            HelpRow("Enter", "Show the detail pane and move into it (Esc comes back)", "Table"),
            HelpRow("Tab", "Move between the table and the detail pane", "Table"),
            HelpRow("↑ ↓ PgUp PgDn", "In the detail pane: scroll it", "Table"),
            HelpRow("ctrl+p", "Command palette (every action, themes)", "App"),
        ]
        bound, _ = command_keys(self.backend.settings.commands, keymap)
        for command in self.backend.settings.commands.values():
            keys = [display_keys(key) for key, each in bound.items() if each is command]
            rows.append(HelpRow(" / ".join(keys) or "ctrl+p", command.title, "Your commands"))
        self.app.push_screen(HelpScreen(rows, problems=self.problems))
