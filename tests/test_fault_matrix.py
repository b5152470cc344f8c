"""The whole dashboard against a misbehaving simulator, over real sockets.

Each test runs the real app headless on a step clock (see ``harness``)
and checks, for one fault: the app stays up and answers keys; the affected rows say what
went wrong; the other tasks keep refreshing; polling backs off as designed (counted by the
simulator over a fake-time window); and the watchlist on disk still holds every task.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from harness import (
    SIZE,
    T0,
    TIMEOUT,
    AppFactory,
    StepClock,
    assert_responsive,
    banner_text,
    fault_settings,
    mode,
    pane_text,
    quit_and_load,
    refs_of,
    row_line,
    run_for,
    seed_watchlist,
    settled,
    step,
    wait_for,
)
from textual.pilot import Pilot

from aireiter_tui.domain.errors import (
    AIReiterError,
    AuthenticationError,
    BadResponseError,
    NetworkError,
    RequestTimeoutError,
    ServerError,
)
from aireiter_tui.domain.models import TaskRef, TaskStatus
from aireiter_tui.simulator import Fault, ManualClock, Simulator
from aireiter_tui.ui.app import AIReiterApp

TASKS = 4
#: The short timeout for the test that makes the server hang (costs real time per try).
HANG_TIMEOUT = 0.75


class World:
    """A simulator with ``TASKS`` pending tasks (frozen: its clock never moves), a
    watchlist file naming them, and the step clock the apps it builds run on."""

    def __init__(self, tmp_path: Path, clock: StepClock, app_factory: AppFactory) -> None:
        self.sim = Simulator(clock=ManualClock())
        self.refs: list[TaskRef] = refs_of(self.sim.add_tasks(TASKS, status_mix={"pending": 1.0}))
        self.path = tmp_path / "w.toml"
        self.clock = clock
        self._app_factory = app_factory
        seed_watchlist(self.path, self.refs)

    @property
    def victim(self) -> TaskRef:
        return self.refs[1]

    @property
    def others(self) -> list[TaskRef]:
        return [ref for ref in self.refs if ref != self.victim]

    def counts(self, refs: list[TaskRef]) -> list[int]:
        return [self.sim.requests_by_task[ref.id] for ref in refs]

    def app(
        self, *, base_url: str | None = None, api_key: str | None = None, timeout: float = TIMEOUT
    ) -> AIReiterApp:
        """The app on this world's watchlist and clock, talking to its simulator (unless
        told otherwise), its wall clock frozen at ``T0``."""
        settings = fault_settings(
            base_url or self.sim.base_url, api_key or self.sim.api_key, timeout=timeout
        )
        return self._app_factory(settings, watchlist=self.path, clock=self.clock, frozen_at=T0)


@pytest.fixture
async def world(tmp_path: Path, clock: StepClock, app_factory: AppFactory) -> AsyncIterator[World]:
    w = World(tmp_path, clock, app_factory)
    await w.sim.start()
    yield w
    await w.sim.stop()


def free_port() -> int:
    """A port nothing listens on right now (for "the server is down")."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def first_round(pilot: Pilot[None], app: AIReiterApp, world: World) -> None:
    """Wait until every task has been asked about once and the poller has settled."""
    await wait_for(
        pilot, lambda: settled(app) and world.sim.request_count >= TASKS, "the first round"
    )


async def assert_saved(pilot: Pilot[None], app: AIReiterApp, world: World) -> None:
    saved = await quit_and_load(pilot, app, world.path)
    assert sorted(saved) == sorted(world.refs)


# --- faults of one task ---------------------------------------------------------------

ROW_FAULTS = [
    (Fault.HTTP_500, ServerError, "HTTP 500"),
    (Fault.HTTP_502, ServerError, "HTTP 502"),
    (Fault.HTTP_503, ServerError, "HTTP 503"),
    (Fault.NOT_JSON, BadResponseError, "web page"),
    (Fault.ENVELOPE_ERROR, BadResponseError, "status 500"),
    (Fault.DATA_NULL, BadResponseError, "no task data"),
    (Fault.TRUNCATED, NetworkError, "cut off"),
    (Fault.DROP, NetworkError, "without answering"),
    (Fault.HUGE_BODY, BadResponseError, "larger than 1 MB"),
    (Fault.HANG, RequestTimeoutError, "timed out"),
]


