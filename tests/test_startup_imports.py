"""The dashboard's first frame waits for nothing it does not draw: Pillow and
textual-image (the preview's picture) and the download module (with httpx) are imported
after it, and the outputs' local files are looked for without httpx. Each check runs in a
fresh interpreter, since this test process has long imported them all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness import T0, AppFactory, all_fetched, seed_watchlist, settings_for, wait_for
from textual.widgets import Static

from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry
from aireiter_tui.simulator import Simulator

DEFERRED = ("PIL", "textual_image", "aireiter_tui.domain.downloads")

_FIRST_FRAME = """
import json, sys
from pathlib import Path
from aireiter_tui.backend import Backend
from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.widgets.detail_pane import DetailPane

watchlist, out, deferred = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]

class FirstFrame(AIReiterApp):
    CSS_PATH = Path(sys.modules[AIReiterApp.__module__].__file__).parent / "styles/app.tcss"

    def _display(self, screen, renderable):
        super()._display(screen, renderable)
        panes = self.query(DetailPane)
        if renderable is None or out.exists() or not panes or panes.first()._entry is None:
            return
        out.write_text(json.dumps([name for name in deferred if name in sys.modules]))
        self.exit()

FirstFrame(Backend(Settings(), WatchlistStore(watchlist)), live=False).run(
    headless=True, size=(160, 48)
)
"""


def _imported_by_first_frame(tmp_path: Path) -> list[str]:
    ref = TaskRef(IdKind.TASK_ID, "order_startup_1")
    # Port 1 on the loopback: nothing listens, nothing leaves the machine.
    reply = {"task_id": ref.id, "status": "completed", "output": ["http://127.0.0.1:1/a.png"]}
    watchlist = tmp_path / "watchlist.toml"
    WatchlistStore(watchlist).save(
        [WatchEntry(ref=ref, label=None, added_at=T0, task=parse_task(reply))]
    )
    out = tmp_path / "first-frame.json"
    env = {
        "PATH": "/usr/bin:/bin",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "HOME": str(tmp_path),
    }
    script = tmp_path / "first_frame.py"  # a file: Textual finds the app's CSS beside it
    script.write_text(_FIRST_FRAME, encoding="utf-8")
    command = [sys.executable, str(script), str(watchlist), str(out), *DEFERRED]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    imported: list[str] = json.loads(out.read_text(encoding="utf-8"))
    return imported


def test_importing_the_app_leaves_pillow_and_textual_image_for_later() -> None:
    code = "import sys, aireiter_tui.ui.app; print([n for n in sys.argv[1:] if n in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", code, *DEFERRED], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_the_first_frame_showing_a_task_with_outputs_imports_none_of_them(
    tmp_path: Path,
) -> None:
    assert _imported_by_first_frame(tmp_path) == []


async def test_an_output_saved_before_the_start_is_named_once_the_app_settles(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    # The local files are looked for a frame late (see above), but looked for.
    sim.submit("nano_banana", {"prompt": "fox"}, "fox", hide_task_id=True)
    sim.force_status("fox", "completed")
    seed_watchlist(tmp_path / "watchlist.toml", [TaskRef(IdKind.OUT_TASK_ID, "fox")])
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "fox.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    app = app_factory(settings_for(sim, download_dir=folder))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "the task fetched")

        def named() -> bool:
            body = app.main_screen.query_one("#detail-body-outputs", Static).render()
            return f"✔ saved {folder / 'fox.png'}" in str(body)

        await wait_for(pilot, named, "the saved file named in the pane")


def test_looking_for_saved_outputs_leaves_the_http_client_for_later() -> None:
    # The pane looks for saved files the frame after its first; httpx (25 ms of imports)
    # then held back the reading of the rest of the list.
    code = (
        "import sys, aireiter_tui.domain.download_names; "
        "print([n for n in ('httpx', 'aireiter_tui.domain.downloads') if n in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
