"""Helpers for driving the whole dashboard headless against the simulator over real sockets.

The app runs on an injected :class:`FakeClock`, so the scheduler only sees time pass when
a test says so: a test advances the clock, wakes the refresh worker and waits (by polling
a condition, never a fixed sleep) until the worker has settled. Request counts seen by the
simulator over such a window are then exact, whatever the machine's speed. Only request
timeouts use real time: generous by default (``TIMEOUT``), so a busy machine never turns
a slow answer into a timeout; the timeout test passes ``HANG_TIMEOUT``.
"""

from __future__ import annotations

import random
import re
import socket
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from textual.pilot import Pilot
from textual.strip import Strip
from textual.widgets import Static

from aireiter_tui.backend import Backend
from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.secret import ApiKey
from aireiter_tui.domain.watchlist import WatchEntry, WatchlistStore
from aireiter_tui.simulator import ManualClock, Simulator
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.widgets.task_table import TaskTable

#: Seconds a request may take before it counts as timed out (real time).
TIMEOUT = 10.0
#: The short timeout for the test that makes the server hang (costs real time per try).
HANG_TIMEOUT = 0.75
SIZE = (120, 40)
T0 = datetime(2025, 12, 18, 10, 0, tzinfo=UTC)
#: What must never reach the terminal from a widget: C0 (tab aside), DEL and C1.
TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")

App = AIReiterApp
AppPilot = Pilot[None]


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def free_port() -> int:
    """A port nothing listens on right now (for "the server is down")."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def seed_watchlist(path: Path, refs: Iterable[TaskRef], label: str | None = None) -> None:
    """Write a watchlist file holding ``refs`` (no snapshots: every task is unfetched)."""
    entries = [WatchEntry(ref=ref, label=label, added_at=T0) for ref in refs]
    WatchlistStore(path).save(entries)


def refs_of(pairs: Iterable[tuple[str, str]]) -> list[TaskRef]:
    """The simulator's ``(kind, id)`` pairs as task refs."""
    return [TaskRef(IdKind(kind), ident) for kind, ident in pairs]


def make_app(
    base_url: str,
    api_key: str,
    watchlist: Path,
    clock: FakeClock,
    *,
    timeout: float = TIMEOUT,
    concurrency: int = 8,
    profile: str | None = None,
) -> AIReiterApp:
    """The real app, as ``main()`` builds it, on the fake clock with seeded jitter."""
    settings = Settings(
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
    backend = Backend(settings, WatchlistStore(watchlist))
    return AIReiterApp(
        backend,
        monotonic=clock,
        rng=random.Random(0),
        wall_clock=lambda: T0,
    )


async def until(
    pilot: AppPilot, condition: Callable[[], bool], *, turns: int = 600, what: str = ""
) -> None:
    """Let the app run until ``condition`` holds; a generous bound on turns, not on time."""
    for _ in range(turns):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"never became true: {what or condition}")


def quiet(app: AIReiterApp) -> bool:
    """Nothing due at the fake 'now' and nothing in flight."""
    now = app.monitor.monotonic()
    due = app.monitor.scheduler.next_due_time()
    return (due is None or due > now or app.monitor.paused) and app.monitor.state().in_flight == 0


def settled(app: AIReiterApp) -> bool:
    """Nothing due at the fake 'now', nothing in flight, every outcome shown."""
    return quiet(app) and not app.monitor.has_changes


async def step(pilot: AppPilot, app: AIReiterApp, clock: FakeClock, seconds: float) -> None:
    """Move the fake clock, wake the poller and wait until every due task is answered."""
    clock.advance(seconds)
    app.monitor.wake()
    await until(pilot, lambda: quiet(app), what="the poller settles")
    app.main_screen.apply_changes()  # the screen's next flush, without waiting for it


async def run_for(
    pilot: AppPilot, app: AIReiterApp, clock: FakeClock, seconds: float, tick: float = 0.5
) -> None:
    """Advance the fake clock by ``seconds`` in ticks, letting every due query run."""
    steps = round(seconds / tick)
    for _ in range(steps):
        await step(pilot, app, clock, tick)


