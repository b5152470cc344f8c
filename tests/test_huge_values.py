"""Huge values (issue 13, item 5): 100,000 outputs, a 2 MB comma-joined URL list, a
900,000-character model name or task ID. What is parsed, kept and drawn stays bounded,
and the one-second clock tick redraws only the short lines that move with the clock.

Boundedness is shown by counts (items kept, rows listed, characters rendered, widgets
redrawn per tick) and by tracemalloc, never by timing.
"""

from __future__ import annotations

import json
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from harness import T0, AppFactory, pane_text, table, table_lines, wait_for
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text
from textual.app import App, ComposeResult
from textual.content import Content
from textual.widgets import Static

from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.fields import (
    MAX_ITEM_WARNINGS,
    MAX_NAME_CHARS,
    MAX_OUTPUTS,
    MAX_TEXT_CHARS,
    MAX_URLS,
    count_urls,
    dump_json,
    split_url_list,
    split_urls,
)
from aireiter_tui.domain.models import (
    MAX_ID_LENGTH,
    IdKind,
    Task,
    TaskRef,
    TaskStatus,
    parse_task,
)
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry
from aireiter_tui.ui.widgets.cells import COLUMNS
from aireiter_tui.ui.widgets.detail_pane import DetailPane
from aireiter_tui.ui.widgets.detail_sections import MAX_LISTING_CHARS, MAX_SECTION_CHARS
from aireiter_tui.ui.widgets.task_table import TaskTable

NOW = datetime(2025, 12, 18, 10, 20, 0, tzinfo=UTC)
OUTPUTS = 100_000
HUGE_CHARS = 900_000
#: About 2 MB of comma-joined URLs, as sent in image_url and attachments.
URLS = [
    f"https://cdn.example.com/uploads/2025/12/18/reference-image-{n:06d}.png" for n in range(30_000)
]
URL_LIST = ",".join(URLS)
#: Nothing the pane shows for one section should come near this (the raw view's 200 KB
#: cut, plus its note).
SECTION_BOUND = MAX_SECTION_CHARS + 1_000


def outputs_data(count: int = OUTPUTS) -> dict[str, Any]:
    return {
        "task_id": "order_outputs",
        "status": "completed",
        "created_at": "2025-12-18T10:00:00Z",
        "completed_at": "2025-12-18T10:05:00Z",
        "input": {"model": "nano_banana", "params": {"prompt": "many"}},
        "output": [{"url": f"https://cdn.example.com/out/{n:06d}.png"} for n in range(count)],
    }


def url_list_data() -> dict[str, Any]:
    return {
        "task_id": "order_urls",
        "status": "completed",
        "input": {
            "model": "nano_banana",
            "params": {"prompt": "edit", "image_url": URL_LIST},
            "attachments": [URL_LIST],
        },
    }


def huge_names_data() -> dict[str, Any]:
    """An active task whose response names it with 900,000-character IDs and model."""
    return {
        "task_id": "t" * HUGE_CHARS,
        "out_task_id": "日" * HUGE_CHARS,
        "status": "processing",
        "created_at": "2025-12-18T10:00:00Z",
        "input": {"model": "m" * HUGE_CHARS, "params": {"prompt": "p" * HUGE_CHARS}},
        "error": {"message": "e" * HUGE_CHARS},
        "credits_used": 12,
    }


def entry_for(task: Task, ref: TaskRef, *, checked_ago: timedelta) -> WatchEntry:
    return WatchEntry(
        ref=ref,
        label="huge",
        added_at=NOW - timedelta(hours=3),
        task=task,
        checked_at=NOW - checked_ago,
    )


# --- parsing: what is kept ---------------------------------------------------------------------


def test_past_the_cap_outputs_are_counted_not_kept() -> None:
    data = outputs_data()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        task = parse_task(data)
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(task.outputs) == MAX_OUTPUTS
    assert task.outputs_omitted == OUTPUTS - MAX_OUTPUTS
    assert task.output_count == OUTPUTS
    assert task.outputs[-1].url.endswith(f"{MAX_OUTPUTS - 1:06d}.png")
    # 1,000 small objects; 100,000 of them took about 10 MB.
    assert kept < 1_000_000, kept
    assert task.raw is data  # the raw response is kept whole, for the raw view and the CLI


