"""The insight figures in the dashboard: the stuck mark, filter and toast; the budget
toast; the insight screen's key."""

from __future__ import annotations

import re
from datetime import timedelta

from harness import T0, AppFactory, pane_text, record_notes, table_lines

from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.poller import PollOutcome
from aireiter_tui.domain.view import StatusFilter
from aireiter_tui.ui.app import AIReiterApp


def _answer(app: AIReiterApp, ident: str, status: str, age: float, credits: float = 0) -> None:
    ref = TaskRef(IdKind.TASK_ID, ident)
    app.monitor.add([ref])
    task = parse_task(
        {
            "task_id": ident,
            "status": status,
            "created_at": (T0 - timedelta(seconds=age)).isoformat(),
            "credits_used": credits,
            "input": {"model": "m1", "params": {}},
        }
    )
    app.monitor.record(PollOutcome(ref, task, None))


async def test_a_stuck_task_is_marked_filtered_and_announced_once(
    app_factory: AppFactory,
) -> None:
    app = app_factory(Settings(stuck_after={"m1": 60}), live=False, frozen_at=T0)
    notes = record_notes(app)
    async with app.run_test(size=(120, 36)) as pilot:
        _answer(app, "hung-task", "processing", 120)
        _answer(app, "young-task", "processing", 10)
        app.main_screen.apply_changes()
        await pilot.pause()
        lines = table_lines(app)
        assert any("hung-task" in line and "⧖" in line for line in lines)
        assert not any("young-task" in line and "⧖" in line for line in lines)
        app.main_screen._tick()
        app.main_screen._tick()
        await pilot.pause()
        stuck = [note for note in notes if "unfinished for longer" in note.message]
        assert len(stuck) == 1 and "hung-task" in stuck[0].message
        app.main_screen.set_spec(status=StatusFilter.STUCK)
        await pilot.pause()
        assert app.main_screen.query_one("#table").row_count == 1  # type: ignore[attr-defined]


async def test_the_budget_warns_at_80_percent(app_factory: AppFactory) -> None:
    app = app_factory(Settings(budget_credits_per_day=100), live=False, frozen_at=T0)
    notes = record_notes(app)
    async with app.run_test(size=(120, 36)) as pilot:
        _answer(app, "cheap", "completed", 100, credits=50)
        app.main_screen.apply_changes()
        app.main_screen._tick()
        await pilot.pause()
        assert not [note for note in notes if "budget" in note.message]
        _answer(app, "dear", "completed", 100, credits=30)
        app.main_screen.apply_changes()
        app.main_screen._tick()
        await pilot.pause()
        said = [note.message for note in notes if "budget" in note.message]
        assert said == ["80 % of today's budget used (80 of 100 credits)."]


async def test_i_opens_the_insight_screen(app_factory: AppFactory) -> None:
    app = app_factory(Settings(), live=False, frozen_at=T0)
    async with app.run_test(size=(80, 24)) as pilot:
        _answer(app, "done", "completed", 100, credits=5)
        app.main_screen.apply_changes()
        await pilot.press("i")
        await pilot.pause()
        assert app.screen.id == "insight"
        await pilot.press("escape")
        assert app.screen.id == "main"


def _finished(app: AIReiterApp, ident: str, model: str, seconds: float) -> None:
    ref = TaskRef(IdKind.TASK_ID, ident)
    app.monitor.add([ref])
    created = T0 - timedelta(hours=1)
    task = parse_task(
        {
            "task_id": ident,
            "status": "completed",
            "created_at": created.isoformat(),
            "completed_at": (created + timedelta(seconds=seconds)).isoformat(),
            "input": {"model": model, "params": {}},
        }
    )
    app.monitor.record(PollOutcome(ref, task, None))


async def test_the_detail_pane_gives_the_eta_or_says_there_is_none(
    app_factory: AppFactory,
) -> None:
    app = app_factory(Settings(), live=False, frozen_at=T0)
    async with app.run_test(size=(120, 36)) as pilot:
        for number, seconds in enumerate((60, 70, 80, 90, 100)):
            _finished(app, f"done-{number}", "m1", seconds)
        _answer(app, "running", "processing", 10)  # model m1, 10 s old
        ref = TaskRef(IdKind.TASK_ID, "running")
        app.main_screen.apply_changes()
        await pilot.pause()
        assert app.main_screen.query_one("#table").move_to_key(ref.key)  # type: ignore[attr-defined]
        app.main_screen.update_details()
        await pilot.pause()
        # The median of 60..100 s is 80 s; 10 s have passed: 1m10s are left.
        assert re.search(r"ETA\s+≈1m10s left", pane_text(app))


async def test_a_desktop_notification_is_written_to_the_terminal_when_asked_for(
    app_factory: AppFactory,
) -> None:
    app = app_factory(Settings(notify="osc9"), live=False, frozen_at=T0)
    async with app.run_test(size=(120, 36)) as pilot:
        written: list[str] = []
        driver = app._driver
        assert driver is not None
        driver.write = written.append  # type: ignore[method-assign]
        _answer(app, "job", "processing", 10)
        app.main_screen.apply_changes()
        _answer(app, "job", "completed", 20)
        app.main_screen.apply_changes()
        app.main_screen._announce_pending()
        await pilot.pause()
        sequences = [text for text in written if text.startswith("\x1b]9;")]
        assert len(sequences) == 1 and "job" in sequences[0]


def test_the_help_legend_explains_the_stuck_symbol() -> None:
    from aireiter_tui.ui.screens.help import status_legend

    assert "⧖ stuck: running longer than 95 %" in status_legend().plain
