"""The insight figures (domain/insight.py) on hand-built histories, against figures
computed by hand."""

from __future__ import annotations

import math
import threading
from bisect import bisect_right
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aireiter_tui.domain.insight import (
    MIN_FINISHED,
    BudgetAlarm,
    LiveFigures,
    Window,
    budget_shares,
    notification,
    percentile,
    report,
)
from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.view import StatusFilter, ViewSpec, compute_order
from aireiter_tui.domain.watchlist_codec import StatusChange, WatchEntry

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def entry(
    ident: str,
    model: str,
    status: str,
    *,
    created: datetime,
    took: float | None = None,
    credits: float | None = None,
) -> WatchEntry:
    """A watched task as a poll would leave it: completed ones carry ``completed_at``
    (created + ``took`` seconds); failed ones have only their history's last change."""
    raw: dict[str, object] = {
        "task_id": ident,
        "status": status,
        "created_at": created.isoformat(),
        "input": {"model": model, "params": {}},
    }
    if credits is not None:
        raw["credits_used"] = credits
    if status == "completed" and took is not None:
        raw["completed_at"] = (created + timedelta(seconds=took)).isoformat()
    task = parse_task(raw)
    history = [StatusChange("processing", created)]
    if status == "failed" and took is not None:
        history.append(StatusChange("failed", created + timedelta(seconds=took)))
    return WatchEntry(
        ref=TaskRef(IdKind.TASK_ID, ident),
        label=None,
        added_at=created,
        task=task,
        checked_at=NOW,
        history=history,
    )


def seeded() -> list[WatchEntry]:
    """Model "fast": 6 completed today (10..60 s, 2 credits each), 1 failed, 1 running;
    model "slow": 2 completed 3 days ago (100 s and 300 s, 10 credits each); one task of
    "fast" from 20 days ago (50 credits)."""
    today = NOW - timedelta(hours=2)
    entries = [
        entry(f"f{n}", "fast", "completed", created=today, took=10.0 * n, credits=2)
        for n in range(1, 7)
    ]
    entries.append(entry("ffail", "fast", "failed", created=today, took=5))
    entries.append(entry("frun", "fast", "processing", created=NOW - timedelta(seconds=25)))
    three_days = NOW - timedelta(days=3)
    entries.append(entry("s1", "slow", "completed", created=three_days, took=100, credits=10))
    entries.append(entry("s2", "slow", "completed", created=three_days, took=300, credits=10))
    entries.append(
        entry("old", "fast", "completed", created=NOW - timedelta(days=20), took=70, credits=50)
    )
    return entries


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([10, 20, 30, 40], 0.5) == 25
    # p95 of 10..60: rank 0.95 * 5 = 4.75 -> 50 + 0.75 * 10
    assert percentile([10, 20, 30, 40, 50, 60], 0.95) == pytest.approx(57.5)
    assert percentile([], 0.5) is None
    # Of the values from index 2 on (30, 40): their median, no copy.
    assert percentile([10, 20, 30, 40], 0.5, 2) == 35


def test_per_model_credits_durations_and_failure_rate_by_hand() -> None:
    figures = report(seeded(), NOW, Window.ALL)
    by_model = {m.model: m for m in figures.models}
    fast, slow = by_model["fast"], by_model["slow"]
    # fast: 6 x 2 credits today + 50 twenty days ago
    assert fast.credits == 62
    assert (fast.tasks, fast.completed, fast.failed, fast.active) == (9, 7, 1, 1)
    # durations 10, 20, 30, 40, 50, 60, 70: median 40; p95 rank 5.7 -> 60 + 0.7 * 10
    assert fast.median == 40
    assert fast.p95 == pytest.approx(67.0)
    assert fast.failure_rate == pytest.approx(1 / 8)
    assert slow.credits == 20
    assert slow.median == 200  # (100 + 300) / 2
    assert slow.p95 == pytest.approx(290.0)  # 100 + 0.95 * 200
    assert slow.failure_rate == 0
    # Most credits first.
    assert [m.model for m in figures.models] == ["fast", "slow"]
    assert figures.credits == 82
    assert figures.credits_today == 12
    assert figures.credits_month == 32  # March: today's 12 + slow's 20 (the 50 was February)


