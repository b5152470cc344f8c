"""The App: its bindings and what each key does.

The wiring, refresh worker and rendering are in :mod:`aireiter_tui.ui.dashboard`; this
module is the user's side of it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import SystemCommand
from textual.binding import BindingType
from textual.screen import Screen
from textual.widgets import Input

from aireiter_tui.domain.config import ConfigError, save_theme
from aireiter_tui.domain.models import TaskStatus
from aireiter_tui.domain.sanitize import url_refusal
from aireiter_tui.domain.session import Row
from aireiter_tui.domain.view import SortKey, ViewSpec
from aireiter_tui.ui.bindings import ACTIONS, app_bindings, display_keys
from aireiter_tui.ui.dashboard import Dashboard
from aireiter_tui.ui.widgets.detail_pane import DetailPane
from aireiter_tui.ui.widgets.formatting import safe
from aireiter_tui.ui.widgets.task_table import TaskTable

# The dialogs (and webbrowser) are imported when first used: the first frame needs none
# of them, and their imports (TextArea, RadioSet, OptionList...) delay it by ~25 ms.
if TYPE_CHECKING:
    from aireiter_tui.ui.screens.add_tasks import AddTasksResult

_BROWSER_LOCK = threading.Lock()


def _no_output_reason(row: Row | None) -> str:
    if row is None:
        return "No task is selected."
    if row.task is not None and row.task.status is TaskStatus.FAILED:
        return "The selected task failed, so it has no output (its error is in the detail pane)."
    if row.task is not None and row.task.status is TaskStatus.COMPLETED:
        return "The selected task completed with no output URL."
    return "The selected task has no output yet."


def _open_browser(url: str) -> bool:
    # webbrowser registers the known browsers on first use without a lock: two first
    # opens at once could see an empty list and report that no browser exists.
    import webbrowser

    with _BROWSER_LOCK:
        return webbrowser.open(url, 2)


class AIReiterApp(Dashboard):
    """A live, keyboard-driven dashboard of AIReiter generation tasks."""

    CSS_PATH = "styles/app.tcss"
    TITLE = "aireiter-tui"
    BINDINGS: ClassVar[list[BindingType]] = list(app_bindings())

    # --- watchlist ------------------------------------------------------------------
    def action_add_tasks(self) -> None:
        from aireiter_tui.ui.screens.add_tasks import AddTasksScreen

        existing = [row.ref for row in self.session.rows.values()]
        self.push_screen(AddTasksScreen(existing), self._tasks_added)

    def _tasks_added(self, result: AddTasksResult | None) -> None:
        if not result or not result.refs:
            return
        added = self.session.add(result.refs, result.label)
        now = self.monotonic()
        for row in added:
            self.scheduler.track(row.ref, None, now)
        self.rebuild_view()
        if added:
            self.query_one(TaskTable).move_to_key(added[0].ref.key)
            self.notify(f"Watching {len(added)} more task(s).", markup=False)
        self.wake_refresh()

    def action_remove_task(self) -> None:
        row = self.selected_row()
        if row is None:
            return
        from aireiter_tui.ui.screens.confirm import ConfirmScreen

        body = Text("Stop watching ")
        body.append_text(safe(row.name, max_length=80, style="bold"))
        body.append("? The task itself is not cancelled. Press u to undo.")
        self.push_screen(ConfirmScreen("Remove task", body), self._remove_confirmed(row.ref.key))

    def _remove_confirmed(self, key: str) -> Callable[[bool | None], None]:
        def done(confirmed: bool | None) -> None:
            if not confirmed:
                return
            removed = self.session.remove([key])
            for row in removed:
                self.scheduler.forget(row.ref)
            self._last_removed = removed
            self.rebuild_view()
            if removed:
                self.notify(
                    f"Removed {safe(removed[0].name, max_length=60).plain}. u undoes.", markup=False
                )

        return done

    def action_undo_remove(self) -> None:
        rows, self._last_removed = self._last_removed, []
        if not rows:
            self.notify("Nothing to undo.", markup=False)
            return
        self.session.restore(rows)
        now = self.monotonic()
        for row in rows:
            self.scheduler.track(row.ref, row.task.status if row.task else None, now)
        self.rebuild_view()
        self.query_one(TaskTable).move_to_key(rows[0].ref.key)
        self.notify(f"Watching {safe(rows[0].name, max_length=60).plain} again.", markup=False)

    def action_edit_label(self) -> None:
        from aireiter_tui.ui.screens.label import LabelScreen

        row = self.selected_row()
        if row is None:
            return
        key = row.ref.key

        def done(label: str | None) -> None:
            if label is not None and self.session.set_label(key, label or None):
                self.apply_changes([key])

        self.push_screen(LabelScreen(row.label, row.ref.id), done)

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
            self.push_screen(OutputChooserScreen(outputs), self._chosen)

    def _chosen(self, url: str | None) -> None:
        if url:
            self.open_url_safely(url)

    def open_url_safely(self, url: str) -> bool:
        """Open ``url`` in the browser off the event loop, if it is plain http(s)."""
        reason = url_refusal(url)
        if reason is not None:
            self.notify(f"Not opened: {reason}.", severity="warning", markup=False)
            return False
        self._open_in_browser(url)
        return True

    @work(exclusive=False, group="browser", exit_on_error=False)
    async def _open_in_browser(self, url: str) -> None:
        # webbrowser.open can block for the browser's lifetime: never on the event loop.
        opened = await asyncio.to_thread(_open_browser, url)
        if not opened:
            self.notify(
                "No browser could be started; the URL is in the detail pane (Y copies it).",
                severity="warning",
                markup=False,
            )

    def action_copy_id(self) -> None:
        row = self.selected_row()
        if row is not None:
            self.copy_to_clipboard(row.ref.id)
            self.notify("Task ID copied.", markup=False)

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
            self.push_screen(chooser, lambda url: self._copy_url(url) if url else None)

    def _copy_url(self, url: str) -> None:
        if url_refusal(url) is not None:
            self.notify(
                "That output URL is not a plain http(s) link; not copied.",
                severity="warning",
                markup=False,
            )
            return
        self.copy_to_clipboard(url)
        self.notify("Output URL copied.", markup=False)

    # --- view -----------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-visible")
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._set_spec(text=event.value.strip())

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        box = self.query_one("#filter", Input)
        if not box.value:
            box.remove_class("-visible")
        self.query_one(TaskTable).focus()

    def action_clear_filter(self) -> None:
        table = self.query_one(TaskTable)
        if isinstance(self.focused, DetailPane) and table.display:
            table.focus()  # Esc in the pane: back to the table first
            return
        box = self.query_one("#filter", Input)
        box.value = ""
        box.remove_class("-visible")
        self._set_spec(text="", status=ViewSpec().status)
        table.focus()

    def action_cycle_status_filter(self) -> None:
        self._set_spec(status=self.spec.status.next())

    def action_cycle_sort(self) -> None:
        # A new column starts ascending, as a click on its header does.
        self._set_spec(sort=self.spec.sort.next(), reverse=False)

    def action_reverse_sort(self) -> None:
        self._set_spec(reverse=not self.spec.reverse)

    def on_task_table_header_clicked(self, event: TaskTable.HeaderClicked) -> None:
        try:
            key = SortKey(event.column)
        except ValueError:
            return
        if key is self.spec.sort:
            self._set_spec(reverse=not self.spec.reverse)
        else:
            self._set_spec(sort=key, reverse=False)

    def on_task_table_selected(self, event: TaskTable.Selected) -> None:
        # Enter: show the pane and move into it (Esc or Tab go back to the table).
        if not self.details_visible:
            self.action_toggle_details()
        self.query_one(DetailPane).focus()

    def _set_spec(self, **changes: object) -> None:
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
        self.details_visible = not self.details_visible
        self.update_details()

    # --- refresh --------------------------------------------------------------------
    def action_refresh_selected(self) -> None:
        row = self.selected_row()
        if row is None:
            return
        self.scheduler.request(row.ref, self.monotonic())
        self.wake_refresh()
        self.notify(f"Refreshing {safe(row.name, max_length=60).plain}…", markup=False, timeout=2)

    def action_refresh_all(self) -> None:
        self.scheduler.request_all(self.monotonic())
        self.wake_refresh()
        self.notify(f"Refreshing all {len(self.session.rows)} tasks…", markup=False, timeout=2)

    def action_toggle_pause(self) -> None:
        paused = not self.scheduler.paused
        self.scheduler.set_paused(paused)
        self.wake_refresh()
        self.refresh_chrome()
        self.notify("Refresh paused." if paused else "Refresh resumed.", markup=False, timeout=2)

    # --- help -----------------------------------------------------------------------
    def action_help(self) -> None:
        from aireiter_tui.ui.screens.help import HelpRow, HelpScreen

        keymap = self.backend.settings.keymap
        rows = [
            HelpRow(display_keys(keymap.get(a.id, a.keys)), a.description, a.group) for a in ACTIONS
        ]
        rows += [
            HelpRow("↑ ↓ / j k", "Move the cursor", "Table"),
            HelpRow("PgUp PgDn Home End", "Move by pages, to the ends", "Table"),
            HelpRow("Enter", "Show the detail pane and move into it (Esc comes back)", "Table"),
            HelpRow("Tab", "Move between the table and the detail pane", "Table"),
            HelpRow("↑ ↓ PgUp PgDn", "In the detail pane: scroll it", "Table"),
            HelpRow("ctrl+p", "Command palette (every action, themes)", "App"),
        ]
        self.push_screen(HelpScreen(rows))

    # --- the theme picked in the palette is remembered -------------------------------
    def watch_theme(self, theme: str) -> None:
        path = self.backend.config_path
        if path is not None and self.is_running and theme != self.backend.settings.theme:
            self._remember_theme(path, theme)

    @work(thread=True, exclusive=True, group="theme", exit_on_error=False)
    def _remember_theme(self, path: Path, theme: str) -> None:
        try:
            save_theme(path, theme)
        except (OSError, ConfigError) as error:
            self.call_from_thread(
                self.notify,
                f"Could not remember the theme: {error}",
                severity="warning",
                markup=False,
            )

    # --- command palette: every action ---------------------------------------------------
    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for action in ACTIONS:
            if action.id == "quit":
                continue
            yield SystemCommand(action.label, action.description, self._palette(action.action))

    def _palette(self, action: str) -> Callable[[], object]:
        return lambda: self.run_action(action)
