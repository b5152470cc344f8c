"""``aireiter-tui simulate``: run the simulator as a standalone local server.

The main CLI owns the parser; it calls :func:`add_arguments` on its subcommand parser
and :func:`run` with the parsed namespace.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import signal
import sys
from pathlib import Path
from typing import TextIO

from aireiter_tui.simulator.faults import Fault, parse_fault_spec
from aireiter_tui.simulator.server import Simulator

DEMO_TASKS = 20


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _fault(text: str) -> tuple[Fault, float | None, str | None]:
    try:
        return parse_fault_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's options to ``parser``."""
    parser.add_argument(
        "--port", type=_non_negative_int, default=0, help="port on 127.0.0.1 (0: a free one)"
    )
    parser.add_argument(
        "--tasks",
        type=_non_negative_int,
        default=DEMO_TASKS,
        help=f"tasks to create: {DEMO_TASKS} is the demo set, more adds random tasks",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for every random choice")
    parser.add_argument(
        "--speed", type=_positive_float, default=1.0, help="how fast tasks progress (2 = twice)"
    )
    parser.add_argument(
        "--latency-ms", type=_non_negative_float, default=0.0, help="delay added to each request"
    )
    parser.add_argument(
        "--jitter-ms", type=_non_negative_float, default=0.0, help="random extra delay, up to MS"
    )
    names = ", ".join(fault.value for fault in Fault)
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="NAME[:PROBABILITY][@ID]",
        help=(
            "misbehave on a share of requests (default: all), optionally only for one task "
            f"ID; repeatable. Names: {names}"
        ),
    )
    parser.add_argument("--api-key", default="sim-demo-key", help="the key the simulator accepts")


def build(args: argparse.Namespace) -> tuple[Simulator, list[tuple[str, str]]]:
    """A simulator configured from parsed arguments, and the tasks it was given."""
    sim = Simulator(
        api_key=args.api_key,
        seed=args.seed,
        speed=args.speed,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
    )
    refs: list[tuple[str, str]] = []
    if args.tasks >= DEMO_TASKS:
        refs = sim.seed_demo()
    refs += sim.add_tasks(max(0, args.tasks - len(refs)))
    for fault, probability, task_id in args.fault:
        sim.set_fault(fault, probability=probability, task_id=task_id)
    return sim, refs


def this_command(argv0: str | None = None) -> str:
    """How to run this program again, as a shell word or two.

    After ``pip install`` into a virtual environment that is not activated, a bare
    ``aireiter-tui`` is not on the PATH: the banner's commands must name what is running.
    """
    script = Path(argv0 if argv0 is not None else sys.argv[0])
    if script.name == "__main__.py" or not script.name:
        return f"{shlex.quote(sys.executable)} -m aireiter_tui"
    return shlex.quote(str(script.resolve()) if script.parent != Path() else script.name)


def banner(
    sim: Simulator, refs: list[tuple[str, str]], out: TextIO, *, command: str | None = None
) -> None:
    """Tell the user where the simulator is and how to use it."""
    base = sim.base_url
    kind, ident = refs[0] if refs else ("task_id", "order_unknown")
    print(f"AIReiter simulator listening on {base}", file=out)
    print(f"API key: {sim.api_key}", file=out)
    print(f"Tasks: {sim.task_count}", file=out)
    print("Try:", file=out)
    env = f"AIREITER_API_KEY={sim.api_key} {command or this_command()} --base-url {base}"
    # Give the user IDs to watch: the watchlist starts empty and the IDs are random.
    task_ids = [i for k, i in refs if k == "task_id"][:6]
    out_ids = [i for k, i in refs if k == "out_task_id"][:3]
    if task_ids:
        print(f"  {env} add {' '.join(task_ids)}", file=out)
    if out_ids:
        print(f"  {env} add --out {' '.join(out_ids)}", file=out)
    print(f"  {env}", file=out)
    print(
        f"  curl -s -X POST {base}/api/openapi/query "
        f"-H 'Authorization: Bearer {sim.api_key}' -H 'Content-Type: application/json' "
        f"""-d '{{"{kind}": "{ident}"}}'""",
        file=out,
    )
    print("Press Ctrl-C to stop.", file=out, flush=True)


async def _serve(args: argparse.Namespace, out: TextIO) -> None:
    sim, refs = build(args)
    await sim.start(args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Windows event loops have no signal handlers: there Ctrl-C arrives as KeyboardInterrupt.
    for sig in (signal.SIGINT, signal.SIGTERM) if sys.platform != "win32" else ():
        with contextlib.suppress(RuntimeError):  # not the main thread (embedded in tests)
            loop.add_signal_handler(sig, stop.set)
    try:
        banner(sim, refs, out)
        await stop.wait()
    finally:
        await sim.stop()


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM; return the exit status."""
    try:
        asyncio.run(_serve(args, sys.stdout))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"aireiter-tui simulate: cannot listen: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print("Simulator stopped.", file=sys.stdout)
    return 0
