"""The client's shortcuts on the polling path decide exactly what the long way decides.

Each query used to walk the decoded answer for its depth and the API key, clean the ID
for its messages, check the ID character by character and read every header through
httpx's decoding mapping; the shortcuts below skip that work when the bytes show it has
nothing to do. These tests hold them to the long way's answers.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import aiohttp
import httpx
import pytest
from client_fixtures import KEY, envelope, make_client, reply
from hypothesis import given
from hypothesis import strategies as st

from aireiter_tui.api.client import _plain_headers
from aireiter_tui.api.mapping import (
    MAX_DEPTH,
    _plainly_within,
    _within_depth_and_masked,
    shown_text,
)
from aireiter_tui.domain.errors import BadResponseError, NetworkError
from aireiter_tui.domain.models import validate_task_id
from aireiter_tui.domain.sanitize import clean
from aireiter_tui.domain.secret import ApiKey

API_KEY = ApiKey(KEY)
# Pieces that make the shortcut's cases: the key and parts of it, escapes, quotes,
# brackets inside strings, non-ASCII, controls.
_TEXTS = st.lists(
    st.sampled_from([KEY, KEY[:9], KEY[9:], "\\", '"', "[", "{", "]", "}", "é", "\x00", "a", " "]),
    max_size=6,
).map("".join)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXTS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXTS, inner, max_size=3),
    max_leaves=40,
)


def _long_way(value: Any) -> tuple[bool, Any]:
    walked = copy.deepcopy(value)
    return _within_depth_and_masked(walked, API_KEY), walked


@given(_JSON, st.booleans())
def test_the_shortcut_only_says_yes_where_the_walk_finds_nothing_to_do(
    value: Any, ascii_only: bool
) -> None:
    raw = json.dumps({"data": value}, ensure_ascii=ascii_only).encode()
    if _plainly_within(raw, API_KEY):
        within, walked = _long_way(json.loads(raw))
        assert within and walked == json.loads(raw)  # not too deep, nothing masked


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (json.dumps(envelope({"prompt": "a dog"})).encode(), True),
        # Brackets inside strings are not containers.
        (json.dumps(envelope({"prompt": "[" * 500})).encode(), True),
        # The key, plainly or escaped: the walk must mask it.
        (json.dumps(envelope({"prompt": f"echo {KEY}"})).encode(), False),
        (json.dumps(envelope({"prompt": KEY.replace("s", "\\u0073", 1)})).encode(), False),
        # Not UTF-8 as json reads it: UTF-16 with and without a BOM.
        (json.dumps(envelope({})).encode("utf-16"), False),
        (json.dumps(envelope({})).encode("utf-16-le"), False),
        # More containers than the depth allows, so the walk decides.
        (json.dumps(envelope({"outputs": [{} for _ in range(MAX_DEPTH)]})).encode(), False),
        (b"", False),
        (None, False),
    ],
)
def test_the_shortcut_on_answers_a_server_may_send(raw: bytes | None, expected: bool) -> None:
    assert _plainly_within(raw, API_KEY) is expected


async def test_a_key_escaped_in_the_answer_is_still_masked() -> None:
    escaped = KEY.replace("s", "\\u0073", 1)
    # Written by hand: json.dumps would escape the backslash of the escape.
    body = '{"statusCode":200,"data":{"status":"pending","metadata":{"k":"KEY"}}}'
    async with make_client(reply(200, body.replace("KEY", escaped).encode())) as client:
        task = await client.query(task_id="order_abc")
    assert task.metadata == {"k": str(API_KEY)}
    assert KEY not in json.dumps(task.raw)


async def test_brackets_in_strings_never_count_as_depth_but_containers_do() -> None:
    async with make_client(reply(200, envelope({"status": "pending", "p": "[" * 5000}))) as client:
        assert (await client.query(task_id="order_abc")).raw["p"] == "[" * 5000
    deep: Any = "x"
    for _ in range(MAX_DEPTH):
        deep = [deep]
    async with make_client(reply(200, envelope({"status": "pending", "d": deep}))) as client:
        with pytest.raises(BadResponseError, match="nested more than"):
            await client.query(task_id="order_abc")


@pytest.mark.parametrize(
    "text",
    ["order_lwU2d-VkUq9-tlCCmrdYu", "a b", "x" * 80, "x" * 81, "tab\there", "é", "\x1b[31m", ""],
)
def test_shown_text_is_what_clean_makes_of_it(text: str) -> None:
    assert shown_text(text) == clean(text, max_length=80, single_line=True)


@pytest.mark.parametrize(
    "ident",
    ["order_1", "mine.2:x@y+z=~", "has space", "a,b", "https://x", "cut…", "\x00", "x" * 257],
)
async def test_an_id_is_refused_exactly_when_validate_task_id_refuses_it(ident: str) -> None:
    async with make_client(reply(200, envelope({"status": "pending"}))) as client:
        if validate_task_id(ident) is None:
            await client.query(task_id=ident)
        else:
            with pytest.raises(ValueError, match="Cannot query"):
                await client.query(task_id=ident)


def test_headers_are_read_once_as_httpx_would_read_them() -> None:
    response = httpx.Response(
        200,
        headers=[
            (b"Content-Encoding", b"gzip"),
            (b"content-encoding", b"deflate"),
            (b"Content-Type", b"application/json"),
            (b"X-Odd", "caf\u00e9".encode("latin-1")),
        ],
    )
    plain = _plain_headers(response)
    assert plain["content-encoding"] == response.headers["content-encoding"] == "gzip, deflate"
    assert plain["content-type"] == "application/json"
    assert plain["x-odd"] == response.headers["x-odd"]


async def test_a_bare_aiohttp_connection_error_reads_as_a_hang_up() -> None:
    """The client's transport hands aiohttp's errors over unmapped: one that says no more
    than "connection closed" is a hang-up (retried once for a query), not a bug."""
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise aiohttp.ClientConnectionError("Connection closed")

    async with make_client(handler) as client:
        with pytest.raises(NetworkError, match="closed the connection without answering"):
            await client.query(task_id="order_abc")
    assert len(calls) == 2
