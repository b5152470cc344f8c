"""HTTP responses the simulator sends: envelopes, and every fault's misbehaviour."""

from __future__ import annotations

import asyncio
import json
from functools import lru_cache
from typing import Any, Final

from aiohttp import web

from aireiter_tui.simulator.bombs import layered_bomb
from aireiter_tui.simulator.faults import (
    DEFAULT_HANG_SECONDS,
    HOSTILE_TEXTS,
    HOSTILE_URLS,
    LONG_HOSTILE,
    Fault,
    FiredFault,
)
from aireiter_tui.simulator.scenario import BASE, SimTask

JSON_TYPE: Final = "application/json"
HUGE_BODY_BYTES: Final = 5 * 1024 * 1024
#: How many lists :attr:`Fault.DEEP_NESTING` nests (``json`` accepts it: under 1000).
DEEP_LISTS: Final = 600
#: The IDs of the task :attr:`Fault.ANOTHER_TASK` answers with instead of the one asked.
OTHER_TASK_ID: Final = "order_SomeoneElsesTask-000000"
OTHER_OUT_TASK_ID: Final = "someone_elses_task"
#: The cookie :attr:`Fault.SET_COOKIE` sets.
COOKIE_NAME: Final = "sim_session"
# Stands for the nested lists in the JSON text until they are put in as bytes: json.dumps
# would recurse once per level.
_DEEP_MARKER: Final = "@@deep-nesting@@"

_HTML_ERRORS: Final = {
    500: ("500 Internal Server Error", "Internal Server Error"),
    502: ("502 Bad Gateway", "Bad Gateway"),
    503: ("503 Service Temporarily Unavailable", "Service Temporarily Unavailable"),
}
_MAINTENANCE_PAGE: Final = (
    "<!DOCTYPE html><html><head><title>Maintenance</title></head><body>"
    "<h1>We'll be right back</h1><p>The service is undergoing scheduled maintenance."
    "</p></body></html>"
)


def dumps(payload: Any, base: str) -> bytes:
    """Serialise once, then put the real base URL where stored strings hold the marker."""
    return (
        json.dumps(payload, ensure_ascii=False, separators=(",", ":")).replace(BASE, base).encode()
    )


def envelope(
    status_code: int, message: str, data: Any = None, *, http_status: int = 200
) -> web.Response:
    """The API's ``{"statusCode", "message", "data"}`` envelope."""
    body = {"statusCode": status_code, "message": message, "data": data}
    return web.Response(status=http_status, body=dumps(body, ""), content_type=JSON_TYPE)


def json_body(body: bytes) -> web.Response:
    return web.Response(body=body, content_type=JSON_TYPE)


def html_error(status: int) -> web.Response:
    """What nginx in front of an API sends when the upstream is unwell."""
    title, heading = _HTML_ERRORS[status]
    page = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{heading}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    return web.Response(status=status, text=page, content_type="text/html")


def rate_limited(retry_after: float | None) -> web.Response:
    headers = {} if retry_after is None else {"Retry-After": _header_seconds(retry_after)}
    body = {"statusCode": 429, "message": "Too Many Requests", "data": None}
    return web.Response(status=429, body=dumps(body, ""), content_type=JSON_TYPE, headers=headers)


def encoded(body: bytes, coding: str) -> web.Response:
    """``body`` sent as it is, labelled with the content coding ``coding``."""
    return web.Response(body=body, content_type=JSON_TYPE, headers={"Content-Encoding": coding})


def set_cookie(response: web.Response) -> None:
    """Make ``response`` set the cookie of :attr:`Fault.SET_COOKIE`."""
    response.set_cookie(COOKIE_NAME, "sim-cookie-value", path="/", httponly=True)


def _header_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


@lru_cache(maxsize=1)
def huge_body() -> bytes:
    """A valid envelope of 5 MB (built once: it is the same every time)."""
    head = b'{"statusCode":200,"message":"","data":{"status":"completed","padding":"'
    tail = b'"}}'
    return head + b"x" * (HUGE_BODY_BYTES - len(head) - len(tail)) + tail


async def truncated(request: web.Request, body: bytes) -> web.StreamResponse:
    """Send headers promising all of ``body`` and half of it, then close the connection."""
    response = web.StreamResponse(headers={"Content-Type": JSON_TYPE})
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    _close(request)
    return response


