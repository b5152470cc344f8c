"""Odd and hostile watchlist files, round two (issue 13).

The watchlist as a symlink, a FIFO, a directory or a device; a read-only watchlist and the
mode the user gave it; a snapshot database cut short, flipped, replaced by random bytes or
holding values of the wrong types; a snapshot too deeply nested to write; a label of
megabytes.
What the user owns (the IDs and labels in the TOML) must come through every one of them.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from watchlist_fixtures import REFERENCE, T0, entry, ids

from aireiter_tui.cli import main
from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.monitor import Monitor
from aireiter_tui.domain.watchlist import WatchlistError, WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry

T1 = T0 + timedelta(minutes=5)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(*folders: Path) -> list[str]:
    return [p.name for folder in folders for p in folder.iterdir() if p.name.endswith(".tmp")]


# --- 1a: a symlink is written through -----------------------------------------------------


def test_a_symlinked_watchlist_is_written_through_keeping_the_targets_mode(
    tmp_path: Path,
) -> None:
    dotfiles, data = tmp_path / "dotfiles", tmp_path / "data"
    dotfiles.mkdir()
    data.mkdir()
    target = dotfiles / "watchlist.toml"
    WatchlistStore(target).save([entry("a")])
    target.chmod(0o640)
    link = data / "watchlist.toml"
    link.symlink_to("../dotfiles/watchlist.toml")  # relative, as dotfile managers make them

    store = WatchlistStore(link)
    assert ids(store.load()) == ["a"]
    store.save([entry("a"), entry("b")])

    assert link.is_symlink() and os.readlink(link) == "../dotfiles/watchlist.toml"
    assert ids(WatchlistStore(target).load()) == ["a", "b"]  # the target has the news
    assert mode_of(target) == 0o640
    assert leftovers(dotfiles, data) == []
    assert not store.changed_on_disk()  # what it wrote is what it knows


def test_a_dangling_symlink_gets_its_target_created(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    link = tmp_path / "watchlist.toml"
    link.symlink_to(tmp_path / "elsewhere" / "list.toml")
    store = WatchlistStore(link)
    assert store.load() == []
    store.save([entry("a")])
    assert link.is_symlink()
    assert ids(WatchlistStore(tmp_path / "elsewhere" / "list.toml").load()) == ["a"]


# --- 1b: a FIFO, a directory, a device ----------------------------------------------------


@contextlib.contextmanager
def fifo_opened_watch(fifo: Path) -> Iterator[list[bool]]:
    """Yield a list that gets an item if anyone opens ``fifo`` for reading.

    A writer waits on the FIFO: a reader's open lets it in, and it closes at once, so a
    reader gets an empty read instead of blocking the test forever. On leaving, a reader
    of our own lets the writer go if no one came (through a second name: the FIFO's own
    may have been replaced by a regular file meanwhile).
    """
    keeper = fifo.with_name(f".{fifo.name}.keeper")
    os.link(fifo, keeper)
    opened: list[bool] = []

    def writer() -> None:
        fd = os.open(keeper, os.O_WRONLY)  # blocks until a reader opens the FIFO
        opened.append(True)
        os.close(fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        yield opened
    finally:
        ours = os.open(keeper, os.O_RDONLY | os.O_NONBLOCK)
        thread.join()
        os.close(ours)
        keeper.unlink()


def test_a_fifo_as_the_watchlist_is_refused_without_being_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "watchlist.toml"
    os.mkfifo(fifo)
    store = WatchlistStore(fifo)
    words = "is a named pipe (FIFO), not a regular file; it is not read or written"
    with fifo_opened_watch(fifo) as opened:
        with pytest.raises(WatchlistError, match=r"named pipe \(FIFO\), not a regular file"):
            store.load()
        assert not opened
        with pytest.raises(WatchlistError, match="not a regular file"):
            next(store.load_parts())
        with pytest.raises(WatchlistError, match="not a regular file"):
            store.save([entry("a")])
        monkeypatch.setenv("AIREITER_TUI_CONFIG", str(tmp_path / "config.toml"))
        for name in ("AIREITER_API_KEY", "AIREITER_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
        assert main(["--watchlist", str(fifo), "list"]) == 2
        assert f"{fifo}: {words}" in capsys.readouterr().err
        assert not opened
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda path: path.mkdir(), "a directory"),
        (lambda path: path.symlink_to(os.devnull), "a character device"),
    ],
    ids=["directory", "symlink-to-dev-null"],
)
def test_a_directory_or_a_device_as_the_watchlist_is_refused(
    tmp_path: Path, make: Any, kind: str
) -> None:
    path = tmp_path / "watchlist.toml"
    make(path)
    before = path.lstat()
    store = WatchlistStore(path)
    for attempt in (store.load, lambda: next(store.load_parts())):
        with pytest.raises(WatchlistError, match=f"is {kind}, not a regular file"):
            attempt()
    with pytest.raises(WatchlistError, match=f"is {kind}, not a regular file"):
        store.save([entry("a")])
    after = path.lstat()
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_a_fifo_as_the_cache_is_never_waited_on(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    WatchlistStore(path).save([entry("a", "completed")])
    cache = WatchlistStore(path).cache_path
    cache.unlink()
    os.mkfifo(cache)
    with fifo_opened_watch(cache) as opened:
        store = WatchlistStore(path)
        assert ids(store.load()) == ["a"]
        assert not opened  # (an open for reading would have waited for a writer)
        assert [ids(part.entries) for part in WatchlistStore(path).load_parts()] == [["a"]]
        store.save([entry("a", "failed")])
        assert not opened
    assert stat.S_ISREG(cache.lstat().st_mode)  # the cache is ours: replaced
    assert WatchlistStore(path).load()[0].task is not None


# --- 1c and 2: read-only files, and the mode the user gave the file -------------------


def test_a_read_only_watchlist_is_not_replaced_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    WatchlistStore(path).save([entry("a")])
    path.chmod(0o444)
    before, inode = path.read_bytes(), path.stat().st_ino
    store = WatchlistStore(path)
    loaded = store.load()
    loaded[0].record(parse_task({"task_id": "a", "status": "completed"}), T1)
    store.save(loaded)  # only snapshots changed: the TOML need not be written
    with pytest.raises(WatchlistError) as caught:
        store.save([*loaded, entry("b")])
    assert str(caught.value) == f"{path} is read-only; changes are not saved"
    assert path.read_bytes() == before and path.stat().st_ino == inode
    assert mode_of(path) == 0o444
    assert leftovers(tmp_path) == []
    assert WatchlistStore(path).load()[0].task is not None  # the cache still took the news


async def test_the_monitor_reports_a_read_only_watchlist_once_and_keeps_the_change(
    tmp_path: Path,
) -> None:
    path = tmp_path / "watchlist.toml"
    WatchlistStore(path).save([entry("a")])
    path.chmod(0o444)
    monitor = Monitor(WatchlistStore(path), Settings())
    monitor.load()
    monitor.add([TaskRef(IdKind.TASK_ID, "b")])
    assert await monitor.save() is None
    error = monitor.take_changes().save_error
    assert error is not None and "is read-only; changes are not saved" in error
    assert monitor.session.dirty  # kept, to be saved once the file is writable
    path.chmod(0o644)
    assert await monitor.save() is not None
    assert ids(WatchlistStore(path).load()) == ["a", "b"]
    assert mode_of(path) == 0o644


def test_a_save_keeps_the_mode_the_user_gave_the_file(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    store = WatchlistStore(path)
    store.save([entry("a")])
    assert mode_of(path) == 0o600  # a new file is private
    names = ["a"]
    for mode in (0o644, 0o640, 0o660, 0o600):
        path.chmod(mode)
        names.append(f"n{mode:o}")
        store.save([entry(name) for name in names])
        assert ids(WatchlistStore(path).load()) == names
        assert mode_of(path) == mode


# --- 3: a damaged snapshot database -----------------------------------------------------

LABELS = {"alpha": "first one", "bravo": None, "charlie": "third"}


def _golden(folder: Path) -> tuple[Path, list[WatchEntry]]:
    """A watchlist of three with its database, after a save on quit and a frequent save."""
    path = folder / "watchlist.toml"
    items = [entry("alpha", "completed"), entry("bravo"), entry("charlie", "failed")]
    items[0].record(parse_task(REFERENCE | {"task_id": "alpha"}), T0)
    for item in items:
        item.label = LABELS[item.ref.id]
    store = WatchlistStore(path)
    store.save(items)
    items[1].record(parse_task({"task_id": "bravo", "status": "processing"}), T1)
    store.save(items, write_cache=False)
    return path, items


#: What each task's status may be after any damage: as first saved, as the frequent save
#: had it, or unknown (the task is queried again).
ALLOWED = {
    "alpha": {"completed", None},
    "bravo": {"pending", "processing", None},
    "charlie": {"failed", None},
}


def _assert_owned_intact(entries: list[WatchEntry]) -> None:
    assert [(e.ref, e.label) for e in entries] == [
        (TaskRef(IdKind.TASK_ID, name), label) for name, label in LABELS.items()
    ]
    for item in entries:
        status = item.task.status_label if item.task is not None else None
        assert status in ALLOWED[item.ref.id]
        assert all(isinstance(change.at, datetime) for change in item.history)


def _database(path: Path) -> Path:
    return path.with_name(path.name + ".db")


def _exercise(path: Path) -> None:
    """Start-up both ways and a save, each on a new store, with the database as it is now."""
    cache, toml = _database(path), path.read_bytes()
    damaged = cache.read_bytes() if cache.exists() else None
    _assert_owned_intact(WatchlistStore(path).load())
    _assert_owned_intact([e for part in WatchlistStore(path).load_parts() for e in part.entries])
    store = WatchlistStore(path)
    store.save(store.load())  # the dashboard's save, and its save on quit
    _assert_owned_intact(WatchlistStore(path).load())
    if damaged is not None:
        cache.write_bytes(damaged)
    store = WatchlistStore(path)
    store.save(store.load(), write_cache=False)
    # The TOML still holds exactly what the user owns (read without any cache).
    cache.unlink(missing_ok=True)
    _assert_owned_intact(WatchlistStore(path).load())
    path.write_bytes(toml)


def test_a_database_cut_at_any_page_is_a_shortcut_missed_and_later_news_is_kept(
    tmp_path: Path,
) -> None:
    path, _ = _golden(tmp_path)
    cache = _database(path)
    good, toml = cache.read_bytes(), path.read_bytes()
    assert not cache.with_name(cache.name + "-wal").exists()  # all in the file itself
    for cut in sorted({*range(0, len(good), 1024), 1, 99, 100, 101, len(good) - 1}):
        cache.write_bytes(good[:cut])
        _exercise(path)
        # News saved after a cut must be read back: the file is made again.
        cache.write_bytes(good[:cut])
        store = WatchlistStore(path)
        loaded = store.load()
        loaded[2].record(parse_task({"task_id": "charlie", "status": "completed"}), T1)
        store.save(loaded, write_cache=False)
        again = WatchlistStore(path).load()
        assert again[2].task is not None and again[2].task.status_label == "completed", cut
        path.write_bytes(toml)


def _damaged(good: bytes, damage: tuple[Any, ...]) -> bytes:
    kind = damage[0]
    if kind == "flip":  # (anchor text, offset after it, xor): a flip where it matters
        _, anchor, offset, xor = damage
        blob = bytearray(good)
        at = (max(blob.find(anchor), 0) + offset) % len(blob)
        blob[at] ^= xor
        return bytes(blob)
    if kind == "splice":  # random bytes over part of the file
        _, offset, junk = damage
        at = offset % len(good)
        return good[:at] + bytes(junk) + good[at + len(junk) :]
    return bytes(damage[1])  # "random": the whole file


DAMAGE = st.one_of(
    st.tuples(
        st.just("flip"),
        st.sampled_from([b"", b"alpha", b"bravo", b"charlie", b"first one", b"processing"]),
        st.integers(0, 40_000),
        st.integers(1, 255),
    ),
    st.tuples(st.just("splice"), st.integers(0, 40_000), st.binary(min_size=1, max_size=40)),
    st.tuples(st.just("random"), st.binary(max_size=600)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damage=DAMAGE)
@example(damage=("flip", b"bravo", 0, 0x20))  # the ID "Bravo"
@example(damage=("flip", b"charlie", 1, 0x01))
@example(damage=("flip", b"first one", 0, 0x01))
@example(damage=("flip", b"", 60, 0x01))  # the schema version
@example(damage=("random", b"SQLite format 3\x00garbage"))
def test_any_damage_to_the_database_only_misses_the_shortcut(damage: tuple[Any, ...]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path, _ = _golden(Path(folder))
        cache = _database(path)
        cache.write_bytes(_damaged(cache.read_bytes(), damage))
        _exercise(path)


#: Values of the wrong type (or shape) for a column: each must make the row not taken.
JUNK: list[Any] = [None, 5, 2.5, "yesterday", b"raw", "x" * 501, -(2**62), 2**62]
COLUMNS = {
    "watched": ["key", "position", "label", "added_at", "estimated_credits", "retry_of"],
    "snapshots": [
        "key",
        "status",
        "model",
        "prompt",
        "created_at",
        "completed_at",
        "credits",
        "outputs",
        "checked_at",
        "failure",
        "reply",
        "checksum",
    ],
    "history": ["status", "at"],
}
SPOTS = st.sampled_from([(table, name) for table, names in COLUMNS.items() for name in names])


@settings(max_examples=200, deadline=None)
@given(spot=SPOTS, junk=st.sampled_from(JUNK))
@example(spot=("watched", "added_at"), junk="yesterday")
@example(spot=("watched", "label"), junk=5)
@example(spot=("snapshots", "checked_at"), junk="yesterday")
@example(spot=("snapshots", "reply"), junk='{"status": 5}')
@example(spot=("history", "at"), junk=2**62)
def test_a_database_of_the_wrong_types_is_never_taken_in(spot: tuple[str, str], junk: Any) -> None:
    """Values another program (or a damaged page) put where ours were: a value of the
    wrong type would crash whatever reads it first, far from the file."""
    table, name = spot
    with tempfile.TemporaryDirectory() as folder:
        path, _ = _golden(Path(folder))
        with contextlib.closing(sqlite3.connect(_database(path))) as db, db:
            db.execute(f"UPDATE {table} SET {name} = ? WHERE key = 'task_id:alpha'", (junk,))
        _exercise(path)


def test_a_time_at_the_edge_of_the_range_in_another_offset_is_read_in_utc(
    tmp_path: Path,
) -> None:
    path = tmp_path / "watchlist.toml"
    path.write_text(
        "version = 1\ntasks = [\n"
        '  {id = "a", added_at = 0001-01-01T00:00:00+23:00},\n'
        '  {id = "b", added_at = 9999-12-31T23:59:59-23:00},\n'
        '  {id = "c", added_at = 2025-12-18T12:12:11+02:00},\n'
        "]\n",
        encoding="utf-8",
    )
    store = WatchlistStore(path)
    loaded = store.load()
    assert store.last_warnings == [
        "task a: no valid added_at, using the current time",
        "task b: no valid added_at, using the current time",
    ]
    assert loaded[2].added_at == T0 and loaded[2].added_at.tzinfo is UTC
    store.save(loaded)  # (written back in UTC, the first two raised OverflowError)
    assert [e.added_at for e in WatchlistStore(path).load()] == [e.added_at for e in loaded]


# --- 4: a snapshot that cannot be written ---------------------------------------------


def _nested(depth: int) -> list[Any]:
    deep: list[Any] = []
    for _ in range(depth):
        deep = [deep]
    return deep


def _status(entries: list[WatchEntry]) -> list[str | None]:
    return [e.task.status_label if e.task else None for e in entries]


def test_a_snapshot_too_deep_to_write_costs_only_its_own_entry(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    deep = WatchEntry(TaskRef(IdKind.TASK_ID, "deep"), "nested", T0)
    reply = {"task_id": "deep", "status": "processing", "metadata": {"x": _nested(100_000)}}
    deep.record(parse_task(reply), T0)
    items = [entry("a", "completed"), deep, entry("c", "failed")]
    store = WatchlistStore(path)
    store.save(items)  # as on quit

    loaded = WatchlistStore(path).load()
    assert [(e.ref.id, e.label) for e in loaded] == [("a", None), ("deep", "nested"), ("c", None)]
    assert _status(loaded) == ["completed", None, "failed"]  # the deep one is queried again

    # A frequent save: the deep reply again, beside news of the others.
    items[0].record(parse_task({"task_id": "a", "status": "failed"}), T1)
    deep.record(parse_task(reply | {"status": "completed"}), T1)
    items[2].record(parse_task({"task_id": "c", "status": "completed"}), T1)
    store.save(items, write_cache=False)
    assert _status(WatchlistStore(path).load()) == ["failed", None, "completed"]
    store.save(items)
    assert _status(WatchlistStore(path).load()) == ["failed", None, "completed"]


# --- 5: a label of megabytes --------------------------------------------------------------


def test_a_huge_label_is_cut_when_read_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    huge = "x" * 10_000_000
    path.write_text(
        "version = 1\ntasks = [\n"
        f'  {{id = "a", label = "{huge}"}},\n  {{id = "b", label = "ok"}},\n]\n',
        encoding="utf-8",
    )
    warning = "task a: the label is 10,000,000 characters long; it was cut to 500"
    for read in (
        lambda store: store.load(),
        lambda store: [e for part in store.load_parts() for e in part.entries],
    ):
        store = WatchlistStore(path)
        loaded = read(store)
        assert [len(e.label or "") for e in loaded] == [500, 2]
        assert loaded[0].label == "x" * 499 + "…"
        assert store.last_warnings == [warning]

    store = WatchlistStore(path)
    store.save(store.load())
    assert path.stat().st_size < 1000
    store = WatchlistStore(path)
    assert store.load()[0].label == "x" * 499 + "…" and store.last_warnings == []


def test_a_long_label_saved_by_a_script_never_reaches_the_file_or_the_cache(
    tmp_path: Path,
) -> None:
    path = tmp_path / "watchlist.toml"
    item = entry("a")
    item.label = "y" * 5000
    WatchlistStore(path).save([item])
    assert path.stat().st_size < 1000
    store = WatchlistStore(path)
    assert store.load()[0].label == "y" * 499 + "…"  # read through the cache
    assert store.last_warnings == []
    assert item.label == "y" * 5000  # the caller's entry is not changed
