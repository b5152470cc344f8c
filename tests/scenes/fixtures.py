"""Fixture data and a socket-free backend for the scenes.

The demo tasks come from the simulator's seeded generator (``TaskFactory.demo``) run on
a :class:`~aireiter_tui.simulator.ManualClock`, rendered to the same JSON its server
would send, without starting the server. The hostile tasks are written here by hand.
"""

from __future__ import annotations

import json
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

from aireiter_tui.api.client import AIReiterClient
from aireiter_tui.backend import Backend
from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import IdKind, Task, TaskRef, TaskStatus, parse_task
from aireiter_tui.domain.views import View
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import StatusChange, WatchEntry
from aireiter_tui.simulator.scenario import REFERENCE_EPOCH, ManualClock, TaskStore, iso_timestamp
from aireiter_tui.simulator.seeding import TaskFactory

if TYPE_CHECKING:
    from aireiter_tui.domain.output_cache import Fetched

#: The frozen wall clock of every scene: the reference page's example date.
NOW: Final = datetime.fromtimestamp(REFERENCE_EPOCH, tz=UTC)
#: The frozen monotonic clock of every scene.
MONOTONIC_NOW: Final = 10_000.0
#: The simulator address the scenes pretend to watch (nothing listens there).
DEMO_BASE: Final = "http://127.0.0.1:8787"
DEMO_SEED: Final = 0

#: Labels given to some demo tasks (by position), as a user would.
_LABELS: Final = {1: "hero banner v2", 16: "京都 night series"}


class _IdleClient:
    """Stands in for :class:`AIReiterClient` so the app shows a connected state.

    Scenes run with ``live=False``: no refresh round starts, so nothing queries it.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    async def query_ref(self, ref: TaskRef) -> Task:
        raise AssertionError("scenes never refresh")

    async def aclose(self) -> None:
        return None


@dataclass
class SceneBackend(Backend):
    """A :class:`Backend` that opens no socket: fixture entries in a temporary watchlist.

    ``prepare()`` writes ``entries`` to the store the app then loads, so the scenes also
    go through the watchlist's encode/decode path. With ``connected=False`` it runs the
    real ``Backend.connect()`` without a key, which only sets the "no API key" problem.
    """

    entries: list[WatchEntry] | None = None
    connected: bool = True
    tmp: tempfile.TemporaryDirectory[str] | None = None

    @classmethod
    def create(
        cls,
        entries: list[WatchEntry],
        *,
        connected: bool = True,
        theme: str = "textual-dark",
        views: tuple[View, ...] = (),
    ) -> SceneBackend:
        tmp = tempfile.TemporaryDirectory(prefix="aireiter-scene-")
        store = WatchlistStore(Path(tmp.name) / "watchlist.toml")
        settings = Settings(base_url="https://aireiter.com", theme=theme, views=views)
        return cls(settings, store, entries=entries, connected=connected, tmp=tmp)

    @property
    def where(self) -> str:
        return f"demo simulator {DEMO_BASE}" if self.connected else super().where

    async def prepare(self) -> None:
        if self.store is not None and self.entries:
            self.store.save(self.entries)

    async def connect(self) -> None:
        if self.connected:
            self.client = cast(AIReiterClient, _IdleClient(DEMO_BASE))
        else:
            await super().connect()

    async def stop(self) -> None:
        await super().stop()
        if self.tmp is not None:
            self.tmp.cleanup()


# --- entries -------------------------------------------------------------------------
def entry_from(data: dict[str, Any], index: int, label: str | None = None) -> WatchEntry:
    """A watched task as if the dashboard had refreshed it a few seconds before NOW."""
    task = parse_task(data)
    kind = IdKind.TASK_ID if task.task_id else IdKind.OUT_TASK_ID
    ref = TaskRef(kind, task.task_id or task.out_task_id or f"task-{index}")
    created = task.created_at or NOW - timedelta(minutes=5)
    return WatchEntry(
        ref=ref,
        label=label,
        added_at=created + timedelta(seconds=1),
        task=task,
        checked_at=NOW - timedelta(seconds=1 + index % 4),
        history=_history(task, created),
    )


def _history(task: Task, created: datetime) -> list[StatusChange]:
    changes = [StatusChange("pending", created)]
    if task.status is not TaskStatus.PENDING:
        changes.append(StatusChange("processing", created + timedelta(seconds=4)))
    if task.status.is_terminal or task.status is TaskStatus.UNKNOWN:
        ended = task.completed_at or min(NOW, created + timedelta(seconds=95))
        changes.append(StatusChange(task.status_label, ended))
    return changes


@cache
def _demo_data() -> tuple[str, ...]:
    # Cached as JSON text so every caller gets fresh, unshared objects.
    clock = ManualClock(REFERENCE_EPOCH)
    store = TaskStore(clock, speed=1.0)
    TaskFactory(store, DEMO_SEED).demo()
    return tuple(
        json.dumps(json.loads(task.render(clock(), store.speed, DEMO_BASE))["data"])
        for task in store.all
    )


def demo_entries() -> list[WatchEntry]:
    """The simulator's demo set (every status, both ID kinds) and one never-fetched task."""
    entries = [
        entry_from(json.loads(text), index, _LABELS.get(index))
        for index, text in enumerate(_demo_data())
    ]
    just_added = TaskRef(IdKind.TASK_ID, "order_Qm3k7ZkP1vYtR8wLs2DnA")
    entries.append(WatchEntry(ref=just_added, label=None, added_at=NOW))
    return entries


