"""A long list whose database copy is current has its first part read by start(), so it
is on the dashboard's first frame: from the copy that costs milliseconds, where the TOML
would be parsed whole."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from watchlist_fixtures import entry

from aireiter_tui.domain.loading import QUICK_FILE_BYTES, PartLoader
from aireiter_tui.domain.session import Session
from aireiter_tui.domain.snapshot_db import FIRST_PART_SIZE, PART_SIZE
from aireiter_tui.domain.watchlist import WatchlistStore


def _long_list(path: Path) -> None:
    WatchlistStore(path).save([entry(f"t{n}", "completed") for n in range(2 * PART_SIZE + 5)])
    assert path.stat().st_size > QUICK_FILE_BYTES


def _loader(path: Path) -> PartLoader:
    return PartLoader(Session(WatchlistStore(path), lambda: datetime(2026, 1, 1, tzinfo=UTC)))


def test_a_long_list_with_a_current_copy_has_its_first_part_read_by_start(
    tmp_path: Path,
) -> None:
    path = tmp_path / "w.toml"
    _long_list(path)
    loader = _loader(path)
    # (a small first part: it is read before the first frame)
    assert len(loader.start()) == FIRST_PART_SIZE and not loader.done
    assert len(loader.finish()) == 2 * PART_SIZE + 5 - FIRST_PART_SIZE and loader.done


def test_a_long_list_edited_after_its_copy_is_left_to_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    _long_list(path)
    later = path.stat().st_mtime_ns + 60 * 10**9  # edited by hand since the app saved it
    os.utime(path, ns=(later, later))
    loader = _loader(path)
    assert loader.start() == []
    assert len(loader.finish()) == 2 * PART_SIZE + 5
