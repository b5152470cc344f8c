"""The one harness for driving the whole dashboard headless against the simulator.

Tests import these helpers with a bare import (``from harness import ...``: pytest puts
``tests/`` on ``sys.path``); the fixtures built on them (``clock``, ``sim``,
``app_factory``, ``browser_log``) live in ``conftest.py``.

The simulator runs on a :class:`~aireiter_tui.simulator.ManualClock` (task statuses change
only when a test says so) and the app's scheduler on a :class:`StepClock` (tasks become
due only when a test advances it), so which requests are made is decided by the test, not
by timing: a test advances the clock, wakes the poller and waits until it has settled, and
the request counts the simulator saw over that window are exact whatever the machine's
speed. Waiting is always for a condition (:func:`wait_for`), bounded by a number of turns
of the event loop, never a fixed sleep. Only request timeouts use real time: generous by
default (``TIMEOUT``), so a busy machine never turns a slow answer into a timeout.
"""

from __future__ import annotations

import random
import re
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Static

from aireiter_tui.backend import Backend
from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.secret import ApiKey
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry
from aireiter_tui.simulator import ManualClock, Simulator
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.widgets.task_table import TaskTable

SIZE = (120, 36)
#: How many 50 ms turns a wait may take before it fails (a bound, never a sleep).
MAX_TURNS = 400
#: Seconds a request may take before it counts as timed out (real time).
TIMEOUT = 10.0
#: When watchlists written by :func:`seed_watchlist` say their tasks were added, and where
#: ``make_app(..., frozen_at=T0)`` stops the app's wall clock.
T0 = datetime(2025, 12, 18, 10, 0, tzinfo=UTC)
#: What must never reach the terminal from a widget: C0 (tab aside), DEL and C1.
TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")

#: What the ``app_factory`` fixture returns: :func:`make_app` on the test's ``tmp_path``
#: and ``clock`` (both can still be overridden by keyword).
AppFactory = Callable[..., AIReiterApp]


# --- clock, waiting -----------------------------------------------------------------------


class StepClock:
    """A monotonic clock for the app's scheduler that moves only when told to."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def wait_for(
    pilot: Pilot[None], condition: Callable[[], bool], what: str, *, turns: int = MAX_TURNS
) -> None:
    """Let the app run until ``condition()`` holds; fail naming ``what`` if it never does
    within ``turns`` turns of 50 ms (it is checked every 10 ms)."""
    for _ in range(turns * 5):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"gave up waiting for {what}")


# --- the simulator, the watchlist, the app ---------------------------------------------------


@asynccontextmanager
async def running_sim(
    seed: int = 11, *, setup: Callable[[Simulator], object] | None = None, **options: Any
) -> AsyncIterator[Simulator]:
    """A simulator on a manual clock, listening on 127.0.0.1 in the test's own loop.

    ``options`` are further :class:`Simulator` keywords (``api_key``, ``latency_ms``...);
    ``setup`` is called on it before it starts (e.g. ``Simulator.seed_demo``).
    """
    simulator = Simulator(seed=seed, clock=ManualClock(), **options)
    if setup is not None:
        setup(simulator)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


def refs_of(pairs: Iterable[tuple[str, str]]) -> list[TaskRef]:
    """The simulator's ``(kind, id)`` pairs as task refs."""
    return [TaskRef(IdKind(kind), ident) for kind, ident in pairs]


def seed_watchlist(
    path: Path, refs: Iterable[TaskRef], label: str | None = None, *, added_at: datetime = T0
) -> None:
    """Write a watchlist file holding ``refs`` (no snapshots: every task is unfetched)."""
    entries = [WatchEntry(ref=ref, label=label, added_at=added_at) for ref in refs]
    WatchlistStore(path).save(entries)


def settings_for(sim: Simulator, **changes: Any) -> Settings:
    """Settings that point at a started simulator with its key (``changes`` override)."""
    values: dict[str, Any] = {
        "base_url": sim.base_url,
        "api_key": ApiKey(sim.api_key),
        "poll_interval": 5.0,
        "concurrency": 8,
    }
    values.update(changes)
    return Settings(**values)


