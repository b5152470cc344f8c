"""Output previews in the detail pane, against the simulator: drawn in half-blocks from the
PNG's own pixels, "loading…" first, switched with [ and ], hidden with P (remembered), and
a dead link said on that output without touching the task's status or polling."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import (
    AppFactory,
    StepClock,
    all_fetched,
    record_notes,
    seed_watchlist,
    settings_for,
    status_of,
    step,
    wait_for,
    watch_two_output_task,
)
from PIL import Image as PILImage
from rich.segment import Segment
from textual_image.widget import HalfcellImage

from aireiter_tui.domain.config import Settings, load_settings
from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.secret import ApiKey
from aireiter_tui.simulator import Simulator
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.widgets.detail_pane import DetailPane
from aireiter_tui.ui.widgets.preview import LOADING, OutputPreview

#: Wide enough for the pane beside the table, tall enough for the preview under the summary.
WIDE = (160, 48)
HALF_BLOCK = "▀"


@pytest.fixture(autouse=True)
def halfblocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same cells on any terminal (the real app picks the terminal's best protocol)."""
    monkeypatch.setattr(OutputPreview, "image_type", HalfcellImage)


def watch_completed(
    tmp_path: Path, sim: Simulator, ident: str = "shot", **params: object
) -> TaskRef:
    """A completed task with one 16:9 image output, watched by its out_task_id."""
    sim.submit(
        "nano_banana",
        {"prompt": "a fox", "aspect_ratio": "16:9", **params},
        ident,
        hide_task_id=True,
    )
    sim.force_status(ident, "completed")
    ref = TaskRef(IdKind.OUT_TASK_ID, ident)
    seed_watchlist(tmp_path / "watchlist.toml", [ref])
    return ref


def read(path: Path) -> str:
    return path.read_text() if path.is_file() else ""


def with_cache(app: AIReiterApp, tmp_path: Path) -> AIReiterApp:
    app.backend.cache_dir = tmp_path / "cache"
    return app


def pane(app: AIReiterApp) -> DetailPane:
    return app.main_screen.query_one(DetailPane)


def preview_cells(app: AIReiterApp) -> list[list[Segment]]:
    """The painted cells of the preview's picture, a list of segments per screen row."""
    picture = pane(app).preview.query_one(".preview-image")
    region = picture.region
    strips = app.screen._compositor.render_strips()
    rows = []
    for y in range(region.y, region.bottom):
        strip = strips[y].crop(region.x, region.right)
        rows.append([segment for segment in strip if segment.text])
    return rows


def drawn_pixels(rows: list[list[Segment]]) -> Iterator[tuple[tuple[int, int], tuple[int, ...]]]:
    """((x, y), rgb) of every half-block pixel painted: the glyph's colour is the upper
    pixel, its background the lower one."""
    for row, segments in enumerate(rows):
        x = 0
        for segment in segments:
            for _ in segment.text:
                style = segment.style
                assert segment.text.strip(HALF_BLOCK) == "", segment.text
                assert style is not None and style.color and style.bgcolor
                yield (x, row * 2), style.color.get_truecolor()
                yield (x, row * 2 + 1), style.bgcolor.get_truecolor()
                x += 1


