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
import json
import math
import re
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

import aiohttp
import httpx
import yarl

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
#: IDs made of these characters only need none of validate_task_id's checks (the
#: watchlist's IDs nearly always are): one regex match instead of a walk per check.
_PLAIN_ID: Final = re.compile(r"[A-Za-z0-9_.:@+=~-]{1,256}")


class AIReiterClient:
    """Queries and submits AIReiter tasks over one long-lived connection pool.

    ``query``/``submit`` raise only :class:`AIReiterError` subclasses, plus ``ValueError``
    for wrong arguments. Redirects are never followed, so the key never goes to another
    host. ``timeout`` bounds each phase (connect, read, write, pool) and the whole exchange.

    Requests go straight to an httpx transport (by default :class:`_AiohttpTransport`,
    aiohttp's pool; a test passes ``httpx.MockTransport``): ``httpx.AsyncClient`` would add
    nothing this client uses (no redirects, cookies, auth flows or hooks) and cost more
    CPU per query than everything else on the client's side together, while the client
    polls thousands of tasks.
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
        # httpx's own pool stops scaling past ~16 concurrent requests; aiohttp's does not.
        self._transport = transport or _AiohttpTransport(concurrency)
        self._closed = False
        # Built once: every query sends the same URL and headers but for the key and length.
        self._urls = {
            endpoint: httpx.URL(f"{self._base_url}/api/openapi/{endpoint}")
            for endpoint in ("query", "submit")
        }
        self._headers = (
            (b"Host", self._urls["query"].netloc),
            (b"User-Agent", user_agent.encode("ascii", "replace")),
            (b"Accept", b"application/json"),
            # Only what _Decoder undoes (aiohttp would add "br" once brotli is installed).
            (b"Accept-Encoding", ACCEPT_ENCODING.encode()),
            (b"Content-Type", b"application/json"),
        )
        self._timeouts = dict.fromkeys(("connect", "read", "write", "pool"), timeout)

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
        if not self._closed:
            self._closed = True
            await self._transport.aclose()

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
        problem = None if _PLAIN_ID.fullmatch(ref.id) else validate_task_id(ref.id)
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
        if self._closed:
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
        answered = False
        try:
            # The whole-exchange deadline: per-phase timeouts alone let a server that
            # trickles bytes hold a request forever.
            async with asyncio.timeout(self._timeout):
                response = await self._transport.handle_async_request(self._request(endpoint, body))
                answered = True
                try:
                    return await self._read_and_interpret(response, subject, endpoint), False
                finally:
                    await response.aclose()
        except _TRANSIENT as exc:
            kind = transport_kind(exc)
        except Exception as exc:  # a transport's own bug must not escape as a foreign type
            message = f"The request for {subject} failed unexpectedly ({type(exc).__name__})."
            return AIReiterError(message), False
        return self._transport_error(kind, answered, subject)

    def _request(self, endpoint: str, body: bytes) -> httpx.Request:
        # The only place the key is revealed; it goes straight into the request.
        key = self._api_key.reveal() if self._api_key else ""
        headers = [
            *self._headers,
            (b"Content-Length", str(len(body)).encode()),
            (b"Authorization", f"Bearer {key}".encode()),
        ]
        # stream=, not content=: httpx would work out the Host and length headers again.
        return httpx.Request(
            "POST",
            self._urls[endpoint],
            headers=headers,
            stream=httpx.ByteStream(body),
            extensions={"timeout": self._timeouts},
        )

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
        headers = _plain_headers(response)
        if 300 <= status < 400:
            target = httpx.URL(self._base_url).join(headers.get("location", ""))
            return BadResponseError(
                f"The server redirected to {shown_text(target.host or self._host)}; not followed"
                " so the API key is not sent elsewhere."
            )
        raw: bytes | None = None
        if 200 <= status < 300:
            body = await self._read_limited(response, headers, subject)
            if isinstance(body, BadResponseError):
                return body
            raw = body
        else:
            with contextlib.suppress(*_TRANSIENT):
                # The status says enough; a broken, huge or undecodable error body only
                # loses its message.
                body = await self._read_limited(response, headers, subject)
                raw = body if isinstance(body, bytes) else None
        return interpret(
            status,
            headers,
            raw,
            subject=subject,
            endpoint=endpoint,
            api_key=self._api_key,
        )

    async def _read_limited(
        self, response: httpx.Response, headers: dict[str, str], subject: str
    ) -> bytes | BadResponseError:
        """The decoded body, or why it was not read, as soon as that is known.

        The limit holds for the bytes on the wire and for the output of every content-coding
        layer *while* it is undone (the raw bytes are read, never httpx's decoded ones), so
        a few KB of nested gzip cannot grow into gigabytes before the size is checked.
        """
        too_large = f"The response was larger than {self._max_body / 1e6:g} MB"
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body:
            return BadResponseError(f"{too_large}; not read.")
        codings = [
            coding.strip().lower()
            for coding in headers.get("content-encoding", "").split(",")
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


def _plain_headers(response: httpx.Response) -> dict[str, str]:
    """The response's headers as a plain dict, lower-case names, repeated ones joined
    with ", " (as ``httpx.Headers.get`` joins them): read in one pass, where each
    ``httpx.Headers`` lookup decodes every header again."""
    plain: dict[str, str] = {}
    for name, value in response.headers.raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        plain[key] = f"{plain[key]}, {text}" if key in plain else text
    return plain


def _raw_bytes(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it came, content codings and all."""
    if isinstance(response.stream, httpx.AsyncByteStream):
        # Also a response made around bytes in memory (what httpx.MockTransport's handlers
        # build), which has read itself at once: its stream still yields those bytes.
        return aiter(response.stream)
    return response.aiter_raw()


class _AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx's transport interface over one ``aiohttp.ClientSession`` (its pool scales
    where httpx's stops), doing per request only what this client needs.

    httpx-aiohttp's transport did the same for any request, at about three times the
    CPU of aiohttp's own work: the URL formatted and parsed again, the headers converted
    through httpx's decoding mapping, a timeout object made, each request. Here the URL
    and the timeout are made once per value, and aiohttp's errors reach the client as
    they are (:func:`~aireiter_tui.api.mapping.transport_kind` reads them).

    The session stores no cookies (aiohttp's default jar would keep what a server sets
    and send it back) and leaves the content codings to :class:`_Decoder`, which undoes
    them under the size limit and must see them as sent.
    """

    def __init__(self, concurrency: int) -> None:
        self._concurrency = concurrency
        # httpx's context: its CA bundle, and SSL_CERT_FILE / SSL_CERT_DIR as httpx honours.
        self._ssl = httpx.create_ssl_context()
        self._session: aiohttp.ClientSession | None = None
        self._urls: dict[str, yarl.URL] = {}
        self._timeouts: dict[tuple[Any, ...], aiohttp.ClientTimeout] = {}

    def _open(self) -> aiohttp.ClientSession:
        # Made on the first request: aiohttp wants its session made inside the running loop.
        connector = aiohttp.TCPConnector(
            keepalive_timeout=KEEPALIVE_EXPIRY, ssl=self._ssl, limit=self._concurrency
        )
        self._session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False
        )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session or self._open()
        text = str(request.url)
        url = self._urls.get(text)
        if url is None:
            url = self._urls[text] = yarl.URL(text, encoded=True)
        phases = request.extensions.get("timeout", {})
        limits = (phases.get("connect"), phases.get("read"), phases.get("pool"))
        timeout = self._timeouts.get(limits)
        if timeout is None:
            timeout = self._timeouts[limits] = aiohttp.ClientTimeout(
                sock_connect=limits[0], sock_read=limits[1], connect=limits[2]
            )
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in request.headers.raw
            if name.lower() != b"transfer-encoding"  # aiohttp frames the body itself
        }
        response = await session.request(
            request.method,
            url,
            headers=headers,
            data=await request.aread() or None,
            allow_redirects=False,
            timeout=timeout,
            server_hostname=request.extensions.get("sni_hostname"),
        )
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_AiohttpBody(response),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class _AiohttpBody(httpx.AsyncByteStream):
    """An aiohttp response's body as it arrives; closing it gives the connection back."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.content.iter_any():
            yield chunk

    async def aclose(self) -> None:
        self._response.release()
        await self._response.wait_for_close()


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