def fault_settings(
    base_url: str,
    api_key: str,
    *,
    timeout: float = TIMEOUT,
    concurrency: int = 8,
    profile: str | None = None,
) -> Settings:
    """Settings for the fault tests: a query a second per task, a generous ``timeout``."""
    return Settings(
        base_url=base_url,
        api_key=ApiKey(api_key),
        poll_interval=1,
        slow_poll_interval=30,
        # The simulator's tasks were created in 2025: without this they would all count as
        # long-running and be polled at the slow interval.
        long_running_after=1e9,
        request_timeout=timeout,
        concurrency=concurrency,
        profile=profile,
    )


def make_app(
    tmp_path: Path,
    settings: Settings,
    *,
    clock: StepClock | None = None,
    live: bool = True,
    watchlist: Path | None = None,
    simulator: Simulator | None = None,
    frozen_at: datetime | None = None,
) -> AIReiterApp:
    """Build the app as the CLI does, on files under ``tmp_path``, with seeded jitter.

    ``watchlist`` defaults to ``tmp_path / "watchlist.toml"``; ``clock`` to a new
    :class:`StepClock`; ``live=False`` starts no polling; ``simulator`` is the demo's
    in-process one (``--demo``); ``frozen_at`` stops the wall clock ("ago" columns, task
    ages) at that time instead of the real one.
    """
    store = WatchlistStore(watchlist or tmp_path / "watchlist.toml")
    backend = Backend(settings, store, config_path=tmp_path / "config.toml", simulator=simulator)

    def wall_clock() -> datetime:
        return frozen_at or datetime.now(UTC)

    return AIReiterApp(
        backend,
        monotonic=clock or StepClock(),
        rng=random.Random(0),
        wall_clock=wall_clock,
        live=live,
    )


# --- what the app shows -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Note:
    """One notification the app showed."""

    message: str
    title: str
    severity: str


