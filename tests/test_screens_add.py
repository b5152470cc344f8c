"""The add-tasks dialog, pushed on a tiny host app and driven with the keyboard."""

from __future__ import annotations

from harness import TERMINAL_CONTROLS, wait_for
from screen_fixtures import HOSTILE, SIZE, Host, finish, shown
from textual import events
from textual.widgets import Button, Input, Static, TextArea

from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.ui.screens.add_tasks import AddTasksResult, AddTasksScreen


def preview(app: Host) -> str:
    return shown(app.screen.query_one("#preview", Static))


async def test_add_paste_kind_and_label() -> None:
    app = Host(AddTasksScreen())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.focused is app.screen.query_one(TextArea)
        # As the terminal driver does: the app forwards a paste to the focused widget.
        app.post_message(events.Paste("order_a, order_b\norder_c bad\x07id"))
        await wait_for(pilot, lambda: "3 task_ids will be added" in preview(app), "3 IDs ready")
        assert "1 rejected" in preview(app) and "bad␇id" in preview(app)
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: app.screen.kind is IdKind.OUT_TASK_ID, "out_task_id")  # type: ignore[attr-defined]
        app.screen.query_one("#label", Input).focus()
        await pilot.press("b", "enter")
        result = await finish(pilot, app)
    assert isinstance(result, AddTasksResult)
    assert result.label == "b"
    assert [ref.id for ref in result.refs] == ["order_a", "order_b", "order_c"]
    assert {ref.kind for ref in result.refs} == {IdKind.OUT_TASK_ID}


async def test_add_kind_by_keyboard_and_add_button() -> None:
    app = Host(AddTasksScreen(initial_kind=IdKind.OUT_TASK_ID))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.screen.query_one(TextArea).text = "my_task_1;my_task_2"
        # Tab leaves the text area for the kind choice, whose cursor starts on task_id.
        await pilot.press("tab", "enter")
        await wait_for(pilot, lambda: app.screen.kind is IdKind.TASK_ID, "task_id")  # type: ignore[attr-defined]
        await pilot.click("#add")
        result = await finish(pilot, app)
    assert result == AddTasksResult(
        [TaskRef(IdKind.TASK_ID, "my_task_1"), TaskRef(IdKind.TASK_ID, "my_task_2")], None
    )


async def test_add_skips_watched_and_refuses_when_nothing_new() -> None:
    existing = [TaskRef(IdKind.TASK_ID, "order_a"), TaskRef(IdKind.TASK_ID, "order_b")]
    app = Host(AddTasksScreen(existing))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        area = app.screen.query_one(TextArea)
        area.text = "order_a order_b"
        await wait_for(pilot, lambda: "2 already watched" in preview(app), "2 already watched")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "Nothing to add" in preview(app), "Nothing to add")
        assert not app.results
        area.text = "order_a order_c"
        await wait_for(pilot, lambda: "1 task_id will be added" in preview(app), "1 ID ready")
        await pilot.press("ctrl+s")
        result = await finish(pilot, app)
    assert result.refs == [TaskRef(IdKind.TASK_ID, "order_c")]


async def test_add_empty_refuses_and_escape_cancels() -> None:
    app = Host(AddTasksScreen())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "paste at least one" in preview(app), "paste at least one")
        assert not app.results
        await pilot.press("escape")
        assert await finish(pilot, app) is None


async def test_editors_draw_control_characters_visibly() -> None:
    app = Host(AddTasksScreen())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        area = app.screen.query_one(TextArea)
        label = app.screen.query_one("#label", Input)
        area.text = "ok_id bad\x1b[2Jid\x9b2J\x07"
        label.value = "x\x1b]52;c;AAAA\x07"
        await wait_for(pilot, lambda: "control characters" in preview(app), "control characters")
        drawn = "".join(seg.text for seg in area.render_line(0)) + "".join(
            seg.text for seg in label.render_line(0)
        )
        assert "␛[2J" in drawn and "␛]52" in drawn
        assert not TERMINAL_CONTROLS.search(drawn)
        # The text itself is untouched, so the bad ID is rejected rather than "fixed".
        assert "\x1b" in area.text
        assert "1 task_id will be added · 1 rejected" in preview(app)
        assert "label contains control characters" in preview(app)
        # A bad label blocks adding, even with a valid ID.
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not app.results


async def test_add_hostile_ids_and_bounded_rejections() -> None:
    bad = [f"bad{n}\x07" for n in range(10)]
    app = Host(AddTasksScreen())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.screen.query_one(TextArea).text = " ".join([*HOSTILE, *bad])
        await wait_for(pilot, lambda: "rejected" in preview(app), "rejected")
        text = preview(app)
        assert "and " in text and " more" in text
        assert "\x1b" not in text and "\x07" not in text
        assert text.count("✖") == 3
        await pilot.press("ctrl+s")
        result = await finish(pilot, app)
    assert [ref.id for ref in result.refs] == ["[/]", "[@click=app.quit]"]


async def test_add_dialog_says_how_to_submit_even_when_the_preview_is_full() -> None:
    app = Host(AddTasksScreen())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        hint = app.screen.query_one("#keys-hint", Static)
        text = shown(hint)
        for words in ("ctrl+s adds", "ctrl+t switches task_id/out_task_id", "Tab", "Esc cancels"):
            assert words in text, words
        assert "ctrl+s" in shown(app.screen.query_one("#add", Button))
        # The tallest preview (the label's problem, the counts, three rejections, "and N
        # more") still leaves the hint on screen, on one line inside the dialog.
        app.screen.query_one(TextArea).text = " ".join(f"bad{n}\x07" for n in range(5))
        app.screen.query_one("#label", Input).value = "x\x07"
        panel = app.screen.query_one("#preview", Static)
        await wait_for(pilot, lambda: panel.region.height == 6, "the panel's height")
        dialog = app.screen.query_one("#dialog").region
        assert hint.region.height == 1
        assert dialog.contains_region(hint.region)
        assert dialog.bottom <= SIZE[1] and dialog.y >= 0
