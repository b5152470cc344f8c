"""How the simulator serves output files: ``Range`` requests, a log of every file request,
and the ways storage hosts fail (expired links, HTML error pages, cut streams).

Kept apart from the API handlers: output files live on another host in the real service
(a CDN or signed storage URLs), with none of the API's key, envelope or faults.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from aiohttp import web

#: File requests remembered in :attr:`OutputFiles.log` (the bench sends thousands).
LOG_KEPT: Final = 1000
_RANGE_RE: Final = re.compile(r"bytes=(\d+)-(\d*)")
#: How much of a body :attr:`OutputFault.CUT` sends before closing the connection.
CUT_SHARE: Final = 0.5
_STREAM_CHUNK: Final = 64 * 1024


class OutputFault(StrEnum):
    """Ways an output file's host misbehaves (:meth:`Simulator.set_output_fault`)."""

    GONE = "gone"
    """HTTP 404: the file was deleted."""
    EXPIRED = "expired"
    """HTTP 410: the link's time ran out."""
    FORBIDDEN = "forbidden"
    """HTTP 403 with an XML body, as a signed storage URL past its expiry answers."""
    SERVER_ERROR = "server_error"
    """HTTP 503 with an HTML body (passing trouble, not a dead link)."""
    NOT_IMAGE = "not_image"
    """HTTP 200, ``Content-Type: image/png``, but the body is an HTML page."""
    CUT = "cut"
    """``Content-Length`` of the whole file, half of it sent, then the connection closes."""
    SLOW = "slow"
    """The body in 16 KB pieces with ``delay`` seconds (default 0.05) between them."""
    NO_LENGTH = "no_length"
    """The body chunked, without ``Content-Length``."""
    HUGE = "huge"
    """A PNG signature followed by zeros up to ``size`` bytes (default 300 MB), chunked
    without ``Content-Length``: only a cap while streaming stops it."""
    HUGE_DECLARED = "huge_declared"
    """Headers announce ``size`` bytes (default 300 MB); the connection closes after 64 KB."""
    IGNORE_RANGE = "ignore_range"
    """A ``Range`` request gets the whole file with HTTP 200."""
    DISPOSITION = "disposition"
    """The file with ``Content-Disposition: attachment; filename="../../.bashrc"``."""
    REDIRECT_FILE = "redirect_file"
    """HTTP 302 to ``file:///etc/passwd``."""
    SET_COOKIE = "set_cookie"
    """The file, setting a cookie (no output host should get one back)."""


@dataclass
class _Rule:
    fault: OutputFault
    times: int | None
    size: int | None
    delay: float | None


@dataclass(frozen=True)
class OutputRequest:
    """One request for a file, as the server saw it. ``headers`` has lower-case names;
    an Authorization header is kept as ``"(present)"``, never its value."""

    name: str
    method: str
    headers: dict[str, str] = field(hash=False)
    status: int

    @property
    def range(self) -> str | None:
        return self.headers.get("range")


