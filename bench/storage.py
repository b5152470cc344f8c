"""Watchlist load and save of N entries with cached task snapshots.

``python -m bench.storage [N ...]`` runs the figures alone on tasks made locally (no
server), in CPU time as well as wall time (CPU time: other work on the machine bends it
least).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median

from aireiter_tui.domain.models import IdKind, Task, TaskRef, parse_task
from aireiter_tui.domain.snapshot_db import gc_paused
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry
from aireiter_tui.simulator.scenario import TaskStore
from aireiter_tui.simulator.seeding import TaskFactory
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
    read_replies: float
    load_hand_edited: float
    load_toml_only: float
    save_snapshots: float
    save_labels: float
    save_on_quit: float
    toml_bytes: int
    cache_bytes: int


#: The clock the figures are read with (``__main__`` reads CPU time instead).
_clock: Callable[[], float] = time.perf_counter


def _timed(action: Callable[[], object]) -> float:
    started = _clock()
    action()
    return _clock() - started


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
    # A loaded task reads its reply when the rest of it is first needed: all of them here.
    took["read_replies"] = _timed(lambda: [entry.task and entry.task.raw for entry in loaded])

    tasks = {entry.ref: entry.task for entry in loaded if entry.task is not None}
    by_ref, now = {entry.ref: entry for entry in loaded}, datetime.now(UTC)
    for outcome in outcomes_changing(tasks, 0.01, seed=number):
        assert outcome.task is not None
        by_ref[outcome.ref].record(_as_replied(outcome.task), now)
    took["save_snapshots"] = _timed(lambda: store.save(loaded, write_cache=False))
    for index in range(0, len(loaded), 100):
        loaded[index].label = f"relabelled {number}"
    took["save_labels"] = _timed(lambda: store.save(loaded, write_cache=False))
    took["save_on_quit"] = _timed(lambda: store.save(loaded))

    line = f'  {{id = "by_hand_{number}", kind = "task_id", added_at = 2026-01-01T00:00:00Z}},'
    path.write_text(path.read_text(encoding="utf-8")[:-2] + line + "\n]\n", encoding="utf-8")
    took["load_hand_edited"] = _timed(lambda: _load_as_the_app(WatchlistStore(path)))
    _unfreeze()
    _drop_cache(path)
    took["load_toml_only"] = _timed(lambda: _load_as_the_app(WatchlistStore(path)))
    _unfreeze()
    WatchlistStore(path).save(loaded)  # the cache back, for its size
    return took


def watchlist_figures(entries: list[WatchEntry], folder: Path, repeats: int) -> StorageFigures:
    """The median of ``repeats`` runs of each operation.

    - first save: a new store writing the whole list (TOML, plus the snapshot cache);
    - load (cached): a new store (a new process) reading a file whose cache is valid;
    - every reply read: what the loaded tasks' replies cost once each is needed (the
      detail pane, an export), paid a task at a time instead of at load;
    - load after a hand edit: the TOML changed (one line added), so it is parsed and the
      snapshots are taken from the cache by task;
    - load (TOML only): no cache at all (deleted): IDs and labels only;
    - the app's frequent save after a refresh changed 1% of the snapshots (their rows
      upserted; the TOML does not change), after the user relabelled 1% of the tasks (the
      TOML is rewritten, and those rows of the database's copy), and the save on quit
      (when each task was last checked, too).
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
        cache_bytes=(folder / "watchlist.toml.db").stat().st_size,
    )


def write_watchlist(entries: list[WatchEntry], path: Path) -> None:
    """A watchlist file with a valid cache, as a second start of the app finds it."""
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    WatchlistStore(path).save(entries)


def _as_replied(task: Task) -> Task:
    """``task`` as the server would send it: the cache keeps the reply, and a task changed
    with ``dataclasses.replace`` keeps the reply it was parsed from."""
    assert isinstance(task.raw, dict)
    return parse_task({**task.raw, "status": task.status_label, "credits_used": task.credits_used})


def _drop_cache(path: Path) -> None:
    for name in (".db", ".db-wal", ".db-shm"):
        path.with_name(path.name + name).unlink(missing_ok=True)


def local_tasks(count: int, seed: int = 1) -> dict[TaskRef, Task]:
    """``count`` tasks as the simulator answers for them (statuses mixed as in the demo's
    bulk lists), parsed, without a server."""
    store = TaskStore(None, 1.0)
    TaskFactory(store, seed).bulk(
        count, {"completed": 0.6, "failed": 0.1, "processing": 0.2, "pending": 0.1}
    )
    now = time.time()
    tasks = {}
    for task in store.all:
        stage, status = task.stage(now, 1.0)
        finished = task.finished_at(stage, 1.0) if status == "completed" else None
        data = task.data(status, finished, "http://127.0.0.1:9")
        if task.task_id is not None:
            ref = TaskRef(IdKind.TASK_ID, task.task_id)
        else:
            ref = TaskRef(IdKind.OUT_TASK_ID, str(task.out_task_id))
        tasks[ref] = parse_task(data)
    return tasks


def main() -> None:
    global _clock
    parser = argparse.ArgumentParser(prog="python -m bench.storage")
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for size in args.sizes:
        entries = make_entries(local_tasks(size))
        repeats = args.repeats if size <= 10_000 else 1
        with tempfile.TemporaryDirectory(prefix="aireiter-storage-") as folder:
            _clock = time.process_time
            cpu = watchlist_figures(entries, Path(folder), repeats)
            _clock = time.perf_counter
            wall = watchlist_figures(entries, Path(folder), repeats)
        print(f"{size:,} tasks, median of {repeats}: CPU s (wall s)")
        for name in StorageFigures.__slots__:
            if name.endswith("_bytes"):
                print(f"  {name:18} {getattr(cpu, name) / 1e6:8.1f} MB")
            else:
                print(f"  {name:18} {getattr(cpu, name):8.3f} ({getattr(wall, name):.3f})")


if __name__ == "__main__":
    main()