def test_outputs_without_urls_make_a_bounded_number_of_warnings() -> None:
    task = parse_task({"status": "completed", "output": [{"href": "x"}] * OUTPUTS})
    assert task.outputs == () and task.output_count == 0
    assert len(task.warnings) == MAX_ITEM_WARNINGS + 1
    assert task.warnings[0] == "output[0]: no url"
    assert task.warnings[-1] == f"output: {OUTPUTS - MAX_ITEM_WARNINGS:,} more entries with no url"
    # Past the cap of kept outputs the rest are counted the same way.
    outputs = [{"url": "https://a/b.png"}] * MAX_OUTPUTS + [7] * 50
    mixed = parse_task({"status": "completed", "output": outputs})
    assert mixed.warnings == ("output: 50 more entries with no url",)


def test_a_2_mb_url_list_keeps_its_first_urls_and_counts_the_rest() -> None:
    assert len(URL_LIST) > 2_000_000
    data = url_list_data()
    task = parse_task(data)
    assert task.input is not None
    assert task.input.url_lists["image_url"] == tuple(URLS[:MAX_URLS])
    assert task.input.url_lists_omitted == {"image_url": len(URLS) - MAX_URLS}
    assert task.input.attachments == tuple(URLS[:MAX_URLS])
    assert task.input.attachments_omitted == len(URLS) - MAX_URLS
    assert task.input.params["image_url"] is URL_LIST  # the params are kept as sent


def test_attachments_share_one_cap_and_blank_parts_are_not_counted() -> None:
    half = ",".join(URLS[:600])
    task = parse_task({"input": {"attachments": [half, {"url": half + ", ,"}, half]}})
    assert task.input is not None
    assert task.input.attachments == tuple(URLS[:600] + URLS[:400])
    assert task.input.attachments_omitted == 200 + 600


def test_huge_ids_model_status_prompt_and_error_are_cut_when_parsed() -> None:
    data = huge_names_data()
    task = parse_task(data)
    assert task.task_id is not None and task.out_task_id is not None
    assert len(task.task_id) == len(task.out_task_id) == MAX_ID_LENGTH
    assert task.task_id.endswith("…") and task.out_task_id.startswith("日日日")
    assert task.model is not None and len(task.model) == MAX_NAME_CHARS
    assert task.prompt is not None and len(task.prompt) == MAX_TEXT_CHARS
    assert task.failure is not None and len(task.failure.message) == MAX_TEXT_CHARS
    unknown = parse_task({"status": "s" * HUGE_CHARS})
    assert unknown.status is TaskStatus.UNKNOWN and len(unknown.status_label) == MAX_NAME_CHARS
    # The raw response and the params keep everything.
    assert task.raw is data
    assert task.input is not None and len(task.input.params["prompt"]) == HUGE_CHARS


@given(
    st.lists(st.sampled_from(["a", "://b", ",", " ", "\t", "\n", "\u3000", "日"])).map("".join),
    st.integers(min_value=0, max_value=6),
)
@settings(max_examples=500)
def test_splitting_a_capped_url_list_agrees_with_splitting_it_whole(text: str, limit: int) -> None:
    every = split_urls(text)
    assert split_url_list(text, limit) == (every[:limit], len(every) - len(every[:limit]))
    assert count_urls(text) == len(every)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@given(JSON_VALUES, st.integers(min_value=1, max_value=400), st.sampled_from([None, 2]))
@settings(max_examples=300)
def test_the_bounded_dump_is_json_dumps_cut_at_its_limit(
    value: Any, limit: int, indent: int | None
) -> None:
    whole = json.dumps(value, indent=indent, ensure_ascii=False)
    assert dump_json(value, limit, indent=indent) == (whole[:limit], len(whole) > limit)


# --- the detail pane ---------------------------------------------------------------------------


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield DetailPane(id="detail")


def bodies(pane: DetailPane) -> dict[str, str]:
    """The plain text of each visible body, by widget id."""
    shown: dict[str, str] = {}
    for static in pane.query(Static):
        if static.display and static.id and static.id.startswith("detail-body-"):
            visual = static.visual
            assert isinstance(visual, Content)
            shown[static.id.removeprefix("detail-body-")] = visual.plain
    return shown


