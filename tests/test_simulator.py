"""The simulator over real sockets: the documented API, the lifecycle, files, the CLI."""

from __future__ import annotations

import argparse
import io
import re
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from aireiter_tui.domain.models import TaskStatus, parse_task
from aireiter_tui.simulator import ManualClock, Simulator, running_in_thread
from aireiter_tui.simulator import cli as sim_cli
from aireiter_tui.simulator.media import PNG_SIGNATURE, png_size, size_for_aspect_ratio
from aireiter_tui.simulator.scenario import iso_timestamp

KEY = "sim-demo-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
ISO_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


pytestmark = pytest.mark.sim(seed=7)  # the `sim` fixture (conftest.py)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    http: aiohttp.ClientSession, sim: Simulator, path: str, body: Any, headers: Any = None
) -> tuple[int, Any]:
    url = f"{sim.base_url}/api/openapi/{path}"
    async with http.post(url, json=body, headers=AUTH if headers is None else headers) as resp:
        return resp.status, await resp.json(content_type=None)


async def query(http: aiohttp.ClientSession, sim: Simulator, kind: str, ident: str) -> Any:
    status, body = await post(http, sim, "query", {kind: ident})
    assert status == 200
    assert body["statusCode"] == 200 and body["message"] == ""
    return body["data"]


