"""1,000,000 watched (issue 20): a hand-written list of IDs, read while the UI answers keys.

The list is what a user's script writes: ``version = 1`` then one ``[[tasks]]`` table per
task holding only its ``id`` (no kind, label, snapshot or time: the app reads a missing
``kind`` as ``task_id``), IDs shaped like the simulator's (``order_`` + 21 URL-safe
characters), and no ``.db`` cache beside it. Each run is a fresh interpreter
(``python -m bench.million child WATCHLIST OUT SECONDS``), as :mod:`bench.startup`: the
real :class:`~aireiter_tui.ui.app.AIReiterApp` headless at 160x48, every frame encoded
as for a terminal, no API key (no client, so nothing is polled). It writes, on the
system-wide ``time.monotonic()`` clock the parent read before starting it:

- ``first``: the first painted frame;
- ``first_rows``: the first painted frame whose ``TaskTable`` had rows (null: none
  within the window);
- ``progress``: the first painted frame in which the status bar drew how far reading
  has come (``reading N of M…``, the main screen's words from ``PartLoader.read`` and
  ``.total``), found in the strips ``StatusBar.render_line`` returned for that frame;
- the key presses: from the first frame on, a Down key event is posted the way a
  terminal driver posts it, every ~50 ms (the next ~50 ms after the previous one was
  painted, or given up after 2 s), for ``SECONDS`` or until the whole list is read
  (``app.monitor.loaded``). Each latency runs from posting to the first frame painted
  after the app handled that key: "handled" is the end of the app's dispatch of the
  event when it comes back to the app from the focused widget (the table's binding runs
  there). If that moved the table's cursor, the frame counted is the first one after
  ``TaskTable.render_line`` drew the cursor row at its new position (as
  :mod:`bench.painting`). If it changed nothing on screen (no rows yet, or nothing
  focused), no frame would follow, so the probe marks the status bar dirty (two lines,
  the cheapest widget to draw again) and counts the next frame;
- ``read`` / ``total``: the entries the monitor's loader had adopted at the end of the
  window, and how many the list holds (null: not known yet);
- ``rss_kb``: the peak RSS (``VmHWM``) at the end of the window.

Then the child leaves with ``os._exit`` (see :func:`_leave`): it does not wait for the
rest of the list.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import Figure, Target, median, ms, percentile, secs

SIZE = (160, 48)
ROOT = Path(__file__).resolve().parent.parent
WINDOW = 10.0  # seconds of key presses (from the first frame), unless read sooner
GAP = 0.05  # between a press painted and the next posted
GIVE_UP = 2.0  # a press not painted by then is counted as unpainted
SECTION = "1M watched"
#: The main screen's words while the watchlist is read, once the total is known.
PROGRESS = re.compile(r"reading [\d,]+ of [\d,]+…?")
#: ... and before it is (no count: not progress).
WORDS = "reading the watchlist"
ID_CHARS = 21  # the simulator's IDs: "order_" and 21 URL-safe characters


# --- the list ---------------------------------------------------------------------------
def write_watchlist(path: Path, rows: int, seed: int = 20) -> int:
    """A hand-written watchlist of ``rows`` IDs (``[[tasks]]`` tables, ``id`` only) at
    ``path``, with nothing beside it; returns its size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    rng = random.Random(seed)
    # 16 random bytes make 21.3 characters: one encoding, then a slice per ID.
    chars = base64.urlsafe_b64encode(rng.randbytes(rows * 16 + 16)).decode("ascii")
    text = "version = 1\n\n" + "".join(
        f'[[tasks]]\nid = "order_{chars[at : at + ID_CHARS]}"\n\n'
        for at in range(0, rows * ID_CHARS, ID_CHARS)
    )
    data = text.encode("ascii")
    path.write_bytes(data)
    return len(data)


