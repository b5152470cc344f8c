"""AIReiterClient: requests sent, answers parsed, every failure mapped to a clear error.

Almost everything runs over ``httpx.MockTransport``; one test runs the default aiohttp
transport against a tiny aiohttp server on 127.0.0.1, because httpx_aiohttp maps
aiohttp's errors in surprising ways that only a real socket shows. How each failure
maps to an error is in ``test_client_errors.py``.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx
import pytest
from aiohttp import web
from client_fixtures import (
    BASE,
    KEY,
    REFERENCE_RESPONSE,
    Recorder,
    assert_key_absent,
    envelope,
    make_client,
    reply,
)

from aireiter_tui.api.client import AIReiterClient
from aireiter_tui.api.mapping import check_base_url
from aireiter_tui.domain.errors import (
    AIReiterError,
    AuthenticationError,
    InsecureURLError,
    NetworkError,
    RequestTimeoutError,
)
from aireiter_tui.domain.models import IdKind, TaskRef, TaskStatus
from aireiter_tui.domain.secret import ApiKey


async def test_reference_example_is_parsed() -> None:
    recorder = Recorder(
        reply(200, REFERENCE_RESPONSE, headers={"Content-Type": "application/json"})
    )
    async with make_client(recorder) as client:
        task = await client.query(task_id="order_lwU2d-VkUq9-tlCCmrdYu")
    assert task.task_id == "order_lwU2d-VkUq9-tlCCmrdYu"
    assert task.status is TaskStatus.COMPLETED
    assert task.created_at == datetime(2025, 12, 18, 10, 12, 11, tzinfo=UTC)
    assert task.model == "nano_banana" and task.prompt == "dog"
    assert task.input is not None and len(task.input.attachments) == 3
    assert task.outputs[0].url.endswith("hYtdX7AInk4HgErJCgD-w-item-0.jpeg")
    assert task.credits_used == 100 and task.warnings == ()


async def test_request_headers_and_body() -> None:
    recorder = Recorder(reply(200, envelope({"status": "pending"})))
    async with make_client(recorder, user_agent="probe/1") as client:
        by_id = await client.query(task_id="order_1")
        by_out = await client.query_ref(TaskRef(IdKind.OUT_TASK_ID, "mine_2"))
    first, second = recorder.requests
    assert first.method == "POST" and str(first.url) == f"{BASE}/api/openapi/query"
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert first.headers["content-type"] == "application/json"
    assert first.headers["user-agent"] == "probe/1"
    assert json.loads(first.content) == {"task_id": "order_1"}
    assert json.loads(second.content) == {"out_task_id": "mine_2"}
    # The API did not echo the IDs: the ones we asked by are filled in.
    assert by_id.task_id == "order_1" and by_out.out_task_id == "mine_2"


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"task_id": "a", "out_task_id": "b"}, {"task_id": "has space"}, {"out_task_id": ""}],
)
async def test_query_needs_exactly_one_usable_id(kwargs: dict[str, str]) -> None:
    recorder = Recorder(reply(200, envelope({})))
    async with make_client(recorder) as client:
        with pytest.raises(ValueError):
            await client.query(**kwargs)
    assert recorder.requests == []


@pytest.mark.parametrize("key", [None, ApiKey("")])
async def test_no_key_fails_without_a_request(key: ApiKey | None) -> None:
    recorder = Recorder(reply(200, envelope({})))
    transport = httpx.MockTransport(recorder)
    async with AIReiterClient(BASE, key, transport=transport) as client:
        with pytest.raises(AuthenticationError, match="No API key is set"):
            await client.query(task_id="order_1")
    assert recorder.requests == []


async def test_submit_sends_body_and_returns_data() -> None:
    data = {"task_id": "order_9", "out_task_id": "mine_9", "status": "pending"}
    recorder = Recorder(reply(200, envelope(data)))
    async with make_client(recorder) as client:
        result = await client.submit(
            model="nano_banana",
            params={"prompt": "dog"},
            out_task_id="mine_9",
            callback_url="https://cb.example/x",
            metadata={"k": 1},
        )
        with pytest.raises(ValueError):
            await client.submit(model="", params={}, out_task_id="mine_9")
        with pytest.raises(ValueError):
            await client.submit(model="m", params={"x": object()}, out_task_id="mine_9")
    assert result == data and len(recorder.requests) == 1
    sent = recorder.requests[0]
    assert str(sent.url) == f"{BASE}/api/openapi/submit"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert json.loads(sent.content) == {
        "model": "nano_banana",
        "params": {"prompt": "dog"},
        "out_task_id": "mine_9",
        "callback_url": "https://cb.example/x",
        "metadata": {"k": 1},
    }


async def test_repr_and_closed_client() -> None:
    client = make_client(reply(200, envelope({})))
    assert repr(client) == f"AIReiterClient(base_url='{BASE}')" and KEY not in repr(vars(client))
    assert client.base_url == BASE
    await client.aclose()
    await client.aclose()
    with pytest.raises(AIReiterError, match="closed"):
        await client.query(task_id="order_1")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://aireiter.com/", "https://aireiter.com"),
        ("  HTTPS://AIReiter.COM//  ", "https://aireiter.com"),
        ("https://test.aireiter.com/prefix/", "https://test.aireiter.com/prefix"),
        ("http://localhost:8080/", "http://localhost:8080"),
        ("http://127.0.0.5:9", "http://127.0.0.5:9"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_check_base_url_accepts(url: str, expected: str) -> None:
    assert check_base_url(url) == expected


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://aireiter.com", "--allow-insecure-http"),
        ("http://10.0.0.2:8080", "unencrypted"),
        ("", "empty"),
        ("aireiter.com", "https://"),
        ("ftp://aireiter.com", "https://"),
        ("https://", "no host"),
        ("https://user:pw@aireiter.com", "user name or password"),
        ("https://aireiter.com/?x=1", "'?' or '#'"),
        ("https://aireiter.com:99999", "not a valid URL"),
        ("https://[::1", "not a valid URL"),
        ("https://aire iter.com", "spaces"),
        ("https://aireiter.com/\x1b[31m", "control characters"),
    ],
)
def test_check_base_url_refuses(url: str, words: str) -> None:
    with pytest.raises(InsecureURLError) as info:
        check_base_url(url)
    assert words in info.value.message and "\x1b" not in info.value.message


def test_insecure_http_allowed_only_with_the_flag() -> None:
    assert check_base_url("http://sim.lan:80/", allow_insecure_http=True) == "http://sim.lan:80"
    with pytest.raises(InsecureURLError, match="allow-insecure-http"):
        AIReiterClient("http://sim.lan", ApiKey(KEY))


async def test_real_socket_through_aiohttp_transport() -> None:
    """The default transport over a real socket: canned answer, cut body, hang-up, refusal."""
    ok = "order_lwU2d-VkUq9-tlCCmrdYu"  # the reference answer's own ID
    hits: dict[str, int] = {}
    release = asyncio.Event()

    async def handle(request: web.Request) -> web.StreamResponse:
        task_id = (await request.json())["task_id"]
        hits[task_id] = hits.get(task_id, 0) + 1
        if task_id == "cut":
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            response.content_length = 10_000
            await response.prepare(request)
            await response.write(b'{"statusCode": 200, "data": {')
            assert request.transport is not None
            request.transport.close()
            return response
        if task_id == "hangup":
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if task_id == "slow":
            await release.wait()
        return web.json_response(json.loads(REFERENCE_RESPONSE))

    app = web.Application()
    app.router.add_post("/api/openapi/query", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        url = f"http://127.0.0.1:{port}"
        async with AIReiterClient(url, ApiKey(KEY)) as client:
            assert (await client.query(task_id=ok)).status is TaskStatus.COMPLETED
            with pytest.raises(NetworkError, match="cut off") as cut:
                await client.query(task_id="cut")
            assert type(cut.value) is NetworkError
            # httpx_aiohttp turns ServerDisconnectedError into httpx.ConnectTimeout: it must
            # still read as a hang-up, not a timeout, and a query is retried once.
            with pytest.raises(NetworkError, match="without answering") as hangup:
                await client.query(task_id="hangup")
            assert type(hangup.value) is NetworkError and hits["hangup"] == 2
            # A short timeout only here: the other queries must not depend on machine speed.
            async with AIReiterClient(url, ApiKey(KEY), timeout=0.1) as hasty:
                with pytest.raises(RequestTimeoutError):
                    await hasty.query(task_id="slow")
            assert (await client.query(task_id=ok)).task_id == "order_lwU2d-VkUq9-tlCCmrdYu"
            release.set()
            await runner.cleanup()
            with pytest.raises(NetworkError, match="refused") as refused:
                await client.query(task_id=ok)
            for exc in (cut.value, hangup.value, refused.value):
                assert_key_absent(exc)
    finally:
        release.set()
        await runner.cleanup()
