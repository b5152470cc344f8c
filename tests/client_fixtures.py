"""Shared helpers for the client tests: a recording MockTransport handler and canned replies."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from aireiter_tui.api.client import AIReiterClient
from aireiter_tui.domain.errors import AIReiterError
from aireiter_tui.domain.secret import ApiKey

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
