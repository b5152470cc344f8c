"""Scale figures (issue 20): the client's own CPU per query, and 100,000 watched tasks.

``python -m bench.scale [--quick] [--part NAME ...] [--runs N] [--no-hog] [--profile]``

- **CPU per query**: a simulator in a child process answers at once (no added latency),
  so the client is the bottleneck and its process's CPU time (``time.process_time``,
  every thread) divided by the queries answered is what one query costs us: building the
  request, the transport, reading and parsing the answer, applying it to the session,
  rescheduling, and (for the app) the screen's share of repainting. Twice: the domain
  alone (a :class:`~aireiter_tui.domain.monitor.Monitor` polling, no UI) and the whole
  app headless (every frame encoded as for a terminal) while a refresh of every task runs.
- **100,000 watched, 1 % active**: start-up in fresh interpreters (first frame with rows,
  every task read, peak RSS), applying answers that change 1 % of the rows, and key ->
  painted while the active 1 % is polled (a simulator in a child process, 50 ms per
  request, knows the active tasks; the finished ones are never queried).
- **1,000,000 watched** (:mod:`bench.million`): a hand-written list of IDs read by a
  fresh app: first frame, first rows, progress shown, key -> painted while it is read.

Each figure is the median of several runs, shown with its spread (see
:mod:`bench.report`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import dataclasses
import io
import json
import multiprocessing
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aireiter_tui.api.client import AIReiterClient
from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import IdKind, Task, TaskRef, parse_task
from aireiter_tui.domain.monitor import Monitor
from aireiter_tui.domain.poller import PollOutcome
from aireiter_tui.domain.secret import ApiKey
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry
from aireiter_tui.simulator import Simulator, running_in_thread
from bench import hostile, million, startup, ui
from bench.report import Figure, Target, fine_ms, machine, ms, percentile, secs, table
from bench.server import Served
from bench.ui import make_app, stop_polling


# --- a simulator in a child process, with a status mix ---------------------------------
def _serve_in_child(
    latency_ms: float,
    tasks: int,
    mix: Mapping[str, float] | None,
    ready: multiprocessing.Queue[str],
    done: Any,
) -> None:
    """Child process: the same seeded tasks as the parent, served until ``done`` is set;
    puts the base URL in ``ready``, then the CPU seconds the serving took."""

    async def serve() -> None:
        sim = Simulator(latency_ms=latency_ms)
        if mix is None:
            sim.add_tasks(tasks)
        else:
            sim.add_tasks(tasks, status_mix=mix)
        ready.put(await sim.start())
        cpu_before = time.process_time()
        await asyncio.get_running_loop().run_in_executor(None, done.wait)
        ready.put(str(time.process_time() - cpu_before))
        await sim.stop()

    asyncio.run(serve())


@contextmanager
def served(
    tasks: int, *, latency_ms: float, mix: Mapping[str, float] | None = None
) -> Iterator[Served]:
    """``tasks`` seeded tasks (statuses weighted by ``mix``) served from a child process,
    ``latency_ms`` added to each API request."""
    local = Simulator(latency_ms=latency_ms)
    pairs = local.add_tasks(tasks) if mix is None else local.add_tasks(tasks, status_mix=mix)
    refs = [TaskRef(IdKind(kind), ident) for kind, ident in pairs]
    context = multiprocessing.get_context("fork")
    ready: multiprocessing.Queue[str] = context.Queue()
    done = context.Event()
    child = context.Process(
        target=_serve_in_child, args=(latency_ms, tasks, mix, ready, done), daemon=True
    )
    child.start()
    result = Served(ready.get(timeout=120), local.api_key, refs)
    try:
        yield result
    finally:
        done.set()
        with contextlib.suppress(Exception):  # a nicety: never hide the real error
            result.server_cpu.append(float(ready.get(timeout=10)))
        child.join(timeout=5)
        if child.is_alive():
            child.terminate()
            child.join()


# --- the client's own CPU per query -----------------------------------------------------
@dataclass(frozen=True, slots=True)
class QueryCpu:
    """Process CPU seconds over a window, the queries answered in it, and its wall time."""

    cpu: float
    queries: int
    wall: float
    profile: str = ""

    @property
    def per_query(self) -> float:
        return self.cpu / self.queries if self.queries else float("inf")


class _Profiler:
    """cProfile around the measured window only, when asked for."""

    def __init__(self, on: bool) -> None:
        self._profile = cProfile.Profile() if on else None

    def __enter__(self) -> None:
        if self._profile is not None:
            self._profile.enable()

    def __exit__(self, *exc: object) -> None:
        if self._profile is not None:
            self._profile.disable()

    def text(self, lines: int = 40) -> str:
        if self._profile is None:
            return ""
        out = io.StringIO()
        stats = pstats.Stats(self._profile, stream=out)
        stats.sort_stats("tottime").print_stats(lines)
        stats.sort_stats("cumulative").print_stats(r"aireiter_tui|textual", lines)
        return out.getvalue()


async def fetch_all(base: str, key: str, refs: list[TaskRef]) -> dict[TaskRef, Task]:
    """Every task as the server has it now (to write a watchlist the app then loads)."""
    async with AIReiterClient(base, ApiKey(key), concurrency=64) as client:
        gate = asyncio.Semaphore(64)

        async def one(ref: TaskRef) -> tuple[TaskRef, Task]:
            async with gate:
                return ref, await client.query_ref(ref)

        return dict(await asyncio.gather(*(one(ref) for ref in refs)))


async def domain_query_cpu(
    base: str, key: str, refs: list[TaskRef], *, concurrency: int = 64, profile: bool = False
) -> QueryCpu:
    """A :class:`Monitor` (no store, no UI) with the real client polls every ref once:
    the process's CPU time per answered query."""
    monitor = Monitor(None, Settings(concurrency=concurrency))
    monitor.add(refs)
    monitor.take_changes()
    async with AIReiterClient(base, ApiKey(key), concurrency=concurrency) as client:
        # The long-lived app has its pool open.
        await asyncio.gather(*(client.query_ref(ref) for ref in refs[:concurrency]))
        monitor.connect(client)
        poller = monitor.poller
        assert poller is not None
        seen = [0]
        done = asyncio.Event()
        record = monitor.record

        def on_outcome(outcome: PollOutcome) -> None:
            record(outcome)
            seen[0] += 1
            if seen[0] >= len(refs):
                done.set()

        poller._on_outcome = on_outcome
        profiler = _Profiler(profile)
        runner = asyncio.create_task(monitor.run(save_interval=3600, watch_interval=3600))
        cpu, wall = time.process_time(), time.perf_counter()
        with profiler:
            await done.wait()
            # What the screen would take four times a second: one batch here.
            monitor.take_changes()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    return QueryCpu(cpu, seen[0], wall, profiler.text())


