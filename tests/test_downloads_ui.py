"""Downloading outputs from the dashboard, against the simulator: w (the marked tasks or
the selected one), D (every completed task in view, asking past ten), the dialog's bars,
Esc hiding it while the download goes on, c cancelling, O opening the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import (
    AppFactory,
    all_fetched,
    record_notes,
    seed_watchlist,
    settings_for,
    table,
    wait_for,
)
from textual.app import App
from textual.widgets import ProgressBar, Static

from aireiter_tui.domain.download_names import DownloadItem
from aireiter_tui.domain.downloads import Progress
from aireiter_tui.domain.media_info import MediaKind, inspect
from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.simulator import Simulator
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.screens.confirm import ConfirmScreen
from aireiter_tui.ui.screens.downloads import DownloadJob, DownloadsScreen

WIDE = (160, 48)
RATIOS = {"wide": ("16:9", (320, 180)), "tall": ("9:16", (180, 320)), "square": ("1:1", (320, 320))}


def watch_completed(tmp_path: Path, sim: Simulator, names: list[str]) -> list[TaskRef]:
    """Completed tasks (one image output each, at each name's aspect ratio) and a pending
    one, watched by their out_task_ids."""
    refs = []
    for name in names:
        ratio = RATIOS.get(name, RATIOS["square"])[0]
        sim.submit("nano_banana", {"prompt": name, "aspect_ratio": ratio}, name, hide_task_id=True)
        sim.force_status(name, "completed")
        refs.append(TaskRef(IdKind.OUT_TASK_ID, name))
    sim.submit("nano_banana", {"prompt": "later"}, "later", hide_task_id=True)
    sim.force_status("later", "pending")
    refs.append(TaskRef(IdKind.OUT_TASK_ID, "later"))
    seed_watchlist(tmp_path / "watchlist.toml", refs)
    return refs


def downloads_app(app_factory: AppFactory, sim: Simulator, folder: Path) -> AIReiterApp:
    return app_factory(settings_for(sim, download_dir=folder))


def job_of(app: AIReiterApp) -> DownloadJob:
    job = app.main_screen._downloads
    assert job is not None
    return job


def overall(app: AIReiterApp) -> ProgressBar:
    return app.screen.query_one("#download-overall", ProgressBar)


async def test_d_saves_every_completed_tasks_outputs_with_bars_and_a_toast(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    folder = tmp_path / "saved"
    watch_completed(tmp_path, sim, ["wide", "tall", "square"])
    app = downloads_app(app_factory, sim, folder)
    async with app.run_test(size=WIDE) as pilot:
        notes = record_notes(app)
        await wait_for(pilot, lambda: all_fetched(app), "every task fetched")
        await pilot.press("D")
        assert isinstance(app.screen, DownloadsScreen)
        job = job_of(app)
        assert job.tasks == 3 and len(job.items) == 3  # the pending task has none
        await wait_for(pilot, lambda: job.ended == "finished", "the download to end")
        await wait_for(pilot, lambda: overall(app).percentage == 1.0, "the overall bar full")
        for number in range(3):
            assert app.screen.query_one(f"#download-bar-{number}", ProgressBar).percentage == 1.0
            status = str(app.screen.query_one(f"#download-status-{number}", Static).render())
            assert status.startswith("saved, ")
        summary = str(app.screen.query_one("#download-summary", Static).render())
        assert summary == f"Saved 3 files to {folder}."
        assert any(note.message == summary for note in notes)
        await pilot.press("escape")
        assert not isinstance(app.screen, DownloadsScreen)
        # The pane names the file of the selected task, and O opens it (see below).
        details = str(app.main_screen.query_one("#detail-body-outputs", Static).render())
        assert f"✔ saved {folder / 'wide.png'}" in details
    for name in ("wide", "tall", "square"):
        info = inspect(folder / f"{name}.png")
        assert info.kind is MediaKind.PNG
        assert (info.width, info.height) == RATIOS[name][1]
    assert sorted(path.name for path in folder.iterdir()) == ["square.png", "tall.png", "wide.png"]


async def test_w_saves_the_marked_tasks_else_the_selected_one(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    folder = tmp_path / "saved"
    watch_completed(tmp_path, sim, ["wide", "tall", "square"])
    app = downloads_app(app_factory, sim, folder)
    async with app.run_test(size=WIDE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "every task fetched")
        await pilot.press("w")
        job = job_of(app)
        assert [item.task_id for item in job.items] == ["wide"]
        await wait_for(pilot, lambda: job.ended == "finished", "the first download")
        await pilot.press("escape")
        await pilot.press("down", "space", "space")  # mark tall and square
        await pilot.press("w")
        second = job_of(app)
        assert second is not job
        assert [item.task_id for item in second.items] == ["tall", "square"]
        await wait_for(pilot, lambda: second.ended == "finished", "the second download")
    assert sorted(path.name for path in folder.iterdir()) == ["square.png", "tall.png", "wide.png"]


async def test_w_on_a_task_without_outputs_says_why(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    refs = watch_completed(tmp_path, sim, [])
    app = downloads_app(app_factory, sim, tmp_path / "saved")
    async with app.run_test(size=WIDE) as pilot:
        notes = record_notes(app)
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
        assert table(app).cursor_key == refs[0].key
        await pilot.press("w")
        assert not isinstance(app.screen, DownloadsScreen)
        assert notes[-1].message == "The selected task has no output yet."


async def test_escape_hides_the_dialog_while_the_download_goes_on(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    folder = tmp_path / "saved"
    watch_completed(tmp_path, sim, ["wide"])
    url = sim.output_urls("wide")[0]
    sim.set_output_fault(url, "slow", delay=1.0)  # two pieces a second apart
    app = downloads_app(app_factory, sim, folder)
    async with app.run_test(size=WIDE) as pilot:
        notes = record_notes(app)
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
        await pilot.press("w")
        job = job_of(app)
        await pilot.press("escape")
        assert not isinstance(app.screen, DownloadsScreen)
        assert job.ended is None
        await wait_for(pilot, lambda: job.ended == "finished", "the download to end")
        await wait_for(pilot, lambda: any("Saved 1 file" in n.message for n in notes), "toast")
        assert (folder / "wide.png").is_file()


async def test_c_cancels_and_w_resumes_with_range(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    folder = tmp_path / "saved"
    watch_completed(tmp_path, sim, ["square"])
    url = sim.output_urls("square")[0]
    name = url.rpartition("/")[2]
    sim.set_output_fault(url, "slow", delay=1.0, times=1)
    app = downloads_app(app_factory, sim, folder)
    async with app.run_test(size=WIDE) as pilot:
        notes = record_notes(app)
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
        await pilot.press("w")
        job = job_of(app)
        part = folder / "square.png.part"
        await wait_for(pilot, lambda: part.is_file() and part.stat().st_size > 0, "a part")
        await pilot.press("c")
        await wait_for(pilot, lambda: job.ended == "cancelled", "cancelled")
        await wait_for(pilot, lambda: any("cancelled" in n.message for n in notes), "said")
        assert part.is_file() and not (folder / "square.png").exists()
        await pilot.press("escape", "w")
        again = job_of(app)
        await wait_for(pilot, lambda: again.ended == "finished", "the resumed download")
    ranges = [request.range for request in sim.outputs.log if request.name == name]
    assert ranges[0] is None and ranges[-1] is not None and ranges[-1].startswith("bytes=")
    assert inspect(folder / "square.png").width == 320


async def test_d_asks_first_past_ten_tasks(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    names = [f"shot-{number}" for number in range(11)]
    watch_completed(tmp_path, sim, names)
    app = downloads_app(app_factory, sim, tmp_path / "saved")
    async with app.run_test(size=WIDE) as pilot:
        await wait_for(pilot, lambda: all_fetched(app), "every task fetched")
        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert app.main_screen._downloads is None
        await pilot.press("D")
        await pilot.press("y")
        job = job_of(app)
        assert job.tasks == 11
        await wait_for(pilot, lambda: job.ended == "finished", "the download to end")
    assert len(list((tmp_path / "saved").iterdir())) == 11


async def test_o_opens_the_downloaded_file_with_the_platform_opener(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = tmp_path / "opened.txt"
    opened.write_text("")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    opener = bin_dir / "xdg-open"
    opener.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{opened}"\n')
    opener.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setattr("sys.platform", "linux")
    folder = tmp_path / "saved"
    watch_completed(tmp_path, sim, ["wide"])
    app = downloads_app(app_factory, sim, folder)
    async with app.run_test(size=WIDE) as pilot:
        notes = record_notes(app)
        await wait_for(pilot, lambda: all_fetched(app), "fetched")
        await pilot.press("O")
        assert notes[-1].message == "Not downloaded yet: w downloads it."
        await pilot.press("w")
        await wait_for(pilot, lambda: job_of(app).ended == "finished", "downloaded")
        await pilot.press("escape", "O")
        await wait_for(pilot, lambda: bool(opened.read_text()), "the opener to run")
    assert opened.read_text().splitlines() == [str(folder / "wide.png")]


class _JobHost(App[None]):
    def __init__(self, job: DownloadJob) -> None:
        super().__init__()
        self.job = job

    def on_mount(self) -> None:
        self.push_screen(DownloadsScreen(self.job))


async def test_the_bars_follow_the_progress_reported() -> None:
    folder = Path("/downloads")
    items = [
        DownloadItem(f"task-{n}", 0, f"https://h/{n}.png", folder / f"t{n}.png") for n in range(3)
    ]
    job = DownloadJob(items, folder, 3)
    app = _JobHost(job)
    async with app.run_test(size=(120, 36)) as pilot:
        job.on_progress(Progress(items[0], 50_000, 100_000, "running"))
        job.on_progress(Progress(items[1], 2_000, 2_000, "done"))
        job.on_progress(Progress(items[2], 0, None, "failed", "link expired: gone (HTTP 404)."))
        screen = app.screen
        assert isinstance(screen, DownloadsScreen)
        screen.repaint()
        await pilot.pause()
        bars = [screen.query_one(f"#download-bar-{n}", ProgressBar) for n in range(3)]
        assert [bar.percentage for bar in bars] == [0.5, 1.0, 0.0]
        statuses = [
            str(screen.query_one(f"#download-status-{n}", Static).render()) for n in range(3)
        ]
        assert statuses == ["50 KB of 100 KB", "saved, 2 KB", "link expired: gone (HTTP 404)."]
        assert screen.query_one("#download-overall", ProgressBar).percentage == pytest.approx(
            2.5 / 3
        )
        job.finish([])
        screen.repaint()
        summary = str(screen.query_one("#download-summary", Static).render())
        assert summary == "Saved 1 file to /downloads; 1 failed (link expired)."
