"""What the preview offers and what reaches Pillow: outputs then input images, each URL
once and only http(s); an over-limit picture refused before decoding; a response that is
not an image said on its output, never handed to Pillow; the outputs section's notes."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import AppFactory, all_fetched, seed_watchlist, settings_for, wait_for
from PIL import Image as PILImage
from textual_image.widget import HalfcellImage

from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.simulator import Simulator
from aireiter_tui.simulator.media import make_png
from aireiter_tui.ui.widgets import detail_pane
from aireiter_tui.ui.widgets.detail_pane import DetailPane
from aireiter_tui.ui.widgets.detail_sections import OutputNote, outputs_section
from aireiter_tui.ui.widgets.preview import OutputPreview, PictureProblem, decode, preview_items


def test_outputs_come_first_then_each_input_image_once() -> None:
    task = parse_task(
        {
            "task_id": "order_x",
            "status": "completed",
            "output": [{"url": "https://cdn.example/out-1.png"}, {"url": "javascript:alert(1)"}],
            "input": {
                "model": "nano_banana",
                "params": {
                    "prompt": "a fox",
                    "image_url": "https://up.example/a.png,https://up.example/b.png",
                    "end_image_url": "https://up.example/end.png",
                },
                # The API echoes the input images here: offered once, under image_url.
                "attachments": ["https://up.example/a.png,https://up.example/c.png"],
            },
        }
    )
    items = preview_items(task)
    assert [(item.label, item.url, item.is_input) for item in items] == [
        ("output 1", "https://cdn.example/out-1.png", False),
        ("input image_url 1", "https://up.example/a.png", True),
        ("input image_url 2", "https://up.example/b.png", True),
        ("input attachment 2", "https://up.example/c.png", True),
        ("input end_image_url", "https://up.example/end.png", True),
    ]


def test_a_picture_over_pillows_limit_is_refused_before_any_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(make_png(4, 4, 1))

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("Pillow was handed the file")

    monkeypatch.setattr(PILImage, "open", never)
    side = int(PILImage.MAX_IMAGE_PIXELS**0.5) + 10  # what the headers claimed
    with pytest.raises(PictureProblem, match="too large to draw"):
        decode(path, side, side)


def test_a_damaged_image_is_said_in_words(tmp_path: Path) -> None:
    path = tmp_path / "cut.png"
    path.write_bytes(make_png(64, 64, 1)[:60])
    with pytest.raises(PictureProblem, match="cannot be drawn"):
        decode(path, 64, 64)


def test_a_large_picture_is_decoded_to_a_bounded_size(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(make_png(2000, 1000, 3))
    picture = decode(path, 2000, 1000)
    assert picture.size == (800, 400) and picture.mode == "RGB"


def test_the_outputs_section_says_dead_links_and_saved_files() -> None:
    task = parse_task(
        {
            "task_id": "order_x",
            "status": "completed",
            "output": [{"url": "https://cdn.example/1.png"}, {"url": "https://cdn.example/2.png"}],
        }
    )
    notes = [
        OutputNote(state="link expired", reason="The link has expired (HTTP 404)."),
        OutputNote(saved="~/Downloads/aireiter/order_x_2.png"),
    ]
    text = outputs_section(task, notes, open_key="O")
    assert text is not None
    assert text.plain.splitlines() == [
        "1. image  https://cdn.example/1.png",
        "   ✖ link expired: The link has expired (HTTP 404).",
        "2. image  https://cdn.example/2.png",
        "   ✔ saved ~/Downloads/aireiter/order_x_2.png  (O opens it)",
    ]


def test_a_file_under_home_is_named_from_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: Path("/home/you")))
    shown = detail_pane._home_short(Path("/home/you/Downloads/aireiter/a.png"))
    assert shown == "~/Downloads/aireiter/a.png"
    assert detail_pane._home_short(Path("/tmp/a.png")) == "/tmp/a.png"


async def test_a_response_that_is_not_an_image_never_reaches_pillow(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(OutputPreview, "image_type", HalfcellImage)
    opened: list[object] = []
    original = PILImage.open

    def recording(*args: object, **kwargs: object) -> object:
        opened.append(args[0])
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(PILImage, "open", recording)
    sim.submit("nano_banana", {"prompt": "x"}, "html", hide_task_id=True)
    sim.force_status("html", "completed")
    sim.set_output_fault(sim.output_urls("html")[0], "not_image")
    seed_watchlist(tmp_path / "watchlist.toml", [TaskRef(IdKind.OUT_TASK_ID, "html")])
    app = app_factory(settings_for(sim))
    app.backend.cache_dir = tmp_path / "cache"
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
        preview = app.main_screen.query_one(DetailPane).preview
        await wait_for(pilot, lambda: preview.message.startswith("refused"), "the refusal")
        assert "not an image" in preview.message
        outputs = str(app.main_screen.query_one("#detail-body-outputs").render())
        assert "✖ refused" in outputs
    assert opened == []