def ids_only_watchlist(refs: list[TaskRef], path: Path) -> None:
    """A watchlist of ``refs`` that knows nothing of them yet (all due at once)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    entries = [
        WatchEntry(ref=ref, label=None, added_at=start + timedelta(seconds=number))
        for number, ref in enumerate(refs)
    ]
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    WatchlistStore(path).save(entries)


async def app_query_cpu(
    path: Path, rows: int, base: str, key: str, *, profile: bool = False
) -> QueryCpu:
    """The whole app (headless, frames encoded) on the watchlist at ``path``, which knows
    none of its ``rows`` tasks: its first pass, every task due at once. The process's CPU
    time (every thread: the saves too) from the poller's start to the frame after the
    last first answer was applied, per query answered in that window."""
    app = make_app(path, base_url=base, key=key)
    seen = [0]
    first: set[TaskRef] = set()
    profiler = _Profiler(profile)
    async with app.run_test(size=(160, 48)) as pilot:
        monitor = app.monitor
        deadline = time.perf_counter() + 300
        while (poller := monitor.poller) is None:
            assert time.perf_counter() < deadline, "the app never connected"
            await asyncio.sleep(0.001)
        record = poller._on_outcome

        def on_outcome(outcome: PollOutcome) -> None:
            seen[0] += 1
            first.add(outcome.ref)
            record(outcome)

        poller._on_outcome = on_outcome
        painted = asyncio.Event()
        cpu, wall = time.process_time(), time.perf_counter()
        with profiler:
            while len(first) < rows:
                await asyncio.sleep(0.01)
            answered = seen[0]
            # The screen's timer applies the last batch; its frame ends the window.
            while monitor.has_changes:
                await asyncio.sleep(0.01)
            app.frame_clock.on_frame = painted.set
            await asyncio.wait_for(painted.wait(), 10)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        app.frame_clock.on_frame = None
        await stop_polling(app)
        monitor.take_changes()
        monitor.session.dirty = False
        await pilot.exit(None)
    return QueryCpu(cpu, answered, wall, profiler.text())


# --- 100,000 watched, 1 % active ---------------------------------------------------------
def _entry(ref: TaskRef, task: Task | None, number: int) -> WatchEntry:
    """A watched task as the app leaves it after a refresh: snapshot and history."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    entry = WatchEntry(ref=ref, label=None, added_at=start + timedelta(seconds=number))
    if task is not None:
        entry.record(task, start + timedelta(hours=1))
    return entry


