"""The AIReiter HTTP client: one long-lived connection pool, every failure an AIReiterError.

Errors are built by helpers that *return* them (see :mod:`aireiter_tui.api.mapping`)
and raised only in :meth:`AIReiterClient._post`, outside any ``except`` block. So they
carry no ``__context__`` (an httpx error holds the request and its Authorization header,
a JSON error holds the body), and no frame in their traceback holds the body or the
headers as a local, which Textual's crash screen would print.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import json
import math
import ssl
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from aireiter_tui import __version__
from aireiter_tui.api.mapping import (
    check_base_url,
    interpret,
    shown_text,
    transport_kind,
)
from aireiter_tui.domain.errors import (
    AIReiterError,
    AuthenticationError,
    BadResponseError,
    NetworkError,
    NotSentError,
    RequestTimeoutError,
    WrongTaskError,
)
from aireiter_tui.domain.models import (
    IdKind,
    Task,
    TaskParseError,
    TaskRef,
    parse_task,
    validate_task_id,
)
from aireiter_tui.domain.secret import ApiKey

# Shorter than common servers' idle timeout (Node: 5 s), so a pooled connection is rarely
# reused just as the server closes it (aiohttp does not retry a POST that hits that race).
KEEPALIVE_EXPIRY: Final = 4.0
_TRANSIENT: Final = (TimeoutError, httpx.HTTPError, aiohttp.ClientError, OSError)
_Outcome = tuple["dict[str, Any] | AIReiterError", bool]
#: The content codings this client undoes itself (see :class:`_Decoder`), as advertised.
ACCEPT_ENCODING: Final = "gzip, deflate"
#: More codings than this on one body is no server's honest doing: refused unread.
MAX_CODINGS: Final = 3
#: The most bytes one decompression step may produce, so no layer ever holds more at once.
_PIECE: Final = 64 * 1024
#: Transport failures before a connection existed: the server never saw the request (a
#: submit's duplicate guard needs to know). "connect" is not among them: it is also what
#: an unexplained OSError falls back to, which may come after the request left.
_NEVER_SENT: Final = frozenset({"dns", "certificate", "tls", "refused"})


class _NoCookies(http.cookiejar.CookieJar):
    """httpx's cookie store, kept empty: a Bearer-token API needs no cookies, and a stored
    one would be sent back to the server (or a proxy that set it) on every request."""

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        return None

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


class AIReiterClient:
    """Queries and submits AIReiter tasks over one long-lived ``httpx.AsyncClient``.

    ``query``/``submit`` raise only :class:`AIReiterError` subclasses, plus ``ValueError``
    for wrong arguments. Redirects are never followed, so the key never goes to another
    host. ``timeout`` bounds each phase (connect, read, write, pool) and the whole exchange.
    """

    def __init__(
        self,
        base_url: str,
        api_key: ApiKey | None,
        *,
        timeout: float = 15.0,
        concurrency: int = 32,
        allow_insecure_http: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        max_body_bytes: int = 1_000_000,
        user_agent: str = f"aireiter-tui/{__version__}",
    ) -> None:
        if not (math.isfinite(timeout) and timeout > 0):
            raise ValueError("timeout must be a positive number of seconds")
        if concurrency < 1 or max_body_bytes < 1:
            raise ValueError("concurrency and max_body_bytes must be at least 1")
        self._base_url = check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self._host = urlsplit(self._base_url).netloc
        self._api_key = api_key
        self._timeout = timeout
        self._max_body = max_body_bytes
        if transport is None:
            # httpx's own pool stops scaling past ~16 concurrent requests; aiohttp's does not.
            limits = httpx.Limits(
                max_connections=concurrency,
                max_keepalive_connections=concurrency,
                keepalive_expiry=KEEPALIVE_EXPIRY,
            )
            aiohttp_transport = AiohttpTransport(limits=limits)
            aiohttp_transport.client = _session_factory(limits, aiohttp_transport.ssl_context)
            transport = aiohttp_transport
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(connect=timeout, read=timeout, write=timeout, pool=timeout),
            follow_redirects=False,
            headers={
                "User-Agent": user_agent,
                "Accept": "application/json",
                # Only what _Decoder undoes (httpx would add "br" once brotli is installed).
                "Accept-Encoding": ACCEPT_ENCODING,
            },
            cookies=_NoCookies(),
            trust_env=False,
        )

    @property
    def base_url(self) -> str:
        return self._base_url

    def __repr__(self) -> str:
        return f"AIReiterClient(base_url={self._base_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections. Safe to call twice."""
        await self._http.aclose()

    async def query(self, *, task_id: str | None = None, out_task_id: str | None = None) -> Task:
        """Fetch one task by exactly one of its two IDs.

        Raises:
            ValueError: not exactly one ID given, or the ID is unusable.
            AIReiterError: any failure (see :mod:`aireiter_tui.domain.errors`).
        """
        if task_id is not None and out_task_id is None:
            return await self.query_ref(TaskRef(IdKind.TASK_ID, task_id))
        if out_task_id is not None and task_id is None:
            return await self.query_ref(TaskRef(IdKind.OUT_TASK_ID, out_task_id))
        raise ValueError("Give exactly one of task_id and out_task_id.")

    async def query_ref(self, ref: TaskRef) -> Task:
        """Fetch the task ``ref`` addresses; see :meth:`query`."""
        problem = validate_task_id(ref.id)
        if problem:
            raise ValueError(f"Cannot query {ref.kind.value} {shown_text(ref.id)!r}: {problem}.")
        subject = f"task {shown_text(ref.id)}"
        data = await self._post("query", {ref.kind.value: ref.id}, subject, retry_stale=True)
        reason = ""
        try:
            task = parse_task(data)
        except TaskParseError as exc:
            reason = exc.reason
        if reason:
            raise BadResponseError(f"The server's answer for {subject} is unusable: {reason}.")
        echoed = task.out_task_id if ref.kind is IdKind.OUT_TASK_ID else task.task_id
        if echoed and echoed != ref.id:
            # Taking it would put another task's status (and outputs) on this row.
            raise WrongTaskError(
                f"The server answered with another task ({shown_text(echoed)}) than the one"
                f" asked ({shown_text(ref.id)})."
            )
        # The API need not echo the ID we asked by; the caller still knows the task by it.
        if echoed:
            return task
        if ref.kind is IdKind.OUT_TASK_ID:
            return replace(task, out_task_id=ref.id)
        return replace(task, task_id=ref.id)

    async def submit(
        self,
        *,
        model: str,
        params: dict[str, Any],
        out_task_id: str,
        callback_url: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Submit a new task and return the response's ``data`` object as sent.

        Never retried on a dropped connection, so a task is not submitted twice (the guard
        that resolves an unclear failure is :mod:`aireiter_tui.domain.submitting`). A
        refusal (4xx) is a :class:`~aireiter_tui.domain.errors.RejectedError` and a failure
        before any connection a :class:`~aireiter_tui.domain.errors.NotSentError`: either
        way no task was created.

        Raises:
            ValueError: an argument is unusable.
            AIReiterError: any failure (see :mod:`aireiter_tui.domain.errors`).
        """
        problem = validate_task_id(out_task_id)
        if problem:
            raise ValueError(f"Cannot submit out_task_id {shown_text(out_task_id)!r}: {problem}.")
        if not isinstance(model, str) or not model.strip():
            raise ValueError("Cannot submit a task without a model name.")
        if not isinstance(params, dict) or not isinstance(metadata, dict | None):
            raise ValueError("params (and metadata, when given) must be dictionaries.")
        payload: dict[str, Any] = {"model": model, "params": params, "out_task_id": out_task_id}
        if callback_url is not None:
            payload["callback_url"] = callback_url
        if metadata is not None:
            payload["metadata"] = metadata
        subject = f"new task {shown_text(out_task_id)}"
        return await self._post("submit", payload, subject, retry_stale=False)

    async def _post(
        self, endpoint: str, payload: dict[str, Any], subject: str, *, retry_stale: bool
    ) -> dict[str, Any]:
        if not self._api_key:
            raise AuthenticationError(
                "No API key is set; add your AIReiter API key to the configuration first."
            )
        if self._http.is_closed:
            raise AIReiterError("The client was already closed; no request was sent.")
        body = b""
        with contextlib.suppress(TypeError, ValueError):
            body = json.dumps(payload, allow_nan=False).encode()
        if not body:
            raise ValueError(f"The request for {subject} cannot be encoded as JSON.")
        outcome, stale = await self._attempt(endpoint, body, subject)
        if stale and retry_stale:
            # A pooled connection the server had just closed: one fresh try is safe for a query.
            outcome, _ = await self._attempt(endpoint, body, subject)
        if isinstance(outcome, AIReiterError):
            raise outcome
        return outcome

    async def _attempt(self, endpoint: str, body: bytes, subject: str) -> _Outcome:
        """One exchange: the ``data`` object or the error, and whether a retry may help."""
        url = f"{self._base_url}/api/openapi/{endpoint}"
        answered = False
        try:
            # The whole-exchange deadline: per-phase timeouts alone let a server that
            # trickles bytes hold a request forever.
            async with (
                asyncio.timeout(self._timeout),
                self._http.stream("POST", url, content=body, headers=self._auth()) as response,
            ):
                answered = True
                return await self._read_and_interpret(response, subject, endpoint), False
        except _TRANSIENT as exc:
            kind = transport_kind(exc)
        except Exception as exc:  # a transport's own bug must not escape as a foreign type
            message = f"The request for {subject} failed unexpectedly ({type(exc).__name__})."
            return AIReiterError(message), False
        return self._transport_error(kind, answered, subject)

    def _auth(self) -> dict[str, str]:
        # The only place the key is revealed; the dict goes straight into the request.
        key = self._api_key.reveal() if self._api_key else ""
        return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def _transport_error(self, kind: str, answered: bool, subject: str) -> _Outcome:
        host = self._host
        if kind == "timeout":
            message = f"The request for {subject} to {host} timed out after {self._timeout:g} s."
            return RequestTimeoutError(message), False
        if kind in ("decoding", "garbled"):
            message = f"{host} sent an answer for {subject} that cannot be read."
            return BadResponseError(message), False
        if answered:
            return NetworkError(
                f"The connection to {host} was cut off before the whole answer for"
                f" {subject} arrived."
            ), False
        messages = {
            "dns": f"The server name in {host} could not be resolved; check the URL and network.",
            "certificate": f"The TLS certificate of {host} could not be verified.",
            "tls": f"The secure (TLS) connection to {host} failed.",
            "refused": f"{host} refused the connection; is the server running?",
            "closed": f"{host} closed the connection without answering the request for {subject}.",
            "reset": f"The connection to {host} was reset before an answer for {subject} came.",
            "cut": f"The connection to {host} broke while the answer for {subject} arrived.",
            "connect": f"Could not connect to {host}.",
        }
        message = messages.get(kind, f"The request for {subject} to {host} failed unexpectedly.")
        if kind in _NEVER_SENT:
            return NotSentError(message), False
        return NetworkError(message), kind in ("closed", "reset")

    async def _read_and_interpret(
        self, response: httpx.Response, subject: str, endpoint: str
    ) -> dict[str, Any] | AIReiterError:
        status = response.status_code
        if 300 <= status < 400:
            target = httpx.URL(self._base_url).join(response.headers.get("location", ""))
            return BadResponseError(
                f"The server redirected to {shown_text(target.host or self._host)}; not followed"
                " so the API key is not sent elsewhere."
            )
        raw: bytes | None = None
        if response.is_success:
            body = await self._read_limited(response, subject)
            if isinstance(body, BadResponseError):
                return body
            raw = body
        else:
            with contextlib.suppress(*_TRANSIENT):
                # The status says enough; a broken, huge or undecodable error body only
                # loses its message.
                body = await self._read_limited(response, subject)
                raw = body if isinstance(body, bytes) else None
        return interpret(
            status,
            response.headers,
            raw,
            subject=subject,
            endpoint=endpoint,
            api_key=self._api_key,
        )

    async def _read_limited(
        self, response: httpx.Response, subject: str
    ) -> bytes | BadResponseError:
        """The decoded body, or why it was not read, as soon as that is known.

        The limit holds for the bytes on the wire and for the output of every content-coding
        layer *while* it is undone (the raw bytes are read, never httpx's decoded ones), so
        a few KB of nested gzip cannot grow into gigabytes before the size is checked.
        """
        too_large = f"The response was larger than {self._max_body / 1e6:g} MB"
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body:
            return BadResponseError(f"{too_large}; not read.")
        codings = [
            coding.strip().lower()
            for value in response.headers.get_list("content-encoding")
            for coding in value.split(",")
            if coding.strip() and coding.strip().lower() != "identity"
        ]
        unknown = next((c for c in codings if c not in _LAYERS), None)
        if unknown is not None:
            return BadResponseError(
                f"The server's answer for {subject} is encoded as {shown_text(unknown)!r},"
                f" which this client cannot decode (it accepts {ACCEPT_ENCODING})."
            )
        if len(codings) > MAX_CODINGS:
            return BadResponseError(
                f"The server's answer for {subject} is compressed {len(codings)} times over;"
                " not read."
            )
        decoder = _Decoder(codings, self._max_body)
        size = 0
        broken = False
        async for chunk in _raw_bytes(response):
            size += len(chunk)
            if size > self._max_body:
                return BadResponseError(f"{too_large}; not read.")
            try:
                fits = decoder.feed(chunk)
            except zlib.error:
                broken = True  # the error is built outside this block: see the module doc
                break
            if not fits:
                return BadResponseError(f"{too_large} once decompressed; not read.")
        if broken:
            return BadResponseError(
                f"The server's answer for {subject} is compressed wrongly and cannot be read."
            )
        return decoder.body()


def _raw_bytes(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it came, content codings and all."""
    if response.is_stream_consumed and isinstance(response.stream, httpx.AsyncByteStream):
        # A response made around bytes in memory (what httpx.MockTransport's handlers
        # build) reads itself at once; its stream still yields those bytes as they were.
        return aiter(response.stream)
    return response.aiter_raw()


def _session_factory(
    limits: httpx.Limits, ssl_context: ssl.SSLContext
) -> Callable[[], aiohttp.ClientSession]:
    """What AiohttpTransport builds for itself, but with a cookie jar that stores nothing
    (aiohttp's own would keep what a server sets and send it back).

    Called by the transport on its first request, inside the running loop (aiohttp wants
    its session made there).
    """

    def make() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            keepalive_timeout=limits.keepalive_expiry,
            ssl=ssl_context,
            limit=limits.max_connections or 0,
        )
        # auto_decompress: the transport turns it off per request too; _Decoder undoes the
        # codings, under the size limit, and must see them as sent.
        return aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False
        )

    return make