def find_key(entries: list[WatchEntry], predicate: Callable[[Task], bool]) -> str:
    """The key of the first entry whose task matches (scenes pick rows by what they show)."""
    for entry in entries:
        if entry.task is not None and predicate(entry.task):
            return entry.ref.key
    raise LookupError("no fixture task matches")


# --- hostile strings -------------------------------------------------------------------
_MARKUP: Final = "[bold]not bold[/] [@click=app.quit]click to quit[/] [link=https://x.example]x"
_ESCAPES: Final = "\x1b[31mred?\x1b[0m \x1b]0;window title\x07 \x9b2J \x1b[2J\x1b[H bell\x07"
_BIDI: Final = "invoice_\u202egnp.exe"
_LONG: Final = " ".join(["a very long prompt that goes on and on"] * 30)
_NON_LATIN: Final = "夕暮れの京都の路地 · बिल्ली · 👩‍🚀🚀 · Z̴̡a̵l̷g̸o · قطة على سطح القمر"


def _hostile_data() -> list[dict[str, Any]]:
    created = iso_timestamp(REFERENCE_EPOCH - 300)
    done = iso_timestamp(REFERENCE_EPOCH - 200)
    return [
        {
            "task_id": "order_[b]MARKUP[/b]",
            "status": "[blink]queued[/blink]",
            "created_at": created,
            "input": {
                "model": "[red]gpt_4o[/red]",
                "params": {"prompt": _MARKUP, "[i]key[/i]": _ESCAPES, "note": _BIDI},
                "attachments": ["https://a.example/[b]1[/b].png,https://b.example/2.png"],
            },
            "credits_used": 7,
            "metadata": {"[/]": "[/]", "esc": "\x1b[2J"},
        },
        {
            "task_id": "order_escapes\u202e",
            "status": "completed",
            "created_at": created,
            "completed_at": done,
            "input": {"model": "nano_banana", "params": {"prompt": _ESCAPES}},
            "output": [{"url": "javascript:alert(1)"}, {"url": "https://x.example/\x1b[5mo.png"}],
            "credits_used": 100,
        },
        {
            "task_id": "order_" + "L" * 120,
            "status": "processing",
            "created_at": created,
            "input": {"model": "m" * 60, "params": {"prompt": _LONG}},
        },
        {
            "out_task_id": "京都-夜景-001",
            "status": "failed",
            "created_at": created,
            "input": {"model": "模型🚀", "params": {"prompt": _NON_LATIN}},
            "error": {"code": "[b]E42[/b]", "message": f"{_MARKUP} {_ESCAPES} {_NON_LATIN}"},
        },
    ]


def hostile_entries() -> list[WatchEntry]:
    """Tasks whose every string is markup, escapes, bidi tricks or very long text."""
    labels = [f"{_ESCAPES} [i]label[/i]", None, None, "ラベル · تسمية"]
    return [entry_from(data, index, labels[index]) for index, data in enumerate(_hostile_data())]


# --- output files ------------------------------------------------------------------------
class SceneOutputs:
    """Stands in for :class:`~aireiter_tui.domain.output_cache.OutputCache` with no socket:
    every image URL is already cached, as a PNG made from a seed of its file name (16:9,
    as the simulator makes them). Files live in a temporary folder of their own."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="aireiter-scene-outputs-")
        self._known: dict[str, Fetched] = {}

    def cached(self, url: str) -> Fetched:
        from aireiter_tui.domain.media_info import inspect
        from aireiter_tui.domain.output_cache import Fetched
        from aireiter_tui.domain.output_fetch import LinkState
        from aireiter_tui.simulator.media import make_png

        known = self._known.get(url)
        if known is None:
            name = url.rpartition("/")[2]
            path = Path(self._tmp.name) / f"{zlib.crc32(name.encode())}.png"
            path.write_bytes(make_png(320, 180, zlib.crc32(name.encode())))
            known = self._known[url] = Fetched(url, LinkState.OK, path, inspect(path))
        return known

    async def fetch(self, url: str) -> Fetched:
        return self.cached(url)

    async def aclose(self) -> None:
        self._tmp.cleanup()
