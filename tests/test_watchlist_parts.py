"""The watchlist read in parts (``WatchlistStore.load_parts``), as the dashboard starts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from watchlist_fixtures import T0, entry, ids

from aireiter_tui.domain import watchlist
from aireiter_tui.domain.models import parse_task
from aireiter_tui.domain.snapshot_db import FIRST_PART_SIZE, PART_SIZE
from aireiter_tui.domain.watchlist import WatchlistError, WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry


def _saved(path: Path, count: int) -> list[WatchEntry]:
    items = [entry(f"t{number}", ("pending", "completed")[number % 2]) for number in range(count)]
    WatchlistStore(path).save(items)
    return items


def _statuses(entries: list[WatchEntry]) -> list[str | None]:
    return [e.task.status_label if e.task else None for e in entries]


def test_a_valid_cache_is_read_in_parts_with_the_same_entries_as_load(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    count = FIRST_PART_SIZE + 2 * PART_SIZE + 500
    items = _saved(path, count)
    store = WatchlistStore(path)
    parts = list(store.load_parts())
    # (the first part small: it is read before the first frame)
    assert [(len(part.entries), part.last, part.total) for part in parts] == [
        (FIRST_PART_SIZE, False, count),
        (PART_SIZE, False, count),
        (PART_SIZE, False, count),
        (500, True, count),
    ]
    loaded = [e for part in parts for e in part.entries]
    assert ids(loaded) == ids(items) and _statuses(loaded) == _statuses(items)
    assert loaded == WatchlistStore(path).load()
    # The store knows the files it read: a save with no changes writes nothing.
    before = (path.stat().st_mtime_ns, store.cache_path.stat().st_mtime_ns)
    store.save(loaded)
    assert (path.stat().st_mtime_ns, store.cache_path.stat().st_mtime_ns) == before


def test_news_and_a_hand_edit_come_in_parts_with_everything_applied(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    items = _saved(path, FIRST_PART_SIZE + PART_SIZE + 10)
    items[3].record(parse_task({"task_id": "t3", "status": "failed"}), T0)
    WatchlistStore(path).save(items, write_cache=False)  # the dashboard's frequent save
    parts = list(WatchlistStore(path).load_parts())
    sizes = [len(part.entries) for part in parts]
    assert sizes == [FIRST_PART_SIZE, PART_SIZE, 10] and parts[-1].last
    assert _statuses([e for part in parts for e in part.entries]) == _statuses(items)

    # By hand: the TOML is parsed, each part takes its snapshots from the database.
    path.write_text(path.read_text().replace("]\n", '  {id = "x", kind = "task_id"},\n]\n'))
    store = WatchlistStore(path)
    parts = list(store.load_parts())
    count = len(items) + 1
    assert [(len(part.entries), part.total) for part in parts] == [
        (PART_SIZE, count),
        (count - PART_SIZE, count),
    ]
    loaded = [e for part in parts for e in part.entries]
    assert ids(loaded) == [*ids(items), "x"]
    assert _statuses(loaded) == [*_statuses(items), None]
    assert store.last_warnings == []  # a line added by hand needs no added_at


def test_a_damaged_row_gives_the_rest_from_the_toml_once_each(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    items = _saved(path, 2 * PART_SIZE + 5)
    with sqlite3.connect(WatchlistStore(path).cache_path) as db:
        # A flipped byte in an ID, in the second part: the row's checksum fails.
        db.execute("UPDATE watched SET key = 'task_id:T1500' WHERE key = 'task_id:t1500'")
    parts = [part.entries for part in WatchlistStore(path).load_parts()]
    loaded = [e for part in parts for e in part]
    assert ids(loaded) == ids(items)  # every task exactly once, in the file's order
    assert len(parts) >= 2 and _statuses(parts[0]) == _statuses(items[:FIRST_PART_SIZE])
    assert _statuses(loaded) == _statuses(items)  # the snapshots, by task, are intact


def test_no_file_gives_no_parts(tmp_path: Path) -> None:
    store = WatchlistStore(tmp_path / "none.toml")
    assert list(store.load_parts()) == []
    assert store.last_warnings == []


def _script_written(path: Path, count: int, *, odd_line: int | None = None) -> list[str]:
    """A list of IDs in the ``[[tasks]]`` form a script writes (no cache beside it);
    ``odd_line``: that task's ID line carries a comment (tomllib reads it, the line
    reader does not)."""
    names = [f"s{number}" for number in range(count)]
    lines = ["version = 1"]
    for number, name in enumerate(names):
        comment = " # by hand" if number == odd_line else ""
        lines += ["", "[[tasks]]", f'id = "{name}"{comment}']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return names


def test_a_script_written_list_is_handed_out_while_its_text_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.toml"
    names = _script_written(path, 3 * PART_SIZE + 10)
    pulled: list[object] = []
    reader = watchlist.plain_toml

    def counting(text: str) -> Iterator[tuple[str, Any]]:
        for item in reader(text):
            pulled.append(item)
            yield item

    monkeypatch.setattr(watchlist, "plain_toml", counting)
    parts = WatchlistStore(path).load_parts()
    first = next(parts)
    # Handed out after one part and one entry of the next were read, not the whole text.
    assert len(first.entries) == PART_SIZE and len(pulled) <= PART_SIZE + 2
    assert (first.last, first.total) == (False, len(names))
    rest = list(parts)
    assert [(len(part.entries), part.last) for part in rest] == [
        (PART_SIZE, False),
        (PART_SIZE, False),
        (10, True),
    ]
    assert rest[-1].total == len(names)
    assert ids([e for part in (first, *rest) for e in part.entries]) == names


def test_a_line_the_reader_leaves_to_tomllib_gives_the_rest_once_each(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    names = _script_written(path, 2 * PART_SIZE + 500, odd_line=PART_SIZE + 700)
    store = WatchlistStore(path)
    parts = list(store.load_parts())
    assert len(parts[0].entries) == PART_SIZE  # streamed before the odd line
    assert ids([e for part in parts for e in part.entries]) == names
    assert parts[-1].last and sum(len(part.entries) for part in parts) == len(names)


def test_a_list_broken_after_its_first_parts_says_so_after_them(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    _script_written(path, 2 * PART_SIZE + 500)
    with path.open("a", encoding="utf-8") as handle:
        handle.write('[[tasks]]\nid = "s0"\nid = "twice"\n')  # a key twice: not TOML
    parts = WatchlistStore(path).load_parts()
    assert len(next(parts).entries) == PART_SIZE
    with pytest.raises(WatchlistError, match="not valid TOML"):
        list(parts)