class OutputFiles:
    """The file host's state: the faults set per file name and the request log."""

    def __init__(self) -> None:
        self._rules: dict[str, _Rule] = {}
        self.log: list[OutputRequest] = []
        self.fetches: Counter[str] = Counter()
        #: Extra files served as they are, by name (tests serve their own bytes).
        self.extra: dict[str, tuple[bytes, str]] = {}

    def set_fault(
        self,
        name: str,
        fault: OutputFault | str,
        *,
        times: int | None = None,
        size: int | None = None,
        delay: float | None = None,
    ) -> None:
        self._rules[name] = _Rule(OutputFault(fault), times, size, delay)

    def clear(self) -> None:
        self._rules.clear()

    def reset_log(self) -> None:
        self.log.clear()
        self.fetches.clear()

    def _record(self, request: web.Request, name: str, status: int) -> None:
        headers = {key.lower(): value for key, value in request.headers.items()}
        if "authorization" in headers:
            headers["authorization"] = "(present)"
        self.fetches[name] += 1
        self.log.append(OutputRequest(name, request.method, headers, status))
        if len(self.log) > LOG_KEPT:
            del self.log[: len(self.log) - LOG_KEPT]

    def _take_rule(self, name: str) -> _Rule | None:
        rule = self._rules.get(name)
        if rule is None:
            return None
        if rule.times is not None:
            rule.times -= 1
            if rule.times <= 0:
                del self._rules[name]
        return rule

    async def serve(
        self, request: web.Request, name: str, body: bytes, content_type: str
    ) -> web.StreamResponse:
        """Answer a file request for ``body`` (its faults applied, ``Range`` honoured)."""
        rule = self._take_rule(name)
        fault = None if rule is None else rule.fault
        status = _FAULT_STATUS.get(fault) if fault is not None else None
        if status is not None:
            self._record(request, name, status)
            text, kind = _ERROR_BODIES[status]
            return web.Response(status=status, text=text, content_type=kind)
        if fault is OutputFault.REDIRECT_FILE:
            self._record(request, name, 302)
            return web.Response(status=302, headers={"Location": "file:///etc/passwd"})
        if fault is OutputFault.NOT_IMAGE:
            body = b"<!doctype html><html><body><h1>Sign in to continue</h1></body></html>\n"
        span = None if fault is OutputFault.IGNORE_RANGE else _span(request, len(body))
        if span is not None and span[0] >= len(body):
            self._record(request, name, 416)
            return web.Response(status=416, headers={"Content-Range": f"bytes */{len(body)}"})
        response = web.StreamResponse(status=200 if span is None else 206)
        response.content_type = content_type
        start, end = (0, len(body)) if span is None else span
        if span is not None:
            response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(body)}"
        if fault is OutputFault.DISPOSITION:
            response.headers["Content-Disposition"] = 'attachment; filename="../../.bashrc"'
        if fault is OutputFault.SET_COOKIE:
            response.set_cookie("cdn_session", "output-host-cookie")
        self._record(request, name, response.status)
        if fault is OutputFault.HUGE:
            return await _huge(request, response, rule.size if rule and rule.size else 300_000_000)
        if fault is OutputFault.HUGE_DECLARED:
            size = rule.size if rule and rule.size else 300_000_000
            response.content_length = size
            await response.prepare(request)
            await response.write(b"\x89PNG\r\n\x1a\n" + bytes(_STREAM_CHUNK))
            _close(request)
            return response
        if fault is not OutputFault.NO_LENGTH:
            response.content_length = end - start
        await response.prepare(request)
        piece = body[start:end]
        if fault is OutputFault.CUT:
            await response.write(piece[: int(len(piece) * CUT_SHARE)])
            _close(request)
            return response
        if fault is OutputFault.SLOW:
            delay = rule.delay if rule and rule.delay is not None else 0.05
            for offset in range(0, len(piece), 16 * 1024):
                await response.write(piece[offset : offset + 16 * 1024])
                await asyncio.sleep(delay)
        else:
            for offset in range(0, len(piece), _STREAM_CHUNK):
                await response.write(piece[offset : offset + _STREAM_CHUNK])
        await response.write_eof()
        return response


_FAULT_STATUS: Final = {
    OutputFault.GONE: 404,
    OutputFault.EXPIRED: 410,
    OutputFault.FORBIDDEN: 403,
    OutputFault.SERVER_ERROR: 503,
}
_ERROR_BODIES: Final = {
    404: ("<html><body>Not Found</body></html>", "text/html"),
    410: ("<html><body>Gone</body></html>", "text/html"),
    403: (
        "<?xml version='1.0'?><Error><Code>AccessDenied</Code>"
        "<Message>Request has expired</Message></Error>",
        "application/xml",
    ),
    503: ("<html><body>Service Unavailable</body></html>", "text/html"),
}


def _span(request: web.Request, size: int) -> tuple[int, int] | None:
    """The byte span a ``Range: bytes=A-[B]`` header asks for (end exclusive; a start at
    or past ``size`` cannot be served), or ``None`` for the whole file (no header, or one
    we do not serve partially)."""
    header = request.headers.get("Range")
    match = _RANGE_RE.fullmatch(header.strip()) if header else None
    if match is None:
        return None
    start = int(match.group(1))
    end = int(match.group(2)) + 1 if match.group(2) else size
    return start, min(end, size)


def _close(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.close()


async def _huge(
    request: web.Request, response: web.StreamResponse, size: int
) -> web.StreamResponse:
    await response.prepare(request)
    await response.write(b"\x89PNG\r\n\x1a\n")
    sent = 8
    zeros = bytes(_STREAM_CHUNK)
    try:
        while sent < size:
            await response.write(zeros[: min(_STREAM_CHUNK, size - sent)])
            sent += _STREAM_CHUNK
    except ConnectionResetError:
        # The client refused the body part-way, as it should.
        return response
    await response.write_eof()
    return response
