"""What a newcomer hit in the table's rows, the header and the detail pane (issue #18):
the Checked column, tasks the server forgot, labels that hid the ID, columns that did not
grow, the header at 80 columns, the error below the fold, copies that were not clean, and
failed tasks without an end time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from harness import T0, AppFactory, pane_text, table, table_lines
from rich.cells import cell_len
from textual.app import App, ComposeResult

from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.errors import NetworkError, TaskNotFoundError
from aireiter_tui.domain.models import IdKind, Task, TaskRef, TaskStatus, parse_task
from aireiter_tui.domain.poll_gate import SchedulerState
from aireiter_tui.domain.poller import PollOutcome
from aireiter_tui.domain.scheduler import PollScheduler
from aireiter_tui.domain.session import Counts, Row, Session
from aireiter_tui.domain.view import StatusFilter, ViewSpec, compute_order, run_seconds
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.widgets.cells import COLUMNS, refresh_note, row_cells
from aireiter_tui.ui.widgets.detail_pane import DetailPane
from aireiter_tui.ui.widgets.detail_sections import (
    error_section,
    outputs_section,
    raw_section,
    summary_head,
)
from aireiter_tui.ui.widgets.status_bar import StatusBar

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
LONG_ID = "order_lwU2d-VkUq9-tlCCmrdYu"
COLUMN = {column.key: index for index, column in enumerate(COLUMNS)}


def _task(ident: str, status: str, *, created: datetime, **data: Any) -> Task:
    return parse_task(
        {
            "task_id": ident,
            "status": status,
            "created_at": created.isoformat(),
            "input": {"model": "nano_banana", "params": {"prompt": "a dog"}},
            **data,
        }
    )


class _Clock:
    """The session's wall clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _watch(clock: _Clock, ident: str = LONG_ID) -> tuple[Session, TaskRef]:
    session = Session(None, clock)
    ref = TaskRef(IdKind.TASK_ID, ident)
    session.add([ref])
    return session, ref


def _cell(row: Row, column: str, now: datetime) -> str:
    return row_cells(row, now)[COLUMN[column]].plain


# --- 2. the Checked column ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("ago", "shown"),
    [
        (timedelta(seconds=12), "12s ago"),
        (timedelta(minutes=11, seconds=36), "11m ago"),
        (timedelta(hours=3, minutes=59), "3h ago"),
        (timedelta(days=2, hours=23), "2d ago"),
        (timedelta(days=800), "2y ago"),
    ],
)
def test_the_checked_column_shows_a_compact_age_that_fits(ago: timedelta, shown: str) -> None:
    clock = _Clock(NOW - ago)
    session, ref = _watch(clock)
    session.apply(ref, _task(ref.id, "completed", created=NOW - ago), None)
    row = session.rows[ref.key]
    assert _cell(row, "checked", NOW) == shown
    assert cell_len(shown) <= COLUMNS[COLUMN["checked"]].width


async def test_the_detail_pane_keeps_the_precise_age(app_factory: AppFactory) -> None:
    app = app_factory(Settings(), live=False, frozen_at=T0)
    async with app.run_test(size=(120, 36)) as pilot:
        ref = TaskRef(IdKind.TASK_ID, LONG_ID)
        app.monitor.add([ref])
        app.main_screen.rebuild_view()
        row = app.monitor.session.rows[ref.key]
        row.entry.checked_at = T0 - timedelta(minutes=11, seconds=36)
        app.main_screen.refresh_chrome()
        await pilot.pause()
        assert "Last checked  11m36s ago" in pane_text(app)
        assert "11m ago" in table_lines(app)[1]


# --- 5. tasks the server forgot -----------------------------------------------------------


def _forgotten(clock: _Clock) -> tuple[Session, Row]:
    """A task answered as processing (created 10 minutes before), then not found."""
    session, ref = _watch(clock)
    session.apply(ref, _task(ref.id, "processing", created=clock.now - timedelta(minutes=10)), None)
    clock.now += timedelta(seconds=5)
    session.apply(ref, None, TaskNotFoundError("Task not found"))
    return session, session.rows[ref.key]


