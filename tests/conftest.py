"""The shared fixtures: the app's clock, the simulator, the app factory, a stand-in browser.

Their helpers live in ``harness.py`` (import them as ``from harness import ...``).
"""

from __future__ import annotations

import functools
import webbrowser
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from harness import AppFactory, StepClock, make_app, running_sim
from hypothesis import settings

from aireiter_tui.simulator import Simulator

# The same examples on every run, and no time limit per example (CI machines are noisy):
# a failure found once is found again, and a slow machine is not a failure.
settings.register_profile("repeatable", derandomize=True, deadline=None)
settings.load_profile("repeatable")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sim(seed=11, setup=None, **options): how the `sim` fixture builds its simulator "
        "(Simulator keywords; `setup` is called on it before it starts)",
    )


@pytest.fixture
def clock() -> StepClock:
    """The app's monotonic clock: it moves only when the test advances it."""
    return StepClock()


@pytest.fixture
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[Simulator]:
    """A simulator on a manual clock, listening on 127.0.0.1 in the test's own loop.

    A module or test changes how it is built with ``@pytest.mark.sim(...)``: e.g.
    ``pytestmark = pytest.mark.sim(seed=5)`` or ``sim(setup=Simulator.seed_demo)``.
    """
    marker = request.node.get_closest_marker("sim")
    options = dict(marker.kwargs) if marker is not None else {}
    async with running_sim(**options) as simulator:
        yield simulator


@pytest.fixture
def app_factory(tmp_path: Path, clock: StepClock) -> AppFactory:
    """:func:`harness.make_app` on the test's ``tmp_path`` and ``clock``: call it with the
    settings and any of make_app's keywords (``clock=`` too, to use another)."""
    return functools.partial(make_app, tmp_path, clock=clock)


@pytest.fixture
def browser_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in browser: ``$BROWSER`` is a script that appends each URL it is asked to
    open to the returned file (empty at first)."""
    log = tmp_path / "opened.txt"
    log.write_text("")
    script = tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{log}"\n')
    script.chmod(0o755)
    monkeypatch.setenv("BROWSER", str(script))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    # webbrowser reads $BROWSER once, on first use: make it read ours, now (threads racing
    # into its first use can find an empty list).
    monkeypatch.setattr(webbrowser, "_tryorder", None)
    monkeypatch.setattr(webbrowser, "_browsers", {})
    webbrowser.register_standard_browsers()
    return log
