"""AIReiterClient: every failure (HTTP status, envelope, body, transport) mapped to a clear error.

All over ``httpx.MockTransport``; the error must never carry the API key.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from client_fixtures import (
    KEY,
    Handler,
    Recorder,
    assert_key_absent,
    envelope,
    make_client,
    query_error,
    reply,
)

from aireiter_tui.api.mapping import parse_retry_after
from aireiter_tui.domain.errors import (
    AIReiterError,
    AuthenticationError,
    BadResponseError,
    NetworkError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    TaskNotFoundError,
)

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
