"""Measure whether the simulator keeps up with a polling client (not a test).

``python -m bench.simulator`` sends ``--requests`` queries with
``--concurrency`` in flight to a simulator that adds ``--latency-ms`` to each one, and
compares the rate with the ideal ``concurrency / latency`` (64 / 0.05 s = 1,280 req/s):
a ratio near 1 means the simulator is not the bottleneck, only its injected latency is.

The server runs on its own loop in a background thread (``--mode thread``, the way
tests use it), on the client's loop (``--mode same-loop``, the way ``--demo`` runs it
inside the dashboard), or in a child process (``--mode process``: the server alone, with
no client competing for the same interpreter).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import time
from collections import Counter
from typing import Any

import aiohttp

from aireiter_tui.simulator.server import Simulator
from aireiter_tui.simulator.threaded import running_in_thread


def _serve_in_child(
    latency_ms: float, tasks: int, ready: multiprocessing.Queue[str], done: Any
) -> None:
    """Child process: the same seeded tasks as the parent, served until ``done`` is set.

    Puts the base URL in ``ready``, then the CPU seconds the serving took.
    """

    async def serve() -> None:
        sim = Simulator(latency_ms=latency_ms)
        sim.add_tasks(tasks)
        ready.put(await sim.start())
        cpu_before = time.process_time()
        await asyncio.get_running_loop().run_in_executor(None, done.wait)
        ready.put(str(time.process_time() - cpu_before))
        await sim.stop()

    asyncio.run(serve())


async def _drive(
    base: str, key: str, refs: list[tuple[str, str]], requests: int, concurrency: int
) -> tuple[float, Counter[int]]:
    """Send the queries; return elapsed seconds and a count of HTTP statuses."""
    rng = random.Random(0)
    picks = [rng.choice(refs) for _ in range(requests)]
    statuses: Counter[int] = Counter()
    headers = {"Authorization": f"Bearer {key}"}
    url = f"{base}/api/openapi/query"
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        queue = iter(picks)

        async def worker() -> None:
            for kind, ident in queue:
                async with session.post(url, json={kind: ident}, headers=headers) as resp:
                    await resp.read()
                    statuses[resp.status] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, statuses


def _report(args: argparse.Namespace, elapsed: float, statuses: Counter[int]) -> None:
    rate = args.requests / elapsed
    ideal = args.concurrency / (args.latency_ms / 1000) if args.latency_ms else float("inf")
    print(
        f"mode={args.mode} requests={args.requests} concurrency={args.concurrency} "
        f"latency={args.latency_ms:g}ms tasks={args.tasks}"
    )
    print(f"  elapsed {elapsed:.3f}s, {rate:,.0f} req/s, statuses {dict(statuses)}")
    if ideal != float("inf"):
        print(f"  ideal {ideal:,.0f} req/s, ratio {rate / ideal:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--mode", choices=("thread", "same-loop", "process"), default="thread")
    args = parser.parse_args(argv)
    sim = Simulator(latency_ms=args.latency_ms)
    refs = sim.add_tasks(args.tasks)
    server_cpu: float | None = None
    if args.mode == "thread":
        with running_in_thread(sim) as base:
            elapsed, statuses = asyncio.run(
                _drive(base, sim.api_key, refs, args.requests, args.concurrency)
            )
    elif args.mode == "process":
        ready: multiprocessing.Queue[str] = multiprocessing.Queue()
        done = multiprocessing.Event()
        child = multiprocessing.Process(
            target=_serve_in_child, args=(args.latency_ms, args.tasks, ready, done), daemon=True
        )
        child.start()
        try:
            base = ready.get()
            elapsed, statuses = asyncio.run(
                _drive(base, sim.api_key, refs, args.requests, args.concurrency)
            )
            done.set()
            server_cpu = float(ready.get())
        finally:
            child.join(timeout=5)
            if child.is_alive():
                child.terminate()
    else:

        async def same_loop() -> tuple[float, Counter[int]]:
            base = await sim.start()
            try:
                return await _drive(base, sim.api_key, refs, args.requests, args.concurrency)
            finally:
                await sim.stop()

        elapsed, statuses = asyncio.run(same_loop())
    _report(args, elapsed, statuses)
    if server_cpu is not None:
        busy = server_cpu / elapsed
        per_request = server_cpu / args.requests * 1e3
        print(f"  server CPU {server_cpu:.3f}s: {busy:.0%} busy, {per_request:.3f} ms/request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
