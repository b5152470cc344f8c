"""Shared helpers for the scheduler tests."""

from __future__ import annotations

import random
from datetime import datetime

from aireiter_tui.domain.models import IdKind, Task, TaskRef, TaskStatus
from aireiter_tui.domain.scheduler import PollScheduler

WALL = 1_800_000_000.0  # the fake wall clock, in Unix seconds
ACTIVE = (TaskStatus.PENDING, TaskStatus.PROCESSING)


def ref(i: int) -> TaskRef:
    return TaskRef(IdKind.TASK_ID, f"order_{i}")


def task(status: TaskStatus, created_at: datetime | None = None) -> Task:
    return Task(task_id="t", status=status, status_raw=status.value, created_at=created_at)


def make(**kwargs: float) -> PollScheduler:
    return PollScheduler(rng=random.Random(7), wall_clock=lambda: WALL, **kwargs)
