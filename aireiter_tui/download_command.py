"""``aireiter-tui download``: query tasks and save their outputs into the download folder.

Each saved file's path goes to stdout, one per line (``--json``: an object per file), so
a script can pipe them on; trouble goes to stderr, and a progress line too when stderr is
a terminal. Files already in the folder are not fetched again, and a file cut short is
resumed from where it stopped, in this run or the next.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from aireiter_tui.backend import MEGABYTE
from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.download_names import DownloadItem, default_download_dir, plan
from aireiter_tui.domain.downloads import Downloader, Progress
from aireiter_tui.domain.errors import (
    AIReiterError,
    AuthenticationError,
    InsecureURLError,
    TaskNotFoundError,
)
from aireiter_tui.domain.media_info import human_size
from aireiter_tui.domain.models import Task, TaskRef, TaskStatus
from aireiter_tui.domain.output_fetch import LinkState, output_client
from aireiter_tui.output import json_text, shown, write

if TYPE_CHECKING:
    from aireiter_tui.api.client import AIReiterClient

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NETWORK = 0, 1, 2, 4
#: Exit statuses of several tasks and files: the first that applies wins.
_PRECEDENCE: Final = (EXIT_USAGE, EXIT_NETWORK, EXIT_FAILED, EXIT_OK)
#: Queries in flight at once (a handful of IDs is the usual case).
QUERY_CONCURRENCY: Final = 4
#: The progress line is redrawn at most this often (seconds).
REDRAW_EVERY: Final = 0.1
_BAR_CELLS: Final = 24


def add_arguments(commands: Any, common: argparse.ArgumentParser) -> None:
    download = commands.add_parser(
        "download",
        parents=[common],
        help="save completed tasks' outputs into the download folder",
        description="Query each task and save its outputs as ID.ext (ID_2.ext, ... for "
        "several) into the download folder; files already there are skipped, a file cut "
        "short is resumed. Prints each saved file's path. Exit status (the first that "
        "applies): 2 bad key, unknown task or usage error, 4 network or server error, "
        "1 a task has no outputs (not completed, failed) or a file could not be saved, "
        "0 every output saved.",
    )
    download.add_argument(
        "ids", nargs="+", metavar="ID", help="task IDs (- reads them from standard input)"
    )
    download.add_argument("--out", action="store_true", help="the IDs are out_task_ids")
    download.add_argument(
        "--dir",
        type=Path,
        metavar="DIR",
        help="save here (default: download_dir from the config, else ~/Downloads/aireiter)",
    )
    download.add_argument("--json", action="store_true", help="a JSON object per file (JSON Lines)")


def download_folder(args: argparse.Namespace, settings: Settings) -> Path:
    """``--dir``, else the config's ``download_dir``, else the XDG default."""
    if args.dir is not None:
        return Path(args.dir).expanduser()
    return settings.download_dir or default_download_dir(os.environ)


@dataclass
class _Asked:
    """One task named on the command line and what its query came to."""

    ref: TaskRef
    task: Task | None = None
    problem: str = ""
    code: int = EXIT_OK

    @property
    def name(self) -> str:
        """The ID files are named after: the one asked for, as the dashboard names them
        (so each sees the other's files as already downloaded)."""
        return self.ref.id


