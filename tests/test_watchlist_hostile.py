"""Odd and hostile watchlist files, round two (issue 13).

The watchlist as a symlink, a FIFO, a directory or a device; a read-only watchlist and the
mode the user gave it; a snapshot cache cut short, flipped, replaced by random bytes or by
pickles of the wrong shape; a snapshot too deeply nested to pickle; a label of megabytes.
What the user owns (the IDs and labels in the TOML) must come through every one of them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from watchlist_fixtures import REFERENCE, T0, entry, ids

from aireiter_tui.cli import main
from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.monitor import Monitor
from aireiter_tui.domain.watchlist import WatchlistError, WatchlistStore
from aireiter_tui.domain.watchlist_cache import dump_base, dump_frame, read_cache
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
        assert [ids(part) for part, _ in WatchlistStore(path).load_parts()] == [["a"]]
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


# --- 3: a damaged snapshot cache ---------------------------------------------------------

LABELS = {"alpha": "first one", "bravo": None, "charlie": "third"}


def _golden(folder: Path) -> tuple[Path, list[WatchEntry]]:
    """A watchlist of three with a base and one journal frame in its cache."""
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


#: What each task's status may be after any damage: as in the base, as the journal
#: has it, or unknown (the task is queried again).
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


def _exercise(path: Path) -> None:
    """Start-up both ways and a save, each on a new store, with the cache as it is now."""
    cache, toml = path.with_name(path.name + ".cache"), path.read_bytes()
    damaged = cache.read_bytes() if cache.exists() else None
    _assert_owned_intact(WatchlistStore(path).load())
    _assert_owned_intact([e for part, _ in WatchlistStore(path).load_parts() for e in part])
    store = WatchlistStore(path)
    store.save(store.load())  # the dashboard's save, and its save on quit
    if damaged is not None:
        cache.write_bytes(damaged)
    store = WatchlistStore(path)
    store.save(store.load(), write_cache=False)
    # The TOML still holds exactly what the user owns (read without any cache).
    cache.unlink(missing_ok=True)
    _assert_owned_intact(WatchlistStore(path).load())
    path.write_bytes(toml)


def test_a_cache_cut_at_any_offset_is_a_shortcut_missed_and_later_news_is_kept(
    tmp_path: Path,
) -> None:
    path, _ = _golden(tmp_path)
    cache = path.with_name(path.name + ".cache")
    good, toml = cache.read_bytes(), path.read_bytes()
    for cut in range(len(good)):
        cache.write_bytes(good[:cut])
        _exercise(path)
        # News saved after a cut (a crash mid-append) must be read back, not appended
        # behind the damaged frame where no reader ever gets to it.
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
        st.integers(0, 5000),
        st.integers(1, 255),
    ),
    st.tuples(st.just("splice"), st.integers(0, 5000), st.binary(min_size=1, max_size=40)),
    st.tuples(st.just("random"), st.binary(max_size=600)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damage=DAMAGE)
@example(damage=("flip", b"bravo", 0, 0x20))  # still unpickles, as the ID "Bravo"
@example(damage=("flip", b"charlie", 1, 0x01))
@example(damage=("flip", b"first one", 0, 0x01))
@example(damage=("random", b"\x80\x05garbage"))
def test_any_damage_to_the_cache_only_misses_the_shortcut(damage: tuple[Any, ...]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path, _ = _golden(Path(folder))
        cache = path.with_name(path.name + ".cache")
        cache.write_bytes(_damaged(cache.read_bytes(), damage))
        _exercise(path)


def _naive(when: datetime) -> datetime:
    return when.replace(tzinfo=None)


#: Values of the wrong type (or shape) for a field: each must make the cache not taken.
JUNK: list[Any] = [
    None,
    5,
    "yesterday",
    b"raw",
    [1, 2],
    {"a": 1},
    ("t",),
    _naive(T0),
    T0.astimezone(timezone(timedelta(hours=-23))),  # the times here are all in UTC
    "x" * 501,
    TaskRef(IdKind.TASK_ID, "alpha"),
]
ENTRY_FIELDS = ["ref", "label", "added_at", "task", "checked_at", "history"]
TASK_FIELDS = [
    "task_id",
    "status",
    "status_raw",
    "created_at",
    "completed_at",
    "input",
    "outputs",
    "failure",
    "credits_used",
    "metadata",
    "warnings",
    "outputs_omitted",
]


def _spoiled(item: WatchEntry, where: str, name: str, junk: Any) -> WatchEntry:
    if where == "entry":
        return dataclasses.replace(item, **{name: junk})
    if where == "history":
        return dataclasses.replace(item, history=[dataclasses.replace(item.history[0], at=junk)])
    assert item.task is not None
    task = item.task
    if where == "input":
        assert task.input is not None
        task = dataclasses.replace(task, input=dataclasses.replace(task.input, **{name: junk}))
    elif where == "output":
        output = dataclasses.replace(task.outputs[0], **{name: junk})
        task = dataclasses.replace(task, outputs=(output,))
    else:
        task = dataclasses.replace(task, **{name: junk})
    return dataclasses.replace(item, task=task)


INPUT_FIELDS = [
    "model",
    "params",
    "attachments",
    "url_lists",
    "attachments_omitted",
    "url_lists_omitted",
]
SPOTS = st.one_of(
    st.tuples(st.just("entry"), st.sampled_from(ENTRY_FIELDS)),
    st.tuples(st.just("task"), st.sampled_from(TASK_FIELDS)),
    st.tuples(st.just("input"), st.sampled_from(INPUT_FIELDS)),
    st.tuples(st.just("output"), st.sampled_from(["url", "kind"])),
    st.tuples(st.just("history"), st.just("at")),
)


@settings(max_examples=200, deadline=None)
@given(spot=SPOTS, junk=st.sampled_from(JUNK), in_journal=st.booleans())
@example(spot=("entry", "added_at"), junk="yesterday", in_journal=False)
@example(spot=("entry", "label"), junk=5, in_journal=False)
@example(spot=("entry", "label"), junk=["a list"], in_journal=False)
@example(spot=("task", "created_at"), junk=_naive(T0), in_journal=True)
@example(spot=("entry", "task"), junk="completed", in_journal=True)
def test_a_cache_of_the_wrong_shapes_is_never_taken_in(
    spot: tuple[str, str], junk: Any, in_journal: bool
) -> None:
    """Well-formed frames (written by the cache's own writer) of the wrong shapes: a field
    of the wrong type would crash whatever reads it first, far from the file."""
    where, name = spot
    # No label, or another string as label, is a valid base, not a wrong shape: a cache
    # that holds the TOML's digest is believed for what it holds (found by CI's draw).
    assume(not (spot == ("entry", "label") and (junk is None or isinstance(junk, str))))
    with tempfile.TemporaryDirectory() as folder:
        path, items = _golden(Path(folder))
        cache = path.with_name(path.name + ".cache")
        found = read_cache(cache)
        assert found is not None
        spoiled = [_spoiled(items[0], where, name, junk), *items[1:]]
        if in_journal:
            with cache.open("ab") as handle:
                handle.write(dump_frame(spoiled[:1]))
        else:
            cache.write_bytes(dump_base(found.header.digest, spoiled, []))
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


# --- 4: a snapshot that cannot be pickled ---------------------------------------------


def _nested(depth: int) -> list[Any]:
    deep: list[Any] = []
    for _ in range(depth):
        deep = [deep]
    return deep


def _status(entries: list[WatchEntry]) -> list[str | None]:
    return [e.task.status_label if e.task else None for e in entries]


def test_a_snapshot_too_deep_to_pickle_costs_only_its_own_entry(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    deep = WatchEntry(TaskRef(IdKind.TASK_ID, "deep"), "nested", T0)
    reply = {"task_id": "deep", "status": "processing", "metadata": {"x": _nested(100_000)}}
    deep.record(parse_task(reply), T0)
    items = [entry("a", "completed"), deep, entry("c", "failed")]
    store = WatchlistStore(path)
    store.save(items)  # as on quit: the cache written whole

    loaded = WatchlistStore(path).load()
    assert [(e.ref.id, e.label) for e in loaded] == [("a", None), ("deep", "nested"), ("c", None)]
    assert _status(loaded) == ["completed", None, "failed"]  # the deep one is queried again

    # The frequent saves' journal: the deep reply again, beside news of the others.
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
        lambda store: [e for part, _ in store.load_parts() for e in part],
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
