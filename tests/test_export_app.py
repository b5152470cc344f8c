"""The export key (E): the view's rows in its order and its columns, written where the
dialog says, in the format it says; a file that exists is replaced only when asked."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

from harness import SIZE, T0, AppFactory, record_notes, wait_for
from textual.pilot import Pilot
from textual.widgets import Input, Static

from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.poller import PollOutcome
from aireiter_tui.domain.view import SortKey, StatusFilter
from aireiter_tui.export import ExportFormat, export_fields
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.screens.export import ExportScreen
from aireiter_tui.ui.widgets.task_table import TaskTable

FORMULA = '=HYPERLINK("http://evil.example","click")'


def _answer(app: AIReiterApp, ident: str, status: str, credits: float, label: str | None) -> None:
    ref = TaskRef(IdKind.TASK_ID, ident)
    app.monitor.add([ref], label)
    task = parse_task(
        {
            "task_id": ident,
            "status": status,
            "created_at": (T0 - timedelta(seconds=300)).isoformat(),
            "credits_used": credits,
            "input": {"model": "nano_banana", "params": {"prompt": f"+{ident} prompt"}},
        }
    )
    app.monitor.record(PollOutcome(ref, task, None))


def _seed(app: AIReiterApp) -> None:
    _answer(app, "order_a", "completed", 30, "fox")
    _answer(app, "order_b", "failed", 0, FORMULA)
    _answer(app, "order_c", "completed", 120, None)
    _answer(app, "order_d", "processing", 0, "boat")
    app.main_screen.apply_changes()


async def _export(pilot: Pilot[None], app: AIReiterApp, path: Path, *, all_fields: bool = False):
    await pilot.press("E")
    await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen), "the export dialog")
    app.screen.query_one("#path", Input).value = str(path)
    if all_fields:
        app.screen.query_one("#all-fields").value = True  # type: ignore[attr-defined]
    await pilot.pause()
    await pilot.press("enter")


async def test_the_filtered_view_is_exported_in_each_format(
    tmp_path: Path, app_factory: AppFactory
) -> None:
    app = app_factory(Settings(), live=False, frozen_at=T0)
    notes = record_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        _seed(app)
        app.main_screen.set_spec(status=StatusFilter.COMPLETED, sort=SortKey.CREDITS, reverse=True)
        await pilot.pause()
        table = app.main_screen.query_one(TaskTable)
        fields = export_fields([column.key for column in table.columns])
        for suffix in ("csv", "json", "jsonl"):
            target = tmp_path / f"view.{suffix}"
            await _export(pilot, app, target)
            await wait_for(pilot, target.exists, f"the {suffix} file")
            text = target.read_text()
            if suffix == "csv":
                parsed: list[dict[str, object]] = list(csv.DictReader(io.StringIO(text)))
            elif suffix == "json":
                parsed = json.loads(text)
            else:
                parsed = [json.loads(line) for line in text.splitlines()]
            # The view's rows in its order (credits, descending), its columns.
            assert [record["id"] for record in parsed] == ["order_c", "order_a"], suffix
            assert tuple(parsed[0]) == fields, suffix
            assert parsed[1]["label"] == "fox"
            credits = parsed[0]["credits"]
            assert credits == ("120" if suffix == "csv" else 120.0), suffix
            said = f"Exported 2 tasks ({ExportFormat(suffix).words}) to {target}."
            await wait_for(pilot, lambda said=said: said in [n.message for n in notes], said)


async def test_csv_from_the_app_neutralises_formulas_and_adds_every_field(
    tmp_path: Path, app_factory: AppFactory
) -> None:
    app = app_factory(Settings(), live=False, frozen_at=T0)
    async with app.run_test(size=SIZE) as pilot:
        _seed(app)
        await pilot.pause()
        target = tmp_path / "all.csv"
        await _export(pilot, app, target, all_fields=True)
        await wait_for(pilot, target.exists, "the file")
        parsed = list(csv.DictReader(io.StringIO(target.read_text())))
        by_id = {record["id"]: record for record in parsed}
        assert by_id["order_b"]["label"] == "'" + FORMULA
        assert by_id["order_a"]["prompt"] == "'+order_a prompt"
        assert json.loads(by_id["order_a"]["params"]) == {"prompt": "+order_a prompt"}
        assert [record["id"] for record in parsed] == ["order_a", "order_b", "order_c", "order_d"]


async def test_an_existing_file_is_replaced_on_the_second_enter_only(
    tmp_path: Path, app_factory: AppFactory
) -> None:
    app = app_factory(Settings(), live=False, frozen_at=T0)
    async with app.run_test(size=SIZE) as pilot:
        _seed(app)
        target = tmp_path / "kept.json"
        target.write_text("mine")
        await _export(pilot, app, target)
        assert isinstance(app.screen, ExportScreen)
        problem = str(app.screen.query_one("#problem", Static).render())
        assert "exists: Enter again replaces it" in problem
        assert target.read_text() == "mine"
        await pilot.press("enter")
        await wait_for(pilot, lambda: target.read_text() != "mine", "the file replaced")
        assert len(json.loads(target.read_text())) == 4


async def test_a_missing_folder_is_refused_in_the_dialog(
    tmp_path: Path, app_factory: AppFactory
) -> None:
    app = app_factory(Settings(), live=False, frozen_at=T0)
    async with app.run_test(size=SIZE) as pilot:
        _seed(app)
        await _export(pilot, app, tmp_path / "nowhere" / "x.csv")
        assert isinstance(app.screen, ExportScreen)
        problem = str(app.screen.query_one("#problem", Static).render())
        assert "does not exist" in problem
        await pilot.press("escape")
        assert not isinstance(app.screen, ExportScreen)
        assert not (tmp_path / "nowhere").exists()


async def test_the_format_follows_the_suffix_and_changes_it(
    tmp_path: Path, app_factory: AppFactory
) -> None:
    from textual.widgets import Select

    app = app_factory(Settings(), live=False, frozen_at=T0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("E")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen), "the dialog")
        box = app.screen.query_one("#path", Input)
        assert box.value.endswith(".csv") and "aireiter-export-20251218-100000" in box.value
        select = app.screen.query_one("#format", Select)
        box.value = str(tmp_path / "x.jsonl")
        await pilot.pause()
        assert select.value is ExportFormat.JSONL
        select.value = ExportFormat.JSON
        await pilot.pause()
        assert box.value == str(tmp_path / "x.json")
