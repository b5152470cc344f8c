"""Saving output files into the download folder: the streaming (``NAME.part`` renamed
when whole, resumed with ``Range``), under the names
:mod:`~aireiter_tui.domain.download_names` gives. The extension is the one the file's
magic bytes call for.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, Literal

import httpx

from aireiter_tui.domain.download_names import DownloadItem, part_path, saved_path
from aireiter_tui.domain.media_info import EXTENSIONS, SNIFF_BYTES, MediaKind, sniff
from aireiter_tui.domain.output_fetch import (
    LinkState,
    OutputRefused,
    check_url,
    declared_length,
    link_state_for_status,
    status_reason,
    too_large,
    transport_state,
)

#: Attempts at one file while each gets further than the last (a cut stream resumes).
MAX_ATTEMPTS: Final = 4
_CONTENT_RANGE_RE: Final = re.compile(r"bytes (?:(\d+)-\d+|\*)/(\d+|\*)")

State = Literal["queued", "running", "done", "skipped", "failed"]


@dataclass
class Progress:
    """Where one file stands. ``total`` is ``None`` while the size is unknown; ``reason``
    is a sentence when ``state`` is "failed" (starting with the link's state)."""

    item: DownloadItem
    received: int
    total: int | None
    state: State
    reason: str = ""


class _Failed(Exception):
    """One attempt's end; ``state`` is ``None`` for a local failure (the disk)."""

    def __init__(self, state: LinkState | None, reason: str, *, keep_part: bool) -> None:
        super().__init__(reason)
        self.state = state
        self.reason = reason
        self.keep_part = keep_part


def _content_range(value: str) -> tuple[int | None, int | None] | None:
    """``Content-Range: bytes 100-199/1000`` -> (100, 1000); ``bytes */1000`` -> (None, 1000)."""
    match = _CONTENT_RANGE_RE.fullmatch(value.strip())
    if match is None:
        return None
    start, total = match.group(1), match.group(2)
    return None if start is None else int(start), None if total == "*" else int(total)


class Downloader:
    """Saves output files with ``client`` (an :func:`output_client`), ``concurrency`` at
    a time, refusing any file over ``max_file_bytes``."""

    def __init__(
        self, client: httpx.AsyncClient, max_file_bytes: int, concurrency: int = 4
    ) -> None:
        self._client = client
        self.max_file_bytes = max_file_bytes
        self._slots = asyncio.Semaphore(max(1, concurrency))

    async def run(
        self, items: Sequence[DownloadItem], on_progress: Callable[[Progress], None]
    ) -> list[Progress]:
        """Save ``items``; ``on_progress`` hears every change. Returns each item's final
        progress, in the order of ``items`` (the item's ``target`` then names the file
        as saved). Never raises for network, HTTP or content problems."""
        progress = [Progress(item, 0, None, "queued") for item in items]
        for entry in progress:
            on_progress(entry)

        async def one(entry: Progress) -> None:
            async with self._slots:
                await self._save(entry, on_progress)

        await asyncio.gather(*(one(entry) for entry in progress))
        return progress

    async def _save(self, entry: Progress, on_progress: Callable[[Progress], None]) -> None:
        saved = saved_path(entry.item)
        if saved is not None:
            entry.item = replace(entry.item, target=saved)
            entry.state = "skipped"
            entry.received = entry.total = saved.stat().st_size
            on_progress(entry)
            return
        entry.state = "running"
        on_progress(entry)
        part = part_path(entry.item.target)
        attempts = 0
        while True:
            attempts += 1
            before = _size(part)
            try:
                await self._attempt(entry, part, on_progress)
            except _Failed as failure:
                if not failure.keep_part:
                    with contextlib.suppress(OSError):
                        part.unlink()
                grew = _size(part) > before
                if failure.keep_part and grew and attempts < MAX_ATTEMPTS:
                    continue
                entry.state = "failed"
                entry.reason = failure.reason
                if failure.state is not None:
                    entry.reason = f"{failure.state.value}: {failure.reason}"
                on_progress(entry)
                return
            entry.state = "done"
            on_progress(entry)
            return

    async def _attempt(
        self, entry: Progress, part: Path, on_progress: Callable[[Progress], None]
    ) -> None:
        try:
            check_url(entry.item.url)
            entry.item.target.parent.mkdir(parents=True, exist_ok=True)
            await self._stream(entry, part, on_progress)
            self._finish(entry, part)
        except OutputRefused as error:
            raise _Failed(LinkState.REFUSED, str(error), keep_part=False) from None
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            state, reason = transport_state(error)
            raise _Failed(state, reason, keep_part=state is LinkState.UNREACHABLE) from None
        except OSError as error:
            reason = f"The file could not be written ({error.strerror or 'an OS error'})."
            raise _Failed(None, reason, keep_part=True) from None

    async def _stream(
        self, entry: Progress, part: Path, on_progress: Callable[[Progress], None]
    ) -> None:
        offset = _size(part)
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        async with self._client.stream("GET", entry.item.url, headers=headers) as response:
            status = response.status_code
            if status == 416 and offset:
                # The .part may already be whole; the server says how long the file is.
                whole = _content_range(response.headers.get("content-range", ""))
                if whole is not None and whole[1] == offset:
                    entry.received = entry.total = offset
                    return
                raise _Failed(
                    LinkState.UNREACHABLE,
                    "The resume was refused; starting over next time.",
                    keep_part=False,
                )
            if not response.is_success:
                raise _Failed(link_state_for_status(status), status_reason(status), keep_part=False)
            if status == 206 and offset:
                span = _content_range(response.headers.get("content-range", ""))
                if span is None or span[0] != offset:
                    raise _Failed(
                        LinkState.UNREACHABLE,
                        "The host resumed from the wrong place.",
                        keep_part=False,
                    )
                total = span[1]
                mode = "ab"
            else:
                # A 200 to a Range request: the server sends the whole file again.
                offset = 0
                declared = declared_length(response)
                total = declared
                mode = "wb"
            if total is not None and total > self.max_file_bytes:
                raise too_large(self.max_file_bytes)
            entry.received = offset
            entry.total = total
            on_progress(entry)
            with part.open(mode) as out:
                async for chunk in response.aiter_bytes():
                    if (
                        entry.received == 0
                        and chunk
                        and sniff(chunk[:SNIFF_BYTES]) is MediaKind.OTHER
                    ):
                        raise OutputRefused(
                            "The output is not an image or a video (its first bytes say"
                            " otherwise), so it was not saved."
                        )
                    entry.received += len(chunk)
                    if entry.received > self.max_file_bytes:
                        raise too_large(self.max_file_bytes)
                    out.write(chunk)
                    on_progress(entry)
        if entry.total is not None and entry.received != entry.total:
            raise _Failed(
                LinkState.UNREACHABLE,
                f"The host sent {entry.received} of {entry.total} bytes.",
                keep_part=True,
            )

    def _finish(self, entry: Progress, part: Path) -> None:
        with part.open("rb") as f:
            kind = sniff(f.read(SNIFF_BYTES))
        if kind is MediaKind.OTHER:
            raise _Failed(
                LinkState.REFUSED,
                "The output is not an image or a video, so it was not saved.",
                keep_part=False,
            )
        target = entry.item.target.with_name(
            f"{entry.item.target.name.rpartition('.')[0]}.{EXTENSIONS[kind]}"
        )
        os.replace(part, target)
        entry.item = replace(entry.item, target=target)
        entry.total = entry.received


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
