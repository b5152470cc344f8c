"""Scripting with the command line: ``wait``, options after the command, IDs from standard
input or a file, several IDs in one ``query``."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aireiter_tui.cli import main
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.simulator import ManualClock, Simulator, running_in_thread


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private config and watchlist; no key or URL from the real environment."""
    watchlist = tmp_path / "watchlist.toml"
    monkeypatch.setenv("AIREITER_TUI_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("AIREITER_TUI_WATCHLIST", str(watchlist))
    monkeypatch.delenv("AIREITER_BASE_URL", raising=False)
    (tmp_path / "config.toml").write_text("poll_interval = 1\nslow_poll_interval = 1\n")
    return watchlist


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Simulator, str]]:
    sim = Simulator(seed=4, clock=ManualClock())
    with running_in_thread(sim) as base:
        monkeypatch.setenv("AIREITER_API_KEY", sim.api_key)
        yield sim, base


def ids(sim: Simulator, n: int, status: str) -> list[str]:
    made = [ident for _, ident in sim.add_tasks(n, status_mix={"pending": 1.0})]
    for ident in made:
        sim.force_status(ident, status)
    return made


def test_wait_takes_options_after_the_command_and_exits_by_outcome(
    env: Path, served: tuple[Simulator, str], capsys: pytest.CaptureFixture[str]
) -> None:
    sim, base = served
    done = ids(sim, 2, "completed")
    assert main(["wait", *done, "--base-url", base, "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-1]["event"] == "summary" and lines[-1]["exit"] == 0
    failed = ids(sim, 1, "failed")
    assert main(["wait", *done, *failed, "--base-url", base, "--quiet"]) == 1
    assert capsys.readouterr().out == ""  # quiet: the status says it
    pending = ids(sim, 1, "pending")
    assert main(["--base-url", base, "wait", *pending, "--timeout", "1.5"]) == 3
    summary = capsys.readouterr().out.split("\t")
    assert summary[:2] == [pending[0], "pending"]


def test_wait_reads_ids_from_standard_input_and_adds_them(
    env: Path,
    served: tuple[Simulator, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sim, base = served
    done = ids(sim, 3, "completed")
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{done[0]} {done[1]}\n{done[2]}\n"))
    assert main(["wait", "-", "--add", "--base-url", base]) == 0
    assert sorted(line.split("\t")[0] for line in capsys.readouterr().out.splitlines()) == sorted(
        done
    )
    assert [entry.ref.id for entry in WatchlistStore(env).load()] == done


def test_wait_all_active_takes_the_unfinished_watched_tasks(
    env: Path, served: tuple[Simulator, str], capsys: pytest.CaptureFixture[str]
) -> None:
    sim, base = served
    active = ids(sim, 2, "completed")  # finished on the server, not yet seen so
    assert main(["add", *active]) == 0
    assert main(["wait", "--all-active", "--base-url", base]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3  # add's line + 2 tasks


def test_wait_without_a_key_or_ids_is_a_usage_error(
    env: Path, served: tuple[Simulator, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, base = served
    assert main(["wait", "--base-url", base]) == 2  # no IDs
    monkeypatch.delenv("AIREITER_API_KEY")
    assert main(["wait", "order_x", "--base-url", base]) == 2


def test_add_reads_ids_from_standard_input_and_files(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = tmp_path / "ids.txt"
    listed.write_text("order_f1\norder_f2, order_f3\n")
    monkeypatch.setattr("sys.stdin", io.StringIO("order_s1 order_s2\n"))
    assert main(["add", "-", "order_a1", "--from-file", str(listed)]) == 0
    watched = [entry.ref.id for entry in WatchlistStore(env).load()]
    assert sorted(watched) == [
        "order_a1",
        "order_f1",
        "order_f2",
        "order_f3",
        "order_s1",
        "order_s2",
    ]
    assert main(["add", "--from-file", str(tmp_path / "missing.txt")]) == 2
    assert main(["add"]) == 2


def test_one_argument_with_spaces_is_refused_not_split(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`add "a b"` added two tasks without a word."""
    assert main(["add", "order_a order_b"]) == 2
    assert "holds spaces" in capsys.readouterr().err
    assert WatchlistStore(env).load() == []


def test_query_takes_several_ids_and_names_the_out_task_id_it_asked_for(
    env: Path, served: tuple[Simulator, str], capsys: pytest.CaptureFixture[str]
) -> None:
    sim, base = served
    done, failed = ids(sim, 1, "completed"), ids(sim, 1, "failed")
    assert main(["query", *done, *failed, "--base-url", base]) == 1
    out = capsys.readouterr().out
    assert done[0] in out and failed[0] in out
    sim.submit("nano_banana", {"prompt": "p"}, "my-batch-7", hide_task_id=True)
    sim.force_status("my-batch-7", "processing")
    assert main(["query", "--out", "my-batch-7", "--base-url", base]) == 3
    assert "out_task_id  my-batch-7" in capsys.readouterr().out
