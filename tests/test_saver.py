"""The dashboard's debounced saver, driven with a stand-in app (no terminal)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from textual.app import App

from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.session import Session
from aireiter_tui.domain.watchlist import WatchlistError, WatchlistStore
from aireiter_tui.ui.saver import MAX_SAVE_DELAY, WatchlistSaver

NOW = datetime(2026, 1, 2, tzinfo=UTC)


class StandIn:
    """Runs the saver's thread work at once and records what it would tell the user."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.workers = 0

    def run_worker(self, work: Callable[[], None], **_: Any) -> None:
        self.workers += 1
        work()

    def call_from_thread(self, callback: Callable[..., None], *args: Any) -> None:
        callback(*args)

    def notify(self, message: str, **_: Any) -> None:
        self.notes.append(message)


def _saver(
    tmp_path: Path, *, busy: bool = False, loading: list[bool] | None = None
) -> tuple[WatchlistSaver, Session, StandIn, list]:
    session = Session(WatchlistStore(tmp_path / "w.toml"), lambda: NOW)
    app, clock, still_loading = StandIn(), [0.0], loading or [False]
    saver = WatchlistSaver(
        cast(App[None], app),
        session,
        lambda entries: None,
        busy=lambda: busy,
        loading=lambda: still_loading[0],
        clock=lambda: clock[0],
    )
    return saver, session, app, clock


def test_saves_only_when_something_changed(tmp_path: Path) -> None:
    saver, session, app, _ = _saver(tmp_path)
    saver.save_soon()
    assert app.workers == 0
    session.add([TaskRef(IdKind.TASK_ID, "a")])
    saver.save_soon()
    assert app.workers == 1 and not session.dirty
    assert [e.ref.id for e in WatchlistStore(tmp_path / "w.toml").load()] == ["a"]


def test_during_a_round_a_save_waits_until_it_is_overdue(tmp_path: Path) -> None:
    saver, session, app, clock = _saver(tmp_path, busy=True)
    session.add([TaskRef(IdKind.TASK_ID, "a")])
    clock[0] = MAX_SAVE_DELAY - 1
    saver.save_soon()
    assert app.workers == 0 and session.dirty
    clock[0] = MAX_SAVE_DELAY + 1
    saver.save_soon()
    assert app.workers == 1 and not session.dirty


def test_no_save_while_the_list_is_still_being_read_however_overdue(tmp_path: Path) -> None:
    loading = [True]
    saver, session, app, clock = _saver(tmp_path, loading=loading)
    session.add([TaskRef(IdKind.TASK_ID, "a")])
    clock[0] = 10 * MAX_SAVE_DELAY
    saver.save_soon()
    assert app.workers == 0 and session.dirty
    loading[0] = False
    saver.save_soon()
    assert app.workers == 1 and not session.dirty


def test_a_failing_save_is_told_once_and_retried(tmp_path: Path, monkeypatch: Any) -> None:
    saver, session, app, _ = _saver(tmp_path)

    def full_disk(*_: Any, **__: Any) -> None:
        raise WatchlistError("disk full")

    monkeypatch.setattr(session.store, "save", full_disk)
    for ident in ("a", "b", "c"):
        session.add([TaskRef(IdKind.TASK_ID, ident)])
        saver.save_soon()
    assert app.workers == 3 and session.dirty
    assert len(app.notes) == 1 and "Nothing was lost" in app.notes[0]
    monkeypatch.undo()
    saver.save_soon()
    assert not session.dirty
    assert len(WatchlistStore(tmp_path / "w.toml").load()) == 3


def test_the_final_save_reports_instead_of_raising(tmp_path: Path, monkeypatch: Any) -> None:
    saver, session, _, _ = _saver(tmp_path)
    session.add([TaskRef(IdKind.TASK_ID, "a")])

    def full_disk(*_: Any, **__: Any) -> None:
        raise WatchlistError("disk full")

    monkeypatch.setattr(session.store, "save", full_disk)
    saver.save_on_quit()
    assert saver.final_error == "disk full"
