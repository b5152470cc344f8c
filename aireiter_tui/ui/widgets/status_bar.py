"""The header line: where we are connected, counts per status, credits, refresh state."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from aireiter_tui.domain.models import TaskStatus
from aireiter_tui.domain.poll_gate import SchedulerState
from aireiter_tui.domain.session import Counts
from aireiter_tui.ui.widgets.formatting import (
    STALE_STYLE,
    STALE_SYMBOL,
    STATUS_STYLES,
    STATUS_SYMBOLS,
    format_credits,
    format_duration,
    safe,
)

#: Per mode: symbol, style, and the words shown.
_MODES = {
    "live": ("●", "bold green", "live"),
    "idle": ("●", "green", "live, nothing to poll"),
    "paused": ("⏸", "bold yellow", "paused"),
    "rate-limited": ("⏳", "bold yellow", "rate limited"),
    "offline": ("✖", "bold red", "offline"),
    "auth-blocked": ("✖", "bold red", "key refused"),
    "no-key": ("✖", "bold red", "no API key"),
    "not-connected": ("✖", "bold red", "not connected"),
    "connecting": ("…", "dim", "connecting"),
}


_EXPLAINED = ("offline", "rate-limited", "auth-blocked")


class StatusBar(Static):
    """Two lines: the connection and refresh state, then the per-status counts.

    Lines never wrap (CSS): a wrapped first line would push the counts out of the bar.
    """

    DEFAULT_CSS = """
    StatusBar {
        height: 2;
        background: $panel;
        color: $text;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    _shown: Text | None = None

    def show(self, *, where: str, counts: Counts, state: SchedulerState | None, mode: str) -> None:
        """Render the bar. ``mode`` overrides ``state.mode`` (e.g. ``no-key``)."""
        symbol, style, words = _MODES.get(mode, ("●", "dim", mode))
        line = Text()
        line.append("aireiter-tui ", style="bold")
        line.append_text(safe(where, max_length=60, style="dim"))
        line.append("  ")
        line.append(f"{symbol} {words}", style=style)
        if state is not None and mode in ("live", "idle", "offline", "rate-limited"):
            if state.next_poll_in is not None and mode != "idle":
                line.append(f"  · next refresh in {format_duration(state.next_poll_in)}")
            # Sent and waiting apart: of 2,706 due tasks only the poller's workers' worth
            # of queries are on the wire, the rest wait their turn.
            if state.in_flight or state.queued:
                queued = f", {state.queued:,} queued" if state.queued else ""
                line.append(f" · {state.in_flight:,} in flight{queued}", style="dim")
        # Only the scheduler's troubles name a reason here (the banner has it in full); a
        # user pause needs none, and without a client the banner says why.
        if state is not None and state.reason and mode in _EXPLAINED:
            line.append(" · ")
            line.append_text(safe(state.reason, max_length=120))
        line.append(f"  {format_credits(counts.credits) or '0'} credits used", style="bold")
        line.append("\n")
        # Below ~110 columns the words go and the symbols (explained on the help screen) stay.
        wide = self.size.width >= 110 or self.size.width == 0
        line.append(f"{counts.total:,} watched  ", style="bold")
        for status in TaskStatus:
            count = counts.by_status.get(status, 0)
            if status is TaskStatus.UNKNOWN and not count:
                continue
            word = f" {status.value}" if wide else ""
            line.append(f"{STATUS_SYMBOLS[status]} {count:,}{word}  ", STATUS_STYLES[status])
        if counts.unfetched:
            line.append(f"… {counts.unfetched:,}{' new' if wide else ''}  ", style="dim")
        noun = " error" if counts.errors == 1 else " errors"
        errors = f"{STALE_SYMBOL} {counts.errors:,}{noun if wide else ''}"
        line.append(errors, STALE_STYLE if counts.errors else "dim")
        if line != self._shown:
            self._shown = line
            # Two lines tall and as wide as the screen whatever they say: no layout pass.
            self.update(line, layout=False)
