"""Issue #18, the dialogs and toasts: which task an action touched, what the Add dialog
will add, the ID kind without colour, and what opening and copying really did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness import (
    SIZE,
    AppFactory,
    opened_urls,
    record_notes,
    seed_watchlist,
    settings_for,
    table,
    wait_for,
)
from screen_fixtures import Host, finish, shown
from textual import events
from textual.containers import VerticalScroll
from textual.widgets import RadioButton, Static, TextArea

from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.simulator import Simulator
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.screens.add_tasks import AddTasksScreen, odd_ones
from aireiter_tui.ui.screens.confirm import ConfirmScreen
from aireiter_tui.ui.screens.copy_text import CopyTextScreen
from aireiter_tui.ui.screens.label import LabelScreen

LONG_A = "order_lwU2d-VkUq9-tlCCmrdYu-aaaaaaaaaaaaaaaa-first-one"
LONG_B = "order_lwU2d-VkUq9-tlCCmrdYu-aaaaaaaaaaaaaaaa-second-one"


def preview(app: Host) -> str:
    return shown(app.screen.query_one("#preview", Static))


def _lines_with(text: str, word: str) -> list[str]:
    return [line for line in text.splitlines() if word in line.split()]


# --- 6: the task acted on is named by its label and its ID ---------------------------


async def test_remove_undo_and_label_name_the_id_beside_a_shared_label(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    refs = [TaskRef(IdKind.TASK_ID, LONG_A), TaskRef(IdKind.TASK_ID, LONG_B)]
    seed_watchlist(tmp_path / "watchlist.toml", refs, label="hero")
    app = app_factory(settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notes(app)
        table(app).move_to_key(refs[1].key)
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        question = str(app.screen.query_one("#message Static", Static).render())
        # Both ends of the ID: the shared head and the tail that tells the two apart.
        assert "hero" in question and "order_lw" in question and "second-one" in question
        await pilot.press("y")
        await wait_for(pilot, lambda: refs[1].key not in app.monitor.session.rows, "removed")
        await pilot.press("u")
        await wait_for(pilot, lambda: refs[1].key in app.monitor.session.rows, "back")
        table(app).move_to_key(refs[1].key)
        await pilot.press("l")
        assert isinstance(app.screen, LabelScreen)
        await pilot.press("ctrl+u", "v", "2", "enter")
        await wait_for(pilot, lambda: len(notes) >= 3, "three toasts")
    removed, undone, labelled = (note.message for note in notes[:3])
    for message in (removed, undone):
        assert "hero" in message and "second-one" in message and "first-one" not in message
    assert "…" in removed  # shortened in the middle, not at the end
    assert "v2" in labelled and "second-one" in labelled


# --- 7: every ID the Add dialog will add is listed; odd ones are flagged -----------------


def test_odd_ones_are_the_words_among_ids() -> None:
    ids = ["order_a1", "my-shot-2", "bad", "id", "with", "spaces!!!", "abc123"]
    flagged = odd_ones(ids)
    assert set(flagged) == {"bad", "id", "with", "spaces!!!"}
    assert all(reason for reason in flagged.values())
    # Alike IDs, or nothing to compare with, are no cause for a second look.
    assert odd_ones(["order_a1", "order_b2", "shot-3"]) == {}
    assert odd_ones(["alpha", "beta"]) == {}
    assert odd_ones(["hello"]) == {}
    # Punctuation none of the others has stands out too.
    assert set(odd_ones(["shot_1", "shot_2", "shot_3!"])) == {"shot_3!"}


async def test_add_dialog_lists_every_id_and_flags_the_odd_ones() -> None:
    app = Host(AddTasksScreen([TaskRef(IdKind.TASK_ID, "order_old9")]))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.post_message(
            events.Paste("order_a1 order_old9 2025-12-18 ERROR bad id with spaces!!! my-shot-2")
        )
        await wait_for(pilot, lambda: "will be added" in preview(app), "the preview")
        text = preview(app)
        assert "8 task_ids will be added" in text and "1 already watched" in text
        for ident in ("order_a1", "2025-12-18", "my-shot-2"):
            (line,) = _lines_with(text, ident)
            assert "⚠" not in line, line
        for word in ("ERROR", "bad", "id", "with", "spaces!!!"):
            (line,) = _lines_with(text, word)
            assert "⚠" in line, line  # a marker, not a colour
        assert "5 do not look like the others" in text
        await pilot.press("ctrl+s")
        result = await finish(pilot, app)
    assert [ref.id for ref in result.refs] == [
        "order_a1",
        "2025-12-18",
        "ERROR",
        "bad",
        "id",
        "with",
        "spaces!!!",
        "my-shot-2",
    ]


async def test_a_long_list_scrolls_inside_a_dialog_that_fits_80x24() -> None:
    ids = [f"order_{n:03d}x" for n in range(60)]
    app = Host(AddTasksScreen())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.screen.query_one(TextArea).text = "\n".join(ids)
        await wait_for(pilot, lambda: "60 task_ids" in preview(app), "the preview")
        text = preview(app)
        assert all(_lines_with(text, ident) for ident in ids)
        box = app.screen.query_one("#preview-box", VerticalScroll)
        await wait_for(pilot, lambda: box.max_scroll_y > 0, "a scrollable list")
        dialog = app.screen.query_one("#dialog").region
        assert dialog.y >= 0 and dialog.bottom <= 24
        assert dialog.contains_region(app.screen.query_one("#keys-hint").region)
        box.focus()
        await pilot.press("end")
        await wait_for(pilot, lambda: box.scroll_y == box.max_scroll_y, "scrolled to the end")


# --- 8: the ID kind reads without colour -------------------------------------------------


async def test_the_id_kind_reads_without_colour_and_in_the_summary() -> None:
    app = Host(AddTasksScreen())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.screen.query_one(TextArea).text = "shot_1 shot_2 shot_3"

        def buttons() -> dict[str, str]:
            return {
                str(button.id): button.render().plain  # type: ignore[union-attr]
                for button in app.screen.query(RadioButton)
            }

        await wait_for(pilot, lambda: "3 task_ids will be added" in preview(app), "task_id")
        drawn = buttons()
        assert drawn["task_id"] != drawn["out_task_id"].replace("out_", "")
        assert "●" in drawn["task_id"] and "●" not in drawn["out_task_id"]
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: "3 out_task_ids will be added" in preview(app), "out")
        drawn = buttons()
        assert "●" in drawn["out_task_id"] and "●" not in drawn["task_id"]


# --- 10 and 11: opening and copying say what happened ------------------------------------


def _completed(app: AIReiterApp, ident: str, label: str | None = None) -> tuple[TaskRef, dict]:  # type: ignore[type-arg]
    ref = TaskRef(IdKind.TASK_ID, ident)
    raw = {
        "task_id": ident,
        "status": "completed",
        "input": {"model": "gpt_4o", "params": {"prompt": "a fox\u202eevil"}},
        "output": [{"url": "https://cdn.example.com/outputs/2025/12/18/a-very-long-name.png"}],
        "credits_used": 4,
    }
    app.monitor.session.add([ref], label)
    app.monitor.session.apply(ref, parse_task(raw), None)
    app.main_screen.rebuild_view()
    table(app).move_to_key(ref.key)
    return ref, raw


async def test_opening_an_output_says_opened(
    sim: Simulator, browser_log: Path, app_factory: AppFactory
) -> None:
    app = app_factory(settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notes(app)
        _completed(app, "order_open1")
        await pilot.press("o")
        await wait_for(pilot, lambda: bool(notes), "a toast")
        assert notes[-1].message.startswith("Opened")
        assert "cdn.example.com" in notes[-1].message and "name.png" in notes[-1].message
    assert len(opened_urls(browser_log)) == 1


@pytest.mark.parametrize("in_tmux", [False, True])
async def test_copying_says_the_terminal_must_allow_it_and_again_shows_the_text(
    sim: Simulator, app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch, in_tmux: bool
) -> None:
    if in_tmux:
        monkeypatch.setenv("TMUX", "/tmp/tmux-1000/default,1,0")
    else:
        monkeypatch.delenv("TMUX", raising=False)
    app = app_factory(settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notes(app)
        ref, _ = _completed(app, "order_copy1", "hero")
        await pilot.press("y")
        assert app.clipboard == ref.id
        said = notes[-1].message
        assert "OSC 52" in said and "allow" in said and "y again" in said
        assert ("set-clipboard" in said) is in_tmux
        assert "order_copy1" in said
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, CopyTextScreen), "the text shown")
        assert app.screen.query_one(TextArea).text == ref.id
        assert app.screen.query_one(TextArea).read_only
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, CopyTextScreen), "closed")
        await pilot.press("Y")
        assert app.clipboard.startswith("https://cdn.example.com/")
        assert "OSC 52" in notes[-1].message and "Y again" in notes[-1].message


async def test_J_copies_the_raw_json_whole_and_again_shows_it(
    sim: Simulator, app_factory: AppFactory
) -> None:
    app = app_factory(settings_for(sim), live=False)
    async with app.run_test(size=SIZE) as pilot:
        notes = record_notes(app)
        _, raw = _completed(app, "order_json1")
        await pilot.press("J")
        copied = app.clipboard
        assert json.loads(copied) == raw
        assert "\n  " in copied  # indented, not one long line
        assert "\u202e" not in copied  # a bidi override travels escaped, still valid JSON
        assert "OSC 52" in notes[-1].message and "J again" in notes[-1].message
        await pilot.press("J")
        await wait_for(pilot, lambda: isinstance(app.screen, CopyTextScreen), "the JSON shown")
        assert json.loads(app.screen.query_one(TextArea).text) == raw
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, CopyTextScreen), "closed")
        # A task not fetched yet has no JSON: said, nothing copied.
        other = TaskRef(IdKind.TASK_ID, "order_unfetched")
        app.monitor.session.add([other])
        app.main_screen.rebuild_view()
        table(app).move_to_key(other.key)
        await pilot.press("J")
        assert app.clipboard == copied
        assert "no answer" in notes[-1].message.lower()


async def test_a_long_copied_text_scrolls_and_the_dialog_fits_80x24() -> None:
    text = json.dumps({f"key_{n}": n for n in range(80)}, indent=2)
    app = Host(CopyTextScreen("Task JSON", text))
    async with app.run_test(size=(80, 24)) as pilot:
        area = app.screen.query_one(TextArea)
        await wait_for(pilot, lambda: area.max_scroll_y > 0, "a scrolling text")
        dialog = app.screen.query_one("#dialog").region
        assert dialog.y >= 0 and dialog.bottom <= 24
        assert dialog.contains_region(app.screen.query_one("#close").region)
        assert area.text == text
        await pilot.press("escape")
        assert await finish(pilot, app) is None
