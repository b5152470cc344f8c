"""Deterministic scenes of the dashboard, shared by the snapshot tests and ``screenshots/``.

A :class:`Scene` builds an :class:`~aireiter_tui.ui.app.AIReiterApp` from fixture data (the
simulator's seeded demo set, made without starting its server, and hand-written hostile
tasks) with every clock frozen, the refresh worker off and no socket opened; its
:meth:`Scene.run_before` brings the running app to the wanted state.

``python -m scenes [--out screenshots]`` writes the gallery (see
:mod:`scenes.__main__`).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, cast

from textual.pilot import Pilot
from textual.widgets import Input, TextArea
from textual_image.widget import HalfcellImage

from aireiter_tui.domain.errors import AIReiterError, NetworkError, RateLimitedError
from aireiter_tui.domain.models import Task, TaskRef, TaskStatus
from aireiter_tui.domain.poller import PollOutcome
from aireiter_tui.domain.view import SortKey, StatusFilter
from aireiter_tui.domain.views import ColumnChoice, View
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.widgets.preview import OutputPreview
from aireiter_tui.ui.widgets.task_table import TaskTable
from scenes.fixtures import (
    DEMO_BASE,
    MONOTONIC_NOW,
    NOW,
    SceneBackend,
    SceneOutputs,
    demo_entries,
    find_key,
    hostile_entries,
)

if TYPE_CHECKING:
    from aireiter_tui.domain.output_cache import OutputCache

#: Seconds until the next refresh shown in the status bar of a live scene.
NEXT_REFRESH: Final = 4.0

# Previews in half-blocks: the same cells whatever terminal runs the tests or the gallery
# (the app itself picks the terminal's best protocol).
OutputPreview.image_type = HalfcellImage

Setup = Callable[[AIReiterApp], None]
Interact = Callable[[Pilot[None]], Awaitable[None]]


@dataclass(frozen=True)
class Scene:
    """One screen state: how to build the app and what to do before the screenshot.

    Attributes:
        name: File stem in ``screenshots/`` and the scene's id in tests.
        description: One line for the README gallery.
        size: Terminal (columns, rows).
        setup: Puts the session and scheduler in the wanted state (runs first).
        press: Keys pressed after ``setup``.
        interact: Anything else, after the keys (typing into a dialog...).
        theme: The Textual theme.
        connected: False gives the "no API key" state.
        fixture: ``"demo"``, ``"hostile"`` or ``"empty"``.
        gallery: Written to ``screenshots/`` (every scene is snapshot-tested).
        views: The config's saved views (tabs above the table).
    """

    name: str
    description: str
    size: tuple[int, int] = (120, 36)
    setup: Setup | None = None
    press: tuple[str, ...] = ()
    interact: Interact | None = None
    theme: str = "textual-dark"
    connected: bool = True
    fixture: str = "demo"
    gallery: bool = False
    views: tuple[View, ...] = ()

    def build(self) -> AIReiterApp:
        """A fresh app for this scene (every screenshot needs its own)."""
        entries = {"demo": demo_entries, "hostile": hostile_entries, "empty": list}[self.fixture]()
        backend = SceneBackend.create(
            entries, connected=self.connected, theme=self.theme, views=self.views
        )
        return AIReiterApp(
            backend,
            wall_clock=lambda: NOW,
            monotonic=lambda: MONOTONIC_NOW,
            rng=random.Random(0),
            live=False,
        )

    async def run_before(self, pilot: Pilot[None]) -> None:
        """Bring the running app to this scene's state (``snap_compare``'s ``run_before``)."""
        app = pilot.app
        assert isinstance(app, AIReiterApp)
        await pilot.pause()
        settle_schedule(app)
        if self.setup is not None:
            self.setup(app)
        await pilot.pause()
        if self.press:
            await pilot.press(*self.press)
        if self.interact is not None:
            await self.interact(pilot)
        await pilot.pause()
        freeze_cursors(app)
        await pilot.pause()


# --- state helpers ---------------------------------------------------------------------
def settle_schedule(app: AIReiterApp) -> None:
    """Make every due task due in :data:`NEXT_REFRESH` s, as after a quiet round."""
    scheduler = app.monitor.scheduler
    scheduler.release(scheduler.due(MONOTONIC_NOW), MONOTONIC_NOW + NEXT_REFRESH)
    app.main_screen.refresh_chrome()


def freeze_cursors(app: AIReiterApp) -> None:
    """Stop every text cursor blinking (it would be on or off at random in a screenshot)."""
    for screen in app.screen_stack:
        for widget in screen.query("Input, TextArea"):
            if isinstance(widget, Input | TextArea):
                widget.cursor_blink = False


def select(app: AIReiterApp, key: str) -> None:
    """Put the table's cursor on the row with ``key``."""
    app.query_one(TaskTable).move_to_key(key)


