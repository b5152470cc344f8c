"""The watchlist read in parts (``WatchlistStore.load_parts``), as the dashboard starts."""

from __future__ import annotations

from pathlib import Path

from watchlist_fixtures import T0, entry, ids

from aireiter_tui.domain.models import parse_task
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_cache import PART_SIZE
from aireiter_tui.domain.watchlist_codec import WatchEntry


def _saved(path: Path, count: int) -> list[WatchEntry]:
    items = [entry(f"t{number}", ("pending", "completed")[number % 2]) for number in range(count)]
    WatchlistStore(path).save(items)
    return items


def _statuses(entries: list[WatchEntry]) -> list[str | None]:
    return [e.task.status_label if e.task else None for e in entries]


def test_a_valid_cache_is_read_in_parts_with_the_same_entries_as_load(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    items = _saved(path, 2 * PART_SIZE + 500)
    store = WatchlistStore(path)
    parts = list(store.load_parts())
    assert [(len(part), last) for part, last in parts] == [
        (PART_SIZE, False),
        (PART_SIZE, False),
        (500, True),
    ]
    loaded = [e for part, _ in parts for e in part]
    assert ids(loaded) == ids(items) and _statuses(loaded) == _statuses(items)
    assert loaded == WatchlistStore(path).load()
    # The store knows the file it read: a save with no changes writes nothing.
    before = (path.stat().st_mtime_ns, store.cache_path.stat().st_mtime_ns)
    store.save(loaded)
    assert (path.stat().st_mtime_ns, store.cache_path.stat().st_mtime_ns) == before


def test_a_journal_or_a_hand_edit_means_one_part_with_everything_applied(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    items = _saved(path, PART_SIZE + 10)
    items[3].record(parse_task({"task_id": "t3", "status": "failed"}), T0)
    WatchlistStore(path).save(items, write_cache=False)  # appends a journal frame
    ((part, last),) = list(WatchlistStore(path).load_parts())
    assert _statuses(part) == _statuses(items) and last

    path.write_text(path.read_text().replace("]\n", '  {id = "x", kind = "task_id"},\n]\n'))
    store = WatchlistStore(path)
    ((part, _),) = list(store.load_parts())
    assert ids(part) == [*ids(items), "x"]
    assert _statuses(part) == [*_statuses(items), None]
    assert store.last_warnings == []  # a line added by hand needs no added_at


def test_a_damaged_part_gives_the_rest_from_the_toml_once_each(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    items = _saved(path, 2 * PART_SIZE + 5)
    cache = WatchlistStore(path).cache_path
    blob = bytearray(cache.read_bytes())
    middle = len(blob) * 2 // 3  # inside the second or third part; the size is unchanged
    blob[middle : middle + 64] = b"\x00" * 64
    cache.write_bytes(bytes(blob))
    parts = [part for part, _ in WatchlistStore(path).load_parts()]
    loaded = [e for part in parts for e in part]
    assert ids(loaded) == ids(items)  # every task exactly once, in the file's order
    assert len(parts) >= 2 and _statuses(parts[0]) == _statuses(items[:PART_SIZE])
    assert all(e.task is None for e in parts[-1])  # the rest is queried again


def test_no_file_gives_no_parts(tmp_path: Path) -> None:
    store = WatchlistStore(tmp_path / "none.toml")
    assert list(store.load_parts()) == []
    assert store.last_warnings == []
