"""``python -m bench [--quick]``: every figure of issue 6, against the simulator.

Order: the simulator starts in a child process (50 ms per request); N due tasks
drained by the poller at N = 1,000 and 10,000 (the 10,000 tasks' answers become the
cached watchlist used by everything after), 10,000 at concurrency 64 again beside a CPU
hog; steady-state load on a stepped clock;
head-of-line behind a hung query; watchlist load/save (also beside a CPU hog); the UI
headless; key latency while 10,000 tasks are polled (also beside a CPU hog); start-up in
fresh processes (also beside a CPU hog);
hostile replies and huge values (issue 13), one fresh process each
(:mod:`bench.hostile`); then the scale figures of issue 20 (:mod:`bench.scale`): the
client's own CPU per query and 100,000 watched tasks. The network and key-latency
figures are the median of several runs, shown with their spread (:mod:`bench.report`).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import Task, TaskRef
from aireiter_tui.domain.watchlist_codec import WatchEntry
from bench import hostile, network, outputs, preview, scale, startup, storage, ui
from bench.report import (
    Figure,
    Target,
    machine,
    median,
    ms,
    percentile,
    secs,
    table,
    times,
)
from bench.server import Served, simulator_process


@dataclass(frozen=True, slots=True)
class Plan:
    sizes: tuple[int, ...]
    naive_sample: int  # the naive loop runs at most this many IDs, then scales
    repeats: int
    key_seconds: float
    hol_span: float  # stepped-clock seconds of the head-of-line figure
    latency_ms: float = 50.0
    runs: int = 3  # runs of each network drain and key-latency figure (median, spread)


FULL = Plan(
    sizes=(1_000, 10_000),
    naive_sample=1_000,
    repeats=5,
    key_seconds=8.0,
    hol_span=120.0,
)
QUICK = Plan(
    sizes=(200, 1_000),
    naive_sample=100,
    repeats=2,
    key_seconds=2.0,
    hol_span=40.0,
    runs=2,
)


#: The section of the drain figures ("N due tasks all answered").
_DRAINS = "N due tasks"


def _n(count: int) -> str:
    return f"{count:,}"


def _network(
    plan: Plan, served: Served, out: list[Figure], log: Callable[[str], None]
) -> dict[TaskRef, Task]:
    settings = Settings()
    tasks: dict[TaskRef, Task] = {}
    for size in plan.sizes:
        refs = served.refs[:size]
        sample = refs if size <= plan.naive_sample else refs[: min(500, plan.naive_sample)]
        log(f"naive sequential loop over {len(sample):,} of {size:,} IDs")
        naive = network.naive_loop(served.base_url, served.api_key, sample) * size / len(sample)
        scaled = "" if len(sample) == size else f" (from {len(sample):,} IDs, scaled)"
        out.append(Figure(_DRAINS, "naive curl-like loop" + scaled, _n(size), secs(naive)))
        for concurrency in sorted({settings.concurrency, 64}):
            results = _drains(plan, served, size, concurrency, log)
            out += _drain_figures(plan, results, size, concurrency)
            at_target = size == plan.sizes[0]
            out.append(
                Figure.judged(
                    _DRAINS,
                    "  faster than the naive loop",
                    _n(size),
                    [naive / result.seconds for result in results],
                    lambda factor: f"{factor:.1f}x",
                    Target(20, ">= 20x", at_least=True, inclusive=True) if at_target else None,
                )
            )
            tasks = results[-1].tasks
    # Issue 20: also on a busy machine. (The simulator, in its own process, then shares
    # the other core with this one.)
    size = max(plan.sizes)
    with hostile.cpu_hog(True):
        results = _drains(plan, served, size, 64, log, " beside a CPU hog")
    out += scale.beside_hog(_drain_figures(plan, results, size, 64))
    return tasks


def _drains(
    plan: Plan,
    served: Served,
    size: int,
    concurrency: int,
    log: Callable[[str], None],
    beside: str = "",
) -> list[network.DrainFigures]:
    """``plan.runs`` drains of the first ``size`` tasks at ``concurrency``."""
    results = []
    for number in range(plan.runs):
        log(
            f"{size:,} due tasks, poller at concurrency {concurrency}{beside}"
            f" ({number + 1}/{plan.runs})"
        )
        results.append(
            asyncio.run(
                network.drain(
                    served.base_url,
                    served.api_key,
                    served.refs[:size],
                    concurrency,
                    interval=Settings().poll_interval,
                )
            )
        )
    return results


def _drain_figures(
    plan: Plan, results: list[network.DrainFigures], size: int, concurrency: int
) -> list[Figure]:
    errors = sum(sum(result.errors.values()) for result in results)
    missing = sum(size - result.answered for result in results)
    notes = [f"{errors} errors"] if errors else []
    notes += [f"{missing:,} never answered (cut off)"] if missing else []
    peak = max(result.peak for result in results)
    # Issue 20: 64 at the largest size within 1.3x.
    limit = 1.3 if concurrency == 64 and size == max(plan.sizes) else 1.5
    latency = median([result.latency for result in results])
    return [
        Figure.judged(
            _DRAINS,
            f"Poller, concurrency {concurrency}: all answered once (peak {peak} on the wire)",
            _n(size),
            [result.seconds for result in results],
            secs,
            note=", ".join(notes),
        ),
        Figure.judged(
            _DRAINS,
            f"  / ideal (N / {concurrency} x {ms(latency)} measured alone, each run)",
            _n(size),
            [result.seconds / result.ideal(size, concurrency) for result in results],
            times,
            Target(limit, f"<= {limit:g}x", inclusive=True),
            valid=not errors and not missing,
        ),
    ]


def _steady(plan: Plan, out: list[Figure]) -> None:
    settings = Settings()
    interval = settings.poll_interval
    expected = 60 / interval
    for size in plan.sizes:
        active = max(1, size // 100)
        cases = [(active, size - active), (active, 0)]
        figures = [
            network.steady_state(a, t, interval=interval, concurrency=settings.concurrency)
            for a, t in cases
        ]
        mixed, alone = figures
        minutes = mixed.seconds / 60
        per_active = mixed.per_active_per_minute
        ratio = per_active / expected
        ok = mixed.terminal_requests == 0 and abs(ratio - 1) <= 0.2
        out.append(
            Figure(
                "steady state",
                f"{active:,} active + {size - active:,} done, {minutes:g} min, stepped clock",
                _n(size),
                f"{per_active:.2f}/min per active task ({ratio:.2f}x); "
                f"{mixed.terminal_requests} to done tasks",
                f"{expected:g}/min +-20%, 0 to done",
                ok,
            )
        )
        out.append(
            Figure(
                "steady state",
                f"  same {active:,} active tasks alone: all requests",
                _n(size),
                f"{alone.per_minute:,.1f}/min (with the done ones: {mixed.per_minute:,.1f}/min)",
            )
        )


def _head_of_line(plan: Plan, out: list[Figure]) -> None:
    settings = Settings()
    healthy = 4
    result = network.head_of_line(
        interval=settings.poll_interval,
        concurrency=settings.concurrency,
        span=plan.hol_span,
        healthy=healthy,
        latency_ms=plan.latency_ms,
    )
    interval = result.interval
    # The jittered interval is at most interval x (1 + jitter) = 6 s; 1.25 leaves room.
    bound = interval * 1.25 + 1
    mean, worst = result.mean_gap, result.max_gap
    if result.gaps:
        value = (
            f"mean {mean:.2f} s ({mean / interval:.2f}x), max {worst:.2f} s "
            f"({worst / interval:.2f}x) over {len(result.gaps)} gaps"
        )
    else:
        value = "no healthy task was asked twice"
    errors = sum(result.errors.values())
    value += f", {errors} errors {dict(result.errors)}" if errors else ""
    out.append(
        Figure(
            "head-of-line",
            f"gap between queries of a task due every {interval:g} s, one query hung "
            f"({plan.hol_span:g} s, stepped clock)",
            f"{healthy}+1",
            value,
            f"max <= {bound:g} s",
            bool(result.gaps) and worst <= bound and not errors,
        )
    )
    out.append(
        Figure(
            "head-of-line",
            "  hung task: queries sent; still on the wire at the end",
            f"{healthy}+1",
            f"{result.hung_sent}, {'yes' if result.hung_on_wire else 'no'}",
        )
    )


def _storage(plan: Plan, entries: list[WatchEntry], folder: Path, out: list[Figure]) -> None:
    """The watchlist's loads and saves, idle and beside a CPU hog (issue 20: "on the busy
    machine too")."""
    size = _n(len(entries))
    for hog in (False, True):
        with hostile.cpu_hog(hog):
            figures = storage.watchlist_figures(entries, folder, plan.repeats)
        rows = [
            ("save (new file: TOML + snapshot cache)", figures.first_save),
            ("load (cache valid: every start after the first)", figures.load_cached),
            ("load after a hand edit (TOML parsed, cached snapshots)", figures.load_hand_edited),
            ("load without the cache (TOML only: IDs, labels)", figures.load_toml_only),
            ("app's save: 1% of snapshots changed (journal)", figures.save_snapshots),
            ("app's save: 1% of tasks relabelled (TOML)", figures.save_labels),
            ("app's save on quit (cache rewritten whole)", figures.save_on_quit),
        ]
        judged = [
            Figure("watchlist", name, size, secs(seconds), "< 0.5 s", seconds < 0.5)
            for name, seconds in rows
        ]
        out += scale.beside_hog(judged) if hog else judged
    megabytes = f"TOML {figures.toml_bytes / 1e6:.1f} MB, cache {figures.cache_bytes / 1e6:.1f} MB"
    out.append(Figure("watchlist", "  file sizes", size, megabytes))


