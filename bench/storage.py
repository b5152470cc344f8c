"""Watchlist load and save of N entries with cached task snapshots."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median

from aireiter_tui.domain.models import Task, TaskRef
from aireiter_tui.domain.watchlist import WatchEntry, WatchlistStore


def make_entries(tasks: dict[TaskRef, Task]) -> list[WatchEntry]:
    """Watch entries as the app leaves them after a refresh: snapshot plus history."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    entries = []
    for number, (ref, task) in enumerate(tasks.items()):
        entry = WatchEntry(ref=ref, label=None, added_at=start + timedelta(seconds=number))
        entry.record(task, start + timedelta(hours=1))
        entries.append(entry)
    return entries


@dataclass(frozen=True, slots=True)
class StorageFigures:
    first_save: float
    load_cached: float
    load_toml_only: float
    save_after_change: float
    file_bytes: int


def watchlist_figures(entries: list[WatchEntry], folder: Path, repeats: int) -> StorageFigures:
    """The median of ``repeats`` runs of each operation.

    - first save: a new store writing the whole list (TOML, plus its pickled cache);
    - load (cached): a new store (a new process) reading a file whose cache is valid;
    - load (TOML only): the same without the cache (the first start after an upgrade,
      or after the file was edited by hand);
    - save after change: the app's debounced save after a refresh changed 1% of the
      entries (the store already knows the file's contents).
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "watchlist.toml"
    first_save, cached, toml_only, resave = [], [], [], []
    for _ in range(repeats):
        for leftover in folder.glob("watchlist.toml*"):
            leftover.unlink()
        started = time.perf_counter()
        WatchlistStore(path).save(entries)
        first_save.append(time.perf_counter() - started)

        started = time.perf_counter()
        store = WatchlistStore(path)
        loaded = store.load()
        cached.append(time.perf_counter() - started)
        assert len(loaded) == len(entries), "the cached load lost entries"

        for number, entry in enumerate(loaded):
            if number % 100 == 0:
                entry.label = f"changed {number}"
        started = time.perf_counter()
        store.save(loaded)
        resave.append(time.perf_counter() - started)

        store.cache_path.unlink()
        started = time.perf_counter()
        loaded = WatchlistStore(path).load()
        toml_only.append(time.perf_counter() - started)
        assert len(loaded) == len(entries), "the TOML load lost entries"
    return StorageFigures(
        median(first_save),
        median(cached),
        median(toml_only),
        median(resave),
        path.stat().st_size,
    )


def write_watchlist(entries: list[WatchEntry], path: Path) -> None:
    """A watchlist file with a valid cache, as a second start of the app finds it."""
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    store = WatchlistStore(path)
    store.save(entries)
    WatchlistStore(path).load()
