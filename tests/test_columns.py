"""Columns without a terminal: the config's ``columns`` list, and every column sorting
both ways (a property over generated watchlists)."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aireiter_tui.domain.config import load_settings
from aireiter_tui.domain.errors import ConfigError, NetworkError
from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.session import Row, Session
from aireiter_tui.domain.view import (
    COLUMN_IDS,
    SortKey,
    ViewSpec,
    compute_order,
    next_sort,
    run_seconds,
)
from aireiter_tui.domain.views import ColumnChoice
from aireiter_tui.ui.widgets.cells import COLUMNS

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- the config ---------------------------------------------------------------------------


def _load(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_settings(path, env={})


def test_columns_from_the_config_keep_their_order_and_widths(tmp_path: Path) -> None:
    settings = _load(tmp_path, 'columns = ["status", "Task", "model:14", " eta "]\n')
    assert settings.columns == (
        ColumnChoice("status"),
        ColumnChoice("task"),
        ColumnChoice("model", 14),
        ColumnChoice("eta"),
    )
    assert _load(tmp_path, "").columns is None


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ('["taks"]', '"taks" is none of task, model, status, prompt, created, time, credits'),
        ('["task", "task"]', '"task" is there twice'),
        ('["model:2"]', "width from 3 to 200"),
        ('["model:wide"]', '"model:wide" is not'),
        ("[]", "a list of column ids"),
        ('"task"', "a list of column ids"),
        ("[1]", "as strings"),
    ],
)
def test_bad_columns_are_refused_naming_the_known_ids(
    tmp_path: Path, value: str, said: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, f"columns = {value}\n")
    assert '"columns" must be' in str(caught.value)
    assert said in str(caught.value)


def test_every_column_has_an_id_the_config_and_the_sort_know() -> None:
    assert tuple(column.key for column in COLUMNS) == COLUMN_IDS
    assert {SortKey(ident) for ident in COLUMN_IDS} == set(SortKey) - {SortKey.ADDED}


def test_the_sort_key_cycles_through_the_shown_columns_then_the_added_order() -> None:
    shown = [SortKey.STATUS, SortKey.PROMPT, SortKey.CREDITS]
    seen = [SortKey.ADDED]
    for _ in range(4):
        seen.append(next_sort(seen[-1], shown))
    assert seen == [SortKey.ADDED, *shown, SortKey.ADDED]
    # Sorted by a column then hidden: the next press starts at the first shown one.
    assert next_sort(SortKey.ETA, shown) is SortKey.STATUS
    assert next_sort(SortKey.ADDED, []) is SortKey.ADDED


# --- every column sorts, both ways --------------------------------------------------------

_STATUSES = ["pending", "processing", "completed", "failed", "queued_for_review"]


@st.composite
def _watchlists(draw: st.DrawFn) -> tuple[Session, dict[str, float | None]]:
    """A session of up to 12 rows (some never answered, some with a failed refresh,
    some gone), and an ETA per row as the insight figures would give it."""
    session = Session(None, lambda: NOW)
    count = draw(st.integers(1, 12))
    etas: dict[str, float | None] = {}
    for index in range(count):
        ident = draw(st.sampled_from(["order_a", "order_B", "x", "order_a2", "Zed"]))
        ref = TaskRef(IdKind.TASK_ID, f"{ident}-{index}")
        label = draw(st.one_of(st.none(), st.sampled_from(["dogs", "Boat", "cats", "dogs"])))
        session.add([ref], label)
        etas[ref.key] = draw(st.one_of(st.none(), st.just(math.inf), st.floats(0, 900)))
        if not draw(st.booleans()) and index:
            continue  # never answered
        credits = draw(st.one_of(st.none(), st.floats(0, 500), st.just(math.nan)))
        created = draw(st.one_of(st.none(), st.integers(0, 7200)))
        raw: dict[str, Any] = {
            "task_id": ref.id,
            "status": draw(st.sampled_from(_STATUSES)),
            "input": {
                "model": draw(st.sampled_from(["nano_banana", "veo3", "kling", ""])),
                "params": {"prompt": draw(st.sampled_from(["a fox", "A boat", "", "zebra"]))},
            },
            "outputs": [
                {"url": f"https://cdn.example/{n}.png"} for n in range(draw(st.integers(0, 3)))
            ],
        }
        if credits is not None:
            raw["credits_used"] = credits
        if created is not None:
            raw["created_at"] = (NOW - timedelta(seconds=created)).isoformat()
        session.apply(ref, parse_task(raw), None)
        if draw(st.booleans()):
            session.apply(ref, None, NetworkError("down"))
    return session, etas


def _oracle(row: Row, column: SortKey, eta: float | None) -> Any:
    """What the column's order must follow, read from the row as the cell shows it."""
    task = row.task
    if column is SortKey.NAME:
        return (row.label or row.ref.id).lower()
    if column is SortKey.MODEL:
        return task.model or "" if task else ""
    if column is SortKey.STATUS:
        # running first, then waiting, unknown, gone, failed, completed, never answered
        if task is None:
            return 9
        if row.gone:
            return 3
        return {"processing": 0, "pending": 1, "failed": 4, "completed": 5}.get(
            task.status.value, 2
        )
    if column is SortKey.PROMPT:
        return (task.prompt or "").lower() if task else ""
    if column is SortKey.CREATED:
        return task.created_at or EPOCH if task else EPOCH
    if column is SortKey.TIME:
        return run_seconds(row, NOW)
    if column is SortKey.CREDITS:
        value = task.credits_used if task else None
        return value if value is not None and value == value else 0.0
    if column is SortKey.OUTPUTS:
        return len(task.outputs) if task else 0
    if column is SortKey.CHECKED:
        return row.checked_at or EPOCH
    if column is SortKey.ETA:
        return (2, 0.0) if eta is None else (1, 0.0) if math.isinf(eta) else (0, eta)
    raise AssertionError(column)


@pytest.mark.parametrize("column", [SortKey(ident) for ident in COLUMN_IDS])
@given(watchlist=_watchlists(), reverse=st.booleans())
def test_each_column_sorts_both_ways_and_ties_keep_the_added_order(
    column: SortKey, watchlist: tuple[Session, dict[str, float | None]], reverse: bool
) -> None:
    session, etas = watchlist
    spec = ViewSpec(sort=column, reverse=reverse)
    order = compute_order(session.rows.items(), spec, NOW, eta=etas.get)
    assert sorted(order) == sorted(session.rows)
    added = list(session.rows)
    values = [_oracle(session.rows[key], column, etas[key]) for key in order]
    for (first, second), (key_a, key_b) in zip(
        itertools.pairwise(values), itertools.pairwise(order), strict=True
    ):
        if reverse:
            assert not first < second, (column, first, second)
        else:
            assert not second < first, (column, first, second)
        if first == second:
            assert added.index(key_a) < added.index(key_b)
