"""How the client judges URLs, answers and failures: pure functions, no I/O.

:mod:`aireiter_tui.api.client` does the talking; this module decides what an answer or a
transport failure means and words it for a person. Every error is *returned*, not
raised, so the client can raise it outside any ``except`` block (see there why).
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import math
import re
import socket
import ssl
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import httpx

from aireiter_tui.domain.errors import (
    AIReiterError,
    AuthenticationError,
    BadResponseError,
    InsecureURLError,
    RateLimitedError,
    RejectedError,
    ServerError,
    TaskNotFoundError,
)
from aireiter_tui.domain.poll_gate import MAX_RETRY_AFTER
from aireiter_tui.domain.sanitize import clean
from aireiter_tui.domain.secret import ApiKey

MAX_SERVER_TEXT: Final = 200
#: The deepest nesting of objects and lists an answer may have (the envelope is level 1).
#: Far beyond any real task; deeper ones are refused so nothing later (a repr, a pickle, a
#: deepcopy) recurses into them.
MAX_DEPTH: Final = 64
_NOT_FOUND_RE: Final = re.compile(r"not[\s_-]*found|does ?n[o']t exist|no such task", re.I)
_MESSAGE_KEYS: Final = ("message", "msg", "error", "detail", "error_message")
_NOT_JSON: Final[Any] = object()


def check_base_url(url: str, *, allow_insecure_http: bool = False) -> str:
    """Validate the server's base URL and return it without a trailing slash.

    Raises:
        InsecureURLError: for every problem, malformed URLs included (so callers catch one
            class); the message says what to change.
    """
    text = url.strip() if isinstance(url, str) else ""
    shown = shown_text(text)
    if not text:
        raise InsecureURLError("The server URL is empty; give one like https://aireiter.com.")
    if any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in text):
        raise InsecureURLError(f"The server URL {shown!r} contains spaces or control characters.")
    try:
        parts = urlsplit(text)
        host = parts.hostname
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        raise InsecureURLError(f"The server URL {shown!r} is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InsecureURLError(
            f"The server URL {shown!r} must start with https:// (like https://aireiter.com)."
        )
    if not host:
        raise InsecureURLError(f"The server URL {shown!r} has no host name.")
    if parts.username is not None or parts.password is not None:
        raise InsecureURLError(
            f"The server URL {shown!r} must not contain a user name or password."
        )
    if parts.query or parts.fragment:
        raise InsecureURLError(f"The server URL {shown!r} must not contain '?' or '#'.")
    if scheme == "http" and not allow_insecure_http and not _is_loopback(host):
        raise InsecureURLError(
            f"The server URL {shown!r} uses plain http:// to {host}, which would send your API"
            " key unencrypted; use https://, or pass --allow-insecure-http if you really mean it."
        )
    return urlunsplit((scheme, parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or HTTP-date), at most
    :data:`~aireiter_tui.domain.poll_gate.MAX_RETRY_AFTER` (an hour).

    Returns ``None`` when the header is absent or unreadable; a date in the past gives 0.
    """
    text = value.strip() if value else ""
    if not text or len(text) > 64:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        seconds = max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER)


def shown_text(text: str) -> str:
    """A user-given string (an ID, a URL) made safe and short for a message."""
    if len(text) <= 80 and text.isascii() and text.isprintable():
        return text  # what clean() would return, at once: every query names its task
    return clean(text, max_length=80, single_line=True)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


_CAUSES: Final[tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...]] = (
    ((aiohttp.ServerTimeoutError, TimeoutError), "timeout"),
    ((aiohttp.ClientConnectorDNSError, socket.gaierror), "dns"),
    ((aiohttp.ClientConnectorCertificateError, ssl.SSLCertVerificationError), "certificate"),
    ((aiohttp.ClientSSLError, ssl.SSLError), "tls"),
    (ConnectionRefusedError, "refused"),
    (aiohttp.ServerDisconnectedError, "closed"),
    (aiohttp.ClientPayloadError, "cut"),
    (ConnectionResetError, "reset"),
    (aiohttp.ClientResponseError, "garbled"),
    (aiohttp.ClientConnectorError, "connect"),
)
_FALLBACKS: Final[tuple[tuple[type[Exception], str], ...]] = (
    (httpx.TimeoutException, "timeout"),
    (httpx.ConnectError, "connect"),
    (httpx.RemoteProtocolError, "closed"),
    (httpx.ReadError, "reset"),
    (httpx.WriteError, "reset"),
    (httpx.DecodingError, "decoding"),
    (OSError, "connect"),
    # aiohttp's bare "Connection closed" (its OSError kinds are taken just above).
    (aiohttp.ClientConnectionError, "closed"),
)


