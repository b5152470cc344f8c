"""Watchlist load and save of N entries with cached task snapshots."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median

from aireiter_tui.domain.models import Task, TaskRef
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_cache import gc_paused
from aireiter_tui.domain.watchlist_codec import WatchEntry
from bench.network import outcomes_changing


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
    load_hand_edited: float
    load_toml_only: float
    save_snapshots: float
    save_labels: float
    save_on_quit: float
    toml_bytes: int
    cache_bytes: int


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _load_as_the_app(store: WatchlistStore) -> list[WatchEntry]:
    """Load as the dashboard does: the GC paused, then the entries frozen out of it.

    Without the freeze, the full collection that follows loading 10,000 entries (about
    0.1 s) would land just after the timed call, where the timer misses it.
    """
    with gc_paused():
        entries = store.load()
        gc.freeze()
    return entries


def _unfreeze() -> None:
    gc.unfreeze()
    gc.collect()


def _one_run(entries: list[WatchEntry], path: Path, number: int) -> dict[str, float]:
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    took = {"first_save": _timed(lambda: WatchlistStore(path).save(entries))}

    store, loaded = WatchlistStore(path), []
    took["load_cached"] = _timed(lambda: loaded.extend(_load_as_the_app(store)))
    assert len(loaded) == len(entries), "the cached load lost entries"
    _unfreeze()

    tasks = {entry.ref: entry.task for entry in loaded if entry.task is not None}
    by_ref, now = {entry.ref: entry for entry in loaded}, datetime.now(UTC)
    for outcome in outcomes_changing(tasks, 0.01, seed=number):
        assert outcome.task is not None
        by_ref[outcome.ref].record(outcome.task, now)
    took["save_snapshots"] = _timed(lambda: store.save(loaded, write_cache=False))
    for index in range(0, len(loaded), 100):
        loaded[index].label = f"relabelled {number}"
    took["save_labels"] = _timed(lambda: store.save(loaded, write_cache=False))
    took["save_on_quit"] = _timed(lambda: store.save(loaded))

    line = f'  {{id = "by_hand_{number}", kind = "task_id", added_at = 2026-01-01T00:00:00Z}},'
    path.write_text(path.read_text(encoding="utf-8")[:-2] + line + "\n]\n", encoding="utf-8")
    took["load_hand_edited"] = _timed(lambda: _load_as_the_app(WatchlistStore(path)))
    _unfreeze()
    store.cache_path.unlink()
    took["load_toml_only"] = _timed(lambda: _load_as_the_app(WatchlistStore(path)))
    _unfreeze()
    WatchlistStore(path).save(loaded)  # the cache back, for its size
    return took


def watchlist_figures(entries: list[WatchEntry], folder: Path, repeats: int) -> StorageFigures:
    """The median of ``repeats`` runs of each operation.

    - first save: a new store writing the whole list (TOML, plus the snapshot cache);
    - load (cached): a new store (a new process) reading a file whose cache is valid;
    - load after a hand edit: the TOML changed (one line added), so it is parsed and the
      snapshots are taken from the cache by task;
    - load (TOML only): no cache at all (deleted): IDs and labels only;
    - the app's frequent save after a refresh changed 1% of the snapshots (appended to
      the cache's journal; the TOML does not change), after the user relabelled 1% of
      the tasks (the TOML is rewritten), and the save on quit (the cache rewritten whole).
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "watchlist.toml"
    times: dict[str, list[float]] = {name: [] for name in StorageFigures.__slots__}
    for number in range(repeats):
        for name, seconds in _one_run(entries, path, number).items():
            times[name].append(seconds)
    figures = {name: median(values) for name, values in times.items() if values}
    return StorageFigures(
        **figures,
        toml_bytes=path.stat().st_size,
        cache_bytes=(folder / "watchlist.toml.cache").stat().st_size,
    )


def write_watchlist(entries: list[WatchEntry], path: Path) -> None:
    """A watchlist file with a valid cache, as a second start of the app finds it."""
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    WatchlistStore(path).save(entries)
