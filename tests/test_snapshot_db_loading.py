"""A long watchlist is read off the event loop: keys are answered while it is read, and
the status bar says how far reading has come."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import SIZE, AppFactory, wait_for
from textual.pilot import Pilot

from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.snapshot_db import PART_SIZE
from aireiter_tui.domain.watchlist import Part, WatchlistStore
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.widgets.detail_pane import DetailPane
from aireiter_tui.ui.widgets.status_bar import StatusBar

COUNT = 100_000


def _long_watchlist(path: Path) -> None:
    """A hand-written list of 100,000 tasks (no database: the TOML is parsed whole)."""
    lines = "".join(
        f'  {{id = "order_{n:06}", kind = "task_id", added_at = 2026-01-01T00:00:00Z}},\n'
        for n in range(COUNT)
    )
    path.write_text(f"version = 1\ntasks = [\n{lines}]\n", encoding="utf-8")


async def test_a_key_is_answered_while_a_list_of_100000_is_read(
    tmp_path: Path, app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "watchlist.toml"
    _long_watchlist(path)
    # The reading is held after its first part until the key's effect has been seen: were
    # it done on the event loop, the key would wait behind it (the guard lets it go on).
    held = threading.Event()
    parts = WatchlistStore.load_parts

    def holding(store: WatchlistStore) -> Iterator[Part]:
        for number, part in enumerate(parts(store)):
            if number == 1:
                held.wait(timeout=60)
            yield part

    monkeypatch.setattr(WatchlistStore, "load_parts", holding)
    app = app_factory(Settings())
    async with app.run_test(size=SIZE) as pilot:
        try:
            await _answered_while_read(pilot, app, held)
        finally:
            held.set()


async def _answered_while_read(pilot: Pilot[None], app: AIReiterApp, held: threading.Event) -> None:
    loader = app.monitor.loader
    await wait_for(pilot, lambda: loader.read == PART_SIZE, "the first part", turns=1200)
    bar = app.main_screen.query_one(StatusBar)
    reading = f"reading {PART_SIZE:,} of 100,000…"
    await wait_for(pilot, lambda: reading in str(bar.render()), "progress")
    assert app.main_screen.query_one(DetailPane).display
    await pilot.press("v")
    await wait_for(pilot, lambda: not app.main_screen.query_one(DetailPane).display, "v")
    assert not loader.done and len(app.monitor.session.rows) == PART_SIZE
    held.set()
    await wait_for(pilot, lambda: loader.done, "the whole list", turns=2400)
    await pilot.pause()
    assert len(app.monitor.session.rows) == COUNT
    assert "reading" not in str(bar.render())
