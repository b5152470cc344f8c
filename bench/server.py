"""The simulator in a child process, so that it does not share a core or the GIL with
the client being measured (this machine has two cores: one each).

Reuses the simulator author's ``_serve_in_child``: the child seeds ``Simulator(seed=0)``
with the same ``add_tasks(n)`` call as the parent, so both sides know the same IDs.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.simulator import Simulator
from bench.simulator import _serve_in_child


@dataclass
class Served:
    """A running simulator: its URL, key and tasks; ``server_cpu`` is set on exit."""

    base_url: str
    api_key: str
    refs: list[TaskRef]
    server_cpu: list[float] = field(default_factory=list)


@contextmanager
def simulator_process(tasks: int, latency_ms: float) -> Iterator[Served]:
    """Serve ``tasks`` seeded tasks with ``latency_ms`` per API request from a child."""
    local = Simulator(latency_ms=latency_ms)
    refs = [TaskRef(IdKind(kind), ident) for kind, ident in local.add_tasks(tasks)]
    context = multiprocessing.get_context("fork")
    ready: multiprocessing.Queue[str] = context.Queue()
    done = context.Event()
    child = context.Process(
        target=_serve_in_child, args=(latency_ms, tasks, ready, done), daemon=True
    )
    child.start()
    served = Served(ready.get(timeout=60), local.api_key, refs)
    try:
        yield served
    finally:
        done.set()
        with contextlib.suppress(Exception):  # a nicety: never hide the real error
            served.server_cpu.append(float(ready.get(timeout=10)))
        child.join(timeout=5)
        if child.is_alive():
            child.terminate()
            child.join()
