"""The local cache of output files behind the previews: each URL fetched at most once,
kept under a size bound, least recently used out first.

Files are named by a hash of their URL plus what their headers said (kind, dimensions,
duration), so the cache needs no index file: one directory listing rebuilds it after a
restart, and a file is only ever there whole (written as ``.part``, then renamed).
A link that failed is remembered in memory for the run, so moving the cursor back to it
says "link expired" again without asking the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

from aireiter_tui.domain.media_info import (
    SNIFF_BYTES,
    MediaInfo,
    MediaKind,
    inspect,
    sniff,
)
from aireiter_tui.domain.output_fetch import (
    LinkState,
    OutputRefused,
    check_url,
    declared_length,
    link_state_for_status,
    output_client,
    status_reason,
    too_large,
    transport_state,
)
from aireiter_tui.domain.paths import cache_dir

#: The cache's folder name under ``$XDG_CACHE_HOME/aireiter-tui``.
OUTPUTS_DIR: Final = "outputs"
_PART: Final = ".part"
_DIGEST_CHARS: Final = 40


def output_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/aireiter-tui/outputs``."""
    return cache_dir() / OUTPUTS_DIR


@dataclass(frozen=True)
class Fetched:
    """What fetching one URL came to. ``path`` and ``info`` are set when ``state`` is OK;
    ``reason`` is a sentence saying what went wrong ("" when OK)."""

    url: str
    state: LinkState
    path: Path | None
    info: MediaInfo | None
    reason: str = ""

    @property
    def image_path(self) -> Path | None:
        """The file to hand to an image decoder: only when its magic bytes say image."""
        if self.state is LinkState.OK and self.info is not None and self.info.is_image:
            return self.path
        return None


@dataclass
class _Entry:
    path: Path
    info: MediaInfo


def _digest(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST_CHARS]


def _file_name(digest: str, info: MediaInfo) -> str:
    duration = "" if info.duration is None else str(round(info.duration * 1000))
    return f"{digest}_{info.kind.value}_{info.width or ''}_{info.height or ''}_{duration}"


def _parse_name(name: str, size: int) -> tuple[str, MediaInfo] | None:
    parts = name.split("_")
    if len(parts) != 5 or len(parts[0]) != _DIGEST_CHARS:
        return None
    digest, kind, width, height, duration = parts
    try:
        info = MediaInfo(
            MediaKind(kind),
            size,
            int(width) if width else None,
            int(height) if height else None,
            int(duration) / 1000 if duration else None,
        )
    except ValueError:
        return None
    return digest, info


