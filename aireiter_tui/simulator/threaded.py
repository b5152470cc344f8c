"""Run a simulator on its own event loop in a background thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aireiter_tui.simulator.server import Simulator


@contextmanager
def running_in_thread(sim: Simulator, port: int = 0) -> Iterator[str]:
    """Serve ``sim`` from a daemon thread with its own loop; yield its base URL.

    For tests and benchmarks whose client runs on another loop (or none). Changing the
    simulator from the calling thread (faults, ``force_status``, ``advance``) is plain
    attribute assignment, which the GIL makes safe enough for that use.
    """
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(sim.start(port))
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)
            ready.set()
            return
        ready.set()
        loop.run_forever()
        loop.run_until_complete(sim.stop())
        loop.run_until_complete(loop.shutdown_asyncgens())

    thread = threading.Thread(target=serve, name="aireiter-simulator", daemon=True)
    thread.start()
    ready.wait()
    try:
        if failure:
            raise failure[0]
        yield sim.base_url
    finally:
        if not failure:
            loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
