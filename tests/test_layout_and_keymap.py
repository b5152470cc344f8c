"""Layout that follows the terminal size, the [keys] checks, and IDs that are not IDs."""

from __future__ import annotations

import pytest
from harness import AppFactory, table
from scenes import Scene
from textual import events

from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import IdKind, TaskRef, validate_task_id
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.bindings import keymap_problems
from aireiter_tui.ui.main_screen import WIDE_LAYOUT


def _watch(app: AIReiterApp, idents: list[str]) -> None:
    """Watch ``idents`` (task IDs) and show them in the table."""
    app.monitor.session.add([TaskRef(IdKind.TASK_ID, ident) for ident in idents])
    app.main_screen.rebuild_view()


def _queue_keys(app: AIReiterApp, *keys: tuple[str, str]) -> None:
    """Post ``(key, character)`` events all at once, as a paste or a fast typist delivers
    them: each is queued before the one before it is handled."""
    for key, character in keys:
        app.post_message(events.Key(key, character))


async def test_the_detail_pane_moves_beside_or_below_as_the_terminal_is_resized(
    app_factory: AppFactory,
) -> None:
    app = app_factory(Settings(), live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        body = app.query_one("#body")
        assert not body.has_class("-wide")  # the footer at each width: test_newcomer_chrome
        for width, wide in (
            (WIDE_LAYOUT + 50, True),
            (120, False),
            (WIDE_LAYOUT, True),
            (80, False),
        ):
            await pilot.resize_terminal(width, 40)
            await pilot.pause()
            # Judged on the new size, not on the one before the resize.
            assert body.has_class("-wide") is wide, width
        await pilot.resize_terminal(200, 60)
        await pilot.pause()
        assert body.has_class("-wide")


async def test_a_keymap_mistake_is_shown_and_the_app_still_starts(app_factory: AppFactory) -> None:
    settings = Settings(keymap={"nonexistent": "x", "add": "r"})
    app = app_factory(settings, live=False)
    async with app.run_test(size=(120, 36)):
        banner = str(app.query_one("#banner").render())
        assert "nonexistent" in banner and "names no action" in banner


def test_keymap_problems_name_unknown_actions_and_double_bindings() -> None:
    assert keymap_problems({}) == []
    assert keymap_problems({"refresh": "f5"}) == []
    (unknown,) = keymap_problems({"nope": "x"})
    assert "nope" in unknown and "Keys table" in unknown
    # Not the whole list of ids: it filled the banner and hid the problems after it.
    assert len(unknown) < 140
    (typo,) = keymap_problems({"refesh": "x"})
    assert "refesh (did you mean refresh?)" in typo
    (double,) = keymap_problems({"add": "r"})
    assert double == "[keys]: r is bound to add and refresh."


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("https://aireiter.com/tasks/order_abc", "URL"),
        ("order_lwU2d-VkUq9-tlCCm…", "cut off"),
    ],
)
def test_text_that_is_not_a_task_id_is_rejected_with_a_reason(text: str, reason: str) -> None:
    problem = validate_task_id(text)
    assert problem is not None and reason in problem


def test_ordinary_ids_and_out_task_ids_pass() -> None:
    for text in ("order_lwU2d-VkUq9-tlCCmrdYu", "my_task_123456", "京都-夜景-001", "a$b"):
        assert validate_task_id(text) is None


async def test_the_table_fits_the_screen_in_both_layouts_so_the_cursor_stays_visible(
    app_factory: AppFactory,
) -> None:
    from aireiter_tui.ui.widgets.task_table import TaskTable

    app = app_factory(Settings(), live=False)
    async with app.run_test(size=(WIDE_LAYOUT + 10, 24)) as pilot:
        _watch(app, [f"order_{n:04d}" for n in range(200)])
        table = app.query_one(TaskTable)
        for width in (WIDE_LAYOUT + 10, 100):
            await pilot.resize_terminal(width, 24)
            await pilot.pause()
            assert table.region.bottom <= 24, (width, table.region)
            table.cursor_row = 0
            await pilot.press(*["down"] * 30)
            await pilot.pause()
            top = int(table.scroll_y)
            visible_rows = table.scrollable_content_region.height - 1
            assert top <= table.cursor_row < top + visible_rows


async def test_a_client_that_cannot_be_set_up_is_reported_not_left_connecting(
    monkeypatch: pytest.MonkeyPatch, app_factory: AppFactory
) -> None:
    from aireiter_tui.backend import Backend
    from aireiter_tui.domain.secret import ApiKey

    async def broken(self: Backend) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(Backend, "connect", broken)
    app = app_factory(Settings(api_key=ApiKey("k")), live=False)
    async with app.run_test(size=(120, 36)):
        assert "Could not set up the client (RuntimeError)" in str(
            app.query_one("#banner").render()
        )
        assert "not connected" in str(app.query_one("#status").render())