def mark_errors(app: AIReiterApp, keys: Sequence[str], error: AIReiterError) -> None:
    """Record a failed refresh for each row (the ⚠ marker; the status stays as it was)."""
    for key in keys:
        app.monitor.record(PollOutcome(TaskRef.from_key(key), None, error))
    app.main_screen.apply_changes()


def demo_key(predicate: Callable[[Task], bool]) -> str:
    """The key of the first demo task matching ``predicate``."""
    return find_key(demo_entries(), predicate)


def _has_url_list(task: Task) -> bool:
    return task.input is not None and any(len(urls) > 1 for urls in task.input.url_lists.values())


def _longest_error(task: Task) -> bool:
    return task.failure is not None and len(task.failure.message) > 200


def _processing(task: Task) -> bool:
    return task.status is TaskStatus.PROCESSING


def _finished(task: Task | None) -> bool:
    return task is not None and task.status.is_terminal


def _full_table(app: AIReiterApp) -> None:
    error = NetworkError(f"The connection to {DEMO_BASE} was reset before an answer came.")
    mark_errors(app, [demo_key(_processing)], error)
    select(app, demo_key(_has_url_list))


def _details_completed(app: AIReiterApp) -> None:
    select(app, demo_key(lambda task: len(task.outputs) > 1))


def _details_failed(app: AIReiterApp) -> None:
    select(app, demo_key(_longest_error))


def _hostile_failed(app: AIReiterApp) -> None:
    select(app, find_key(hostile_entries(), lambda task: task.failure is not None))


def _offline(app: AIReiterApp) -> None:
    scheduler, now = app.monitor.scheduler, MONOTONIC_NOW
    error = NetworkError(f"{DEMO_BASE} refused the connection; is the server running?")
    # Only unfinished tasks are queried, so only they fail; finished ones stay as they are.
    polled = [row.ref for row in app.monitor.session.rows.values() if not _finished(row.task)]
    for ref in polled:  # as if each had fallen due: a manual request makes it so at once
        scheduler.request(ref, now)
    refs = scheduler.due(now)
    for ref in refs:
        scheduler.on_error(ref, error, now)
    mark_errors(app, [ref.key for ref in refs], error)


def _rate_limited(app: AIReiterApp) -> None:
    scheduler, now = app.monitor.scheduler, MONOTONIC_NOW
    ref = TaskRef.from_key(demo_key(_processing))
    scheduler.request(ref, now)
    taken = scheduler.due(now)
    scheduler.release([other for other in taken if other != ref], now + NEXT_REFRESH)
    error = RateLimitedError("The server is rate limiting requests; it asks to wait 30 s.", 30)
    scheduler.on_error(ref, error, now)
    app.main_screen.refresh_chrome()


async def _paste_ids(pilot: Pilot[None]) -> None:
    watched = demo_key(_has_url_list).partition(":")[2]
    area = pilot.app.screen.query_one(TextArea)
    area.load_text(
        f"order_new-a1B2c3D4e5, order_new-f6G7h8\n{watched}\n"
        f"order_bell\x07here; order_{'x' * 300} order_new-f6G7h8"
    )
    area.move_cursor(area.document.end)
    await pilot.pause()


async def _paste_only_bad_ids(pilot: Pilot[None]) -> None:
    pilot.app.screen.query_one(TextArea).load_text(f"order_bell\x07here order_{'x' * 300}")
    await pilot.pause()
    await pilot.press("ctrl+s")


async def _submit_dialog(pilot: Pilot[None]) -> None:
    """Wait for the submit dialog (a retry opens it after reading the submit journal)."""
    from aireiter_tui.ui.screens.submit import SubmitScreen

    for _ in range(200):
        if isinstance(pilot.app.screen, SubmitScreen):
            break
        await pilot.pause(0.01)
    assert isinstance(pilot.app.screen, SubmitScreen), "the submit dialog did not open"
    await pilot.pause()


