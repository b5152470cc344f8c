"""The visible order kept up to date a batch at a time (LiveOrder) gives the order that
compute_order gives from scratch, whatever the batches, filters and sorts."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import SIZE, AppFactory, table, table_lines
from hypothesis import given, settings
from hypothesis import strategies as st

from aireiter_tui.domain import view
from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.errors import NetworkError, TaskNotFoundError
from aireiter_tui.domain.models import IdKind, Task, TaskRef, parse_task
from aireiter_tui.domain.poller import PollOutcome
from aireiter_tui.domain.session import Row, Session
from aireiter_tui.domain.view import LiveOrder, SortKey, StatusFilter, ViewSpec, compute_order
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry
from aireiter_tui.ui.main_screen import VOLATILE_REFRESH

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
STATUSES = ("pending", "processing", "completed", "failed", "queued_for_review")
LABELS = (None, "dogs", "boat", "Dogs")
MODELS = ("nano_banana", "veo3_1_fast", "")
PROMPTS = ("a red fox", "a paper boat", "", "dog")


def _task(ident: str, status: str, credits: float, model: str, prompt: str, age: int) -> Task:
    task = parse_task(
        {
            "task_id": ident,
            "status": status,
            "created_at": (NOW - timedelta(seconds=age)).isoformat(),
            "credits_used": credits,
            "output": {"images": ["https://example.test/a.png"] * (age % 3)},
            "input": {"model": model, "params": {"prompt": prompt}},
        }
    )
    assert isinstance(task, Task)
    return task


def _ref(number: int) -> TaskRef:
    return TaskRef(IdKind.TASK_ID if number % 2 else IdKind.OUT_TASK_ID, f"t{number:03d}")


#: One edit of a batch: what it does, which row (an index into the rows, wrapped), values.
edits = st.one_of(
    st.tuples(
        st.just("answer"),
        st.integers(0, 99),
        st.sampled_from(STATUSES),
        st.sampled_from((0.0, 5.0, 12.5, math.nan)),
        st.sampled_from(MODELS),
        st.sampled_from(PROMPTS),
        st.integers(0, 5),
    ),
    st.tuples(st.just("error"), st.integers(0, 99), st.booleans()),
    st.tuples(st.just("label"), st.integers(0, 99), st.sampled_from(LABELS)),
    st.tuples(st.just("add"), st.integers(1, 4), st.sampled_from(LABELS)),
    st.tuples(st.just("remove"), st.integers(0, 99), st.integers(1, 3)),
    st.tuples(st.just("undo")),
)
specs = st.builds(
    ViewSpec,
    text=st.sampled_from(("", "dog", "BOAT", "t00", "veo")),
    status=st.sampled_from(list(StatusFilter)),
    sort=st.sampled_from(list(SortKey)),
    reverse=st.booleans(),
)


class _Batches:
    """A session edited as the monitor edits it, collecting what a batch reports."""

    def __init__(self, rows: int) -> None:
        self.session = Session(None, lambda: NOW)
        self.next = 0
        self.removed: list[tuple[list[Row], dict[str, int]]] = []
        self.updated: set[str] = set()
        self.reordered = False
        self.add(rows, None)
        self.take()

    def add(self, count: int, label: str | None) -> None:
        refs = [_ref(self.next + i) for i in range(count)]
        self.next += count
        self.reordered = self.reordered or bool(self.session.add(refs, label))

    def take(self) -> tuple[set[str], bool]:
        taken = (self.updated, self.reordered)
        self.updated, self.reordered = set(), False
        return taken

    def edit(self, edit: tuple[object, ...]) -> None:
        keys = list(self.session.rows)
        what = edit[0]
        if what == "add":
            self.add(edit[1], edit[2])  # type: ignore[arg-type]
            return
        if what == "undo":
            if self.removed:
                rows, positions = self.removed.pop()
                self.session.restore(rows, positions)
                self.reordered = True
            return
        if not keys:
            return
        key = keys[edit[1] % len(keys)]  # type: ignore[operator]
        row = self.session.rows[key]
        if what == "answer":
            _, _, status, credits, model, prompt, age = edit
            task = _task(row.ref.id, status, credits, model, prompt, 60 * (1 + age))  # type: ignore[arg-type, operator]
            changed, _ = self.session.apply(row.ref, task, None)
        elif what == "error":
            error = TaskNotFoundError("gone") if edit[2] else NetworkError("down")
            changed, _ = self.session.apply(row.ref, None, error)
        elif what == "label":
            changed = self.session.set_label(key, edit[2])  # type: ignore[arg-type]
        else:
            start = edit[1] % len(keys)  # type: ignore[operator]
            chosen = keys[start : start + edit[2]]  # type: ignore[operator]
            positions = self.session.positions(chosen)
            self.removed.append((self.session.remove(chosen), positions))
            self.reordered = True
            return
        if changed:
            self.updated.add(key)


def _stuck(session: Session):  # type: ignore[no-untyped-def]
    # Any function of a row's own data will do: the view cannot tell the difference.
    def stuck(key: str) -> bool:
        task = session.rows[key].task
        return task is not None and task.status.is_active and (task.credits_used or 0) < 1

    return stuck


def _eta(session: Session):  # type: ignore[no-untyped-def]
    def eta(key: str) -> float | None:
        task = session.rows[key].task
        if task is None or not task.status.is_active:
            return None
        return math.inf if task.model == "" else float(len(task.prompt or ""))

    return eta


@pytest.mark.parametrize("bulk", [view._BULK, 0], ids=["bisect", "one-sort"])
@settings(max_examples=300, deadline=None)
@given(
    spec=specs,
    rows=st.integers(0, 12),
    batches=st.lists(st.lists(edits, max_size=8), max_size=6),
    typed=st.lists(st.sampled_from(("", "o", "0", "G")), max_size=6),
    logged=st.booleans(),
)
def test_batches_applied_one_by_one_give_the_order_computed_from_scratch(
    bulk: int,
    spec: ViewSpec,
    rows: int,
    batches: list[list[tuple[object, ...]]],
    typed: list[str],
    logged: bool,
) -> None:
    """Both ways of placing a batch's rows: a bisection each, or one sort (big batches);
    after each batch, a character may be typed into the text filter (or deleted: "").
    ``logged``: the rows added at the end are read from the session's append log."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(view, "_BULK", bulk)
        _check_batches(spec, rows, batches, typed, logged=logged)


