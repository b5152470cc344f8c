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
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Input, Static

from aireiter_tui.backend import Backend
from aireiter_tui.domain.insight import MIN_FINISHED, NO_ESTIMATE, InsightWatch, notification
from aireiter_tui.domain.models import TaskRef, TaskStatus
from aireiter_tui.domain.monitor import Monitor
from aireiter_tui.domain.sanitize import url_refusal, url_warning, visible
from aireiter_tui.domain.session import Row, Transition
from aireiter_tui.domain.view import SortKey, ViewSpec, compute_order
from aireiter_tui.ui.bindings import ACTIONS, app_bindings, first_key, keys_of
from aireiter_tui.ui.notices import EMPTY_STATE, UNREADABLE_STATE, banner_lines, finished_notices
from aireiter_tui.ui.widgets.cells import COLUMNS, natural_widths, refresh_note, row_cells
from aireiter_tui.ui.widgets.detail_pane import DetailPane
from aireiter_tui.ui.widgets.filter_box import FilterBox
from aireiter_tui.ui.widgets.footer import KeyFooter
from aireiter_tui.ui.widgets.formatting import format_duration, safe, shorten_middle
from aireiter_tui.ui.widgets.status_bar import StatusBar
from aireiter_tui.ui.widgets.task_table import TaskTable

# The dialogs (and webbrowser) are imported when first used: the first frame needs none
# of them, and their imports (TextArea, RadioSet, OptionList...) delay it by ~25 ms.
if TYPE_CHECKING:
    from aireiter_tui.domain.submitting import Submitter
    from aireiter_tui.ui.screens.add_tasks import AddTasksResult
    from aireiter_tui.ui.screens.submit import SubmitOutcome

#: From this many columns the detail pane sits beside the table, else below it.
WIDE_LAYOUT = 150
#: How often the monitor's changes are applied to the screen (coalescing bursts).
FLUSH_INTERVAL = 0.25
#: Finished tasks are announced at most this often (see notices.finished_notices).
ANNOUNCE_INTERVAL = 2.0
#: Seconds of reading the watchlist per frame after the first (about 5 ms per 1,000 tasks).
LOAD_SLICE = 0.03

_BROWSER_LOCK = threading.Lock()


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


