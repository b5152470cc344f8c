"""The simulator's tasks: their timelines, their JSON, and the clock they live by.

A task's status is not stored; it is read off its timeline: a list of
``(offset, status)`` stages in *nominal* seconds from creation. Real elapsed time is
multiplied by ``speed`` before it is compared with the offsets, so ``speed=10`` runs
the demo ten times faster. ``force_status`` pins a status regardless of the timeline.

Each task caches its rendered ``data`` JSON per stage: a query costs one dictionary
lookup and, after a status change, one ``json.dumps``.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

#: Stands for the simulator's base URL inside stored strings; replaced when rendering so
#: tasks can be created before the server knows its port.
BASE: Final = "@@SIM_BASE@@"
#: 2025-12-18T10:12:11Z, the creation time in the reference page's example.
REFERENCE_EPOCH: Final = 1766052731.0


class ManualClock:
    """A clock that only moves when told to (epoch seconds). Deterministic tests use it."""

    def __init__(self, start: float = REFERENCE_EPOCH) -> None:
        self._now = float(start)

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward (never backwards)."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._now += seconds


def iso_timestamp(epoch: float) -> str:
    """``2025-12-18T10:12:11.000Z``: UTC, milliseconds, ``Z``, as the API writes times."""
    millis = round(epoch * 1000)
    seconds, ms = divmod(millis, 1000)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ms:03d}Z"


def token(rng: random.Random, length: int = 21) -> str:
    """A nanoid-like ID part (URL-safe alphabet), drawn from ``rng``."""
    return base64.urlsafe_b64encode(rng.randbytes((length * 3 + 3) // 4)).decode()[:length]


@dataclass(slots=True, eq=False)
class SimTask:
    """One task. ``outputs`` and ``error`` are planned at creation and shown by status."""

    task_id: str | None
    out_task_id: str | None
    created: float
    stages: tuple[tuple[float, str], ...]
    input: dict[str, Any] | None
    outputs: tuple[str, ...]
    error: dict[str, Any] | None
    credits: int
    metadata: dict[str, Any] | None = None
    forced: str | None = None
    forced_at: float = 0.0
    _cache_key: object = field(default=None, repr=False)
    _cache: bytes = field(default=b"", repr=False)

    @property
    def ident(self) -> str:
        """The ID a client can use: ``task_id``, or ``out_task_id`` for hidden ones."""
        return self.task_id if self.task_id is not None else str(self.out_task_id)

    def stage(self, now: float, speed: float) -> tuple[int, str]:
        """The index of the current stage (-1 when forced) and the status it shows."""
        if self.forced is not None:
            return -1, self.forced
        elapsed = (now - self.created) * speed
        index = 0
        for i, (offset, _status) in enumerate(self.stages):
            if offset <= elapsed:
                index = i
            else:
                break
        return index, self.stages[index][1]

    def status(self, now: float, speed: float) -> str:
        return self.stage(now, speed)[1]

    def finished_at(self, index: int, speed: float) -> float:
        """When the stage ``index`` began (the forcing time for a forced status)."""
        if index < 0:
            return self.forced_at
        return self.created + self.stages[index][0] / speed

    def force(self, status: str, now: float) -> None:
        self.forced = status
        self.forced_at = now
        self._cache_key = None

    def unforce(self) -> None:
        self.forced = None
        self._cache_key = None

    def data(self, status: str, completed_at: float | None, base: str) -> dict[str, Any]:
        """The query ``data`` object for this task in ``status``."""
        data: dict[str, Any] = {}
        if self.task_id is not None:
            data["task_id"] = self.task_id
        if self.out_task_id is not None:
            data["out_task_id"] = self.out_task_id
        data["status"] = status
        data["created_at"] = iso_timestamp(self.created)
        if status == "completed" and completed_at is not None:
            data["completed_at"] = iso_timestamp(completed_at)
        if self.input is not None:
            data["input"] = self.input
        data["credits_used"] = self.credits if status == "completed" else 0
        if status == "completed":
            data["output"] = [{"url": f"{base}/files/{name}"} for name in self.outputs]
        if status == "failed":
            data["error"] = self.error
        if self.metadata is not None:
            data["metadata"] = self.metadata
        return data

    def render(self, now: float, speed: float, base: str) -> bytes:
        """The whole query envelope as bytes, cached until the stage changes."""
        index, status = self.stage(now, speed)
        key = (index, status, base)
        if key != self._cache_key:
            completed_at = self.finished_at(index, speed) if status == "completed" else None
            envelope = {
                "statusCode": 200,
                "message": "",
                "data": self.data(status, completed_at, base),
            }
            text = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
            self._cache = text.replace(BASE, base).encode()
            self._cache_key = key
        return self._cache


class TaskStore:
    """Every task, indexed by both kinds of ID."""

    def __init__(self, clock: Callable[[], float] | None, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.clock: Callable[[], float] = clock or time.time
        self.speed = speed
        self.by_task_id: dict[str, SimTask] = {}
        self.by_out_task_id: dict[str, SimTask] = {}
        self.all: list[SimTask] = []

    def add(self, task: SimTask) -> SimTask:
        if task.task_id is not None:
            self.by_task_id[task.task_id] = task
        if task.out_task_id is not None:
            self.by_out_task_id[task.out_task_id] = task
        self.all.append(task)
        return task

    def find(self, ident: str) -> SimTask | None:
        """A task by either ID (``task_id`` first)."""
        return self.by_task_id.get(ident) or self.by_out_task_id.get(ident)

    def lookup(self, kind: str, ident: str) -> SimTask | None:
        index = self.by_task_id if kind == "task_id" else self.by_out_task_id
        return index.get(ident)


def timeline(
    status: str,
    *,
    now: float,
    speed: float,
    pending_s: float,
    processing_s: float,
    outcome: str,
    position: float = 0.0,
    age_s: float = 0.0,
) -> tuple[float, tuple[tuple[float, str], ...]]:
    """Creation time and stages that put a task in ``status`` at ``now``.

    Args:
        status: The status the task shows now; any value outside the four documented
            ones becomes a single stage that never changes.
        pending_s: Nominal seconds queued.
        processing_s: Nominal seconds running.
        outcome: ``"completed"`` or ``"failed"``, where the task ends.
        position: How far (0..1) into its current stage the task already is.
        age_s: For finished tasks, real seconds since they finished.
    """
    stages = ((0.0, "pending"), (pending_s, "processing"), (pending_s + processing_s, outcome))
    if status == "pending":
        return now - position * pending_s / speed, stages
    if status == "processing":
        return now - (pending_s + position * processing_s) / speed, stages
    if status in ("completed", "failed"):
        final = ((0.0, "pending"), (pending_s, "processing"), (pending_s + processing_s, status))
        return now - (pending_s + processing_s) / speed - age_s, final
    return now - age_s, ((0.0, status),)
