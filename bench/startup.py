"""Process start to first painted frame, and peak RSS, in fresh interpreters.

The parent reads ``time.monotonic()`` just before starting the child; the child runs
the app headless (every frame encoded as for a terminal, see :mod:`bench.painting`)
and writes ``time.monotonic()`` (the same system-wide clock) at the first frame that
shows tasks and at the first frame after every task was read (the app reads a long
list in parts, painting the first at once), and its peak RSS, to a file, then exits.
The baseline is a bare Textual app (Header, an empty DataTable with the same columns,
Footer) timed the same way. Run as ``python -m bench.startup {app|bare} WATCHLIST OUT``
from the repository.
"""

from __future__ import annotations

import compileall
import functools
import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import RenderableType
from textual._compositor import CompositorUpdate
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header

from bench.report import Figure, Target, secs

SIZE = (160, 48)
ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def byte_compiled() -> None:
    """Compile the app's modules to byte code once, before the first fresh interpreter
    is timed: as an installed package has them, and as Python caches them after a first
    start. (Where ``PYTHONDONTWRITEBYTECODE`` is set, as in some sandboxes, every child
    compiled each module changed since, 30-60 ms of its start-up.)"""
    compileall.compile_dir(ROOT / "aireiter_tui", quiet=1)


def _peak_rss_kb() -> int:
    """This process's peak RSS.

    ``getrusage().ru_maxrss`` is not used on Linux: it survives ``exec`` and so counts
    the pages the child shared with the (large) benchmark process it was forked from.
    ``VmHWM`` is the high-water mark of the exec'd image alone.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _stamp(app: App[Any], renderable: RenderableType | None) -> float:
    """Encode the frame as for a terminal, then read the clock."""
    if isinstance(renderable, CompositorUpdate):
        renderable.render_segments(app.console)
    return time.monotonic()


def _report(out: Path, first: float, complete: float) -> None:
    record = {"first": first, "complete": complete, "rss_kb": _peak_rss_kb()}
    out.write_text(json.dumps(record), encoding="utf-8")


class _Bare(App[None]):
    def __init__(self, out: Path) -> None:
        super().__init__()
        self.out = out
        self.done = False

    def compose(self) -> ComposeResult:
        from aireiter_tui.ui.widgets.cells import COLUMNS

        yield Header()
        table: DataTable[str] = DataTable()
        for column in COLUMNS:
            table.add_column(column.label, width=column.width or None, key=column.key)
        yield table
        yield Footer()

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        super()._display(screen, renderable)
        if renderable is not None and not self.done:
            painted = _stamp(self, renderable)
            _report(self.out, painted, painted)
            self.done = True
            self.exit()


def _run_child(kind: str, watchlist: Path, out: Path) -> None:
    if kind == "bare":
        _Bare(out).run(headless=True, size=SIZE)
        return
    from aireiter_tui.backend import Backend
    from aireiter_tui.domain.config import Settings
    from aireiter_tui.domain.watchlist import WatchlistStore
    from aireiter_tui.ui.app import AIReiterApp
    from aireiter_tui.ui.widgets.task_table import TaskTable
    from bench.painting import APP_CSS

    class FirstFrame(AIReiterApp):
        CSS_PATH = APP_CSS
        first = 0.0
        reported = False

        def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
            super()._display(screen, renderable)
            if renderable is None or self.reported:
                return
            tables = self.query(TaskTable)
            if not tables or not tables.first().row_count:
                return
            painted = _stamp(self, renderable)
            self.first = self.first or painted  # the first frame showing tasks
            if self.monitor.loaded:  # the first frame with every task read
                _report(out, self.first, painted)
                self.reported = True
                self.exit()

    FirstFrame(Backend(Settings(), WatchlistStore(watchlist))).run(headless=True, size=SIZE)


@dataclass(frozen=True, slots=True)
class Start:
    first: float
    """Process start to the first frame showing tasks (the first part of a long list)."""
    complete: float
    """... to the first frame after every task was read."""
    rss_mb: float


def measure(kind: str, watchlist: Path, folder: Path) -> Start:
    """Start one child and return its start-to-frame times and peak RSS."""
    out = folder / f"first-frame-{kind}.json"
    out.unlink(missing_ok=True)
    byte_compiled()
    command = [sys.executable, "-m", "bench.startup", kind, str(watchlist), str(out)]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    if done.returncode or not out.exists():
        raise RuntimeError(f"startup child {kind} failed:\n{done.stderr[-2000:]}")
    record = json.loads(out.read_text(encoding="utf-8"))
    return Start(record["first"] - started, record["complete"] - started, record["rss_kb"] / 1024)


def interpreter_start() -> float:
    """A bare ``python -c pass`` (the floor under both figures)."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.monotonic() - started


def figures(repeats: int, path: Path, rows: int, folder: Path) -> list[Figure]:
    """The start-up and memory figures: ``repeats`` runs of each app, interleaved."""
    size = f"{rows:,}"
    apps, bares = [], []
    for _ in range(repeats):  # interleaved, so machine noise hits both alike
        apps.append(measure("app", path, folder))
        bares.append(measure("bare", path, folder))
    path.with_name(path.name + ".db").unlink()
    cold = measure("app", path, folder)
    rss = max(s.rss_mb for s in [*apps, cold])
    firsts = [s.first for s in apps]
    completes = [s.complete for s in apps]
    # (each app run over the bare run beside it: the pair saw the same machine)
    over_bare = [app.first / bare.first for app, bare in zip(apps, bares, strict=True)]
    read_over_bare = [app.complete / bare.first for app, bare in zip(apps, bares, strict=True)]

    def times(value: float) -> str:
        return f"{value:.2f}x"

    return [
        Figure.judged("start-up", "process start -> first frame showing tasks", size, firsts, secs),
        Figure.judged(
            "start-up",
            "process start -> first frame with all tasks read",
            size,
            completes,
            secs,
            Target(0.6, "< 0.6 s"),  # (issue 20; it was < 1 s)
        ),
        Figure.judged(
            "start-up",
            "bare Textual app (Header, DataTable, Footer), same way",
            "-",
            [s.first for s in bares],
            secs,
        ),
        Figure.judged(
            "start-up",
            "  first frame / bare app",
            size,
            over_bare,
            times,
            Target(1.5, "<= 1.5x", inclusive=True),
        ),
        Figure.judged("start-up", "  all tasks read / bare app", size, read_over_bare, times),
        Figure(
            "start-up",
            "without the cache (IDs only, queried again; 1 run)",
            size,
            secs(cold.complete),
        ),
        Figure("start-up", "python -c pass (floor)", "-", secs(interpreter_start())),
        Figure(
            "memory",
            "peak RSS with every task read (VmHWM; max of all runs)",
            size,
            f"{rss:.0f} MB",
            "< 300 MB",
            rss < 300,
        ),
    ]


if __name__ == "__main__":
    _run_child(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