def transport_kind(exc: BaseException) -> str:
    """Say what really went wrong under a transport error, as one word.

    The cause chain decides, outermost link first (a transport may wrap the error that
    says what happened: a refused connection inside a connector error); the outer class
    only when no cause says more (``httpx.MockTransport`` raising httpx's own errors).
    """
    for link in _chain(exc):
        for types, kind in _CAUSES:
            if isinstance(link, types) and not (kind == "connect" and _deeper_reason(link)):
                return kind
    return next((kind for types, kind in _FALLBACKS if isinstance(exc, types)), "unexpected")


def _deeper_reason(link: BaseException) -> bool:
    """A generic connector error whose own cause (refused, reset, ...) says more."""
    return any(
        isinstance(inner, types) and kind != "connect"
        for inner in list(_chain(link))[1:]
        for types, kind in _CAUSES
    )


def interpret(
    status: int,
    headers: Mapping[str, str],
    raw: bytes | None,
    *,
    subject: str,
    endpoint: str,
    api_key: ApiKey | None,
) -> dict[str, Any] | AIReiterError:
    """Turn an answer into the envelope's ``data`` object or the error it amounts to.

    HTTP status and envelope ``statusCode`` share the rules for 401/403 (auth), 429 (rate
    limited) and 404 or a "not found" message (unknown task, queries only). Beyond those,
    HTTP 5xx is a server error, any other HTTP error or envelope status a bad response. A
    missing ``statusCode`` in an HTTP 200 counts as 200. A 404 *web page* means the base URL
    is wrong, not the task, so it is a bad response: polling must not write tasks off for it.

    Args:
        status: The HTTP status (never a 3xx: the client handles redirects first).
        headers: The response headers.
        raw: The body, or ``None`` when it was too large or broke off (error statuses).
        subject: Names the task in messages ("task order_x").
        endpoint: ``query`` or ``submit`` (only a query can be about an unknown task).
        api_key: Masked in every string the answer holds, at any depth.
    """
    is_html = "html" in headers.get("content-type", "").lower() or (raw or b"").lstrip()[:1] == b"<"
    envelope: Any = _NOT_JSON
    too_deep = False
    if raw and not is_html:
        try:
            envelope = json.loads(raw)
        except RecursionError:
            too_deep = True  # deeper than json's own recursion allows: far past MAX_DEPTH
        except ValueError:
            envelope = _NOT_JSON
    if too_deep or not (
        _plainly_within(raw, api_key) or _within_depth_and_masked(envelope, api_key)
    ):
        # Nothing from a reply this deep is used, not even a message for an error status.
        envelope, too_deep = None, True
    said = _server_text(envelope, raw, is_html, api_key)
    suffix = f": {said}" if said else "."
    retry_after = parse_retry_after(headers.get("retry-after"))
    if not 200 <= status < 300:
        if status >= 500:
            detail = "returned an error page" if is_html else "had an internal error"
            return ServerError(f"The server {detail} (HTTP {status}){suffix}", status)
        if status == 404 and is_html:
            # A web page, not the API's JSON: the base URL is wrong, not the task.
            return BadResponseError(
                "The server has no AIReiter API at this address (HTTP 404 with a web page);"
                " check the server URL."
            )
        common = _common_error(status, f"HTTP {status}", said, subject, endpoint, retry_after)
        refused = _refusal(status, endpoint)
        return common or refused(
            f"The server rejected the request for {subject} (HTTP {status}){suffix}"
        )
    if too_deep:
        return BadResponseError(
            f"The server's answer for {subject} is nested more than {MAX_DEPTH} levels deep;"
            " not read."
        )
    if not isinstance(envelope, dict):
        what = "a web page" if is_html else "not JSON" if envelope is _NOT_JSON else "no object"
        return BadResponseError(f"The server's answer for {subject} was {what}.")
    code = _envelope_code(envelope.get("statusCode", 200))
    if code != 200:
        common = _common_error(code, f"status {code}", said, subject, endpoint, retry_after)
        reported = f"status {code}" if code else "an unreadable statusCode"
        refused = _refusal(code, endpoint)
        return common or refused(f"The server reported {reported} for {subject}{suffix}")
    data = envelope.get("data")
    if isinstance(data, dict):
        return data
    if endpoint == "query" and _NOT_FOUND_RE.search(said):
        return TaskNotFoundError(f"The server does not know {subject}: {said}")
    return BadResponseError(f"The server's answer for {subject} holds no task data{suffix}")