def test_a_task_the_server_forgot_is_gone_and_not_counted_as_processing() -> None:
    clock = _Clock(NOW)
    session, row = _forgotten(clock)
    assert row.gone
    counts = session.counts()
    assert counts.by_status[TaskStatus.PROCESSING] == 0
    assert counts.gone == 1
    assert counts.errors == 1  # a failed refresh, as the errors filter finds it
    assert _cell(row, "status", clock.now) == "⊘ gone"


def test_a_task_that_comes_back_is_no_longer_gone() -> None:
    clock = _Clock(NOW)
    session, row = _forgotten(clock)
    session.apply(row.ref, _task(row.ref.id, "processing", created=NOW), None)
    assert not row.gone
    counts = session.counts()
    assert counts.by_status[TaskStatus.PROCESSING] == 1
    assert counts.gone == 0


@pytest.mark.parametrize(
    ("task_status", "error"),
    [
        (None, TaskNotFoundError("Task not found")),  # a new ID: never answered
        ("processing", NetworkError("connection reset")),  # another failure: still running
        ("completed", TaskNotFoundError("Task not found")),  # finished: its outcome stays
    ],
)
def test_only_a_known_unfinished_task_that_is_not_found_is_gone(
    task_status: str | None, error: Exception
) -> None:
    clock = _Clock(NOW)
    session, ref = _watch(clock)
    if task_status is not None:
        session.apply(ref, _task(ref.id, task_status, created=NOW), None)
    assert isinstance(error, NetworkError | TaskNotFoundError)
    session.apply(ref, None, error)
    row = session.rows[ref.key]
    assert not row.gone
    assert session.counts().gone == 0


def test_a_gone_task_has_its_clock_stopped_at_its_last_answer() -> None:
    clock = _Clock(NOW)
    _, row = _forgotten(clock)
    # Created 10 minutes before the last answer (NOW); the not-found came 5 s later.
    for later in (timedelta(0), timedelta(hours=5)):
        assert run_seconds(row, clock.now + later) == 600
        assert _cell(row, "time", clock.now + later) == "10m00s"


def test_the_status_filter_finds_gone_tasks_and_no_other_status_claims_them() -> None:
    clock = _Clock(NOW)
    session, row = _forgotten(clock)
    other = TaskRef(IdKind.TASK_ID, "order_still_running")
    session.add([other])
    session.apply(other, _task(other.id, "processing", created=NOW), None)

    def shown(status: StatusFilter) -> list[str]:
        return compute_order(session.rows.items(), ViewSpec(status=status), NOW)

    assert StatusFilter.GONE in list(StatusFilter)  # the f key cycles through every member
    assert shown(StatusFilter.GONE) == [row.ref.key]
    assert shown(StatusFilter.PROCESSING) == [other.key]
    assert shown(StatusFilter.ACTIVE) == [other.key]
    assert shown(StatusFilter.ERRORS) == [row.ref.key]


def _not_found_delays(scheduler: PollScheduler, ref: TaskRef, times: int) -> list[float]:
    delays = []
    now = 0.0
    for _ in range(times):
        due = scheduler.next_due(ref)
        assert due is not None, "a task not found must stay scheduled"
        now = due
        assert scheduler.due(now) == [ref]
        scheduler.on_error(ref, TaskNotFoundError("Task not found"), now)
        next_due = scheduler.next_due(ref)
        assert next_due is not None, "a task not found must stay scheduled"
        delays.append(next_due - now)
    return delays


def test_a_gone_task_is_polled_more_and_more_rarely_but_never_given_up() -> None:
    scheduler = PollScheduler(jitter=0.0, interval=5, slow_interval=30, backoff_max=300)
    known = TaskRef(IdKind.TASK_ID, "order_known")
    scheduler.track(known, None, 0.0)
    assert scheduler.due(0.0) == [known]
    scheduler.on_success(known, _task(known.id, "processing", created=NOW), 0.0)
    delays = _not_found_delays(scheduler, known, 10)
    assert min(delays) >= 30  # never faster than the slow interval
    assert delays == sorted(delays) and delays[-1] == 300  # then rarer, up to the cap

    # A new ID not found yet (just submitted, perhaps) keeps the slow interval.
    new = TaskRef(IdKind.TASK_ID, "order_new")
    scheduler.track(new, None, 0.0)
    assert _not_found_delays(scheduler, new, 10) == [30.0] * 10