async def run(
    args: argparse.Namespace,
    settings: Settings,
    refs: Sequence[TaskRef],
    rejected: Sequence[tuple[str, str]],
    out: TextIO,
    err: TextIO,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Query ``refs``, save their outputs, print the paths; returns the exit status."""
    from aireiter_tui.backend import build_client

    codes: set[int] = set()
    for text, reason in rejected:
        write(err, f"aireiter-tui: not downloaded {shown(text, 80)!r}: {reason}\n")
        codes.add(EXIT_USAGE)
    if not settings.api_key:
        write(err, "aireiter-tui: no API key: set AIREITER_API_KEY or api_key in the config file\n")
        return EXIT_USAGE
    try:
        client = build_client(settings, concurrency=QUERY_CONCURRENCY)
    except AIReiterError as error:  # the client could not be set up (a refused URL)
        write(err, f"aireiter-tui: {error.human()}\n")
        return EXIT_USAGE
    async with client:
        asked = await asyncio.gather(*(_query(client, ref) for ref in refs))
    ready: list[tuple[str, Sequence[str]]] = []
    for task in asked:
        if task.problem:
            write(err, f"aireiter-tui: {shown(task.ref.id, 80)}: {task.problem}\n")
            if args.json:
                _json_line(out, task.name, None, None, None, "failed", 0, task.problem)
            codes.add(task.code)
        elif task.task is not None:
            ready.append((task.name, [output.url for output in task.task.outputs]))
    folder = download_folder(args, settings)
    items = plan(ready, folder)
    if items:
        codes |= await _save(args, settings, items, out, err, clock)
    return next(code for code in _PRECEDENCE if code in codes or code == EXIT_OK)


async def _query(client: AIReiterClient, ref: TaskRef) -> _Asked:
    asked = _Asked(ref)
    try:
        task = await client.query_ref(ref)
    except AIReiterError as error:
        asked.problem = error.human()
        usage = AuthenticationError | TaskNotFoundError | InsecureURLError
        asked.code = EXIT_USAGE if isinstance(error, usage) else EXIT_NETWORK
        return asked
    asked.task = task
    if task.status is TaskStatus.FAILED:
        asked.problem, asked.code = "the task failed: it has no outputs", EXIT_FAILED
    elif task.status is not TaskStatus.COMPLETED:
        state = shown(task.status_label, 40)
        asked.problem, asked.code = f"the task is {state}: no outputs yet", EXIT_FAILED
    elif not task.outputs:
        asked.problem, asked.code = "the task completed without outputs", EXIT_FAILED
    return asked


async def _save(
    args: argparse.Namespace,
    settings: Settings,
    items: Sequence[DownloadItem],
    out: TextIO,
    err: TextIO,
    clock: Callable[[], float],
) -> set[int]:
    line = _ProgressLine(err, len(items), clock) if err.isatty() and not args.json else None
    async with output_client() as http:
        downloader = Downloader(http, settings.max_output_mb * MEGABYTE)
        try:
            results = await downloader.run(items, line.update if line else _ignore)
        finally:
            if line is not None:
                line.clear()
    codes: set[int] = set()
    for result in results:
        item = result.item
        if result.state in ("done", "skipped"):
            if args.json:
                _json_line(
                    out,
                    item.task_id,
                    item.index,
                    item.url,
                    str(item.target),
                    result.state,
                    result.received,
                    "",
                )
            else:
                write(out, f"{shown(item.target)}\n")
            continue
        network = result.reason.startswith(LinkState.UNREACHABLE.value)
        codes.add(EXIT_NETWORK if network else EXIT_FAILED)
        where = f"{shown(item.task_id, 80)}: output {item.index + 1}"
        write(err, f"aireiter-tui: {where}: {result.reason}\n")
        if args.json:
            _json_line(
                out,
                item.task_id,
                item.index,
                item.url,
                None,
                "failed",
                result.received,
                result.reason,
            )
    return codes


def _ignore(progress: Progress) -> None:
    return None


def _json_line(
    out: TextIO,
    task_id: str,
    index: int | None,
    url: str | None,
    path: str | None,
    state: str,
    received: int,
    reason: str,
) -> None:
    record = {
        "task_id": task_id,
        "index": index,
        "url": url,
        "path": path,
        "state": state,
        "bytes": received,
        "reason": reason,
    }
    write(out, json_text(record, out) + "\n")


class _ProgressLine:
    """One live line on a terminal: files finished, bytes, a bar over the known total."""

    def __init__(self, err: TextIO, files: int, clock: Callable[[], float]) -> None:
        self._err = err
        self._files = files
        self._clock = clock
        self._by_item: dict[tuple[str, int], Progress] = {}
        self._last = float("-inf")
        self._shown = False

    def update(self, progress: Progress) -> None:
        self._by_item[(progress.item.task_id, progress.item.index)] = progress
        now = self._clock()
        finished = progress.state in ("done", "skipped", "failed")
        if not finished and now - self._last < REDRAW_EVERY:
            return
        self._last = now
        write(self._err, "\r\x1b[2K" + self.text())
        self._err.flush()
        self._shown = True

    def text(self) -> str:
        rows = self._by_item.values()
        ended = sum(p.state in ("done", "skipped", "failed") for p in rows)
        received = sum(p.received for p in rows)
        totals = [p.total for p in rows]
        words = f"{ended}/{self._files} files, {human_size(received)}"
        if any(total is None for total in totals) or len(totals) < self._files:
            return f"downloading {words}"
        total = sum(t for t in totals if t is not None)
        share = received / total if total else 1.0
        filled = round(share * _BAR_CELLS)
        bar = "█" * filled + "░" * (_BAR_CELLS - filled)
        return f"downloading {bar} {share:4.0%} {words} of {human_size(total)}"

    def clear(self) -> None:
        if self._shown:
            self._err.write("\r\x1b[2K")
            self._err.flush()
            self._shown = False