def _refusal(code: int, endpoint: str) -> type[BadResponseError]:
    """The class of an error status the common rules left: a submit refused outright
    (4xx) created no task, which the duplicate guard must know; anything else (a query's
    4xx, a 404 that means no API at this address, a 5xx in an envelope) says no more than
    that the answer is unusable."""
    if endpoint == "submit" and 400 <= code < 500 and code != 404:
        return RejectedError
    return BadResponseError


#: JSON strings with no escapes in them (the only strings where no backslash is in the body).
_PLAIN_STRING_RE: Final = re.compile(rb'"[^"]*"')
_NOT_BRACKETS: Final = bytes(set(range(256)) - set(b"[]{}"))


def _plainly_within(raw: bytes | None, api_key: ApiKey | None) -> bool:
    """Whether the bytes alone show that the JSON decoded from ``raw`` is no deeper than
    :data:`MAX_DEPTH` and holds the key nowhere, so :func:`_within_depth_and_masked` has
    nothing to do; ``False`` when they cannot tell (then it walks the decoded answer).

    Told at C speed for the usual answer: UTF-8 JSON (what ``json.loads`` reads bytes as
    when neither of the first two is NUL and there is no BOM) with no backslash, so every
    decoded string is its bytes as sent, and the key's bytes are not among them; and
    outside the strings, no more containers than the depth allows.
    """
    if not raw or len(raw) < 2 or not raw[0] or not raw[1] or raw[0] >= 0x80 or b"\\" in raw:
        return False
    if api_key:
        text = raw.decode("utf-8", errors="replace")
        if api_key.scrub(text) != text:
            return False
    brackets = _PLAIN_STRING_RE.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return brackets.count(b"{") + brackets.count(b"[") <= MAX_DEPTH


def _within_depth_and_masked(value: Any, api_key: ApiKey | None) -> bool:
    """Check decoded JSON for :data:`MAX_DEPTH`, masking the key in it on the way.

    Every string, dictionary keys included, at any depth and also as a substring, gets the
    key replaced by a mask *in place* (``json.loads`` made these objects for us alone): a
    server that echoes the Authorization header into a prompt, an error or an output URL
    must not get the key onto the screen, into ``query``'s output or the snapshot cache.
    Iterative, not recursive: a recursive walk is what deep nesting would break.

    Returns:
        ``False`` as soon as a container deeper than :data:`MAX_DEPTH` is met (the masking
        is then unfinished: the caller drops the whole answer).
    """
    scrub = api_key.scrub if api_key else None
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        if isinstance(node, dict):
            if scrub is not None and any(scrub(key) != key for key in node):
                renamed = [(scrub(key), item) for key, item in node.items()]
                node.clear()
                node.update(renamed)
            slots: Iterable[tuple[Any, Any]] = node.items()
        elif isinstance(node, list):
            slots = enumerate(node)
        else:
            continue
        for slot, item in slots:  # replacing a value in place is safe while iterating
            if isinstance(item, str):
                if scrub is not None:
                    masked = scrub(item)
                    if masked is not item:
                        node[slot] = masked
            elif isinstance(item, dict | list):
                stack.append((item, depth + 1))
    return True


def _common_error(
    code: int, label: str, said: str, subject: str, endpoint: str, retry_after: float | None
) -> AIReiterError | None:
    """The errors an HTTP status and an envelope ``statusCode`` share."""
    suffix = f": {said}" if said else "."
    if code in (401, 403):
        return AuthenticationError(f"The server refused the API key ({label}){suffix}")
    if code == 429:
        wait = f"; it asks to wait {retry_after:g} s" if retry_after is not None else ""
        return RateLimitedError(f"The server is rate limiting requests{wait}.", retry_after)
    if endpoint == "query" and (code == 404 or _NOT_FOUND_RE.search(said)):
        return TaskNotFoundError(f"The server does not know {subject} ({label}){suffix}")
    return None


def _server_text(envelope: Any, raw: bytes | None, is_html: bool, api_key: ApiKey | None) -> str:
    """A bounded, cleaned, key-free message from the server, or ''. Never from HTML."""
    text = ""
    if isinstance(envelope, dict):
        for key in _MESSAGE_KEYS:
            value = envelope.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and value.strip():
                text = value
                break
    elif envelope is _NOT_JSON and raw and not is_html:
        text = raw[: MAX_SERVER_TEXT * 20].decode("utf-8", errors="replace")
    if api_key:
        # Scrub before cutting: a cut could leave half a key that scrub no longer matches.
        text = api_key.scrub(text)
    return clean(text.strip(), max_length=MAX_SERVER_TEXT, single_line=True)


def _envelope_code(value: Any) -> int:
    """The envelope's ``statusCode`` as an int; 0 (never a valid status) if unreadable."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value) < 6:
        return int(value)
    return 0
