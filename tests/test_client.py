"""AIReiterClient: requests sent, answers parsed, every failure mapped to a clear error.

Almost everything runs over ``httpx.MockTransport``; one test runs the default aiohttp
transport against a tiny aiohttp server on 127.0.0.1, because httpx_aiohttp maps
aiohttp's errors in surprising ways that only a real socket shows.
"""

from __future__ import annotations

import asyncio
import json
import traceback
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from aireiter_tui.client import AIReiterClient, check_base_url, parse_retry_after
from aireiter_tui.domain.models import IdKind, TaskRef, TaskStatus
from aireiter_tui.domain.secret import ApiKey
from aireiter_tui.errors import (
    AIReiterError,
    AuthenticationError,
    BadResponseError,
    InsecureURLError,
    NetworkError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    TaskNotFoundError,
)

KEY = "sk-live-Zq9SECRETkey-0123456789abcdef"
BASE = "https://api.example.test"
# Copied verbatim from the reference page (/work/shared/api/000_20e6f17c70b5a3ca.txt).
REFERENCE_RESPONSE = (Path(__file__).parent / "data" / "reference_response.json").read_text()
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that records the requests and answers with ``respond``."""

    def __init__(self, respond: Handler) -> None:
        self.respond = respond
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.respond(request)


def reply(status: int = 200, body: Any = None, **kwargs: Any) -> Handler:
    """A handler answering ``status`` with ``body`` as JSON (bytes/str are sent as they are)."""

    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, bytes | str):
            return httpx.Response(status, content=body, **kwargs)
        return httpx.Response(status, json=body, **kwargs)

    return handler


def envelope(data: Any, code: Any = 200, message: str = "") -> dict[str, Any]:
    return {"statusCode": code, "message": message, "data": data}


def make_client(handler: Handler, **kwargs: Any) -> AIReiterClient:
    kwargs.setdefault("transport", httpx.MockTransport(handler))
    return AIReiterClient(BASE, ApiKey(KEY), **kwargs)


def assert_key_absent(exc: BaseException) -> None:
    """The key is in no message, repr, traceback text, chained error or traceback local."""
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    if isinstance(exc, AIReiterError):
        texts.append(exc.human())
    assert exc.__cause__ is None and exc.__context__ is None
    tb = exc.__traceback__
    while tb is not None:
        texts.extend(repr(value) for value in tb.tb_frame.f_locals.values())
        tb = tb.tb_next
    for text in texts:
        assert KEY not in text


async def query_error(handler: Handler, **kwargs: Any) -> AIReiterError:
    async with make_client(handler, **kwargs) as client:
        with pytest.raises(AIReiterError) as info:
            await client.query(task_id="order_abc")
    assert_key_absent(info.value)
    return info.value


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


LEAK = f"invalid token Bearer {KEY} for this account"


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (reply(401, {"message": LEAK}), AuthenticationError),
        (reply(403, f"forbidden: {KEY}"), AuthenticationError),
        (reply(200, envelope(None, 401, LEAK)), AuthenticationError),
        (reply(200, envelope(None, "403", LEAK)), AuthenticationError),
        (reply(404, {"message": "gone"}), TaskNotFoundError),
        (reply(404, b""), TaskNotFoundError),
        (reply(200, envelope(None, 404, "")), TaskNotFoundError),
        (reply(400, {"message": "Task not found"}), TaskNotFoundError),
        (reply(200, envelope(None, 200, "task does not exist")), TaskNotFoundError),
        (reply(200, envelope(None, 500, "task not found")), TaskNotFoundError),
        (reply(500, {"message": f"boom {KEY}"}), ServerError),
        (reply(503, b""), ServerError),
        (reply(200, envelope(None, 500, f"internal {KEY}")), BadResponseError),
        (reply(200, envelope({"status": "x"}, "weird")), BadResponseError),
        (reply(200, b"definitely not json"), BadResponseError),
        (reply(200, b"<html><body>login</body></html>"), BadResponseError),
        (reply(200, [1, 2]), BadResponseError),
        (reply(200, envelope(None)), BadResponseError),
        (reply(200, envelope([{"status": "pending"}])), BadResponseError),
        (reply(200, b""), BadResponseError),
        (
            reply(404, b"<html>nginx</html>", headers={"Content-Type": "text/html"}),
            BadResponseError,
        ),
        (reply(400, f"bad request {KEY}"), BadResponseError),
    ],
)
async def test_error_mapping(handler: Handler, error: type[AIReiterError]) -> None:
    exc = await query_error(handler)
    assert type(exc) is error
    assert exc.message.endswith((".", "…")) or ": " in exc.message


async def test_key_scrubbed_from_echoed_message() -> None:
    exc = await query_error(reply(401, {"message": LEAK}))
    assert "invalid token Bearer ******** for this account" in str(exc)
    assert "(HTTP 401)" in str(exc)


async def test_long_server_message_is_bounded_and_cleaned() -> None:
    exc = await query_error(reply(200, envelope(None, 418, "\x1b[31mred" + "x" * 5000)))
    assert len(exc.message) < 300 and "\x1b" not in exc.message and "status 418" in exc.message


async def test_html_error_page_is_summarised() -> None:
    page = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>"
    exc = await query_error(reply(502, page, headers={"Content-Type": "text/html"}))
    assert isinstance(exc, ServerError) and exc.status_code == 502
    assert "error page" in exc.message and "502" in exc.message and "<" not in exc.message


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("7", 7.0), ("0", 0.0), ("99999999", 3600.0), ("soon", None), ("-3", None)],
)
async def test_rate_limit_retry_after(header: str | None, expected: float | None) -> None:
    headers = {"Retry-After": header} if header is not None else {}
    exc = await query_error(reply(429, {"message": "slow down"}, headers=headers))
    assert isinstance(exc, RateLimitedError) and exc.retry_after == expected


async def test_rate_limit_retry_after_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    exc = await query_error(reply(429, b"", headers={"Retry-After": when}))
    assert isinstance(exc, RateLimitedError) and exc.retry_after is not None
    assert 100 <= exc.retry_after <= 120


def test_parse_retry_after() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now=now) == 30
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:00 GMT", now=now) == 3600
    for bad in ("", "nan", "inf", "x" * 100, "Mon, 99 Foo 2025"):
        assert parse_retry_after(bad, now=now) is None


async def test_large_body_is_not_read_whole() -> None:
    chunk, served = b"x" * 65536, []

    async def five_megabytes() -> AsyncIterator[bytes]:
        for _ in range(80):
            served.append(1)
            yield chunk

    exc = await query_error(lambda request: httpx.Response(200, content=five_megabytes()))
    assert isinstance(exc, BadResponseError)
    assert exc.message == "The response was larger than 1 MB; not read."
    assert len(served) <= 1_000_000 // len(chunk) + 2


async def test_declared_large_body_is_refused_before_reading() -> None:
    exc = await query_error(reply(200, b"{}" * 600), max_body_bytes=1000)
    assert isinstance(exc, BadResponseError) and "0.001 MB" in exc.message


async def test_redirect_is_not_followed() -> None:
    recorder = Recorder(reply(302, b"", headers={"Location": "https://evil.example/steal"}))
    exc = await query_error(recorder)
    assert isinstance(exc, BadResponseError) and "evil.example" in exc.message
    assert "not followed" in exc.message and len(recorder.requests) == 1


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("exc", "error", "words"),
    [
        (httpx.ReadTimeout("slow"), RequestTimeoutError, "timed out"),
        (httpx.ConnectTimeout("slow"), RequestTimeoutError, "timed out"),
        (httpx.PoolTimeout("busy"), RequestTimeoutError, "timed out"),
        (httpx.ConnectError("[Errno 111] Connection refused"), NetworkError, "connect"),
        (httpx.RemoteProtocolError("hung up"), NetworkError, "without answering"),
        (httpx.ReadError("reset"), NetworkError, "reset"),
        (httpx.UnsupportedProtocol("gopher"), NetworkError, "failed unexpectedly"),
        (KeyError("bug in a transport"), AIReiterError, "failed unexpectedly"),
    ],
)
async def test_transport_failures(exc: Exception, error: type[AIReiterError], words: str) -> None:
    failure = await query_error(raising(exc))
    assert type(failure) is error and words in failure.message
    assert "order_abc" in failure.message or "connect" in failure.message


async def test_dropped_connection_retried_once_for_query_not_submit() -> None:
    recorder = Recorder(raising(httpx.RemoteProtocolError("Server disconnected")))
    async with make_client(recorder) as client:
        with pytest.raises(NetworkError):
            await client.query(task_id="order_1")
        assert len(recorder.requests) == 2
        with pytest.raises(NetworkError):
            await client.submit(model="m", params={}, out_task_id="mine_1")
        assert len(recorder.requests) == 3


async def test_body_cut_off_midway() -> None:
    async def half() -> AsyncIterator[bytes]:
        yield b'{"statusCode": 200, "data": {'
        raise httpx.ReadError("connection reset")

    exc = await query_error(lambda request: httpx.Response(200, content=half()))
    assert type(exc) is NetworkError and "cut off" in exc.message and "order_abc" in exc.message


async def test_whole_exchange_deadline_stops_a_trickling_server() -> None:
    never = asyncio.Event()

    async def trickle() -> AsyncIterator[bytes]:
        yield b"{"
        await never.wait()

    exc = await query_error(lambda r: httpx.Response(200, content=trickle()), timeout=0.05)
    assert isinstance(exc, RequestTimeoutError) and "0.05 s" in exc.message


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


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        (reply(401, {"message": LEAK}), AuthenticationError),
        (reply(404, {"message": "no route"}), BadResponseError),
        (reply(200, envelope(None)), BadResponseError),
    ],
)
async def test_submit_error_mapping(handler: Handler, error: type[AIReiterError]) -> None:
    async with make_client(handler) as client:
        with pytest.raises(AIReiterError) as info:
            await client.submit(model="m", params={}, out_task_id="mine_1")
    assert type(info.value) is error
    assert_key_absent(info.value)


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
            assert (await client.query(task_id="ok")).status is TaskStatus.COMPLETED
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
            assert (await client.query(task_id="ok")).task_id == "order_lwU2d-VkUq9-tlCCmrdYu"
            release.set()
            await runner.cleanup()
            with pytest.raises(NetworkError, match="refused") as refused:
                await client.query(task_id="ok")
            for exc in (cut.value, hangup.value, refused.value):
                assert_key_absent(exc)
    finally:
        release.set()
        await runner.cleanup()
