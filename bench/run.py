"""``python -m bench [--quick]``: every figure of issue 6, against the simulator.

Order: the simulator starts in a child process (50 ms per request); N due tasks
drained by the poller at N = 1,000 and 10,000 (the 10,000 tasks' answers become the
cached watchlist used by everything after); steady-state load on a stepped clock;
head-of-line behind a hung query; watchlist load/save; the UI headless; key latency
while 10,000 tasks are polled; start-up in fresh processes; hostile replies and huge
values (issue 13), one fresh process each (:mod:`bench.hostile`).
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
from bench import hostile, network, startup, storage, ui
from bench.report import Figure, machine, median, ms, secs, table
from bench.server import Served, simulator_process


@dataclass(frozen=True, slots=True)
class Plan:
    sizes: tuple[int, ...]
    naive_sample: int  # the naive loop runs at most this many IDs, then scales
    repeats: int
    key_seconds: float
    hol_span: float  # stepped-clock seconds of the head-of-line figure
    latency_ms: float = 50.0


FULL = Plan(sizes=(1_000, 10_000), naive_sample=1_000, repeats=5, key_seconds=8.0, hol_span=120.0)
QUICK = Plan(sizes=(200, 1_000), naive_sample=100, repeats=2, key_seconds=2.0, hol_span=40.0)


def _n(count: int) -> str:
    return f"{count:,}"


def _network(
    plan: Plan, served: Served, out: list[Figure], log: Callable[[str], None]
) -> dict[TaskRef, Task]:
    settings = Settings()
    section = "N due tasks"
    tasks: dict[TaskRef, Task] = {}
    for size in plan.sizes:
        refs = served.refs[:size]
        sample = refs if size <= plan.naive_sample else refs[: min(500, plan.naive_sample)]
        log(f"naive sequential loop over {len(sample):,} of {size:,} IDs")
        naive = network.naive_loop(served.base_url, served.api_key, sample) * size / len(sample)
        scaled = "" if len(sample) == size else f" (from {len(sample):,} IDs, scaled)"
        out.append(Figure(section, "naive curl-like loop" + scaled, _n(size), secs(naive)))
        for concurrency in sorted({settings.concurrency, 64}):
            log(f"{size:,} due tasks, poller at concurrency {concurrency}")
            result = asyncio.run(
                network.drain(
                    served.base_url,
                    served.api_key,
                    refs,
                    concurrency,
                    interval=settings.poll_interval,
                )
            )
            errors = sum(result.errors.values())
            missing = size - result.answered
            note = f", {errors} errors {dict(result.errors)}" if errors else ""
            note += f", {missing:,} never answered (cut off)" if missing else ""
            out.append(
                Figure(
                    section,
                    f"Poller, concurrency {concurrency}: all answered once",
                    _n(size),
                    f"{secs(result.seconds)} (peak {result.peak} on the wire){note}",
                )
            )
            ideal = result.ideal(size, concurrency)
            ratio = result.seconds / ideal
            out.append(
                Figure(
                    section,
                    f"  / ideal {secs(ideal)} (N / {concurrency} x {ms(result.latency)} "
                    "measured alone)",
                    _n(size),
                    f"{ratio:.2f}x",
                    "<= 1.5x",
                    ratio <= 1.5 and not errors and not missing,
                )
            )
            speedup = naive / result.seconds
            at_target = size == plan.sizes[0]
            out.append(
                Figure(
                    section,
                    "  faster than the naive loop",
                    _n(size),
                    f"{speedup:.1f}x",
                    ">= 20x" if at_target else "",
                    speedup >= 20 if at_target else None,
                )
            )
            tasks = result.tasks
    return tasks


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
    size = _n(len(entries))
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
    for name, seconds in rows:
        out.append(Figure("watchlist", name, size, secs(seconds), "< 0.5 s", seconds < 0.5))
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

    flush_cpu, rebuild_cpu = cpu(figures.flush), cpu(figures.rebuild)
    out += [
        Figure(
            "UI (headless)",
            "apply answers changing 1% of rows: CPU",
            size,
            ms(flush_cpu),
        ),
        Figure(
            "UI (headless)",
            "  ... wall time to the repainted frame",
            size,
            ms(paint(figures.flush)),
            "< 100 ms",
            paint(figures.flush) < 0.1,
        ),
        Figure(
            "UI (headless)",
            "rebuild the table (rebuild_view): CPU",
            size,
            f"{ms(rebuild_cpu)} (to frame {ms(paint(figures.rebuild))})",
        ),
        Figure(
            "UI (headless)",
            "  rebuild CPU / apply CPU",
            size,
            f"{rebuild_cpu / flush_cpu:.1f}x",
            ">= 10x",
            rebuild_cpu / flush_cpu >= 10,
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
    figures = asyncio.run(
        ui.key_latency(path, rows, served.base_url, served.api_key, plan.key_seconds)
    )
    lat = sorted(figures.latencies)
    worst = lat[-1] if lat else float("inf")
    p95 = lat[int(len(lat) * 0.95)] if lat else float("nan")
    note = "" if figures.refresh_still_running else " (the polling ended before the presses did)"
    out.append(
        Figure(
            "key latency",
            f"Down -> painted, {len(lat)} presses while {rows:,} tasks are polled{note}",
            _n(rows),
            f"max {ms(worst)}, p95 {ms(p95)}, median {ms(median(lat))}"
            + (f", {figures.timeouts} unpainted after 2 s" if figures.timeouts else ""),
            "max <= 100 ms",
            worst <= 0.1 and not figures.timeouts,
        )
    )
    out.append(
        Figure(
            "key latency",
            "  queries answered meanwhile",
            _n(rows),
            f"{figures.answered_during:,} in {plan.key_seconds:g} s",
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
        log("hostile replies and huge values (a fresh process per case)")
        out += hostile.figures(quick=args.quick, folder=folder / "hostile", log=log)
    cpu = served.server_cpu
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
