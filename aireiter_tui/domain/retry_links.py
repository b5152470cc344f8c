"""Which watched tasks retry each task (the detail pane's "Retried as" links), kept up to
date as rows come and go.

At 100,000 rows, reading every row's entry again whenever rows were added or removed cost
20-25 ms on the event loop. Rows are added at the end of the list (a part read, an add)
or removed; only those are read here. Rows put back between others (an undo) change the
order of a task's retries, so then every row is read again.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import islice
from operator import eq

from aireiter_tui.domain.models import TaskRef
from aireiter_tui.domain.session import Row
from aireiter_tui.domain.view import AppendLog


class RetryLinks:
    """Each task's watched retries, in list order, as of the last :meth:`update`."""

    def __init__(self) -> None:
        self._links: dict[TaskRef, list[TaskRef]] = {}
        # The keys of the rows taken in, in list order.
        self._keys: list[str] = []
        # Where the rows' append log was at the last update (None: compare).
        self._mark: tuple[int, int] | None = None

    def update(
        self, rows: Mapping[str, Row], log: AppendLog | None = None
    ) -> dict[TaskRef, list[TaskRef]]:
        """The links for ``rows`` (the session's rows, in list order): reads only the rows
        added or removed since the last call, unless the others changed order. ``log``:
        the rows' append log, if they keep one (rows added at the end, as a long list is
        read, are then found without comparing every key)."""
        keys, links = self._keys, self._links
        appended = log.since(self._mark) if log is not None else None
        self._mark = log.mark() if log is not None else None
        if appended is not None:
            self._take(rows, appended)
            return links
        if len(rows) < len(keys) or not all(map(eq, keys, rows)):
            gone = set(keys).difference(rows)
            kept = [key for key in keys if key not in gone] if gone else keys
            if len(kept) > len(rows) or not all(map(eq, kept, rows)):
                self._links, self._keys = {}, []
                return self.update(rows)  # (from nothing: the rows are all new)
            for target, retries in list(links.items()):
                left = [retry for retry in retries if retry.key not in gone]
                if left:
                    links[target] = left
                else:
                    del links[target]
            self._keys = keys = kept
        self._take(rows, list(islice(rows, len(keys), None)))
        return links

    def _take(self, rows: Mapping[str, Row], added: list[str]) -> None:
        """Take in the rows ``added`` at the end."""
        links = self._links
        for key in added:
            entry = rows[key].entry
            if entry.retry_of is not None:
                links.setdefault(entry.retry_of, []).append(entry.ref)
        self._keys.extend(added)
