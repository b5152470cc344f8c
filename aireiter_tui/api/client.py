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
    parse_retry_after,
    shown_text,
    transport_kind,
)
from aireiter_tui.domain.errors import (
    AIReiterError,
    AuthenticationError,
    BadResponseError,
    NetworkError,
    RequestTimeoutError,
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

__all__ = ["AIReiterClient", "check_base_url", "parse_retry_after"]

# Shorter than common servers' idle timeout (Node: 5 s), so a pooled connection is rarely
# reused just as the server closes it (aiohttp does not retry a POST that hits that race).
KEEPALIVE_EXPIRY: Final = 4.0
_TRANSIENT: Final = (TimeoutError, httpx.HTTPError, aiohttp.ClientError, OSError)
_Outcome = tuple["dict[str, Any] | AIReiterError", bool]


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
            transport = AiohttpTransport(limits=limits)
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(connect=timeout, read=timeout, write=timeout, pool=timeout),
            follow_redirects=False,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
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
        # The API need not echo the ID we asked by; the caller still knows the task by it.
        if ref.kind is IdKind.OUT_TASK_ID and task.out_task_id is None:
            task = replace(task, out_task_id=ref.id)
        elif ref.kind is IdKind.TASK_ID and task.task_id is None:
            task = replace(task, task_id=ref.id)
        return task

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

        Never retried on a dropped connection, so a task is not submitted twice.

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
            raw = await self._read_limited(response)
            if raw is None:
                return BadResponseError(
                    f"The response was larger than {self._max_body / 1e6:g} MB; not read."
                )
        else:
            with contextlib.suppress(*_TRANSIENT):
                # The status says enough; a broken or huge error body only loses its message.
                raw = await self._read_limited(response)
        return interpret(
            status,
            response.headers,
            raw,
            subject=subject,
            endpoint=endpoint,
            api_key=self._api_key,
        )

    async def _read_limited(self, response: httpx.Response) -> bytes | None:
        """The body, or ``None`` as soon as it proves larger than the limit."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body:
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_body:
                return None
            chunks.append(chunk)
        return b"".join(chunks)
