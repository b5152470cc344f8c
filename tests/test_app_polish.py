"""Behaviour a first-time user asked for: undo says so, and the CLI points at --out
when an ID is watched as the other kind (copying from several outputs: test_app_keys)."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import (
    SIZE,
    AppFactory,
    record_notes,
    seed_watchlist,
    settings_for,
    wait_for,
)
from textual.app import App, ComposeResult

from aireiter_tui.cli import main
from aireiter_tui.domain.models import IdKind, TaskRef, TaskStatus
from aireiter_tui.domain.poll_gate import SchedulerState
from aireiter_tui.domain.session import Counts
from aireiter_tui.simulator import Simulator
from aireiter_tui.ui.screens.confirm import ConfirmScreen
from aireiter_tui.ui.widgets.status_bar import StatusBar


async def test_undo_says_what_came_back(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    ref = TaskRef(IdKind.TASK_ID, "order_back")
    seed_watchlist(tmp_path / "watchlist.toml", [ref])
    app = app_factory(settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notes(app)
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: ref.key not in app.monitor.session.rows, "removed")
        await pilot.press("u")
        await wait_for(pilot, lambda: ref.key in app.monitor.session.rows, "back")
        assert any("order_back" in n.message and "again" in n.message for n in notes)


def test_remove_points_at_the_other_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # no user config in the way
    watchlist = tmp_path / "w.toml"
    assert main(["--watchlist", str(watchlist), "add", "--out", "shot-1"]) == 0
    assert main(["--watchlist", str(watchlist), "remove", "shot-1"]) == 2
    assert "is watched as an out_task_id: run remove with --out" in capsys.readouterr().err
    assert main(["--watchlist", str(watchlist), "remove", "--out", "shot-1"]) == 0


async def test_a_new_label_moves_the_row_when_sorted_by_name(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    from aireiter_tui.domain.view import SortKey

    refs = [TaskRef(IdKind.TASK_ID, ident) for ident in ("order_a", "order_b")]
    seed_watchlist(tmp_path / "watchlist.toml", refs)
    app = app_factory(settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        app.main_screen.set_spec(sort=SortKey.NAME)
        await pilot.pause()
        assert list(app.query_one("#table").order) == [r.key for r in refs]
        app.monitor.relabel(refs[0].key, "zebra")
        app.main_screen.apply_changes()
        await pilot.pause()
        assert list(app.query_one("#table").order) == [refs[1].key, refs[0].key]


class _BarHost(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusBar()


async def test_status_bar_groups_thousands_and_tells_sent_from_queued() -> None:
    """A big watchlist mid-round: counts read like the credits beside them, and only the
    queries on the wire count as in flight (the rest of the round is queued)."""
    counts = Counts(
        by_status={TaskStatus.COMPLETED: 2549, TaskStatus.PROCESSING: 451},
        unfetched=1200,
        errors=1001,
        credits=796_810,
        total=3000,
    )
    state = SchedulerState("live", 32, 3000, 1.0, "", queued=2674)
    app = _BarHost()
    async with app.run_test(size=(160, 10)) as pilot:
        bar = app.query_one(StatusBar)
        bar.show(where="https://aireiter.com", counts=counts, state=state, mode="live")
        await pilot.pause()
        text = str(bar.render())
        for words in (
            "· 32 in flight, 2,674 queued",
            "796,810 credits used",
            "3,000 watched",
            "2,549 completed",
            "451 processing",
            "… 1,200 new",
            "1,001 errors",
        ):
            assert words in text, (words, text)
