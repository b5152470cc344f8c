"""The ``aireiter-tui`` command line: version, help, the headless watchlist commands and
``query`` against a simulator running on its own thread (one exit status per outcome)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aireiter_tui import __version__
from aireiter_tui.cli import main
from aireiter_tui.simulator import ManualClock, Simulator, running_in_thread


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A private config and watchlist; no key or URL from the real environment."""
    config, watchlist = tmp_path / "config.toml", tmp_path / "watchlist.toml"
    monkeypatch.setenv("AIREITER_TUI_CONFIG", str(config))
    monkeypatch.setenv("AIREITER_TUI_WATCHLIST", str(watchlist))
    for name in ("AIREITER_API_KEY", "AIREITER_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return config, watchlist


def test_a_config_flag_naming_no_file_is_warned_about(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = files[0].with_name("typo.toml")
    assert main(["--config", str(missing), "list"]) == 0
    assert f"warning: {missing} does not exist: the defaults apply" in capsys.readouterr().err
    assert main(["list"]) == 0  # the same missing file named by the environment: no word
    assert capsys.readouterr().err == ""


@pytest.fixture
def served() -> Iterator[tuple[Simulator, str]]:
    sim = Simulator(seed=2, clock=ManualClock())
    with running_in_thread(sim) as base:
        yield sim, base


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"aireiter-tui {__version__}"
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for word in ("--demo", "add", "remove", "list", "query", "simulate"):
        assert word in out


def test_python_dash_m_prints_the_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aireiter_tui", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"aireiter-tui {__version__}"


def test_add_list_remove(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["add", "order_a", "order_b,order_a", "--label", "hero"]) == 0
    assert "added 2 task(s)" in capsys.readouterr().out
    assert main(["add", "--out", "shot-1"]) == 0
    assert main(["add", "order_a"]) == 0
    assert "1 already watched" in capsys.readouterr().out
    assert main(["add", "bad\x07id"]) == 2
    assert "not added" in capsys.readouterr().err

    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "order_a\ttask_id\tnot fetched  (hero)",
        "order_b\ttask_id\tnot fetched  (hero)",
        "shot-1\tout_task_id\tnot fetched",
    ]
    assert main(["list", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records[0] == {
        "id": "order_a",
        "kind": "task_id",
        "label": "hero",
        "status": None,
        "model": None,
        "outputs": [],
    }
    assert [r["kind"] for r in records] == ["task_id", "task_id", "out_task_id"]

    capsys.readouterr()
    assert main(["remove", "order_a", "order_zzz"]) == 0
    assert "removed 1 task(s); 1 not watched" in capsys.readouterr().out
    assert main(["remove", "order_zzz"]) == 2  # not watched
    capsys.readouterr()
    assert main(["list", "--json"]) == 0
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == [
        "order_b",
        "shot-1",
    ]


@pytest.mark.parametrize("flags", [[], ["--json"]])
def test_list_into_a_pipe_closed_early_ends_quietly(
    files: tuple[Path, Path], flags: list[str]
) -> None:
    """``aireiter-tui list | head -1``: no traceback, no "Exception ignored" at exit."""
    ids = [f"order_pipe{n:05d}" for n in range(3000)]  # far more than a pipe's buffer
    assert main(["add", *ids]) == 0
    with subprocess.Popen(
        [sys.executable, "-m", "aireiter_tui", "list", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as reader:
        assert reader.stdout is not None and reader.stderr is not None
        first = reader.stdout.readline()
        reader.stdout.close()  # what head does after its line: later writes hit EPIPE
        err = reader.stderr.read().decode()
        status = reader.wait()
    assert b"order_pipe00000" in first
    assert err == ""
    assert status in (0, 141)


@pytest.mark.parametrize(
    ("status", "code"),
    [("completed", 0), ("failed", 1), ("pending", 3), ("processing", 3)],
)
def test_query_exit_status_follows_the_task(
    files: tuple[Path, Path],
    served: tuple[Simulator, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    status: str,
    code: int,
) -> None:
    sim, base = served
    ((_, ident),) = sim.add_tasks(1, status_mix={"pending": 1.0})
    sim.force_status(ident, status)
    monkeypatch.setenv("AIREITER_API_KEY", sim.api_key)
    assert main(["--base-url", base, "query", ident]) == code
    out = capsys.readouterr().out
    assert f"status  {status}" in out
    assert main(["--base-url", base, "query", ident, "--json"]) == code
    assert json.loads(capsys.readouterr().out)["status"] == status


def test_query_with_a_bad_key_unknown_id_and_no_key(
    files: tuple[Path, Path],
    served: tuple[Simulator, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sim, base = served
    ((_, ident),) = sim.add_tasks(1, status_mix={"completed": 1.0})
    assert main(["--base-url", base, "query", ident]) == 2  # no key at all
    assert "no API key" in capsys.readouterr().err
    monkeypatch.setenv("AIREITER_API_KEY", "not-the-key-1234")
    assert main(["--base-url", base, "query", ident]) == 2
    err = capsys.readouterr().err
    assert "not-the-key-1234" not in err and err.count("\n") == 1
    monkeypatch.setenv("AIREITER_API_KEY", sim.api_key)
    assert main(["--base-url", base, "query", "order_nobody"]) == 2
    assert capsys.readouterr().err.startswith("aireiter-tui: ")


def test_query_with_the_server_down(
    files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AIREITER_API_KEY", "sim-demo-key")
    assert main(["--base-url", f"http://127.0.0.1:{port}", "query", "order_x"]) == 4
    assert capsys.readouterr().err.count("\n") == 1


def test_bad_config_is_one_line_naming_file_and_key(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = files
    config.write_text('poll_interval = "often"\n')
    assert main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert str(config) in err and "poll_interval" in err and "Traceback" not in err


def test_bad_config_through_the_real_entry_point(files: tuple[Path, Path]) -> None:
    config, _ = files
    config.write_text("[keys\n")
    done = subprocess.run(
        [sys.executable, "-m", "aireiter_tui", "list"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and str(config) in done.stderr
    assert "Traceback" not in done.stderr
