"""Saved views without a terminal: ``[[views]]`` in the config, written back whole, and
each view's count kept up to date a changed row at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aireiter_tui.domain.config import load_settings, remember
from aireiter_tui.domain.errors import ConfigError, NetworkError
from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.session import Session
from aireiter_tui.domain.view import SortKey, StatusFilter, ViewSpec, compute_order
from aireiter_tui.domain.views import ColumnChoice, View, ViewCounts, parse_views

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)

CONFIG = """
theme = "nord"

[[views]]
name = "Failed"
status = "failed"
sort = "-credits"

[[views]]
name = "Bananas"
filter = "banana"
sort = "model"
columns = ["task", "model:20", "status"]
"""


def _load(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_settings(path, env={})


def test_views_from_the_config(tmp_path: Path) -> None:
    settings = _load(tmp_path, CONFIG)
    assert settings.views == (
        View("Failed", status=StatusFilter.FAILED, sort=SortKey.CREDITS, reverse=True),
        View(
            "Bananas",
            text="banana",
            sort=SortKey.MODEL,
            columns=(ColumnChoice("task"), ColumnChoice("model", 20), ColumnChoice("status")),
        ),
    )
    assert settings.views[0].spec == ViewSpec("", StatusFilter.FAILED, SortKey.CREDITS, True)
    assert _load(tmp_path, "").views == ()


def test_views_written_back_whole_read_the_same(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    views = load_settings(path, env={}).views
    added = View.of("Slow ones", ViewSpec("veo", StatusFilter.ACTIVE, SortKey.TIME, True), None)
    remember(path, {"views": [view.to_toml() for view in (*views, added)]})
    settings = load_settings(path, env={})
    assert settings.views == (*views, added)
    assert settings.theme == "nord"


@pytest.mark.parametrize(
    ("tables", "said"),
    [
        ('[[views]]\nstatus = "failed"\n', '"views[1].name": a view needs a name'),
        ('[[views]]\nname = "  "\n', "a view needs a name"),
        ('[[views]]\nname = "All"\n', '"All" is the tab of every task'),
        ('[[views]]\nname = "A"\n[[views]]\nname = "a"\n', 'a view is named "a" already'),
        ('[[views]]\nname = "A"\ncolour = "red"\n', 'unknown key "views[1].colour"'),
        ('[[views]]\nname = "A"\nstatus = "broken"\n', "must be one of all, active, stuck"),
        ('[[views]]\nname = "A"\nsort = "size"\n', '"views[1].sort" must be a column id'),
        ('[[views]]\nname = "A"\nsort = "-"\n', '"views[1].sort" must be a column id'),
        ('[[views]]\nname = "A"\nfilter = 3\n', '"views[1].filter" must be text'),
        ('[[views]]\nname = "A"\ncolumns = ["nope"]\n', '"nope" is none of task, model'),
        (
            '[[views]]\nname = "A"\nsort = "eta"\ncolumns = ["task"]\n',
            '"views[1].sort" is "eta", which is not among its columns',
        ),
        ('views = "Failed"\n', '"views" must be [[views]] tables'),
        (f'[[views]]\nname = "{"n" * 31}"\n', "at most 30"),
    ],
)
def test_bad_views_are_refused_with_a_sentence(tmp_path: Path, tables: str, said: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, tables)
    assert said in str(caught.value)
    assert str(caught.value).startswith(str(tmp_path / "config.toml"))


# --- counts ------------------------------------------------------------------------------

VIEWS = (
    View("Failed", status=StatusFilter.FAILED),
    View("Active bananas", text="banana", status=StatusFilter.ACTIVE),
    View("Errors", status=StatusFilter.ERRORS),
    View("Dogs", text="DOG"),
    View("Stuck", status=StatusFilter.STUCK),
    View("Stuck dogs", text="dog", status=StatusFilter.STUCK),
)


def _task(ident: str, status: str, model: str, prompt: str) -> Any:
    return parse_task(
        {
            "task_id": ident,
            "status": status,
            "created_at": (NOW - timedelta(minutes=5)).isoformat(),
            "input": {"model": model, "params": {"prompt": prompt}},
        }
    )


# Few IDs, so that a batch often adds, changes and removes the same rows.
_change = st.tuples(
    st.sampled_from(["add", "remove", "answer", "error", "label"]),
    st.integers(0, 3),
    st.sampled_from(["pending", "processing", "completed", "failed", "odd"]),
    st.sampled_from(["nano_banana", "veo3"]),
    st.sampled_from(["a dog", "a cat", ""]),
)


@given(
    changes=st.lists(st.lists(_change, max_size=6), max_size=8), stuck=st.sets(st.integers(0, 3))
)
def test_counts_kept_up_to_date_equal_filtering_every_row(
    changes: list[list[tuple[str, int, str, str, str]]], stuck: set[int]
) -> None:
    session = Session(None, lambda: NOW)
    counts = ViewCounts(VIEWS)
    for batch in changes:
        updated: set[str] = set()
        full = False
        for kind, number, status, model, prompt in batch:
            ref = TaskRef(IdKind.TASK_ID, f"order_{number}")
            if kind == "add":
                full |= bool(session.add([ref]))
            elif kind == "remove":
                full |= bool(session.remove([ref.key]))
            elif ref.key in session.rows:
                if kind == "answer":
                    session.apply(ref, _task(ref.id, status, model, prompt), None)
                elif kind == "error":
                    session.apply(ref, None, NetworkError("down"))
                else:
                    session.set_label(ref.key, "Dog show" if status == "odd" else None)
                updated.add(ref.key)
        counts.take(session.rows, updated, full=full)
        stuck_keys = [key for key in session.rows if int(key.rsplit("_", 1)[1]) in stuck]
        is_stuck = set(stuck_keys).__contains__
        expected = [
            len(compute_order(session.rows.items(), view.spec, NOW, stuck=is_stuck))
            for view in VIEWS
        ]
        assert counts.counts(stuck_keys) == expected


def test_a_batch_looks_only_at_its_changed_rows() -> None:
    session = Session(None, lambda: NOW)
    refs = [TaskRef(IdKind.TASK_ID, f"order_{n}") for n in range(50)]
    session.add(refs)
    counts = ViewCounts(VIEWS)
    counts.take(session.rows, (), full=True)
    looked: list[str] = []

    class Watched(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            looked.append(key)
            return super().get(key, default)

    session.apply(refs[3], _task(refs[3].id, "failed", "veo3", "a dog"), None)
    counts.take(Watched(session.rows), [refs[3].key], full=False)
    assert looked == [refs[3].key]
    assert counts.counts() == [1, 0, 0, 1, 0, 0]


def test_parse_views_of_nothing_is_no_view() -> None:
    assert parse_views(None, "config.toml") == ()


def test_a_view_added_later_is_counted_over_every_row() -> None:
    session = Session(None, lambda: NOW)
    refs = [TaskRef(IdKind.TASK_ID, f"order_{n}") for n in range(6)]
    session.add(refs)
    for number, ref in enumerate(refs):
        status = "failed" if number % 2 else "completed"
        session.apply(ref, _task(ref.id, status, "veo3", "a dog" if number < 2 else ""), None)
    counts = ViewCounts(())  # no view yet: the batches were never looked at
    counts.add(VIEWS[0], session.rows)
    counts.add(VIEWS[3], session.rows)
    assert counts.counts() == [3, 2]
    more = TaskRef(IdKind.TASK_ID, "order_more")
    session.add([more])
    session.apply(more, _task(more.id, "failed", "veo3", "a dog"), None)
    counts.take(session.rows, [more.key], full=True)
    assert counts.counts() == [4, 3]
