"""``aireiter-tui submit`` and ``retry`` from a script, against the simulator over real
sockets: what they print, what joins the watchlist, and their exit statuses."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from aireiter_tui.cli import main
from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry
from aireiter_tui.simulator import Fault, ManualClock, Simulator, running_in_thread

Served = tuple[Simulator, str]
FOX = ["--model", "nano_banana", "--param", "prompt=a red fox", "--param", "output_n=2"]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private config and watchlist; no key or URL from the real environment."""
    watchlist = tmp_path / "watchlist.toml"
    monkeypatch.setenv("AIREITER_TUI_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("AIREITER_TUI_WATCHLIST", str(watchlist))
    monkeypatch.delenv("AIREITER_BASE_URL", raising=False)
    (tmp_path / "config.toml").write_text(
        "poll_interval = 1\nslow_poll_interval = 1\n"
        '[templates.fox]\nmodel = "gpt_4o"\n'
        'params = {prompt = "a fox in snow", aspect_ratio = "3:2"}\n'
    )
    return watchlist


def serve(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    with running_in_thread(sim) as base:
        monkeypatch.setenv("AIREITER_API_KEY", sim.api_key)
        monkeypatch.setenv("AIREITER_BASE_URL", base)
        yield sim, base


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """A simulator whose tasks never move on their own."""
    yield from serve(Simulator(seed=4, clock=ManualClock()), monkeypatch)


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """A simulator on the real clock, 10,000 times as fast: a task ends within a poll."""
    yield from serve(Simulator(seed=4, speed=10_000), monkeypatch)


def watched(path: Path) -> list[WatchEntry]:
    return WatchlistStore(path).load()


def test_submit_prints_the_id_and_watches_it_with_its_label_and_estimate(
    env: Path, served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, _ = served
    assert main(["submit", *FOX, "--label", "foxes"]) == 0
    out, err = capsys.readouterr()
    (task_id,) = out.split()
    assert sim.task_status(task_id) == "pending"
    assert "Submitted nano_banana as " in err and "estimated 200 credits" in err
    (entry,) = watched(env)
    assert entry.ref == TaskRef(IdKind.TASK_ID, task_id)
    assert (entry.label, entry.estimated_credits) == ("foxes", 200.0)
    assert main(["submit", "--template", "fox", "--param", "output_n=2", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["event"] == "submitted" and record["model"] == "gpt_4o"
    assert record["estimated_credits"] == 300 and record["already_submitted"] is False
    assert record["watched_as"] == {"kind": "task_id", "id": record["task_id"]}
    params = sim._store.find(record["task_id"]).input["params"]  # type: ignore[union-attr]
    assert params == {"prompt": "a fox in snow", "aspect_ratio": "3:2", "output_n": 2}
    assert len(watched(env)) == 2


def test_an_answer_without_task_id_prints_and_watches_the_out_task_id(
    env: Path, served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, _ = served
    sim.omit_task_id_probability = 1.0
    assert main(["submit", *FOX, "--out-task-id", "batch-7-clip-1"]) == 0
    assert capsys.readouterr().out == "batch-7-clip-1\n"
    assert [entry.ref for entry in watched(env)] == [TaskRef(IdKind.OUT_TASK_ID, "batch-7-clip-1")]


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--model", "nano_banana", "--param", "output_n=2"], 'need a "prompt"'),
        (["--model", "nano_banana", "--param", "prompt=123"], '"prompt" must be a string'),
        (["--model", "nano_banana", "--param", "noequals"], "is not key=value"),
        (["--param", "prompt=x"], "submit needs --model"),
        (
            ["--template", "owl", "--param", "prompt=x"],
            "no template 'owl' in the config file (templates: fox)",
        ),
        ([*FOX, "--metadata", "[1]"], "metadata must be a JSON object"),
        ([*FOX, "--out-task-id", "has space"], "the ID contains spaces"),
        ([*FOX, "--callback-url", "ftp://x"], "callback URL must be an http"),
    ],
)
def test_submit_refuses_a_bad_request_before_sending_it(
    env: Path,
    served: Served,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    said: str,
) -> None:
    sim, _ = served
    assert main(["submit", *options]) == 2
    assert said in capsys.readouterr().err
    assert sim.request_count == 0 and watched(env) == []


def test_a_params_file_that_is_not_json_says_where(
    env: Path, served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, _ = served
    broken = tmp_path / "params.json"
    broken.write_text('{"prompt": "a fox",}')
    assert main(["submit", "--model", "gpt_4o", "--params-file", str(broken)]) == 2
    assert "are not valid JSON: Expecting property name" in capsys.readouterr().err
    broken.write_text('{"prompt": "a fox"}')
    assert main(["submit", "--model", "gpt_4o", "--params-file", str(broken)]) == 0
    assert sim.task_count == 1


def test_a_refusal_by_the_server_is_2_and_no_server_is_4(
    env: Path, served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, _ = served
    assert main(["submit", "--model", "dall_e_9", "--param", "prompt=x"]) == 2
    assert "Unsupported model: dall_e_9" in capsys.readouterr().err
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["submit", *FOX, "--base-url", f"http://127.0.0.1:{port}"]) == 4
    assert "refused the connection" in capsys.readouterr().err
    assert sim.task_count == 0 and watched(env) == []


def test_the_same_command_after_a_lost_answer_makes_no_second_task(
    env: Path, served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, _ = served
    sim.set_fault(Fault.LOST_ANSWER, times=1)  # the submit's answer is lost,
    sim.set_fault(Fault.HTTP_503, times=1)  # and so is the question about it
    assert main(["submit", *FOX]) == 4
    err = capsys.readouterr().err
    assert "Unknown whether tui-" in err and "run the same command again" in err
    assert watched(env) == [] and sim.task_count == 1
    assert main(["submit", *FOX]) == 0  # takes up the unresolved out_task_id
    out, err = capsys.readouterr()
    assert "Already submitted" in err
    assert sim.task_count == 1 and sum(sim.submits_by_out_task_id.values()) == 1
    assert [entry.ref.id for entry in watched(env)] == [out.strip()]


def test_submit_wait_exits_as_wait_does(
    env: Path, fast: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, _ = fast
    sim.failure_rate = 0.0
    assert main(["submit", *FOX, "--wait"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split("\t")[:2] == [out[0], "completed"]
    sim.failure_rate = 1.0
    assert main(["submit", *FOX, "--wait", "--json"]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["event"] == "submitted" and lines[-1]["event"] == "summary"
    assert lines[-1]["exit"] == 1 and lines[-1]["tasks"][0]["status"] == "failed"


def test_submit_wait_times_out_with_3(
    env: Path, served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["submit", *FOX, "--wait", "--timeout", "1.5", "--quiet"]) == 3


def failed_task(sim: Simulator, out_task_id: str) -> str:
    task_id: str = sim.submit("seedream_v4", {"prompt": "a lighthouse"}, out_task_id)["task_id"]
    sim.force_status(task_id, "failed")
    return task_id


def test_retry_submits_a_failed_task_again_linked_and_labelled(
    env: Path, served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, _ = served
    old = failed_task(sim, "shot-9")
    assert main(["add", old, "--label", "lighthouse"]) == 0
    capsys.readouterr()
    assert main(["retry", old]) == 0
    out, err = capsys.readouterr()
    new = out.strip()
    assert "out_task_id shot-9-r1" in err
    entries = {entry.ref.id: entry for entry in watched(env)}
    assert entries[new].retry_of == TaskRef(IdKind.TASK_ID, old)
    assert entries[new].label == "lighthouse" and entries[new].estimated_credits == 120.0
    made = sim._store.find(new)
    assert made is not None and made.input is not None
    assert made.input["params"] == {"prompt": "a lighthouse"}
    # Named by its other ID, the task is the same one: retried already.
    assert main(["retry", "--out", "shot-9"]) == 2
    assert f"already retried as {new}" in capsys.readouterr().err
    assert main(["retry", old, "--again", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["out_task_id"] == "shot-9-r2"
    assert sim.task_count == 3


def test_retry_refuses_what_is_not_failed_or_unknown(
    env: Path, served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, _ = served
    running = sim.submit("gpt_4o", {"prompt": "x"}, "running-1")["task_id"]
    assert main(["retry", running]) == 2
    assert "is pending, not failed: only a failed task is retried" in capsys.readouterr().err
    assert main(["retry", "order_nobody_knows_1"]) == 2
    assert "does not know task order_nobody_knows_1" in capsys.readouterr().err
    # One refused and one retried: the refusal decides the status.
    old = failed_task(sim, "shot-10")
    assert main(["retry", running, old]) == 2
    assert capsys.readouterr().out.strip() != ""
    assert sim.task_count == 3


def test_retry_wait_exits_by_the_new_tasks(
    env: Path, fast: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, _ = fast
    old = failed_task(sim, "shot-11")
    sim.failure_rate = 1.0
    assert main(["retry", old, "--wait"]) == 1  # the retry failed too
    new = capsys.readouterr().out.splitlines()[0]
    sim.failure_rate = 0.0
    assert main(["retry", new, "--wait", "--quiet"]) == 0
    out = capsys.readouterr().out.split()
    assert len(out) == 1 and out[0] != new
    assert sim.task_count == 3
