"""Keeping the cyclic GC off what a long-lived program keeps: the watchlist's entries and
every task's last answer.

CPython's full collection scans every tracked object that is not frozen, and a full
collection runs about twice a second while the dashboard repaints (Textual's line caches
leave cycles behind). Whatever the program keeps for good after the list is read makes
each of them longer, felt as key presses answered late: a first pass over an unknown
list of 100,000 brings an answer per task (each with its reply's objects), and the first
save builds the store's memo of every line of the file (it took full collections from
16 ms to 40 ms at 100,000 tasks).

So, after a big batch of them has come in, the survivors of the next full collection
are frozen (:func:`gc.freeze`): never scanned again. Right after a full collection
nothing unreachable is left, so freezing then keeps no garbage alive; what it keeps is
whatever of the frozen objects becomes garbage in a cycle later (a screen closed since,
say), bounded by the live objects at that moment, and it happens once per batch.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from typing import Any, Final

#: How many new long-lived objects' owners (answers with a snapshot, adopted entries)
#: make a batch worth freezing: small enough that a first pass over 100,000 tasks never
#: lets a full collection scan more than a few batches, large enough that the freezes
#: (and what each may keep) stay few.
FREEZE_BATCH: Final = 5_000

_Callback = Callable[[str, dict[str, Any]], None]


class BatchFreezer:
    """Counts what is added to the long-lived state (:meth:`count`); once a batch is
    full, the next full collection's survivors are frozen.

    ``enabled=False`` (scripts, tests): counts and does nothing else.
    """

    def __init__(self, *, enabled: bool, batch: int = FREEZE_BATCH) -> None:
        self.batch = batch
        self.enabled = enabled
        self._pending = 0
        self._armed = False
        self._callback: _Callback | None = None
        if enabled:
            # The GC holds its callbacks for good: a weak reference lets a forgotten
            # freezer go (its callback then does nothing).
            this = weakref.ref(self)

            def after_collection(phase: str, info: dict[str, Any]) -> None:
                freezer = this()
                if freezer is not None:
                    freezer._collected(phase, info)

            self._callback = after_collection
            gc.callbacks.append(after_collection)

    def count(self, added: int = 1) -> None:
        """``added`` more long-lived owners (answers, entries) since the last freeze."""
        self._pending += added
        if self.enabled and self._pending >= self.batch:
            self._armed = True

    def close(self) -> None:
        """Stop freezing (the program is done with its list)."""
        if self._callback is not None:
            # (never from inside a callback: the GC walks its list while calling them)
            gc.callbacks.remove(self._callback)
            self._callback = None
        self._armed = False

    def _collected(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop" or info["generation"] != 2 or not self._armed:
            return
        # The collection is over and its lists are consistent: every object left is
        # reachable, and none of them will be scanned again.
        gc.freeze()
        self._pending = 0
        self._armed = False
