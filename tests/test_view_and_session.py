"""The view model (filter/sort) and the session state, without a terminal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aireiter_tui.domain.errors import NetworkError
from aireiter_tui.domain.loading import PartLoader
from aireiter_tui.domain.models import IdKind, TaskRef, TaskStatus, parse_task
from aireiter_tui.domain.session import Longest, Session
from aireiter_tui.domain.view import SortKey, StatusFilter, ViewSpec, compute_order
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)


def _task(ident: str, status: str, *, prompt: str = "", credits: float = 0, age: int = 60):
    created = (NOW - timedelta(seconds=age)).isoformat()
    return parse_task(
        {
            "task_id": ident,
            "status": status,
            "created_at": created,
            "credits_used": credits,
            "input": {"model": "nano_banana", "params": {"prompt": prompt}},
        }
    )


def _session(tmp_path: Path | None = None) -> Session:
    store = WatchlistStore(tmp_path / "w.toml") if tmp_path else None
    session = Session(store, lambda: NOW)
    rows = [
        ("a", "completed", "a red fox", 100, 300),
        ("b", "processing", "a paper boat", 0, 30),
        ("c", "failed", "a dog", 0, 600),
        ("d", "queued_for_review", "a boat house", 0, 10),
    ]
    session.add([TaskRef(IdKind.TASK_ID, ident) for ident, *_ in rows])
    for ident, status, prompt, credits, age in rows:
        ref = TaskRef(IdKind.TASK_ID, ident)
        session.apply(ref, _task(ident, status, prompt=prompt, credits=credits, age=age), None)
    session.add([TaskRef(IdKind.OUT_TASK_ID, "mine")], label="Boat batch")
    return session


def _order(session: Session, **spec: object) -> list[str]:
    keys = compute_order(session.rows.items(), ViewSpec(**spec), NOW)  # type: ignore[arg-type]
    return [key.split(":", 1)[1] for key in keys]


def test_default_order_is_insertion_and_reverse_flips_it() -> None:
    session = _session()
    assert _order(session) == ["a", "b", "c", "d", "mine"]
    assert _order(session, reverse=True) == ["mine", "d", "c", "b", "a"]


def test_text_filter_matches_id_label_model_and_prompt_case_insensitively() -> None:
    session = _session()
    assert _order(session, text="BOAT") == ["b", "d", "mine"]  # prompts and a label
    assert _order(session, text="nano") == ["a", "b", "c", "d"]  # model
    assert _order(session, text="mine") == ["mine"]  # id
    assert _order(session, text="zebra") == []


def test_status_filters() -> None:
    session = _session()
    assert _order(session, status=StatusFilter.FAILED) == ["c"]
    assert _order(session, status=StatusFilter.UNKNOWN) == ["d"]
    # never fetched and unknown statuses may still change: they count as active
    assert _order(session, status=StatusFilter.ACTIVE) == ["b", "d", "mine"]
    session.apply(TaskRef(IdKind.TASK_ID, "a"), None, NetworkError("down"))
    assert _order(session, status=StatusFilter.ERRORS) == ["a"]


def test_sorts_are_stable_and_typed() -> None:
    session = _session()
    assert _order(session, sort=SortKey.CREDITS, reverse=True)[0] == "a"
    assert _order(session, sort=SortKey.STATUS) == ["b", "d", "c", "a", "mine"]
    # Finished tasks without completed_at ran until first seen finished (here: NOW, so
    # their age); the never-answered one has no run time and sorts first.
    assert _order(session, sort=SortKey.TIME) == ["mine", "d", "b", "a", "c"]
    assert _order(session, sort=SortKey.NAME)[0] == "a"
    assert _order(session, sort=SortKey.NAME)[-1] == "d"  # "Boat batch" (label) sorts as b


def test_sort_and_filter_cycle_through_every_member() -> None:
    seen = {SortKey.ADDED}
    key = SortKey.ADDED
    for _ in SortKey:
        key = key.next()
        seen.add(key)
    assert seen == set(SortKey) and key is SortKey.ADDED
    assert StatusFilter.ERRORS.next() is StatusFilter.ALL


def test_apply_reports_changes_and_final_transitions_once() -> None:
    session = _session()
    ref = TaskRef(IdKind.TASK_ID, "b")
    changed, transition = session.apply(
        ref, _task("b", "processing", prompt="a paper boat", age=30), None
    )
    assert not changed and transition is None
    changed, transition = session.apply(ref, _task("b", "completed", prompt="a paper boat"), None)
    assert changed and transition is not None and transition.status is TaskStatus.COMPLETED
    _, again = session.apply(ref, _task("b", "completed", prompt="a paper boat"), None)
    assert again is None


def test_errors_keep_the_last_known_status_and_replies_for_removed_rows_are_dropped() -> None:
    session = _session()
    ref = TaskRef(IdKind.TASK_ID, "a")
    changed, _ = session.apply(ref, None, NetworkError("connection refused"))
    row = session.rows[ref.key]
    assert changed and row.stale and row.task is not None
    assert row.task.status is TaskStatus.COMPLETED
    session.remove([ref.key])
    assert session.apply(ref, _task("a", "failed"), None) == (False, None)
    assert ref.key not in session.rows


def test_counts() -> None:
    session = _session()
    session.apply(TaskRef(IdKind.TASK_ID, "c"), None, NetworkError("x"))
    counts = session.counts()
    assert counts.total == 5 and counts.unfetched == 1 and counts.errors == 1
    session.apply(TaskRef(IdKind.OUT_TASK_ID, "mine"), None, NetworkError("x"))
    counts = session.counts()
    assert counts.unfetched == 0 and counts.errors == 2  # a failed first fetch is an error
    assert counts.by_status[TaskStatus.UNKNOWN] == 1 and counts.credits == 100


def test_save_remove_undo_and_reload(tmp_path: Path) -> None:
    session = _session(tmp_path)
    session.save()
    removed = session.remove([TaskRef(IdKind.TASK_ID, "a").key])
    session.save()
    again = Session(WatchlistStore(tmp_path / "w.toml"), lambda: NOW)
    assert _load(again) == []
    assert [row.ref.id for row in again.rows.values()] == ["b", "c", "d", "mine"]
    session.restore(removed)
    session.save()
    third = Session(WatchlistStore(tmp_path / "w.toml"), lambda: NOW)
    _load(third)
    assert third.rows[TaskRef(IdKind.TASK_ID, "a").key].task is not None
    assert third.rows[TaskRef(IdKind.OUT_TASK_ID, "mine").key].label == "Boat batch"


def test_unreadable_watchlist_blocks_saving_and_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_bytes(b"this is [not toml")
    session = Session(WatchlistStore(path), lambda: NOW)
    messages = _load(session)
    assert messages and str(path) in messages[0] and "not saved" in messages[0]
    session.add([TaskRef(IdKind.TASK_ID, "new")])
    assert not session.save()
    assert path.read_bytes() == b"this is [not toml"


def _load(session: Session) -> list[str]:
    loader = PartLoader(session)
    loader.finish()
    return loader.problems


def _recount(session: Session) -> tuple[object, ...]:
    by_status = dict.fromkeys(TaskStatus, 0)
    unfetched = errors = 0
    credits = 0.0
    for row in session.rows.values():
        if row.task is None:
            unfetched += row.error is None
        else:
            by_status[row.task.status] += 1
            credits += row.task.credits_used or 0.0
        errors += row.error is not None
    return by_status, unfetched, errors, round(credits, 6), len(session.rows)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["add", "adopt", "remove", "ok", "error", "restore"]),
            st.sampled_from(["a", "b", "c", "d"]),
            st.sampled_from(["pending", "completed", "failed", "weird"]),
            st.floats(min_value=0, max_value=1000, allow_nan=False),
        ),
        max_size=40,
    )
)
def test_counts_kept_up_to_date_match_a_recount(ops: list[tuple[str, str, str, float]]) -> None:
    session = Session(None, lambda: NOW)
    removed: list = []
    for op, ident, status, credits in ops:
        ref = TaskRef(IdKind.TASK_ID, ident)
        if op == "add":
            session.add([ref])
        elif op == "adopt":  # (as a part read, or another process's addition: answered)
            entry = WatchEntry(ref, None, NOW)
            entry.record(_task(ident, status, credits=credits), NOW)
            session.adopt([entry, WatchEntry(TaskRef(IdKind.TASK_ID, ident + "x"), "l", NOW)])
        elif op == "remove":
            removed = session.remove([ref.key]) or removed
        elif op == "restore":
            session.restore(removed)
            removed = []
        elif op == "ok":
            session.apply(ref, _task(ident, status, credits=credits), None)
        else:
            session.apply(ref, None, NetworkError("down"))
        counts = session.counts()
        by_status, unfetched, errors, credits_sum, total = _recount(session)
        assert (counts.by_status, counts.unfetched, counts.errors, counts.total) == (
            by_status,
            unfetched,
            errors,
            total,
        )
        assert counts.credits == pytest.approx(credits_sum, abs=1e-5)
        rows = session.rows.values()
        assert session.longest() == Longest(
            max((len(row.ref.id) for row in rows), default=0),
            max((len(row.label or "") for row in rows), default=0),
            max((len(row.task.model or "") for row in rows if row.task), default=0),
        )
