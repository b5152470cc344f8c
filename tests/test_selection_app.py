"""Marking rows in the dashboard: space, shift+arrows, A, Esc; marks drawn with a glyph,
counted in the status bar, kept by task through filters, sorts and polls."""

from __future__ import annotations

from pathlib import Path

from harness import (
    SIZE,
    AppFactory,
    record_notes,
    row_line,
    seed_watchlist,
    settings_for,
    table,
    wait_for,
)
from textual.widgets import Input

from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.view import SortKey
from aireiter_tui.simulator import Simulator
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.widgets.status_bar import StatusBar
from aireiter_tui.ui.widgets.task_table import MARK_GLYPH

NAMES = ("order_alpha", "order_bravo", "order_charlie", "order_delta", "order_echo")


def seeded(tmp_path: Path, names: tuple[str, ...] = NAMES) -> list[TaskRef]:
    refs = [TaskRef(IdKind.TASK_ID, name) for name in names]
    seed_watchlist(tmp_path / "watchlist.toml", refs)
    return refs


def marked(app: AIReiterApp) -> set[str]:
    return {key.split(":", 1)[-1] for key in app.main_screen.marks}


def bar_text(app: AIReiterApp) -> str:
    return str(app.main_screen.query_one(StatusBar).render())


async def test_space_marks_and_moves_down_shift_extends_and_shrinks(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    refs = seeded(tmp_path)
    app = app_factory(settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        assert "marked" not in bar_text(app)
        assert not row_line(app, "order_alpha").startswith(MARK_GLYPH)
        await pilot.press("space")
        assert marked(app) == {"order_alpha"}
        assert table(app).cursor_key == refs[1].key  # on to the next row
        await pilot.press("space", "space")
        assert marked(app) == {"order_alpha", "order_bravo", "order_charlie"}
        assert table(app).cursor_key == refs[3].key
        await pilot.press("up", "space")  # space on a marked row unmarks it
        assert marked(app) == {"order_alpha", "order_bravo"}
        await pilot.pause()
        assert row_line(app, "order_alpha").startswith(MARK_GLYPH)
        assert not row_line(app, "order_charlie").startswith(MARK_GLYPH)
        assert "2 marked" in bar_text(app)

        # shift+down from delta marks delta and echo; shift+up back over them unmarks them.
        await pilot.press("escape")
        assert marked(app) == set()
        table(app).move_to_key(refs[2].key)
        await pilot.press("shift+down", "shift+down")
        assert marked(app) == {"order_charlie", "order_delta", "order_echo"}
        assert table(app).cursor_key == refs[4].key
        await pilot.press("shift+up")
        assert marked(app) == {"order_charlie", "order_delta"}
        await pilot.press("shift+up", "shift+up")  # past where the run began: upwards
        assert marked(app) == {"order_bravo", "order_charlie"}
        await pilot.pause()
        assert "2 marked" in bar_text(app)


async def test_a_marks_every_visible_row_again_unmarks_and_esc_clears_marks_first(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    seeded(tmp_path)
    app = app_factory(settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notes(app)
        app.main_screen.set_spec(text="l")  # alpha, charlie, delta
        await pilot.pause()
        await pilot.press("A")
        assert marked(app) == {"order_alpha", "order_charlie", "order_delta"}
        await pilot.press("A")
        assert marked(app) == set()
        await pilot.press("A")
        await pilot.press("escape")  # the marks go first, the filter stays
        assert marked(app) == set()
        assert app.main_screen.spec.text == "l"
        assert any("Unmarked 3 tasks" in note.message for note in notes)
        await pilot.press("escape")  # then the filter
        assert app.main_screen.spec.text == ""


async def test_marks_survive_filter_sort_and_polls_and_leave_with_their_task(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    refs = seeded(tmp_path)
    app = app_factory(settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main_screen
        for ref in (refs[0], refs[3], refs[4]):
            table(app).move_to_key(ref.key)
            await pilot.press("space")
        await pilot.press("slash", *"delta")
        await wait_for(pilot, lambda: table(app).row_count == 1, "filtered to one row")
        assert app.focused is screen.query_one("#filter", Input)
        await pilot.pause()
        # Only what the view shows is acted on; the status bar says how many are hidden.
        assert [row.ref for row in screen.targets()] == [refs[3]]
        assert "3 marked (2 hidden)" in bar_text(app)
        await pilot.press("enter")  # back to the table, the filter stays
        await pilot.press("escape")  # the marks first, hidden ones too; the filter stays
        assert marked(app) == set()
        assert screen.spec.text == "delta"
        for ref in (refs[0], refs[3], refs[4]):
            screen.marks.toggle(ref.key)
        screen.set_spec(text="")
        screen.set_spec(sort=SortKey.NAME, reverse=True)
        await pilot.pause()
        assert [row.ref for row in screen.targets()] == [refs[4], refs[3], refs[0]]
        screen.apply_changes(rebuild=True)  # as a poll's batch would
        assert marked(app) == {"order_alpha", "order_delta", "order_echo"}
        # A task removed (here, from another program's edit) takes its mark with it.
        app.monitor.session.forget([refs[3]])
        app.monitor._changes.reordered = True
        screen.apply_changes()
        await pilot.pause()
        assert marked(app) == {"order_alpha", "order_echo"}
        assert "2 marked" in bar_text(app)


async def test_targets_fall_back_to_the_cursor_row(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    refs = seeded(tmp_path)
    app = app_factory(settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        table(app).move_to_key(refs[2].key)
        await pilot.pause()
        assert [row.ref for row in app.main_screen.targets()] == [refs[2]]


async def test_targets_of_an_empty_table_are_none(sim: Simulator, app_factory: AppFactory) -> None:
    app = app_factory(settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "A", "shift+down")
        assert app.main_screen.targets() == []
        assert marked(app) == set()