async def test_the_pane_lists_the_first_outputs_and_says_how_many_more() -> None:
    task = parse_task(outputs_data())
    ref = TaskRef(IdKind.TASK_ID, "order_outputs")
    async with Host().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(DetailPane)
        pane.show(entry_for(task, ref, checked_ago=timedelta(hours=2)), now=NOW)
        await pilot.pause()
        shown = bodies(pane)
        rows = shown["outputs"].splitlines()
        listed = len(rows) - 1  # as many as the section's budget holds, at most MAX_OUTPUTS
        assert 100 <= listed <= MAX_OUTPUTS
        assert rows[-1] == f"… and {OUTPUTS - listed:,} more"
        assert rows[0].startswith("   1.") and rows[listed - 1].lstrip().startswith(f"{listed}.")
        assert f"… cut here: showing the first {MAX_SECTION_CHARS // 1000} KB" in shown["raw"]
        for key, text in shown.items():
            assert len(text) <= SECTION_BOUND, key


async def test_the_pane_lists_a_2_mb_url_list_within_its_budget() -> None:
    task = parse_task(url_list_data())
    ref = TaskRef(IdKind.TASK_ID, "order_urls")
    async with Host().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(DetailPane)
        pane.show(entry_for(task, ref, checked_ago=timedelta(hours=2)), now=NOW)
        await pilot.pause()
        text = bodies(pane)["input"]
        # Two lists (image_url and attachments), each cut at its own budget.
        assert len(text) <= 2 * (MAX_LISTING_CHARS + 1_000)
        assert f"image_url: ({len(URLS):,} URLs)" in text
        assert f"attachments: ({len(URLS):,})" in text
        lines = text.replace("\u2800", " ").splitlines()
        notes = [line.strip() for line in lines if line.strip().startswith("… and ")]
        listed = sum(1 for line in lines if "https://cdn.example.com/" in line)
        assert len(notes) == 2
        # Every URL is either listed or counted in a note.
        assert listed + sum(int(n.split()[2].replace(",", "")) for n in notes) == 2 * len(URLS)


async def test_the_pane_cuts_900_000_character_names() -> None:
    task = parse_task(huge_names_data())
    ref = TaskRef(IdKind.TASK_ID, "order_names")
    async with Host().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(DetailPane)
        pane.show(entry_for(task, ref, checked_ago=timedelta(seconds=3)), now=NOW)
        await pilot.pause()
        shown = bodies(pane)
        assert len(shown["summary"]) < 2_000
        assert len(shown["summary-clock"]) < 300
        assert len(shown["error"]) <= MAX_TEXT_CHARS + SECTION_BOUND
        assert len(shown["input"]) <= MAX_TEXT_CHARS + 500
        assert sum(map(len, shown.values())) < 4 * SECTION_BOUND


def body_visuals(pane: DetailPane) -> dict[str, object]:
    """Each body widget's visual, by id: a body given new text gets a new visual."""
    return {
        static.id: static.visual
        for static in pane.query(Static)
        if static.id and static.id.startswith("detail-body-")
    }


def replaced(before: dict[str, object], pane: DetailPane) -> set[str]:
    after = body_visuals(pane)
    return {key for key in after if after[key] is not before.get(key)}


async def test_a_clock_tick_redraws_only_the_lines_that_move_with_the_clock() -> None:
    task = parse_task(huge_names_data())
    entry = entry_for(task, TaskRef(IdKind.TASK_ID, "order_names"), checked_ago=timedelta(0))
    async with Host().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(DetailPane)
        pane.show(entry, now=NOW)
        await pilot.pause()
        visuals = body_visuals(pane)
        for tick in range(1, 6):
            pane.show(entry, now=NOW + timedelta(seconds=tick))
            await pilot.pause()
        # The head and tail (IDs, model, status, error: every string from the network)
        # and the task's sections were not rebuilt; the short clock lines were, each tick.
        assert replaced(visuals, pane) == {"detail-body-summary-clock"}
        assert pane.section_renders["summary-clock"] == 1 + 5  # the first show, each tick
        clock = bodies(pane)["summary-clock"]
        assert "Elapsed       20m05s so far" in clock and "Last checked  5s ago" in clock
        assert len(clock) < 300