class _Layer:
    """One content coding, undone incrementally; no step yields more than ``_PIECE`` bytes.

    ``zlib``'s ``max_length`` is what bounds it: a step stops when its output is full and
    keeps the rest of the input in ``unconsumed_tail`` for the next step.
    """

    def __init__(self, coding: str) -> None:
        self._zlib = zlib.decompressobj(_LAYERS[coding])
        # "deflate" means zlib-wrapped, yet some servers send raw deflate (httpx copes too):
        # the first bytes tell which.
        self._sniff = coding == "deflate"

    def expand(self, data: bytes) -> Iterator[bytes]:
        if self._sniff and data:
            self._sniff = False
            if not _zlib_header(data[:2]):
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        pending = data
        while not self._zlib.eof:  # bytes after the end of the stream are ignored (as httpx)
            piece = self._zlib.decompress(pending, _PIECE)
            pending = self._zlib.unconsumed_tail
            if piece:
                yield piece
            if not pending and len(piece) < _PIECE:
                # Out of input with room to spare: nothing is held back inside zlib.
                return


def _zlib_header(head: bytes) -> bool:
    """Whether ``head`` (one or two bytes) can start a zlib stream (RFC 1950)."""
    method_ok = head[0] & 0x0F == 8 and head[0] >> 4 <= 7
    return method_ok and (len(head) < 2 or (head[0] << 8 | head[1]) % 31 == 0)