def _ui(plan: Plan, path: Path, entries: list[WatchEntry], out: list[Figure]) -> None:
    rows = len(entries)
    size = _n(rows)
    figures = ui.UiFigures()
    asyncio.run(ui.app_costs(path, rows, plan.repeats, figures))
    asyncio.run(ui.datatable_costs(entries, plan.repeats, figures))

    def cpu(costs: list[ui.Cost]) -> float:
        return median([c.cpu for c in costs])

    def paint(costs: list[ui.Cost]) -> float:
        return median([c.to_paint for c in costs])

    out += [
        Figure.judged(
            "UI (headless)",
            "apply answers changing 1% of rows: CPU",
            size,
            [cost.cpu for cost in figures.flush],
            ms,
        ),
        Figure.judged(
            "UI (headless)",
            "  ... wall time to the repainted frame",
            size,
            [cost.to_paint for cost in figures.flush],
            ms,
            Target(0.1, "< 100 ms"),
        ),
        Figure.judged(
            "UI (headless)",
            "rebuild the table (rebuild_view): CPU",
            size,
            [cost.cpu for cost in figures.rebuild],
            ms,
            note=f"to frame {ms(paint(figures.rebuild))}",
        ),
        Figure.judged(
            "UI (headless)",
            "  rebuild CPU / apply CPU (each run)",
            size,
            [
                rebuild.cpu / flush.cpu
                for rebuild, flush in zip(figures.rebuild, figures.flush, strict=True)
            ],
            lambda factor: f"{factor:.1f}x",
            # Not judged any more (it was >= 10x): a quicker rebuild made it fall while both
            # got quicker. That an apply reads only its own rows is judged at 100,000 rows
            # ("100k watched": apply < 50 ms) and proved by a test (bench/README.md).
        ),
        Figure(
            "UI (headless)",
            "DataTable: fill (add_row x N) + paint, CPU",
            size,
            ms(cpu(figures.datatable_fill)),
        ),
        Figure(
            "UI (headless)",
            "DataTable: update 1% of rows (update_cell), CPU",
            size,
            f"{ms(cpu(figures.datatable_update))} (to frame {ms(paint(figures.datatable_update))})",
        ),
        Figure(
            "UI (headless)",
            "DataTable: clear + refill, CPU",
            size,
            ms(cpu(figures.datatable_refill)),
        ),
    ]


