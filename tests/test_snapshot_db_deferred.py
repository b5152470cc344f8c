"""Tasks read from the snapshot database are built from its typed columns and read their
reply only when something needs the rest (``domain/models.py``'s deferred tasks): the same
task as parsing the reply, no parse at load, and a row whose columns were changed behind
its checksum, or written by the schema before, is a miss for its task alone."""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from watchlist_fixtures import REFERENCE, T0, entry, ids

from aireiter_tui.domain import models
from aireiter_tui.domain.models import IdKind, Task, TaskRef, parse_task
from aireiter_tui.domain.snapshot_db import SCHEMA_VERSION
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry


def _sql(path: Path, statement: str, *args: object) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(path.with_name(path.name + ".db"))) as db, db:
        return db.execute(statement, args).fetchall()


# Values of every JSON type, NaN left out (a task holding NaN is never equal to itself).
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**308, max_value=10**400)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["m\ud800x", "x" * 250, "2026-01-02T03:04:05.123456Z", "a\ufffdb"])
)
ANY_JSON = st.recursive(
    LEAVES,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)
STATUSES = st.sampled_from(
    [
        "completed",
        "failed",
        "pending",
        "processing",
        "unknown",
        "Unknown",
        " FAILED ",
        "weird",
        "x" * 300,
    ]
)
TIMES = st.sampled_from(
    ["2026-01-02T03:04:05Z", "2026-01-02T03:04:05.5+02:00", "soon", ""]
) | st.integers(min_value=-(10**13), max_value=10**13)
TEXTS = st.sampled_from(["nano", "m\ud800x", "a\ufffdb", "x" * 250, "p" * 30_000, ""]) | st.text(
    max_size=8
)
REPLIES = st.fixed_dictionaries(
    {"status": STATUSES | LEAVES},
    optional={
        "task_id": st.text(max_size=8) | st.integers(),
        "out_task_id": st.text(max_size=8) | LEAVES,
        "created_at": TIMES | LEAVES,
        "completed_at": TIMES,
        "input": st.fixed_dictionaries(
            {},
            optional={
                "model": TEXTS | LEAVES,
                "params": st.fixed_dictionaries({}, optional={"prompt": TEXTS | LEAVES}) | ANY_JSON,
                "attachments": ANY_JSON,
            },
        )
        | ANY_JSON,
        "output": st.lists(
            st.fixed_dictionaries({"url": st.sampled_from(["https://h/a.png", "x", ""])})
        )
        | ANY_JSON,
        "error": ANY_JSON,
        "credits_used": LEAVES,
        "metadata": ANY_JSON,
    },
)

SUMMARY = (
    "status",
    "status_label",
    "created_at",
    "completed_at",
    "credits_used",
    "model",
    "prompt",
    "output_count",
    "task_id",
    "out_task_id",
)


@given(st.lists(REPLIES, min_size=1, max_size=6))
@settings(max_examples=60, deadline=None)
@example([{"status": "completed", "credits_used": -0.0}])  # (SQLite keeps -0.0 as 0.0)
def test_a_task_read_from_the_cache_is_the_task_its_reply_parses_to(
    replies: list[dict[str, Any]],
) -> None:
    saved = []
    for number, reply in enumerate(replies):
        item = WatchEntry(TaskRef(IdKind.TASK_ID, f"t{number}"), None, T0)
        item.record(parse_task(reply), T0)
        saved.append(item)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "watchlist.toml"
        WatchlistStore(path).save(saved)
        loaded = WatchlistStore(path).load()
    assert ids(loaded) == ids(saved)
    for before, after in zip(saved, loaded, strict=True):
        assert before.task is not None and after.task is not None
        # What the table reads, before anything else is asked of the task...
        for name in SUMMARY:
            assert getattr(after.task, name) == getattr(before.task, name), name
        # ... then the rest, read from the reply.
        assert after.task == before.task
        assert after.task.raw == before.task.raw


