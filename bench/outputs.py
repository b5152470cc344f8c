"""Download throughput on loopback: our :class:`Downloader` against a bare httpx stream
of the same file from the same server (issue 14's target: at least 0.9x).

``python -m bench.outputs [--mb 64] [--repeats 5]`` runs this section alone.

The simulator serves one file (a PNG signature, then random bytes: it passes the magic
bytes check and does not compress) from a child process, so the server has its own core
and interpreter. Each repeat runs the bare stream and the downloader one after the
other (the order alternating), each writing the file to a fresh path in a temporary
folder, and times both in wall seconds and in this process's CPU seconds. The ratio is
of the medians; CPU per MB is shown too, being the steadier measure when other work
shares the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from aireiter_tui.domain.download_names import DownloadItem
from aireiter_tui.domain.downloads import Downloader, Progress
from aireiter_tui.domain.output_fetch import output_client
from aireiter_tui.simulator import Simulator
from bench.report import Figure, machine, table

FILE_NAME = "bench-output.png"
TARGET = 0.9


def _serve_file(size: int, ready: multiprocessing.Queue[str], done: Any) -> None:
    """Child process: serve ``size`` bytes at ``/files/bench-output.png`` until ``done``."""

    async def serve() -> None:
        sim = Simulator()
        body = b"\x89PNG\r\n\x1a\n" + random.Random(0).randbytes(size - 8)
        await sim.start()
        ready.put(sim.serve_file(FILE_NAME, body))
        await asyncio.get_running_loop().run_in_executor(None, done.wait)
        await sim.stop()

    asyncio.run(serve())


@contextlib.contextmanager
def file_server(size: int) -> Iterator[str]:
    """The URL of a ``size``-byte file served by a simulator in a child process."""
    context = multiprocessing.get_context("fork")
    ready: multiprocessing.Queue[str] = context.Queue()
    done = context.Event()
    child = context.Process(target=_serve_file, args=(size, ready, done), daemon=True)
    child.start()
    try:
        yield ready.get(timeout=60)
    finally:
        done.set()
        child.join(timeout=5)
        if child.is_alive():
            child.terminate()
            child.join()


@dataclass
class Run:
    wall: float
    cpu: float
    size: int


@dataclass
class Throughput:
    bare: list[Run] = field(default_factory=list)
    ours: list[Run] = field(default_factory=list)


async def _bare(url: str, target: Path) -> int:
    """The baseline: what any script would write with httpx."""
    received = 0
    async with httpx.AsyncClient() as client, client.stream("GET", url) as response:
        response.raise_for_status()
        with target.open("wb") as out:
            async for chunk in response.aiter_bytes():
                out.write(chunk)
                received += len(chunk)
    return received


async def _ours(url: str, target: Path) -> int:
    def progress(_: Progress) -> None:
        return None

    async with output_client() as client:
        item = DownloadItem("bench", 0, url, target)
        (result,) = await Downloader(client, max_file_bytes=10**10).run([item], progress)
    if result.state != "done":
        raise RuntimeError(f"the download failed: {result.reason}")
    return result.received


def _timed(coro: Any) -> Run:
    wall, cpu = time.perf_counter(), time.process_time()
    size = asyncio.run(coro)
    return Run(time.perf_counter() - wall, time.process_time() - cpu, size)


def throughput(megabytes: int, repeats: int) -> Throughput:
    result = Throughput()
    with file_server(megabytes * 1_000_000) as url, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _timed(_bare(url, folder / "warm.png"))  # the server's first answer builds the body
        for number in range(repeats):
            pair = [("bare", _bare), ("ours", _ours)]
            if number % 2:
                pair.reverse()
            for name, fetch in pair:
                target = folder / f"{name}-{number}.png"
                getattr(result, name).append(_timed(fetch(url, target)))
                target.unlink()
    return result


def figures(megabytes: int = 64, repeats: int = 5) -> list[Figure]:
    """The rows for the report's table."""
    result = throughput(megabytes, repeats)
    size = f"{megabytes} MB"

    def rate(runs: list[Run]) -> float:
        return statistics.median(r.size / r.wall for r in runs) / 1e6

    def cpu_per_mb(runs: list[Run]) -> float:
        return statistics.median(r.cpu / (r.size / 1e6) for r in runs) * 1000

    bare, ours = rate(result.bare), rate(result.ours)
    ratio = ours / bare
    cpu_ratio = cpu_per_mb(result.bare) / cpu_per_mb(result.ours)
    section = "outputs"
    return [
        Figure(section, "download: bare httpx stream to a file", size, f"{bare:,.0f} MB/s"),
        Figure(
            section,
            "download: Downloader (.part, progress, checks)",
            size,
            f"{ours:,.0f} MB/s",
        ),
        Figure(
            section,
            "  Downloader / bare httpx, throughput",
            size,
            f"{ratio:.2f}x",
            f">= {TARGET}x",
            ratio >= TARGET,
        ),
        Figure(
            section,
            "  CPU per MB: bare / Downloader",
            size,
            f"{cpu_ratio:.2f}x ({cpu_per_mb(result.bare):.2f} vs "
            f"{cpu_per_mb(result.ours):.2f} ms/MB)",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mb", type=int, default=64, help="file size in MB (default 64)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each (default 5)")
    args = parser.parse_args(argv)
    for line in machine():
        print(line)
    rows = figures(args.mb, args.repeats)
    print(table(rows))
    return 0 if all(row.ok is not False for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
