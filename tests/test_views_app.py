"""Saved views in the dashboard: tabs above the table with their counts, switched with
1..9 and < >, each setting the filters, sort and columns; V saves a new one."""

from __future__ import annotations

from pathlib import Path

from harness import (
    AppFactory,
    all_fetched,
    refs_of,
    seed_watchlist,
    settings_for,
    status_of,
    table,
    wait_for,
)
from textual.widgets import Input, Tab

from aireiter_tui.domain.config import load_settings
from aireiter_tui.domain.models import TaskRef
from aireiter_tui.domain.view import SortKey, StatusFilter, ViewSpec
from aireiter_tui.domain.views import ColumnChoice, View
from aireiter_tui.simulator import Simulator
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.screens.save_view import SaveViewScreen
from aireiter_tui.ui.widgets.view_tabs import ViewTabs

SIZE = (120, 36)
VIEWS = (
    View("Failed", status=StatusFilter.FAILED),
    View("Done", status=StatusFilter.COMPLETED, sort=SortKey.CREDITS, reverse=True),
    View(
        "Dogs",
        text="dog",
        columns=(ColumnChoice("task"), ColumnChoice("status"), ColumnChoice("model", 20)),
    ),
)


def _watch(tmp_path: Path, sim: Simulator) -> dict[str, list[TaskRef]]:
    """Two failed tasks, three completed, one processing; by status."""
    statuses = ["failed", "failed", "completed", "completed", "completed", "processing"]
    refs = refs_of(sim.add_tasks(len(statuses), status_mix={"pending": 1.0}))
    by_status: dict[str, list[TaskRef]] = {}
    for status, ref in zip(statuses, refs, strict=True):
        sim.force_status(ref.id, status)
        by_status.setdefault(status, []).append(ref)
    seed_watchlist(tmp_path / "watchlist.toml", refs)
    return by_status


def _tabs(app: AIReiterApp) -> list[str]:
    return [tab.label.plain for tab in app.main_screen.query_one(ViewTabs).query(Tab)]


def _active(app: AIReiterApp) -> str:
    tab = app.main_screen.query_one(ViewTabs).active_tab
    assert tab is not None
    return tab.label.plain


async def test_views_from_the_config_are_tabs_with_their_counts(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    by_status = _watch(tmp_path, sim)
    app = app_factory(settings_for(sim, views=VIEWS))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
        app.main_screen.apply_changes()
        await wait_for(pilot, lambda: _tabs(app)[1] == "Failed 2", "the counts")
        assert _tabs(app) == ["All 6", "Failed 2", "Done 3", "Dogs 0"]
        assert _active(app) == "All 6"
        # A label puts two tasks in Dogs; one more task completes: the counts follow.
        for ref in by_status["completed"][:2]:
            app.monitor.relabel(ref.key, "hot dog")
        running = by_status["processing"][0]
        sim.force_status(running.id, "completed")
        app.monitor.refresh([running])
        await wait_for(pilot, lambda: status_of(app, running) == "completed", "completed")
        app.main_screen.apply_changes()
        await wait_for(pilot, lambda: _tabs(app)[2] == "Done 4", "the new count")
        assert _tabs(app) == ["All 6", "Failed 2", "Done 4", "Dogs 2"]


async def test_number_keys_and_angle_brackets_switch_views(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    by_status = _watch(tmp_path, sim)
    app = app_factory(settings_for(sim, views=VIEWS))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
        screen = app.main_screen
        all_columns = [column.key for column in table(app).columns]
        await pilot.press("2")
        assert screen.spec == ViewSpec(status=StatusFilter.FAILED)
        assert set(table(app).order) == {ref.key for ref in by_status["failed"]}
        assert _active(app).startswith("Failed")
        await pilot.press("greater_than_sign")
        assert screen.spec == ViewSpec("", StatusFilter.COMPLETED, SortKey.CREDITS, True)
        assert table(app).sorted_column == "credits" and table(app).sort_reverse
        await pilot.press("greater_than_sign")  # Dogs: its text filter and its columns
        assert screen.spec.text == "dog"
        assert screen.query_one("#filter", Input).value == "dog"
        assert [(c.key, c.width) for c in table(app).columns] == [
            ("task", 24),
            ("status", 15),
            ("model", 20),
        ]
        await pilot.press("greater_than_sign")  # round the end: All, every column again
        assert screen.spec == ViewSpec()
        assert [column.key for column in table(app).columns] == all_columns
        assert _active(app).startswith("All")
        await pilot.press("less_than_sign")
        assert _active(app).startswith("Dogs")
        await pilot.press("1")
        assert screen.spec == ViewSpec() and _active(app).startswith("All")
        await pilot.press("3", "escape")  # Esc leaves a saved view for All
        assert screen.spec == ViewSpec() and _active(app).startswith("All")
        await pilot.press("9")  # no such tab: a toast says so, nothing changes
        assert screen.spec == ViewSpec()
        await pilot.click("#view-1")  # a click too; the table keeps the keyboard
        assert screen.spec == ViewSpec(status=StatusFilter.FAILED)
        assert app.focused is table(app)


async def test_v_saves_the_current_filter_and_sort_as_a_view_remembered(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    _watch(tmp_path, sim)
    config = tmp_path / "config.toml"
    config.write_text('[[views]]\nname = "Failed"\nstatus = "failed"\n')
    settings = settings_for(sim, views=load_settings(config, env={}).views)
    app = app_factory(settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
        await pilot.press("f", "f", "f", "f", "f")  # status: completed
        await pilot.press("s", "S")  # by Task, reversed
        spec = app.main_screen.spec
        assert spec.status is StatusFilter.COMPLETED
        await pilot.press("V")
        assert isinstance(app.screen, SaveViewScreen)
        await pilot.press(*"failed", "enter")  # taken (any case): refused, stays open
        assert isinstance(app.screen, SaveViewScreen)
        app.screen.query_one(Input).value = ""
        await pilot.press(*"Done", "enter")
        assert not isinstance(app.screen, SaveViewScreen)
        await wait_for(pilot, lambda: "Done" in config.read_text(), "the views remembered")
        assert _tabs(app) == ["All 6", "Failed 2", "Done 3"]
        assert _active(app) == "Done 3"
        assert app.main_screen.spec == spec
        await pilot.press("1", "3")
        assert app.main_screen.spec == spec
    assert load_settings(config, env={}).views == (
        View("Failed", status=StatusFilter.FAILED),
        View("Done", status=StatusFilter.COMPLETED, sort=SortKey.NAME, reverse=True),
    )


async def test_without_views_there_are_no_tabs_until_v_saves_the_first(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    from harness import record_notes

    _watch(tmp_path, sim)
    app = app_factory(settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notes(app)
        assert not app.main_screen.query_one(ViewTabs).display
        await pilot.press("2")
        assert notes and "V saves" in notes[-1].message
        await pilot.press("slash", *"order", "enter", "V", *"Orders", "enter")
        await wait_for(pilot, lambda: app.main_screen.query_one(ViewTabs).display, "the tabs")
        assert _tabs(app) == ["All 6", "Orders 6"]
        assert _active(app) == "Orders 6"