def test_loading_from_the_cache_parses_no_reply_until_one_is_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "watchlist.toml"
    reference = WatchEntry(TaskRef(IdKind.TASK_ID, "ref"), "dogs", T0)
    reference.record(parse_task(REFERENCE), T0)
    WatchlistStore(path).save([reference, entry("b", "failed"), entry("c", "pending")])
    parsed: list[Any] = []

    def counted(data: Any) -> Task:
        parsed.append(data)
        return parse_task(data)

    monkeypatch.setattr(models, "parse_task", counted)
    loaded = WatchlistStore(path).load()
    tasks = [item.task for item in loaded]
    assert all(task is not None for task in tasks)
    # What the table shows, sorts and filters on (the text filter reads the IDs too).
    shown = [
        (
            task.status_label,
            task.model,
            task.prompt,
            task.output_count,
            task.credits_used,
            task.task_id,
            task.out_task_id,
        )
        for task in tasks
        if task is not None
    ]
    assert shown == [
        ("completed", "nano_banana", "dog", 1, 100.0, REFERENCE["task_id"], None),
        ("failed", None, None, 0, None, "b", None),
        ("pending", None, None, 0, None, "c", None),
    ]
    assert tasks[0] is not None and tasks[0].created_at == reference.task.created_at  # type: ignore[union-attr]
    assert parsed == []
    # The detail pane asks for the outputs: that task alone is read, once.
    assert tasks[0] is not None and [output.url for output in tasks[0].outputs] == [
        REFERENCE["output"][0]["url"]
    ]
    assert tasks[0].input is not None and tasks[0].input.params["prompt"] == "dog"
    assert parsed == [REFERENCE]
    assert tasks[1] is not None and tasks[1].failure is not None
    assert len(parsed) == 2


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("model", "another model"),
        ("status", "failed"),
        ("credits", 1.5),
        ("outputs", 7),
        ("prompt", "cat"),
        ("task_id", "another"),
    ],
)
def test_a_column_changed_behind_its_checksum_is_a_miss_for_that_task_alone(
    tmp_path: Path, column: str, value: object
) -> None:
    path = tmp_path / "watchlist.toml"
    reference = WatchEntry(TaskRef(IdKind.TASK_ID, "ref"), None, T0)
    reference.record(parse_task(REFERENCE), T0)
    WatchlistStore(path).save([entry("a", "completed"), reference])
    # The right type, the wrong value: only the checksum can tell.
    _sql(path, f"UPDATE snapshots SET {column} = ? WHERE key = 'task_id:ref'", value)
    loaded = WatchlistStore(path).load()
    assert ids(loaded) == ["a", "ref"]
    assert loaded[0].task is not None and loaded[0].task.status_label == "completed"
    assert loaded[1].task is None  # queried again


def test_a_database_of_an_earlier_version_is_made_again(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    WatchlistStore(path).save([entry("a", "completed"), entry("b", "failed")])
    _sql(path, f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    store = WatchlistStore(path)
    loaded = store.load()
    assert ids(loaded) == ["a", "b"] and [item.task for item in loaded] == [None, None]
    loaded[0].record(parse_task({"task_id": "a", "status": "completed"}), T0)
    store.save(loaded)
    assert _sql(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    again = WatchlistStore(path).load()
    assert [item.task.status_label if item.task else None for item in again] == ["completed", None]


def test_a_text_sqlite_cannot_hold_is_read_from_the_reply(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    item = WatchEntry(TaskRef(IdKind.TASK_ID, "a"), None, T0)
    reply = {
        "status": "completed",
        "out_task_id": "o\udc80",
        "input": {"model": "m\ud800", "params": {"prompt": "p\udfff"}},
    }
    item.record(parse_task(reply), T0)
    WatchlistStore(path).save([item])
    (loaded,) = WatchlistStore(path).load()
    assert loaded.task is not None
    # (A lone surrogate is stored as "?": the column is not the task's own text.)
    assert _sql(path, "SELECT model, prompt, out_task_id FROM snapshots") == [("m?", "p?", "o?")]
    assert (loaded.task.model, loaded.task.prompt) == ("m\ud800", "p\udfff")
    assert loaded.task.out_task_id == "o\udc80"
    assert loaded.task == item.task
