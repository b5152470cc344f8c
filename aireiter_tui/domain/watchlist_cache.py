"""The watchlist's load cache: decoded entries pickled next to the TOML.

Parsing 10,000 entries with ``tomllib`` (and re-parsing their tasks) takes about two
seconds; unpickling them takes a tenth of that. The cache is tagged with a hash of the
TOML bytes and used only when it matches (a hand-edited TOML always wins). It is read
with an unpickler that can build only the watchlist's own classes, never call anything.
"""

from __future__ import annotations

import contextlib
import gc
import io
import operator
import pickle
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any, Final

from aireiter_tui.domain.models import Task, TaskFailure, TaskInput, TaskOutput, TaskRef
from aireiter_tui.domain.watchlist_codec import StatusChange, WatchEntry

_CACHE_FORMAT: Final = 2
_CACHE_CLASSES: Final = {
    ("aireiter_tui.domain.models", "Task"),
    ("aireiter_tui.domain.models", "TaskInput"),
    ("aireiter_tui.domain.models", "TaskOutput"),
    ("aireiter_tui.domain.models", "TaskFailure"),
    ("aireiter_tui.domain.models", "TaskStatus"),
    ("aireiter_tui.domain.models", "OutputKind"),
    ("aireiter_tui.domain.models", "IdKind"),
    ("aireiter_tui.domain.models", "TaskRef"),
    ("aireiter_tui.domain.watchlist_codec", "WatchEntry"),
    ("aireiter_tui.domain.watchlist_codec", "StatusChange"),
    ("datetime", "datetime"),
    ("datetime", "timezone"),
    ("datetime", "timedelta"),
}


def _reducer(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    # Pickling a slots dataclass the default way calls dataclasses.fields() per object
    # (in Python); rebuilding it with its own __init__ from a tuple is several times faster.
    values = operator.attrgetter(*(f.name for f in fields(cls)))
    return lambda obj: (cls, values(obj))


_REDUCERS: Final = {
    cls: _reducer(cls)
    for cls in (Task, TaskInput, TaskOutput, TaskFailure, TaskRef, WatchEntry, StatusChange)
}


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building or dumping thousands of objects.

    Those objects are all alive until the end, so the collections the allocations
    trigger find nothing and cost a third of the time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _CacheUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _CACHE_CLASSES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in the cache")


def read_cache(path: Path, digest: str) -> tuple[list[WatchEntry], Any, list[str]] | None:
    """(entries, TOML chunks, warnings) from the cache at ``path`` if it matches ``digest``."""
    try:
        with path.open("rb") as handle, gc_paused():
            cache = _CacheUnpickler(io.BufferedReader(handle)).load()
        if cache["format"] != _CACHE_FORMAT or cache["digest"] != digest:
            return None
        entries = cache["entries"]
        if not all(isinstance(entry, WatchEntry) for entry in entries):
            return None
        return entries, cache["chunks"], [str(text) for text in cache["warnings"]]
    except Exception:
        # Any damage to the cache (truncation, old format, tampering) only means
        # falling back to the TOML, which stays the source of truth.
        return None


def dump_cache(digest: str, entries: list[WatchEntry], chunks: Any, warnings: list[str]) -> bytes:
    """The cache's bytes for the TOML file with this digest."""
    cache = {
        "format": _CACHE_FORMAT,
        "digest": digest,
        "warnings": warnings,
        "entries": entries,
        "chunks": chunks,
    }
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _REDUCERS  # type: ignore[assignment]
    with gc_paused():
        pickler.dump(cache)
    return buffer.getvalue()
