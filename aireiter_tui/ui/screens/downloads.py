"""Downloads: a progress bar per file and one overall, over a run of the downloader.

The run belongs to the main screen (it goes on when this dialog is hidden); the dialog
only reads the :class:`DownloadJob` it is given, a few times a second, so a stream of
progress calls (one per chunk, per file) costs a dictionary update each, not a repaint.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Final

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import ProgressBar, Static

from aireiter_tui.domain.media_info import human_size
from aireiter_tui.ui.screens.dialog import DialogScreen
from aireiter_tui.ui.widgets.formatting import STALE_STYLE, safe

if TYPE_CHECKING:
    from aireiter_tui.domain.download_names import DownloadItem
    from aireiter_tui.domain.downloads import Progress
    from aireiter_tui.domain.session import Row

#: Seconds between two repaints of the dialog while files stream in.
REPAINT_INTERVAL: Final = 0.1
#: Files given a row (and a bar) of their own; the rest count in the overall bar only.
MAX_ROWS: Final = 100
_FINISHED: Final = frozenset({"done", "skipped", "failed"})
_NAME_WIDTH: Final = 34
#: Seconds the platform's opener may take to hand a file over (xdg-open returns at once).
OPENER_TIMEOUT: Final = 30.0


class DownloadJob:
    """One run of the downloader: each file's latest progress, and how it ended.

    ``on_progress`` is the downloader's callback; ``finish`` and ``cancel`` are called by
    the main screen's worker, which sets ``stop`` to cancel itself.
    """

    def __init__(self, items: Sequence[DownloadItem], folder: Path, tasks: int) -> None:
        self.items = tuple(items)
        self.folder = folder
        self.tasks = tasks
        """How many tasks the files come from."""
        self.progress: dict[tuple[str, int], Progress] = {}
        self.changes = 0
        """Counts progress calls: the dialog repaints only when it moved."""
        self.ended: str | None = None
        """``None`` while running, then ``"finished"`` or ``"cancelled"``."""
        self.stop: Callable[[], object] = lambda: None

    def on_progress(self, progress: Progress) -> None:
        self.progress[progress.item.task_id, progress.item.index] = progress
        self.changes += 1

    def finish(self, final: Sequence[Progress]) -> None:
        for progress in final:
            self.on_progress(progress)
        self.ended = "finished"
        self.changes += 1

    def interrupted(self) -> None:
        """The run stopped before its end (cancelled, or the app quits)."""
        if self.ended is None:
            self.ended = "cancelled"
            self.changes += 1

    def cancel(self) -> None:
        """Stop the run (the dialog's ``c``)."""
        if self.ended is None:
            self.interrupted()
            self.stop()

    def of(self, item: DownloadItem) -> Progress | None:
        return self.progress.get((item.task_id, item.index))

    def count(self, *states: str) -> int:
        return sum(1 for progress in self.progress.values() if progress.state in states)

    @property
    def overall(self) -> float:
        """Files done, plus the share received of each file under way."""
        done = 0.0
        for progress in self.progress.values():
            if progress.state in _FINISHED:
                done += 1
            elif progress.total:
                done += min(progress.received / progress.total, 1.0)
        return done

    @property
    def received(self) -> int:
        return sum(progress.received for progress in self.progress.values())

    def saved(self) -> list[Path]:
        """The files in the folder now (downloaded or already there), in order."""
        found = []
        for item in self.items:
            progress = self.of(item)
            if progress is not None and progress.state in ("done", "skipped"):
                found.append(progress.item.target)
        return found

    def summary(self) -> str:
        """``Saved 3 files to ~/Downloads/aireiter; 1 failed (link expired).``"""
        saved = self.count("done")
        there = self.count("skipped")
        failed = [p for p in self.progress.values() if p.state == "failed"]
        words = _files(saved)
        head = f"Saved {words} to {self.folder}" if saved else f"Nothing new saved to {self.folder}"
        parts = [head]
        if there:
            parts.append(f"{_files(there)} already there")
        if failed:
            reasons = sorted({p.reason.partition(":")[0] for p in failed if p.reason})
            why = f" ({', '.join(reasons[:3])})" if reasons else ""
            parts.append(f"{len(failed)} failed{why}")
        if self.ended == "cancelled":
            left = len(self.items) - saved - there - len(failed)
            parts.append(f"cancelled with {_files(left)} left (w again resumes them)")
        return "; ".join(parts) + "."


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


def _status(progress: Progress | None) -> Text:
    """What one file's row says beside its bar."""
    if progress is None or progress.state == "queued":
        return Text("queued", style="dim")
    if progress.state == "failed":
        return Text(progress.reason or "failed", style=STALE_STYLE)
    if progress.state == "skipped":
        return Text(f"already there, {human_size(progress.received)}", style="dim")
    if progress.state == "done":
        return Text(f"saved, {human_size(progress.received)}")
    if progress.total:
        return Text(f"{human_size(progress.received)} of {human_size(progress.total)}")
    return Text(human_size(progress.received))


class DownloadsScreen(DialogScreen[None]):
    """The files of a download, each with its bar, and the whole; ``Esc`` hides the
    dialog (the download goes on), ``c`` cancels it (``.part`` files stay, to resume)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "hide", "Hide", id="downloads.hide", tooltip="The download goes on"),
        Binding(
            "c", "cancel_download", "Cancel", id="downloads.cancel", tooltip="Stop downloading"
        ),
    ]

    DEFAULT_CSS = """
    DownloadsScreen {
        & > #dialog {
            width: 100;
        }
        & #download-folder {
            color: $text-muted;
            height: auto;
        }
        & #download-files {
            height: auto;
            max-height: 16;
            margin: 1 0;
        }
        & .download-row {
            height: auto;
        }
        & .download-name {
            width: 34;
        }
        & .download-status {
            width: 1fr;
            height: auto;
            margin-left: 1;
        }
        & #download-overall-row {
            height: 1;
            margin-bottom: 1;
        }
        & #download-overall-label {
            width: 34;
            text-style: bold;
        }
        & #download-summary {
            height: auto;
            display: none;
        }
        & #download-summary.-shown {
            display: block;
        }
    }
    """

    def __init__(self, job: DownloadJob) -> None:
        super().__init__()
        self.job = job
        self._shown_changes = -1
        self._rows = job.items[:MAX_ROWS]

    def compose(self) -> ComposeResult:
        job = self.job
        with Vertical(id="dialog") as dialog:
            tasks = "1 task" if job.tasks == 1 else f"{job.tasks} tasks"
            dialog.border_title = f"Downloading the outputs of {tasks}"
            folder = Text("Into ")
            folder.append_text(safe(str(job.folder), max_length=300))
            yield Static(folder, id="download-folder", markup=False)
            with VerticalScroll(id="download-files"):
                for number, item in enumerate(self._rows):
                    with Horizontal(classes="download-row"):
                        name = safe(item.target.name, max_length=200)
                        name.truncate(_NAME_WIDTH, overflow="ellipsis")
                        yield Static(name, classes="download-name", markup=False)
                        yield ProgressBar(total=1, show_eta=False, id=f"download-bar-{number}")
                        yield Static("", id=f"download-status-{number}", classes="download-status")
                hidden = len(job.items) - len(self._rows)
                if hidden > 0:
                    yield Static(f"… and {_files(hidden)} more, in the overall bar", markup=False)
            with Horizontal(id="download-overall-row"):
                yield Static("Overall", id="download-overall-label", markup=False)
                yield ProgressBar(
                    total=max(len(job.items), 1), show_eta=False, id="download-overall"
                )
                yield Static("", id="download-overall-status", classes="download-status")
            yield Static("", id="download-summary", markup=False)
            yield Static("", id="hint", markup=False)

    def on_mount(self) -> None:
        self.repaint()
        self.set_interval(REPAINT_INTERVAL, self.repaint)

    def repaint(self) -> None:
        """Show the job as it stands, if it moved since the last repaint."""
        job = self.job
        if job.changes == self._shown_changes:
            return
        self._shown_changes = job.changes
        for number, item in enumerate(self._rows):
            progress = job.of(item)
            bar = self.query_one(f"#download-bar-{number}", ProgressBar)
            if progress is not None and progress.state in ("done", "skipped"):
                bar.update(total=max(progress.received, 1), progress=max(progress.received, 1))
            elif progress is not None and progress.total:
                bar.update(total=progress.total, progress=progress.received)
            elif progress is not None and progress.state == "running":
                bar.update(total=None)  # the size is not known: the bar pulses
            elif progress is not None and progress.state == "failed":
                bar.update(total=1, progress=0)
            self.query_one(f"#download-status-{number}", Static).update(_status(progress))
        overall = self.query_one("#download-overall", ProgressBar)
        overall.update(progress=job.overall)
        finished = job.count(*_FINISHED)
        said = f"{finished} of {_files(len(job.items))}, {human_size(job.received)}"
        self.query_one("#download-overall-status", Static).update(said)
        summary = self.query_one("#download-summary", Static)
        if job.ended is not None:
            summary.update(Text(job.summary(), style="bold"))
            summary.add_class("-shown")
            hint = "Esc closes"
        else:
            hint = "Esc hides this (the download goes on) · c cancels it"
        self.query_one("#hint", Static).update(hint)

    def action_hide(self) -> None:
        self.dismiss(None)

    def action_cancel_download(self) -> None:
        if self.job.ended is None:
            self.job.cancel()
            self.repaint()


#: ``D`` asks before downloading the outputs of more tasks than this.
CONFIRM_OVER: Final = 10


def job_for(rows: Sequence[Row], folder: Path) -> DownloadJob | None:
    """A download of the outputs of ``rows`` into ``folder`` (named by each row's ID), or
    ``None`` when none of them has an output."""
    from aireiter_tui.domain.download_names import plan

    pairs = [
        (row.ref.id, [output.url for output in row.task.outputs])
        for row in rows
        if row.task is not None and row.task.outputs
    ]
    if not pairs:
        return None
    return DownloadJob(plan(pairs, folder), folder, len(pairs))


def open_with_system(path: Path) -> str | None:
    """Open ``path`` with the platform's opener (``xdg-open``, ``open``, the Windows
    shell); return why not, or ``None``. Blocks while the opener runs: call it on a
    thread. No shell: the path is one argument."""
    if sys.platform == "win32":
        try:
            os.startfile(path)  # type: ignore[attr-defined]
        except OSError as error:
            return f"Windows could not open it ({error.strerror or error})"
        return None
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    found = shutil.which(opener)
    if found is None:
        return f"no {opener} program was found"
    try:
        done = subprocess.run(
            [found, str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=OPENER_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{opener} failed ({type(error).__name__})"
    return None if done.returncode == 0 else f"{opener} failed (exit status {done.returncode})"