def _named(label: str | None, ident: str, width: int = _TOAST_ID_WIDTH) -> str:
    """``hero (order_lwU2…CCmrdYu)``: the label alone is ambiguous when several tasks
    share it, so the ID is named too, cut in the middle so both of its ends show."""
    shown_id = shorten_middle(visible(ident), width)
    if not label:
        return shown_id
    return f"{safe(label, max_length=60).plain} ({shown_id})"


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

    # --- layout ---------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static(id="banner", markup=False)
        # The layout class the first resize would set, set now: adding it after mounting
        # restyles every widget in the body (~10 ms before the first frame).
        wide = "-wide" if self.app.size.width >= WIDE_LAYOUT else None
        with Container(id="body", classes=wide):
            with Container(id="list"):
                self._table = TaskTable(
                    COLUMNS,
                    self._cells,
                    natural=lambda: natural_widths(self.monitor.session.longest()),
                    id="table",
                )
                yield self._table
                yield Static(EMPTY_STATE, id="empty", markup=False)
            yield DetailPane(id="details")
        yield FilterBox(id="filter")
        yield KeyFooter()

    def on_mount(self) -> None:
        loader = self.monitor.loader
        # The first part of a long list is painted before the rest is read, a part a frame.
        loader.start()
        if not self.live:
            loader.finish()  # snapshot scenes: everything at once
        if loader.done:
            self._loaded()
        self.query_one(TaskTable).focus()
        self.apply_changes(rebuild=True)
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
    def _load_rest(self) -> None:
        """Read the rest of a long watchlist, a slice of time per frame; then connect."""
        loader = self.monitor.loader
        if not loader.done:
            if self._shutting_down():
                return
            deadline = time.perf_counter() + LOAD_SLICE
            while not loader.done and time.perf_counter() < deadline:
                loader.step()
            if loader.done:
                self._loaded()
            self.apply_changes(rebuild=True)
            if not loader.done:
                self.call_after_refresh(self._load_rest)
                return
        # After the frame: the client's imports hold the loop for ~0.15 s.
        self.call_after_refresh(self._on_loaded)

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
        self.insight.take(self.monitor.session.rows, changes.updated, full=full)
        if rebuild or changes.reordered:
            self.rebuild_view()
        elif changes.updated:
            self.repaint_rows(changes.updated)
        else:
            self.refresh_chrome()

    def repaint_rows(self, keys: Iterable[str]) -> None:
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
        return row_cells(row, self.wall_clock(), self.insight.figures)

    def rebuild_view(self) -> None:
        """Compute the visible order again and redraw everything around it."""
        self._retries = None  # rows came or went: the detail pane's links are read again
        session = self.monitor.session
        table = self.query_one(TaskTable)
        now, figures = self.wall_clock(), self.insight.figures
        order = compute_order(
            session.rows.items(), self.spec, now, stuck=lambda key: figures.stuck(key, now)
        )
        table.sorted_column = None if self.spec.sort is SortKey.ADDED else self.spec.sort.value
        table.sort_reverse = self.spec.reverse
        table.set_order(order)
        empty = self.query_one("#empty", Static)
        if not order:
            if session.rows:
                empty.update(f"No task matches {self.spec.describe()}.\nPress Escape to clear it.")
            else:
                empty.update(UNREADABLE_STATE if session.save_blocked else EMPTY_STATE)
        table.display = bool(order)
        empty.display = not order
        self.refresh_chrome()

    def refresh_chrome(self) -> None:
        """Status bar, banner and detail pane (cheap; runs every second and per flush)."""
        if self._shutting_down():
            return
        monitor, backend = self.monitor, self.backend
        state = monitor.state()
        mode: str = state.mode
        if backend.client is None:
            if not self.connect_done:
                mode = "connecting"
            elif backend.settings.api_key is None and backend.simulator is None:
                mode = "no-key"
            else:
                mode = "not-connected"
        counts = monitor.session.counts()
        poller = monitor.poller
        summary = self.insight.summary(
            self.wall_clock(), poller.tally if poller else None, monitor.monotonic()
        )
        self.query_one(StatusBar).show(
            where=backend.where, counts=counts, state=state, mode=mode, summary=summary
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
            retried_as = self._retries.get(row.ref, [])
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

    #: The watched retries of each task, for the detail pane's links: built on demand
    #: after a rebuild of the view (rows added or removed), not on every flush.
    _retries: dict[TaskRef, list[TaskRef]] | None = None

    def _retry_index(self) -> dict[TaskRef, list[TaskRef]]:
        index: dict[TaskRef, list[TaskRef]] = {}
        for row in self.monitor.session.rows.values():
            if row.entry.retry_of is not None:
                index.setdefault(row.entry.retry_of, []).append(row.ref)
        return index

    def selected_row(self) -> Row | None:
        key = self.query_one(TaskTable).cursor_key
        return self.monitor.session.rows.get(key) if key is not None else None

    def on_task_table_cursor_moved(self, event: TaskTable.CursorMoved) -> None:
        self.update_details()

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
        row = self.selected_row()
        if row is None:
            return
        from aireiter_tui.ui.screens.confirm import ConfirmScreen

        # The ID as well as the label, whole if it fits the dialog's line (56 cells):
        # several tasks may share one label.
        body = Text("Stop watching this task?\n")
        if row.label:
            body.append_text(safe(row.label, max_length=80, style="bold"))
            body.append("\n")
        body.append(f"{row.ref.kind.value} ")
        body.append(shorten_middle(visible(row.ref.id), 56 - len(row.ref.kind.value) - 1))
        body.append("\n\nThe task itself is not cancelled. Press u to undo.")
        self.app.push_screen(
            ConfirmScreen("Remove task", body), self._remove_confirmed(row.ref.key)
        )

    def _remove_confirmed(self, key: str) -> Callable[[bool | None], None]:
        def done(confirmed: bool | None) -> None:
            if not confirmed:
                return
            removed = self.monitor.remove([key])
            self.apply_changes()
            if removed:
                name = _named(removed[0].label, removed[0].ref.id)
                self.notify(f"Removed {name}. u undoes.", markup=False)

        return done

    def action_undo_remove(self) -> None:
        rows = self.monitor.undo_remove()
        if not rows:
            self.notify("Nothing to undo.", markup=False)
            return
        self.apply_changes()
        self.query_one(TaskTable).move_to_key(rows[0].ref.key)
        name = _named(rows[0].label, rows[0].ref.id)
        more = f" and {len(rows) - 1} more" if len(rows) > 1 else ""
        self.notify(f"Watching {name}{more} again.", markup=False)

    def action_edit_label(self) -> None:
        from aireiter_tui.ui.screens.label import LabelScreen

        row = self.selected_row()
        if row is None:
            return
        key = row.ref.key

        ident = row.ref.id

        def done(label: str | None) -> None:
            if label is not None and self.monitor.relabel(key, label or None):
                self.apply_changes()
                shown_id = _named(None, ident)
                if label:
                    said = f"Label of {shown_id} set to “{safe(label, max_length=60).plain}”."
                else:
                    said = f"Label of {shown_id} removed."
                self.notify(said, markup=False)

        self.app.push_screen(LabelScreen(row.label, row.ref.id), done)

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
        """Retry the selected failed task: confirm the model, params and cost first."""
        row = self.selected_row()
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

    @work(exclusive=True, group="submit-dialog", exit_on_error=False)
    async def _open_retry(self, row: Row, guard: Submitter) -> None:
        from aireiter_tui.domain.drafts import NotRetryable, ids_in_use, retry_draft
        from aireiter_tui.domain.submitting import REJECTED
        from aireiter_tui.domain.watchlist_codec import retries_of
        from aireiter_tui.ui.screens.submit import SubmitMode, SubmitScreen

        journal = guard.journal
        try:  # file locks: off the event loop
            records = await asyncio.to_thread(journal.records)
        except OSError as error:
            self.notify(f"Not retried: {journal.problem(error)}.", severity="error", markup=False)
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
        earlier = sorted(
            (r for r in records.values() if r.retry_of == row.ref and r.state != REJECTED),
            key=lambda record: record.at,
        )
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
        from aireiter_tui.ui.screens.output_chooser import OutputChooserScreen

        row = self.selected_row()
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
        row = self.selected_row()
        if row is not None:
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
        from aireiter_tui.ui.screens.output_chooser import OutputChooserScreen

        row = self.selected_row()
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

    # --- view -----------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-visible")
        box.focus()

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
        box = self.query_one("#filter", Input)
        box.value = ""
        box.remove_class("-visible")
        self.set_spec(text="", status=ViewSpec().status)
        table.focus()

    def action_cycle_status_filter(self) -> None:
        self.set_spec(status=self.spec.status.next())

    def action_cycle_sort(self) -> None:
        # A new column starts ascending, as a click on its header does.
        self.set_spec(sort=self.spec.sort.next(), reverse=False)

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
        row = self.selected_row()
        if row is None:
            return
        self.monitor.refresh([row.ref])
        self.notify(f"Refreshing {safe(row.name, max_length=60).plain}…", markup=False, timeout=2)

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
        self.app.push_screen(HelpScreen(rows, problems=self.problems))
