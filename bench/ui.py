"""UI figures, headless through ``App.run_test``: applying a batch of answers, rebuilding,
key latency while every task is being polled.

Costs are the event loop thread's CPU time (``time.thread_time``) from the call until
``pilot.pause()`` returns, so a save running on its thread meanwhile is not charged;
"to paint" is the wall time from the call to the last frame painted in that window.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import RenderableType
from textual import events
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable
from textual.worker import WorkerCancelled

from aireiter_tui.backend import Backend
from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import Task, TaskRef
from aireiter_tui.domain.monitor import Monitor
from aireiter_tui.domain.poller import Poller, PollOutcome
from aireiter_tui.domain.secret import ApiKey
from aireiter_tui.domain.session import Row
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry
from aireiter_tui.ui.widgets.cells import COLUMNS, row_cells
from aireiter_tui.ui.widgets.task_table import TaskTable
from bench.network import outcomes_changing
from bench.painting import FrameClock, MeasuredApp, hook_cursor_rows

SIZE = (160, 48)


@dataclass(frozen=True, slots=True)
class Cost:
    cpu: float
    to_paint: float


@dataclass
class UiFigures:
    flush: list[Cost] = field(default_factory=list)
    rebuild: list[Cost] = field(default_factory=list)
    datatable_fill: list[Cost] = field(default_factory=list)
    datatable_update: list[Cost] = field(default_factory=list)
    datatable_refill: list[Cost] = field(default_factory=list)


def make_app(path: Path, *, base_url: str | None = None, key: str | None = None) -> MeasuredApp:
    """The real app on the watchlist at ``path``; with a key it refreshes from base_url."""
    settings = Settings()
    if base_url is not None and key is not None:
        settings = Settings(base_url=base_url, api_key=ApiKey(key))
    app = MeasuredApp(Backend(settings, WatchlistStore(path)), rng=random.Random(0))
    app.frame_clock = FrameClock()
    return app


async def _loaded(pilot: Pilot[Any], app: MeasuredApp, rows: int) -> TaskTable:
    table = app.query_one(TaskTable)
    while table.row_count < rows:
        await pilot.pause(0.02)
    await pilot.pause()
    return table


async def _cost(pilot: Pilot[Any], clock: FrameClock, action: Callable[[], object]) -> Cost:
    """The event loop's CPU from calling ``action`` to the end of the frame it caused.

    Not to the end of ``pilot.pause()``: a pause posts a callback to every widget and
    waits for each (2.2 ms of CPU at 10,000 rows), a cost of the measuring, not the app.
    """
    await pilot.pause()
    painted = asyncio.Event()
    clock.on_frame = painted.set
    try:
        started, cpu = time.perf_counter(), time.thread_time()
        action()
        await asyncio.wait_for(painted.wait(), 10)
        cpu = time.thread_time() - cpu
    finally:
        clock.on_frame = None
    await pilot.pause()
    return Cost(cpu, clock.last_paint - started)


def _current_tasks(app: MeasuredApp) -> dict[TaskRef, Task]:
    return {row.ref: row.task for row in app.monitor.session.rows.values() if row.task is not None}


async def app_costs(path: Path, rows: int, repeats: int, figures: UiFigures) -> None:
    """Apply answers changing 1% of the rows, vs rebuilding the table, ``repeats`` times.

    The answers are recorded by the monitor (as the poller records each) and the screen
    applies the batch (as its 0.25 s timer does), both inside the measured window.
    """
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        await _loaded(pilot, app, rows)
        # Loading left "reordered" in the monitor's batch (the screen rebuilt the view
        # itself); the screen's timer takes it within 0.25 s. Take it now, or the first
        # apply measured would be a full rebuild.
        app.main_screen.apply_changes()
        await pilot.pause()
        for number in range(repeats):
            outcomes = outcomes_changing(_current_tasks(app), 0.01, seed=number)

            def flush(outcomes: list[PollOutcome] = outcomes) -> None:
                for outcome in outcomes:
                    app.monitor.record(outcome)
                app.main_screen.apply_changes()

            figures.flush.append(await _cost(pilot, app.frame_clock, flush))
            figures.rebuild.append(
                await _cost(pilot, app.frame_clock, app.main_screen.rebuild_view)
            )
        app.monitor.session.dirty = False  # a benchmark's edits are not worth a save on exit


class _TableApp(App[None]):
    """Textual's DataTable with the app's columns, for comparison."""

    def __init__(self) -> None:
        super().__init__()
        self.frame_clock = FrameClock()

    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row")

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        super()._display(screen, renderable)
        self.frame_clock.frame(self, renderable)


async def datatable_costs(entries: list[WatchEntry], repeats: int, figures: UiFigures) -> None:
    """Fill, update 1% of the rows (every cell of each), clear and refill a DataTable."""
    now = datetime.now(UTC)
    rows = [Row(entry) for entry in entries]
    app = _TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(DataTable)
        for column in COLUMNS:
            table.add_column(column.label, width=column.width or None, key=column.key)

        def fill() -> None:
            for row in rows:
                table.add_row(*row_cells(row, now), key=row.ref.key)

        figures.datatable_fill.append(await _cost(pilot, app.frame_clock, fill))
        for number in range(repeats):
            tasks = {row.ref: row.task for row in rows if row.task is not None}
            changes = outcomes_changing(tasks, 0.01, seed=number)

            def update(changes: list[Any] = changes) -> None:
                by_key = {row.ref.key: row for row in rows}
                for outcome in changes:
                    row = by_key[outcome.ref.key]
                    # A copy: the entries are shared with the figures that follow.
                    row.entry = replace(row.entry, history=list(row.entry.history))
                    row.entry.record(outcome.task, now)
                    for column, cell in zip(COLUMNS, row_cells(row, now), strict=True):
                        table.update_cell(row.ref.key, column.key, cell)

            figures.datatable_update.append(await _cost(pilot, app.frame_clock, update))

        def refill() -> None:
            table.clear()
            fill()

        figures.datatable_refill.append(await _cost(pilot, app.frame_clock, refill))


@dataclass(frozen=True, slots=True)
class KeyFigures:
    latencies: list[float]
    timeouts: int
    answered_during: int
    refresh_still_running: bool


async def stop_polling(app: MeasuredApp) -> None:
    """Stop the monitor's worker, and the poller with it, before quitting (the queries
    still on the wire are dropped with it)."""
    for worker in app.workers.cancel_group(app, "monitor"):
        with contextlib.suppress(WorkerCancelled):
            await worker.wait()


def _refreshing(monitor: Monitor, poller: Poller) -> bool:
    """Queries on the wire, or tasks due now waiting for a free slot. (Not
    ``monitor.state()``: while every slot is busy it counts the queue, a walk over the
    scheduler's heap, on the loop whose latency is measured.)"""
    if poller.in_flight:
        return True
    due = monitor.scheduler.next_due_time()
    return due is not None and due <= monitor.monotonic()


async def key_latency(
    path: Path,
    rows: int,
    base_url: str,
    key: str,
    seconds: float,
    gap: float = 0.05,
    *,
    refresh_all: bool = True,
) -> KeyFigures:
    """Press Down every ``gap`` s while a refresh-all of every row is being polled
    (``refresh_all=False``: for ``seconds`` while the app polls as it would anyway,
    its unfinished tasks every few seconds).

    Each latency runs from the key event being posted (as a terminal driver posts it)
    to the frame in which the table's cursor row was drawn at its new position.
    """
    app = make_app(path, base_url=base_url, key=key)
    clock = app.frame_clock
    undo = hook_cursor_rows(clock)
    timeouts = 0
    try:
        async with app.run_test(size=SIZE) as pilot:
            table = await _loaded(pilot, app, rows)
            monitor = app.monitor
            # The app connects once the watchlist is read, then starts the poller.
            deadline = time.perf_counter() + 30
            while (poller := monitor.poller) is None or not poller.running:
                assert time.perf_counter() < deadline, "no poller: check the key and URL"
                await asyncio.sleep(0.01)
            answered: list[int] = []
            original = poller._on_outcome

            def counted(outcome: PollOutcome) -> None:
                answered.append(1)
                original(outcome)

            poller._on_outcome = counted
            if refresh_all:
                app.main_screen.action_refresh_all()
            while not poller.in_flight:
                await asyncio.sleep(0.005)
            driver = app._driver
            assert driver is not None
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline and (
                _refreshing(monitor, poller) or not refresh_all
            ):
                clock.expect_cursor(table.cursor_row + 1)
                driver.send_message(events.Key("down", None))
                try:
                    await asyncio.wait_for(clock.painted.wait(), 2.0)
                except TimeoutError:
                    timeouts += 1
                    clock.cursor_target = None
                await asyncio.sleep(gap)
            running = _refreshing(monitor, poller)
            # Stop polling before quitting, and drop the changes not yet applied.
            await stop_polling(app)
            monitor.take_changes()
            monitor.session.dirty = False
            await pilot.exit(None)
    finally:
        undo()
    return KeyFigures(clock.latencies, timeouts, len(answered), running)
