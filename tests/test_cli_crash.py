"""A crash is never a success: the dashboard and the headless commands exit 70 after a
crash, with one sentence after the traceback; a crash while reading the watchlist names
the two files to move aside. The dashboard runs headless, through ``cli.main``."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from aireiter_tui import backend
from aireiter_tui.cli import EXIT_CRASH, main
from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.snapshot_db import Reader
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry
from aireiter_tui.ui.app import AIReiterApp


@pytest.fixture
def watchlist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A watchlist of two tasks with its snapshot cache; no key, no config."""
    monkeypatch.setenv("AIREITER_TUI_CONFIG", str(tmp_path / "config.toml"))
    for name in ("AIREITER_API_KEY", "AIREITER_BASE_URL", "AIREITER_TUI_WATCHLIST"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "watchlist.toml"
    added = datetime(2025, 12, 18, 10, 0, tzinfo=UTC)
    entries = [
        WatchEntry(
            TaskRef(IdKind.TASK_ID, f"order_{n}"),
            None,
            added,
            task=parse_task({"task_id": f"order_{n}", "status": "completed"}),
        )
        for n in range(2)
    ]
    WatchlistStore(path).save(entries)
    assert path.with_name("watchlist.toml.db").exists()
    return path


@pytest.fixture
def headless(monkeypatch: pytest.MonkeyPatch) -> None:
    """``app.run()`` runs headless; should the app come up after all, it quits at once
    (the test then fails on the exit status instead of waiting forever)."""
    run = AIReiterApp.run

    async def quit_when_ready(pilot: Pilot[None]) -> None:
        if pilot.app.return_code is None:  # not crashed (exit() would say 0 over the 1)
            await pilot.exit(None)

    def run_headless(self: AIReiterApp, **_: Any) -> None:
        run(self, headless=True, size=(100, 30), auto_pilot=quit_when_ready)

    monkeypatch.setattr(AIReiterApp, "run", run_headless)


def files_of(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.parent.iterdir())}


def damaged_cache(self: Reader, *args: object) -> None:
    """The cache reader fails as on a damaged cache it does not survive: with an
    exception nobody expected (it stands in for the reader's ``mirror`` and
    ``snapshots``)."""
    raise sqlite3.DatabaseError("database disk image is malformed")


def test_a_crash_reading_the_watchlist_exits_70_naming_both_files(
    watchlist: Path,
    headless: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = files_of(watchlist)
    monkeypatch.setattr(Reader, "mirror", damaged_cache)
    assert main(["--watchlist", str(watchlist)]) == EXIT_CRASH
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("aireiter-tui: crashed (DatabaseError: database disk image")
    assert "while reading or saving the watchlist" in last
    assert f"Move {watchlist}.db aside" in last
    assert f"move {watchlist} aside too" in last
    assert files_of(watchlist) == before  # both files are still there to move aside


async def _failing_prepare(self: backend.Backend) -> None:
    raise RuntimeError("the demo simulator could not start")


def _failing_run(self: AIReiterApp, **_: Any) -> None:
    raise RuntimeError("no terminal to draw on")


@pytest.mark.parametrize(
    ("target", "name", "replacement"),
    [
        (backend.Backend, "prepare", _failing_prepare),  # inside the app: Textual catches it
        (AIReiterApp, "run", _failing_run),  # out of app.run(): nobody catches it
    ],
    ids=["inside-the-app", "out-of-run"],
)
def test_any_dashboard_crash_exits_70_with_a_sentence(
    watchlist: Path,
    headless: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    target: type,
    name: str,
    replacement: Any,
) -> None:
    before = files_of(watchlist)
    monkeypatch.setattr(target, name, replacement)
    assert main(["--watchlist", str(watchlist)]) == EXIT_CRASH
    err = capsys.readouterr().err
    assert "Traceback" in err  # Textual's or ours: where it happened
    last = err.strip().splitlines()[-1]
    assert last.startswith("aireiter-tui: crashed (RuntimeError: ")
    assert last.endswith("the traceback above says where (please report it).")
    assert files_of(watchlist) == before


def test_a_crash_in_query_exits_70_not_1_which_means_failed(
    watchlist: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIREITER_API_KEY", "sim-demo-key")

    def broken_client(*args: object, **kwargs: object) -> None:
        raise TypeError("an unexpected bug")

    monkeypatch.setattr(backend, "build_client", broken_client)
    assert main(["--base-url", "http://127.0.0.1:9", "query", "order_0"]) == EXIT_CRASH
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert err.strip().splitlines()[-1] == (
        "aireiter-tui: crashed (TypeError: an unexpected bug); "
        "the traceback above says where (please report it)."
    )


def test_a_crash_reading_the_watchlist_in_list_names_both_files(
    watchlist: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    watchlist.write_text('version = 1\ntasks = [{id = "order_0"}]\n')  # edited by hand
    monkeypatch.setattr(Reader, "snapshots", damaged_cache)
    assert main(["--watchlist", str(watchlist), "list"]) == EXIT_CRASH
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "while reading or saving the watchlist" in last
    assert f"Move {watchlist}.db aside" in last and f"move {watchlist} aside too" in last
