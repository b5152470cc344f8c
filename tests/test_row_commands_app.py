"""Commands on rows in the dashboard: a ``[commands.NAME]`` key runs the program for the
marked rows or the cursor's, hostile values arrive as single arguments, the output is
shown as data, failures are toasted, keys that are taken are refused in the banner."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

from harness import SIZE, T0, AppFactory, banner_text, record_notes, wait_for
from textual.widgets import Static

from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.poller import PollOutcome
from aireiter_tui.domain.row_commands import parse_commands
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.screens.add_tasks import AddTasksScreen
from aireiter_tui.ui.screens.command_output import CommandOutputScreen
from aireiter_tui.ui.screens.confirm import ConfirmScreen
from aireiter_tui.ui.screens.help import HelpScreen

HOSTILE_LABEL = 'x; rm -rf / $(touch pwned) "quoted" `touch pwned2` > out.txt'
HOSTILE_MODEL = "m'; touch pwned3; echo '"
#: Writes its arguments after the first, as JSON, to the file its first argument names
#: (appending a line per run, so several runs can be told apart).
ARGV_WRITER = (
    "import json, sys\n"
    "with open(sys.argv[1], 'a') as out:\n"
    "    out.write(json.dumps(sys.argv[2:]) + '\\n')\n"
)


def _answer(app: AIReiterApp, ident: str, label: str | None, model: str = HOSTILE_MODEL) -> None:
    ref = TaskRef(IdKind.TASK_ID, ident)
    app.monitor.add([ref], label)
    task = parse_task(
        {
            "task_id": ident,
            "status": "completed",
            "created_at": (T0 - timedelta(seconds=60)).isoformat(),
            "input": {"model": model, "params": {"prompt": "p"}},
            "output": [{"url": f"https://cdn.example/{ident}.png"}],
        }
    )
    app.monitor.record(PollOutcome(ref, task, None))


def _settings(commands: dict[str, object], **changes: object) -> Settings:
    return Settings(commands=parse_commands(commands, "config.toml"), **changes)  # type: ignore[arg-type]


def _writer(tmp_path: Path, **extra: object) -> tuple[dict[str, object], Path]:
    script = tmp_path / "argv.py"
    script.write_text(ARGV_WRITER)
    log = tmp_path / "argv.jsonl"
    table: dict[str, object] = {
        "key": "X",
        "description": "Record the arguments",
        "run": [sys.executable, str(script), str(log), "{label}", "--id={task_id}", "{model}"],
    }
    table.update(extra)
    return table, log


def _runs(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def _dialog_text(app: AIReiterApp) -> str:
    return "\n".join(str(widget.render()) for widget in app.screen.query(Static))


async def test_hostile_values_arrive_as_single_arguments(
    tmp_path: Path, app_factory: AppFactory
) -> None:
    table, log = _writer(tmp_path)
    app = app_factory(_settings({"record": table}), live=False, frozen_at=T0)
    async with app.run_test(size=SIZE) as pilot:
        _answer(app, "order_1", HOSTILE_LABEL)
        app.main_screen.apply_changes()
        await pilot.pause()
        before = set(tmp_path.iterdir())
        await pilot.press("X")
        await wait_for(pilot, lambda: len(_runs(log)) == 1, "the run")
        assert _runs(log) == [[HOSTILE_LABEL, "--id=order_1", HOSTILE_MODEL]]
        assert isinstance(app.screen, CommandOutputScreen)
        await wait_for(pilot, lambda: "exit 0" in _dialog_text(app), "the dialog's result")
        # The only file made is the log; nothing the label or model said was run.
        assert set(tmp_path.iterdir()) - before == {log}
        assert not any((Path.cwd() / name).exists() for name in ("pwned", "pwned2", "pwned3"))


async def test_it_runs_once_for_each_marked_row(tmp_path: Path, app_factory: AppFactory) -> None:
    table, log = _writer(tmp_path)
    app = app_factory(_settings({"record": table}), live=False, frozen_at=T0)
    async with app.run_test(size=SIZE) as pilot:
        for ident, label in (("order_1", "one"), ("order_2", "two"), ("order_3", "three")):
            _answer(app, ident, label, model="m")
        app.main_screen.apply_changes()
        await pilot.pause()
        await pilot.press("space", "down", "space")  # order_1 and order_3
        await pilot.press("X")
        await wait_for(pilot, lambda: len(_runs(log)) == 2, "two runs")
        assert sorted(_runs(log)) == [["one", "--id=order_1", "m"], ["three", "--id=order_3", "m"]]


async def test_output_is_shown_as_data(tmp_path: Path, app_factory: AppFactory) -> None:
    loud = "print('[bold]not bold[/bold] [@click=app.quit]x[/] \\x1b[31mred')"
    table = {"key": "X", "run": [sys.executable, "-c", loud]}
    app = app_factory(_settings({"loud": table}), live=False, frozen_at=T0)
    async with app.run_test(size=SIZE) as pilot:
        _answer(app, "order_1", None)
        app.main_screen.apply_changes()
        await pilot.pause()
        await pilot.press("X")
        await wait_for(pilot, lambda: "exit 0" in _dialog_text(app), "the result")
        output = app.screen.query(".run-output").first(Static)
        shown = str(output.render())
        assert "[bold]not bold[/bold] [@click=app.quit]x[/] ␛[31mred" in shown
        assert "\x1b" not in shown
        await pilot.press("escape")
        assert not isinstance(app.screen, CommandOutputScreen)


async def test_failures_are_toasted_naming_the_command_and_the_task(
    tmp_path: Path, app_factory: AppFactory
) -> None:
    commands = {
        "missing": {"key": "X", "run": [str(tmp_path / "no-such-program"), "{task_id}"]},
        "failing": {"key": "Z", "run": [sys.executable, "-c", "import sys; sys.exit(4)"]},
        "nourl": {"key": "ctrl+g", "run": ["echo", "{output_url}"]},
    }
    app = app_factory(_settings(commands), live=False, frozen_at=T0)
    notes = record_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        app.monitor.add([TaskRef(IdKind.TASK_ID, "order_new")], "fresh")
        _answer(app, "order_1", "hero")
        app.main_screen.apply_changes()
        await pilot.pause()
        await pilot.press("down", "X")
        await wait_for(pilot, lambda: any("missing failed" in n.message for n in notes), "toast")
        said = next(n.message for n in notes if "missing failed" in n.message)
        assert "hero (order_1)" in said and "no-such-program was not found" in said
        await pilot.press("escape", "Z")
        await wait_for(pilot, lambda: any("failing failed" in n.message for n in notes), "toast")
        assert any("exited with status 4" in n.message for n in notes)
        await pilot.press("escape", "up", "ctrl+g")
        await wait_for(pilot, lambda: any("nourl was not run" in n.message for n in notes), "2")
        said = next(n.message for n in notes if "nourl was not run" in n.message)
        assert "fresh (order_new)" in said and "it has no output URL yet" in said


async def test_confirm_asks_first_and_no_runs_nothing(
    tmp_path: Path, app_factory: AppFactory
) -> None:
    table, log = _writer(tmp_path, confirm=True)
    app = app_factory(_settings({"record": table}), live=False, frozen_at=T0)
    async with app.run_test(size=SIZE) as pilot:
        _answer(app, "order_1", "hero", model="m")
        app.main_screen.apply_changes()
        await pilot.pause()
        await pilot.press("X")
        assert isinstance(app.screen, ConfirmScreen)
        assert "--id=order_1" in _dialog_text(app)
        await pilot.press("n")
        await pilot.pause()
        assert _runs(log) == [] and not isinstance(app.screen, CommandOutputScreen)
        await pilot.press("X", "y")
        await wait_for(pilot, lambda: len(_runs(log)) == 1, "the run")


async def test_a_taken_key_is_refused_in_the_banner(
    tmp_path: Path, app_factory: AppFactory
) -> None:
    table, _ = _writer(tmp_path)
    commands = {
        "on_add": {**table, "key": "a"},
        "on_cursor": {**table, "key": "j"},
        "first": {**table, "key": "X"},
        "second": {**table, "key": "X"},
        "on_remapped": {**table, "key": "F"},  # refresh's key under [keys]
        "on_freed": {**table, "key": "r"},  # refresh's default, given up under [keys]
    }
    app = app_factory(_settings(commands, keymap={"refresh": "F"}), live=False, frozen_at=T0)
    async with app.run_test(size=SIZE) as pilot:
        _answer(app, "order_1", "hero", model="m")
        app.main_screen.apply_changes()
        await pilot.pause()
        assert '[commands.on_add] key = "a" is not bound: a is the key of Add (add)' in (
            banner_text(app)
        )
        # The banner shows the first few; the help screen lists them all.
        problems = "\n".join(app.problems)
        assert '[commands.on_cursor] key = "j" is not bound: j is one of the table' in problems
        assert '[commands.second] key = "X" is not bound: X is the key of [commands.first]' in (
            problems
        )
        assert '"F" is not bound: F is the key of Refresh (refresh)' in problems
        assert '"r" is not bound' not in problems
        await pilot.press("a")  # still the app's own key
        assert isinstance(app.screen, AddTasksScreen)
        await pilot.press("escape")
        # A refused command still runs from the palette.
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert titles.count("Record the arguments") == 6


async def test_help_and_palette_list_the_commands(tmp_path: Path, app_factory: AppFactory) -> None:
    table, _ = _writer(tmp_path, description="[b]Record[/b] the arguments")
    app = app_factory(_settings({"record": table}), live=False, frozen_at=T0)
    async with app.run_test(size=SIZE) as pilot:
        palette = {c.title: c.help for c in app.get_system_commands(app.screen)}
        assert r"\[b]Record\[/b] the arguments" in palette
        assert palette[r"\[b]Record\[/b] the arguments"].startswith("X · ")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = _dialog_text(app)
        assert "Your commands" in text and "[b]Record[/b] the arguments" in text
