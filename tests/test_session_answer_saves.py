"""A save of answers alone writes their snapshots and nothing else: no read of the file,
no merge, no TOML (at 100,000 rows the whole save cost some 0.45 s of CPU every few
seconds while tasks were polled, and key presses waited for it). Anything else (a row
added, removed, relabelled, a file changed by someone else, a failed write) makes the
next save a whole one."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from watchlist_fixtures import T0

from aireiter_tui.domain.loading import PartLoader
from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.session import Session
from aireiter_tui.domain.snapshot_db import FIRST_PART_SIZE, PART_SIZE, SnapshotDB
from aireiter_tui.domain.watchlist import WatchlistStore


def _ref(ident: str) -> TaskRef:
    return TaskRef(IdKind.TASK_ID, ident)


def _answer(session: Session, ident: str, status: str) -> None:
    session.apply(_ref(ident), parse_task({"task_id": ident, "status": status}), None)


def _session(path: Path, count: int = 5) -> Session:
    session = Session(WatchlistStore(path), lambda: T0)
    session.add([_ref(f"t{number}") for number in range(count)])
    for number in range(count):
        _answer(session, f"t{number}", "processing")
    session.save(write_cache=False)
    return session


def _save(session: Session) -> None:
    snapshot = session.snapshot()
    session.take_saved(snapshot, session.write(snapshot, write_cache=False))


def _statuses(path: Path) -> dict[str, str]:
    """What a new start reads back: each task's status."""
    store = WatchlistStore(path)
    return {item.ref.id: item.task.status.value if item.task else "-" for item in store.load()}


def _full_saves(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    save = WatchlistStore.save

    def counting(self: WatchlistStore, *args: object, **kwargs: object) -> object:
        calls.append(1)
        return save(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(WatchlistStore, "save", counting)
    return calls


def test_answers_alone_write_their_snapshots_and_leave_the_list_file_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.toml"
    session = _session(path)
    before = os.stat(path)
    full = _full_saves(monkeypatch)
    _answer(session, "t1", "completed")
    _answer(session, "t3", "failed")
    _save(session)
    after = os.stat(path)
    assert full == []
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert _statuses(path) == {
        "t0": "processing",
        "t1": "completed",
        "t2": "processing",
        "t3": "failed",
        "t4": "processing",
    }


@pytest.mark.parametrize("edit", ["add", "remove", "label"])
def test_a_change_to_the_list_makes_the_next_save_a_whole_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: str
) -> None:
    path = tmp_path / "w.toml"
    session = _session(path)
    full = _full_saves(monkeypatch)
    _answer(session, "t1", "completed")
    if edit == "add":
        session.add([_ref("new")])
    elif edit == "remove":
        session.remove(["task_id:t2"])
    else:
        session.set_label("task_id:t0", "renamed")
    _save(session)
    assert full == [1]
    text = path.read_text("utf-8")
    assert ('"new"' in text) is (edit == "add")
    assert ('"t2"' in text) is (edit != "remove")
    assert ('"renamed"' in text) is (edit == "label")
    assert _statuses(path)["t1"] == "completed"
    # and the save after that, of answers alone, is quick again
    _answer(session, "t4", "completed")
    _save(session)
    assert full == [1]
    assert _statuses(path)["t4"] == "completed"


def test_a_file_changed_by_another_program_is_merged_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.toml"
    session = _session(path)
    # another program adds a task (as `aireiter-tui add` does)
    theirs = Session(WatchlistStore(path), lambda: T0)
    theirs.adopt(theirs.store.load())  # type: ignore[union-attr]
    theirs.add([_ref("theirs")])
    theirs.save(write_cache=False)
    full = _full_saves(monkeypatch)
    _answer(session, "t1", "completed")
    _save(session)
    assert full == [1]
    assert "task_id:theirs" in session.rows
    assert _statuses(path)["t1"] == "completed"


def test_a_failed_write_makes_the_next_save_a_whole_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.toml"
    session = _session(path)
    _answer(session, "t1", "completed")

    def broken(self: SnapshotDB, connection: sqlite3.Connection, *args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as patch:
        patch.setattr(SnapshotDB, "_write_snapshots", broken)
        _save(session)  # the list is saved, the snapshots' write fails
    full = _full_saves(monkeypatch)
    _answer(session, "t2", "completed")
    _save(session)
    assert full == [1]
    statuses = _statuses(path)
    assert (statuses["t1"], statuses["t2"]) == ("completed", "completed")


def _started(path: Path) -> Session:
    """A new start on the list at ``path``, read whole as the dashboard reads it."""
    session = Session(WatchlistStore(path), lambda: T0)
    PartLoader(session).finish()
    return session


def test_the_first_save_after_a_start_from_the_database_copy_writes_answers_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.toml"
    _session(path)
    session = _started(path)
    full = _full_saves(monkeypatch)
    before = os.stat(path)
    _answer(session, "t2", "completed")
    _save(session)
    assert full == []
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns
    assert _statuses(path)["t2"] == "completed"


def test_a_list_read_from_its_text_or_changed_while_read_is_saved_whole_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.toml"
    _session(path)
    path.with_name("w.toml.db").unlink()  # no copy: read from the text
    full = _full_saves(monkeypatch)
    session = _started(path)
    _answer(session, "t2", "completed")
    _save(session)
    assert full == [1]  # (the save that writes the database's copy of the list)
    # From the copy, but a task added while the list was read: its line is written.
    _session(path, PART_SIZE + 5)
    session = Session(WatchlistStore(path), lambda: T0)
    loader = PartLoader(session)
    assert len(loader.start()) == FIRST_PART_SIZE and not loader.done
    session.add([_ref("meanwhile")])
    loader.finish()
    _answer(session, "t1", "completed")
    _save(session)
    assert full == [1, 1, 1]  # (the list of PART_SIZE + 5 written, then this one)
    assert '"meanwhile"' in path.read_text("utf-8")
