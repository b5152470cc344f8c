"""Filling a :class:`Session` from its watchlist a part at a time, off the event loop.

Reading is the expensive half: parsing the TOML (about 2 s at 100,000 tasks) or reading
the database's copy and parsing each cached reply (about 30 µs a task). It runs on a
thread, a part of :data:`~aireiter_tui.domain.snapshot_db.PART_SIZE` entries at a time;
each part is handed to the session's own thread, which only adopts its entries (a few
milliseconds). So the dashboard's keys are answered throughout, it paints the first part
as soon as it is read, and it can say how far reading has come (:attr:`PartLoader.read`
of :attr:`PartLoader.total`). Scripts read everything at once with :meth:`finish`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from aireiter_tui.domain.session import Row, Session
from aireiter_tui.domain.snapshot_db import gc_paused
from aireiter_tui.domain.watchlist import Part, WatchlistError

#: A watchlist file up to this size (a part of it, or a little more) has its first part
#: read at once by :meth:`start` (a few frames' time); a larger one too when the
#: database's copy of it is current (its first part then costs milliseconds), else it is
#: read on a thread from the first part on.
QUICK_FILE_BYTES: Final = 256 * 1024


class PartLoader:
    """Reads the session's watchlist part by part: :meth:`start`, then :meth:`run` (on an
    event loop) or :meth:`step` / :meth:`finish`.

    Args:
        session: the session to fill.
        on_rows: called with each part's new rows (the dashboard schedules their polls).
        keep_frozen: freeze each part out of the cyclic GC's scans. For a program that
            keeps the watchlist to the end: at 10,000 tasks a full GC pass over them cost
            0.25 s, felt as key presses answered late.
    """

    def __init__(
        self,
        session: Session,
        *,
        on_rows: Callable[[list[Row]], None] = lambda rows: None,
        keep_frozen: bool = False,
    ) -> None:
        self.session = session
        self._on_rows = on_rows
        self._keep_frozen = keep_frozen
        self._parts: Iterator[Part] | None = None
        # Parts read (on any thread) and not yet adopted; the lock lets one thread at a
        # time advance the reading (a save on quit finishes what a thread began).
        self._ready: deque[Part] = deque()
        self._lock = threading.Lock()
        self._exhausted = False
        self._error: WatchlistError | None = None
        self.done = False
        #: Entries adopted so far, and how many the list holds (None: not known yet).
        self.read = 0
        self.total: int | None = None
        #: Messages for the user (a file that cannot be read, skipped entries); final
        #: once ``done``.
        self.problems: list[str] = []
        # The session's line edits at the start and those its parts made: any other (a
        # task added while the list was read) means the list is not the file's.
        self._edits = session.line_edits

    def start(self) -> list[Row]:
        """Begin reading; read the first part here when that is quick (a small watchlist
        file), so that it is on the first frame. Returns the rows read."""
        store = self.session.store
        if store is None:
            self.done = True
            return []
        self._parts = store.load_parts()
        try:
            listed = os.stat(store.path)
        except OSError:
            quick = True  # missing (nothing to read), or unreadable (said at once)
        else:
            quick = listed.st_size <= QUICK_FILE_BYTES or _copy_is_current(
                store.cache_path, listed.st_mtime_ns
            )
        return self.step() if quick else []

    def step(self) -> list[Row]:
        """Read the next part here; returns its new rows (none once ``done``)."""
        if self._parts is None or self.done:
            return []
        self._read_part()
        return self._take()

    def finish(self) -> list[Row]:
        """Read everything that is left here (before a save: a partial list must not be
        saved), also what a thread was reading."""
        rows = self.start() if self._parts is None and not self.done else []
        while not self.done:
            rows += self.step()
        return rows

    async def run(self, on_part: Callable[[list[Row]], None] = lambda rows: None) -> None:
        """Read what is left on a thread, a part at a time; each part's rows are adopted
        here, on the loop, then handed to ``on_part``."""
        while not self.done:
            await asyncio.to_thread(self._read_part)
            on_part(self._take())

    def _read_part(self) -> None:
        """Read the next part into ``_ready`` (any thread; never two at once)."""
        with self._lock:
            if self._parts is None or self._exhausted:
                return
            try:
                with gc_paused():  # the part's objects all stay: collections find nothing
                    part = next(self._parts, None)
                    if part is not None and part.last:
                        # Run the reader to its end: that is where the store records what
                        # it read (spares a round trip for the caller).
                        next(self._parts, None)
                    if self._keep_frozen and part is not None:
                        # At once, not when the loop adopts it: a collection meanwhile
                        # would scan the part (and every part read ahead of the loop).
                        gc.freeze()
            except WatchlistError as error:
                self._error, part = error, None
            if part is not None:
                self._ready.append(part)
            if part is None or part.last:
                self._exhausted = True

    def _take(self) -> list[Row]:
        """Adopt the parts read so far (on the session's thread)."""
        rows: list[Row] = []
        while self._ready:
            part = self._ready.popleft()
            self.total = part.total
            self.read += len(part.entries)
            with gc_paused():
                before = self.session.line_edits
                adopted = self.session.adopt(part.entries)
                self._edits += self.session.line_edits - before
                if self._keep_frozen:
                    gc.freeze()
            self._on_rows(adopted)
            rows += adopted
        # (_exhausted is set after the last part is queued: if it is set, the loop
        # above has taken every part)
        if self._exhausted and not self._ready and not self.done:
            self._finish()
        return rows

    def _finish(self) -> None:
        store = self.session.store
        if self._error is not None:
            self.session.save_blocked = str(self._error)
            self.problems = [
                f"{self._error} The file is left as it is; changes in this session are not saved."
            ]
        else:
            self.problems = list(store.last_warnings) if store is not None else []
            unchanged = self.session.line_edits == self._edits
            if store is not None and store.read_from_copy and unchanged and not self.problems:
                # The list as read is the file's and its database copy's: the first save
                # of answers need not write the whole list.
                self.session.lines_saved()
        self.done = True


def _copy_is_current(database: Path, listed_ns: int) -> bool:
    """Whether the database (or its write-ahead log) was written since the watchlist
    file: every save writes the file, then its copy, so the copy is of this file (a hand
    edit since makes the file the newer)."""
    for suffix in ("", "-wal"):
        with contextlib.suppress(OSError):
            if os.stat(f"{database}{suffix}").st_mtime_ns >= listed_ns:
                return True
    return False
