"""Hostile strings from the network and the watchlist reach the screen as inert text.

Markup, terminal escapes (CSI, OSC 52, one-byte C1 CSI), BEL, NUL, bidi overrides,
combining marks and 10,000-character strings in prompts, params, errors, labels, URLs,
the status bar and the banner: nothing raises, nothing but text reaches the terminal,
no click action appears, and only plain http(s) output URLs are ever opened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from harness import (
    SIZE,
    T0,
    AppFactory,
    assert_terminal_safe,
    fault_settings,
    opened_urls,
    pane_text,
    refs_of,
    settled,
    wait_for,
)
from textual.pilot import Pilot

import aireiter_tui.ui.main_screen
from aireiter_tui.domain.models import TaskRef, parse_task
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry
from aireiter_tui.simulator import Fault, ManualClock, Simulator
from aireiter_tui.simulator.faults import HOSTILE_TEXTS, HOSTILE_URLS, LONG_HOSTILE
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.screens.label import LabelScreen
from aireiter_tui.ui.screens.output_chooser import OutputChooserScreen
from aireiter_tui.ui.widgets.task_table import TaskTable

HOSTILE_LABEL = " ".join(HOSTILE_TEXTS)
REFUSED = [url for url in HOSTILE_URLS if len(url) < 1000]
REFUSED += ["javascript:alert(1)", "file:///etc/passwd", "data:text/html,x", "-x http://a.b"]


class Scene:
    """A simulator whose first task answers with every string hostile (and completes,
    so its transition is announced), a normal completed task with one http output, and
    a task with a 10,000-character hostile label."""

    def __init__(self, tmp_path: Path, app_factory: AppFactory) -> None:
        self._app_factory = app_factory
        self.sim = Simulator(clock=ManualClock())
        self.refs: list[TaskRef] = refs_of(self.sim.add_tasks(3, status_mix={"completed": 1.0}))
        self.hostile, self.normal, self.long = self.refs
        self.sim.set_fault(Fault.HOSTILE, task_id=self.hostile.id)
        self.path = tmp_path / "w.toml"
        labels = [HOSTILE_LABEL, None, (LONG_HOSTILE + HOSTILE_LABEL)[-10_000:]]
        entries = []
        for ref, label in zip(self.refs, labels, strict=True):
            entry = WatchEntry(ref=ref, label=label, added_at=T0)
            entry.record(parse_task({ref.kind.value: ref.id, "status": "processing"}), T0)
            entries.append(entry)
        WatchlistStore(self.path).save(entries)

    def app(self) -> AIReiterApp:
        settings = fault_settings(self.sim.base_url, self.sim.api_key, profile=HOSTILE_TEXTS[1])
        return self._app_factory(settings, watchlist=self.path, frozen_at=T0)


@pytest.fixture
async def scene(tmp_path: Path, app_factory: AppFactory) -> AsyncIterator[Scene]:
    s = Scene(tmp_path, app_factory)
    await s.sim.start()
    yield s
    await s.sim.stop()


def browsers_done(app: AIReiterApp) -> bool:
    return not [w for w in app.workers if w.group == "browser" and not w.is_finished]


async def started(pilot: Pilot[None], app: AIReiterApp, scene: Scene) -> None:
    await wait_for(pilot, lambda: settled(app) and scene.sim.request_count >= 3, "the first round")
    await wait_for(pilot, lambda: len(app._notifications) >= 1, "a completion toast")


async def test_hostile_strings_everywhere_reach_the_screen_as_text(scene: Scene) -> None:
    app = scene.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, scene)
        row = app.monitor.session.rows[scene.hostile.key]
        assert row.task is not None and row.task.failure is not None
        assert app.query_one(TaskTable).cursor_key == scene.hostile.key
        assert_terminal_safe(app)  # table, detail pane, status bar, toasts
        text = pane_text(app)
        assert "[@click=app.quit]" in text and "␛" in text  # shown, not interpreted
        for message in (n.message for n in app._notifications):
            assert "\x1b" not in message and "\x00" not in message and "\x07" not in message
        for key in ("end", "home", "down", "up", "v", "v", "s", "S", "f", "f", "escape"):
            await pilot.press(key)
            assert_terminal_safe(app)
        app.query_one(TaskTable).move_to_key(scene.hostile.key)
        await pilot.press("l")  # the label editor holds the hostile label
        await wait_for(pilot, lambda: isinstance(app.screen, LabelScreen), "the label editor")
        assert_terminal_safe(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(app.screen_stack) == 1, "the dialog to close")
        await pilot.press("o")  # eight outputs: the chooser lists the hostile URLs
        await wait_for(pilot, lambda: isinstance(app.screen, OutputChooserScreen), "the chooser")
        assert_terminal_safe(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(app.screen_stack) == 1, "the dialog to close")
        assert app.is_running


async def test_clicking_on_click_markup_does_nothing(scene: Scene) -> None:
    app = scene.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, scene)
        # Click every cell of the screen where the text "@click" or "quit" is painted.
        hits = 0
        for y, strip in enumerate(app.screen._compositor.render_strips()):
            line = "".join(segment.text for segment in strip)
            for word in ("@click", "quit"):
                x = line.find(word)
                if x >= 0:
                    hits += 1
                    await pilot.click(offset=(x + 1, y))
                    assert app.is_running
        assert hits >= 2
        assert app.is_running


async def test_only_http_urls_are_opened(scene: Scene, browser_log: Path) -> None:
    app = scene.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, scene)
        for url in REFUSED:
            assert app.main_screen.open_url_safely(url) is False
        table = app.query_one(TaskTable)
        for ref in (scene.hostile, scene.normal):  # both have several outputs: a chooser
            table.move_to_key(ref.key)
            await pilot.press("o")
            await wait_for(
                pilot, lambda: isinstance(app.screen, OutputChooserScreen), "the chooser"
            )
            assert_terminal_safe(app)
            await pilot.press("1")  # hostile: javascript:alert(1), listed but disabled
            if ref == scene.hostile:
                await pilot.press("escape")
            await wait_for(pilot, lambda: len(app.screen_stack) == 1, "the dialog to close")
        await wait_for(pilot, lambda: len(opened_urls(browser_log)) == 1, "the browser records")
        await wait_for(pilot, lambda: browsers_done(app), "browser workers end")
        task = app.monitor.session.rows[scene.normal.key].task
        assert task is not None and opened_urls(browser_log) == [task.outputs[0].url]
        assert opened_urls(browser_log)[0].startswith("http://127.0.0.1:")


async def assert_refused_not_opened(pilot: Pilot[None], app: AIReiterApp, record: Path) -> None:
    for url in ("javascript:alert(1)", "file:///etc/passwd"):
        app.main_screen.open_url_safely(url)
    app.main_screen.open_url_safely("https://example.invalid/ok.png")  # a fence: it must arrive
    await wait_for(pilot, lambda: len(opened_urls(record)) >= 1, "the browser records")
    await wait_for(pilot, lambda: browsers_done(app), "browser workers end")
    assert opened_urls(record) == ["https://example.invalid/ok.png"]


async def test_refusal_check_passes_with_the_safeguard(scene: Scene, browser_log: Path) -> None:
    app = scene.app()
    async with app.run_test(size=SIZE) as pilot:
        await assert_refused_not_opened(pilot, app, browser_log)


async def test_refusal_check_fails_without_the_safeguard(
    scene: Scene, browser_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proves the test above can fail: with url_refusal accepting everything, the
    stand-in browser is handed the javascript: URL."""
    monkeypatch.setattr(aireiter_tui.ui.main_screen, "url_refusal", lambda url: None)
    app = scene.app()
    async with app.run_test(size=SIZE) as pilot:
        with pytest.raises(AssertionError):
            await assert_refused_not_opened(pilot, app, browser_log)
        await wait_for(pilot, lambda: len(opened_urls(browser_log)) == 3, "all three recorded")
        assert "javascript:alert(1)" in opened_urls(browser_log)
