"""Every key binding of the dashboard, driven through ``run_test`` against the simulator.

The simulator listens on 127.0.0.1 and runs on a manual clock; the app's scheduler runs
on a step clock, so requests happen when a test makes a task due (or presses a key).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import (
    SIZE,
    AppFactory,
    all_fetched,
    opened_urls,
    record_notes,
    refs_of,
    seed_watchlist,
    settings_for,
    status_of,
    table,
    wait_for,
    watch_two_output_task,
)
from textual import events
from textual.widgets import Input, Static

from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.simulator import Simulator
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.screens.add_tasks import AddTasksScreen
from aireiter_tui.ui.screens.confirm import ConfirmScreen
from aireiter_tui.ui.screens.label import LabelScreen
from aireiter_tui.ui.screens.output_chooser import OutputChooserScreen

MIX_ACTIVE = {"pending": 1.0}
MIX_DONE = {"completed": 1.0}


def watched(tmp_path: Path, sim: Simulator, n: int, mix: dict[str, float]) -> list[TaskRef]:
    refs = refs_of(sim.add_tasks(n, status_mix=mix))
    seed_watchlist(tmp_path / "watchlist.toml", refs)
    return refs


# --- a: add ---------------------------------------------------------------------------


async def test_add_pasted_ids_with_one_invalid_then_out_task_ids_with_label(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    task_refs = refs_of(sim.add_tasks(3, status_mix=MIX_DONE))
    task_refs = [ref for ref in task_refs if ref.kind is IdKind.TASK_ID]
    out_id = "my-shot-001"
    sim.submit("nano_banana", {"prompt": "a fox"}, out_id, hide_task_id=True)
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        assert app.query_one("#empty", Static).display
        await pilot.press("a")
        assert isinstance(app.screen, AddTasksScreen)
        pasted = ", ".join(ref.id for ref in task_refs) + "\nbad\x07id"
        app.post_message(events.Paste(pasted))  # as a terminal delivers a paste
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: len(app.monitor.session.rows) == len(task_refs), "rows added")
        assert not isinstance(app.screen, AddTasksScreen)
        assert list(table(app).order) == [ref.key for ref in task_refs]
        assert not app.query_one("#empty", Static).display

        await pilot.press("a")
        screen = app.screen
        app.post_message(events.Paste(out_id))  # as a terminal delivers a paste
        await pilot.press("ctrl+t")
        screen.query_one("#label", Input).focus()
        await pilot.press(*"hero")
        await pilot.press("enter")
        out_ref = TaskRef(IdKind.OUT_TASK_ID, out_id)
        await wait_for(pilot, lambda: out_ref.key in app.monitor.session.rows, "out_task_id row")
        assert app.monitor.session.rows[out_ref.key].label == "hero"
        assert table(app).cursor_key == out_ref.key
        await wait_for(pilot, lambda: all_fetched(app), "every row fetched")
        assert status_of(app, out_ref) == "pending"
        assert {status_of(app, ref) for ref in task_refs} == {"completed"}
        assert sim.requests_by_task[out_id] >= 1
    saved = WatchlistStore(tmp_path / "watchlist.toml").load()
    assert [entry.ref for entry in saved] == [*task_refs, out_ref]
    assert saved[-1].label == "hero"
    assert all(entry.task is not None for entry in saved)


async def test_add_cancelled_adds_nothing(sim: Simulator, app_factory: AppFactory) -> None:
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        app.post_message(events.Paste("order_abc"))  # as a terminal delivers a paste
        await pilot.pause()
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, AddTasksScreen), "dialog closed")
        assert app.monitor.session.rows == {}
        assert app.query_one("#empty", Static).display


# --- d / u: remove and undo -------------------------------------------------------------


async def test_remove_asks_and_n_keeps_y_removes_u_undoes(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    refs = watched(tmp_path, sim, 3, MIX_DONE)
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        table(app).move_to_key(refs[1].key)
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "no")
        assert list(table(app).order) == [ref.key for ref in refs]

        await pilot.press("d")
        await pilot.press("y")
        await wait_for(pilot, lambda: table(app).row_count == 2, "row removed")
        assert refs[1].key not in app.monitor.session.rows
        assert table(app).cursor_key != refs[1].key

        await pilot.press("u")
        await wait_for(pilot, lambda: table(app).row_count == 3, "row back")
        assert table(app).cursor_key == refs[1].key
        notes = record_notes(app)
        await pilot.press("u")
        assert notes[-1].message == "Nothing to bring back."
    saved = WatchlistStore(tmp_path / "watchlist.toml").load()
    assert {entry.ref for entry in saved} == set(refs)


async def test_remove_with_delete_key_and_on_empty_table(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    refs = watched(tmp_path, sim, 1, MIX_DONE)
    app = app_factory(settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("delete")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not app.monitor.session.rows, "removed")
        assert app.query_one("#empty", Static).display
        await pilot.press("d")  # nothing selected: nothing to ask
        assert not isinstance(app.screen, ConfirmScreen)
    assert WatchlistStore(tmp_path / "watchlist.toml").load() == []
    assert refs


# --- l: label -----------------------------------------------------------------------------


async def test_label_set_then_cleared_and_persisted(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    refs = watched(tmp_path, sim, 2, MIX_DONE)
    app = app_factory(settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")
        assert isinstance(app.screen, LabelScreen)
        await pilot.press(*"night shot", "enter")
        await wait_for(
            pilot, lambda: app.monitor.session.rows[refs[0].key].label == "night shot", "label"
        )
        assert app.monitor.session.dirty
    saved = WatchlistStore(tmp_path / "watchlist.toml").load()
    assert saved[0].label == "night shot"

    app = app_factory(settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        assert app.monitor.session.rows[refs[0].key].label == "night shot"
        await pilot.press("l")
        await pilot.press("ctrl+u")  # Input: delete to the start of the line
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: app.monitor.session.rows[refs[0].key].label is None, "cleared"
        )
        await pilot.press("l", "x", "escape")  # Escape keeps the label as it was
        await wait_for(pilot, lambda: not isinstance(app.screen, LabelScreen), "closed")
        assert app.monitor.session.rows[refs[0].key].label is None
    assert WatchlistStore(tmp_path / "watchlist.toml").load()[0].label is None


# --- o / y / Y: outputs ---------------------------------------------------------------------


async def browsers_done(app: AIReiterApp) -> None:
    """Wait for any browser launch in flight (the refresh worker never completes)."""
    launches = [worker for worker in app.workers if worker.group == "browser"]
    if launches:  # an empty list would mean "every worker"
        await app.workers.wait_for_complete(launches)


async def test_open_single_output_in_the_browser(
    tmp_path: Path, sim: Simulator, browser_log: Path, app_factory: AppFactory
) -> None:
    sim.submit("gpt_4o", {"prompt": "a cat", "output_n": 1}, "single", hide_task_id=True)
    sim.force_status("single", "completed")
    ref = TaskRef(IdKind.OUT_TASK_ID, "single")
    seed_watchlist(tmp_path / "watchlist.toml", [ref])
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
        task = app.monitor.session.rows[ref.key].task
        assert task is not None and len(task.outputs) == 1
        await pilot.press("o")
        await wait_for(pilot, lambda: bool(opened_urls(browser_log)), "the browser to be started")
    assert opened_urls(browser_log) == [task.outputs[0].url]


@pytest.mark.parametrize("key", ["o", "Y"])
async def test_several_outputs_show_the_chooser_to_open_or_copy(
    tmp_path: Path, sim: Simulator, browser_log: Path, key: str, app_factory: AppFactory
) -> None:
    ref = watch_two_output_task(tmp_path, sim)
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
        task = app.monitor.session.rows[ref.key].task
        assert task is not None and len(task.outputs) == 2
        await pilot.press(key)
        assert isinstance(app.screen, OutputChooserScreen)
        await pilot.press("2")
        if key == "Y":
            second = task.outputs[1].url
            await wait_for(pilot, lambda: app.clipboard == second, "the second URL copied")
        else:
            await wait_for(pilot, lambda: bool(opened_urls(browser_log)), "the browser started")
    assert opened_urls(browser_log) == ([task.outputs[1].url] if key == "o" else [])


async def test_javascript_and_file_outputs_are_never_opened(
    sim: Simulator, browser_log: Path, app_factory: AppFactory
) -> None:
    ref = TaskRef(IdKind.TASK_ID, "order_local")
    app = app_factory(settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notes(app)
        app.monitor.session.add([ref])
        for url in ("javascript:alert(1)", "file:///etc/passwd"):
            raw = {"task_id": ref.id, "status": "completed", "output": [{"url": url}]}
            app.monitor.session.apply(ref, parse_task(raw), None)
            app.main_screen.rebuild_view()
            await pilot.press("o")
            assert notes[-1].severity == "warning", url
            assert notes[-1].message.startswith("Not opened"), url
            await pilot.press("Y")
            assert "not copied" in notes[-1].message
            assert app.clipboard == ""
        await browsers_done(app)
    assert opened_urls(browser_log) == []


async def test_hostile_task_chooser_refuses_dangerous_outputs(
    tmp_path: Path, sim: Simulator, browser_log: Path, app_factory: AppFactory
) -> None:
    (ref,) = watched(tmp_path, sim, 1, MIX_DONE)
    sim.set_fault("hostile", task_id=ref.id)
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "hostile task fetched")
        await pilot.press("o")
        assert isinstance(app.screen, OutputChooserScreen)
        await pilot.press("1", "2", "3")  # javascript:, file:, data:
        assert isinstance(app.screen, OutputChooserScreen)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, OutputChooserScreen), "closed")
        await browsers_done(app)
    assert opened_urls(browser_log) == []


async def test_copy_id_and_url(tmp_path: Path, sim: Simulator, app_factory: AppFactory) -> None:
    refs = watched(tmp_path, sim, 2, MIX_DONE)
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notes(app)
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
        table(app).move_to_key(refs[1].key)
        await pilot.press("y")
        assert app.clipboard == refs[1].id
        await pilot.press("Y")
        task = app.monitor.session.rows[refs[1].key].task
        assert task is not None
        assert app.clipboard == task.outputs[0].url
        said = [note.message.split(" sent to the terminal's clipboard.")[0] for note in notes]
        assert said[0] == f"The ID of {refs[1].id}" and said[1].startswith("The URL http")


async def test_open_and_copy_url_without_outputs_say_so(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    watched(tmp_path, sim, 1, MIX_ACTIVE)
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notes(app)
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
        await pilot.press("o", "Y")
        assert [note.message for note in notes] == ["The selected task has no output yet."] * 2
        assert app.clipboard == ""
