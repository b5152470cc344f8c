"""The modal screens, each pushed on a tiny host app and driven with the keyboard."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Input, OptionList, Static, TextArea

import aireiter_tui
from aireiter_tui.domain.models import IdKind, OutputKind, TaskOutput, TaskRef
from aireiter_tui.screens.add_tasks import AddTasksResult, AddTasksScreen
from aireiter_tui.screens.confirm import ConfirmScreen
from aireiter_tui.screens.help import HelpRow, HelpScreen
from aireiter_tui.screens.label import LabelScreen
from aireiter_tui.screens.output_chooser import OutputChooserScreen, middle_ellipsis

HOSTILE = ("[/]", "[@click=app.quit]", "\x1b[2J")
# What must never reach the terminal from a widget: C0 (tab aside), DEL and C1.
TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
SIZE = (80, 24)


class Host(App[None]):
    """Pushes a screen on mount (and more with :meth:`show`); records what each returned.

    It loads the real app's stylesheet: its rules outrank a screen's DEFAULT_CSS, and a
    selector meant for the main screen once stretched the confirm dialog to full height.
    """

    CSS_PATH = Path(aireiter_tui.__file__).parent / "styles" / "app.tcss"

    def __init__(self, modal: Screen[Any]) -> None:
        super().__init__()
        self.modal = modal
        self.results: list[Any] = []

    def on_mount(self) -> None:
        self.show(self.modal)

    def show(self, modal: Screen[Any]) -> None:
        self.modal = modal
        self.push_screen(modal, self.results.append)


async def until(pilot: Pilot[None], condition: Callable[[], bool]) -> None:
    """Let the app process messages until ``condition`` holds (bounded by turns, not time)."""
    for _ in range(200):
        if condition():
            return
        await pilot.pause()
    raise AssertionError("the condition never became true")


def shown(widget: Widget) -> str:
    """The plain text a widget renders."""
    return str(widget.render())


async def finish(pilot: Pilot[None], app: Host, count: int = 1) -> Any:
    """Wait for the ``count``-th dismissal; check the app survived; return its result."""
    await until(pilot, lambda: len(app.results) >= count)
    assert app.is_running
    assert app.screen is not app.modal
    return app.results[count - 1]


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
            await until(pilot, lambda: reason in shown(problem))  # noqa: B023
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


async def test_chooser_refused_entry_cannot_be_picked() -> None:
    app = Host(OutputChooserScreen(OUTPUTS))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        options = app.screen.query_one(OptionList)
        assert options.get_option_at_index(0).disabled
        assert options.get_option_at_index(3).disabled
        await pilot.press("1", "4", "9")
        problem = app.screen.query_one("#problem", Static)
        await until(pilot, lambda: "won't open" in shown(problem))
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


# --- add tasks ---------------------------------------------------------------------------


def preview(app: Host) -> str:
    return shown(app.screen.query_one("#preview", Static))


async def test_add_paste_kind_and_label() -> None:
    app = Host(AddTasksScreen())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.focused is app.screen.query_one(TextArea)
        # As the terminal driver does: the app forwards a paste to the focused widget.
        app.post_message(events.Paste("order_a, order_b\norder_c bad\x07id"))
        await until(pilot, lambda: "3 IDs ready" in preview(app))
        assert "1 rejected" in preview(app) and "bad␇id" in preview(app)
        await pilot.press("ctrl+t")
        await until(pilot, lambda: app.screen.kind is IdKind.OUT_TASK_ID)  # type: ignore[attr-defined]
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
        await until(pilot, lambda: app.screen.kind is IdKind.TASK_ID)  # type: ignore[attr-defined]
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
        await until(pilot, lambda: "2 already watched" in preview(app))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "Nothing to add" in preview(app))
        assert not app.results
        area.text = "order_a order_c"
        await until(pilot, lambda: "1 ID ready" in preview(app))
        await pilot.press("ctrl+s")
        result = await finish(pilot, app)
    assert result.refs == [TaskRef(IdKind.TASK_ID, "order_c")]


async def test_add_empty_refuses_and_escape_cancels() -> None:
    app = Host(AddTasksScreen())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "paste at least one" in preview(app))
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
        await until(pilot, lambda: "control characters" in preview(app))
        drawn = "".join(seg.text for seg in area.render_line(0)) + "".join(
            seg.text for seg in label.render_line(0)
        )
        assert "␛[2J" in drawn and "␛]52" in drawn
        assert not TERMINAL_CONTROLS.search(drawn)
        # The text itself is untouched, so the bad ID is rejected rather than "fixed".
        assert "\x1b" in area.text
        assert "1 ID ready · 1 rejected" in preview(app)
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
        await until(pilot, lambda: "rejected" in preview(app))
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
        await until(pilot, lambda: panel.region.height == 6)
        dialog = app.screen.query_one("#dialog").region
        assert hint.region.height == 1
        assert dialog.contains_region(hint.region)
        assert dialog.bottom <= SIZE[1] and dialog.y >= 0