def test_windows_cover_today_and_seven_days() -> None:
    today = report(seeded(), NOW, Window.TODAY)
    assert {m.model: m.credits for m in today.models} == {"fast": 12}
    assert today.days == (NOW.date(),)
    week = report(seeded(), NOW, Window.WEEK)
    assert {m.model: m.credits for m in week.models} == {"fast": 12, "slow": 20}
    assert len(week.days) == 7
    slow = next(m for m in week.models if m.model == "slow")
    # 20 credits on the day three days back, the 4th of the 7 days.
    assert slow.daily == (0, 0, 0, 20, 0, 0, 0)


def test_throughput_counts_finished_tasks_per_minute_of_the_last_hour() -> None:
    # Everything of "today" was created 2 h ago and finished within 70 s: outside the hour.
    entries = [
        entry("a", "m", "completed", created=NOW - timedelta(seconds=200), took=100),
        entry("b", "m", "completed", created=NOW - timedelta(seconds=200), took=110),
        entry("c", "m", "failed", created=NOW - timedelta(seconds=30), took=10),
    ]
    buckets = report(entries, NOW).throughput
    assert len(buckets) == 60 and sum(buckets) == 3
    # a and b ended 100 and 90 s ago: minute 1 back; c ended 20 s ago: this minute.
    assert buckets[-2:] == (2, 1)


def live(entries: list[WatchEntry], **limits: float) -> LiveFigures:
    figures = LiveFigures(limits)
    figures.sync((e.ref.key, e, False) for e in entries)
    return figures


def test_eta_is_the_median_remaining_time_given_the_age() -> None:
    figures = live(seeded())
    # frun (fast) is 25 s old; fast's completed durations longer than 25 s: 30..70,
    # median 50, so 25 s left.
    eta = figures.estimate("task_id:frun", NOW)
    assert eta is not None and eta.seconds == pytest.approx(25.0)
    # Ten seconds later: durations over 35 s are 40..70, median 55: 20 s left.
    later = figures.estimate("task_id:frun", NOW + timedelta(seconds=10))
    assert later is not None and later.seconds == pytest.approx(20.0)
    # A finished task has no ETA at all.
    assert figures.estimate("task_id:f1", NOW) is None


def test_no_estimate_below_five_finished_tasks() -> None:
    entries = [
        entry(f"s{n}", "slow", "completed", created=NOW - timedelta(days=1), took=100)
        for n in range(MIN_FINISHED - 1)
    ]
    entries.append(entry("run", "slow", "pending", created=NOW - timedelta(seconds=5)))
    figures = live(entries)
    eta = figures.estimate("task_id:run", NOW)
    assert eta is not None and eta.seconds is None and eta.reason == "no estimate"
    # The fifth finished one makes an estimate.
    fifth = entry("s9", "slow", "completed", created=NOW - timedelta(days=1), took=100)
    figures.update(fifth.ref.key, fifth)
    eta = figures.estimate("task_id:run", NOW)
    assert eta is not None and eta.seconds == pytest.approx(95.0)


def test_outlook_is_the_last_expected_finish_of_the_active_set() -> None:
    entries = seeded()
    entries.append(entry("srun", "slow", "processing", created=NOW - timedelta(seconds=5)))
    outlook = live(entries).outlook(NOW)
    # frun: 25 s left; srun: slow has 2 finished tasks, no estimate.
    assert (outlook.active, outlook.seconds, outlook.without_estimate) == (2, 25.0, 1)


def test_updates_replace_a_rows_old_contribution() -> None:
    entries = seeded()
    figures = live(entries)
    assert figures.finished("fast") == 7
    # f6 removed: its 60 s leaves the durations; p95 of 10..50, 70: rank 0.95 * 5 = 4.75
    figures.update("task_id:f6", None)
    assert figures.finished("fast") == 6
    assert figures.p95("fast") == pytest.approx(50 + 0.75 * 20)
    # The running one completes after 45 s: it counts, and has no ETA any more.
    done = entry("frun", "fast", "completed", created=NOW - timedelta(seconds=45), took=45)
    figures.update(done.ref.key, done)
    assert figures.finished("fast") == 7
    assert figures.estimate("task_id:frun", NOW) is None
    assert figures.outlook(NOW).active == 0


def test_a_task_past_its_models_p95_is_stuck_marked_once_and_filtered() -> None:
    entries = seeded()
    entries.append(entry("hung", "fast", "processing", created=NOW - timedelta(seconds=68)))
    figures = live(entries)
    # fast's p95 is 67 s: 68 s is past it, frun's 25 s is not.
    assert figures.stuck("task_id:hung", NOW)
    assert not figures.stuck("task_id:frun", NOW)
    assert figures.newly_stuck(NOW) == ["task_id:hung"]
    assert figures.newly_stuck(NOW + timedelta(seconds=5)) == []  # announced once
    rows = [(e.ref.key, _RowLike(e)) for e in entries]
    order = compute_order(
        rows, ViewSpec(status=StatusFilter.STUCK), NOW, stuck=lambda key: figures.stuck(key, NOW)
    )
    assert order == ["task_id:hung"]


