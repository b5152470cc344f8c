"""An AIReiter-compatible service on 127.0.0.1, for the demo, tests and benchmarks.

It speaks the documented API (``POST /api/openapi/query`` and ``/submit`` with the
``{"statusCode", "message", "data"}`` envelope and Bearer auth), lets its tasks live
(pending -> processing -> completed/failed on a clock), serves real output files from
``/files/<name>`` (PNG images of the requested aspect ratio, MP4-typed video bytes), and
misbehaves on demand like a real service behind a real proxy.

Public API::

    sim = Simulator(api_key="sim-demo-key", seed=0, speed=1.0, clock=None,
                    latency_ms=0, jitter_ms=0)
    base = await sim.start(port=0)          # "http://127.0.0.1:<port>"; never 0.0.0.0
    await sim.stop()
    sim.base_url, sim.api_key, sim.speed, sim.clock, sim.task_count

    sim.seed_demo() -> list[tuple[str, str]]    # ~20 tasks, ("task_id"|"out_task_id", id)
    sim.add_tasks(n, *, status_mix={"pending": .2, "processing": .2, ...}) -> list[...]
    sim.submit(model, params, out_task_id, *, metadata=None, hide_task_id=False,
               outcome=None) -> dict            # the submit response's ``data``
    sim.task_status(id) -> str | None
    sim.force_status(id, status | None); sim.set_all_status(status | None)
    sim.advance(seconds)                        # only with clock=ManualClock(...)
    sim.failure_rate = 0.1                      # share of new tasks that end failed
    sim.omit_task_id_probability = 0.0          # submits answered without task_id

    sim.set_fault(fault, *, task_id=None, times=None, retry_after=None,
                  probability=None, delay=None); sim.clear_faults()
    sim.request_count, sim.requests_by_task (Counter by ID), sim.reset_counters()
    sim.submits_by_out_task_id                  # Counter of submit requests
    sim.request_headers                         # the last 100 requests' headers, no Authorization
    sim.latency_ms, sim.jitter_ms               # added to every API request (asyncio.sleep)

    sim.output_urls(id) -> list[str]            # the task's output URLs (once completed)
    sim.set_output_fault(name_or_url, OutputFault.EXPIRED, *, times=None, size=None,
                         delay=None)            # 404/410/403, HTML, cut, slow, huge, ...
    sim.serve_file(name, data, content_type) -> str   # serve these bytes; returns the URL
    sim.outputs.log, sim.outputs.fetches        # every file request (headers, Range,
                                                # status) and a Counter by file name

    with running_in_thread(sim) as base: ...    # its own loop on a background thread

Behaviour choices where the API docs are silent:

- A bad key gets HTTP 401 with ``{"statusCode": 401, "message": "Invalid API key",
  "data": null}``; a malformed body gets HTTP 400 with a 400 envelope.
- A submit is checked as a real service would (HTTP 400, a 400 envelope whose message
  says what is wrong): a known model (every model the API documents), an object of
  params with a non-empty string ``prompt``, the types of the params it knows
  (``output_n`` an integer, ``show_public`` a boolean, ...), an aspect ratio the model
  has, and an ``out_task_id`` not used before.
- An unknown ID gets HTTP **200** with ``{"statusCode": 404, "message": "Task not
  found", "data": null}``: the docs say ``statusCode`` lives in the body and need not
  equal the HTTP status, so clients must read the envelope; this makes sure they do.
- ``completed_at`` appears only on completed tasks, ``output`` only on completed ones,
  ``error`` only on failed ones; ``credits_used`` is 0 until completion.
- Query ``data`` carries ``out_task_id`` when the task has one; tasks known only by
  ``out_task_id`` have no ``task_id`` in either response.
- Faults apply to authenticated, well-formed API requests; per-task rules match the ID
  the request names. Output files have faults of their own (:class:`OutputFault`, set
  per file); they never wait for ``latency_ms``, need no key, and honour ``Range``
  (``206`` with ``Content-Range``; ``416`` past the end).

Determinism: every random draw comes from ``random.Random`` objects seeded from ``seed``
(tasks, faults and latency jitter each have their own), and every time from ``clock``;
the same seed, clock and requests give the same response bytes.
"""

from __future__ import annotations

from aireiter_tui.simulator.faults import Fault, FaultPlan
from aireiter_tui.simulator.output_files import OutputFault
from aireiter_tui.simulator.scenario import ManualClock
from aireiter_tui.simulator.seeding import DEFAULT_STATUS_MIX
from aireiter_tui.simulator.server import Simulator
from aireiter_tui.simulator.threaded import running_in_thread

__all__ = [
    "DEFAULT_STATUS_MIX",
    "Fault",
    "FaultPlan",
    "ManualClock",
    "OutputFault",
    "Simulator",
    "running_in_thread",
]