def _check_batches(
    spec: ViewSpec,
    rows: int,
    batches: list[list[tuple[object, ...]]],
    typed: list[str],
    *,
    logged: bool = False,
) -> None:
    edited = _Batches(rows)
    session = edited.session
    stuck, eta = _stuck(session), _eta(session)
    log = session.appended if logged else None
    order = LiveOrder()
    order.rebuild(session.rows, spec, NOW, stuck=stuck, eta=eta, log=log)
    for batch in batches:
        for edit in batch:
            edited.edit(edit)
        updated, reordered = edited.take()
        order.apply(updated, reordered=reordered)
        if typed:
            char = typed.pop()
            spec = replace(spec, text=spec.text + char if char else spec.text[:-1])
            order.rebuild(session.rows, spec, NOW, stuck=stuck, eta=eta, log=log)
        expected = compute_order(session.rows.items(), spec, NOW, stuck=stuck, eta=eta)
        assert list(order) == expected
        assert [order[i] for i in range(len(order))] == expected
        assert all(order.index_of(key) == i for i, key in enumerate(expected))
        hidden = session.rows.keys() - set(expected)
        assert all(order.index_of(key) is None and key not in order for key in hidden)


class _Counted:
    """A row that counts how often the view reads it."""

    reads = 0

    def __init__(self, row: Row) -> None:
        self._row = row

    def __getattr__(self, name: str) -> object:
        _Counted.reads += 1
        return getattr(self._row, name)


def test_a_batch_reads_its_own_rows_only() -> None:
    edited = _Batches(2_000)
    session = edited.session
    for number in range(len(session.rows)):
        edited.edit(("answer", number, STATUSES[number % 5], 1.0, "veo3_1_fast", "dog", number % 6))
    edited.take()
    rows: dict[str, _Counted] = {key: _Counted(row) for key, row in session.rows.items()}
    spec = ViewSpec(text="dog", status=StatusFilter.ACTIVE, sort=SortKey.STATUS, reverse=True)
    order = LiveOrder()
    order.rebuild(rows, spec, NOW)
    assert _Counted.reads > 2_000  # (the whole list, once)
    keys = list(rows)
    changed = {keys[5], keys[1_500]}
    for key in changed:
        session.apply(session.rows[key].ref, _task("x", "processing", 0, "", "dog", 60), None)
    new = [_ref(number) for number in range(5_000, 5_003)]
    session.add(new)
    rows.update((ref.key, _Counted(session.rows[ref.key])) for ref in new)
    del rows[keys[7]]
    _Counted.reads = 0
    order.apply(changed, reordered=True)
    # Each of the 2 changed, 3 added and 1 removed rows is read a few times (its status,
    # text, sort value), however long the list.
    assert 0 < _Counted.reads <= 6 * 12
    assert list(order) == compute_order(rows.items(), spec, NOW)


def test_a_changed_row_the_batch_did_not_say_came_is_taken_in() -> None:
    edited = _Batches(3)
    session = edited.session
    order = LiveOrder()
    spec = ViewSpec(sort=SortKey.CREDITS)
    order.rebuild(session.rows, spec, NOW)
    (row,) = session.add([_ref(50)])
    session.apply(row.ref, _answer(row.ref.id, "completed", 3), None)
    order.apply({row.ref.key})  # (not reordered)
    assert list(order) == compute_order(session.rows.items(), spec, NOW)
    assert order.index_of(row.ref.key) == 3


# --- the dashboard ------------------------------------------------------------------------


def _answer(ident: str, status: str, credits: float) -> Task:
    return _task(ident, status, credits, "nano_banana", "a red fox", 600)