def _write(entries: list[WatchEntry], path: Path) -> None:
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    WatchlistStore(path).save(entries)


def scale_watchlist(
    path: Path, rows: int, active: dict[TaskRef, Task], finished: list[Task]
) -> None:
    """``rows`` watched tasks with their snapshots cached: the ``active`` ones (the
    simulator knows them: they are polled) spread through the list, the rest finished
    copies of ``finished`` under IDs of their own (never queried: finished tasks are not
    polled)."""
    actives = list(active.items())
    every = max(1, rows // max(1, len(actives)))
    entries = []
    for number in range(rows):
        if number % every == 0 and number // every < len(actives):
            ref, task = actives[number // every]
        else:
            template = finished[number % len(finished)]
            ident = f"order_scale{number:08d}-{number * 7919 % 99991:05d}"
            ref = TaskRef(IdKind.TASK_ID, ident)
            raw = dict(template.raw) if isinstance(template.raw, dict) else {}
            raw.pop("out_task_id", None)
            task = parse_task({**raw, "task_id": ident})
        entries.append(_entry(ref, task, number))
    _write(entries, path)


@dataclass(frozen=True, slots=True)
class ScalePlan:
    rows: int = 100_000
    active_share: float = 0.01
    repeats: int = 3
    key_seconds: float = 8.0
    cpu_rows: int = 10_000  # the domain's and the app's CPU-per-query runs
    first_pass_rows: int = 100_000  # the app's first pass over every task, timed whole
    million_rows: int = 1_000_000  # the hand-written list of IDs (bench.million)


FULL = ScalePlan()
QUICK = ScalePlan(
    rows=10_000,
    repeats=2,
    key_seconds=2.0,
    cpu_rows=2_000,
    first_pass_rows=10_000,
    million_rows=100_000,
)
#: The parts, in the order the table shows them (and :func:`in_child` measures them).
PARTS = ("cpu", "first-pass", "million", "start-up", "apply", "keys")


def _n(count: int) -> str:
    return f"{count:,}"


def cpu_figures(plan: ScalePlan, log: Callable[[str], None], profile: bool) -> list[Figure]:
    """The client's own CPU per query: the domain alone, then the whole app."""
    out: list[Figure] = []
    size = _n(plan.cpu_rows)
    with served(plan.cpu_rows, latency_ms=0.0) as srv:
        runs = []
        for number in range(plan.repeats):
            log(f"CPU per query, domain only ({number + 1}/{plan.repeats})")
            runs.append(
                asyncio.run(domain_query_cpu(srv.base_url, srv.api_key, srv.refs, profile=profile))
            )
        out.append(
            Figure.judged(
                "CPU per query",
                "client + poller + scheduler + session (no UI), process CPU per query",
                size,
                [run.per_query for run in runs],
                fine_ms,
                Target(0.5e-3, "<= 0.5 ms", inclusive=True),
            )
        )
        if profile:
            print(runs[-1].profile)
    return out


def first_pass_figures(
    plan: ScalePlan, folder: Path, log: Callable[[str], None], profile: bool
) -> list[Figure]:
    """The whole app's first pass over a list it knows nothing of (all due at once),
    against a server that answers at once: CPU per query, and the pass's wall time."""
    rows = plan.first_pass_rows
    size = _n(rows)
    path = folder / "first-pass" / "watchlist.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    runs = []
    with served(rows, latency_ms=0.0) as srv:
        ids_only_watchlist(srv.refs, path)
        for number in range(plan.repeats):
            log(f"the app's first pass over {size} tasks ({number + 1}/{plan.repeats})")
            # The app saved what it learnt: the next run starts from the same blank list.
            ids_only_watchlist(srv.refs, path)
            runs.append(
                asyncio.run(app_query_cpu(path, rows, srv.base_url, srv.api_key, profile=profile))
            )
    if profile:
        print(runs[-1].profile)
    return [
        Figure.judged(
            "CPU per query",
            "the whole app, first pass (request, parse, apply, repaint share; frames "
            "encoded), process CPU per query",
            size,
            [run.per_query for run in runs],
            fine_ms,
            Target(0.5e-3, "<= 0.5 ms", inclusive=True),
        ),
        Figure.judged(
            "CPU per query",
            "  ... the first pass's wall time (concurrency 32, server answers at once)",
            size,
            [run.wall for run in runs],
            secs,
            Target(60.0 * rows / 100_000, f"< {60 * rows / 100_000:g} s"),
        ),
    ]


@dataclass(frozen=True, slots=True)
class _Scene:
    """A scale watchlist on disk and the simulator that knows its active tasks."""

    path: Path
    rows: int
    served: Served


@contextmanager
def scene(plan: ScalePlan, folder: Path, log: Callable[[str], None]) -> Iterator[_Scene]:
    """The ``plan.rows`` watchlist (1 % active) and a simulator (50 ms per request) in a
    child process serving its active tasks."""
    active = max(1, int(plan.rows * plan.active_share))
    path = folder / "scale" / "watchlist.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    mix = {"pending": 0.3, "processing": 0.7}
    with served(active, latency_ms=50.0, mix=mix) as srv:
        log(f"writing a {plan.rows:,}-task watchlist, {active:,} active")
        tasks = asyncio.run(fetch_all(srv.base_url, srv.api_key, srv.refs))
        finished = _finished_templates()
        scale_watchlist(path, plan.rows, tasks, finished)
        yield _Scene(path, plan.rows, srv)


def _finished_templates(count: int = 200) -> list[Task]:
    """Finished tasks as the simulator answers them (completed, some failed)."""
    sim = Simulator(latency_ms=0.0)
    refs = [
        TaskRef(IdKind(kind), ident)
        for kind, ident in sim.add_tasks(count, status_mix={"completed": 0.85, "failed": 0.15})
    ]
    with running_in_thread(sim) as base:
        return list(asyncio.run(fetch_all(base, sim.api_key, refs)).values())


def startup_figures(plan: ScalePlan, where: _Scene, folder: Path) -> list[Figure]:
    """Fresh interpreters on the scale watchlist: first frame with rows, every task
    read, peak RSS (see :mod:`bench.startup`)."""
    size = _n(where.rows)
    starts = [startup.measure("app", where.path, folder) for _ in range(plan.repeats)]
    return [
        Figure.judged(
            "100k watched",
            "process start -> first frame showing tasks",
            size,
            [start.first for start in starts],
            secs,
            Target(1.0, "< 1 s"),
        ),
        Figure.judged(
            "100k watched",
            "process start -> first frame with every task read",
            size,
            [start.complete for start in starts],
            secs,
            Target(3.0, "< 3 s"),
        ),
        Figure.judged(
            "100k watched",
            "peak RSS with every task read (VmHWM)",
            size,
            [start.rss_mb for start in starts],
            lambda mb: f"{mb:.0f} MB",
            Target(400.0, "< 400 MB"),
        ),
    ]


def apply_figures(plan: ScalePlan, where: _Scene) -> list[Figure]:
    """Answers changing 1 % of the rows applied and painted (see :func:`ui.app_costs`)."""
    figures = ui.UiFigures()
    asyncio.run(ui.app_costs(where.path, where.rows, plan.repeats, figures))
    size = _n(where.rows)
    return [
        Figure.judged(
            "100k watched",
            "apply answers changing 1% of rows -> painted frame (wall)",
            size,
            [cost.to_paint for cost in figures.flush],
            ms,
            Target(0.05, "< 50 ms"),
        ),
        Figure.judged(
            "100k watched",
            "  ... CPU of the event loop's thread",
            size,
            [cost.cpu for cost in figures.flush],
            ms,
        ),
    ]


def key_figures(plan: ScalePlan, where: _Scene, hog: bool) -> list[Figure]:
    """Down -> painted while the app polls its active tasks (every 5 s each)."""
    runs: list[ui.KeyFigures] = []
    with hostile.cpu_hog(hog):
        for _ in range(plan.repeats):
            runs.append(
                asyncio.run(
                    ui.key_latency(
                        where.path,
                        where.rows,
                        where.served.base_url,
                        where.served.api_key,
                        plan.key_seconds,
                        refresh_all=False,
                    )
                )
            )
    beside = " beside a CPU hog" if hog else ""
    limit = 0.15 if hog else 0.1
    timeouts = sum(run.timeouts for run in runs)
    answered = sum(run.answered_during for run in runs)
    presses = sum(len(run.latencies) for run in runs)
    note = f"{presses} presses, {answered:,} answers meanwhile"
    note += f", {timeouts} unpainted after 2 s" if timeouts else ""
    return [
        Figure.judged(
            "100k watched",
            f"Down -> painted while the active 1% is polled{beside}: max",
            _n(where.rows),
            [max(run.latencies, default=float("inf")) for run in runs],
            ms,
            Target(limit, f"< {limit * 1000:g} ms"),
            note=note,
            valid=not timeouts,
        ),
        Figure.judged(
            "100k watched",
            "  ... p95",
            _n(where.rows),
            [percentile(run.latencies, 0.95) for run in runs],
            ms,
        ),
    ]


def beside_hog(figures: list[Figure]) -> list[Figure]:
    """``figures`` (measured beside a CPU hog) named so."""
    return [
        figure
        if figure.metric.lstrip().startswith("...")
        else dataclasses.replace(figure, metric=f"{figure.metric} beside a CPU hog")
        for figure in figures
    ]


def figures(
    plan: ScalePlan,
    folder: Path,
    log: Callable[[str], None],
    *,
    parts: tuple[str, ...] = PARTS,
    hog: bool = True,
    profile: bool = False,
) -> list[Figure]:
    """Every scale figure of ``parts`` (see :data:`PARTS`); ``hog``: each figure again
    beside a CPU hog (issue 20: reported both ways, the same targets; the key latency's
    beside a hog is < 150 ms)."""
    out: list[Figure] = []
    if "cpu" in parts:
        out += cpu_figures(plan, log, profile)
        if hog:
            with hostile.cpu_hog(True):
                out += beside_hog(cpu_figures(plan, log, profile=False))
    if "first-pass" in parts:
        out += first_pass_figures(plan, folder, log, profile)
        if hog:
            with hostile.cpu_hog(True):
                out += beside_hog(first_pass_figures(plan, folder, log, profile=False))
    if "million" in parts:
        out += million.figures(plan.million_rows, plan.repeats, folder, log)
        if hog:
            with hostile.cpu_hog(True):
                out += beside_hog(million.figures(plan.million_rows, plan.repeats, folder, log))
    if not {"start-up", "apply", "keys"} & set(parts):
        return out
    with scene(plan, folder, log) as where:
        if "start-up" in parts:
            log(f"start-up on {where.rows:,} tasks (fresh interpreters)")
            out += startup_figures(plan, where, folder)
            if hog:
                log(f"start-up on {where.rows:,} tasks beside a CPU hog")
                with hostile.cpu_hog(True):
                    out += beside_hog(startup_figures(plan, where, folder))
        if "apply" in parts:
            log(f"applying a 1% change to {where.rows:,} rows")
            out += apply_figures(plan, where)
            if hog:
                log(f"applying a 1% change to {where.rows:,} rows beside a CPU hog")
                with hostile.cpu_hog(True):
                    out += beside_hog(apply_figures(plan, where))
        if "keys" in parts:
            for beside in (False, True) if hog else (False,):
                extra = " beside a CPU hog" if beside else ""
                log(f"key latency while {where.rows:,} are watched and polled{extra}")
                out += key_figures(plan, where, beside)
    return out


def in_child(quick: bool) -> list[Figure]:
    """Every scale figure, each part measured by ``python -m bench.scale --part PART`` in
    an interpreter of its own (its progress log printed as it goes), as a user's
    dashboard is the only app in its process. What the sections before leave in the
    benchmark's process (their tasks, entries and apps' garbage) is not: measured after
    the other scale parts in one process, the 100,000-row apply took 40.4 ms (24.1-43.8;
    loop CPU 28.4 ms); alone, 23.8 ms (22.9-25.6)."""
    out: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="aireiter-bench-scale-") as tmp:
        record = Path(tmp) / "figures.json"
        for part in PARTS:
            command = [sys.executable, "-m", "bench.scale", "--part", part, "--json", str(record)]
            subprocess.run(
                [*command, "--quick"] if quick else command, cwd=startup.ROOT, check=True
            )
            out += [Figure(**item) for item in json.loads(record.read_text(encoding="utf-8"))]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--part", action="append", choices=PARTS, help="only these parts (repeatable)"
    )
    parser.add_argument("--no-hog", action="store_true", help="no runs beside a CPU hog")
    parser.add_argument("--profile", action="store_true", help="cProfile the CPU-per-query runs")
    parser.add_argument("--runs", type=int, help="runs of each figure (default: 3, --quick 2)")
    parser.add_argument(
        "--json", type=Path, help="write the figures to this file instead of a table (bench.run)"
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.runs:
        plan = dataclasses.replace(plan, repeats=args.runs)
    began = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - began:6.1f}s] {message}", flush=True)

    if args.json is None:
        for line in machine():
            print(line)
    with tempfile.TemporaryDirectory(prefix="aireiter-scale-") as tmp:
        out = figures(
            plan,
            Path(tmp),
            log,
            parts=tuple(args.part or PARTS),
            hog=not args.no_hog,
            profile=args.profile,
        )
    if args.json is not None:
        records = [dataclasses.asdict(figure) for figure in out]
        args.json.write_text(json.dumps(records), encoding="utf-8")
        return 0
    print()
    print(table(out))
    failed = [figure for figure in out if figure.ok is False]
    print(f"{sum(f.ok is True for f in out)} PASS, {len(failed)} FAIL")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