async def test_a_tick_that_changes_nothing_shown_redraws_nothing() -> None:
    # Finished long ago, checked two hours ago: "2h00m ago" moves once a minute.
    task = parse_task(outputs_data(count=2))
    entry = entry_for(task, TaskRef(IdKind.TASK_ID, "order_done"), checked_ago=timedelta(hours=2))
    async with Host().run_test(size=(100, 40)) as pilot:
        pane = pilot.app.query_one(DetailPane)
        pane.show(entry, now=NOW)
        await pilot.pause()
        count, visuals = pane.render_count, body_visuals(pane)
        for tick in range(1, 6):
            pane.show(entry, now=NOW + timedelta(seconds=tick))
        assert pane.render_count == count
        assert replaced(visuals, pane) == set()
        pane.show(entry, now=NOW + timedelta(minutes=1))
        assert pane.render_count == count + 1
        assert replaced(visuals, pane) == {"detail-body-summary-clock"}


# --- the table ---------------------------------------------------------------------------------


async def test_a_huge_cell_costs_the_table_no_more_than_its_column_width() -> None:
    huge = Text("日" * HUGE_CHARS, style="bold")
    cells = [huge if column.key in ("task", "model", "prompt") else Text("x") for column in COLUMNS]

    class TableHost(App[None]):
        def compose(self) -> ComposeResult:
            yield TaskTable(COLUMNS, lambda key: cells, id="table")

    async with TableHost().run_test(size=(120, 10)) as pilot:
        grid = pilot.app.query_one(TaskTable)
        grid.set_order(["a"])
        await pilot.pause()
        grid.invalidate_all()
        tracemalloc.start()
        try:
            line = grid.render_line(1)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        # A copy of one such cell alone is 3.6 MB; measuring it took tens of MB.
        assert peak < 200_000, peak
        painted = "".join(segment.text for segment in line)
        assert painted.startswith("日日") and "…" in painted
        assert line.cell_length == grid.scrollable_content_region.width


# --- the whole app -----------------------------------------------------------------------------


@pytest.fixture
def huge_watchlist(tmp_path: Path) -> tuple[Path, list[TaskRef]]:
    """A watchlist whose snapshots hold each huge task, and a small one between them."""
    datas = [
        outputs_data(),
        {"task_id": "order_small", "status": "completed"},
        url_list_data(),
        huge_names_data(),
    ]
    refs = [
        TaskRef(IdKind.TASK_ID, ident)
        for ident in ("order_outputs", "order_small", "order_urls", "order_names")
    ]
    entries = []
    for ref, data in zip(refs, datas, strict=True):
        entry = WatchEntry(ref=ref, label=None, added_at=T0)
        entry.record(parse_task(data), T0)
        entries.append(entry)
    path = tmp_path / "watchlist.toml"
    WatchlistStore(path).save(entries)
    return path, refs


async def test_the_app_shows_huge_tasks_bounded_and_ticks_cheaply(
    app_factory: AppFactory,
    huge_watchlist: tuple[Path, list[TaskRef]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, refs = huge_watchlist
    app = app_factory(Settings(), live=False, watchlist=path)
    async with app.run_test(size=(120, 36)) as pilot:
        grid = table(app)
        await wait_for(pilot, lambda: grid.row_count == len(refs), "the rows to load")
        now = [T0 + timedelta(minutes=30)]
        monkeypatch.setattr(app.main_screen, "wall_clock", lambda: now[0])
        pane = app.query_one(DetailPane)
        expected = {
            "order_outputs": " more\n",  # "… and N more": as many as the budget holds
            "order_small": "order_small",
            "order_urls": f"image_url: ({len(URLS):,} URLs)",
            "order_names": "Out task ID   日日日",
        }
        await pilot.press("home")
        for index, ref in enumerate(refs):
            if index:
                await pilot.press("down")
            await wait_for(pilot, lambda ref=ref: pane.shown_ref == ref, f"{ref.id} shown")
            text = pane_text(app)
            assert expected[ref.id] in text
            assert len(text) < 4 * SECTION_BOUND, ref.id
        # On the 900,000-character task: ticks redraw the clock lines and nothing else.
        for _ in range(3):
            visuals = body_visuals(pane)
            now[0] += timedelta(seconds=1)
            app.main_screen.refresh_chrome()  # what the one-second tick does for the pane
            assert replaced(visuals, pane) == {"detail-body-summary-clock"}
        # The table's rows stay within the screen's width, the ID cut to its column.
        for line in table_lines(app):
            assert len(line) <= 120
        await pilot.press("up")
        await wait_for(pilot, lambda: pane.shown_ref == refs[2], "the key after to be answered")