async def test_escape_clears_a_filter_that_hid_every_row_even_from_the_detail_pane(
    app_factory: AppFactory,
) -> None:
    from aireiter_tui.domain.models import parse_task
    from aireiter_tui.domain.view import StatusFilter
    from aireiter_tui.ui.widgets.detail_pane import DetailPane

    app = app_factory(Settings(), live=False)
    async with app.run_test(size=(120, 36)) as pilot:
        ref = TaskRef(IdKind.TASK_ID, "order_done")
        app.monitor.session.add([ref])
        app.monitor.session.apply(ref, parse_task({"task_id": ref.id, "status": "completed"}), None)
        app.main_screen.rebuild_view()
        await pilot.press("enter")  # into the detail pane
        assert isinstance(app.focused, DetailPane)
        app.main_screen.set_spec(status=StatusFilter.PENDING)  # hides the only row (and the table)
        await pilot.pause()
        await pilot.press("escape")
        assert app.main_screen.spec.status is StatusFilter.ALL
        assert app.query_one("#table").display


async def test_a_key_right_after_enter_in_the_filter_goes_to_the_table(
    app_factory: AppFactory,
) -> None:
    from aireiter_tui.domain.view import SortKey

    app = app_factory(Settings(), live=False)
    async with app.run_test(size=(120, 36)) as pilot:
        _watch(app, [f"order_dog_{n}" for n in range(3)])
        await pilot.press("slash", "d", "o", "g")
        _queue_keys(app, ("enter", "\r"), ("s", "s"))
        await pilot.pause()
        await pilot.pause()
        assert app.main_screen.spec.text == "dog"
        assert app.main_screen.spec.sort is SortKey.NAME
        assert app.focused is app.query_one("#table")  # and not moved on into the pane


async def test_keys_right_after_slash_are_typed_into_the_filter(
    app_factory: AppFactory,
) -> None:
    from textual.widgets import Input

    app = app_factory(Settings(), live=False)
    async with app.run_test(size=(120, 36)) as pilot:
        _watch(app, [f"order_veo_{n}" for n in range(3)])
        await pilot.pause()
        # (v, e and o are bindings of the table: the pane, duplicate, open.)
        _queue_keys(app, ("slash", "/"), ("v", "v"), ("e", "e"), ("o", "o"))
        await pilot.pause()
        await pilot.pause()
        assert app.query_one("#filter", Input).value == "veo"
        assert app.main_screen.spec.text == "veo"
        assert app.screen is app.main_screen  # no dialog opened
        assert app.query_one("#details").display  # the pane not toggled
        await pilot.press("slash", "x")  # in the filter, "/" is text like any other
        assert app.query_one("#filter", Input).value == "veo/x"


async def test_timers_that_tick_while_the_app_shuts_down_do_nothing(
    app_factory: AppFactory,
) -> None:
    from aireiter_tui.domain.models import parse_task
    from aireiter_tui.domain.poller import PollOutcome

    app = app_factory(Settings(), live=False)
    ref = TaskRef(IdKind.TASK_ID, "order_late")
    async with app.run_test(size=(120, 36)) as pilot:
        app.monitor.session.add([ref])
        await pilot.pause()
        app.monitor.record(PollOutcome(ref, parse_task({"status": "completed"})))
    # The widgets are gone (as when a timer fires mid-shutdown): no NoMatches, no crash.
    app.main_screen._tick()
    app.main_screen.apply_changes()


async def test_the_cursor_row_is_on_screen_after_escape_clears_a_filter() -> None:
    """Escape after a one-row filter: the cursor keeps its task, low in the long order,
    and the table scrolls to it (the scroll ran while the table still had no scrollbar
    for its one row, and Textual ignored it)."""
    scene = Scene("filtered", "a status filter over a sorted table")
    app = scene.build()
    async with app.run_test(size=(120, 36)) as pilot:
        await scene.run_before(pilot)
        await pilot.press("s", "s", "S", "home", *"fffffff")
        await pilot.pause()
        grid = table(app)
        assert grid.row_count == 1
        key = grid.cursor_key
        await pilot.press("escape")
        await pilot.pause()
        assert grid.row_count > 1 and grid.cursor_key == key
        top = int(grid.scroll_y)
        visible = grid.scrollable_content_region.height - 1  # the header takes a line
        assert top <= grid.cursor_row < top + visible, (top, grid.cursor_row, visible)
