"""What the dashboard keeps between runs: rows, labels and last statuses; and what it
never does to a watchlist file it cannot read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual import events
from textual.widgets import Static

from aireiter_tui.simulator import Simulator
from tests.app_fixtures import (
    SIZE,
    all_fetched,
    make_app,
    refs_of,
    running_sim,
    settings_for,
    status_of,
    table,
    wait_for,
)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with running_sim(seed=5) as simulator:
        yield simulator


async def test_rows_and_statuses_come_back_before_any_request(
    tmp_path: Path, sim: Simulator
) -> None:
    refs = refs_of(sim.add_tasks(2, status_mix={"completed": 1.0}))
    refs += refs_of(sim.add_tasks(1, status_mix={"failed": 1.0}))
    app = make_app(tmp_path, settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        app.post_message(events.Paste("\n".join(ref.id for ref in refs)))
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: len(app.session.rows) == 3 and all_fetched(app), "fetched")
        statuses = [status_of(app, ref) for ref in refs]
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "quit")
    assert statuses == ["completed", "completed", "failed"]

    sim.reset_counters()
    again = make_app(tmp_path, settings_for(sim), live=False)
    async with again.run_test(size=SIZE):
        assert list(table(again).order) == [ref.key for ref in refs]
        assert [status_of(again, ref) for ref in refs] == statuses
        assert sim.request_count == 0


async def test_a_stopped_server_still_shows_the_saved_rows(tmp_path: Path, sim: Simulator) -> None:
    refs = refs_of(sim.add_tasks(2, status_mix={"completed": 1.0}))
    app = make_app(tmp_path, settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        app.session.add(refs)
        for ref in refs:
            app.scheduler.track(ref, None, app.monotonic())
        app.rebuild_view()
        app.wake_refresh()
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
    settings = settings_for(sim)
    await sim.stop()
    offline = make_app(tmp_path, settings)
    async with offline.run_test(size=SIZE) as pilot:
        assert [status_of(offline, ref) for ref in refs] == ["completed", "completed"]
        await pilot.press("R")
        await wait_for(pilot, lambda: offline.session.counts().errors == 2, "refresh errors")
        assert [status_of(offline, ref) for ref in refs] == ["completed", "completed"]


async def test_removal_persists(tmp_path: Path, sim: Simulator) -> None:
    refs = refs_of(sim.add_tasks(3, status_mix={"completed": 1.0}))
    app = make_app(tmp_path, settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        app.session.add(refs)
        app.rebuild_view()
        table(app).move_to_key(refs[1].key)
        await pilot.press("d", "y")
        await wait_for(pilot, lambda: len(app.session.rows) == 2, "removed")
    again = make_app(tmp_path, settings_for(sim), live=False)
    async with again.run_test(size=SIZE):
        assert list(table(again).order) == [refs[0].key, refs[2].key]


async def test_corrupt_watchlist_is_left_alone_and_the_app_keeps_running(
    tmp_path: Path, sim: Simulator
) -> None:
    path = tmp_path / "watchlist.toml"
    corrupt = b'version = 1\n[[tasks]\nid = "order_x"\n\xff\xfe not toml at all'
    path.write_bytes(corrupt)
    (ref,) = refs_of(sim.add_tasks(1, status_mix={"completed": 1.0}))
    app = make_app(tmp_path, settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        banner = str(app.query_one("#banner", Static).render())
        assert str(path) in banner and "left as it is" in banner
        await pilot.press("a")
        app.post_message(events.Paste(ref.id))
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: all_fetched(app), "the new task fetched")
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "quit")
    assert path.read_bytes() == corrupt
    # Not moved aside, no cache or temporary file beside it.
    names = {p.name for p in tmp_path.iterdir() if p.name.startswith("watchlist")}
    assert names - {"watchlist.toml.lock"} == {"watchlist.toml"}
