"""Behaviour a first-time user asked for: undo says so, and the CLI points at --out
when an ID is watched as the other kind (copying from several outputs: test_app_keys)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from app_fixtures import (
    make_app,
    record_notes,
    running_sim,
    seed_watchlist,
    settings_for,
    wait_for,
)

from aireiter_tui.cli import main
from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.screens.confirm import ConfirmScreen
from aireiter_tui.simulator import Simulator

SIZE = (120, 36)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with running_sim() as simulator:
        yield simulator


async def test_undo_says_what_came_back(tmp_path: Path, sim: Simulator) -> None:
    ref = TaskRef(IdKind.TASK_ID, "order_back")
    seed_watchlist(tmp_path / "watchlist.toml", [ref])
    app = make_app(tmp_path, settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notes(app)
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: ref.key not in app.session.rows, "removed")
        await pilot.press("u")
        await wait_for(pilot, lambda: ref.key in app.session.rows, "back")
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
    tmp_path: Path, sim: Simulator
) -> None:
    from aireiter_tui.domain.view import SortKey

    refs = [TaskRef(IdKind.TASK_ID, ident) for ident in ("order_a", "order_b")]
    seed_watchlist(tmp_path / "watchlist.toml", refs)
    app = make_app(tmp_path, settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        app._set_spec(sort=SortKey.NAME)
        await pilot.pause()
        assert list(app.query_one("#table").order) == [r.key for r in refs]
        app.session.set_label(refs[0].key, "zebra")
        app.apply_changes([refs[0].key])
        await pilot.pause()
        assert list(app.query_one("#table").order) == [refs[1].key, refs[0].key]
