"""Columns in the dashboard: from the config, from the column dialog (remembered across a
restart), every shown column in the sort key's cycle, and the sort arrow never cutting a
header."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import AppFactory, table, table_lines, wait_for

from aireiter_tui.domain.config import Settings, load_settings
from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.view import COLUMN_IDS, SortKey
from aireiter_tui.domain.views import ColumnChoice
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.screens.columns import ColumnsScreen
from aireiter_tui.ui.widgets.cells import COLUMNS

LABELS = {column.key: column.label for column in COLUMNS}


def _watch(app: AIReiterApp, count: int = 3) -> list[TaskRef]:
    refs = [TaskRef(IdKind.TASK_ID, f"order_dog_{n}") for n in range(count)]
    app.monitor.session.add(refs, "dogs")
    app.main_screen.apply_changes(rebuild=True)
    return refs


def _sort(app: AIReiterApp) -> SortKey:
    return app.main_screen.spec.sort


def _shown(app: AIReiterApp) -> list[tuple[str, int]]:
    return [(column.key, column.width) for column in table(app).columns]


async def test_columns_from_the_config_in_their_order_and_widths(app_factory: AppFactory) -> None:
    columns = (ColumnChoice("status"), ColumnChoice("task"), ColumnChoice("model", 30))
    app = app_factory(Settings(columns=columns), live=False)
    async with app.run_test(size=(120, 36)) as pilot:
        _watch(app)
        await pilot.pause()
        assert _shown(app) == [("status", 15), ("task", 24), ("model", 30)]
        header = table_lines(app)[0]
        assert header.index("Status") < header.index("Task") < header.index("Model")
        assert "Prompt" not in header and "Credits" not in header
        row = table_lines(app)[1]
        # The cells follow their columns: the status first, then the label and ID.
        assert row.lstrip().startswith("…") and "dogs · order_dog_0" in row


async def test_the_dialog_changes_columns_at_once_and_a_restart_keeps_them(
    tmp_path: Path, app_factory: AppFactory
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('theme = "nord"\n')
    app = app_factory(load_settings(config, env={}), live=False)
    async with app.run_test(size=(120, 36)) as pilot:
        _watch(app)
        await pilot.press("c")
        assert isinstance(app.screen, ColumnsScreen)
        await pilot.press("space")  # hides Task, the first line
        assert "task" not in dict(_shown(app))  # at once, with the dialog still open
        await pilot.press("down", "shift+up")  # Model moves above the hidden Task
        await pilot.press("plus", "plus")
        assert _shown(app)[0] == ("model", 16)
        await pilot.press("end", "space")  # ETA, the last line, hidden too
        await pilot.press("escape")
        assert not isinstance(app.screen, ColumnsScreen)
        await wait_for(pilot, lambda: "columns" in config.read_text(), "the columns remembered")
        first = _shown(app)
    settings = load_settings(config, env={})
    assert settings.theme == "nord"
    assert settings.columns is not None
    assert [choice.spelled() for choice in settings.columns] == [
        "model:16",
        "status",
        "prompt",
        "created",
        "time",
        "credits",
        "outputs",
        "checked",
    ]
    again = app_factory(settings, live=False)
    async with again.run_test(size=(120, 36)) as pilot:
        _watch(again)
        await pilot.pause()
        assert _shown(again) == first
        assert table_lines(again)[0].lstrip().startswith("Model")


async def test_reset_brings_every_column_back_and_the_last_one_stays(
    app_factory: AppFactory,
) -> None:
    app = app_factory(Settings(columns=(ColumnChoice("eta"),)), live=False)
    async with app.run_test(size=(120, 36)) as pilot:
        _watch(app)
        await pilot.press("c", "space")  # the only column shown: refused
        assert [key for key, _ in _shown(app)] == ["eta"]
        await pilot.press("r")
        assert [key for key, _ in _shown(app)] == list(COLUMN_IDS)


async def test_hiding_the_sorted_column_goes_back_to_the_added_order(
    app_factory: AppFactory,
) -> None:
    app = app_factory(Settings(), live=False)
    async with app.run_test(size=(120, 36)) as pilot:
        _watch(app)
        await pilot.press("s")
        assert _sort(app) is SortKey.NAME
        await pilot.press("c", "space", "escape")
        assert _sort(app) is SortKey.ADDED


async def test_s_cycles_through_the_shown_columns_prompt_included(
    app_factory: AppFactory,
) -> None:
    columns = tuple(ColumnChoice(ident) for ident in ("eta", "prompt", "status"))
    app = app_factory(Settings(columns=columns), live=False)
    async with app.run_test(size=(120, 36)) as pilot:
        _watch(app)
        seen = []
        for _ in range(4):
            await pilot.press("s")
            seen.append(app.main_screen.spec.sort)
        assert seen == [SortKey.ETA, SortKey.PROMPT, SortKey.STATUS, SortKey.ADDED]


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
async def test_the_sort_arrow_never_cuts_a_header(
    app_factory: AppFactory, size: tuple[int, int]
) -> None:
    app = app_factory(Settings(), live=False)
    async with app.run_test(size=size) as pilot:
        _watch(app)
        for ident in COLUMN_IDS:
            for reverse, arrow in ((False, "▲"), (True, "▼")):
                app.main_screen.set_spec(sort=SortKey(ident), reverse=reverse)
                await pilot.pause()
                header = table_lines(app)[0]
                assert f"{LABELS[ident]} {arrow}" in header, (ident, header)