async def _duplicate(pilot: Pilot[None]) -> None:
    await _submit_dialog(pilot)
    # A fresh out_task_id holds random digits: a fixed one keeps the screenshot the same.
    pilot.app.screen.query_one("#out-task-id", Input).value = "tui-20251218-101211-a1b2c3"
    area = pilot.app.screen.query_one("#params", TextArea)
    area.load_text(area.text.replace('"1:1"', '"16:9"'))
    await pilot.pause()


async def _new_with_bad_json(pilot: Pilot[None]) -> None:
    await _submit_dialog(pilot)
    pilot.app.screen.query_one("#out-task-id", Input).value = "tui-20251218-101211-a1b2c3"
    area = pilot.app.screen.query_one("#params", TextArea)
    area.load_text('{\n  "prompt": "a red fox in the snow",\n  "output_n": 2,\n}')
    area.move_cursor(area.document.end)
    await pilot.pause()
    await pilot.press("ctrl+s")
    await pilot.pause()


async def _filter_and_sort(pilot: Pilot[None]) -> None:
    await pilot.press("slash", *"banana", "enter", "s", "s", "s")


#: Saved views for the tabs scene: a status, a sort, a text filter with its own columns.
VIEWS: Final = (
    View("Failed", status=StatusFilter.FAILED),
    View("Running", status=StatusFilter.ACTIVE, sort=SortKey.TIME, reverse=True),
    View(
        "Bananas",
        text="banana",
        sort=SortKey.CREDITS,
        reverse=True,
        columns=tuple(ColumnChoice(ident) for ident in ("task", "model", "status", "credits")),
    ),
)


def _single_image(task: Task) -> bool:
    return task.status is TaskStatus.COMPLETED and [o.kind.value for o in task.outputs] == ["image"]


def _preview(app: AIReiterApp) -> None:
    app.backend.outputs = cast("OutputCache", SceneOutputs())
    select(app, demo_key(_single_image))


async def _preview_drawn(pilot: Pilot[None]) -> None:
    """Wait for the picture (decoded on a thread), then scroll the zoomed pane to it."""
    from aireiter_tui.ui.widgets.detail_pane import DetailPane

    pane = pilot.app.query_one(DetailPane)
    for _ in range(200):
        await pilot.app.workers.wait_for_complete()
        if pane.preview.drawn is not None:
            break
        await pilot.pause(0.01)
    assert pane.preview.drawn is not None, "the preview was not drawn"
    await pilot.pause()
    pane.scroll_to_widget(pane.query_one("#detail-heading-outputs"), animate=False, top=True)
    await pilot.pause()


#: Where the download scene saves (shown in the dialog; nothing is written).
SCENE_DOWNLOADS: Final = Path("/home/you/Downloads/aireiter")


def _download_in_progress(app: AIReiterApp) -> None:
    """Five outputs, frozen mid-way: saved, two streaming, one queued, one dead link."""
    from aireiter_tui.domain.download_names import plan
    from aireiter_tui.domain.downloads import Progress
    from aireiter_tui.ui.screens.downloads import DownloadJob, DownloadsScreen

    done = [
        row
        for row in app.monitor.session.rows.values()
        if row.task is not None and row.task.status is TaskStatus.COMPLETED and row.task.outputs
    ]
    pairs = [(row.ref.id, [output.url for output in row.task.outputs]) for row in done if row.task]
    items = plan(pairs, SCENE_DOWNLOADS)[:5]
    job = DownloadJob(items, SCENE_DOWNLOADS, len({item.task_id for item in items}))
    states = [
        Progress(items[0], 28_311, 28_311, "done"),
        Progress(items[1], 61_440, 141_022, "running"),
        Progress(items[2], 16_384, 163_840, "running"),
        Progress(items[3], 0, None, "queued"),
        Progress(
            items[4],
            0,
            None,
            "failed",
            "link expired: The link has expired or its file is gone (HTTP 404).",
        ),
    ]
    for progress in states:
        job.on_progress(progress)
    app.push_screen(DownloadsScreen(job))


