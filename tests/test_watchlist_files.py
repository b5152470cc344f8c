"""The watchlist store's files: concurrent writers, crashes, write failures and the cache."""

from __future__ import annotations

import errno
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.watchlist import WatchEntry, WatchlistError, WatchlistStore
from tests.watchlist_fixtures import T0, entry, ids

ROOT = Path(__file__).resolve().parents[1]


def run_child(script: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", script, *args], env=env)


CHILD_ADD = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.watchlist import WatchEntry, WatchlistStore
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
from aireiter_tui.domain.watchlist import WatchEntry, WatchlistStore
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
        store.cache_path.write_bytes(blob)
        assert ids(WatchlistStore(path).load()) == ["a"]
    assert not marker.exists()


def test_saves_without_the_cache_drop_a_stale_one_and_a_later_save_writes_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "w.toml"
    store = WatchlistStore(path)
    first = [WatchEntry(ref=TaskRef(IdKind.TASK_ID, "a"), label=None, added_at=T0)]
    store.save(first)
    assert store.cache_path.exists()
    more = [*first, WatchEntry(ref=TaskRef(IdKind.TASK_ID, "b"), label=None, added_at=T0)]
    store.save(more, write_cache=False)
    assert not store.cache_path.exists()  # a stale cache must never be left behind
    assert [e.ref.id for e in WatchlistStore(path).load()] == ["a", "b"]
    store.save(more)  # nothing changed in the file, but the cache is due
    assert store.cache_path.exists()
    assert [e.ref.id for e in WatchlistStore(path).load()] == ["a", "b"]
