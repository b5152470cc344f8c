"""Submitting from the dashboard, over real sockets: retry a failed task (t), duplicate one
with edits (e), start a new one (n, from a template too); the dialog refuses what it
must not send, sends once however often it is pressed, and the new task is watched,
polled, linked to the task it retries and shown with its estimated credits."""

from __future__ import annotations

import json
from pathlib import Path

from harness import (
    SIZE,
    AppFactory,
    StepClock,
    assert_terminal_safe,
    pane_text,
    record_notes,
    seed_watchlist,
    settings_for,
    step,
    table,
    table_lines,
    wait_for,
)
from screen_fixtures import HOSTILE
from textual.pilot import Pilot
from textual.widgets import Button, Input, Select, Static, TextArea

from aireiter_tui.domain.drafts import Template
from aireiter_tui.domain.models import IdKind, TaskRef, TaskStatus
from aireiter_tui.simulator import Fault, Simulator
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.screens.submit import OTHER_MODEL, SubmitMode, SubmitScreen
from aireiter_tui.ui.widgets.cells import credits_cell

LIGHTHOUSE = {"prompt": "a lighthouse", "resolution": "4K"}


def dialog(app: AIReiterApp) -> SubmitScreen:
    screen = app.screen
    assert isinstance(screen, SubmitScreen), screen
    return screen


def dialog_text(app: AIReiterApp) -> str:
    return "\n".join(str(static.render()) for static in dialog(app).query(Static))


def problem(app: AIReiterApp) -> str:
    widget = dialog(app).query_one("#problem", Static)
    return str(widget.render()) if widget.has_class("-shown") else ""


def submits(sim: Simulator) -> int:
    return sum(sim.submits_by_out_task_id.values())


async def open_dialog(pilot: Pilot[None], app: AIReiterApp, key: str) -> SubmitScreen:
    await wait_for(pilot, lambda: app.backend.client is not None, "the client")
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, SubmitScreen), f"{key} opens the dialog")
    await pilot.pause()
    return dialog(app)


async def closed(pilot: Pilot[None], app: AIReiterApp) -> None:
    await wait_for(pilot, lambda: not isinstance(app.screen, SubmitScreen), "the dialog to close")


async def fetched(pilot: Pilot[None], app: AIReiterApp, clock: StepClock, ref: TaskRef) -> None:
    """Poll until ``ref``'s row holds an answer."""

    def answered() -> bool:
        row = app.monitor.session.rows.get(ref.key)
        return row is not None and row.task is not None

    for _ in range(20):
        if answered():
            return
        await step(pilot, app, clock, 1)
    raise AssertionError(f"{ref.id} was never polled")


def failed_lighthouse(sim: Simulator, tmp_path: Path) -> TaskRef:
    sim.submit("seedream_v4", dict(LIGHTHOUSE), "shot-7")
    sim.force_status("shot-7", "failed")
    ref = TaskRef(IdKind.OUT_TASK_ID, "shot-7")
    seed_watchlist(tmp_path / "watchlist.toml", [ref], "lighthouse")
    return ref


async def test_retry_confirms_then_watches_polls_and_links_the_new_task(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory, clock: StepClock
) -> None:
    old = failed_lighthouse(sim, tmp_path)
    app = app_factory(settings_for(sim))
    async with app.run_test(size=(120, 40)) as pilot:
        notes = record_notes(app)
        await fetched(pilot, app, clock, old)
        await open_dialog(pilot, app, "t")
        shown = dialog_text(app)
        assert dialog(app).mode is SubmitMode.RETRY
        assert "seedream_v4" in shown and '"prompt": "a lighthouse"' in shown
        assert "shot-7-r1" in shown and "lighthouse" in shown
        assert submits(sim) == 0  # nothing sent before the confirmation
        await pilot.press("enter")  # the Retry button has the focus
        await closed(pilot, app)
        assert sim.submits_by_out_task_id["shot-7-r1"] == 1
        new_rows = [row for row in app.monitor.session.rows.values() if row.ref != old]
        assert len(new_rows) == 1
        new = new_rows[0]
        assert new.label == "lighthouse" and new.entry.retry_of == old
        assert new.entry.estimated_credits is not None
        assert any("Submitted seedream_v4" in note.message for note in notes)
        await fetched(pilot, app, clock, new.ref)
        assert new.task is not None and new.task.input is not None
        assert (new.task.model, new.task.input.params) == ("seedream_v4", LIGHTHOUSE)
        # The cursor is on the new task: its pane links the original, and back.
        assert table(app).cursor_key == new.ref.key
        await wait_for(pilot, lambda: "Retry of" in pane_text(app), "the link back")
        assert "shot-7" in pane_text(app)
        table(app).move_to_key(old.key)
        await wait_for(pilot, lambda: "Retried as" in pane_text(app), "the link forward")
        assert new.ref.id[:12] in pane_text(app)


