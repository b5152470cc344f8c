"""Fetching output files from the hosts that store them: the HTTP client, what an answer
says about the link, and the refusals every fetch shares (only http/https, a size cap).

Output hosts are not the AIReiter API: they never get the API key, a cookie, or a
``.netrc`` password, whatever they redirect to.
"""

from __future__ import annotations

import http.cookiejar
from enum import StrEnum
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from aireiter_tui import __version__
from aireiter_tui.domain.media_info import human_size
from aireiter_tui.domain.sanitize import url_refusal

#: Redirects followed before a link is called unreachable (CDNs use one or two).
MAX_REDIRECTS: Final = 5


class LinkState(StrEnum):
    """What became of fetching one output URL, as the detail pane words it."""

    OK = "ok"
    EXPIRED = "link expired"
    UNREACHABLE = "not reachable"
    REFUSED = "refused"


def link_state_for_status(status: int) -> LinkState:
    """The state of a link whose server answered ``status``.

    403, 404 and 410 are how storage hosts (S3, GCS, R2 signed URLs) say a link has
    expired or its file is gone; any other failure may pass, so it is "not reachable".
    """
    if 200 <= status < 300:
        return LinkState.OK
    if status in (401, 403, 404, 410):
        return LinkState.EXPIRED
    return LinkState.UNREACHABLE


class OutputRefused(Exception):
    """A fetch we will not make or a body we will not keep; ``str()`` is a sentence."""


class _NoCookies(http.cookiejar.CookieJar):
    """A cookie jar that keeps nothing: a cookie set by one output host (or a redirect on
    the way) would otherwise be sent to the next."""

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        return None

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


async def _refuse_bad_redirect(response: httpx.Response) -> None:
    # httpx would refuse a file:// target itself, but with an error naming the URL's
    # internals; this says it in words, before the next request is built.
    if response.is_redirect:
        target = response.headers.get("location", "")
        scheme = urlsplit(str(response.url.join(target))).scheme.lower()
        if scheme not in ("http", "https"):
            raise OutputRefused("The output's host redirected to a link that is not http or https.")


def output_client(timeout: float = 30.0) -> httpx.AsyncClient:
    """A client for output hosts: no Authorization, no cookies, no proxy or ``.netrc``
    from the environment, redirects followed only to http/https.

    ``Accept-Encoding: identity`` asks for the bytes as stored, so ``Content-Length`` is
    the file's size and a ``Range`` resume counts the same bytes as the file on disk.
    """
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers={
            "User-Agent": f"aireiter-tui/{__version__}",
            "Accept-Encoding": "identity",
        },
        cookies=_NoCookies(),
        trust_env=False,
        event_hooks={"response": [_refuse_bad_redirect]},
    )


def check_url(url: str) -> None:
    """Refuse any URL but an absolute http/https one without credentials.

    Raises:
        OutputRefused: with the reason.
    """
    reason = url_refusal(url)
    if reason is not None:
        raise OutputRefused(f"Not fetched: {reason}.")


def too_large(max_bytes: int) -> OutputRefused:
    return OutputRefused(f"The file is larger than the {human_size(max_bytes)} allowed per file.")


def declared_length(response: httpx.Response) -> int | None:
    """The body's length the headers announce, when it is a number and not encoded."""
    if response.headers.get("content-encoding", "identity").lower() not in ("", "identity"):
        return None
    value = response.headers.get("content-length", "")
    if value.isascii() and value.isdigit():
        return int(value)
    return None


def transport_state(error: BaseException) -> tuple[LinkState, str]:
    """The state and sentence for a failure on the way to an output host (no URL in it:
    signed URLs carry tokens)."""
    if isinstance(error, OutputRefused):
        return LinkState.REFUSED, str(error)
    if isinstance(error, httpx.TooManyRedirects):
        return LinkState.UNREACHABLE, "The output's host redirected too many times."
    if isinstance(error, httpx.UnsupportedProtocol):
        return LinkState.REFUSED, "The output's link is not http or https."
    if isinstance(error, httpx.InvalidURL):
        return LinkState.REFUSED, "The output's link is not a valid URL."
    if isinstance(error, httpx.TimeoutException):
        return LinkState.UNREACHABLE, "The output's host did not answer in time."
    if isinstance(error, httpx.ConnectError):
        return LinkState.UNREACHABLE, "The output's host could not be reached."
    if isinstance(error, httpx.RemoteProtocolError):
        return LinkState.UNREACHABLE, "The output's host closed the connection mid-way."
    return LinkState.UNREACHABLE, "The output could not be fetched (a network error)."


def status_reason(status: int) -> str:
    """The sentence for an HTTP error answer to an output request."""
    if link_state_for_status(status) is LinkState.EXPIRED:
        return f"The link has expired or its file is gone (HTTP {status})."
    return f"The output's host answered HTTP {status}."