def test_the_hint_for_a_forgotten_task_does_not_blame_the_id_kind() -> None:
    clock = _Clock(NOW)
    _, row = _forgotten(clock)
    note = refresh_note(row)
    assert note is not None
    assert "out_task_id" not in note.plain and "no longer knows" in note.plain
    # A new ID that was never found: checking the kind is the right advice.
    session, ref = _watch(clock, "order_typo")
    session.apply(ref, None, TaskNotFoundError("Task not found"))
    new_note = refresh_note(session.rows[ref.key])
    assert new_note is not None and "add it again as out_task_id" in new_note.plain


async def test_the_pane_agrees_with_the_table_on_a_new_id_not_found(
    app_factory: AppFactory,
) -> None:
    app = app_factory(Settings(), live=False, frozen_at=T0)
    async with app.run_test(size=(120, 36)) as pilot:
        ref = TaskRef(IdKind.TASK_ID, "order_typo")
        app.monitor.add([ref])
        app.monitor.record(PollOutcome(ref, None, TaskNotFoundError("Task not found")))
        app.main_screen.apply_changes()
        await pilot.pause()
        assert "⚠ not found" in table_lines(app)[1]
        text = pane_text(app)
        assert "No answer" not in text
        assert "⚠ not found" in text and "Not found: the server does not know this ID" in text
        assert "add it again as out_task_id" in text  # the hint about ID kinds stays


async def test_a_gone_task_reads_as_gone_in_the_table_the_pane_and_the_header(
    app_factory: AppFactory,
) -> None:
    app = app_factory(Settings(), live=False, frozen_at=T0)
    async with app.run_test(size=(120, 36)) as pilot:
        ref = TaskRef(IdKind.TASK_ID, LONG_ID)
        app.monitor.add([ref])
        task = _task(ref.id, "processing", created=T0 - timedelta(minutes=3))
        app.monitor.record(PollOutcome(ref, task, None))
        app.monitor.record(PollOutcome(ref, None, TaskNotFoundError("Task not found")))
        app.main_screen.apply_changes()
        await pilot.pause()
        line = table_lines(app)[1]
        assert "⊘ gone" in line and "processing" not in line
        text = pane_text(app)
        assert "no longer known to the server" in text and "Elapsed" not in text
        assert "Ran           3m00s until its last answer" in text
        bar = str(app.main_screen.query_one(StatusBar).render())
        assert "◐ 0 processing" in bar and "⊘ 1 gone" in bar


# --- 6. labels and IDs in the Task column ---------------------------------------------------


def _painted_row(app: AIReiterApp, ident: str) -> str:
    lines = [line for line in table_lines(app)[1:] if ident[-5:] in line]
    assert lines, f"the tail of {ident} is on no painted row: {table_lines(app)}"
    return lines[0]


async def test_a_labelled_row_shows_the_label_and_both_ends_of_its_id(
    app_factory: AppFactory,
) -> None:
    app = app_factory(Settings(), live=False, frozen_at=T0)
    async with app.run_test(size=(80, 24)) as pilot:
        ref = TaskRef(IdKind.TASK_ID, LONG_ID)
        app.monitor.add([ref], label="夕暮れ hero 🎬 shot")
        app.main_screen.rebuild_view()
        await pilot.pause()
        line = _painted_row(app, LONG_ID)
        assert line.startswith("夕暮")
        assert "order_" in line and LONG_ID[-6:] in line


async def test_a_long_id_is_cut_in_the_middle_keeping_italics_and_escapes(
    app_factory: AppFactory,
) -> None:
    out_id = "batch-2026-01-02-campaign-spring-hero-shot-0042"
    hidden = "order_\u200bpadding-padding-padding-7777"
    app = app_factory(Settings(), live=False, frozen_at=T0)
    async with app.run_test(size=(80, 24)) as pilot:
        app.monitor.add([TaskRef(IdKind.OUT_TASK_ID, out_id), TaskRef(IdKind.TASK_ID, hidden)])
        app.main_screen.rebuild_view()
        await pilot.pause()
        task_table = table(app)
        width = task_table._column_layout()[0][2]
        out_line = _painted_row(app, out_id)
        assert out_line.startswith(out_id[:8]) and "…" in out_line[:width]
        assert out_line[:width].rstrip().endswith(out_id[-8:])
        strip = task_table.render_line(1)
        italic = "".join(seg.text for seg in strip if seg.style and seg.style.italic)
        assert out_id[:8] in italic and out_id[-8:] in italic
        # The escape of the zero-width space shows (cut or whole): this ID does not read
        # like "order_padding-…".
        hidden_line = _painted_row(app, hidden)
        assert hidden_line.startswith("order_⟨U+200")