async def test_only_a_failed_task_is_retried(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory, clock: StepClock
) -> None:
    sim.submit("gpt_4o", {"prompt": "fine"}, "fine-1")
    ref = TaskRef(IdKind.OUT_TASK_ID, "fine-1")
    seed_watchlist(tmp_path / "watchlist.toml", [ref])
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notes(app)
        await fetched(pilot, app, clock, ref)
        await pilot.press("t")
        await wait_for(pilot, lambda: bool(notes), "a toast")
        assert "not failed" in notes[-1].message
        assert not isinstance(app.screen, SubmitScreen) and submits(sim) == 0


async def test_duplicate_sends_the_edited_params_and_shows_the_estimate(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory, clock: StepClock
) -> None:
    old = failed_lighthouse(sim, tmp_path)
    app = app_factory(settings_for(sim))
    async with app.run_test(size=(120, 40)) as pilot:
        await fetched(pilot, app, clock, old)
        screen = await open_dialog(pilot, app, "e")
        assert screen.mode is SubmitMode.DUPLICATE
        editor = screen.query_one("#params", TextArea)
        assert json.loads(editor.text) == LIGHTHOUSE
        assert screen.query_one("#model", Select).value == "seedream_v4"
        editor.load_text(editor.text.replace("4K", "2K"))
        out_task_id = screen.query_one("#out-task-id", Input)
        out_task_id.value = "shot-7-2k"
        await pilot.press("ctrl+s")
        await closed(pilot, app)
        assert sim.submits_by_out_task_id["shot-7-2k"] == 1
        new = next(row for row in app.monitor.session.rows.values() if row.ref != old)
        assert new.entry.retry_of is None  # a copy, not a retry
        await fetched(pilot, app, clock, new.ref)
        assert new.task is not None and new.task.input is not None
        assert new.task.input.params == {"prompt": "a lighthouse", "resolution": "2K"}
        estimate = new.entry.estimated_credits
        assert estimate is not None and new.task.status is not TaskStatus.COMPLETED
        # Nothing charged yet: the Credits cell shows the estimate, the pane both.
        await pilot.pause()
        assert any(f"≈{estimate:,.0f} " in line for line in table_lines(app))
        shown = f"Credits       0 (estimated {estimate:,.0f})"
        await wait_for(pilot, lambda: shown in pane_text(app), "the estimate in the pane")


async def test_a_new_task_from_a_template(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory, clock: StepClock
) -> None:
    fox = Template("fox", "gpt_4o", {"prompt": "a red fox", "output_n": 2})
    app = app_factory(settings_for(sim, templates={"fox": fox}))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_dialog(pilot, app, "n")
        assert screen.mode is SubmitMode.NEW
        screen.query_one("#template", Select).value = "fox"
        await wait_for(pilot, lambda: "a red fox" in screen.query_one(TextArea).text, "filled")
        assert screen.query_one("#model", Select).value == "gpt_4o"
        screen.query_one("#label", Input).value = "foxes"
        await pilot.press("ctrl+s")
        await closed(pilot, app)
        assert submits(sim) == 1
        (new,) = app.monitor.session.rows.values()
        assert new.label == "foxes"
        await fetched(pilot, app, clock, new.ref)
        assert new.task is not None and new.task.input is not None
        assert new.task.model == "gpt_4o"
        assert new.task.input.params == {"prompt": "a red fox", "output_n": 2}


async def test_bad_json_and_a_missing_prompt_are_refused_in_the_dialog(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dialog(pilot, app, "n")
        editor = screen.query_one("#params", TextArea)
        editor.load_text('{"prompt": "a fox",}')
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "not valid JSON" in problem(app), "the JSON refused")
        assert "line 1" in problem(app)
        editor.load_text('{"size": "1024x1024"}')
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: 'need a "prompt"' in problem(app), "no prompt refused")
        assert isinstance(app.screen, SubmitScreen)
        await pilot.press("escape")  # from the editor: the dialog closes, nothing sent
        await closed(pilot, app)
        assert submits(sim) == 0 and sim.task_count == 0 and not app.monitor.session.rows


