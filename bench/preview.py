"""Selecting a completed task whose output is in the cache -> its preview painted.

Issue 14's target: under 150 ms. The outputs are served by a simulator in this process
and fetched into a fresh output cache before anything is timed; then each completed task
is selected in turn, from the cursor move to the first frame painted after the picture
was drawn (every frame encoded as for a terminal, see :mod:`bench.painting`). There are
more tasks than the pane keeps decoded in memory, so each first selection reads and
decodes the PNG from the cache on disk; coming back to the last few is timed apart (the
pictures still in memory). Half-blocks draw them: what tmux and most terminals get.
Run alone as ``python -m bench.preview``.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual_image.widget import HalfcellImage

from aireiter_tui.backend import Backend
from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.secret import ApiKey
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry
from aireiter_tui.simulator import ManualClock, Simulator
from aireiter_tui.ui.widgets.detail_pane import DetailPane
from aireiter_tui.ui.widgets.preview import OutputPreview
from aireiter_tui.ui.widgets.task_table import TaskTable
from bench.painting import FrameClock, MeasuredApp
from bench.report import Figure, Target, median, ms

SIZE = (160, 48)
#: Tasks selected in turn: more than the pictures the pane keeps decoded (8).
TASKS = 20
#: Seconds one selection may take before the bench gives up on it.
GIVE_UP = 10.0
ADDED = datetime(2025, 12, 18, tzinfo=UTC)


@dataclass
class PreviewFigures:
    from_disk: list[float] = field(default_factory=list)
    """Wall seconds, cursor move -> painted, decoding from the cache on disk."""
    from_disk_cpu: list[float] = field(default_factory=list)
    """Process CPU over the same span (the decoding thread included)."""
    in_memory: list[float] = field(default_factory=list)
    """Wall seconds when the picture is still decoded in memory."""
    without: list[float] = field(default_factory=list)
    """Wall seconds, cursor move -> the pane painted, previews off (the pane alone)."""


async def measure(tasks: int = TASKS) -> PreviewFigures:
    """Select each of ``tasks`` completed tasks, then the last few again."""
    figures = PreviewFigures()
    simulator = Simulator(seed=5, clock=ManualClock())
    refs = []
    for number in range(tasks):
        ident = f"bench-{number:03d}"
        simulator.submit(
            "nano_banana", {"prompt": "bench", "aspect_ratio": "16:9"}, ident, hide_task_id=True
        )
        simulator.force_status(ident, "completed")
        refs.append(TaskRef(IdKind.OUT_TASK_ID, ident))
    await simulator.start()
    with tempfile.TemporaryDirectory(prefix="aireiter-bench-preview-") as tmp:
        store = WatchlistStore(Path(tmp) / "watchlist.toml")
        store.save([WatchEntry(ref=ref, label=None, added_at=ADDED) for ref in refs])
        settings = Settings(base_url=simulator.base_url, api_key=ApiKey(simulator.api_key))
        backend = Backend(settings, store, cache_dir=Path(tmp) / "cache")
        app = MeasuredApp(backend, rng=random.Random(0))
        app.frame_clock = FrameClock()
        try:
            async with app.run_test(size=SIZE) as pilot:
                await _timed(pilot, app, refs, figures)
        finally:
            await simulator.stop()
    return figures


async def _timed(
    pilot: Pilot[Any], app: MeasuredApp, refs: list[TaskRef], figures: PreviewFigures
) -> None:
    rows = app.monitor.session.rows
    while not all(rows.get(ref.key) and rows[ref.key].task for ref in refs):
        await pilot.pause(0.02)
    cache = app.backend.outputs
    assert cache is not None
    urls = {}
    for ref in refs:
        task = rows[ref.key].task
        assert task is not None
        urls[ref.key] = task.outputs[0].url
        await cache.fetch(urls[ref.key])  # into the cache on disk, before any timing
    table = app.query_one(TaskTable)
    pane = app.query_one(DetailPane)
    # The first task is shown at start: begin on the second, come back to it last.
    order = [*refs[1:], refs[0]]

    def drawn(ref: TaskRef) -> Callable[[], bool]:
        return lambda: pane.preview.drawn == urls[ref.key]

    for ref in order:
        wall, cpu = await _select(pilot, app, table, ref, drawn(ref))
        figures.from_disk.append(wall)
        figures.from_disk_cpu.append(cpu)
    for ref in order[-4:-1]:
        wall, _cpu = await _select(pilot, app, table, ref, drawn(ref))
        figures.in_memory.append(wall)
    await pilot.press("P")
    for ref in order[:8]:
        wall, _cpu = await _select(pilot, app, table, ref, partial(_shown, pane, ref))
        figures.without.append(wall)


async def _select(
    pilot: Pilot[Any],
    app: MeasuredApp,
    table: TaskTable,
    ref: TaskRef,
    shown: Callable[[], bool],
) -> tuple[float, float]:
    """Move the cursor to ``ref``; the wall and process CPU seconds to the first frame
    painted once ``shown()`` holds."""
    await pilot.pause()
    painted = asyncio.Event()

    def frame() -> None:
        if shown():
            painted.set()

    app.frame_clock.on_frame = frame
    try:
        started, cpu = time.perf_counter(), time.process_time()
        table.move_to_key(ref.key)
        await asyncio.wait_for(painted.wait(), GIVE_UP)
        cpu = time.process_time() - cpu
    finally:
        app.frame_clock.on_frame = None
    return app.frame_clock.last_paint - started, cpu


def _shown(pane: DetailPane, ref: TaskRef) -> bool:
    return pane.shown_ref == ref


def figures() -> list[Figure]:
    """The bench's rows for this figure."""
    previous = OutputPreview.image_type
    OutputPreview.image_type = HalfcellImage
    try:
        measured = asyncio.run(measure())
    finally:
        OutputPreview.image_type = previous
    section = "output previews"
    n = f"{len(measured.from_disk)} tasks"
    return [
        Figure.judged(
            section,
            "select a completed task, output cached on disk -> preview painted: max",
            n,
            [max(measured.from_disk)],
            ms,
            Target(0.15, "< 150 ms"),
            note=f"median {ms(median(measured.from_disk))}",
        ),
        Figure.judged(
            section,
            "  ... process CPU (decode thread included), median",
            n,
            [median(measured.from_disk_cpu)],
            ms,
        ),
        Figure.judged(
            section,
            "  ... back to a task whose picture is still decoded: max",
            f"{len(measured.in_memory)} tasks",
            [max(measured.in_memory)],
            ms,
        ),
        Figure.judged(
            section,
            "  ... the same pane with previews off (P): max",
            f"{len(measured.without)} tasks",
            [max(measured.without)],
            ms,
            note=f"median {ms(median(measured.without))}",
        ),
    ]


if __name__ == "__main__":
    from bench.report import table

    print(table(figures()))