def test_a_cut_that_takes_an_escape_away_highlights_the_ellipsis() -> None:
    clock = _Clock(NOW)
    session, ref = _watch(clock, "order_abcdefghij\u200bklmnopqrstuvwxyz0123456789")
    name = row_cells(session.rows[ref.key], NOW)[COLUMN["task"]]
    fit_cell = name.fit_cell  # type: ignore[attr-defined]
    shown = fit_cell(16)
    assert cell_len(shown.plain) <= 16 and "⟨" not in shown.plain
    ellipsis = shown.plain.index("…")
    assert any(
        span.start <= ellipsis < span.end and "reverse" in str(span.style) for span in shown.spans
    )


# --- 9. columns that grow, the header at 80 columns, the error first --------------------------


async def test_task_and_model_columns_grow_to_what_they_hold_when_there_is_room(
    app_factory: AppFactory,
) -> None:
    app = app_factory(Settings(), live=False, frozen_at=T0)
    async with app.run_test(size=(220, 50)) as pilot:
        ref = TaskRef(IdKind.TASK_ID, LONG_ID)
        app.monitor.add([ref])
        task = parse_task(
            {
                "task_id": LONG_ID,
                "status": "processing",
                "created_at": T0.isoformat(),
                "input": {"model": "nano_banana_pro", "params": {"prompt": "a dog"}},
            }
        )
        app.monitor.record(PollOutcome(ref, task, None))
        app.main_screen.apply_changes()
        await pilot.pause()
        line = _painted_row(app, LONG_ID)
        assert LONG_ID in line and "nano_banana_pro" in line
        # At 80 columns there is no room: the ID is cut in the middle instead.
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        line = _painted_row(app, LONG_ID)
        assert LONG_ID not in line and line.startswith("order_lw")