async def test_the_service_refusal_stays_in_the_dialog_and_adds_nothing(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dialog(pilot, app, "n")
        screen.query_one("#params", TextArea).load_text('{"prompt": "a fox"}')
        screen.query_one("#model", Select).value = OTHER_MODEL
        await pilot.pause()
        screen.query_one("#model-other", Input).value = "dall_e_9"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "Unsupported model" in problem(app), "the refusal")
        assert problem(app).startswith("Not submitted:")
        assert not screen.busy and not screen.query_one("#submit", Button).disabled
        assert sim.task_count == 0 and not app.monitor.session.rows


async def test_pressing_submit_twice_makes_one_task(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    sim.latency_ms = 300  # the first request is still on the wire at the second press
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dialog(pilot, app, "n")
        screen.query_one("#params", TextArea).load_text('{"prompt": "a fox"}')
        await pilot.press("ctrl+s")
        button = screen.query_one("#submit", Button)
        assert screen.busy and button.disabled and "Submitting" in str(button.label)
        assert screen.query_one("#state", Static).display
        await pilot.press("ctrl+s")
        await pilot.click(button)
        await closed(pilot, app)
        assert submits(sim) == 1 and sim.task_count == 1
        assert len(app.monitor.session.rows) == 1


async def test_an_unclear_submit_is_said_so_and_watched_by_its_out_task_id(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notes(app)
        screen = await open_dialog(pilot, app, "n")
        screen.query_one("#params", TextArea).load_text('{"prompt": "a fox"}')
        screen.query_one("#out-task-id", Input).value = "proxy-1"
        sim.set_fault(Fault.HTTP_502, task_id="proxy-1", times=1)  # the service never saw it
        await pilot.press("ctrl+s")
        await closed(pilot, app)
        assert TaskRef(IdKind.OUT_TASK_ID, "proxy-1").key in app.monitor.session.rows
        assert any(note.title == "Unknown whether it was accepted" for note in notes)
        assert any("Unknown whether proxy-1 was accepted" in note.message for note in notes)


async def test_a_lost_answer_is_settled_by_asking_and_makes_one_task(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory, clock: StepClock
) -> None:
    old = failed_lighthouse(sim, tmp_path)
    app = app_factory(settings_for(sim))
    async with app.run_test(size=(120, 40)) as pilot:
        notes = record_notes(app)
        await fetched(pilot, app, clock, old)
        await open_dialog(pilot, app, "t")
        # The service makes the task, then the connection drops before the answer.
        sim.set_fault(Fault.LOST_ANSWER, task_id="shot-7-r1", times=1)
        await pilot.press("enter")
        await closed(pilot, app)
        assert sim.submits_by_out_task_id["shot-7-r1"] == 1 and sim.task_count == 2
        assert any("its answer was lost, and the server confirmed it" in n.message for n in notes)
        new = next(row for row in app.monitor.session.rows.values() if row.ref != old)
        assert new.entry.retry_of == old and new.label == "lighthouse"


async def test_the_dialog_shows_hostile_params_as_text(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory, clock: StepClock
) -> None:
    hostile = {"prompt": f"{HOSTILE[0]} {HOSTILE[1]} {HOSTILE[2]} \u202eevil"}
    sim.submit("gpt_4o", hostile, "bad-1")
    sim.force_status("bad-1", "failed")
    ref = TaskRef(IdKind.OUT_TASK_ID, "bad-1")
    seed_watchlist(tmp_path / "watchlist.toml", [ref], "[b]bold[/b]\x1b[31m")
    app = app_factory(settings_for(sim))
    async with app.run_test(size=(120, 40)) as pilot:
        await fetched(pilot, app, clock, ref)
        await open_dialog(pilot, app, "t")
        assert "[@click=app.quit]" in dialog_text(app) and "[b]bold[/b]" in dialog_text(app)
        assert_terminal_safe(app)
        await pilot.press("escape")
        await closed(pilot, app)
        await open_dialog(pilot, app, "e")
        editor = dialog(app).query_one("#params", TextArea)
        # Escaped where the editor would draw them as something else; the JSON is the same.
        assert "\\u202e" in editor.text and json.loads(editor.text) == hostile
        assert_terminal_safe(app)


def test_the_credits_cell_shows_the_estimate_until_credits_are_used() -> None:
    assert credits_cell(None, 120.0).plain == "≈120"
    assert credits_cell(None, 120.0).style == "dim"
    assert credits_cell(0.0, 120.0, running=True).plain == "≈120"
    assert credits_cell(0.0, 120.0, running=False).plain == "0"  # finished: what it used
    assert credits_cell(100.0, 120.0, running=False).plain == "100"
    assert credits_cell(None).plain == ""
