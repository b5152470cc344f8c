"""The simulator's HTTP server: an aiohttp application on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hmac
import json
import random
import re
import zlib
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import quote, unquote

from aiohttp import web

from aireiter_tui.simulator import responses
from aireiter_tui.simulator.catalog import (
    MODELS,
    estimated_credits,
    params_problem,
    submit_problem,
)
from aireiter_tui.simulator.faults import CONTENT_FAULTS, Fault, FaultPlan
from aireiter_tui.simulator.media import content_type_for, make_mp4, make_png
from aireiter_tui.simulator.output_files import OutputFault, OutputFiles
from aireiter_tui.simulator.scenario import ManualClock, SimTask, TaskStore, iso_timestamp
from aireiter_tui.simulator.seeding import DEFAULT_STATUS_MIX, TaskFactory

HOST: Final = "127.0.0.1"
MAX_REQUEST_BYTES: Final = 1024 * 1024
REQUEST_HEADERS_KEPT: Final = 100
_FILE_NAME_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}\.(png|mp4)")


class Simulator:
    """An AIReiter-compatible service for the demo, tests and benchmarks.

    See the package docstring for the whole public API.
    """

    def __init__(
        self,
        *,
        api_key: str = "sim-demo-key",
        seed: int = 0,
        speed: float = 1.0,
        clock: Callable[[], float] | None = None,
        latency_ms: float = 0,
        jitter_ms: float = 0,
    ) -> None:
        self._api_key = api_key
        self._expected_auth = f"Bearer {api_key}".encode()
        self._store = TaskStore(clock, speed)
        self._factory = TaskFactory(self._store, seed)
        self._latency_rng = random.Random(f"latency:{seed}")
        self.faults = FaultPlan(seed)
        self.latency_ms = latency_ms
        self.jitter_ms = jitter_ms
        #: Share of submitted tasks that are known only by ``out_task_id``.
        self.omit_task_id_probability = 0.0
        self.request_count = 0
        self.requests_by_task: Counter[str] = Counter()
        #: Well-formed submit requests by out_task_id (refused or not, answered or not).
        self.submits_by_out_task_id: Counter[str] = Counter()
        #: The headers of the latest API requests, oldest first, without Authorization (it
        #: was checked; no copy of a key is kept). Bounded: the benchmark sends millions.
        self.request_headers: deque[dict[str, str]] = deque(maxlen=REQUEST_HEADERS_KEPT)
        #: The output file host: its request log (``.log``, ``.fetches``) and faults.
        self.outputs = OutputFiles()
        self._runner: web.AppRunner | None = None
        self._base_url = ""

    # -- lifecycle -------------------------------------------------------------------

    async def start(self, port: int = 0) -> str:
        """Listen on ``127.0.0.1:port`` (0 picks a free port); return the base URL."""
        if self._runner is not None:
            return self._base_url
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_post("/api/openapi/query", self._query)
        app.router.add_post("/api/openapi/submit", self._submit)
        app.router.add_get("/files/{name}", self._file)
        # handler_cancellation: a client that gives up on a hung request frees its handler.
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5
        )
        await runner.setup()
        site = web.TCPSite(runner, HOST, port, backlog=1024, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        bound = runner.addresses[0][1]
        self._runner = runner
        self._base_url = f"http://{HOST}:{bound}"
        return self._base_url

    async def stop(self) -> None:
        """Close the listening socket and every connection."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` once started, ``""`` before."""
        return self._base_url

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Every ``(host, port)`` the server listens on (tests check it is loopback only)."""
        if self._runner is None:
            return []
        return [(str(addr[0]), int(addr[1])) for addr in self._runner.addresses]

    @property
    def api_key(self) -> str:
        """The one key the simulator accepts (a demo value, not a user's secret)."""
        return self._api_key

    @property
    def speed(self) -> float:
        return self._store.speed

    @property
    def clock(self) -> Callable[[], float]:
        return self._store.clock

    @property
    def failure_rate(self) -> float:
        """Share of new pending tasks that end failed (default 0.1)."""
        return self._factory.failure_rate

    @failure_rate.setter
    def failure_rate(self, value: float) -> None:
        self._factory.failure_rate = value

    # -- tasks -----------------------------------------------------------------------

    def seed_demo(self) -> list[tuple[str, str]]:
        """Add the demo set (about 20 tasks); return their ``(kind, id)`` pairs."""
        return self._factory.demo()

    def add_tasks(
        self, n: int, *, status_mix: Mapping[str, float] = DEFAULT_STATUS_MIX
    ) -> list[tuple[str, str]]:
        """Add ``n`` random tasks whose current statuses follow ``status_mix`` weights."""
        return self._factory.bulk(n, status_mix)

    def submit(
        self,
        model: str,
        params: dict[str, Any],
        out_task_id: str,
        *,
        metadata: dict[str, Any] | None = None,
        hide_task_id: bool = False,
        outcome: str | None = None,
    ) -> dict[str, Any]:
        """Create a pending task as the submit endpoint does; return the response ``data``.

        Raises:
            ValueError: unknown model, or ``out_task_id`` already used (the HTTP
                endpoint also checks the params: see :func:`~.catalog.submit_problem`).
        """
        if model not in MODELS:
            raise ValueError(f"Unsupported model: {model}")
        if out_task_id in self._store.by_out_task_id:
            raise ValueError("out_task_id already exists")
        task = self._factory.create(
            model,
            params,
            out_task_id=out_task_id,
            hide_task_id=hide_task_id,
            metadata=metadata,
            outcome=outcome,
        )
        data: dict[str, Any] = {}
        if task.task_id is not None:
            data["task_id"] = task.task_id
        data["out_task_id"] = out_task_id
        data["status"] = "pending"
        data["estimated_credits"] = estimated_credits(MODELS[model], params)
        data["created_at"] = iso_timestamp(task.created)
        return data

    def task_status(self, ident: str) -> str | None:
        """The status a query for ``ident`` (either kind of ID) would show now."""
        task = self._store.find(ident)
        return None if task is None else task.status(self._store.clock(), self._store.speed)

    def force_status(self, ident: str, status: str | None) -> None:
        """Pin the status of one task (any string); ``None`` returns it to its timeline.

        Raises:
            KeyError: no task has this ID.
        """
        task = self._store.find(ident)
        if task is None:
            raise KeyError(ident)
        self._pin(task, status)

    def set_all_status(self, status: str | None) -> None:
        """Pin every task's status (``None`` returns them all to their timelines)."""
        for task in self._store.all:
            self._pin(task, status)

    def _pin(self, task: SimTask, status: str | None) -> None:
        if status is None:
            task.unforce()
        else:
            task.force(status, self._store.clock())

    def advance(self, seconds: float) -> None:
        """Move the built-in :class:`ManualClock` forward.

        Raises:
            TypeError: the simulator runs on another clock.
        """
        clock = self._store.clock
        if not isinstance(clock, ManualClock):
            raise TypeError("advance() needs the simulator to run on a ManualClock")
        clock.advance(seconds)

    @property
    def task_count(self) -> int:
        return len(self._store.all)

    # -- faults and accounting -------------------------------------------------------

    def set_fault(
        self,
        fault: Fault | str,
        *,
        task_id: str | None = None,
        times: int | None = None,
        retry_after: float | None = None,
        probability: float | None = None,
        delay: float | None = None,
    ) -> None:
        """Make responses misbehave; see :meth:`FaultPlan.set_fault`."""
        self.faults.set_fault(
            fault,
            task_id=task_id,
            times=times,
            retry_after=retry_after,
            probability=probability,
            delay=delay,
        )

    def clear_faults(self) -> None:
        self.faults.clear_faults()
        self.outputs.clear()

    def set_output_fault(
        self,
        name: str,
        fault: OutputFault | str,
        *,
        times: int | None = None,
        size: int | None = None,
        delay: float | None = None,
    ) -> None:
        """Make the output file ``name`` (or the file of a ``/files/`` URL) misbehave; see
        :class:`~.output_files.OutputFault`."""
        if "/files/" in name:
            name = unquote(name.partition("/files/")[2])
        self.outputs.set_fault(name, fault, times=times, size=size, delay=delay)

    def serve_file(self, name: str, data: bytes, content_type: str = "image/png") -> str:
        """Serve ``data`` at ``/files/<name>`` as it is; return its URL (``name`` quoted,
        so it may hold anything, ``../`` included)."""
        self.outputs.extra[name] = (data, content_type)
        return f"{self._base_url}/files/{quote(name, safe='')}"

    def output_urls(self, ident: str) -> list[str]:
        """The output URLs the task ``ident`` has (or will have) once completed.

        Raises:
            KeyError: no task has this ID.
        """
        task = self._store.find(ident)
        if task is None:
            raise KeyError(ident)
        return [f"{self._base_url}/files/{name}" for name in task.outputs]

    def reset_counters(self) -> None:
        self.request_count = 0
        self.requests_by_task.clear()
        self.submits_by_out_task_id.clear()
        self.request_headers.clear()
        self.outputs.reset_log()

    # -- handlers --------------------------------------------------------------------

    async def _prologue(self, request: web.Request) -> web.Response | Any:
        """Count, wait the configured latency, check the key, read the JSON body.

        Returns the parsed body, or the error response to send instead.
        """
        self.request_count += 1
        self.request_headers.append(
            {
                name: value
                for name, value in request.headers.items()
                if name.lower() != "authorization"
            }
        )
        if self.latency_ms or self.jitter_ms:
            jitter = self._latency_rng.uniform(0, self.jitter_ms) if self.jitter_ms else 0.0
            await asyncio.sleep((self.latency_ms + jitter) / 1000)
        auth = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(auth, self._expected_auth):
            return responses.envelope(401, "Invalid API key", http_status=401)
        try:
            return json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return responses.envelope(400, "Invalid JSON body", http_status=400)

    async def _query(self, request: web.Request) -> web.StreamResponse:
        body = await self._prologue(request)
        if isinstance(body, web.Response):
            return body
        ids = {
            k: body[k] for k in ("task_id", "out_task_id") if isinstance(body, dict) and k in body
        }
        if len(ids) != 1:
            message = "Exactly one of task_id or out_task_id must be provided"
            return responses.envelope(400, message, http_status=400)
        ((kind, ident),) = ids.items()
        if not isinstance(ident, str) or not ident:
            return responses.envelope(400, f"{kind} must be a non-empty string", http_status=400)
        self.requests_by_task[ident] += 1
        store = self._store
        task = store.lookup(kind, ident)
        now = store.clock()
        normal = task.render(now, store.speed, self._base_url) if task is not None else None
        fired = self.faults.pick(ident, task_known=task is not None) if self.faults.active else None
        if fired is not None:
            if fired.fault in CONTENT_FAULTS and task is not None:
                index, status = task.stage(now, store.speed)
                completed = task.finished_at(index, store.speed)
                data = task.data(status, completed, self._base_url)
                echo = request.headers.get("Authorization", "")
                return responses.content_fault(fired.fault, task, data, self._base_url, echo=echo)
            early = await responses.transport_fault(fired, request, normal)
            if early is not None:
                return early
        if normal is None:
            # The service answers unknown IDs inside an HTTP 200 envelope (our reading of
            # "statusCode lives in the body"), so clients must check the envelope.
            response = responses.envelope(404, "Task not found")
        else:
            response = responses.json_body(normal)
        if fired is not None and fired.fault is Fault.SET_COOKIE:
            responses.set_cookie(response)
        return response

    async def _submit(self, request: web.Request) -> web.StreamResponse:
        body = await self._prologue(request)
        if isinstance(body, web.Response):
            return body
        problem = submit_problem(body)
        if problem:
            return responses.envelope(400, problem, http_status=400)
        out_task_id = body["out_task_id"]
        self.requests_by_task[out_task_id] += 1
        self.submits_by_out_task_id[out_task_id] += 1
        fired = self.faults.pick(out_task_id, task_known=False) if self.faults.active else None
        if fired is not None and fired.fault is not Fault.LOST_ANSWER:
            early = await responses.transport_fault(fired, request, None)
            if early is not None:
                return early
        # Checked behind the faults, as the service behind a proxy checks them.
        problem = params_problem(MODELS[body["model"]], body["params"])
        if problem:
            return responses.envelope(400, problem, http_status=400)
        hide = self._factory.rng.random() < self.omit_task_id_probability
        try:
            data = self.submit(
                body["model"],
                body["params"],
                out_task_id,
                metadata=body.get("metadata"),
                hide_task_id=hide,
            )
        except ValueError as exc:
            return responses.envelope(400, str(exc), http_status=400)
        if fired is not None and fired.fault is Fault.LOST_ANSWER:
            return await responses.lost_answer(fired, request)  # the task exists now
        response = responses.envelope(200, "", data)
        if fired is not None and fired.fault is Fault.SET_COOKIE:
            responses.set_cookie(response)
        return response

    async def _file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        extra = self.outputs.extra.get(name)
        if extra is not None:
            return await self.outputs.serve(request, name, *extra)
        if not _FILE_NAME_RE.fullmatch(name):
            raise web.HTTPNotFound()
        entry = self._factory.files.get(name)
        if entry is None and name.startswith("upload-") and name.endswith(".png"):
            entry = (320, 320, zlib.crc32(name.encode()))
        if entry is None:
            raise web.HTTPNotFound()
        width, height, seed = entry
        data = make_mp4(seed) if name.endswith(".mp4") else make_png(width, height, seed)
        return await self.outputs.serve(request, name, data, content_type_for(name))
