"""The detail pane: what it shows for each kind of task, safely, and only when needed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.content import Content
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import Static

from aireiter_tui.domain.errors import TaskNotFoundError
from aireiter_tui.domain.models import IdKind, Task, TaskRef, parse_task
from aireiter_tui.domain.session import Row
from aireiter_tui.domain.watchlist_codec import StatusChange, WatchEntry
from aireiter_tui.ui.widgets.cells import refresh_note
from aireiter_tui.ui.widgets.detail_pane import DetailPane
from aireiter_tui.ui.widgets.detail_sections import MAX_SECTION_CHARS

REFERENCE_PAGE = Path("/work/shared/api/000_20e6f17c70b5a3ca.txt")
NOW = datetime(2025, 12, 18, 10, 20, 0, tzinfo=UTC)
IMAGE_URLS = (
    "https://s1.pxz.ai/upload/nano_banana/20251217/lAI2Anos92Un0NLgGyDwl.png",
    "https://s1.pxz.ai/upload/nano_banana/20251217/p9DkzlcwX2pleV-kf5XK4.png",
    "https://s1.pxz.ai/upload/nano_banana/20251217/UMM7vnF_JPqmvqt8bO2Uo.jpeg",
)
OUTPUT_URL = "https://s1.pxz.ai/upload/image-generator/20251218/hYtdX7AInk4HgErJCgD-w-item-0.jpeg"
HOSTILE = (
    "[/]",
    "[bold]",
    "[@click=app.quit]",
    "[link=file:///etc/passwd]x[/link]",
    "\x1b[2J",
    "\x1b]52;c;aGk=\x07",
    "\x9b31m",
    "nul\x00byte",
    "rtl\u202eevil",
    "日本語 مرحبا Ωμέγα",
)
FORBIDDEN = ("\x1b", "\x9b", "\x07", "\x00", "\u202e")


def reference_data() -> dict[str, Any]:
    """The ``data`` object of the published example response."""
    page = REFERENCE_PAGE.read_text(encoding="utf-8")
    start = page.index('{\n  "statusCode"')
    body, _end = json.JSONDecoder().raw_decode(page[start:])
    data: dict[str, Any] = body["data"]
    return data


def entry_for(
    task: Task | None,
    *,
    ref: TaskRef | None = None,
    label: str | None = None,
    checked: bool = True,
    history: list[StatusChange] | None = None,
) -> WatchEntry:
    if ref is None:
        ref = TaskRef(IdKind.TASK_ID, (task.task_id if task else None) or "order_x")
    return WatchEntry(
        ref=ref,
        label=label,
        added_at=NOW - timedelta(minutes=10),
        task=task,
        checked_at=NOW - timedelta(seconds=12) if checked else None,
        history=history or [],
    )


class Host(App[None]):
    def __init__(self) -> None:
        super().__init__()
        # Keyboard scrolling then lands at once instead of animating in real time.
        self.animation_level = "none"

    def compose(self) -> ComposeResult:
        yield DetailPane(id="detail")


def shown_text(pane: DetailPane) -> str:
    """The plain text of every visible heading and body, in order."""
    parts: list[str] = []
    for static in pane.query(Static):
        if static.display:
            visual = static.visual
            assert isinstance(visual, Content)
            parts.append(visual.plain)
    return "\n".join(parts)


def painted_text(pane: DetailPane) -> str:
    """What the visible widgets actually paint: the text of every segment of every line."""
    chunks: list[str] = []
    for static in pane.query(Static):
        if static.display and static.size.area:
            strips = static.render_lines(Region(0, 0, static.size.width, static.size.height))
            chunks.extend(segment.text for strip in strips for segment in strip)
    return "".join(chunks)


async def test_reference_task_shows_split_urls_output_model_and_credits() -> None:
    task = parse_task(reference_data())
    history = [
        StatusChange("pending", NOW - timedelta(minutes=8, seconds=5)),
        StatusChange("processing", NOW - timedelta(minutes=8)),
        StatusChange("completed", NOW - timedelta(minutes=6, seconds=30)),
    ]
    async with Host().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(DetailPane)
        pane.show(entry_for(task, label="dog pictures", history=history), now=NOW)
        await pilot.pause()
        # The URL rows glue number and URL with a blank that is not whitespace (U+2800).
        text = shown_text(pane).replace("\u2800", " ")
        lines = [line.strip() for line in text.splitlines()]
        for number, url in enumerate(IMAGE_URLS, 1):
            # Once under image_url, once under attachments: each on its own numbered line.
            assert lines.count(f"{number}. {url}") == 2
        assert f"1. image  {OUTPUT_URL}" in lines
        assert "Model         nano_banana" in lines
        assert "Credits       100" in lines
        assert "Duration      1m30s" in lines
        assert "Label         dog pictures" in lines
        assert "prompt: dog" in lines
        assert "show_public: true" in lines
        assert "showPublic: 0" in lines
        assert "10:11:55  ◌ pending" in lines
        assert "10:13:30  ✔ completed  (+1m30s)" in lines
        for heading in ("Summary", "Outputs", "Input", "Status history", "Raw response"):
            assert heading in lines
        assert "Error" not in lines and "Metadata" not in lines
        assert '"credits_used": 100' in text
        assert "won't open" not in text


async def test_failed_task_shows_the_message_first_then_the_whole_error() -> None:
    message = "The prompt was rejected by the safety system. " * 8
    data = {
        "task_id": "order_failed",
        "status": "failed",
        "created_at": "2025-12-18T10:12:11Z",
        "error": {
            "code": "E_MODERATION",
            "detail": {"message": message, "categories": ["violence", {"score": 0.97}]},
            "trace": [{"stage": "filter", "attempt": n} for n in range(30)],
        },
        "credits_used": 0,
    }
    async with Host().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(DetailPane)
        pane.show(entry_for(parse_task(data)), now=NOW)
        await pilot.pause()
        error_body = pane.query_one("#detail-body-error", Static)
        assert error_body.display
        body = str(error_body.visual)
        assert body.startswith(message.strip())
        assert body.index(message.strip()) < body.index('"code": "E_MODERATION"')
        assert '"attempt": 29' in body
        assert "✖ failed" in shown_text(pane)
        # The long message wraps inside the pane instead of running off its edge.
        assert error_body.size.width <= pane.size.width
        assert error_body.size.height > body.count("\n") + 1


async def test_hostile_strings_render_literally_and_nothing_raw_reaches_the_terminal() -> None:
    hostile = " ".join(HOSTILE)
    long_prompt = hostile + " " + "x" * 10_000
    data = {
        "task_id": "order_" + hostile,
        "status": hostile,
        "input": {
            "model": hostile,
            "params": {"prompt": long_prompt, hostile: {"nested": [hostile, 1, None]}},
            hostile: hostile,
        },
        "output": [
            {"url": "javascript:alert(1)"},
            {"url": "file:///etc/passwd"},
            {"url": "https://example.com/a\x1b[2J.png"},
        ],
        "error": {"message": hostile},
        "metadata": {hostile: hostile},
    }
    note = Text("⚠ could not refresh: " + hostile)
    async with Host().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(DetailPane)
        task = parse_task(data)
        pane.show(
            entry_for(task, label=hostile, history=[StatusChange(hostile, NOW)]),
            now=NOW,
            note=note,
        )
        await pilot.pause()
        assert pilot.app.is_running
        text = shown_text(pane)
        painted = painted_text(pane)
        for output in (text, painted):
            for forbidden in FORBIDDEN:
                assert forbidden not in output
        for literal in ("[/]", "[bold]", "[@click=app.quit]", "[link=file:///etc/passwd]x[/link]"):
            assert literal in text
        assert "␛[2J" in text and "␛]52;c;aGk=␇" in text and "nul␀byte" in text
        assert "日本語 مرحبا Ωμέγα" in text
        assert "x" * 10_000 in text
        assert text.count("(won't open:") == 3
        assert "⚠" in text


async def test_no_selection_and_never_fetched_entries_show_their_messages() -> None:
    async with Host().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(DetailPane)
        await pilot.pause()
        assert "No task selected" in shown_text(pane)
        ref = TaskRef(IdKind.OUT_TASK_ID, "my_task_123456")
        pane.show(entry_for(None, ref=ref, label="later", checked=False), now=NOW)
        await pilot.pause()
        text = shown_text(pane)
        assert "my_task_123456  (out_task_id)" in text
        assert "Label         later" in text
        assert "Not fetched yet" in text and "r refreshes it now" in text
        assert "No task selected" not in text
        assert "Raw response" not in text
        pane.show(None, now=NOW)
        await pilot.pause()
        assert shown_text(pane).startswith("No task selected")
        assert pane.shown_ref is None


async def test_same_inputs_do_not_rerender_and_ticks_rebuild_only_the_summary() -> None:
    task = parse_task(reference_data())
    entry = entry_for(task)
    async with Host().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(DetailPane)
        widgets = len(pane.children)
        pane.show(entry, now=NOW)
        await pilot.pause()
        count = pane.render_count
        raw_visual = pane.query_one("#detail-body-raw", Static).visual
        for _ in range(3):
            pane.show(entry, now=NOW + timedelta(microseconds=500))
        assert pane.render_count == count
        pane.show(entry, now=NOW + timedelta(seconds=1))
        assert pane.render_count == count + 1
        assert pane.query_one("#detail-body-raw", Static).visual is raw_visual
        pane.show(entry, now=NOW + timedelta(seconds=1), note=Text("⚠ could not refresh"))
        assert pane.render_count == count + 2
        other = entry_for(parse_task(dict(reference_data(), task_id="order_2")))
        pane.show(other, now=NOW)
        pane.show(entry, now=NOW)
        await pilot.pause()
        # Coming back reuses the built sections of a recently shown task.
        assert pane.query_one("#detail-body-raw", Static).visual is raw_visual
        assert len(pane.children) == widgets


async def test_unknown_status_stale_note_and_other_id() -> None:
    data = dict(reference_data(), status="queued_for_review", out_task_id="my_task_123456")
    data.pop("completed_at")
    async with Host().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(DetailPane)
        note = Text("⚠ could not refresh: the server answered 502 Bad Gateway")
        pane.show(entry_for(parse_task(data)), now=NOW, note=note)
        await pilot.pause()
        text = shown_text(pane)
        assert "Status        ? queued_for_review ⚠" in text
        assert "Out task ID   my_task_123456" in text
        assert text.rstrip().endswith("}")  # raw response is last
        assert "the server answered 502 Bad Gateway" in text


async def test_a_huge_raw_response_is_cut_with_a_note() -> None:
    data = dict(reference_data(), metadata={"blob": ["y" * 1000 for _ in range(400)]})
    async with Host().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(DetailPane)
        pane.show(entry_for(parse_task(data)), now=NOW)
        await pilot.pause()
        raw = str(pane.query_one("#detail-body-raw", Static).visual)
        assert f"… cut here: showing the first {MAX_SECTION_CHARS // 1000} KB" in raw
        assert len(raw) < MAX_SECTION_CHARS + 200
        metadata = str(pane.query_one("#detail-body-metadata", Static).visual)
        assert "see Raw response" in metadata


async def test_deep_nesting_and_dropped_fields_do_not_break_the_pane() -> None:
    nested: Any = "bottom"
    for _ in range(5000):
        nested = [nested]
    data = dict(reference_data(), status="failed", error=nested, credits_used="lots")
    data["metadata"] = {"deep": nested}
    async with Host().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(DetailPane)
        # A naive "now" is taken as local time rather than failing on aware task times.
        pane.show(entry_for(parse_task(data)), now=datetime.now())
        await pilot.pause()
        text = shown_text(pane)
        assert "(too deeply nested to show)" in text
        assert "Ignored       credits_used: expected a number, got a string" in text
        assert pilot.app.is_running


@pytest.mark.parametrize("key", ["end", "pagedown"])
async def test_the_pane_scrolls_with_the_keyboard(key: str) -> None:
    async with Host().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(DetailPane)
        pane.show(entry_for(parse_task(reference_data())), now=NOW)
        pane.focus()
        await pilot.pause()
        assert pane.has_focus and pane.max_scroll_y > 0
        await pilot.press(key)
        await pilot.wait_for_scheduled_animations()
        assert pane.scroll_y > 0


@pytest.mark.parametrize(
    ("kind", "advice"),
    [
        (IdKind.TASK_ID, "If it is an out_task_id, remove it"),
        (IdKind.OUT_TASK_ID, "If it is a task_id, remove it"),
    ],
)
def test_the_hint_for_an_unknown_task_names_the_other_kind(kind: IdKind, advice: str) -> None:
    added = datetime(2025, 1, 1, tzinfo=UTC)
    entry = WatchEntry(ref=TaskRef(kind, "order_abc"), label=None, added_at=added)
    note = refresh_note(Row(entry, TaskNotFoundError("The service does not know this task.")))
    assert note is not None and advice in note.plain


async def _count_layouts_once_settled(pilot: Pilot[Any], pane: DetailPane) -> list[int]:
    """A list that grows by one each time the pane's screen lays itself out.

    It starts empty once the screen has settled: no layout pending and two
    pauses in a row without one. On a busy machine the layout asked for by
    what the test did before can still be waiting for the screen's next
    update timer after a single pause.
    """
    screen = pane.screen
    layouts: list[int] = []
    refresh_layout = screen._refresh_layout

    def counted(*args: Any, **kwargs: Any) -> None:
        layouts.append(1)
        refresh_layout(*args, **kwargs)

    screen._refresh_layout = counted  # type: ignore[method-assign]
    quiet = 0
    for _ in range(100):
        before = len(layouts)
        await pilot.pause(0.01)
        quiet = quiet + 1 if len(layouts) == before and not screen._layout_required else 0
        if quiet == 2:
            break
    assert quiet == 2, "the screen never stopped laying itself out"
    layouts.clear()
    return layouts


async def test_a_clock_tick_that_keeps_its_lines_lays_nothing_out() -> None:
    entry = entry_for(parse_task(dict(reference_data(), status="processing")))
    async with Host().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(DetailPane)
        pane.show(entry, now=NOW)
        layouts = await _count_layouts_once_settled(pilot, pane)
        for tick in range(1, 4):
            pane.show(entry, now=NOW + timedelta(seconds=tick))
            await pilot.pause()
        # Each tick redrew "Last checked 13s ago" ... "15s ago" in place.
        assert "Last checked  15s ago" in painted_text(pane)
        assert layouts == []


async def test_looking_again_at_a_task_with_no_outputs_lays_nothing_out() -> None:
    # (at start-up the pane looks for saved files after the first frame: an empty
    # preview emptied again laid the screen out, 5 ms before the list could be read)
    entry = entry_for(parse_task(dict(reference_data(), status="processing", outputs=[])))
    async with Host().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(DetailPane)
        pane.show(entry, now=NOW)
        layouts = await _count_layouts_once_settled(pilot, pane)
        pane.outputs_changed()
        await pilot.pause()
        assert pane.preview.message == ""
        assert layouts == []


async def test_a_body_that_needs_more_lines_or_fewer_is_laid_out_again() -> None:
    async with Host().run_test(size=(60, 40)) as pilot:
        pane = pilot.app.query_one(DetailPane)
        pane.show(entry_for(parse_task(reference_data())), now=NOW)
        clock = pane.query_one("#detail-body-summary-clock", Static)
        layouts = await _count_layouts_once_settled(pilot, pane)
        # (from the clock's own lines, then wrapped to three, then back to one)
        for text, height in [("one line", 1), ("wraps " * 20, 3), ("one line", 1)]:
            before = len(layouts)
            pane._set_body("summary-clock", Content(text))
            await pilot.pause()
            assert clock.size.height == height
            assert len(layouts) > before
