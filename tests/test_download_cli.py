"""``aireiter-tui download`` from a script, against the simulator over real sockets: the
paths it prints, the files it writes, its progress line and its exit statuses."""

from __future__ import annotations

import io
import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aireiter_tui.cli import main
from aireiter_tui.domain.media_info import MediaKind, inspect
from aireiter_tui.simulator import ManualClock, Simulator, running_in_thread
from aireiter_tui.simulator.output_files import OutputFault


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private config, watchlist and home; no key or URL from the real environment."""
    monkeypatch.setenv("AIREITER_TUI_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("AIREITER_TUI_WATCHLIST", str(tmp_path / "watchlist.toml"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    monkeypatch.delenv("AIREITER_BASE_URL", raising=False)
    return tmp_path


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    simulator = Simulator(seed=4, clock=ManualClock())
    with running_in_thread(simulator) as base:
        monkeypatch.setenv("AIREITER_API_KEY", simulator.api_key)
        monkeypatch.setenv("AIREITER_BASE_URL", base)
        yield simulator


def task(sim: Simulator, out: str, status: str = "completed", **params: object) -> str:
    """A task known by ``out`` (its out_task_id); returns its task_id."""
    data = sim.submit("nano_banana", {"prompt": "a fox", **params}, out)
    sim.force_status(out, status)
    return str(data["task_id"])


def test_three_tasks_are_saved_as_valid_pngs_and_their_paths_printed(
    env: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [
        task(sim, "a", aspect_ratio="16:9"),
        task(sim, "b", aspect_ratio="3:4"),
        task(sim, "c", aspect_ratio="1:1"),
    ]
    folder = env / "dl"
    assert main(["download", *ids, "--dir", str(folder)]) == 0
    out, err = capsys.readouterr()
    assert err == ""  # not a terminal: no progress line
    paths = [Path(line) for line in out.splitlines()]
    assert paths == [folder / f"{ident}.png" for ident in ids]
    sizes = [(inspect(p).kind, inspect(p).width, inspect(p).height) for p in paths]
    assert sizes == [
        (MediaKind.PNG, 320, 180),
        (MediaKind.PNG, 240, 320),
        (MediaKind.PNG, 320, 320),
    ]
    # The API was asked with the key; the output host never got it.
    assert len(sim.outputs.log) == 3
    assert all("authorization" not in request.headers for request in sim.outputs.log)


def test_json_lines_and_a_second_run_fetches_nothing(
    env: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    task(sim, "two", output_n=2)
    args = ["download", "--out", "two", "--dir", str(env / "dl"), "--json"]
    assert main(args) == 0
    first = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["index"], r["state"]) for r in first] == [(0, "done"), (1, "done")]
    assert all(Path(r["path"]).stat().st_size == r["bytes"] for r in first)
    assert [Path(r["path"]).name[-6:] for r in first] == ["_1.png", "_2.png"]
    sim.reset_counters()
    assert main(args) == 0
    again = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["state"] for r in again] == ["skipped", "skipped"]
    assert [r["path"] for r in again] == [r["path"] for r in first]
    assert sim.outputs.log == []


def test_the_folder_comes_from_the_config_then_the_xdg_download_dir(
    env: Path, sim: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ident = task(sim, "t")
    monkeypatch.setenv("XDG_DOWNLOAD_DIR", str(env / "xdg-dl"))
    assert main(["download", ident]) == 0
    assert Path(capsys.readouterr().out.strip()) == env / "xdg-dl" / "aireiter" / f"{ident}.png"
    (env / "config.toml").write_text(f'download_dir = "{env / "configured"}"\n')
    assert main(["download", ident]) == 0
    assert Path(capsys.readouterr().out.strip()) == env / "configured" / f"{ident}.png"


def test_a_task_without_outputs_fails_the_run_but_the_others_are_saved(
    env: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    done = task(sim, "done")
    running = task(sim, "running", status="processing")
    failed = task(sim, "failed", status="failed")
    assert main(["download", done, running, failed, "--dir", str(env)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [str(env / f"{done}.png")]
    assert f"{running}: the task is processing: no outputs yet" in err
    assert f"{failed}: the task failed: it has no outputs" in err


def test_an_expired_link_fails_that_file(
    env: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    ident = task(sim, "t", output_n=2)
    sim.set_output_fault(sim.output_urls("t")[1], OutputFault.EXPIRED)
    assert main(["download", ident, "--dir", str(env / "dl")]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [str(env / "dl" / f"{ident}_1.png")]
    assert f"{ident}: output 2: link expired: The link has expired" in err


def test_an_output_host_that_drops_the_connection_is_a_network_error(
    env: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    ident = task(sim, "t")
    sim.set_output_fault(sim.output_urls("t")[0], OutputFault.CUT)
    assert main(["download", ident, "--dir", str(env)]) == 4
    assert "not reachable: " in capsys.readouterr().err
    # What arrived is kept for the next run to resume from.
    assert (env / f"{ident}.png.part").stat().st_size > 0


def test_unknown_tasks_and_an_unreachable_server(
    env: Path,
    sim: Simulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert main(["download", "no_such_task", "--dir", str(env)]) == 2
    assert "no_such_task" in capsys.readouterr().err
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AIREITER_BASE_URL", f"http://127.0.0.1:{port}")
    assert main(["download", "some_task", "--dir", str(env)]) == 4


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_progress_line_on_a_terminal_only(
    env: Path, sim: Simulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ident = task(sim, "t", output_n=3)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["download", ident, "--dir", str(env)]) == 0
    drawn = terminal.getvalue()
    assert "\r\x1b[2Kdownloading " in drawn and "3/3 files" in drawn and "100%" in drawn
    assert drawn.endswith("\r\x1b[2K")  # the line is gone when the paths are printed
    assert len(capsys.readouterr().out.splitlines()) == 3
