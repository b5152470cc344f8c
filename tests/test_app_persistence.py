"""What the dashboard keeps between runs: rows, labels and last statuses; and what it
never does to a watchlist file it cannot read."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import (
    SIZE,
    AppFactory,
    all_fetched,
    refs_of,
    seed_watchlist,
    settings_for,
    status_of,
    table,
    wait_for,
)
from textual import events
from textual.widgets import Static
from watchlist_fixtures import T0

from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import IdKind, TaskRef, TaskStatus, parse_task
from aireiter_tui.domain.snapshot_db import FIRST_PART_SIZE, PART_SIZE
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry
from aireiter_tui.simulator import Simulator

pytestmark = pytest.mark.sim(seed=5)


async def test_rows_and_statuses_come_back_before_any_request(
    sim: Simulator, app_factory: AppFactory
) -> None:
    refs = refs_of(sim.add_tasks(2, status_mix={"completed": 1.0}))
    refs += refs_of(sim.add_tasks(1, status_mix={"failed": 1.0}))
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        app.post_message(events.Paste("\n".join(ref.id for ref in refs)))
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(
            pilot, lambda: len(app.monitor.session.rows) == 3 and all_fetched(app), "fetched"
        )
        statuses = [status_of(app, ref) for ref in refs]
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "quit")
    assert statuses == ["completed", "completed", "failed"]

    sim.reset_counters()
    again = app_factory(settings_for(sim), live=False)
    async with again.run_test(size=SIZE):
        assert list(table(again).order) == [ref.key for ref in refs]
        assert [status_of(again, ref) for ref in refs] == statuses
        assert sim.request_count == 0


async def test_a_stopped_server_still_shows_the_saved_rows(
    sim: Simulator, app_factory: AppFactory
) -> None:
    refs = refs_of(sim.add_tasks(2, status_mix={"completed": 1.0}))
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        app.monitor.add(refs)
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
    settings = settings_for(sim)
    await sim.stop()
    offline = app_factory(settings)
    async with offline.run_test(size=SIZE) as pilot:
        assert [status_of(offline, ref) for ref in refs] == ["completed", "completed"]
        await pilot.press("R")
        await wait_for(
            pilot, lambda: offline.monitor.session.counts().errors == 2, "refresh errors"
        )
        assert [status_of(offline, ref) for ref in refs] == ["completed", "completed"]


async def test_removal_persists(sim: Simulator, app_factory: AppFactory) -> None:
    refs = refs_of(sim.add_tasks(3, status_mix={"completed": 1.0}))
    app = app_factory(settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        app.monitor.session.add(refs)
        app.main_screen.rebuild_view()
        table(app).move_to_key(refs[1].key)
        await pilot.press("d", "y")
        await wait_for(pilot, lambda: len(app.monitor.session.rows) == 2, "removed")
    again = app_factory(settings_for(sim), live=False)
    async with again.run_test(size=SIZE):
        assert list(table(again).order) == [refs[0].key, refs[2].key]


async def test_corrupt_watchlist_is_left_alone_and_the_app_keeps_running(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    path = tmp_path / "watchlist.toml"
    corrupt = b'version = 1\n[[tasks]\nid = "order_x"\n\xff\xfe not toml at all'
    path.write_bytes(corrupt)
    (ref,) = refs_of(sim.add_tasks(1, status_mix={"completed": 1.0}))
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        banner = str(app.query_one("#banner", Static).render())
        assert str(path) in banner and "left as it is" in banner
        empty = str(app.query_one("#empty", Static).render())
        assert "could not be read" in empty and "not saved" in empty
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


async def test_what_another_process_removes_or_relabels_is_taken_over(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    refs = refs_of(sim.add_tasks(3, status_mix={"completed": 1.0}))
    path = tmp_path / "watchlist.toml"
    seed_watchlist(path, refs)
    app = app_factory(settings_for(sim))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
        # Meanwhile `aireiter-tui remove` and a label set in a second dashboard:
        other = WatchlistStore(path)
        first, _, third = other.load()
        third.label = "from elsewhere"
        other.save([first, third], removed=[refs[1]])
        app.monitor.relabel(refs[0].key, "mine")
        # No save of its own needed: the dashboard notices the file changed.
        shown = [refs[0].key, refs[2].key]
        await wait_for(pilot, lambda: list(table(app).order) == shown, "the removal shown")
        assert refs[1].key not in app.monitor.session.rows
        assert app.monitor.session.rows[refs[2].key].label == "from elsewhere"
        assert app.monitor.scheduler.state(app.monitor.monotonic()).tracked == 2
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "quit")
    saved = [(e.ref, e.label) for e in WatchlistStore(path).load()]
    assert saved == [(refs[0], "mine"), (refs[2], "from elsewhere")]


async def test_each_problem_has_its_own_line_in_the_banner(
    tmp_path: Path, app_factory: AppFactory
) -> None:
    path = tmp_path / "watchlist.toml"
    path.write_text('tasks = [{id = "ok"}, 5, {id = "bad id"}]\n', encoding="utf-8")
    app = app_factory(Settings())
    async with app.run_test(size=SIZE):
        lines = str(app.query_one("#banner", Static).render()).splitlines()
    (copy,) = tmp_path.glob("watchlist.toml.skipped-*")
    assert lines == [
        "(x hides) task 2: skipped, it is not a table",
        "task 3: skipped, the ID contains spaces",
        f"the file as it was is kept in {copy}",
    ]


def _long_watchlist(path: Path, count: int) -> list[WatchEntry]:
    entries = []
    for number in range(count):
        entry = WatchEntry(TaskRef(IdKind.TASK_ID, f"t{number:05}"), None, T0)
        entry.record(parse_task({"task_id": entry.ref.id, "status": "completed"}), T0)
        entries.append(entry)
    WatchlistStore(path).save(entries)
    return entries


async def test_a_long_list_is_drawn_from_its_first_part_then_read_whole(
    tmp_path: Path, app_factory: AppFactory
) -> None:
    path = tmp_path / "watchlist.toml"
    entries = _long_watchlist(path, 2 * PART_SIZE + 300)
    app = app_factory(Settings())
    sizes: list[int] = []
    rebuild = app.main_screen.rebuild_view

    def counted() -> None:
        sizes.append(len(app.monitor.session.rows))
        rebuild()

    app.main_screen.rebuild_view = counted  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.monitor.loader.done, "the whole list read")
        await pilot.pause()
        shown = [size for size in sizes if size]  # (the first frame: reading, no rows yet)
        # The first part is drawn whole; the others join it as they come, none of them a
        # walk over every row read so far.
        assert shown == [FIRST_PART_SIZE]
        assert list(table(app).order) == [e.ref.key for e in entries]
        assert app.monitor.session.counts().by_status[TaskStatus.COMPLETED] == len(entries)
        assert app.monitor.scheduler.state(app.monitor.monotonic()).tracked == len(entries)


async def test_quitting_before_the_list_is_read_saves_it_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app_factory: AppFactory
) -> None:
    path = tmp_path / "watchlist.toml"
    entries = _long_watchlist(path, PART_SIZE + 300)
    before = path.read_bytes()
    app = app_factory(Settings())
    monkeypatch.setattr(app.main_screen, "_load_rest", lambda: None)  # the rest never comes in time
    async with app.run_test(size=SIZE) as pilot:
        assert len(app.monitor.session.rows) == FIRST_PART_SIZE and not app.monitor.loader.done
        app.monitor.session.set_label(entries[0].ref.key, "edited")
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "quit")
    assert path.read_bytes() == before.replace(
        b'{id = "t00000", kind = "task_id", ',
        b'{id = "t00000", kind = "task_id", label = "edited", ',
    )
    loaded = WatchlistStore(path).load()
    assert [e.ref for e in loaded] == [e.ref for e in entries]
    assert all(e.task is not None for e in loaded)
