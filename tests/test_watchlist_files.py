"""The watchlist store's files: concurrent writers, crashes, write failures and the cache."""

from __future__ import annotations

import errno
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from watchlist_fixtures import T0, entry, ids

from aireiter_tui.domain.models import parse_task
from aireiter_tui.domain.snapshot_db import SnapshotDB
from aireiter_tui.domain.watchlist import WatchlistError, WatchlistStore
from aireiter_tui.domain.watchlist_codec import HISTORY_LIMIT, WatchEntry

ROOT = Path(__file__).resolve().parents[1]


def run_child(script: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", script, *args], env=env)


CHILD_ADD = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry
store = WatchlistStore(Path(sys.argv[1]))
mine = []
for n in range(int(sys.argv[3])):
    mine.append(WatchEntry(TaskRef(IdKind.TASK_ID, f"{sys.argv[2]}-{n}"), None, datetime.now(UTC)))
    mine = [e for e in store.save(mine) if e.ref.id.startswith(sys.argv[2])]
"""


def test_concurrent_adds_from_two_processes(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    children = [run_child(CHILD_ADD, str(path), name, "15") for name in ("p", "q")]
    assert [child.wait() for child in children] == [0, 0]
    found = set(ids(WatchlistStore(path).load()))
    assert found == {f"{name}-{n}" for name in ("p", "q") for n in range(15)}


CHILD_SAVE_LOOP = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry
store = WatchlistStore(Path(sys.argv[1]))
now = datetime.now(UTC)
def make(n):
    out = []
    for i in range(n):
        e = WatchEntry(TaskRef(IdKind.TASK_ID, f"t{i}"), "x" * 50, now)
        e.record(parse_task({"task_id": f"t{i}", "status": "pending", "pad": "y" * 500}), now)
        out.append(e)
    return out
small, large = make(100), make(300)
n = 0
while True:
    n += 1
    store.save(small if n % 2 else large, removed=[e.ref for e in large[100:]] if n % 2 else ())
"""


def test_killed_mid_save_leaves_old_or_new(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    for _ in range(3):
        child = run_child(CHILD_SAVE_LOOP, str(path))
        seen: set[int] = set()
        while len(seen) < 4 and child.poll() is None:
            if path.exists():
                seen.add(path.stat().st_mtime_ns)
            time.sleep(0.005)  # polling for a condition, not waiting a fixed time
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert len(WatchlistStore(path).load()) in (100, 300)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    WatchlistStore(path).save([])
    assert [p.name for p in tmp_path.iterdir() if ".save-" in p.name] == []
    assert all(".cache." in name or ".save-" in name for name in leftovers)


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_write_failure_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    path = tmp_path / "watchlist.toml"
    store = WatchlistStore(path)
    store.save([entry("old")])
    before = path.read_bytes()

    def fail(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(WatchlistError) as caught:
        store.save([entry("old"), entry("new")])
    monkeypatch.undo()
    message = str(caught.value)
    assert str(path) in message and "no space left on device" in message
    assert "previous file is unchanged" in message
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert ids(WatchlistStore(path).load()) == ["old"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    store = WatchlistStore(folder / "watchlist.toml")
    store.save([entry("a")])
    before = store.path.read_bytes()
    folder.chmod(0o500)
    try:
        with pytest.raises(WatchlistError, match="permission denied"):
            store.save([entry("a"), entry("b")])
        assert store.path.read_bytes() == before
    finally:
        folder.chmod(0o700)


def test_damaged_or_hostile_cache_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    store = WatchlistStore(path)
    store.save([entry("a")])
    marker = tmp_path / "pwned"
    for blob in (
        b"garbage",
        pickle.dumps({"format": 2}),
        b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.",
    ):
        for stale in tmp_path.glob("watchlist.toml.db*"):
            stale.unlink()
        store.cache_path.write_bytes(blob)
        assert ids(WatchlistStore(path).load()) == ["a"]
        again = WatchlistStore(path)
        again.save([entry("a", "failed")])  # not a database: made again
        assert _status(WatchlistStore(path).load(), "a") == "failed"
    assert not marker.exists()


def _status(entries: list[WatchEntry], ident: str) -> str | None:
    (found,) = [e for e in entries if e.ref.id == ident]
    return found.task.status_label if found.task else None


def _cached(store: WatchlistStore, sql: str, *args: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(store.cache_path) as db:
        return db.execute(sql, args).fetchall()


def test_frequent_saves_write_only_the_snapshots_that_changed(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    store = WatchlistStore(path)
    items = [entry(name) for name in ("a", "b", "c")]
    store.save(items)
    toml = path.read_bytes()
    # A mark on every row that a write of that row would wipe out (in the failure's
    # excerpt: the only column a loaded task does not take, so the checksum leaves it out).
    _cached(store, "UPDATE snapshots SET failure = 'untouched'")

    items[1].record(parse_task({"task_id": "b", "status": "completed"}), T0)
    # A refresh that brings the same news in a new object is not worth a write.
    items[0].record(parse_task({"task_id": "a", "status": "pending"}), T0)
    store.save(items, write_cache=False)
    assert path.read_bytes() == toml  # the TOML holds no snapshots: untouched
    rows = _cached(store, "SELECT key, status, failure FROM snapshots ORDER BY key")
    assert rows == [
        ("task_id:a", "pending", "untouched"),
        ("task_id:b", "completed", None),
        ("task_id:c", "pending", "untouched"),
    ]
    assert [_status(WatchlistStore(path).load(), n) for n in "abc"] == [
        "pending",
        "completed",
        "pending",
    ]


def test_a_save_that_fails_half_way_leaves_the_last_one_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.toml"
    store = WatchlistStore(path)
    items = [entry("a"), entry("b")]
    store.save(items)
    items[0].record(parse_task({"task_id": "a", "status": "processing"}), T0)
    items[1].record(parse_task({"task_id": "b", "status": "failed"}), T0)
    written = SnapshotDB._write_snapshots

    def interrupted(*args: object) -> None:
        written(*args)  # type: ignore[arg-type]
        raise OSError(errno.EIO, "interrupted")

    monkeypatch.setattr(SnapshotDB, "_write_snapshots", interrupted)
    store.save(items, write_cache=False)  # the TOML is saved; the cache is a shortcut
    loaded = WatchlistStore(path).load()
    assert [_status(loaded, "a"), _status(loaded, "b")] == ["pending", "pending"]
    monkeypatch.undo()
    store.save(items, write_cache=False)  # everything the failed save held is written
    loaded = WatchlistStore(path).load()
    assert [_status(loaded, "a"), _status(loaded, "b")] == ["processing", "failed"]


def test_the_database_keeps_one_row_per_task_and_a_bounded_history(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    store = WatchlistStore(path)
    items = [entry("a"), entry("b"), entry("c")]
    store.save(items)
    for number in range(250):
        status = ("pending", "processing")[number % 2]
        items[0].record(parse_task({"task_id": "a", "status": status}), T0)
        store.save(items, write_cache=False)
    store.save(items[:2], [items[2].ref])  # c removed: its rows go with it
    assert _cached(store, "SELECT count(*) FROM snapshots") == [(2,)]
    assert _cached(store, "SELECT count(*) FROM watched") == [(2,)]
    assert _cached(store, "SELECT key, count(*) FROM history GROUP BY key") == [
        ("task_id:a", HISTORY_LIMIT),
        ("task_id:b", 1),
    ]
    assert _status(WatchlistStore(path).load(), "a") == "processing"


def test_a_hand_edited_toml_keeps_the_cached_snapshots(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    store = WatchlistStore(path)
    store.save([entry("a", "completed"), entry("b", "failed")])
    text = path.read_text(encoding="utf-8")
    text = text.replace('{id = "b", kind = "task_id",', '{id = "b", kind = "task_id", label = "x",')
    text = text.replace(
        "]\n", '  {id = "new", kind = "task_id", added_at = 2026-01-01T00:00:00Z},\n]\n'
    )
    path.write_text(text, encoding="utf-8")
    loaded = WatchlistStore(path).load()
    assert ids(loaded) == ["a", "b", "new"]
    assert [_status(loaded, n) for n in ("a", "b", "new")] == ["completed", "failed", None]
    assert loaded[1].label == "x"
