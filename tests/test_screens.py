"""The modal screens, each pushed on a tiny host app and driven with the keyboard.

The add-tasks dialog has its own module, ``test_screens_add.py``.
"""

from __future__ import annotations

from typing import Literal

import pytest
from harness import wait_for
from screen_fixtures import HOSTILE, SIZE, Host, finish, shown
from textual.widgets import Input, OptionList, Static

from aireiter_tui.domain.models import OutputKind, TaskOutput
from aireiter_tui.ui.screens.confirm import ConfirmScreen
from aireiter_tui.ui.screens.help import HelpRow, HelpScreen
from aireiter_tui.ui.screens.label import LabelScreen
from aireiter_tui.ui.screens.output_chooser import OutputChooserScreen, middle_ellipsis

# --- confirm ---------------------------------------------------------------------------


async def test_confirm_keys() -> None:
    cases = [("y", True), ("enter", True), ("n", False), ("escape", False)]
    app = Host(ConfirmScreen("Remove 2 tasks?", "order_a\norder_b"))
    async with app.run_test(size=SIZE) as pilot:
        for count, (key, expected) in enumerate(cases, start=1):
            if count > 1:
                app.show(ConfirmScreen("Remove?", "again"))
                await pilot.pause()
            await pilot.press(key)
            assert await finish(pilot, app, count) is expected, key


async def test_confirm_shows_hostile_text_literally() -> None:
    body = "\n".join(HOSTILE)
    app = Host(ConfirmScreen(HOSTILE[1], body, confirm_label=HOSTILE[0], danger=False))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = shown(app.screen.query_one("#message Static", Static))
        assert "[/]" in text and "[@click=app.quit]" in text and "␛[2J" in text
        assert "\x1b" not in text
        await pilot.click("#cancel")
        assert await finish(pilot, app) is False


async def test_confirm_is_sized_to_its_content_and_centred() -> None:
    for width, height in [(80, 24), (120, 36), (200, 60)]:
        app = Host(ConfirmScreen("Remove task", "Stop watching order_a?\nIt stays on the server."))
        async with app.run_test(size=(width, height)) as pilot:
            await pilot.pause()
            dialog = app.screen.query_one("#dialog").region
            assert dialog.height < 15, (width, height, dialog)
            assert dialog.width <= 60
            # Centred: the margins either side differ by at most one cell (odd leftovers).
            assert abs(dialog.x - (width - dialog.right)) <= 1
            assert abs(dialog.y - (height - dialog.bottom)) <= 1
            await pilot.press("n")
            assert await finish(pilot, app) is False


# --- label -----------------------------------------------------------------------------


