"""Shared helpers for driving the whole app over real sockets against the simulator.

The simulator runs on a :class:`ManualClock` (task statuses change only when a test
says so) and the app's scheduler on a :class:`StepClock` (tasks become due only when a
test advances it), so which requests are made is decided by the test, not by timing.
Waiting is always for a condition, bounded by a number of turns of the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from aireiter_tui.backend import Backend
from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.secret import ApiKey
from aireiter_tui.domain.watchlist import WatchEntry, WatchlistStore
from aireiter_tui.simulator import ManualClock, Simulator
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.widgets.task_table import TaskTable

SIZE = (120, 36)
#: How many 50 ms turns a wait may take before it fails (a bound, never a sleep).
MAX_TURNS = 400


@asynccontextmanager
async def running_sim(seed: int = 11) -> AsyncIterator[Simulator]:
    """A simulator on a manual clock, listening on 127.0.0.1 in the test's own loop."""
    simulator = Simulator(seed=seed, clock=ManualClock())
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


class StepClock:
    """A monotonic clock for the app's scheduler that moves only when told to."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True, slots=True)
class Note:
    """One notification the app showed."""

    message: str
    title: str
    severity: str


async def wait_for(
    pilot: Pilot[None], predicate: Callable[[], bool], what: str, *, turns: int = MAX_TURNS
) -> None:
    """Let the app run until ``predicate()`` holds; fail naming ``what`` if it never does."""
    for _ in range(turns):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def refs_of(pairs: Iterable[tuple[str, str]]) -> list[TaskRef]:
    """Simulator ``(kind, id)`` pairs as task refs."""
    return [TaskRef(IdKind(kind), ident) for kind, ident in pairs]


def seed_watchlist(path: Path, refs: Sequence[TaskRef], label: str | None = None) -> None:
    """Write a watchlist holding ``refs`` (not fetched yet)."""
    now = datetime.now(UTC)
    WatchlistStore(path).save([WatchEntry(ref=ref, label=label, added_at=now) for ref in refs])


def settings_for(sim: Simulator, **changes: Any) -> Settings:
    """Settings that point at a started simulator with its key."""
    values: dict[str, Any] = {
        "base_url": sim.base_url,
        "api_key": ApiKey(sim.api_key),
        "poll_interval": 5.0,
        "concurrency": 8,
    }
    values.update(changes)
    return Settings(**values)


def make_app(
    tmp_path: Path,
    settings: Settings,
    *,
    clock: StepClock | None = None,
    live: bool = True,
    watchlist: Path | None = None,
    simulator: Simulator | None = None,
) -> AIReiterApp:
    """Build the app as the CLI does, on files under ``tmp_path``."""
    store = WatchlistStore(watchlist or tmp_path / "watchlist.toml")
    backend = Backend(settings, store, config_path=tmp_path / "config.toml", simulator=simulator)
    return AIReiterApp(backend, monotonic=clock or StepClock(), live=live)


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
    return app.query_one(TaskTable)


def all_fetched(app: AIReiterApp) -> bool:
    """Every watched row has a snapshot."""
    rows = app.monitor.session.rows.values()
    return bool(rows) and all(row.task is not None for row in rows)


def status_of(app: AIReiterApp, ref: TaskRef) -> str | None:
    row = app.monitor.session.rows.get(ref.key)
    return row.task.status_label if row and row.task else None


def watch_two_output_task(tmp_path: Path, sim: Simulator) -> TaskRef:
    """A completed task with two outputs, known by out_task_id, in the watchlist."""
    sim.submit("nano_banana_pro", {"prompt": "two", "output_n": 2}, "pair", hide_task_id=True)
    sim.force_status("pair", "completed")
    ref = TaskRef(IdKind.OUT_TASK_ID, "pair")
    seed_watchlist(tmp_path / "watchlist.toml", [ref])
    return ref
