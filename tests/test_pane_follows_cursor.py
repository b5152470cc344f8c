"""The detail pane follows the cursor in the frame after the cursor's own, once for the
moves that came before it (a new task in the pane lays the screen out again: 10-45 ms
that held the cursor's frame, felt as key presses answered late on a long list)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import SIZE, AppFactory, seed_watchlist, table

from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.ui.widgets.detail_pane import DetailPane


async def test_quick_moves_show_only_the_last_task_in_the_pane(
    tmp_path: Path, app_factory: AppFactory
) -> None:
    refs = [TaskRef(IdKind.TASK_ID, f"order_{number:03}") for number in range(6)]
    seed_watchlist(tmp_path / "watchlist.toml", refs)
    app = app_factory(Settings(), live=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        pane = app.main_screen.query_one(DetailPane)
        assert pane._shown_ref == refs[0]
        shown: list[TaskRef | None] = []
        original = pane.show

        def noted(entry: Any, **options: Any) -> None:
            shown.append(entry.ref if entry is not None else None)
            original(entry, **options)

        pane.show = noted  # type: ignore[method-assign]
        # (the chrome's own refresh of the pane, on the flush timer, is left out)
        app.main_screen.refresh_chrome = lambda: None  # type: ignore[method-assign]
        grid = table(app)
        for _ in range(3):
            grid.action_cursor_down()
        await pilot.pause()
        assert grid.cursor_key == refs[3].key
        assert pane._shown_ref == refs[3]
        # Three moves, one pane update, after them.
        assert shown == [refs[3]]
        await pilot.press("up")
        await pilot.pause()
        assert pane._shown_ref == refs[2]
