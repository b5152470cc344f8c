"""Bulk actions on the marked rows (the cursor's row when none is marked), over real
sockets: remove with one question and one undo, undo again and again, refresh, label,
open (asking above five), copy IDs and URLs newline-joined, retry the failed ones."""

from __future__ import annotations

from pathlib import Path

from harness import (
    SIZE,
    AppFactory,
    StepClock,
    all_fetched,
    opened_urls,
    record_notes,
    seed_watchlist,
    settings_for,
    table,
    wait_for,
)
from textual.pilot import Pilot
from textual.widgets import Static

from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.simulator import Simulator
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.screens.confirm import ConfirmScreen
from aireiter_tui.ui.screens.label import LabelScreen

NAMES = ("order_alpha", "order_bravo", "order_charlie", "order_delta", "order_echo")


def seeded(tmp_path: Path) -> list[TaskRef]:
    refs = [TaskRef(IdKind.TASK_ID, name) for name in NAMES]
    seed_watchlist(tmp_path / "watchlist.toml", refs)
    return refs


def saved_ids(tmp_path: Path) -> set[str]:
    return {entry.ref.id for entry in WatchlistStore(tmp_path / "watchlist.toml").load()}


def question(app: AIReiterApp) -> str:
    assert isinstance(app.screen, ConfirmScreen), app.screen
    return str(app.screen.query_one("#message Static", Static).render())


async def answer(pilot: Pilot[None], app: AIReiterApp, key: str) -> None:
    await pilot.press(key)
    await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "the answer")


def finished_shots(sim: Simulator, tmp_path: Path, count: int, status: str) -> list[TaskRef]:
    """``count`` tasks in ``status`` with one output each when completed, watched by
    out_task_id (shot-0, shot-1...)."""
    refs = []
    for number in range(count):
        sim.submit("seedream_v4", {"prompt": f"shot {number}", "output_n": 1}, f"shot-{number}")
        sim.force_status(f"shot-{number}", status)
        refs.append(TaskRef(IdKind.OUT_TASK_ID, f"shot-{number}"))
    seed_watchlist(tmp_path / "watchlist.toml", refs)
    return refs