#: The ``wbits`` each coding needs (gzip's header and trailer, or zlib's).
_LAYERS: Final = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": 15}


class _Decoder:
    """Undoes a body's content codings as its bytes arrive, outermost (the last applied)
    first, each layer's output counted against the limit as it is made.

    Memory stays within the limit plus a piece and a zlib window per layer, whatever the
    compression ratio; CPU within ``limit`` bytes of output per layer.
    """

    def __init__(self, codings: list[str], limit: int) -> None:
        self._layers = [_Layer(coding) for coding in reversed(codings)]
        self._made = [0] * len(self._layers)
        self._limit = limit
        self._chunks: list[bytes] = []

    def feed(self, data: bytes) -> bool:
        """Take some raw bytes; ``False`` as soon as any layer has made more than the limit.

        Raises:
            zlib.error: the bytes are not what their coding says.
        """
        return self._push(0, data)

    def _push(self, index: int, data: bytes) -> bool:
        # Recursion depth is the number of layers: at most MAX_CODINGS.
        if index == len(self._layers):
            self._chunks.append(data)
            return True
        for piece in self._layers[index].expand(data):
            self._made[index] += len(piece)
            if self._made[index] > self._limit or not self._push(index + 1, piece):
                return False
        return True

    def body(self) -> bytes:
        return b"".join(self._chunks)