def test_a_configured_limit_beats_the_history() -> None:
    entries = seeded()
    # "slow" has 2 finished tasks: no p95, so never stuck by its history...
    entries.append(entry("srun", "slow", "processing", created=NOW - timedelta(seconds=400)))
    assert not live(entries).stuck("task_id:srun", NOW)
    # ...but past a configured limit it is; "*" applies to every model.
    assert live(entries, slow=300).stuck("task_id:srun", NOW)
    assert live(entries, **{"*": 20}).stuck("task_id:frun", NOW)


def test_budget_warns_at_80_and_100_percent_once_per_day() -> None:
    alarm = BudgetAlarm()
    assert alarm.crossed(budget_shares(79, 79, 100, None), NOW) == []
    crossed = alarm.crossed(budget_shares(80, 80, 100, None), NOW)
    assert [(s.period, s.level) for s in crossed] == [("day", 80)]
    assert alarm.crossed(budget_shares(90, 90, 100, None), NOW) == []  # said already
    crossed = alarm.crossed(budget_shares(100, 100, 100, 1000), NOW)
    assert [(s.period, s.level) for s in crossed] == [("day", 100)]
    # The next day starts again.
    crossed = alarm.crossed(budget_shares(85, 185, 100, 1000), NOW + timedelta(days=1))
    assert [(s.period, s.level) for s in crossed] == [("day", 80)]


def test_live_credits_per_day_and_month() -> None:
    figures = live(seeded())
    assert figures.credits_on(NOW.date()) == 12
    assert figures.credits_in_month(NOW.date()) == 32


def test_notifications_are_one_printable_line() -> None:
    assert notification("off", "t", "b") == ""
    assert notification("osc9", "Done", "hero") == "\x1b]9;Done: hero\x07"
    hostile = notification("osc777", "Fa;iled", "a\x07b\x1b]9;x\nc")
    assert hostile.startswith("\x1b]777;notify;Fa,iled;")
    body = hostile[len("\x1b]777;notify;Fa,iled;") : -1]
    assert "\x07" not in body and "\x1b" not in body and "\n" not in body and ";" not in body


class _RowLike:
    """What compute_order needs of a row, from an entry."""

    def __init__(self, entry: WatchEntry) -> None:
        self.entry = entry
        self.ref = entry.ref
        self.label = entry.label
        self.task = entry.task
        self.stale = False
        self.added_at = entry.added_at
        self.checked_at = entry.checked_at
        self.gone = False
        self.ended_at = None