def _watch(tmp_path: Path, count: int) -> list[TaskRef]:
    """``count`` completed tasks, each costing its number in credits."""
    entries = []
    for number in range(count):
        entry = WatchEntry(TaskRef(IdKind.TASK_ID, f"t{number:04}"), None, NOW)
        entry.record(_answer(entry.ref.id, "completed", number), NOW)
        entries.append(entry)
    WatchlistStore(tmp_path / "watchlist.toml").save(entries)
    return [entry.ref for entry in entries]


async def test_answers_move_their_rows_and_the_cursor_stays_on_its_task(
    tmp_path: Path, app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    refs = _watch(tmp_path, 300)
    app = app_factory(Settings(), live=False, frozen_at=NOW)
    rebuilds: list[ViewSpec] = []
    rebuild = LiveOrder.rebuild

    def counted(order: LiveOrder, *args: object, **kwargs: object) -> None:
        rebuilds.append(args[1])  # type: ignore[arg-type]
        rebuild(order, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(LiveOrder, "rebuild", counted)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main_screen
        screen.set_spec(sort=SortKey.STATUS)
        chosen = refs[150]
        assert table(app).move_to_key(chosen.key)
        await pilot.pause()
        sorts = len(rebuilds)
        # Three start running (processing sorts first), the cursor's task fails (before
        # the completed ones), one finished task only costs more (it stays in place).
        for ref in (refs[10], refs[200], refs[299]):
            app.monitor.record(PollOutcome(ref, _answer(ref.id, "processing", 0)))
        app.monitor.record(PollOutcome(chosen, _answer(chosen.id, "failed", 0)))
        app.monitor.record(PollOutcome(refs[20], _answer(refs[20].id, "completed", 999)))
        screen.apply_changes()
        await pilot.pause()
        rows = app.monitor.session.rows
        assert list(table(app).order) == compute_order(rows.items(), screen.spec, NOW)
        assert list(table(app).order)[:4] == [
            refs[10].key,
            refs[200].key,
            refs[299].key,
            chosen.key,
        ]
        assert table(app).cursor_key == chosen.key
        assert len(rebuilds) == sorts, "a batch of answers sorted every row again"
        # The screen followed the cursor's task to its new place.
        assert "t0150" in table_lines(app)[1] and "failed" in table_lines(app)[1]


async def test_rows_that_move_off_screen_repaint_nothing_on_it(
    tmp_path: Path, app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    refs = _watch(tmp_path, 300)
    app = app_factory(Settings(), live=False, frozen_at=NOW)
    async with app.run_test(size=SIZE) as pilot:
        screen, shown = app.main_screen, table(app)
        screen.set_spec(sort=SortKey.CREDITS)
        await pilot.pause()
        on_screen = table_lines(app)
        repaints: list[object] = []
        monkeypatch.setattr(shown, "refresh", lambda *a, **k: repaints.append(a))
        monkeypatch.setattr(shown, "refresh_line", lambda y: repaints.append(y))
        # Far below the screen, a task's credits move it past ten others.
        app.monitor.record(PollOutcome(refs[250], _answer(refs[250].id, "completed", 260.5)))
        screen.apply_changes()
        assert repaints == []
        assert shown.order[260] == refs[250].key
        # Then it moves onto the screen: that is painted.
        app.monitor.record(PollOutcome(refs[250], _answer(refs[250].id, "completed", 0.5)))
        screen.apply_changes()
        assert repaints
        monkeypatch.undo()
        shown.refresh()
        await pilot.pause()
        lines = table_lines(app)
        assert lines[:2] == on_screen[:2] and "t0250" in lines[2]
        assert shown.cursor_key == refs[0].key


async def test_a_time_sort_is_computed_again_once_the_clock_has_moved_it(
    tmp_path: Path, app_factory: AppFactory
) -> None:
    refs = _watch(tmp_path, 3)  # each finished in 600 s
    app = app_factory(Settings(), live=False, frozen_at=NOW)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.main_screen
        now = NOW
        screen.wall_clock = lambda: now
        running = _task(refs[1].id, "processing", 0, "nano_banana", "", 599)
        app.monitor.record(PollOutcome(refs[1], running))
        screen.set_spec(sort=SortKey.TIME)
        await pilot.pause()
        assert table(app).order[0] == refs[1].key  # 599 s so far: the shortest
        # 2 s on it has run longest, but the order is the one of its last sort until
        # VOLATILE_REFRESH has passed: a batch moves only its own rows (no full sort).
        now = NOW + timedelta(seconds=2)
        app.monitor.record(PollOutcome(refs[2], _answer(refs[2].id, "completed", 7)))
        screen.apply_changes()
        assert table(app).order[0] == refs[1].key
        # Past VOLATILE_REFRESH the running task's 600+ s count: the next batch sorts again.
        now = NOW + timedelta(seconds=VOLATILE_REFRESH + 15)
        app.monitor.record(PollOutcome(refs[2], _answer(refs[2].id, "completed", 8)))
        screen.apply_changes()
        await pilot.pause()
        assert list(table(app).order) == [refs[0].key, refs[2].key, refs[1].key]
