"""Marked rows: the tasks a bulk action applies to.

Marks are kept by row key (a task's :attr:`~aireiter_tui.domain.models.TaskRef.key`), not
by position, so they survive filtering, sorting and polling; the rows that are removed
lose theirs (:meth:`Marks.keep_only`). Plain Python: the screen keeps one and asks it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class _Extension:
    """A run of shift+arrow presses: where it began, where the cursor is now, and the
    marks from before it (moving back over the run unmarks what the run marked)."""

    anchor: str
    cursor: str
    before: frozenset[str]


class Marks(Collection[str]):
    """The marked row keys (see the module docstring)."""

    __slots__ = ("_extension", "_keys")

    def __init__(self) -> None:
        self._keys: set[str] = set()
        self._extension: _Extension | None = None

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def toggle(self, key: str) -> bool:
        """Mark ``key``, or unmark it if it was marked; returns whether it is marked now."""
        self._extension = None
        if key in self._keys:
            self._keys.discard(key)
            return False
        self._keys.add(key)
        return True

    def toggle_all(self, keys: Sequence[str]) -> bool:
        """Mark every one of ``keys`` (the visible rows); when all of them were marked
        already, unmark them instead. Marks of other rows stay. Returns whether they are
        marked now."""
        self._extension = None
        if keys and all(key in self._keys for key in keys):
            self._keys.difference_update(keys)
            return False
        self._keys.update(keys)
        return True

    def clear(self) -> set[str]:
        """Unmark everything; returns the keys that were marked."""
        self._extension = None
        cleared, self._keys = self._keys, set()
        return cleared

    def extend(self, order: Sequence[str], start: str, end: str) -> set[str]:
        """The cursor moved from ``start`` to ``end`` with shift held: mark the rows of
        ``order`` from where this run of shift moves began to ``end``, as a text editor
        extends a selection (moving back shrinks the run; marks made before it stay).
        A run goes on while each move starts where the last one ended. Returns the keys
        whose mark changed."""
        run = self._extension
        if run is None or run.cursor != start or run.anchor not in order:
            run = _Extension(start, start, frozenset(self._keys))
        index = {key: position for position, key in enumerate(order)}
        if run.anchor not in index or end not in index:
            return set()
        low, high = sorted((index[run.anchor], index[end]))
        marked = set(run.before).union(order[low : high + 1])
        changed = marked ^ self._keys
        self._keys = marked
        self._extension = _Extension(run.anchor, end, run.before)
        return changed

    def keep_only(self, keys: Collection[str]) -> set[str]:
        """Drop the marks of rows no longer among ``keys`` (removed); returns them."""
        gone = {key for key in self._keys if key not in keys}
        self._keys -= gone
        return gone

    def in_order(self, order: Iterable[str]) -> list[str]:
        """The marked keys among ``order``, in that order (the rows a bulk action takes)."""
        keys = self._keys
        return [key for key in order if key in keys]
