"""The watchlist, kept up to date: one object that owns the session, the scheduler and
the poller, and is the only way to add, remove, restore, relabel or adopt tasks.

Plain asyncio, no Textual: the dashboard, the headless commands and a script use it the
same way. Everything runs on the event loop's thread except a save's encoding and
writing, which get a snapshot (copies) and hand their findings back to the loop.

State flows one way. Edits and answers change the session at once and are gathered
into a :class:`Changes` batch; whoever shows them calls :meth:`Monitor.take_changes` as
often as it repaints (the dashboard: four times a second) and applies the batch.

The rule that every watched row is tracked by the scheduler lives here alone: each
path that puts rows into the session (:meth:`Monitor.add`, :meth:`Monitor.undo_remove`,
loading, adopting others' additions) tracks them with what is known of them, and each
path that takes rows out forgets them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.gc_batches import BatchFreezer
from aireiter_tui.domain.loading import PartLoader
from aireiter_tui.domain.models import TaskRef
from aireiter_tui.domain.poll_gate import SchedulerState
from aireiter_tui.domain.poller import Poller, PollOutcome, QueryClient
from aireiter_tui.domain.scheduler import PollScheduler
from aireiter_tui.domain.session import Row, Saved, Session, Snapshot, Transition
from aireiter_tui.domain.watchlist import WatchlistError, WatchlistStore

_log = logging.getLogger(__name__)

#: How long edits and answers wait before the watchlist is written (debounce).
SAVE_INTERVAL: Final = 5.0
#: How often the watchlist file is checked for changes made by other programs.
WATCH_INTERVAL: Final = 1.0
#: How many removals undo can bring back (the oldest go first): each keeps its rows.
UNDO_DEPTH: Final = 50


def _save_failure(error: Exception) -> str:
    """The sentence for a failed save: the store's own, or one naming an unexpected error."""
    if isinstance(error, WatchlistError):
        return str(error)
    return f"Could not save the watchlist ({type(error).__name__}); nothing was written."


@dataclass(slots=True)
class Changes:
    """What changed since the last :meth:`Monitor.take_changes`, for one repaint."""

    #: Keys of rows whose shown data changed (a new answer, an error, a label).
    updated: set[str] = field(default_factory=set)
    #: Rows were added or removed: the visible order must be computed again.
    reordered: bool = False
    #: Tasks that reached a final status (for a notification).
    transitions: list[Transition] = field(default_factory=list)
    #: Why the watchlist could not be saved (first failure of a run only).
    save_error: str | None = None
    #: Queries answered or failed (each may change what polling is doing: the status line).
    outcomes: int = 0

    def __bool__(self) -> bool:
        return bool(
            self.updated or self.reordered or self.transitions or self.save_error or self.outcomes
        )


@dataclass(frozen=True, slots=True)
class Removal:
    """One removal, as undo brings it back: the rows, when each began (scheduler) and
    where each was in the list (by key)."""

    rows: list[Row]
    started: dict[TaskRef, float]
    positions: dict[str, int]