def _keys(plan: Plan, path: Path, rows: int, served: Served, out: list[Figure]) -> None:
    """Down -> painted during a refresh of every task, ``plan.runs`` times, then as many
    beside a CPU hog."""
    for hog in (False, True):
        runs = []
        with hostile.cpu_hog(hog):
            for _ in range(plan.runs):
                runs.append(
                    asyncio.run(
                        ui.key_latency(
                            path, rows, served.base_url, served.api_key, plan.key_seconds
                        )
                    )
                )
        beside = " beside a CPU hog" if hog else ""
        timeouts = sum(run.timeouts for run in runs)
        presses = sum(len(run.latencies) for run in runs)
        ended = sum(not run.refresh_still_running for run in runs)
        notes = [f"{presses} presses"]
        notes += [f"{timeouts} unpainted after 2 s"] if timeouts else []
        notes += [f"in {ended} runs the polling ended before the presses"] if ended else []
        limit = 0.15 if hog else 0.1
        out.append(
            Figure.judged(
                "key latency",
                f"Down -> painted while {rows:,} tasks are polled{beside}: max",
                _n(rows),
                [max(run.latencies, default=float("inf")) for run in runs],
                ms,
                Target(limit, f"< {limit * 1000:g} ms"),
                note=", ".join(notes),
                valid=not timeouts,
            )
        )
        p95 = [percentile(run.latencies, 0.95) for run in runs]
        out.append(
            Figure.judged(
                "key latency",
                "  ... p95",
                _n(rows),
                p95,
                ms,
                None if hog else Target(0.05, "< 50 ms"),
            )
        )
        answered = [float(run.answered_during) for run in runs]
        out.append(
            Figure.judged(
                "key latency",
                f"  queries answered meanwhile (in {plan.key_seconds:g} s)",
                _n(rows),
                answered,
                lambda count: f"{count:,.0f}",
            )
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    began = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - began:6.1f}s] {message}", flush=True)

    for line in machine():
        print(line)
    print(
        f"simulator on 127.0.0.1 in a child process, {plan.latency_ms:g} ms per request; "
        f"sizes {', '.join(_n(s) for s in plan.sizes)}"
    )
    out: list[Figure] = []
    largest = max(plan.sizes)
    with (
        tempfile.TemporaryDirectory(prefix="aireiter-bench-") as tmp,
        simulator_process(largest, plan.latency_ms) as served,
    ):
        folder = Path(tmp)
        tasks = _network(plan, served, out, log)
        log("steady state (stepped clock)")
        _steady(plan, out)
        log("head-of-line behind a hung query (stepped clock)")
        _head_of_line(plan, out)
        entries = storage.make_entries(tasks)
        log(f"watchlist load/save of {len(entries):,}")
        _storage(plan, entries, folder / "store", out)
        path = folder / "app" / "watchlist.toml"
        path.parent.mkdir()
        storage.write_watchlist(entries, path)
        log("UI costs (headless)")
        _ui(plan, path, entries, out)
        log("key latency while every task is polled")
        storage.write_watchlist(entries, path)
        _keys(plan, path, len(entries), served, out)
        log("start-up")
        storage.write_watchlist(entries, path)
        out += startup.figures(max(3, plan.repeats), path, len(entries), folder)
        log("start-up beside a CPU hog")
        storage.write_watchlist(entries, path)  # (figures() took the database away)
        with hostile.cpu_hog(True):
            started = startup.figures(max(3, plan.repeats), path, len(entries), folder)
        out += scale.beside_hog(started)
        log("hostile replies and huge values (a fresh process per case)")
        out += hostile.figures(quick=args.quick, folder=folder / "hostile", log=log)
        log("output download throughput on loopback")
        out += outputs.figures(16 if args.quick else 64, 2 if args.quick else plan.repeats)
        log("output previews: a cached completed task selected -> its preview painted")
        out += preview.figures()
    cpu = served.server_cpu
    # Issue 20's scale figures: servers and an interpreter of their own, so the server
    # above is stopped first.
    log("scale figures (issue 20), in an interpreter of their own")
    out += scale.in_child(args.quick)
    print()
    print(table(out))
    print()
    if cpu:
        print(f"simulator process CPU over the whole run: {cpu[0]:.1f} s")
    failed = [f for f in out if f.ok is False]
    print(
        f"{sum(f.ok is True for f in out)} PASS, {len(failed)} FAIL; "
        f"benchmark took {time.perf_counter() - began:.0f} s"
    )
    return 1 if failed else 0