# --- the child ----------------------------------------------------------------------------
class _Probe:
    """The child's records, and the press waiting for its frame."""

    def __init__(self) -> None:
        self.first = 0.0
        self.first_rows: float | None = None
        self.progress: float | None = None
        self.progress_text = ""
        self.progress_drawn = ""  # drawn by the status bar, not yet in a painted frame
        self.last_progress_text = ""
        self.words_drawn = False  # "reading the watchlist…" drawn (no count)
        self.words = False  # ... and in a painted frame
        # The press under way: its event, when it was posted and handled, the cursor
        # row it should be drawn at (None: nothing moved), whether that was drawn.
        self.event: Any = None
        self.posted = 0.0
        self.handled = 0.0
        self.dispatches = 0
        self.cursor_target: int | None = None
        self.cursor_drawn = False
        self.painted = asyncio.Event()
        self.latencies: list[float] = []
        self.moved = 0
        self.timeouts = 0

    def frame(self, painted: float, rows: int) -> None:
        if not self.first:
            self.first = painted
        if rows and self.first_rows is None:
            self.first_rows = painted
        self.words = self.words or self.words_drawn
        if self.progress_drawn:
            if self.progress is None:
                self.progress, self.progress_text = painted, self.progress_drawn
            self.last_progress_text, self.progress_drawn = self.progress_drawn, ""
        waited = self.cursor_target is None or self.cursor_drawn
        if self.event is not None and self.handled and waited:
            self.latencies.append(painted - self.posted)
            self.event = None
            self.painted.set()


def _run_child(watchlist: Path, out: Path, seconds: float) -> None:
    from rich.console import RenderableType
    from textual import events
    from textual.message import Message
    from textual.screen import Screen
    from textual.strip import Strip

    from aireiter_tui.backend import Backend
    from aireiter_tui.domain.config import Settings
    from aireiter_tui.domain.watchlist import WatchlistStore
    from aireiter_tui.ui.app import AIReiterApp
    from aireiter_tui.ui.widgets.status_bar import StatusBar
    from aireiter_tui.ui.widgets.task_table import TaskTable
    from bench.painting import APP_CSS
    from bench.startup import _peak_rss_kb, _stamp

    probe = _Probe()

    bar_line = StatusBar.render_line

    def status_line(self: StatusBar, y: int) -> Strip:
        strip = bar_line(self, y)
        found = PROGRESS.search(strip.text)
        if found:
            probe.progress_drawn = found.group()
        elif not probe.words_drawn and WORDS in strip.text:
            probe.words_drawn = True
        return strip

    table_line = TaskTable.render_line

    def table_row(self: TaskTable, y: int) -> Strip:
        strip = table_line(self, y)
        target = probe.cursor_target
        if (
            target is not None
            and y > 0
            and int(self.scroll_y) + y - 1 == target
            and self.cursor_row == target
        ):
            probe.cursor_drawn = True
        return strip

    StatusBar.render_line = status_line  # type: ignore[method-assign,assignment]
    TaskTable.render_line = table_row  # type: ignore[method-assign]

    class MillionApp(AIReiterApp):
        CSS_PATH = APP_CSS
        presser: asyncio.Task[None] | None = None
        before = -1  # the cursor's row when the press under way was posted

        def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
            super()._display(screen, renderable)
            if renderable is None:
                return
            painted = _stamp(self, renderable)
            tables = self.query(TaskTable)
            probe.frame(painted, tables.first().row_count if tables else 0)
            if self.presser is None:
                self.presser = asyncio.get_running_loop().create_task(self.press())

        async def _dispatch_message(self, message: Message) -> None:
            await super()._dispatch_message(message)
            if message is not probe.event or probe.handled:
                return
            # First the app takes the key: a priority binding handles it here, else it
            # is forwarded to the focused widget and bubbles back to the app, whose
            # bindings (the table's among them) run at its second dispatch.
            probe.dispatches += 1
            if probe.dispatches == 2 or not message.is_forwarded:
                self.key_handled()

        def key_handled(self) -> None:
            probe.handled = time.monotonic()
            tables = self.query(TaskTable)
            table = tables.first() if tables else None
            if table is not None and table.row_count and table.cursor_row != self.before:
                probe.cursor_target, probe.cursor_drawn = table.cursor_row, False
                probe.moved += 1
            else:
                # Nothing changed on screen: no frame would come. The cheapest one.
                self.query_one(StatusBar).refresh()

        async def press(self) -> None:
            try:
                await self.presses()
            except BaseException:  # a task's error would go unseen: say it and leave
                traceback.print_exc()
                _leave(1)
            _leave(0)

        async def presses(self) -> None:
            driver = self._driver
            assert driver is not None
            until = probe.first + seconds
            while time.monotonic() < until and not self.monitor.loaded:
                tables = self.query(TaskTable)
                self.before = tables.first().cursor_row if tables else -1
                event = events.Key("down", None)
                event.set_sender(self)  # as a terminal driver does (process_message)
                probe.handled, probe.cursor_target, probe.cursor_drawn = 0.0, None, False
                probe.dispatches = 0
                probe.painted.clear()
                probe.event, probe.posted = event, time.monotonic()
                driver.send_message(event)
                try:
                    await asyncio.wait_for(probe.painted.wait(), GIVE_UP)
                except TimeoutError:
                    probe.timeouts += 1
                    probe.event = None
                await asyncio.sleep(GAP)
            loader = self.monitor.loader
            record = {
                "first": probe.first,
                "first_rows": probe.first_rows,
                "progress": probe.progress,
                "progress_text": probe.progress_text,
                "last_progress_text": probe.last_progress_text,
                "words": probe.words,
                "latencies": probe.latencies,
                "moved": probe.moved,
                "timeouts": probe.timeouts,
                "read": loader.read,
                "total": loader.total,
                "loaded": self.monitor.loaded,
                "end": time.monotonic(),
                "rss_kb": _peak_rss_kb(),
            }
            out.write_text(json.dumps(record), encoding="utf-8")

    MillionApp(Backend(Settings(), WatchlistStore(watchlist))).run(headless=True, size=SIZE)