def _close(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        # close() flushes what is buffered first, so the client sees the partial body.
        transport.close()


async def dropped(request: web.Request) -> web.StreamResponse:
    """Close the connection without sending a byte."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError


async def lost_answer(fired: FiredFault, request: web.Request) -> web.StreamResponse:
    """:attr:`Fault.LOST_ANSWER`, once the request was carried out: wait the fault's
    ``delay`` (if any), then close the connection without a byte."""
    if fired.delay:
        await asyncio.sleep(fired.delay)
    return await dropped(request)


def content_fault(
    fault: Fault, task: SimTask, data: dict[str, Any], base: str, *, echo: str = ""
) -> web.Response:
    """The answer for ``task`` with one content fault applied to its ``data``.

    ``echo`` is the request's Authorization header, for :attr:`Fault.ECHO_KEY`.
    """
    envelope = {"statusCode": 200, "message": "", "data": distorted(fault, task, data, echo)}
    body = dumps(envelope, base)
    if fault is Fault.DEEP_NESTING:
        nested = b"[" * DEEP_LISTS + b"]" * DEEP_LISTS
        body = body.replace(f'"{_DEEP_MARKER}"'.encode(), nested)
    return json_body(body)


def distorted(fault: Fault, task: SimTask, data: dict[str, Any], echo: str = "") -> dict[str, Any]:
    """The task's ``data`` with one content fault applied (returns a new dict)."""
    data = dict(data)
    if fault is Fault.UNKNOWN_STATUS:
        data["status"] = "queued_for_review"
    elif fault is Fault.OUTPUT_NOT_LIST:
        data["status"] = "completed"
        data["output"] = "https://example.invalid/not-a-list.png"
    elif fault is Fault.OUTPUT_NO_URL:
        data["status"] = "completed"
        data["output"] = [{"uri": "https://example.invalid/x.png"}, {}, None, 42]
    elif fault is Fault.HOSTILE:
        data.update(hostile_data(task))
    elif fault is Fault.ANOTHER_TASK:
        data["task_id"], data["out_task_id"] = OTHER_TASK_ID, OTHER_OUT_TASK_ID
    elif fault is Fault.ECHO_KEY:
        data.update(echoed_key_data(data, echo))
    elif fault is Fault.DEEP_NESTING:
        data["metadata"] = {**(data.get("metadata") or {}), "deep": _DEEP_MARKER}
    return data


def echoed_key_data(data: dict[str, Any], echo: str) -> dict[str, Any]:
    """What a server that copies the Authorization header into its answers would send."""
    key = echo.partition(" ")[2] or echo
    task_input = dict(data.get("input") or {})
    params = dict(task_input.get("params") or {})
    params["prompt"] = f"{params.get('prompt', '')} (requested with {echo})"
    task_input["params"] = params
    return {
        "status": "completed",
        "input": task_input,
        "output": [{"url": f"https://example.invalid/out.png?token={key}"}],
        "error": {"message": f"Token {key} is over its quota", "details": [[{"auth": echo}]]},
        "metadata": {"authorization": echo, key: "the key as a name"},
    }


def hostile_data(task: SimTask) -> dict[str, Any]:
    """Every string a dashboard shows, made hostile (keeps the task's own ID)."""
    texts = list(HOSTILE_TEXTS)
    return {
        "status": "completed",
        "input": {
            "model": texts[0],
            "params": {
                "prompt": " | ".join(texts) + " " + LONG_HOSTILE,
                "image_url": ",".join(HOSTILE_URLS[:4]),
                texts[1]: texts[2],
            },
            "showPublic": texts[3],
            "attachments": [",".join(HOSTILE_URLS)],
        },
        "output": [{"url": url} for url in HOSTILE_URLS],
        "error": {"code": texts[0], "message": texts[1] + " " + LONG_HOSTILE, "detail": texts},
        "metadata": {texts[0]: texts[4], "note": texts[5], "url": HOSTILE_URLS[2]},
    }


async def transport_fault(
    fired: FiredFault, request: web.Request, normal: bytes | None
) -> web.StreamResponse | None:
    """The response for a fault that does not depend on the task, or ``None``.

    ``normal`` is the body the request would have had (for truncation and hangs).
    """
    fault = fired.fault
    if fault in (Fault.HTTP_500, Fault.HTTP_502, Fault.HTTP_503):
        return html_error(int(fault.value[4:]))
    if fault is Fault.RATE_LIMIT:
        return rate_limited(fired.retry_after if fired.retry_after is not None else 1)
    if fault is Fault.RATE_LIMIT_BARE:
        return rate_limited(None)
    if fault is Fault.NOT_JSON:
        return web.Response(text=_MAINTENANCE_PAGE, content_type="text/html")
    if fault is Fault.TRUNCATED:
        return await truncated(request, normal or huge_body()[:4096])
    if fault is Fault.DROP:
        return await dropped(request)
    if fault is Fault.LOST_ANSWER:
        return await lost_answer(fired, request)
    if fault is Fault.ENVELOPE_ERROR:
        return envelope(500, "Internal error, please retry later")
    if fault is Fault.AUTH_ENVELOPE:
        return envelope(401, "Invalid API key")
    if fault is Fault.DATA_NULL:
        return envelope(200, "")
    if fault is Fault.HUGE_BODY:
        return json_body(huge_body())
    if fault in (Fault.GZIP_BOMB, Fault.DEFLATE_BOMB):
        coding = "gzip" if fault is Fault.GZIP_BOMB else "deflate"
        return encoded(layered_bomb(coding), f"{coding}, {coding}")
    if fault is Fault.UNKNOWN_ENCODING:
        return encoded(normal or dumps({"statusCode": 404, "message": "Task not found"}, ""), "br")
    if fault is Fault.HANG:
        await asyncio.sleep(fired.delay if fired.delay is not None else DEFAULT_HANG_SECONDS)
    return None
