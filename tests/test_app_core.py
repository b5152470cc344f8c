"""The app core as a user meets it: answers that arrive while a dialog is open, a hung
query that delays nobody, an `aireiter-tui add` from another terminal, the reload key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from harness import (
    SIZE,
    StepClock,
    all_fetched,
    make_app,
    record_notes,
    refs_of,
    seed_watchlist,
    settings_for,
    shown_line,
    wait_for,
)

from aireiter_tui.domain import monitor as monitor_module
from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry
from aireiter_tui.simulator import Fault, Simulator
from aireiter_tui.ui.screens.add_tasks import AddTasksScreen
from aireiter_tui.ui.screens.confirm import ConfirmScreen
from aireiter_tui.ui.screens.help import HelpScreen
from aireiter_tui.ui.screens.label import LabelScreen
from aireiter_tui.ui.screens.output_chooser import OutputChooserScreen
from aireiter_tui.ui.widgets.status_bar import StatusBar
from aireiter_tui.ui.widgets.task_table import TaskTable


def saved_status(path: Path, ref: TaskRef) -> str | None:
    for entry in WatchlistStore(path).load():
        if entry.ref == ref and entry.task is not None:
            return entry.task.status_label
    return None


DIALOGS = {
    "question_mark": HelpScreen,
    "a": AddTasksScreen,
    "d": ConfirmScreen,
    "l": LabelScreen,
    "o": OutputChooserScreen,
}


@pytest.mark.parametrize("key", list(DIALOGS), ids=[d.__name__ for d in DIALOGS.values()])
async def test_answers_reach_the_rows_the_toasts_and_the_file_behind_a_dialog(
    tmp_path: Path, sim: Simulator, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind the help screen and every dialog the table, the status bar and toasts keep
    changing and answers are saved (all used to wait until the dialog closed)."""
    monkeypatch.setattr(monitor_module, "SAVE_INTERVAL", 0.2)
    sim.submit("nano_banana_pro", {"prompt": "two", "output_n": 2}, "pair", hide_task_id=True)
    sim.force_status("pair", "completed")
    pair = TaskRef(IdKind.OUT_TASK_ID, "pair")  # first row: the cursor's, two outputs
    (active,) = refs_of(sim.add_tasks(1, status_mix={"pending": 1.0}))
    path = tmp_path / "watchlist.toml"
    seed_watchlist(path, [pair, active])
    clock = StepClock()
    app = make_app(tmp_path, settings_for(sim), clock=clock)
    notes = record_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "both fetched")
        await wait_for(pilot, lambda: "pending" in shown_line(app, active.id), "pending shown")
        await pilot.press(key)
        await wait_for(pilot, lambda: isinstance(app.screen, DIALOGS[key]), "the dialog")
        sim.force_status(active.id, "completed")
        clock.advance(40.0)  # past even the slow interval (the task is days old)
        app.monitor.wake()
        await wait_for(pilot, lambda: "completed" in shown_line(app, active.id), "the row")
        bar = app.main_screen.query_one(StatusBar)
        await wait_for(pilot, lambda: "✔ 2 completed" in str(bar.render()), "the status bar")
        await wait_for(pilot, lambda: any(n.title == "Task completed" for n in notes), "a toast")
        await wait_for(pilot, lambda: saved_status(path, active) == "completed", "the file")
        assert isinstance(app.screen, DIALOGS[key])  # all of it with the dialog still open


async def test_a_hung_query_delays_no_other_task(tmp_path: Path, sim: Simulator) -> None:
    """One task whose server never answers (within a long timeout) holds one worker; a
    task due every 5 s is still asked every 5 s (rounds made it wait 15-18 s)."""
    hung, healthy = refs_of(sim.add_tasks(2, status_mix={"processing": 1.0}))
    sim.set_fault(Fault.HANG, task_id=hung.id, delay=3600)
    seed_watchlist(tmp_path / "watchlist.toml", [hung, healthy])
    clock = StepClock()
    # The simulator's tasks are days old: long runners, unless that takes longer.
    settings = settings_for(sim, request_timeout=600.0, concurrency=4, long_running_after=10.0**9)
    app = make_app(tmp_path, settings, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: sim.requests_by_task[healthy.id] == 1, "first answer")
        assert sim.requests_by_task[hung.id] == 1 and app.monitor.state().in_flight == 1
        for asked in range(2, 8):
            clock.advance(5.0 * 1.2)  # the interval with the most jitter
            app.monitor.wake()
            await wait_for(
                pilot, lambda n=asked: sim.requests_by_task[healthy.id] == n, f"ask {asked}"
            )
        assert sim.requests_by_task[hung.id] == 1  # still on its one worker