@pytest.mark.parametrize(("fault", "error", "words"), ROW_FAULTS, ids=[f[0] for f in ROW_FAULTS])
async def test_one_task_failing(
    world: World, fault: Fault, error: type[AIReiterError], words: str
) -> None:
    """The failing row is marked stale with a readable reason, keeps its last status and
    backs off; the others refresh every interval; a manual refresh recovers it."""
    sim, clock, victim = world.sim, world.clock, world.victim
    timeout = HANG_TIMEOUT if fault is Fault.HANG else TIMEOUT
    app = world.app(timeout=timeout)
    async with app.run_test(size=SIZE) as pilot:
        await first_round(pilot, app, world)
        sim.set_fault(fault, task_id=victim.id, delay=30)
        sim.reset_counters()
        await run_for(pilot, app, clock, 16)

        row = app.monitor.session.rows[victim.key]
        assert isinstance(row.error, error), row.error
        assert words in row.error.human()
        assert row.task is not None and row.task.status is TaskStatus.PENDING
        assert "⚠" in row_line(app, victim.id)
        # Backoff 2, 4, 8 s (±20 %): about four tries in 16 s, against one a second. A
        # connection closed before any byte is retried once at once (a stale pooled one).
        per_try = 2 if fault is Fault.DROP else 1
        assert 2 <= sim.requests_by_task[victim.id] <= 5 * per_try
        assert min(world.counts(world.others)) >= 10
        assert all(app.monitor.session.rows[r.key].error is None for r in world.others)
        assert mode(app) == "live"

        await assert_responsive(pilot, app)  # the cursor now sits on the victim (row 1)
        assert "could not refresh" in pane_text(app)
        sim.clear_faults()
        await pilot.press("r")
        await wait_for(
            pilot, lambda: app.monitor.session.rows[victim.key].error is None, "the refresh"
        )
        await wait_for(pilot, lambda: "⚠" not in row_line(app, victim.id), "the ⚠ to go")
        await assert_saved(pilot, app, world)


CONTENT_FAULTS = [Fault.OUTPUT_NOT_LIST, Fault.OUTPUT_NO_URL]


@pytest.mark.parametrize("fault", CONTENT_FAULTS)
async def test_outputs_without_urls_read_as_a_task_without_outputs(
    world: World, fault: Fault
) -> None:
    sim, clock, victim = world.sim, world.clock, world.victim
    sim.set_fault(fault, task_id=victim.id)
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await first_round(pilot, app, world)
        row = app.monitor.session.rows[victim.key]
        assert row.error is None and row.task is not None
        assert row.task.status is TaskStatus.COMPLETED and row.task.outputs == ()
        assert any("output" in warning for warning in row.task.warnings)
        before = sim.requests_by_task[victim.id]
        await run_for(pilot, app, clock, 5)
        assert sim.requests_by_task[victim.id] == before  # completed: not polled again
        await assert_responsive(pilot, app)
        await pilot.press("o")
        await wait_for(
            pilot,
            lambda: any("no output" in n.message for n in app._notifications),
            "a no-output notice",
        )
        await assert_saved(pilot, app, world)


async def test_unknown_status_is_shown_and_still_polled(world: World) -> None:
    sim, clock, victim = world.sim, world.clock, world.victim
    sim.set_fault(Fault.UNKNOWN_STATUS, task_id=victim.id)
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await first_round(pilot, app, world)
        task = app.monitor.session.rows[victim.key].task
        assert task is not None and task.status is TaskStatus.UNKNOWN
        assert "queued_for_" in row_line(app, victim.id)
        sim.reset_counters()
        await run_for(pilot, app, clock, 8)
        assert sim.requests_by_task[victim.id] >= 6  # not an error: normal interval
        await assert_responsive(pilot, app)
        await assert_saved(pilot, app, world)


# --- faults of the whole service --------------------------------------------------------


@pytest.mark.parametrize("how", ["wrong key", "auth envelope"])
async def test_refused_key_stops_polling(world: World, how: str) -> None:
    """HTTP 401 (or a 401 envelope inside HTTP 200): polling stops, the banner says the
    key is refused, and no further request goes out however long we wait."""
    sim, clock = world.sim, world.clock
    key = "not-the-key" if how == "wrong key" else sim.api_key
    if how == "auth envelope":
        sim.set_fault(Fault.AUTH_ENVELOPE)
    app = world.app(api_key=key)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: settled(app) and sim.request_count >= 1, "the refusal")
        assert mode(app) == "auth-blocked"
        assert "refused the API key" in banner_text(app)
        seen = sim.request_count
        assert seen <= TASKS  # the round stopped at the first refusal
        await run_for(pilot, app, clock, 120, tick=5)
        assert sim.request_count == seen  # no hammering
        assert any(
            isinstance(r.error, AuthenticationError) for r in app.monitor.session.rows.values()
        )
        await assert_responsive(pilot, app)
        await assert_saved(pilot, app, world)


async def test_whole_service_failing_goes_offline_and_backs_off(world: World) -> None:
    sim, clock = world.sim, world.clock
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await first_round(pilot, app, world)
        sim.set_fault(Fault.HTTP_502)
        sim.reset_counters()
        await run_for(pilot, app, clock, 16)
        assert mode(app) == "offline"
        assert "HTTP 502" in banner_text(app)
        assert all(isinstance(r.error, ServerError) for r in app.monitor.session.rows.values())
        assert all(r.task is not None for r in app.monitor.session.rows.values())  # last known kept
        assert max(world.counts(world.refs)) <= 5  # 2, 4, 8 s apart, not once a second
        await assert_responsive(pilot, app)
        sim.clear_faults()
        await run_for(pilot, app, clock, 20, tick=2)
        assert mode(app) == "live" and banner_text(app) == ""
        assert all(r.error is None for r in app.monitor.session.rows.values())
        await assert_saved(pilot, app, world)


