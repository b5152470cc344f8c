"""The simulator's faults, its determinism, and where it listens."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from aireiter_tui.simulator import Fault, FaultPlan, ManualClock, Simulator
from aireiter_tui.simulator.faults import HOSTILE_TEXTS, HOSTILE_URLS, parse_fault_spec
from aireiter_tui.simulator.responses import HUGE_BODY_BYTES

AUTH = {"Authorization": "Bearer sim-demo-key"}
REF = "order_lwU2d-VkUq9-tlCCmrdYu"


# The `sim` fixture (conftest.py), seeded with the demo's tasks.
pytestmark = pytest.mark.sim(seed=0, setup=Simulator.seed_demo)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def raw_query(
    http: aiohttp.ClientSession, sim: Simulator, ident: str = REF, **kwargs: Any
) -> tuple[int, dict[str, str], bytes]:
    url = f"{sim.base_url}/api/openapi/query"
    async with http.post(url, json={"task_id": ident}, headers=AUTH, **kwargs) as resp:
        return resp.status, dict(resp.headers), await resp.read()


@pytest.mark.parametrize(
    ("fault", "status"), [("http500", 500), ("http502", 502), ("http503", 503)]
)
async def test_5xx_faults_send_html(
    sim: Simulator, http: aiohttp.ClientSession, fault: str, status: int
) -> None:
    sim.set_fault(fault, times=1)
    code, headers, body = await raw_query(http, sim)
    assert code == status and headers["Content-Type"].startswith("text/html")
    assert body.startswith(b"<html>") and str(status).encode() in body
    assert (await raw_query(http, sim))[0] == 200  # times=1 is used up


async def test_rate_limits_with_and_without_retry_after(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.set_fault(Fault.RATE_LIMIT, times=1, retry_after=7)
    code, headers, body = await raw_query(http, sim)
    assert code == 429 and headers["Retry-After"] == "7"
    assert json.loads(body)["statusCode"] == 429
    sim.set_fault(Fault.RATE_LIMIT_BARE, times=1)
    code, headers, _ = await raw_query(http, sim)
    assert code == 429 and "Retry-After" not in headers


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault.ENVELOPE_ERROR, {"statusCode": 500}),
        (Fault.AUTH_ENVELOPE, {"statusCode": 401, "message": "Invalid API key"}),
        (Fault.DATA_NULL, {"statusCode": 200, "data": None}),
    ],
)
async def test_envelope_faults_inside_http_200(
    sim: Simulator, http: aiohttp.ClientSession, fault: Fault, expected: dict[str, Any]
) -> None:
    sim.set_fault(fault)
    code, _, body = await raw_query(http, sim)
    envelope = json.loads(body)
    assert code == 200 and expected.items() <= envelope.items()


async def test_not_json_and_huge_body(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.set_fault(Fault.NOT_JSON, times=1)
    code, _, body = await raw_query(http, sim)
    assert code == 200
    with pytest.raises(ValueError):
        json.loads(body)
    sim.set_fault(Fault.HUGE_BODY, times=1)
    code, _, body = await raw_query(http, sim)
    assert code == 200 and len(body) == HUGE_BODY_BYTES
    assert json.loads(body)["statusCode"] == 200


async def test_truncated_body_and_dropped_connection(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.set_fault(Fault.TRUNCATED, times=1)
    with pytest.raises(aiohttp.ClientPayloadError):
        await raw_query(http, sim)
    sim.set_fault(Fault.DROP, times=1)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await raw_query(http, sim)
    assert (await raw_query(http, sim))[0] == 200  # the server is still fine


async def test_hang_outlasts_a_client_timeout_then_answers(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.set_fault(Fault.HANG, times=1)  # the default 30 s: the client gives up first
    with pytest.raises(asyncio.TimeoutError):
        await raw_query(http, sim, timeout=aiohttp.ClientTimeout(total=0.1))
    sim.set_fault(Fault.HANG, times=1, delay=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    code, _, body = await raw_query(http, sim)
    assert code == 200 and json.loads(body)["data"]["task_id"] == REF
    assert loop.time() - started >= 0.05


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        (Fault.UNKNOWN_STATUS, lambda d: d["status"] == "queued_for_review"),
        (Fault.OUTPUT_NOT_LIST, lambda d: isinstance(d["output"], str)),
        (
            Fault.OUTPUT_NO_URL,
            lambda d: all(not isinstance(o, dict) or "url" not in o for o in d["output"]),
        ),
    ],
)
async def test_content_faults(
    sim: Simulator, http: aiohttp.ClientSession, fault: Fault, check: Any
) -> None:
    sim.set_fault(fault)
    _, _, body = await raw_query(http, sim)
    data = json.loads(body)["data"]
    assert data["task_id"] == REF and check(data)


async def test_hostile_strings_arrive_verbatim(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.set_fault(Fault.HOSTILE, task_id=REF)
    _, _, body = await raw_query(http, sim)
    data = json.loads(body)["data"]
    assert data["task_id"] == REF
    assert [o["url"] for o in data["output"]] == list(HOSTILE_URLS)
    assert data["error"]["detail"] == list(HOSTILE_TEXTS)
    prompt = data["input"]["params"]["prompt"]
    for needle in ("[@click=app.quit]", "\x1b[2J", "\x1b]52;c;aGk=\x07", "\x9b", "\x00", "\u202e"):
        assert needle in prompt
    assert len(prompt) > 10_000
    assert any(len(u) > 10_000 for u in HOSTILE_URLS)
    assert any("\n" in u for u in HOSTILE_URLS) and any("@" in u for u in HOSTILE_URLS)


async def test_per_task_faults_leave_other_tasks_alone(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.set_fault(Fault.HTTP_503, task_id=REF)
    other = sim.seed_demo()[1][1]
    assert (await raw_query(http, sim))[0] == 503
    assert (await raw_query(http, sim, other))[0] == 200
    sim.set_fault(Fault.HTTP_500)  # a global rule loses to the task's own
    assert (await raw_query(http, sim))[0] == 503
    assert (await raw_query(http, sim, other))[0] == 500
    sim.clear_faults()
    assert (await raw_query(http, sim))[0] == 200


async def test_submit_gets_global_faults(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.set_fault(Fault.HTTP_502, times=1)
    body = {"model": "gpt_4o", "params": {"prompt": "p"}, "out_task_id": "s1"}
    url = f"{sim.base_url}/api/openapi/submit"
    async with http.post(url, json=body, headers=AUTH) as resp:
        assert resp.status == 502
    async with http.post(url, json=body, headers=AUTH) as resp:
        assert (await resp.json())["data"]["out_task_id"] == "s1"


def test_fault_probability_is_seeded_and_counts_run_out() -> None:
    def draws(seed: int) -> list[bool]:
        plan = FaultPlan(seed)
        plan.set_fault(Fault.HTTP_500, probability=0.3)
        return [plan.pick("x") is not None for _ in range(1000)]

    assert draws(1) == draws(1) != draws(2)
    assert 200 < sum(draws(1)) < 400
    plan = FaultPlan()
    plan.set_fault("drop", times=2)
    assert [plan.pick(None) is not None for _ in range(3)] == [True, True, False]
    assert not plan.active
    with pytest.raises(ValueError):
        plan.set_fault(Fault.DROP, probability=2.0)
    with pytest.raises(ValueError):
        plan.set_fault("nonsense")


def test_fault_specs_from_flags() -> None:
    assert parse_fault_spec("http502") == (Fault.HTTP_502, None, None)
    assert parse_fault_spec("hang:0.25@order_x") == (Fault.HANG, 0.25, "order_x")
    for bad in ("nope", "http502:x", "http502:1.5"):
        with pytest.raises(ValueError):
            parse_fault_spec(bad)


async def test_latency_is_applied(http: aiohttp.ClientSession) -> None:
    sim = Simulator(latency_ms=40, jitter_ms=10)
    sim.seed_demo()
    await sim.start()
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert (await raw_query(http, sim))[0] == 200
        assert loop.time() - started >= 0.04
    finally:
        await sim.stop()


async def _session_bytes(seed: int) -> list[bytes]:
    sim = Simulator(seed=seed, clock=ManualClock())
    refs = sim.seed_demo() + sim.add_tasks(30)
    base = await sim.start()
    out: list[bytes] = []
    try:
        async with aiohttp.ClientSession() as http:
            for step in range(3):
                for kind, ident in refs:
                    url = f"{base}/api/openapi/query"
                    async with http.post(url, json={kind: ident}, headers=AUTH) as resp:
                        body = await resp.read()
                    out.append(body.replace(base.encode(), b"BASE"))
                    for item in json.loads(body)["data"].get("output", [])[:1]:
                        async with http.get(item["url"]) as resp:
                            out.append(await resp.read())
                sim.advance(15.0 * step)
    finally:
        await sim.stop()
    return out


async def test_same_seed_and_clock_give_identical_bytes() -> None:
    first, second, other = await asyncio.gather(
        _session_bytes(5), _session_bytes(5), _session_bytes(6)
    )
    assert first == second
    assert first != other


async def test_listens_on_loopback_only(sim: Simulator) -> None:
    assert sim.base_url.startswith("http://127.0.0.1:")
    assert sim.addresses and all(host == "127.0.0.1" for host, _ in sim.addresses)
    port = sim.addresses[0][1]
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))  # UDP connect sends nothing; it picks a route
            own_ip = probe.getsockname()[0]
    except OSError:
        own_ip = "127.0.0.1"
    if own_ip.startswith("127."):
        pytest.skip("this machine has no non-loopback address")
    with pytest.raises(OSError), socket.create_connection((own_ip, port), timeout=2):
        pass