def _leave(status: int) -> None:
    """Exit now, skipping the app's exit.

    On quitting, the app's ``on_unmount`` calls ``Monitor.close()``: its
    ``loader.finish()`` reads, on the event loop, every entry not yet read (a partial
    list must never be saved), then it writes the list and its cache whole, changed or
    not. At 1,000,000 IDs that is the whole slow read again, timed by no one, and it
    would leave a ``.db`` beside the list (and rewrite the hand-written TOML), so the
    next run would no longer read a list without a cache. Nothing here needs saving (no
    key, no edits), so the child writes its figures and leaves at once, before any of
    that: no half list is saved either.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


# --- the parent -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Run:
    first: float  # process start -> first painted frame
    first_rows: float | None  # ... -> first frame showing tasks (None: not in the window)
    progress: float | None  # ... -> first frame showing "reading N of M…"
    progress_text: str
    last_progress_text: str
    words: bool  # "reading the watchlist…" (no count) was painted
    latencies: list[float]
    moved: int
    timeouts: int
    read: int
    total: int | None
    loaded: bool
    window: float  # first frame -> the end of the presses
    rss_mb: float


def measure(path: Path, folder: Path, seconds: float = WINDOW) -> Run:
    """One child on the list at ``path``; its figures, times from process start."""
    out = folder / "million-run.json"
    out.unlink(missing_ok=True)
    size = path.stat().st_size
    from bench.startup import byte_compiled  # (this module's top level imports no Textual)

    byte_compiled()
    command = [sys.executable, "-m", "bench.million", "child", str(path), str(out), str(seconds)]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode or not out.exists():
        raise RuntimeError(f"million child failed:\n{done.stderr[-2000:]}")
    # Whatever the app wrote beside the list (it saves nothing, but a reader may open
    # a cache): gone, so each run reads a list with no cache.
    for leftover in path.parent.glob(path.name + "?*"):
        leftover.unlink()
    assert path.stat().st_size == size, "the child changed the watchlist"
    record = json.loads(out.read_text(encoding="utf-8"))

    def since(key: str) -> float | None:
        value = record[key]
        return None if value is None else float(value) - started

    return Run(
        first=record["first"] - started,
        first_rows=since("first_rows"),
        progress=since("progress"),
        progress_text=record["progress_text"],
        last_progress_text=record["last_progress_text"],
        words=record["words"],
        latencies=record["latencies"],
        moved=record["moved"],
        timeouts=record["timeouts"],
        read=record["read"],
        total=record["total"],
        loaded=record["loaded"],
        window=record["end"] - record["first"],
        rss_mb=record["rss_kb"] / 1024,
    )


def figures(
    rows: int,
    repeats: int,
    folder: Path,
    log: Callable[[str], None],
    seconds: float = WINDOW,
) -> list[Figure]:
    """The "1M watched" figures: ``repeats`` fresh interpreters on a hand-written list of
    ``rows`` IDs."""
    path = folder / "million" / "watchlist.toml"
    began = time.perf_counter()
    size = write_watchlist(path, rows)
    log(
        f"wrote a hand-written watchlist of {rows:,} IDs ({size / 1e6:.0f} MB) in "
        f"{time.perf_counter() - began:.1f} s"
    )
    runs = []
    for number in range(repeats):
        log(f"{rows:,} watched: a fresh app reads the list, keys pressed ({number + 1}/{repeats})")
        runs.append(measure(path, folder, seconds))
    n = f"{rows:,}"
    out = [
        Figure.judged(
            SECTION,
            f"process start -> first frame (hand-written list of IDs, {size / 1e6:.0f} MB, "
            "no cache)",
            n,
            [run.first for run in runs],
            secs,
            Target(2.0, "< 2 s"),
        )
    ]
    shown = [run.first_rows for run in runs if run.first_rows is not None]
    if len(shown) == len(runs):  # the app shows rows early: judged as the first frame
        out.append(
            Figure.judged(
                SECTION,
                "process start -> first frame showing tasks",
                n,
                shown,
                secs,
                Target(2.0, "< 2 s"),
            )
        )
    else:
        missing = len(runs) - len(shown)
        note = f"none within the {seconds:g} s window in {missing} of {len(runs)} runs"
        value = f"{Figure.judged(SECTION, '', n, shown, secs).value}, {note}" if shown else note
        out.append(Figure(SECTION, "process start -> first frame showing tasks", n, value))
    latencies = [run.latencies for run in runs]
    timeouts = sum(run.timeouts for run in runs)
    presses = sum(len(values) for values in latencies) + timeouts
    moved = sum(run.moved for run in runs)
    window = median([run.window for run in runs])
    note = f"{presses} presses ({moved} moved the cursor) over {window:.1f} s"
    note += f", {timeouts} unpainted after {GIVE_UP:g} s" if timeouts else ""
    out += [
        Figure.judged(
            SECTION,
            "Down -> painted while the list is read (from the first frame): max",
            n,
            [max(values, default=float("inf")) for values in latencies],
            ms,
            Target(0.1, "< 100 ms"),
            note=note,
            valid=not timeouts and presses > 0,
        ),
        Figure.judged(
            SECTION, "  ... p95", n, [percentile(values, 0.95) for values in latencies], ms
        ),
    ]
    progressed = [run for run in runs if run.progress is not None]
    if progressed:
        when = median([run.progress for run in progressed if run.progress is not None])
        value = f'yes, from {secs(when)}: "{progressed[0].progress_text}"'
        value += "" if len(progressed) == len(runs) else f" ({len(progressed)} of {len(runs)})"
    else:
        words = sum(run.words for run in runs)
        value = f'no; "{WORDS}…" (no count) in {words} of {len(runs)} runs' if words else "no"
    out.append(
        Figure(
            SECTION,
            'progress shown while reading ("reading N of M…" in a painted frame)',
            n,
            value,
            "yes",
            len(progressed) == len(runs),
        )
    )
    total = next((run.total for run in runs if run.total), None)
    loaded = sum(run.loaded for run in runs)
    note = f"of {total:,}" if total else "total not known yet"
    note += f"; read to the end in {loaded} of {len(runs)} runs" if loaded else ""
    out += [
        Figure.judged(
            SECTION,
            "entries read by the end of the presses",
            n,
            [float(run.read) for run in runs],
            lambda count: f"{count:,.0f}",
            note=note,
        ),
        Figure.judged(
            SECTION,
            "peak RSS by then (VmHWM)",
            n,
            [run.rss_mb for run in runs],
            lambda mb: f"{mb:.0f} MB",
        ),
    ]
    return out


def main(argv: list[str]) -> None:
    if argv and argv[0] == "child":
        _run_child(Path(argv[1]), Path(argv[2]), float(argv[3]))
        return
    raise SystemExit("run through python -m bench.scale --part million")


if __name__ == "__main__":
    main(sys.argv[1:])