def record_notes(app: AIReiterApp) -> list[Note]:
    """Record every notification ``app`` shows (they expire from the screen; this doesn't)."""
    notes: list[Note] = []
    original = app.notify

    def notify(message: str, **kwargs: Any) -> None:
        notes.append(
            Note(str(message), str(kwargs.get("title", "")), str(kwargs.get("severity", "")))
        )
        original(message, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    return notes


def table(app: AIReiterApp) -> TaskTable:
    """The main screen's table, whatever screen is on top."""
    return app.main_screen.query_one(TaskTable)


def all_fetched(app: AIReiterApp) -> bool:
    """Every watched row has a snapshot."""
    rows = app.monitor.session.rows.values()
    return bool(rows) and all(row.task is not None for row in rows)


def status_of(app: AIReiterApp, ref: TaskRef) -> str | None:
    row = app.monitor.session.rows.get(ref.key)
    return row.task.status_label if row and row.task else None


def banner_text(app: AIReiterApp) -> str:
    """The banner's plain text ('' when hidden)."""
    banner = app.query_one("#banner", Static)
    return str(banner.render()) if banner.display else ""


def mode(app: AIReiterApp) -> str:
    return app.monitor.scheduler.state(app.monitor.monotonic()).mode


def table_lines(app: AIReiterApp) -> list[str]:
    """The text of every table line on screen (header first), as painted."""
    task_table = table(app)
    height = task_table.scrollable_content_region.height
    return ["".join(seg.text for seg in task_table.render_line(y)) for y in range(height)]


def shown_line(app: AIReiterApp, ident: str) -> str:
    """The painted table line of the task whose ID or label is ``ident``; "" when it is
    not on screen."""
    lines = table_lines(app)
    # A long ID is cut in the middle to fit the Task column: both its ends still show.
    for line in lines:
        if ident[:20] in line or (ident[:5] in line and ident[-6:] in line):
            return line
    # A label is cut at its end: its start shows.
    return next((line for line in lines if line.lstrip().startswith(ident[:8])), "")


def row_line(app: AIReiterApp, ident: str) -> str:
    """:func:`shown_line`, which must find the row on screen."""
    line = shown_line(app, ident)
    assert line, f"{ident} is not on screen"
    return line


def pane_text(app: AIReiterApp) -> str:
    """The plain text of every section of the detail pane."""
    from aireiter_tui.ui.widgets.detail_pane import DetailPane

    pane = app.query_one(DetailPane)
    return "\n".join(str(static.render()) for static in pane.query(Static))


def assert_terminal_safe(app: AIReiterApp) -> None:
    """No control byte in anything the screen would write, no click action in any style,
    and none in the exported screenshot either."""
    for y, strip in enumerate(app.screen._compositor.render_strips()):
        for segment in strip:
            assert not TERMINAL_CONTROLS.search(segment.text), (y, segment.text)
            meta = segment.style.meta if segment.style else {}
            assert "@click" not in meta, (y, segment.text, meta)
    svg = app.export_screenshot()
    assert not TERMINAL_CONTROLS.search(svg.replace("\n", ""))
    assert "\x1b" not in svg and "\x9b" not in svg and "\x07" not in svg


# --- polling on the step clock ----------------------------------------------------------------


def quiet(app: AIReiterApp) -> bool:
    """Nothing due at the step clock's 'now' and nothing in flight."""
    now = app.monitor.monotonic()
    due = app.monitor.scheduler.next_due_time()
    return (due is None or due > now or app.monitor.paused) and app.monitor.state().in_flight == 0


def settled(app: AIReiterApp) -> bool:
    """Nothing due at the step clock's 'now', nothing in flight, every outcome shown."""
    return quiet(app) and not app.monitor.has_changes


async def step(pilot: Pilot[None], app: AIReiterApp, clock: StepClock, seconds: float) -> None:
    """Move the step clock, wake the poller and wait until every due task is answered."""
    clock.advance(seconds)
    app.monitor.wake()
    await wait_for(pilot, lambda: quiet(app), "the poller to settle")
    app.main_screen.apply_changes()  # the screen's next flush, without waiting for it


async def run_for(
    pilot: Pilot[None], app: AIReiterApp, clock: StepClock, seconds: float, tick: float = 0.5
) -> None:
    """Advance the step clock by ``seconds`` in ticks, letting every due query run."""
    for _ in range(round(seconds / tick)):
        await step(pilot, app, clock, tick)


# --- keys, quitting ------------------------------------------------------------------------


async def assert_responsive(pilot: Pilot[None], app: AIReiterApp) -> None:
    """The app is running and a key press moves the table cursor."""
    assert app.is_running
    task_table = table(app)
    assert task_table.row_count >= 2, "needs two rows to see the cursor move"
    await pilot.press("home")
    await wait_for(pilot, lambda: task_table.cursor_row == 0, "home to move the cursor")
    await pilot.press("down")
    await wait_for(pilot, lambda: task_table.cursor_row == 1, "down to move the cursor")


async def quit_and_load(pilot: Pilot[None], app: AIReiterApp, path: Path) -> list[TaskRef]:
    """Quit with ``q`` (the app saves on unmount) and read the watchlist back."""
    await pilot.press("q")
    await wait_for(pilot, lambda: not app.is_running, "the app to quit")
    return [entry.ref for entry in WatchlistStore(path).load()]


def opened_urls(browser_log: Path) -> list[str]:
    """The URLs the ``browser_log`` fixture's stand-in browser was asked to open."""
    return browser_log.read_text().splitlines()


def watch_two_output_task(tmp_path: Path, sim: Simulator) -> TaskRef:
    """A completed task with two outputs, known by out_task_id, in the watchlist."""
    sim.submit("nano_banana_pro", {"prompt": "two", "output_n": 2}, "pair", hide_task_id=True)
    sim.force_status("pair", "completed")
    ref = TaskRef(IdKind.OUT_TASK_ID, "pair")
    seed_watchlist(tmp_path / "watchlist.toml", [ref])
    return ref