SCENES: Final[tuple[Scene, ...]] = (
    Scene(
        "empty", "First start: nothing watched yet, and how to begin", fixture="empty", gallery=True
    ),
    Scene(
        "main",
        "Every status, an unknown one, a never-fetched task and one that could not refresh (⚠)",
        size=(160, 48),
        setup=_full_table,
        gallery=True,
    ),
    Scene("main-120x36", "The full table at 120x36, details below", setup=_full_table),
    Scene(
        "marked-rows",
        "Five rows marked (space, shift+↓): ✓ before each, counted in the status bar",
        press=("down", "space", "space", "down", "down", "shift+down", "shift+down"),
        gallery=True,
    ),
    Scene(
        "details-completed",
        "A completed task: split URL lists, two outputs, history",
        size=(160, 48),
        setup=_details_completed,
    ),
    Scene(
        "details-failed",
        "A failed task with a long error message",
        size=(160, 48),
        setup=_details_failed,
        gallery=True,
    ),
    Scene(
        "add-modal",
        "Adding tasks: IDs ready, one already watched, rejected ones and why",
        press=("a",),
        interact=_paste_ids,
        gallery=True,
    ),
    Scene(
        "add-modal-nothing-valid",
        "Adding tasks: ctrl+s with no valid ID says why and stays open",
        press=("a",),
        interact=_paste_only_bad_ids,
    ),
    Scene(
        "submit-retry",
        "Retrying a failed task (t): the model, the params and what it cost, to confirm",
        setup=_details_failed,
        press=("t",),
        interact=_submit_dialog,
        gallery=True,
    ),
    Scene(
        "submit-duplicate",
        "Duplicating a task with edits (e): the model as a choice, the params as JSON",
        setup=_details_completed,
        press=("e",),
        interact=_duplicate,
        gallery=True,
    ),
    Scene(
        "submit-error",
        "A new task (n) with invalid JSON: refused in the dialog with the reason, not sent",
        size=(80, 24),
        press=("n",),
        interact=_new_with_bad_json,
        gallery=True,
    ),
    Scene(
        "filter-sort",
        'Filtered by "banana", sorted by status',
        interact=_filter_and_sort,
        gallery=True,
    ),
    Scene(
        "help", "Every key, grouped, with the status legend", press=("question_mark",), gallery=True
    ),
    Scene(
        "offline",
        "Offline: the banner says why; rows keep their last status",
        setup=_offline,
        gallery=True,
    ),
    Scene("rate-limited", "Rate limited (HTTP 429): polling waits as asked", setup=_rate_limited),
    Scene("no-key", "No API key: the banner says where to put one", connected=False),
    Scene(
        "hostile",
        "Markup, escape sequences, bidi and very long text from the network, shown as text",
        size=(160, 48),
        fixture="hostile",
    ),
    Scene(
        "hostile-failed",
        "A failed task whose error and prompt mix markup, escapes and non-Latin scripts",
        size=(160, 48),
        fixture="hostile",
        setup=_hostile_failed,
    ),
    Scene("narrow-80x24", "An 80x24 terminal", size=(80, 24), setup=_full_table, gallery=True),
    Scene("wide-no-details", "160x48 with the detail pane hidden", size=(160, 48), press=("v",)),
    Scene("theme-nord", 'The "nord" theme', setup=_full_table, theme="nord", gallery=True),
    Scene("theme-gruvbox", 'The "gruvbox" theme', setup=_full_table, theme="gruvbox", gallery=True),
    Scene(
        "insight-120x36",
        "Insight (i): credits, durations and failures per model, throughput",
        setup=_full_table,
        press=("i",),
        gallery=True,
    ),
    Scene("insight-80x24", "Insight at 80x24", size=(80, 24), setup=_full_table, press=("i",)),
    Scene(
        "tabs",
        "Saved views as tabs with their counts: the second, sorted by run time (3)",
        views=VIEWS,
        press=("3",),
        gallery=True,
    ),
    Scene(
        "column-dialog",
        "The column dialog (c): ETA hidden, Credits moved up and widened, at once behind it",
        press=("c", "end", "space", "up", "up", "up", "shift+up", "shift+up", "plus", "plus"),
    ),
    Scene(
        "preview",
        "A completed task's output drawn in the zoomed detail pane (z), [ ] switch to its inputs",
        setup=_preview,
        press=("z",),
        interact=_preview_drawn,
        gallery=True,
    ),
    Scene(
        "download-in-progress",
        "Downloading outputs (D): a bar per file and overall, a dead link said on its file",
        setup=_download_in_progress,
        gallery=True,
    ),
)
BY_NAME: Final = {scene.name: scene for scene in SCENES}
GALLERY: Final = tuple(scene for scene in SCENES if scene.gallery)
