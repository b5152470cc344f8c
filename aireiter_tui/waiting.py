"""``aireiter-tui wait``: wait from a script until tasks finish, on the dashboard's monitor.

The tasks are polled by the same :class:`~aireiter_tui.domain.monitor.Monitor`, scheduler
and gate as in the dashboard: the poll interval and its slow rate for long runners, the
global pause on a 429, the stop on a refused key, backoff with jitter for failing tasks.

Exit status (most important first, when several apply):

- 2: the key was refused, or a task is unknown to the server (not found twice in a row,
  a slow interval apart: right after a submit an ID may take a moment to exist);
- 4: the server was unreachable for longer than ``--timeout``;
- 1: at least one task failed;
- 3: the timeout passed before every task finished;
- 0: every task completed.

Progress goes to standard error: on a terminal one line kept up to date, otherwise one
line per status change. ``--json`` writes one JSON object per change to standard output
and a summary object at the end; otherwise a summary line per task is printed at the end.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TextIO

from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.errors import TaskNotFoundError
from aireiter_tui.domain.models import Task, TaskRef, TaskStatus
from aireiter_tui.domain.monitor import Monitor
from aireiter_tui.domain.poller import QueryClient
from aireiter_tui.output import json_text, shown, write

# Rich's, not Textual's: the command stays light.
from aireiter_tui.ui.widgets.formatting import format_duration

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_TIMEOUT, EXIT_UNREACHABLE = 0, 1, 2, 3, 4

#: How often the progress line and the finished check run (seconds).
TICK: Final = 0.2
#: "Not found" answers in a row, at least a slow interval apart, before a task is unknown.
NOT_FOUND_LIMIT: Final = 2


@dataclass(slots=True)
class Waited:
    """One task as ``wait`` saw it."""

    ref: TaskRef
    status: str | None = None  # the last status label seen; None before the first answer
    task: Task | None = None
    not_found: int = 0
    unknown: bool = False
    last_error: object = None  # the row's error as last seen: a new one is a new answer

    @property
    def finished(self) -> bool:
        task = self.task
        return self.unknown or (task is not None and task.status.is_terminal)


@dataclass(slots=True)
class WaitResult:
    """How the wait ended: the exit status, why, and every task."""

    code: int
    reason: str
    tasks: list[Waited] = field(default_factory=list)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _duration(task: Task | None) -> float | None:
    if task is None or task.created_at is None or task.completed_at is None:
        return None
    return max(0.0, (task.completed_at - task.created_at).total_seconds())


@dataclass(frozen=True, slots=True)
class TaskSummary:
    """One task's final state, for the summary line or object."""

    id: str
    kind: str
    status: str | None
    duration_s: float | None
    credits: float | None
    outputs: list[str]
    error: str | None

    @classmethod
    def of(cls, waited: Waited) -> TaskSummary:
        task = waited.task
        return cls(
            id=waited.ref.id,
            kind=waited.ref.kind.value,
            status="unknown to the server" if waited.unknown else waited.status,
            duration_s=_duration(task),
            credits=_finite(task.credits_used) if task else None,
            outputs=[output.url for output in task.outputs] if task else [],
            error=task.failure.message if task and task.failure else None,
        )

    def text(self) -> str:
        """Tab-separated: ID, status, then duration, credits, error and URLs if known."""
        fields = [shown(self.id), shown(self.status or "-")]
        if self.duration_s is not None:
            fields.append(format_duration(self.duration_s))
        if self.credits is not None:
            fields.append(f"{self.credits:g} credits")
        if self.error:
            fields.append(shown(self.error, 200))
        fields += [shown(url) for url in self.outputs]
        return "\t".join(fields)