def test_stats_json_prints_the_per_model_figures(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    from aireiter_tui.cli import main
    from aireiter_tui.domain.watchlist import WatchlistStore

    path = tmp_path / "watchlist.toml"
    WatchlistStore(path).save(seeded(), frozenset())
    config = tmp_path / "none.toml"
    assert main(["stats", "--json", "--watchlist", str(path), "--config", str(config)]) == 0
    figures = json.loads(capsys.readouterr().out)
    by_model = {m["model"]: m for m in figures["models"]}
    assert figures["window"] == "all" and figures["credits"] == 82
    assert by_model["fast"]["median_seconds"] == 40
    assert by_model["fast"]["p95_seconds"] == pytest.approx(67.0)
    assert by_model["fast"]["failure_rate"] == pytest.approx(0.125)
    assert by_model["slow"]["median_seconds"] == 200
    assert main(["stats", "--since", "3d", "--watchlist", str(path)]) == 2


def test_request_tally_counts_the_last_minute_and_429s() -> None:
    from aireiter_tui.domain.poll_gate import RequestTally

    tally = RequestTally()
    for second in (0.0, 10.0, 59.0):
        tally.sent(second)
    tally.rate_limited(30.0)
    assert tally.last_minute(59.5) == 3
    assert tally.last_minute(65.0) == 2  # the query at 0 s is more than a minute old
    assert tally.limited_last_minute(65.0) == 1
    assert tally.limited_last_minute(95.0) == 0 and tally.rate_limited_total == 1


def test_status_bar_shows_eta_budget_and_requests() -> None:
    from aireiter_tui.domain.insight import Outlook, Summary, budget_shares
    from aireiter_tui.domain.session import Counts
    from aireiter_tui.ui.widgets.status_bar import second_line

    summary = Summary(Outlook(37, 240.0, 0), tuple(budget_shares(82, 82, 100, None)), 12, 3)
    line = second_line(Counts(total=40), summary, None).plain
    assert "≈ 4m00s for 37 active" in line
    assert "budget 82 % today" in line
    assert "12 req/min, 3 HTTP 429" in line
    # Narrow: the request figures go first, the ETA stays.
    narrow = second_line(Counts(total=40), summary, 60).plain
    assert "≈ 4m00s for 37 active" in narrow and "req/min" not in narrow


def test_the_counts_keep_their_words_before_the_insight_parts_at_80_columns() -> None:
    """At 80x24 the ETA and the request rate used to take the room of the counts' words
    (`◐ 3` instead of `◐ 3 processing`)."""
    from aireiter_tui.domain.insight import Outlook, Summary
    from aireiter_tui.domain.models import TaskStatus
    from aireiter_tui.domain.session import Counts
    from aireiter_tui.ui.widgets.status_bar import second_line

    by_status = {
        TaskStatus.PENDING: 4,
        TaskStatus.PROCESSING: 3,
        TaskStatus.COMPLETED: 9,
        TaskStatus.FAILED: 3,
    }
    counts = Counts(by_status=by_status, total=19, errors=1)
    summary = Summary(Outlook(7, None, 7), (), 0, 0)
    line = second_line(counts, summary, 78).plain
    assert "◐ 3 processing" in line and "✖ 3 failed" in line and "1 error" in line
    assert len(line) <= 78
    # With room to spare the extras follow the counts, the most wanted first.
    wide = second_line(counts, summary, 200).plain
    assert wide.endswith("no ETA for 7 active  0 req/min")


@given(
    finished=st.lists(st.integers(1, 600), max_size=12),
    running=st.lists(st.integers(0, 900), max_size=12),
    limit=st.none() | st.integers(1, 700),
    gone=st.sets(st.integers(0, 11)),
)
def test_the_outlook_and_the_stuck_rows_are_those_of_each_task_alone(
    finished: list[int], running: list[int], limit: int | None, gone: set[int]
) -> None:
    """The outlook and the stuck check take whole spans of ages at once; the answer is
    the one asked task by task (:meth:`LiveFigures.estimate_for`, age over the limit)."""
    figures = LiveFigures({"m": limit} if limit is not None else {})
    for number, took in enumerate(finished):
        done = entry(f"done{number}", "m", "completed", created=NOW - timedelta(hours=2), took=took)
        figures.update(done.ref.key, done)
    for number, age in enumerate(running):
        task = entry(f"run{number}", "m", "processing", created=NOW - timedelta(seconds=age))
        figures.update(task.ref.key, task, gone=number in gone)
    ages = {f"task_id:run{number}": age for number, age in enumerate(running) if number not in gone}
    guesses = [figures.estimate_for("m", age).seconds for age in ages.values()]
    known = [guess for guess in guesses if guess is not None]
    outlook = figures.outlook(NOW)
    assert outlook.active == len(ages)
    assert outlook.without_estimate == len(guesses) - len(known)
    assert outlook.seconds == (pytest.approx(max(known)) if known else None)
    threshold = figures.limit("m")
    expected = [key for key, age in ages.items() if threshold is not None and age > threshold]
    assert figures.stuck_keys(NOW) == expected


def test_a_finished_duration_one_ulp_above_a_running_age_ends_the_outlook() -> None:
    """moment - duration rounds back to the running task's own start: the walk over the
    running tasks must still move on (it once took the same task again, for ever, with
    the dashboard frozen in the middle of a first pass over 100,000 tasks)."""
    since, moment = 1764913436.4244113, 1764913521.167785  # (found by a search)
    duration = math.nextafter(moment - since, math.inf)
    assert bisect_right([since], moment - duration) == 1  # the rounding this is about
    figures = LiveFigures()
    model = figures._models["m"]
    model.durations = sorted([duration, duration + 1, duration + 2, duration + 3, duration + 4])
    model.running = [(since - 50.0, "task_id:older"), (since, "task_id:younger")]
    assert len(model.durations) >= MIN_FINISHED
    worked: list[object] = []
    walk = threading.Thread(target=lambda: worked.append(figures._work_out(moment)), daemon=True)
    walk.start()
    walk.join(timeout=10)
    assert worked, "the outlook never came back"