async def test_bulk_remove_asks_once_and_one_undo_brings_all_back(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    refs = seeded(tmp_path)
    app = app_factory(settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notes(app)
        table(app).move_to_key(refs[1].key)
        await pilot.press("space", "space", "space")  # bravo, charlie, delta
        await pilot.press("d")
        asked = question(app)
        assert "3 tasks" in asked
        assert all(name in asked for name in ("order_bravo", "order_charlie", "order_delta"))
        await answer(pilot, app, "y")
        assert list(table(app).order) == [refs[0].key, refs[4].key]
        assert notes[-1].message == "Removed 3 tasks (u brings them back)."
        assert not app.main_screen.marks  # the marks left with their tasks
        await app.monitor.save(force=True)
        assert saved_ids(tmp_path) == {"order_alpha", "order_echo"}

        await pilot.press("u")
        assert set(table(app).order) == {ref.key for ref in refs}
        assert "order_bravo" in notes[-1].message and "2 more" in notes[-1].message
        await app.monitor.save(force=True)
        assert saved_ids(tmp_path) == set(NAMES)
    assert saved_ids(tmp_path) == set(NAMES)


async def test_a_bulk_remove_leaves_marked_tasks_the_filter_hides_and_says_so(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    refs = seeded(tmp_path)
    app = app_factory(settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("A")
        app.main_screen.set_spec(text="l")  # alpha, charlie, delta
        await pilot.press("d")
        asked = question(app)
        assert "3 tasks" in asked and "2 marked tasks hidden by the filter stay" in asked
        await answer(pilot, app, "y")
        app.main_screen.set_spec(text="")
        assert list(table(app).order) == [refs[1].key, refs[4].key]
        assert app.main_screen.marks.in_order(table(app).order) == [refs[1].key, refs[4].key]


async def test_two_undos_bring_back_two_removals_then_nothing(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    refs = seeded(tmp_path)
    app = app_factory(settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notes(app)
        await pilot.press("d")  # the cursor's row: alpha
        assert "order_alpha" in question(app)
        await answer(pilot, app, "y")
        assert "u brings it back" in notes[-1].message
        table(app).move_to_key(refs[3].key)
        await pilot.press("space", "space", "d")  # delta, echo
        await answer(pilot, app, "y")
        assert list(table(app).order) == [ref.key for ref in refs[1:3]]

        await pilot.press("u")
        assert set(table(app).order) == {ref.key for ref in refs[1:]}
        await pilot.press("u")
        assert set(table(app).order) == {ref.key for ref in refs}
        assert table(app).cursor_key == refs[0].key  # on what came back
        await pilot.press("u")
        assert notes[-1].message == "Nothing to bring back."
    assert saved_ids(tmp_path) == set(NAMES)


async def test_bulk_open_asks_above_five_outputs(
    tmp_path: Path, sim: Simulator, browser_log: Path, app_factory: AppFactory
) -> None:
    refs = finished_shots(sim, tmp_path, 6, "completed")
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
        urls = {}
        for ref in refs:
            task = app.monitor.session.rows[ref.key].task
            assert task is not None and len(task.outputs) == 1
            urls[ref] = task.outputs[0].url
        await pilot.press("A", "o")
        assert "6 outputs of 6 tasks" in question(app)
        await answer(pilot, app, "n")
        await pilot.press("o")
        await answer(pilot, app, "y")
        await wait_for(pilot, lambda: len(opened_urls(browser_log)) == 6, "six opened")
        assert sorted(opened_urls(browser_log)) == sorted(urls.values())

        browser_log.write_text("")
        await pilot.press("space")  # the cursor's row unmarked: five are left
        await pilot.press("o")
        assert not isinstance(app.screen, ConfirmScreen)
        await wait_for(pilot, lambda: len(opened_urls(browser_log)) == 5, "five opened")
        assert urls[refs[0]] not in opened_urls(browser_log)


async def test_bulk_copy_joins_ids_and_urls_with_newlines(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    refs = finished_shots(sim, tmp_path, 4, "completed")
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
        notes = record_notes(app)
        table(app).move_to_key(refs[1].key)
        await pilot.press("shift+down", "shift+down")  # shot-1, shot-2, shot-3
        await pilot.press("y")
        assert app.clipboard == "shot-1\nshot-2\nshot-3"
        assert notes[-1].message.startswith("3 task IDs sent")
        await pilot.press("Y")
        rows = app.monitor.session.rows
        urls = [rows[ref.key].task.outputs[0].url for ref in refs[1:]]  # type: ignore[union-attr]
        assert app.clipboard == "\n".join(urls)
        assert notes[-1].message.startswith("3 output URLs of 3 tasks sent")


async def test_bulk_refresh_and_label(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory, clock: StepClock
) -> None:
    refs = finished_shots(sim, tmp_path, 4, "completed")
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
        notes = record_notes(app)
        before = dict(sim.requests_by_task)
        await pilot.press("space", "space")  # shot-0, shot-1
        await pilot.press("r")
        assert notes[-1].message == "Refreshing 2 tasks…"

        def asked_again(ref: TaskRef) -> bool:
            return sim.requests_by_task[ref.id] > before[ref.id]

        await wait_for(pilot, lambda: asked_again(refs[0]) and asked_again(refs[1]), "refreshed")
        assert not asked_again(refs[2]) and not asked_again(refs[3])

        await pilot.press("l")
        assert isinstance(app.screen, LabelScreen)
        await pilot.press(*"batch", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, LabelScreen), "label saved")
        labels = [app.monitor.session.rows[ref.key].label for ref in refs]
        assert labels == ["batch", "batch", None, None]
        assert notes[-1].message == "Label of 2 tasks set to “batch”."


async def test_bulk_retry_retries_the_failed_and_says_how_many_are_skipped(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    refs = finished_shots(sim, tmp_path, 3, "failed")
    sim.force_status("shot-1", "completed")
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
        await wait_for(pilot, lambda: app.backend.client is not None, "the client")
        notes = record_notes(app)
        await pilot.press("A", "t")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        asked = question(app)
        assert "Retry 2 failed tasks" in asked and "1 not failed" in asked
        assert sum(sim.submits_by_out_task_id.values()) == 0  # nothing sent before yes
        await answer(pilot, app, "y")
        await wait_for(pilot, lambda: len(app.monitor.session.rows) == 5, "two new tasks")
        assert sim.submits_by_out_task_id["shot-0-r1"] == 1
        assert sim.submits_by_out_task_id["shot-2-r1"] == 1
        assert "shot-1-r1" not in sim.submits_by_out_task_id
        links = {row.entry.retry_of for row in app.monitor.session.rows.values()}
        assert {refs[0], refs[2]} <= links
        await wait_for(pilot, lambda: "Retried 2 tasks" in notes[-1].message, "the toast")
        assert "Skipped: 1 not failed." in notes[-1].message