class Waiter:
    """Runs one wait: see the module docstring.

    Args:
        monitor: a monitor holding exactly the tasks to wait for, connected to a client.
        refs: the tasks to wait for.
        timeout: give up after this many seconds (None: never).
        out: standard output (``--json`` events and the summary).
        err: standard error (progress).
        json_lines: write JSON events instead of text.
        quiet: no progress and no per-task summary (the exit status says it).
        live_line: keep one progress line up to date (a terminal) instead of a line per change.
        clock: wall seconds for the timeout and elapsed time.
    """

    def __init__(
        self,
        monitor: Monitor,
        refs: Sequence[TaskRef],
        *,
        timeout: float | None,
        out: TextIO,
        err: TextIO,
        json_lines: bool = False,
        quiet: bool = False,
        live_line: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.monitor = monitor
        self.tasks = {ref.key: Waited(ref) for ref in refs}
        self.timeout = timeout
        self.out, self.err = out, err
        self.json_lines, self.quiet, self.live_line = json_lines, quiet, live_line
        self.clock = clock
        self._line_shown = False

    async def run(self) -> WaitResult:
        started = self.clock()
        runner = asyncio.create_task(self.monitor.run())
        try:
            while True:
                if runner.done():  # a bug in the monitor: say so rather than hang
                    runner.result()
                self._take_answers()
                result = self._verdict(self.clock() - started)
                if result is not None:
                    break
                self._progress(self.clock() - started)
                await asyncio.sleep(TICK)
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        self._clear_line()
        self._finish(result)
        return result

    # --- answers ----------------------------------------------------------------------
    def _take_answers(self) -> None:
        self.monitor.take_changes()  # the batch is for screens; the rows say everything
        rows = self.monitor.session.rows
        for key, waited in self.tasks.items():
            row = rows.get(key)
            if row is None or waited.unknown:
                continue
            if isinstance(row.error, TaskNotFoundError) and row.task is None:
                if row.error is not waited.last_error:
                    waited.last_error = row.error
                    waited.not_found += 1
                    waited.unknown = waited.not_found >= NOT_FOUND_LIMIT
                continue
            task = row.task
            if task is None or task.status_label == waited.status:
                continue
            previous, waited.status, waited.task = waited.status, task.status_label, task
            self._changed(waited, previous)

    def _changed(self, waited: Waited, previous: str | None) -> None:
        if self.json_lines:
            event = {
                "event": "status",
                "id": waited.ref.id,
                "kind": waited.ref.kind.value,
                "status": waited.status,
                "previous": previous,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            write(self.out, json_text(event, self.out) + "\n")
            self.out.flush()
        elif not self.quiet and not self.live_line:
            before = f"{shown(previous)} → " if previous else ""
            write(self.err, f"{shown(waited.ref.id)}: {before}{shown(waited.status or '')}\n")
            self.err.flush()

    # --- the end ----------------------------------------------------------------------
    def _verdict(self, elapsed: float) -> WaitResult | None:
        gate = self.monitor.scheduler.gate
        waited = list(self.tasks.values())
        if gate.auth_blocked:
            return WaitResult(EXIT_USAGE, "the server refused the API key", waited)
        if all(task.finished for task in waited):
            return self._outcome(waited, timed_out=False)
        if self.timeout is not None and elapsed >= self.timeout:
            if gate.offline_since is not None:
                why = gate.last_error.human() if gate.last_error else "no answer"
                return WaitResult(EXIT_UNREACHABLE, f"the server was unreachable: {why}", waited)
            return self._outcome(waited, timed_out=True)
        return None

    def _outcome(self, waited: list[Waited], *, timed_out: bool) -> WaitResult:
        unknown = [task for task in waited if task.unknown]
        failed = [task for task in waited if task.task and task.status == "failed"]
        if unknown:
            return WaitResult(EXIT_USAGE, f"{len(unknown)} unknown to the server", waited)
        left = sum(not task.finished for task in waited)
        late = f"timed out with {left} not finished" if timed_out else ""
        if failed:
            why = f"{len(failed)} failed" + (f"; {late}" if late else "")
            return WaitResult(EXIT_FAILED, why, waited)
        if timed_out:
            return WaitResult(EXIT_TIMEOUT, late, waited)
        return WaitResult(EXIT_OK, "all completed", waited)

    def _finish(self, result: WaitResult) -> None:
        if self.json_lines:
            summary = {
                "event": "summary",
                "exit": result.code,
                "reason": result.reason,
                "tasks": [asdict(TaskSummary.of(task)) for task in result.tasks],
            }
            write(self.out, json_text(summary, self.out) + "\n")
            self.out.flush()
            return
        if self.quiet:
            return
        for waited in result.tasks:
            write(self.out, TaskSummary.of(waited).text() + "\n")
        self.out.flush()
        write(self.err, f"aireiter-tui wait: {result.reason}\n")

    # --- progress ---------------------------------------------------------------------
    def _progress(self, elapsed: float) -> None:
        if not self.live_line or self.quiet or self.json_lines:
            return
        counts: dict[str, int] = {}
        for waited in self.tasks.values():
            if waited.unknown:
                name = "unknown"
            elif waited.status is None:
                name = "not found yet" if waited.not_found else "not answered yet"
            else:
                name = waited.status
            counts[name] = counts.get(name, 0) + 1
        order = [s.value for s in TaskStatus] + ["not answered yet", "not found yet", "unknown"]
        parts = [f"{counts[name]} {name}" for name in order if name in counts]
        parts += [f"{n} {shown(name)}" for name, n in counts.items() if name not in order]
        state = self.monitor.state()
        nxt = f", next check in {format_duration(state.next_poll_in)}" if state.next_poll_in else ""
        mode = "" if state.mode in ("live", "idle") else f" [{state.mode}]"
        line = f"{' · '.join(parts)} — {format_duration(elapsed)} elapsed{nxt}{mode}"
        write(self.err, "\r\x1b[2K" + line)
        self.err.flush()
        self._line_shown = True

    def _clear_line(self) -> None:
        if self._line_shown:
            self.err.write("\r\x1b[2K")
            self.err.flush()
            self._line_shown = False


async def wait_for_tasks(
    client: QueryClient,
    settings: Settings,
    refs: Sequence[TaskRef],
    **options: Any,
) -> WaitResult:
    """Wait for ``refs`` with a monitor of their own (no watchlist file is written)."""
    monitor = Monitor(None, settings)
    monitor.load()
    monitor.add(refs)
    monitor.connect(client)
    return await Waiter(monitor, refs, **options).run()