async def test_label_enter_saves_stripped() -> None:
    app = Host(LabelScreen("old", "order_a"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.screen.query_one(Input).value == "old"
        await pilot.press("end", "space", "x", "space", "enter")
        assert await finish(pilot, app) == "old x"


async def test_label_empty_removes_and_escape_cancels() -> None:
    app = Host(LabelScreen("old", "order_a"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.screen.query_one(Input).value = "   "
        await pilot.press("enter")
        assert await finish(pilot, app) == ""
        app.show(LabelScreen(None, "order_a"))
        await pilot.press("x", "escape")
        assert await finish(pilot, app, 2) is None


async def test_label_rejects_with_message() -> None:
    cases = [("bad\x07label", "control characters"), ("x" * 81, "at most 80"), ("\x1b[2J", "ntrol")]
    app = Host(LabelScreen(None, "order_a"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        field = app.screen.query_one(Input)
        problem = app.screen.query_one("#problem", Static)
        for value, reason in cases:
            field.value = value
            await pilot.press("enter")
            await wait_for(pilot, lambda: reason in shown(problem), reason)  # noqa: B023
            assert problem.display and not app.results
        field.value = "fine"
        await pilot.press("enter")
        assert await finish(pilot, app) == "fine"


async def test_label_hostile_current_and_name() -> None:
    app = Host(LabelScreen("[/]", "[@click=app.quit]\x1b[2J"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        name = shown(app.screen.query_one("#task-name", Static))
        assert name == "[@click=app.quit]␛[2J"
        await pilot.click("#task-name")
        await pilot.press("enter")
        assert await finish(pilot, app) == "[/]"


# --- output chooser ----------------------------------------------------------------------

OUTPUTS = (
    TaskOutput("javascript:[@click=app.quit]", OutputKind.OTHER),
    TaskOutput("https://cdn.example/a/[/]-item-0.jpeg", OutputKind.IMAGE),
    TaskOutput("https://cdn.example/b/item-1.mp4", OutputKind.VIDEO),
    TaskOutput("https://cdn.example/\x1b[2J.png", OutputKind.IMAGE),
)


async def test_chooser_number_key_and_arrows_pick() -> None:
    app = Host(OutputChooserScreen(OUTPUTS))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        assert await finish(pilot, app) == OUTPUTS[2].url
        # The highlight starts on #2 (#1 is refused); down moves to #3.
        app.show(OutputChooserScreen(OUTPUTS))
        await pilot.press("down", "enter")
        assert await finish(pilot, app, 2) == OUTPUTS[2].url


@pytest.mark.parametrize(
    ("purpose", "title", "hint", "refused"),
    [
        ("open", "Open which output?", "1-4 or Enter opens", "won't open"),
        ("copy", "Copy which output?", "1-4 or Enter copies", "won't copy"),
    ],
)
async def test_chooser_words_say_what_picking_does(
    purpose: Literal["open", "copy"], title: str, hint: str, refused: str
) -> None:
    app = Host(OutputChooserScreen(OUTPUTS, purpose=purpose))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.screen.query_one("#dialog").border_title == title
        assert shown(app.screen.query_one("#hint", Static)).startswith(hint)
        prompt = app.screen.query_one(OptionList).get_option_at_index(0).prompt
        assert f"{refused}:" in str(prompt)


async def test_chooser_refused_entry_cannot_be_picked() -> None:
    app = Host(OutputChooserScreen(OUTPUTS))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        options = app.screen.query_one(OptionList)
        assert options.get_option_at_index(0).disabled
        assert options.get_option_at_index(3).disabled
        await pilot.press("1", "4", "9")
        problem = app.screen.query_one("#problem", Static)
        await wait_for(pilot, lambda: "won't open" in shown(problem), "won't open")
        assert not app.results
        assert "only http and https" in str(options.get_option_at_index(0).prompt)
        assert "␛[2J" in str(options.get_option_at_index(3).prompt)
        # Enter picks the highlighted entry, which starts on the first openable one.
        await pilot.press("enter")
        assert await finish(pilot, app) == OUTPUTS[1].url


async def test_chooser_click_and_escape() -> None:
    app = Host(OutputChooserScreen(OUTPUTS))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        options = app.screen.query_one(OptionList)
        # Row 1 of the list's content is the first (refused) option.
        await pilot.click(OptionList, offset=(8, 1))
        await pilot.pause()
        assert not app.results
        assert options.highlighted == 1
        # Rows 2 and 3 hold the refusal line and then the second output.
        await pilot.click(OptionList, offset=(8, 3))
        assert await finish(pilot, app) == OUTPUTS[1].url
        # Nothing to pick: keys do nothing, Escape closes.
        app.show(OutputChooserScreen([], title="[/]"))
        await pilot.press("1", "enter", "escape")
        assert await finish(pilot, app, 2) is None


def test_middle_ellipsis() -> None:
    url = "https://host.example/path/to/file-name.jpeg"
    assert middle_ellipsis(url, 100) == url
    cut = middle_ellipsis(url, 21)
    assert len(cut) == 21 and cut.startswith("https://h") and cut.endswith("name.jpeg")
    assert middle_ellipsis(url, 1) == "…"
    assert middle_ellipsis(url, 0) == ""


# --- help --------------------------------------------------------------------------------

ROWS = (
    HelpRow("a", "add tasks", "Tasks"),
    HelpRow("d", "remove the selected task", "Tasks"),
    HelpRow("[/]", "[@click=app.quit]\x1b[2J", "Tasks"),
    HelpRow("?", "this help", "App"),
)


async def test_help_shows_rows_and_closes() -> None:
    app = Host(HelpScreen(ROWS))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        groups = [shown(w) for w in app.screen.query(".group").results(Static)]
        assert groups == ["Tasks", "App"]
        keys = [shown(w) for w in app.screen.query(".key").results(Static)]
        assert keys == ["a", "d", "[/]", "?"]
        descriptions = [shown(w) for w in app.screen.query(".description").results(Static)]
        assert "[@click=app.quit]␛[2J" in descriptions
        legend = shown(app.screen.query_one(".legend", Static))
        assert "◐ processing" in legend and "⚠" in legend
        lines = legend.splitlines()
        assert lines[1].startswith("… not fetched yet") and lines[2].startswith("⚠ could not")
        # Each line fits the help dialog's text width (76 - border - padding - scrollbar).
        assert max(len(line) for line in lines) <= 70
        for count, key in enumerate(["escape", "q", "question_mark"], start=1):
            if count > 1:
                app.show(HelpScreen(ROWS))
                await pilot.pause()
            await pilot.press(key)
            assert await finish(pilot, app, count) is None, key
