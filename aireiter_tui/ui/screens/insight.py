"""The insight screen: credits, durations and failures per model, and throughput, over
the watched tasks (today, the last 7 days, all time; UTC days). The figures are those of
:func:`aireiter_tui.domain.insight.report`, computed when the screen opens and when the
window changes; nothing is fetched for them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import ClassVar, Final

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Sparkline, Static

from aireiter_tui.domain.insight import Report, Window, report
from aireiter_tui.domain.watchlist_codec import WatchEntry
from aireiter_tui.ui.widgets.formatting import format_credits, format_duration, safe

_BARS: Final = "▁▂▃▄▅▆▇█"


def bars(values: Sequence[float]) -> str:
    """A text sparkline of ``values`` (one character each; the highest is a full bar)."""
    top = max(values, default=0.0)
    if top <= 0:
        return "·" * len(values)
    return "".join(
        _BARS[min(len(_BARS) - 1, round(value / top * (len(_BARS) - 1)))] if value > 0 else "·"
        for value in values
    )


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.0f} %"


class InsightScreen(Screen[None]):
    """Figures over the watched tasks; t / w / a switch the window, Esc goes back."""

    DEFAULT_CSS = """
    InsightScreen { layout: vertical; }
    InsightScreen #insight-title { height: 2; padding: 0 1; background: $panel; }
    InsightScreen #insight-models { height: 1fr; min-height: 4; }
    InsightScreen #insight-throughput-label { height: 1; padding: 0 1; }
    InsightScreen #insight-throughput { height: 3; margin: 0 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "window('today')", "Today"),
        Binding("w", "window('7d')", "7 days"),
        Binding("a", "window('all')", "All"),
        Binding("escape,i,q", "app.pop_screen", "Back"),
    ]

    def __init__(self, entries: Sequence[WatchEntry], now: Callable[[], datetime]) -> None:
        super().__init__(id="insight")
        self.entries = list(entries)
        self.now = now
        self.window = Window.TODAY
        self.figures: Report | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="insight-title")
        with Vertical():
            table: DataTable[Text] = DataTable(id="insight-models", cursor_type="row")
            yield table
            yield Static(id="insight-throughput-label")
            yield Sparkline([], id="insight-throughput")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#insight-models", DataTable)
        for label in ("Model", "Tasks", "Credits", "Per day", "Median", "p95", "Failed"):
            table.add_column(label, key=label.lower())
        self.show_window(self.window)
        table.focus()

    def action_window(self, value: str) -> None:
        self.show_window(Window(value))

    def show_window(self, window: Window) -> None:
        """Compute and show the figures of ``window``."""
        self.window = window
        figures = self.figures = report(self.entries, self.now(), window)
        title = Text("Insight", style="bold")
        title.append(f" · {window.words} (UTC days) · ")
        title.append(f"{figures.tasks:,} tasks, {format_credits(figures.credits) or '0'} credits")
        title.append(
            f"\ntoday {format_credits(figures.credits_today) or '0'} credits · this month "
            f"{format_credits(figures.credits_month) or '0'} · t today · w 7 days · a all",
            style="dim",
        )
        self.query_one("#insight-title", Static).update(title)
        table = self.query_one("#insight-models", DataTable)
        table.clear()
        for model in figures.models:
            failed = f"{model.failed:,}"
            if model.failure_rate is not None:
                failed += f" ({_percent(model.failure_rate)})"
            table.add_row(
                safe(model.model, max_length=40),
                Text(f"{model.tasks:,}", justify="right"),
                Text(format_credits(model.credits) or "0", justify="right"),
                Text(bars(model.daily[-14:]), style="cyan"),
                Text(format_duration(model.median) or "-", justify="right"),
                Text(format_duration(model.p95) or "-", justify="right"),
                Text(failed, justify="right"),
            )
        if not figures.models:
            table.add_row(Text("no task in this window", style="dim"), *[Text()] * 6)
        finished = sum(figures.throughput)
        peak = max(figures.throughput, default=0)
        self.query_one("#insight-throughput-label", Static).update(
            Text(f"Finished in the last hour: {finished:,} (peak {peak:,}/min), a bar a minute")
        )
        self.query_one("#insight-throughput", Sparkline).data = [
            float(v) for v in figures.throughput
        ]