async def test_one_task_failing_never_makes_the_app_offline(world: World) -> None:
    """The failing task backs off, so its retries come in rounds of their own: each such
    round fails whole, yet the header must stay live (no banner flapping in and out)."""
    sim, clock, victim = world.sim, world.clock, world.victim
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await first_round(pilot, app, world)
        sim.set_fault(Fault.HTTP_503, task_id=victim.id)
        sim.reset_counters()
        scheduler, on_error = app.monitor.scheduler, app.monitor.scheduler.on_error
        modes: list[str] = []

        def watched_on_error(ref: TaskRef, error: AIReiterError, now: float) -> bool:
            kept = on_error(ref, error, now)
            modes.append(scheduler.state(now).mode)  # the mode after every failure
            return kept

        scheduler.on_error = watched_on_error  # type: ignore[method-assign]
        # Small steps: each holds only the tasks due within it, often one task.
        for _ in range(320):
            await step(pilot, app, clock, 0.05)
            assert banner_text(app) == ""
        assert set(modes) == {"live"} and len(modes) >= 3
        assert sim.requests_by_task[victim.id] >= 3
        assert isinstance(app.monitor.session.rows[victim.key].error, ServerError)


async def test_server_down_at_start_then_up(
    tmp_path: Path, clock: StepClock, app_factory: AppFactory
) -> None:
    world = World(tmp_path, clock, app_factory)
    port = free_port()
    sim, clock = world.sim, world.clock
    app = world.app(base_url=f"http://127.0.0.1:{port}")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: settled(app) and mode(app) == "offline", "offline mode")
        assert "refused the connection" in banner_text(app)
        assert all(isinstance(r.error, NetworkError) for r in app.monitor.session.rows.values())
        assert "⚠" in row_line(app, world.refs[0].id)
        await assert_responsive(pilot, app)
        await sim.start(port)
        try:
            await run_for(pilot, app, clock, 10, tick=2)
            assert mode(app) == "live" and banner_text(app) == ""
            assert all(
                r.task is not None and r.error is None for r in app.monitor.session.rows.values()
            )
            await assert_saved(pilot, app, world)
        finally:
            await sim.stop()


async def test_server_goes_down_and_comes_back(world: World) -> None:
    sim, clock = world.sim, world.clock
    port = int(sim.base_url.rsplit(":", 1)[1])
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await first_round(pilot, app, world)
        await sim.stop()
        await run_for(pilot, app, clock, 4)
        assert mode(app) == "offline"
        assert all(r.stale and r.task is not None for r in app.monitor.session.rows.values())
        await assert_responsive(pilot, app)
        await sim.start(port)
        sim.reset_counters()
        await run_for(pilot, app, clock, 16, tick=2)
        assert mode(app) == "live"
        assert all(not r.stale for r in app.monitor.session.rows.values())
        assert min(world.counts(world.refs)) >= 4
        await assert_saved(pilot, app, world)


async def test_rate_limit_with_retry_after_pauses_exactly_that_long(world: World) -> None:
    sim, clock = world.sim, world.clock
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await first_round(pilot, app, world)
        sim.set_fault(Fault.RATE_LIMIT, retry_after=7)
        await step(pilot, app, clock, 1.5)  # the round that meets the 429
        limited_at = clock.now
        assert mode(app) == "rate-limited"
        assert "retry after 7 s" in banner_text(app)
        sim.clear_faults()
        seen = sim.request_count
        await run_for(pilot, app, clock, 6.5)  # up to limited_at + 6.5 < + 7
        assert clock.now < limited_at + 7
        assert sim.request_count == seen  # not one request before Retry-After
        await assert_responsive(pilot, app)
        await step(pilot, app, clock, 1)
        assert sim.request_count > seen and mode(app) == "live"
        await assert_saved(pilot, app, world)


async def test_rate_limit_without_retry_after_backs_off_and_doubles(world: World) -> None:
    sim, clock = world.sim, world.clock
    app = world.app()
    async with app.run_test(size=SIZE) as pilot:
        await first_round(pilot, app, world)
        sim.set_fault(Fault.RATE_LIMIT_BARE)  # every request of the burst: 429
        await step(pilot, app, clock, 1.5)
        first_at = clock.now
        assert mode(app) == "rate-limited" and "waiting 30 s" in banner_text(app)
        seen = sim.request_count
        await run_for(pilot, app, clock, 29, tick=1)
        assert sim.request_count == seen
        await step(pilot, app, clock, 1.5)  # past 30 s: the due tasks go out, 429 again
        assert seen < sim.request_count <= seen + TASKS
        assert app.monitor.scheduler.gate.paused_until == pytest.approx(clock.now + 60)
        assert "waiting 60 s" in banner_text(app)
        sim.clear_faults()
        seen = sim.request_count
        await run_for(pilot, app, clock, 55, tick=5)
        assert sim.request_count == seen
        await assert_responsive(pilot, app)
        await step(pilot, app, clock, 6)
        assert mode(app) == "live" and sim.request_count > seen
        assert clock.now > first_at + 90
        await assert_saved(pilot, app, world)