async def test_the_pane_draws_the_png_in_half_blocks(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    ref = watch_completed(tmp_path, sim)
    app = with_cache(app_factory(settings_for(sim)), tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "the task fetched")
        task = app.monitor.session.rows[ref.key].task
        assert task is not None
        url = task.outputs[0].url
        await wait_for(pilot, lambda: pane(app).preview.drawn == url, "the preview drawn")
        await pilot.pause()
        rows = preview_cells(app)
        # 16:9 in the pane: wider than tall, many cells of it, all half-blocks.
        width = sum(len(segment.text) for segment in rows[0])
        assert width > 2 * len(rows) >= 10
        # The cells carry the PNG's own colours: the PNG scaled to the cells' pixels.
        name = url.rpartition("/")[2]
        body = sim_file(sim, name)
        expected = PILImage.open(io.BytesIO(body)).convert("RGB").resize((width, 2 * len(rows)))
        differences = [
            sum(abs(a - b) for a, b in zip(rgb, expected.getpixel(xy), strict=True))
            for xy, rgb in drawn_pixels(rows)
        ]
        assert len(expected.getcolors(maxcolors=1 << 16) or ()) > 20  # not a flat colour
        assert sum(differences) / len(differences) < 12
        caption = str(pane(app).preview.query_one("#preview-caption").render())
        assert "PNG 320\N{MULTIPLICATION SIGN}180" in caption


def sim_file(sim: Simulator, name: str) -> bytes:
    """The bytes the simulator serves for an output file (its request log counts them)."""
    from aireiter_tui.simulator.media import make_png

    width, height, seed = sim._factory.files[name]
    return make_png(width, height, seed)


async def test_loading_is_shown_until_the_fetch_lands(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    ref = watch_completed(tmp_path, sim)
    app = with_cache(app_factory(settings_for(sim)), tmp_path)
    gate = asyncio.Event()
    async with app.run_test(size=WIDE) as pilot:
        await wait_for(pilot, lambda: app.backend.outputs is not None, "the cache")
        cache = app.backend.outputs
        assert cache is not None
        fetch = cache.fetch

        async def held(url: str):  # type: ignore[no-untyped-def]
            await gate.wait()
            return await fetch(url)

        cache.fetch = held  # type: ignore[method-assign]
        await wait_for(pilot, lambda: all_fetched(app), "the task fetched")
        preview = pane(app).preview
        await wait_for(pilot, lambda: preview.current is not None, "the preview to start")
        await pilot.pause()
        assert preview.message == LOADING
        assert preview.drawn is None and sim.outputs.fetches == {}
        gate.set()
        task = app.monitor.session.rows[ref.key].task
        assert task is not None
        await wait_for(pilot, lambda: preview.drawn == task.outputs[0].url, "drawn")
        assert preview.message == ""
        assert sum(sim.outputs.fetches.values()) == 1


async def test_brackets_switch_between_outputs_then_inputs(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    ref = watch_two_output_task(tmp_path, sim)
    app = with_cache(app_factory(settings_for(sim)), tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "the task fetched")
        task = app.monitor.session.rows[ref.key].task
        assert task is not None
        first, second = (output.url for output in task.outputs)
        preview = pane(app).preview
        caption = preview.query_one("#preview-caption")
        await wait_for(pilot, lambda: preview.drawn == first, "the first output drawn")
        assert str(caption.render()).startswith("1/2  output 1")
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: preview.drawn == second, "the second output drawn")
        assert str(caption.render()).startswith("2/2  output 2")
        await pilot.press("right_square_bracket")  # wraps around
        await wait_for(pilot, lambda: preview.drawn == first, "back to the first")
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: preview.drawn == second, "the last again")


async def test_input_images_follow_the_outputs(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    upload = f"{sim.base_url}/files/upload-fox.png"
    ref = watch_completed(tmp_path, sim, image_url=upload)
    app = with_cache(app_factory(settings_for(sim)), tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "the task fetched")
        preview = pane(app).preview
        await wait_for(pilot, lambda: bool(preview.items), "the task shown")
        assert [item.label for item in preview.items] == ["output 1", "input image_url"]
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: preview.drawn == upload, "the input image drawn")
        assert "2/2  input image_url · PNG 320\N{MULTIPLICATION SIGN}320" in str(
            preview.query_one("#preview-caption").render()
        )
    assert status_of(app, ref) == "completed"


async def test_p_hides_previews_and_a_restart_remembers(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    ref = watch_completed(tmp_path, sim)
    config = tmp_path / "config.toml"
    app = with_cache(app_factory(settings_for(sim)), tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "the task fetched")
        preview = pane(app).preview
        await wait_for(pilot, lambda: preview.drawn is not None, "drawn")
        await pilot.press("P")
        await pilot.pause()
        assert not preview.display and not pane(app).query_one("#detail-heading-preview").display
        assert HALF_BLOCK not in "".join(
            segment.text for strip in app.screen._compositor.render_strips() for segment in strip
        )
        await wait_for(pilot, lambda: "previews = false" in read(config), "remembered")
    restarted = load_settings(
        config, overrides={"base_url": sim.base_url, "api_key": ApiKey(sim.api_key)}
    )
    assert restarted.previews is False
    again = with_cache(app_factory(restarted), tmp_path)
    async with again.run_test(size=WIDE) as pilot:
        await wait_for(pilot, lambda: all_fetched(again), "the task fetched")
        await pilot.pause()
        assert pane(again).shown_ref == ref
        assert not pane(again).preview.display
        assert pane(again).preview.current is None
        await pilot.press("P")  # and back on
        await wait_for(pilot, lambda: pane(again).preview.drawn is not None, "drawn again")
        await wait_for(pilot, lambda: "previews = true" in read(config), "remembered again")


async def test_the_demo_remembers_nothing(tmp_path: Path, app_factory: AppFactory) -> None:
    app = app_factory(Settings(), simulator=Simulator(seed=3))
    async with app.run_test(size=WIDE) as pilot:
        notes = record_notes(app)
        await pilot.press("P")
        await pilot.pause()
        assert not pane(app).previews
        assert any(note.message.startswith("Previews off") for note in notes)
    assert not (tmp_path / "config.toml").exists()


async def test_a_dead_link_is_said_on_its_output_not_as_the_tasks_error(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory, clock: StepClock
) -> None:
    ref = watch_completed(tmp_path, sim)
    url = sim.output_urls("shot")[0]
    sim.set_output_fault(url, "gone")
    app = with_cache(app_factory(settings_for(sim)), tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "the task fetched")
        preview = pane(app).preview
        await wait_for(pilot, lambda: preview.message.startswith("link expired"), "the 404")
        await wait_for(
            pilot,
            lambda: "✖ link expired" in str(pane(app).query_one("#detail-body-outputs").render()),
            "the outputs section to say it",
        )
        outputs = str(pane(app).query_one("#detail-body-outputs").render())
        assert "HTTP 404" in outputs
        row = app.monitor.session.rows[ref.key]
        assert status_of(app, ref) == "completed" and row.error is None
        assert not pane(app).query_one("#detail-body-error").display
        # The task is not asked again because of its output: a finished task stays quiet.
        asked = sim.requests_by_task["shot"]
        for _ in range(4):
            await step(pilot, app, clock, 60.0)
        assert sim.requests_by_task["shot"] == asked
        # Back on the task later: said again from memory, the host is not asked again.
        assert sim.outputs.fetches[url.rpartition("/")[2]] == 1