async def assert_responsive(pilot: AppPilot, app: AIReiterApp) -> None:
    """The app is running and a key press moves the table cursor."""
    assert app.is_running
    table = app.query_one(TaskTable)
    assert table.row_count >= 2, "needs two rows to see the cursor move"
    await pilot.press("home")
    await until(pilot, lambda: table.cursor_row == 0, what="home moves the cursor")
    await pilot.press("down")
    await until(pilot, lambda: table.cursor_row == 1, what="down moves the cursor")


def banner_text(app: AIReiterApp) -> str:
    """The banner's plain text ('' when hidden)."""
    banner = app.query_one("#banner", Static)
    return str(banner.render()) if banner.display else ""


def mode(app: AIReiterApp) -> str:
    return app.monitor.scheduler.state(app.monitor.monotonic()).mode


async def quit_and_load(pilot: AppPilot, app: AIReiterApp, path: Path) -> list[TaskRef]:
    """Quit with ``q`` (the app saves on unmount) and read the watchlist back."""
    await pilot.press("q")
    await until(pilot, lambda: not app.is_running, what="the app quits")
    return [entry.ref for entry in WatchlistStore(path).load()]


def table_lines(app: AIReiterApp) -> list[str]:
    """The text of every table line on screen (header first), as painted."""
    table = app.query_one(TaskTable)
    height = table.scrollable_content_region.height
    return ["".join(seg.text for seg in table.render_line(y)) for y in range(height)]


def row_line(app: AIReiterApp, ident: str) -> str:
    """The painted table line of the task whose ID is ``ident`` (it must be on screen)."""
    lines = [line for line in table_lines(app) if ident[:20] in line]
    assert lines, f"{ident} is not on screen"
    return lines[0]


def pane_text(app: AIReiterApp) -> str:
    """The plain text of every section of the detail pane."""
    from aireiter_tui.ui.widgets.detail_pane import DetailPane

    pane = app.query_one(DetailPane)
    return "\n".join(str(static.render()) for static in pane.query(Static))


def screen_strips(app: AIReiterApp) -> list[Strip]:
    """Every line of the composed screen (modals and toasts included), as segments."""
    return app.screen._compositor.render_strips()


def assert_terminal_safe(app: AIReiterApp) -> None:
    """No control byte in anything the screen would write, no click action in any style,
    and none in the exported screenshot either."""
    for y, strip in enumerate(screen_strips(app)):
        for segment in strip:
            assert not TERMINAL_CONTROLS.search(segment.text), (y, segment.text)
            meta = segment.style.meta if segment.style else {}
            assert "@click" not in meta, (y, segment.text, meta)
    svg = app.export_screenshot()
    assert not TERMINAL_CONTROLS.search(svg.replace("\n", ""))
    assert "\x1b" not in svg and "\x9b" not in svg and "\x07" not in svg


def write_browser(folder: Path) -> Path:
    """A stand-in browser (a script) that appends each URL it is asked to open to a file;
    returns that file. Point BROWSER at the script."""
    record = folder / "opened.txt"
    script = folder / "browser.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{record}"\n')
    script.chmod(0o755)
    return record


TASKS = 4


class World:
    """A simulator with ``TASKS`` pending tasks (frozen: its clock never moves) and a
    watchlist file naming them."""

    def __init__(self, tmp_path: Path) -> None:
        self.sim = Simulator(clock=ManualClock())
        self.refs: list[TaskRef] = refs_of(self.sim.add_tasks(TASKS, status_mix={"pending": 1.0}))
        self.path = tmp_path / "w.toml"
        self.clock = FakeClock()
        seed_watchlist(self.path, self.refs)

    @property
    def victim(self) -> TaskRef:
        return self.refs[1]

    @property
    def others(self) -> list[TaskRef]:
        return [ref for ref in self.refs if ref != self.victim]

    def counts(self, refs: list[TaskRef]) -> list[int]:
        return [self.sim.requests_by_task[ref.id] for ref in refs]


async def assert_saved(pilot: AppPilot, app: AIReiterApp, world: World) -> None:
    saved = await quit_and_load(pilot, app, world.path)
    assert sorted(saved) == sorted(world.refs)