async def test_demo_set_covers_every_status_model_and_output_kind(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    refs = sim.seed_demo()
    assert 18 <= len(refs) <= 22
    datas = [await query(http, sim, kind, ident) for kind, ident in refs]
    statuses = Counter(d["status"] for d in datas)
    assert {"pending", "processing", "completed", "failed", "queued_for_review"} <= set(statuses)
    assert len({d["input"]["model"] for d in datas if "input" in d}) >= 5
    urls = [o["url"] for d in datas for o in d.get("output", [])]
    assert any(u.endswith(".png") for u in urls) and any(u.endswith(".mp4") for u in urls)
    assert all(u.startswith(sim.base_url + "/files/") for u in urls)
    assert sum(kind == "out_task_id" for kind, _ in refs) >= 2
    messages = [d["error"]["message"] for d in datas if d["status"] == "failed"]
    assert any(len(m) > 300 and m.count(". ") >= 3 for m in messages)
    assert any(d["error"]["code"] == "CONTENT_POLICY" for d in datas if "error" in d)
    for data in datas:
        assert ISO_RE.fullmatch(data["created_at"])
        assert ("output" in data) == ("completed_at" in data) == (data["status"] == "completed")
        assert ("error" in data) == (data["status"] == "failed")
        assert isinstance(data["credits_used"], int)
        task = parse_task(data)
        assert not task.warnings
        assert task.status.value == data["status"] or task.status is TaskStatus.UNKNOWN


async def test_reference_page_shapes(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.seed_demo()
    data = await query(http, sim, "task_id", "order_lwU2d-VkUq9-tlCCmrdYu")
    assert data["status"] == "completed"
    assert ISO_RE.fullmatch(data["completed_at"])
    assert data["input"]["model"] == "nano_banana"
    params = data["input"]["params"]
    assert params["prompt"] == "dog" and params["format"] == "jpeg"
    images = params["image_url"].split(",")
    assert len(images) == 3 and all(u.startswith(sim.base_url) for u in images)
    assert data["input"]["attachments"] == [params["image_url"]]
    assert data["input"]["showPublic"] == 0
    assert data["credits_used"] == 100
    async with http.get(images[0]) as resp:
        assert resp.content_type == "image/png"
        assert (await resp.read()).startswith(PNG_SIGNATURE)


async def test_wrong_or_missing_key_gets_401_envelope(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    (kind, ident), *_ = sim.seed_demo()
    for headers in ({"Authorization": "Bearer nope"}, {}, {"Authorization": KEY}):
        status, body = await post(http, sim, "query", {kind: ident}, headers)
        assert status == 401
        assert body == {"statusCode": 401, "message": "Invalid API key", "data": None}
    status, _ = await post(http, sim, "submit", {}, {"Authorization": "Bearer x"})
    assert status == 401


async def test_unknown_id_is_a_404_envelope_inside_http_200(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    for kind in ("task_id", "out_task_id"):
        status, body = await post(http, sim, "query", {kind: "order_nope"})
        assert status == 200
        assert body == {"statusCode": 404, "message": "Task not found", "data": None}


@pytest.mark.parametrize(
    "raw", [b"{not json", b"\xff\xfe", b'{"task_id": "a", "out_task_id": "b"}', b"{}", b"[1]"]
)
async def test_malformed_query_bodies_get_400(
    sim: Simulator, http: aiohttp.ClientSession, raw: bytes
) -> None:
    async with http.post(f"{sim.base_url}/api/openapi/query", data=raw, headers=AUTH) as resp:
        assert resp.status == 400
        body = await resp.json()
    assert body["statusCode"] == 400 and body["data"] is None and body["message"]


async def test_task_known_only_by_out_task_id(sim: Simulator, http: aiohttp.ClientSession) -> None:
    refs = sim.seed_demo()
    out_ids = [ident for kind, ident in refs if kind == "out_task_id"]
    data = await query(http, sim, "out_task_id", out_ids[0])
    assert "task_id" not in data and data["out_task_id"] == out_ids[0]
    _, body = await post(http, sim, "query", {"task_id": out_ids[0]})
    assert body["statusCode"] == 404


async def test_submit_then_lifecycle_on_manual_clock(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.failure_rate = 0.0
    request = {
        "model": "nano_banana",
        "params": {"prompt": "a cat", "aspect_ratio": "16:9", "image_url": ["https://a/1.png"]},
        "out_task_id": "mine-1",
        "callback_url": "https://example.invalid/hook",
        "metadata": {"k": [1, 2]},
    }
    status, body = await post(http, sim, "submit", request)
    assert status == 200 and body["statusCode"] == 200
    data = body["data"]
    assert data["status"] == "pending" and data["out_task_id"] == "mine-1"
    assert data["task_id"].startswith("order_") and data["estimated_credits"] == 100
    assert data["created_at"] == iso_timestamp(sim.clock())
    seen: list[str] = []
    for _ in range(120):
        current = await query(http, sim, "task_id", data["task_id"])
        if not seen or seen[-1] != current["status"]:
            seen.append(current["status"])
        if current["status"] == "completed":
            break
        sim.advance(1)
    assert seen == ["pending", "processing", "completed"]
    assert current["metadata"] == {"k": [1, 2]}
    assert current["input"]["params"]["image_url"] == "https://a/1.png"
    assert current["input"]["attachments"] == ["https://a/1.png"]
    assert current == await query(http, sim, "out_task_id", "mine-1")
    async with http.get(current["output"][0]["url"]) as resp:
        assert resp.status == 200 and resp.content_type == "image/png"
        assert png_size(await resp.read()) == (320, 180)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": "dall_e_9"}, "Unsupported model: dall_e_9"),
        ({"out_task_id": ""}, "out_task_id is required"),
        ({"params": "prompt=x"}, "params must be an object"),
        ({"out_task_id": "dup"}, "out_task_id already exists"),
    ],
)
async def test_submit_rejects_bad_requests(
    sim: Simulator, http: aiohttp.ClientSession, change: dict[str, Any], message: str
) -> None:
    sim.submit("gpt_4o", {"prompt": "x"}, "dup")
    request = {"model": "gpt_4o", "params": {"prompt": "x"}, "out_task_id": "new", **change}
    status, body = await post(http, sim, "submit", request)
    assert status == 400
    assert body == {"statusCode": 400, "message": message, "data": None}


async def test_submit_without_task_id_and_video_output(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.omit_task_id_probability = 1.0
    request = {"model": "veo3_1_fast", "params": {"prompt": "sea"}, "out_task_id": "v-1"}
    _, body = await post(http, sim, "submit", request)
    assert "task_id" not in body["data"]
    sim.force_status("v-1", "completed")
    data = await query(http, sim, "out_task_id", "v-1")
    assert data["status"] == "completed" and data["completed_at"] == iso_timestamp(sim.clock())
    async with http.get(data["output"][0]["url"]) as resp:
        assert resp.content_type == "video/mp4"
        payload = await resp.read()
    assert payload[4:8] == b"ftyp" and int.from_bytes(payload[:4], "big") >= 16


async def test_files_reject_unknown_and_odd_names(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    for name in ("nope.png", "..%2Fetc%2Fpasswd", "x.exe"):
        async with http.get(f"{sim.base_url}/files/{name}") as resp:
            assert resp.status == 404


async def test_force_status_set_all_status_and_speed(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    refs = sim.add_tasks(5, status_mix={"pending": 1})
    sim.set_all_status("processing")
    assert {(await query(http, sim, *ref))["status"] for ref in refs} == {"processing"}
    sim.force_status(refs[0][1], "failed")
    assert (await query(http, sim, *refs[0]))["error"]["code"]
    sim.set_all_status(None)
    assert {sim.task_status(ident) for _, ident in refs} == {"pending"}
    with pytest.raises(KeyError):
        sim.force_status("missing", "completed")

    fast = Simulator(clock=ManualClock(), speed=100.0)
    fast.failure_rate = 0.0
    task_id = fast.submit("sora2_pro", {"prompt": "x"}, "o")["task_id"]
    fast.advance(2.0)  # 200 nominal seconds: longer than any sora2_pro timeline
    assert fast.task_status(task_id) == "completed"


def test_bulk_tasks_follow_the_status_mix() -> None:
    sim = Simulator(clock=ManualClock())
    refs = sim.add_tasks(10_000)
    assert len(set(refs)) == 10_000 and sim.task_count == 10_000
    counts = Counter(sim.task_status(ident) for _, ident in refs)
    assert 4_500 < counts["completed"] < 5_500 and 700 < counts["failed"] < 1_300
    assert 1_700 < counts["pending"] < 2_300 and 1_700 < counts["processing"] < 2_300
    assert 700 < sum(kind == "out_task_id" for kind, _ in refs) < 1_300


async def test_request_accounting(sim: Simulator, http: aiohttp.ClientSession) -> None:
    (kind, ident), *_ = sim.seed_demo()
    for _ in range(3):
        await query(http, sim, kind, ident)
    await post(http, sim, "query", {"task_id": "zzz"})
    assert sim.request_count == 4
    assert sim.requests_by_task == Counter({ident: 3, "zzz": 1})
    sim.reset_counters()
    assert sim.request_count == 0 and not sim.requests_by_task


def test_running_in_thread_serves_a_sync_client() -> None:
    sim = Simulator(clock=ManualClock())
    (kind, ident), *_ = sim.seed_demo()
    with running_in_thread(sim) as base, httpx.Client() as client:
        assert base == sim.base_url and base.startswith("http://127.0.0.1:")
        resp = client.post(f"{base}/api/openapi/query", json={kind: ident}, headers=AUTH)
        assert resp.json()["data"]["status"] == "completed"
    assert sim.addresses == []


@pytest.mark.parametrize(
    ("ratio", "size"),
    [
        ("16:9", (320, 180)),
        ("9:16", (180, 320)),
        ("1:1", (320, 320)),
        ("3:2", (320, 213)),
        ("auto", (320, 320)),
        (None, (320, 320)),
        ("0:4", (320, 320)),
        ("1:1000", (320, 320)),
    ],
)
def test_sizes_for_aspect_ratios(ratio: object, size: tuple[int, int]) -> None:
    assert size_for_aspect_ratio(ratio) == size


def test_iso_timestamps_have_milliseconds_and_z() -> None:
    assert iso_timestamp(1766052731.0) == "2025-12-18T10:12:11.000Z"
    assert iso_timestamp(1766052731.9996) == "2025-12-18T10:12:12.000Z"


def test_cli_arguments_build_the_simulator() -> None:
    parser = argparse.ArgumentParser()
    sim_cli.add_arguments(parser)
    flags = "--tasks 25 --seed 3 --speed 2 --latency-ms 5 --api-key k"
    faults = ["--fault", "http502:0.5", "--fault", "hang@order_x"]
    args = parser.parse_args([*flags.split(), *faults])
    sim, refs = sim_cli.build(args)
    assert len(refs) == sim.task_count == 25
    assert (sim.api_key, sim.speed, sim.latency_ms) == ("k", 2.0, 5.0)
    assert sim.faults.active
    out = io.StringIO()
    sim_cli.banner(sim, refs, out)
    assert "curl" in out.getvalue()
    # The commands name the running script, which need not be on the PATH.
    assert f"{sim_cli.this_command()} --base-url" in out.getvalue()
    with pytest.raises(SystemExit):
        parser.parse_args(["--fault", "bogus"])


def test_the_banner_names_the_command_that_runs(tmp_path: Path) -> None:
    script = tmp_path / "venv dir" / "bin" / "aireiter-tui"
    assert sim_cli.this_command(str(script)) == f"'{script}'"
    module = sim_cli.this_command(str(tmp_path / "aireiter_tui" / "__main__.py"))
    assert module.endswith(" -m aireiter_tui") and module.startswith(sys.executable)
    sim = Simulator(api_key="k")
    out = io.StringIO()
    sim_cli.banner(sim, [("task_id", "order_1")], out, command="/v/bin/aireiter-tui")
    assert "AIREITER_API_KEY=k /v/bin/aireiter-tui --base-url" in out.getvalue()
    assert "add order_1" in out.getvalue()
