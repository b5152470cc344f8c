"""Floods: thousands of tasks finishing in one round, against the real app over sockets.

The app must answer keys while the flood is applied, update every row, raise a handful of
notifications (not thousands) and save every task (helpers: ``harness``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import (
    SIZE,
    T0,
    AppFactory,
    assert_responsive,
    fault_settings,
    quit_and_load,
    refs_of,
    row_line,
    settled,
    wait_for,
)

from aireiter_tui.domain.models import TaskRef, TaskStatus, parse_task
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry
from aireiter_tui.simulator import ManualClock, Simulator, running_in_thread
from aireiter_tui.ui.widgets.task_table import TaskTable


def _watched_as_processing(tmp_path: Path, refs: list[TaskRef]) -> Path:
    """A watchlist holding ``refs``, each last seen processing (the server has them done)."""
    path = tmp_path / "w.toml"
    entries = []
    for ref in refs:
        entry = WatchEntry(ref=ref, label=None, added_at=T0)
        entry.record(parse_task({ref.kind.value: ref.id, "status": "processing"}), T0)
        entries.append(entry)
    WatchlistStore(path).save(entries)
    return path


async def test_flood_of_ten_thousand_tasks_finishing_at_once(
    tmp_path: Path, app_factory: AppFactory
) -> None:
    """10,000 watched tasks last seen processing all turn out completed in one round:
    the app answers keys during the round, every row is updated, a handful of
    notifications is raised (not 10,000), nothing crashes, every task is saved."""
    # 10 ms an answer keeps the round going for seconds (10,000 / 32 slots), so the key
    # presses below land during it however fast the client gets.
    sim = Simulator(clock=ManualClock(), latency_ms=10)
    refs = refs_of(sim.add_tasks(10_000, status_mix={"completed": 1.0}))
    path = _watched_as_processing(tmp_path, refs)
    with running_in_thread(sim) as base_url:
        settings = fault_settings(base_url, sim.api_key, concurrency=32, timeout=10)
        app = app_factory(settings, watchlist=path, frozen_at=T0)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: sim.request_count > 500, "the round to start", turns=1200)
            assert app.monitor.state().in_flight > 0
            await assert_responsive(pilot, app)  # keys work while the flood is applied
            assert app.monitor.state().in_flight > 0
            await wait_for(pilot, lambda: settled(app), "every task answered", turns=2000)
            counts = app.monitor.session.counts()
            assert counts.by_status[TaskStatus.COMPLETED] == 10_000 and counts.errors == 0
            first = TaskRef.from_key(app.query_one(TaskTable).order[0])
            assert "completed" in row_line(app, first.id)
            # Finished tasks are announced in one summary, not one toast each.
            app.main_screen._announce_pending()
            assert any("tasks finished" in n.title for n in app._notifications)
            assert len(app._notifications) <= 10
            saved = await quit_and_load(pilot, app, path)
    assert len(saved) == 10_000
    assert sim.request_count == 10_000  # finished tasks are not polled again


@pytest.mark.sim(latency_ms=25)
async def test_one_round_of_finishing_tasks_raises_a_handful_of_notifications(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    # 60 tasks, 2 at a time, 25 ms each: the round spans several flush intervals.
    refs = refs_of(sim.add_tasks(60, status_mix={"completed": 1.0}))
    path = _watched_as_processing(tmp_path, refs)
    settings = fault_settings(sim.base_url, sim.api_key, concurrency=2)
    app = app_factory(settings, watchlist=path, frozen_at=T0)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: settled(app) and sim.request_count == 60, "all 60 answered")
        assert app.monitor.session.counts().by_status[TaskStatus.COMPLETED] == 60
        assert len(app._notifications) <= 6