class OutputCache:
    """Output files fetched once and kept on disk within ``max_bytes``.

    Args:
        root: The cache folder (created 0700 on first use).
        max_bytes: The most bytes all cached files may take together.
        max_file_bytes: The most bytes one file may have; a file over it (or over
            ``max_bytes``, which it could not fit in) is refused.
        client_factory: Builds the HTTP client on the first fetch.
    """

    def __init__(
        self,
        root: Path,
        max_bytes: int,
        max_file_bytes: int,
        client_factory: Callable[[], httpx.AsyncClient] = output_client,
    ) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.max_file_bytes = min(max_file_bytes, max_bytes)
        self._client_factory = client_factory
        self._client: httpx.AsyncClient | None = None
        self._entries: OrderedDict[str, _Entry] | None = None
        self._total = 0
        self._failed: dict[str, Fetched] = {}
        self._pending: dict[str, asyncio.Future[Fetched]] = {}

    # --- the index ------------------------------------------------------------------

    def _index(self) -> OrderedDict[str, _Entry]:
        if self._entries is None:
            self._entries = self._scan()
            self._total = sum(entry.info.size for entry in self._entries.values())
        return self._entries

    def _scan(self) -> OrderedDict[str, _Entry]:
        found: list[tuple[float, str, _Entry]] = []
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for item in os.scandir(self.root):
                try:
                    st = item.stat(follow_symlinks=False)
                except OSError:
                    continue
                parsed = _parse_name(item.name, st.st_size) if item.is_file() else None
                if parsed is None:
                    # A .part left by a crash, or something that is not ours to read.
                    if item.name.endswith(_PART):
                        with contextlib.suppress(OSError):
                            os.unlink(item.path)
                    continue
                digest, info = parsed
                found.append((st.st_mtime, digest, _Entry(Path(item.path), info)))
        found.sort(key=lambda row: row[0])
        return OrderedDict((digest, entry) for _, digest, entry in found)

    @property
    def total_bytes(self) -> int:
        """Bytes the cached files take now."""
        self._index()
        return self._total

    def cached(self, url: str) -> Fetched | None:
        """What is known of ``url`` without the network: the cached file, a remembered
        failure, or ``None`` (not fetched yet, or fetching now)."""
        failed = self._failed.get(url)
        if failed is not None:
            return failed
        index = self._index()
        digest = _digest(url)
        entry = index.get(digest)
        if entry is None:
            return None
        try:
            os.utime(entry.path)  # the mtime is the LRU order after a restart
        except OSError:
            # Removed behind our back (a cache cleaner): fetch it again when asked.
            self._drop(digest)
            return None
        index.move_to_end(digest)
        return Fetched(url, LinkState.OK, entry.path, entry.info)

    def forget(self, url: str) -> None:
        """Let the next :meth:`fetch` of ``url`` try again after a failure."""
        self._failed.pop(url, None)

    # --- fetching -------------------------------------------------------------------

    async def fetch(self, url: str) -> Fetched:
        """The cached file for ``url``, fetched now if needed. Callers asking for the same
        URL at the same time share one request. Never raises for network, HTTP or
        content problems: the answer's ``state`` and ``reason`` say what happened."""
        known = self.cached(url)
        if known is not None:
            return known
        pending = self._pending.get(url)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(url))
            self._pending[url] = pending
            pending.add_done_callback(lambda _: self._pending.pop(url, None))
        # Shielded: one caller giving up (the cursor moved on) must not cancel the others'.
        return await asyncio.shield(pending)

    async def _fetch(self, url: str) -> Fetched:
        try:
            result = await self._download(url)
        except (httpx.HTTPError, httpx.InvalidURL, OutputRefused) as error:
            state, reason = transport_state(error)
            result = Fetched(url, state, None, None, reason)
        except OSError:
            reason = "The output could not be stored in the cache (a disk error)."
            result = Fetched(url, LinkState.UNREACHABLE, None, None, reason)
        if result.state is not LinkState.OK:
            self._failed[url] = result
        return result

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    async def _download(self, url: str) -> Fetched:
        check_url(url)
        digest = _digest(url)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        part = self.root / f"{digest}{_PART}"
        try:
            async with self._http().stream("GET", url) as response:
                if not response.is_success:
                    status = response.status_code
                    return Fetched(
                        url, link_state_for_status(status), None, None, status_reason(status)
                    )
                declared = declared_length(response)
                if declared is not None and declared > self.max_file_bytes:
                    raise too_large(self.max_file_bytes)
                received = await self._stream_to(response, part)
            if declared is not None and received != declared:
                return Fetched(
                    url,
                    LinkState.UNREACHABLE,
                    None,
                    None,
                    "The output's host sent fewer bytes than it announced.",
                )
            info = inspect(part)
            final = self.root / _file_name(digest, info)
            os.replace(part, final)
        finally:
            with contextlib.suppress(OSError):
                part.unlink()
        self._store(digest, _Entry(final, info))
        return Fetched(url, LinkState.OK, final, info)

    async def _stream_to(self, response: httpx.Response, part: Path) -> int:
        received = 0
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            async for chunk in response.aiter_bytes():
                if received == 0 and chunk:
                    kind = sniff(chunk[:SNIFF_BYTES])
                    if kind is MediaKind.OTHER:
                        raise OutputRefused(
                            "The output is not an image or a video this program knows"
                            " (its first bytes say otherwise), so it is not shown."
                        )
                received += len(chunk)
                if received > self.max_file_bytes:
                    raise too_large(self.max_file_bytes)
                out.write(chunk)
        if received == 0:
            raise OutputRefused("The output's host sent an empty file.")
        return received

    def _store(self, digest: str, entry: _Entry) -> None:
        index = self._index()
        old = index.pop(digest, None)
        if old is not None:
            self._total -= old.info.size
            if old.path != entry.path:
                with contextlib.suppress(OSError):
                    old.path.unlink()
        index[digest] = entry
        self._total += entry.info.size
        while self._total > self.max_bytes and len(index) > 1:
            oldest = next(iter(index))
            self._drop(oldest, unlink=True)

    def _drop(self, digest: str, *, unlink: bool = False) -> None:
        index = self._index()
        entry = index.pop(digest, None)
        if entry is None:
            return
        self._total -= entry.info.size
        if unlink:
            with contextlib.suppress(OSError):
                entry.path.unlink()

    async def aclose(self) -> None:
        """Stop fetches under way and close the HTTP client."""
        for pending in list(self._pending.values()):
            pending.cancel()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
