"""``wait``: a script waits for tasks on the dashboard's monitor, over real sockets."""

from __future__ import annotations

import io
import json
import socket
from typing import Any

from harness import refs_of, settings_for

from aireiter_tui.backend import build_client
from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.secret import ApiKey
from aireiter_tui.simulator import Simulator
from aireiter_tui.waiting import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    WaitResult,
    wait_for_tasks,
)

# Short intervals on the real clock: each test lasts a few seconds at most.
FAST = {"poll_interval": 1.0, "slow_poll_interval": 1.0, "request_timeout": 2.0}


async def run_wait(
    settings: Settings, refs: list[TaskRef], **options: Any
) -> tuple[WaitResult, str, str]:
    out, err = io.StringIO(), io.StringIO()
    options.setdefault("timeout", 30.0)
    async with build_client(settings) as client:
        result = await wait_for_tasks(client, settings, refs, out=out, err=err, **options)
    return result, out.getvalue(), err.getvalue()


async def test_all_completed_exits_0_with_a_json_event_per_change(sim: Simulator) -> None:
    refs = refs_of(sim.add_tasks(3, status_mix={"pending": 1.0}))
    for ref in refs:
        sim.force_status(ref.id, "completed")
    result, out, err = await run_wait(settings_for(sim, **FAST), refs, json_lines=True)
    assert result.code == EXIT_OK and err == ""
    lines = [json.loads(line) for line in out.splitlines()]
    events, summary = lines[:-1], lines[-1]
    assert sorted(e["id"] for e in events) == sorted(ref.id for ref in refs)
    assert all(e["event"] == "status" and e["status"] == "completed" for e in events)
    assert summary["event"] == "summary" and summary["exit"] == EXIT_OK
    assert all(task["outputs"] for task in summary["tasks"])


async def test_one_failed_task_exits_1_and_waits_for_the_others(sim: Simulator) -> None:
    done, failed = refs_of(sim.add_tasks(2, status_mix={"processing": 1.0}))
    sim.force_status(failed.id, "failed")
    result, _, err = await run_wait(settings_for(sim, **FAST), [done, failed], timeout=2.5)
    assert result.code == EXIT_FAILED  # a failure says more than the timeout
    assert "1 failed; timed out with 1 not finished" in err
    sim.force_status(done.id, "completed")
    result, out, err = await run_wait(settings_for(sim, **FAST), [done, failed])
    assert result.code == EXIT_FAILED and "1 failed" in err
    summary = {line.split("\t")[0]: line.split("\t")[1] for line in out.splitlines()}
    assert summary == {done.id: "completed", failed.id: "failed"}


async def test_the_timeout_exits_3_and_progress_is_a_line_per_change(sim: Simulator) -> None:
    (ref,) = refs_of(sim.add_tasks(1, status_mix={"pending": 1.0}))
    sim.force_status(ref.id, "pending")
    result, _, err = await run_wait(settings_for(sim, **FAST), [ref], timeout=1.5)
    assert result.code == EXIT_TIMEOUT
    assert err.splitlines()[0] == f"{ref.id}: pending"
    assert "timed out with 1 not finished" in err


async def test_a_live_line_on_a_terminal(sim: Simulator) -> None:
    (ref,) = refs_of(sim.add_tasks(1, status_mix={"pending": 1.0}))
    sim.force_status(ref.id, "processing")
    result, _, err = await run_wait(settings_for(sim, **FAST), [ref], timeout=1.5, live_line=True)
    assert result.code == EXIT_TIMEOUT
    assert "\r\x1b[2K1 processing — " in err and " elapsed" in err
    assert err.count("\n") == 1  # the line is rewritten in place, then the final word


async def test_a_refused_key_exits_2(sim: Simulator) -> None:
    refs = refs_of(sim.add_tasks(1, status_mix={"pending": 1.0}))
    settings = settings_for(sim, api_key=ApiKey("not-the-key"), **FAST)
    result, _, err = await run_wait(settings, refs)
    assert result.code == EXIT_USAGE and "refused the API key" in err


async def test_a_task_the_server_does_not_know_exits_2(sim: Simulator) -> None:
    known = refs_of(sim.add_tasks(1, status_mix={"completed": 1.0}))
    ghost = TaskRef(IdKind.TASK_ID, "order_never_submitted")
    result, out, _ = await run_wait(settings_for(sim, **FAST), [*known, ghost], json_lines=True)
    assert result.code == EXIT_USAGE
    summary = json.loads(out.splitlines()[-1])
    statuses = {task["id"]: task["status"] for task in summary["tasks"]}
    assert statuses["order_never_submitted"] == "unknown to the server"


async def test_an_unreachable_server_past_the_timeout_exits_4() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(base_url=f"http://127.0.0.1:{port}", api_key=ApiKey("k"), **FAST)
    refs = [TaskRef(IdKind.TASK_ID, f"order_{n}") for n in range(3)]
    result, _, err = await run_wait(settings, refs, timeout=2.0)
    assert result.code == EXIT_UNREACHABLE and "unreachable" in err


async def test_strings_from_the_server_stay_text(sim: Simulator) -> None:
    (ref,) = refs_of(sim.add_tasks(1, status_mix={"pending": 1.0}))
    sim.force_status(ref.id, "done\x1b[31m\u202e\x9b")  # an unknown status: never final
    for live_line in (False, True):
        result, out, err = await run_wait(
            settings_for(sim, **FAST), [ref], timeout=1.5, live_line=live_line
        )
        assert result.code == EXIT_TIMEOUT
        shown = out + err.replace("\r\x1b[2K", "")
        assert not {"\x1b", "\u202e", "\x9b"} & set(shown), repr(shown)
        assert "done" in shown