class Monitor:
    """Watches the tasks of one watchlist (see the module docstring).

    Args:
        store: the watchlist file (None: nothing is read or saved).
        settings: poll intervals and concurrency.
        wall_clock: "now" for the task's timestamps (frozen in snapshot tests).
        monotonic: the scheduler's clock.
        rng: randomness for backoff jitter (seeded in tests).
        keep_frozen: freeze the loaded watchlist, and each big batch of answers after it,
            out of the GC's scans (a long-lived program that keeps them to the end; see
            :class:`PartLoader` and :class:`BatchFreezer`).
    """

    def __init__(
        self,
        store: WatchlistStore | None,
        settings: Settings,
        *,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        keep_frozen: bool = False,
    ) -> None:
        self.settings = settings
        self.monotonic = monotonic
        self.session = Session(store, wall_clock)
        # (answers checked before this are from an earlier run: see record; a timestamp,
        # as a time read back from a file may lack its zone)
        self._began = wall_clock().timestamp()
        self.scheduler = PollScheduler(
            interval=settings.poll_interval,
            slow_interval=settings.slow_poll_interval,
            long_running_after=settings.long_running_after,
            rng=rng or random.Random(),
            wall_clock=lambda: wall_clock().timestamp(),
        )
        self.loader = PartLoader(self.session, on_rows=self._track, keep_frozen=keep_frozen)
        #: Freezes big batches of answers out of the GC's scans (``keep_frozen``).
        self.freezer = BatchFreezer(enabled=keep_frozen)
        self.poller: Poller | None = None
        #: Removals that undo can bring back, the last one last (at most UNDO_DEPTH).
        self.removals: deque[Removal] = deque(maxlen=UNDO_DEPTH)
        self._changes = Changes()
        # Saves are written one at a time, on a thread, and the final one waits for it.
        self._store_lock = threading.Lock()
        self._saving = False
        self._saved_once = False
        self._save_failures = 0

    # --- loading ------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        """The whole watchlist has been read (only then is it saved)."""
        return self.loader.done

    def load(self) -> list[str]:
        """Read the whole watchlist at once (scripts); returns the problems found."""
        self.loader.finish()
        self._changes.reordered = True
        return self.loader.problems

    # --- edits ----------------------------------------------------------------------------
    def add(self, refs: Sequence[TaskRef], label: str | None = None) -> list[Row]:
        """Watch ``refs`` (those already watched are left alone); returns the new rows."""
        rows = self.session.add(refs, label)
        self._track(rows)
        return rows

    def remove(self, keys: Iterable[str]) -> list[Row]:
        """Stop watching these rows; :meth:`undo_remove` brings them back."""
        started = {}
        keys = list(keys)
        positions = self.session.positions(keys)
        rows = self.session.remove(keys)
        for row in rows:
            since = self.scheduler.started(row.ref)
            if since is not None:
                started[row.ref] = since
            self.scheduler.forget(row.ref)
        if rows:
            self.removals.append(Removal(rows, started, positions))
            self._changes.reordered = True
        return rows

    @property
    def undo_depth(self) -> int:
        """How many removals :meth:`undo_remove` can still bring back."""
        return len(self.removals)

    def undo_remove(self) -> list[Row]:
        """Bring back the last removal (again and again); returns its rows (none: nothing
        to undo). They are polled as before: a long runner stays on the slow interval."""
        if not self.removals:
            return []
        removal = self.removals.pop()
        self.session.restore(removal.rows, removal.positions)
        self._track(removal.rows, removal.started)
        return removal.rows

    def relabel(self, key: str, label: str | None) -> bool:
        """Set or clear a row's label; False when there is no such row or no change."""
        if not self.session.set_label(key, label):
            return False
        self._changes.updated.add(key)
        return True

    def refresh(self, refs: Iterable[TaskRef]) -> None:
        """Query these tasks as soon as a worker is free (also finished or paused ones)."""
        now = self.monotonic()
        for ref in refs:
            self.scheduler.request(ref, now)
        self.wake()

    def refresh_all(self) -> None:
        self.scheduler.request_all(self.monotonic())
        self.wake()

    @property
    def paused(self) -> bool:
        return self.scheduler.gate.paused

    def set_paused(self, paused: bool) -> None:
        """While paused only manual refreshes go out."""
        self.scheduler.set_paused(paused)
        self.wake()

    # --- polling ------------------------------------------------------------------------
    def connect(self, client: QueryClient) -> None:
        """Poll with ``client`` from the next :meth:`run` on."""
        self.poller = Poller(
            client,
            self.scheduler,
            concurrency=self.settings.concurrency,
            clock=self.monotonic,
            on_outcome=self.record,
        )

    async def run(
        self, *, save_interval: float | None = None, watch_interval: float | None = None
    ) -> None:
        """Poll (once connected), save what changed and adopt others' edits of the file,
        until cancelled. The final save is :meth:`close`'s. The intervals default to
        :data:`SAVE_INTERVAL` and :data:`WATCH_INTERVAL`."""
        save_every = SAVE_INTERVAL if save_interval is None else save_interval
        watch_every = WATCH_INTERVAL if watch_interval is None else watch_interval
        async with asyncio.TaskGroup() as group:
            group.create_task(self._keep_file(save_every, watch_every))
            if self.poller is not None:
                group.create_task(self.poller.run())

    def wake(self) -> None:
        """Look for due tasks now (edits and refresh requests call this)."""
        if self.poller is not None:
            self.poller.wake()

    def state(self) -> SchedulerState:
        """What polling is doing and why, for a status line."""
        workers = self.poller.concurrency if self.poller is not None else None
        return self.scheduler.state(self.monotonic(), workers=workers)

    def take_changes(self) -> Changes:
        """What changed since the last call (see :class:`Changes`)."""
        changes, self._changes = self._changes, Changes()
        return changes

    @property
    def has_changes(self) -> bool:
        """Whether anything happened since the last :meth:`take_changes`."""
        return bool(self._changes)

    def record(self, outcome: PollOutcome) -> None:
        """Apply one query's outcome (the poller calls this; a script may too)."""
        self._changes.outcomes += 1
        row = self.session.rows.get(outcome.ref.key)
        # An answer replacing one of this run frees that one: only a task's first answer
        # of the run adds to what is kept for good.
        first = row is not None and (
            row.entry.checked_at is None or row.entry.checked_at.timestamp() < self._began
        )
        changed, transition = self.session.apply(outcome.ref, outcome.task, outcome.error)
        if first and outcome.task is not None:
            self.freezer.count()
        if changed:
            self._changes.updated.add(outcome.ref.key)
        if transition is not None:
            self._changes.transitions.append(transition)

    def _track(self, rows: Sequence[Row], started: dict[TaskRef, float] | None = None) -> None:
        if not rows:
            return
        self.freezer.count(len(rows))
        tasks = ((row.ref, row.entry.task) for row in rows)
        self.scheduler.track_many(
            (
                (ref, task.status, task.created_at) if task else (ref, None, None)
                for ref, task in tasks
            ),
            self.monotonic(),
            started=started,
        )
        self._changes.reordered = True
        self.wake()

    # --- the file ---------------------------------------------------------------------------
    async def save(self, *, force: bool = False) -> Saved | None:
        """Write what changed (``force``: also when nothing did, to take in what others
        wrote). The snapshot is taken here, the write runs on a thread, and what the
        merge found (others' additions, removals, labels) is applied back here.

        Returns what others had changed, or None when nothing was written (nothing to
        save, a save already under way, the list not read to its end, or a failure:
        :attr:`Changes.save_error` says which)."""
        session = self.session
        if session.store is None or session.save_blocked or not self.loader.done:
            return None  # (a list not yet read to its end must not be saved)
        if self._saving or not (force or session.dirty):
            return None
        self._saving = True
        first, self._saved_once = not self._saved_once, True
        if first:
            # The store keeps what the first save builds for the next (each entry's line
            # of the file: as long-lived as the entries), and the collections during the
            # save would scan all that as it grows: frozen at the first of them.
            self.freezer.count(len(session.rows))
        try:
            snapshot = session.snapshot()
            try:
                saved = await asyncio.to_thread(self._write, snapshot, False)
            except Exception as error:  # whatever stops a save, the user hears of it
                session.save_failed()
                self._save_failures += 1
                if self._save_failures == 1:  # a full disk stays full for a while
                    self._changes.save_error = _save_failure(error)
                if not isinstance(error, WatchlistError):
                    _log.exception("saving the watchlist failed")
                return None
            self._save_failures = 0
            if first:
                self.freezer.count(len(snapshot.by_key))  # (what it built after a freeze)
            self._take_saved(snapshot, saved)
            return saved
        finally:
            self._saving = False

    async def sync(self) -> None:
        """Take in the file's changes if another program made any (a cheap ``stat``)."""
        store = self.session.store
        if store is not None and self.loader.done and store.changed_on_disk():
            await self.save(force=True)

    def close(self) -> str | None:
        """The final save, blocking (on quit): the whole list, the cache rewritten whole.
        Returns why it failed, or None."""
        self.freezer.close()
        self.loader.finish()  # quitting at once: the whole list is saved, in its order
        session = self.session
        if session.store is None or session.save_blocked:
            return None
        snapshot = session.snapshot()
        try:
            saved = self._write(snapshot, True)
        except Exception as error:  # on the way out: said by the command after exiting
            session.save_failed()
            return _save_failure(error)
        self._take_saved(snapshot, saved)
        return None

    def _write(self, snapshot: Snapshot, write_cache: bool) -> Saved:
        # A save thread and the final save never write at once.
        with self._store_lock:
            return self.session.write(snapshot, write_cache=write_cache)

    def _take_saved(self, snapshot: Snapshot, saved: Saved) -> None:
        added, dropped, relabelled = self.session.take_saved(snapshot, saved)
        for row in dropped:
            self.scheduler.forget(row.ref)
        self._track(added)
        self._changes.updated.update(relabelled)
        self._changes.reordered = self._changes.reordered or bool(dropped)

    async def _keep_file(self, save_interval: float, watch_interval: float) -> None:
        # Real time, not the scheduler's clock: a test's stepped clock must not save.
        last_save = time.monotonic()
        while True:
            await asyncio.sleep(watch_interval)
            try:
                if time.monotonic() - last_save >= save_interval:
                    last_save = time.monotonic()
                    await self.save()
                await self.sync()
            except Exception:  # a bug here must not stop polling
                _log.exception("keeping the watchlist file failed")