class _BarHost(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusBar()


async def test_the_header_keeps_credits_and_counts_with_words_at_80_columns() -> None:
    counts = Counts(
        by_status={
            TaskStatus.PENDING: 0,
            TaskStatus.PROCESSING: 7,
            TaskStatus.COMPLETED: 9,
            TaskStatus.FAILED: 3,
            TaskStatus.UNKNOWN: 1,
        },
        credits=2660,
        total=20,
    )
    state = SchedulerState("live", 3, 20, 4.0, "", queued=0)
    app = _BarHost()
    async with app.run_test(size=(80, 4)) as pilot:
        bar = app.query_one(StatusBar)
        where = "demo simulator http://127.0.0.1:41481"
        bar.show(where=where, counts=counts, state=state, mode="live")
        await pilot.pause()
        first, second = str(bar.render()).split("\n")
        room = bar.content_region.width
        assert cell_len(first) <= room and cell_len(second) <= room, (first, second)
        assert "● live" in first and "2,660 credits" in first
        assert not first.rstrip().endswith("…")  # nothing cut mid-word
        for words in ("20 watched", "◐ 7 processing", "✔ 9 completed", "✖ 3 failed"):
            assert words in second, (words, second)
        # Wide enough, nothing is left out.
        await pilot.resize_terminal(200, 4)
        await pilot.pause()
        first, second = str(bar.render()).split("\n")
        assert "aireiter-tui" in first and "next refresh in 4s" in first
        assert "2,660 credits used" in first and "◌ 0 pending" in second
        # Every kind of count at once, at 80 columns: the words that call for action stay
        # longest.
        await pilot.resize_terminal(80, 4)
        crowded = Counts(
            by_status={
                TaskStatus.PENDING: 4,
                TaskStatus.PROCESSING: 3,
                TaskStatus.COMPLETED: 9,
                TaskStatus.FAILED: 3,
                TaskStatus.UNKNOWN: 1,
            },
            unfetched=1,
            errors=1,
            credits=2360,
            total=21,
            gone=2,
        )
        bar.show(where=where, counts=crowded, state=state, mode="live")
        await pilot.pause()
        second = str(bar.render()).split("\n")[1]
        assert cell_len(second) <= room, second
        for words in ("✖ 3 failed", "⊘ 2 gone", "⚠ 1 error", "◌ 4", "◐ 3", "✔ 9"):
            assert words in second, (words, second)


async def test_a_failed_tasks_error_is_in_view_first_at_80x24(app_factory: AppFactory) -> None:
    app = app_factory(Settings(), live=False, frozen_at=T0)
    async with app.run_test(size=(80, 24)) as pilot:
        ref = TaskRef(IdKind.TASK_ID, LONG_ID)
        app.monitor.add([ref])
        task = _task(
            ref.id,
            "failed",
            created=T0 - timedelta(minutes=1),
            error={"code": "CONTENT_POLICY", "message": "The prompt was rejected."},
        )
        app.monitor.record(PollOutcome(ref, task, None))
        app.main_screen.apply_changes()
        await pilot.pause()
        pane = app.query_one(DetailPane)
        error = pane.query_one("#detail-body-error")
        summary = pane.query_one("#detail-heading-summary")
        assert error.region.y < summary.region.y
        assert pane.region.y <= error.region.y < pane.region.bottom  # visible unscrolled
        assert "The prompt was rejected." in str(error.render())


# --- 11. clean copies from the detail pane ---------------------------------------------------


HOSTILE_STRINGS = {
    "zero width": "a\u200bb",
    "bidi": "\u202egpj.exe",
    "delete and c1": "x\x7f\x9by",
    "lone surrogate": "\ud800",
    "emoji presentation": "\u2764\ufe0f and 👍🏽",
    "line separator": "one\u2028two",
    "cjk": "夕暮れの京都",
}


def test_outputs_and_url_lists_have_no_invisible_spacers() -> None:
    task = _task(
        LONG_ID,
        "completed",
        created=NOW,
        output=[{"url": "https://cdn.example/a.png"}, {"url": "https://cdn.example/b.mp4"}],
    )
    section = outputs_section(task)
    assert section is not None
    assert "\u2800" not in section.plain
    assert section.plain.splitlines()[0] == "1. image  https://cdn.example/a.png"


def test_the_raw_response_as_shown_parses_back_to_the_response() -> None:
    data = {
        "task_id": LONG_ID,
        "status": "failed",
        "created_at": NOW.isoformat(),
        "input": {"model": "nano_banana", "params": HOSTILE_STRINGS},
        "error": {"message": "bad \u202einput", "detail": HOSTILE_STRINGS},
    }
    task = parse_task(data)
    raw = raw_section(task)
    assert raw is not None
    assert json.loads(raw.plain) == data
    error = error_section(task)
    assert error is not None
    assert json.loads(error.plain.split("\n\n", 1)[1]) == data["error"]


# --- 13. when a failed task failed -----------------------------------------------------------


def test_a_failed_task_shows_when_the_failure_was_seen_and_the_time_until_then() -> None:
    clock = _Clock(NOW)
    session, ref = _watch(clock)
    created = NOW - timedelta(minutes=2)
    session.apply(ref, _task(ref.id, "processing", created=created), None)
    clock.now = NOW + timedelta(seconds=35)
    session.apply(ref, _task(ref.id, "failed", created=created, error="boom"), None)
    row = session.rows[ref.key]
    for later in (timedelta(0), timedelta(days=3)):  # frozen, not growing
        assert _cell(row, "time", clock.now + later) == "2m35s"
    head = summary_head(row.entry, NOW, stale=False).plain
    assert "Failed        2026-01-02 12:00:35 UTC  (first seen)" in head
    assert "Duration      2m35s" in head


def test_a_task_first_seen_already_failed_shows_an_upper_bound() -> None:
    clock = _Clock(NOW)
    session, ref = _watch(clock)
    created = NOW - timedelta(hours=1)
    session.apply(ref, _task(ref.id, "failed", created=created, error="boom"), None)
    row = session.rows[ref.key]
    assert _cell(row, "time", NOW + timedelta(hours=2)) == "≤1h00m"
    head = summary_head(row.entry, NOW, stale=False).plain
    assert "Failed        2026-01-02 12:00:00 UTC  (at the first check)" in head
    assert "Duration      ≤ 1h00m" in head


def test_the_help_legend_explains_the_gone_symbol() -> None:
    from aireiter_tui.ui.screens.help import status_legend

    assert "⊘ gone: the server answered for it before" in status_legend().plain
