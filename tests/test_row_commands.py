"""Commands on rows (domain/row_commands.py): the ``[commands.NAME]`` tables, placeholders
expanded inside each argument and never split, and runs without a shell."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aireiter_tui.domain.config import load_settings
from aireiter_tui.domain.errors import ConfigError
from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.row_commands import (
    NotRunnable,
    RowCommand,
    expand,
    parse_commands,
    placeholder_values,
    run,
)
from aireiter_tui.domain.session import Row
from aireiter_tui.domain.watchlist_codec import WatchEntry

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
HOSTILE_LABEL = "x; rm -rf / $(touch pwned) \"quoted\" `touch pwned2` 'q' > out.txt"
#: A tiny program that writes the arguments it was given, as JSON, to the file named by
#: its first argument.
ARGV_WRITER = "import json, sys\nopen(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))\n"


def _row(
    label: str | None = HOSTILE_LABEL,
    *,
    model: str = "$(touch pwned3)",
    url: str | None = "https://cdn.example/a;b.png?x=$(id)",
) -> Row:
    data: dict[str, object] = {
        "task_id": "order_1",
        "out_task_id": "mine-1",
        "status": "completed",
        "input": {"model": model, "params": {"prompt": "p"}},
    }
    if url is not None:
        data["output"] = [{"url": url}]
    task = parse_task(data)
    return Row(WatchEntry(TaskRef(IdKind.TASK_ID, "order_1"), label, NOW, task))


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


# --- the config ------------------------------------------------------------------------------


def test_commands_are_read_from_the_config(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        '[commands.fetch]\nkey = "ctrl+d"\ndescription = "Fetch it"\n'
        'run = ["curl", "-fsSLO", "--", "{output_url}"]\nconfirm = true\ntimeout = 120\n'
        '[commands.note]\nrun = ["echo", "--id={task_id}", "{{literal}}"]\n',
    )
    commands = load_settings(path, env={}).commands
    assert commands["fetch"] == RowCommand(
        name="fetch",
        run=("curl", "-fsSLO", "--", "{output_url}"),
        key="ctrl+d",
        description="Fetch it",
        confirm=True,
        timeout=120.0,
    )
    assert commands["note"].key is None and commands["note"].confirm is False
    assert commands["note"].title == "note"


def test_a_shell_string_is_refused_with_a_sentence(tmp_path: Path) -> None:
    path = _config(tmp_path, '[commands.fetch]\nrun = "curl {output_url} | sh"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    message = str(caught.value)
    assert '"commands.fetch.run" is a string' in message
    assert "write it as a list of arguments" in message
    assert str(path) in message


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"run": []}, "must be a list of arguments"),
        ({"run": ["echo", 3]}, 'run[1]" must be a string'),
        ({"run": ["echo", "{prompt}"]}, "names {prompt}, which is no placeholder"),
        ({"run": ["echo", "{task_id"]}, 'has a lone "{"'),
        ({"run": ["{output_url}"]}, 'run[0]" must name the program itself'),
        ({"run": ["echo"], "shell": True}, 'unknown key "commands.c.shell"'),
        ({"run": ["echo"], "confirm": "yes"}, 'confirm" must be true or false'),
        ({"run": ["echo"], "timeout": 0}, "between 1 and 3600"),
        ({"run": ["echo"], "key": ""}, "must be a key"),
        ({"description": "no run"}, '"commands.c.run" is needed'),
    ],
)
def test_mistakes_are_refused_naming_the_key(table: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_commands({"c": table}, "config.toml")
    assert words in str(caught.value)


def test_a_name_must_be_a_plain_word() -> None:
    with pytest.raises(ConfigError, match="may hold only letters"):
        parse_commands({"a b')": {"run": ["echo"]}}, "config.toml")


# --- placeholders ----------------------------------------------------------------------------


def test_placeholders_are_replaced_inside_each_argument_and_never_split() -> None:
    command = RowCommand(
        "c",
        (
            "prog",
            "{label}",
            "--id={task_id}",
            "{out_task_id}",
            "{model}",
            "--url={output_url}",
            "{{task_id}}",
        ),
    )
    argv = expand(command, placeholder_values(_row()))
    assert argv == [
        "prog",
        HOSTILE_LABEL,
        "--id=order_1",
        "mine-1",
        "$(touch pwned3)",
        "--url=https://cdn.example/a;b.png?x=$(id)",
        "{task_id}",
    ]


def test_a_value_holding_a_placeholder_is_not_expanded_again() -> None:
    command = RowCommand("c", ("prog", "{label}", "{task_id}"))
    assert expand(command, placeholder_values(_row("{task_id}"))) == [
        "prog",
        "{task_id}",
        "order_1",
    ]


def test_a_value_that_would_read_as_an_option_is_refused() -> None:
    command = RowCommand("c", ("rm", "{label}"))
    with pytest.raises(NotRunnable, match="its label begins with '-', which rm would read"):
        expand(command, placeholder_values(_row("-rf")))
    # Inside an argument it cannot be an option.
    assert expand(RowCommand("c", ("echo", "x{label}")), placeholder_values(_row("-rf"))) == [
        "echo",
        "x-rf",
    ]


@pytest.mark.parametrize(
    ("row", "words"),
    [
        (_row(url=None), "it has no output URL yet"),
        (_row(url="file:///etc/passwd"), "its output URL is refused: only http and https"),
    ],
)
def test_an_output_url_must_be_there_and_plain_http(row: Row, words: str) -> None:
    with pytest.raises(NotRunnable, match=words):
        expand(RowCommand("c", ("open", "{output_url}")), placeholder_values(row))


def test_an_unfetched_task_has_its_own_id_and_no_model() -> None:
    row = Row(WatchEntry(TaskRef(IdKind.OUT_TASK_ID, "mine-2"), None, NOW))
    values = placeholder_values(row)
    assert values["out_task_id"] == "mine-2" and values["task_id"] is None
    assert values["label"] == ""
    with pytest.raises(NotRunnable, match="its model is not known yet"):
        expand(RowCommand("c", ("echo", "{model}")), values)


# --- running ---------------------------------------------------------------------------------


async def test_hostile_values_reach_the_program_as_single_arguments(tmp_path: Path) -> None:
    script = tmp_path / "argv.py"
    script.write_text(ARGV_WRITER)
    written = tmp_path / "argv.json"
    command = RowCommand(
        "c",
        (sys.executable, str(script), str(written), "{label}", "--id={task_id}", "{model}"),
    )
    before = set(tmp_path.iterdir())
    result = await run(expand(command, placeholder_values(_row())), timeout=30)
    assert result.ok, result
    assert json.loads(written.read_text()) == [HOSTILE_LABEL, "--id=order_1", "$(touch pwned3)"]
    # Nothing the label or model said was done: no file but the one the script wrote.
    assert set(tmp_path.iterdir()) - before == {written}
    assert not (Path.cwd() / "pwned").exists()


async def test_output_is_kept_up_to_a_cap_and_failures_are_said(tmp_path: Path) -> None:
    loud = "import sys\nsys.stdout.write('x' * 200000)\nsys.stderr.write('oops')\nsys.exit(3)\n"
    result = await run([sys.executable, "-c", loud], timeout=30, max_bytes=1000)
    assert result.exit_code == 3
    assert result.problem == "exited with status 3"
    assert result.cut and result.output == "x" * 1000


async def test_a_missing_program_is_a_result_not_an_exception(tmp_path: Path) -> None:
    result = await run([str(tmp_path / "no-such-program"), "a"], timeout=30)
    assert result.exit_code is None
    assert result.problem == f"{tmp_path / 'no-such-program'} was not found"


async def test_a_run_past_its_timeout_is_stopped_with_what_it_started(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    # The child starts a grandchild that would outlive it, then hangs.
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(marker)!r}, 'w').write(str(child.pid))\n"
        "print('started', flush=True)\n"
        "time.sleep(600)\n"
    )
    result = await run([sys.executable, "-c", code], timeout=2)
    assert result.exit_code is None
    assert result.problem == "was stopped after 2 s"
    assert result.output == "started\n"
    grandchild = int(marker.read_text())
    # SIGKILL is delivered asynchronously: give the kernel a few turns to carry it out.
    for _ in range(500):
        if _ended(grandchild):
            break
        await asyncio.sleep(0.01)
    assert _ended(grandchild)


def _ended(pid: int) -> bool:
    """Gone, or dead and waiting for a parent to reap it (a zombie)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "State:\tZ" in status
