"""Filling a session part by part (``PartLoader``), as the dashboard starts."""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from pathlib import Path

from watchlist_fixtures import entry

from aireiter_tui.domain.loading import PartLoader
from aireiter_tui.domain.models import TaskStatus
from aireiter_tui.domain.session import Session
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_cache import PART_SIZE


def _session(path: Path) -> Session:
    return Session(WatchlistStore(path), lambda: datetime(2026, 1, 1, tzinfo=UTC))


def _save(path: Path, count: int) -> None:
    statuses = ("pending", "completed", "failed")
    WatchlistStore(path).save([entry(f"t{n}", statuses[n % 3]) for n in range(count)])


def test_a_long_list_comes_in_parts_and_ends_with_every_row_counted(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    _save(path, 2 * PART_SIZE + 500)
    session = _session(path)
    loader = PartLoader(session)
    sizes = [len(loader.start())]
    assert not loader.done and len(session.rows) == PART_SIZE
    while not loader.done:
        sizes.append(len(loader.step()))
    assert sizes == [PART_SIZE, PART_SIZE, 500]
    assert loader.step() == [] and loader.problems == []
    counts = session.counts()
    assert counts.total == 2500 and counts.by_status[TaskStatus.FAILED] == 833
    assert list(session.rows) == [f"task_id:t{n}" for n in range(2500)]


def test_each_row_is_handed_on_once_in_order_and_frozen_if_asked(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    _save(path, PART_SIZE + 7)
    seen: list[str] = []
    session = _session(path)
    loader = PartLoader(session, on_rows=lambda rows: seen.extend(r.ref.key for r in rows))
    loader.start()
    assert len(seen) == PART_SIZE
    loader.finish()
    assert seen == list(session.rows) and len(seen) == PART_SIZE + 7

    frozen = gc.get_freeze_count()
    try:
        PartLoader(_session(path), keep_frozen=True).finish()
        assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()


def test_a_list_of_one_part_is_done_after_it(tmp_path: Path) -> None:
    for count in (3, PART_SIZE):
        path = tmp_path / f"w{count}.toml"
        _save(path, count)
        loader = PartLoader(_session(path))
        assert len(loader.start()) == count and loader.done


def test_finish_reads_the_rest_so_a_save_keeps_the_order(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    _save(path, PART_SIZE + 10)
    before = path.read_bytes()
    session = _session(path)
    loader = PartLoader(session)
    loader.start()
    assert len(loader.finish()) == 10 and loader.done
    session.dirty = True
    session.save()
    assert path.read_bytes() == before


def test_an_unreadable_file_is_a_problem_and_blocks_saving(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text("version = [", encoding="utf-8")
    session = _session(path)
    loader = PartLoader(session)
    assert loader.start() == [] and loader.done
    (problem,) = loader.problems
    assert "is not valid TOML" in problem and "not saved" in problem
    assert session.save_blocked is not None


def test_skipped_entries_are_reported_when_done(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text('version = 1\ntasks = [{id = "ok", kind = "task_id"}, 5]\n')
    loader = PartLoader(_session(path))
    assert len(loader.start()) == 1 and loader.done
    assert any("skipped" in problem for problem in loader.problems)


def test_no_store_is_done_at_once() -> None:
    loader = PartLoader(Session(None, lambda: datetime(2026, 1, 1, tzinfo=UTC)))
    assert loader.start() == [] and loader.done and loader.problems == []