async def test_an_add_from_another_terminal_shows_without_a_save_of_ours(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`aireiter-tui add` while the dashboard runs and changes nothing: the new task
    shows within 2 s (it waited for the dashboard's next save, possibly forever)."""
    (first, added) = refs_of(sim.add_tasks(2, status_mix={"completed": 1.0}))
    path = tmp_path / "watchlist.toml"
    seed_watchlist(path, [first])
    monkeypatch.setattr(monitor_module, "SAVE_INTERVAL", 3600.0)  # no save of ours
    app = make_app(tmp_path, settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
        command = [sys.executable, "-m", "aireiter_tui", "--watchlist", str(path)]
        result = subprocess.run(
            [*command, "add", added.id, "--label", "from a script"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        # 40 turns of 50 ms: two seconds of the app's own time, however slow the machine.
        shown = app.main_screen.query_one(TaskTable)
        await wait_for(pilot, lambda: added.key in shown.order, "shown", turns=40)
        assert shown_line(app, "from a script").lstrip().startswith("from a s")
        assert app.monitor.session.rows[added.key].label == "from a script"


async def test_the_reload_key_takes_in_others_changes_at_once(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(monitor_module, "WATCH_INTERVAL", 3600.0)  # only the key notices
    refs = refs_of(sim.add_tasks(2, status_mix={"completed": 1.0}))
    path = tmp_path / "watchlist.toml"
    seed_watchlist(path, refs)
    app = make_app(tmp_path, settings_for(sim))
    notes = record_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
        other = WatchlistStore(path)
        kept, _ = other.load()
        other.save([kept], removed=[refs[1]])
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: refs[1].key not in app.monitor.session.rows, "reloaded")
        await wait_for(pilot, lambda: any("1 removed" in n.message for n in notes), "told")
        assert list(app.main_screen.query_one(TaskTable).order) == [refs[0].key]


async def test_every_run_of_failed_saves_says_not_saved_once(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk: the periodic save did not always say "Not saved". It must, once per
    run of failures, and again when a later save fails after one that worked."""
    from aireiter_tui.domain.watchlist import WatchlistError

    monkeypatch.setattr(monitor_module, "SAVE_INTERVAL", 0.05)
    refs = refs_of(sim.add_tasks(2, status_mix={"pending": 1.0}))
    seed_watchlist(tmp_path / "watchlist.toml", refs)
    app = make_app(tmp_path, settings_for(sim))
    notes = record_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
        store = app.monitor.session.store
        assert store is not None
        real_save, attempts, written = store.save, [], []

        def working(*args: Any, **kwargs: Any) -> list[WatchEntry]:
            entries = real_save(*args, **kwargs)
            written.append(1)
            return entries

        def full_disk(*args: object, **kwargs: object) -> list[WatchEntry]:
            attempts.append(1)
            raise WatchlistError("Could not save the watchlist (no space left on device).")

        def not_saved() -> int:
            return sum(n.title == "Not saved" for n in notes)

        for streak in (1, 2):
            monkeypatch.setattr(store, "save", full_disk)
            attempts.clear()
            app.monitor.relabel(refs[0].key, f"edit {streak}")
            await wait_for(pilot, lambda: len(attempts) >= 3, "three failed saves")
            await wait_for(pilot, lambda n=streak: not_saved() == n, f"toast {streak}")
            written.clear()
            monkeypatch.setattr(store, "save", working)
            await wait_for(pilot, lambda: bool(written), "a save that works")
        assert not_saved() == 2
        saved = {e.ref: e.label for e in WatchlistStore(tmp_path / "watchlist.toml").load()}
        assert saved[refs[0]] == "edit 2"  # nothing lost
