"""The header line: where we are connected, counts per status, credits, refresh state."""

from __future__ import annotations

from typing import Final

from rich.text import Text
from textual.widgets import Static

from aireiter_tui.domain.insight import Summary
from aireiter_tui.domain.models import TaskStatus
from aireiter_tui.domain.poll_gate import SchedulerState
from aireiter_tui.domain.session import Counts
from aireiter_tui.ui.widgets.formatting import (
    GONE_STYLE,
    GONE_SYMBOL,
    GONE_WORD,
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


def _first_that_fits(candidates: list[Text], width: int | None) -> Text:
    """The first of ``candidates`` (fullest first) that fits ``width`` cells (None: any
    width), else the last: parts are dropped whole, never cut in the middle."""
    for candidate in candidates:
        if width is None or candidate.cell_len <= width:
            return candidate
    return candidates[-1]


def _join(parts: list[Text]) -> Text:
    line = Text()
    for part in parts:
        line.append_text(part)
    return line


def state_line(
    *,
    where: str,
    credits: float,
    state: SchedulerState | None,
    mode: str,
    width: int | None = None,
) -> Text:
    """The first line: connection, refresh state, credits used. When it does not fit
    ``width``, parts go whole, least useful first (the queries in flight, the program's
    name; shorter words for the credits and the next refresh; the server, the next
    refresh, the reason the banner gives in full): the state and the credits stay."""
    # Any other mode is words said as they are (reading the watchlist: "reading 1,000 of
    # 9,000…"), a state on its way to one of the above.
    symbol, style, words = _MODES.get(mode, ("…", "dim", mode))
    name = Text("aireiter-tui ", style="bold")
    server = safe(where, max_length=60, style="dim")
    server.append("  ")
    status = Text(f"{symbol} {words}", style=style)
    next_long = next_short = in_flight = reason = Text()
    if state is not None and mode in ("live", "idle", "offline", "rate-limited"):
        if state.next_poll_in is not None and mode != "idle":
            wait = format_duration(state.next_poll_in)
            next_long = Text(f"  · next refresh in {wait}")
            next_short = Text(f"  · next in {wait}")
        # Sent and waiting apart: of 2,706 due tasks only the poller's workers' worth
        # of queries are on the wire, the rest wait their turn.
        if state.in_flight or state.queued:
            queued = f", {state.queued:,} queued" if state.queued else ""
            in_flight = Text(f" · {state.in_flight:,} in flight{queued}", style="dim")
    # Only the scheduler's troubles name a reason here (the banner has it in full); a
    # user pause needs none, and without a client the banner says why.
    if state is not None and state.reason and mode in _EXPLAINED:
        reason = Text(" · ").append_text(safe(state.reason, max_length=120))
    total = format_credits(credits) or "0"
    credits_long = Text(f"  {total} credits used", style="bold")
    credits_short = Text(f"  {total} credits", style="bold")
    # Each step gives up one more thing than the one before.
    steps = [
        [name, server, status, next_long, in_flight, reason, credits_long],
        [name, server, status, next_long, reason, credits_long],
        [server, status, next_long, reason, credits_long],
        [server, status, next_long, reason, credits_short],
        [server, status, next_short, reason, credits_short],
        [status, next_short, reason, credits_short],
        [status, reason, credits_short],
        [status, credits_short],
    ]
    return _first_that_fits([_join(parts) for parts in steps], width)


#: When the counts do not fit, these words go first (one at a time, until they fit): the
#: symbols stay, and the counts that call for action keep their words longest.
_WORDS_DROPPED: Final = (
    "unknown",
    "new",
    "pending",
    "completed",
    "processing",
    GONE_WORD,  # a rare symbol nobody knows yet: its word stays longer
    "failed",
    "errors",
)


def counts_line(counts: Counts, width: int | None = None, *, zeros: bool = True) -> Text:
    """The second line: how many tasks are in each status. When it does not fit
    ``width``, the statuses no task is in go first, then the words, least needed first
    (:data:`_WORDS_DROPPED`; the symbols stay, the help screen explains them).
    ``zeros=False``: the statuses no task is in are left out whatever the room."""

    def line(*, zeros: bool, wordless: frozenset[str]) -> Text:
        text = Text(f"{counts.total:,} watched", style="bold")

        def part(symbol: str, count: int, word: str, style: str, kind: str) -> None:
            if count or zeros:
                text.append("  ")
                shown = "" if kind in wordless else f" {word}"
                text.append(f"{symbol} {count:,}{shown}", style=style)

        for status in TaskStatus:
            count = counts.by_status.get(status, 0)
            if status is not TaskStatus.UNKNOWN or count:
                symbol, style = STATUS_SYMBOLS[status], STATUS_STYLES[status]
                part(symbol, count, status.value, style, status.value)
        if counts.gone:
            part(GONE_SYMBOL, counts.gone, GONE_WORD, GONE_STYLE, GONE_WORD)
        if counts.unfetched:
            part("…", counts.unfetched, "new", "dim", "new")
        noun = "error" if counts.errors == 1 else "errors"
        style = STALE_STYLE if counts.errors else "dim"
        part(STALE_SYMBOL, counts.errors, noun, style, "errors")
        return text

    candidates = [line(zeros=True, wordless=frozenset())] if zeros else []
    for dropped in range(len(_WORDS_DROPPED) + 1):
        candidates.append(line(zeros=False, wordless=frozenset(_WORDS_DROPPED[:dropped])))
    return _first_that_fits(candidates, width)


def insight_parts(summary: Summary | None) -> list[Text]:
    """The figures after the counts, the most wanted first: when the last active task is
    expected to finish, the budget's share, the queries of the last minute (and 429s)."""
    if summary is None:
        return []
    parts = []
    outlook = summary.outlook
    if outlook.active:
        if outlook.seconds is None:
            parts.append(Text(f"  no ETA for {outlook.active:,} active", style="dim"))
        else:
            wait = format_duration(outlook.seconds)
            parts.append(Text(f"  ≈ {wait} for {outlook.active:,} active", style="cyan"))
    for share in summary.shares:
        style = "bold red" if share.level >= 100 else "bold yellow" if share.level else ""
        when = "today" if share.period == "day" else "this month"
        parts.append(Text(f"  budget {share.percent:.0f} % {when}", style=style))
    if summary.sent is not None:
        rate = Text(f"  {summary.sent:,} req/min", style="dim")
        if summary.limited:
            rate.append(f", {summary.limited:,} HTTP 429", style="bold yellow")
        parts.append(rate)
    return parts


def marked_part(marked: int, hidden: int = 0) -> Text:
    """``✓ 3 marked (1 hidden)`` before the counts while rows are marked (``hidden``: by
    the filter, so a bulk action leaves them alone); empty when none is."""
    if not marked:
        return Text()
    words = f"✓ {marked:,} marked" + (f" ({hidden:,} hidden)" if hidden else "")
    # The style on the words alone: a Text's own style would cover what is appended to it.
    part = Text()
    part.append(words, style="bold reverse")
    part.append("  ")
    return part


def second_line(
    counts: Counts, summary: Summary | None, width: int | None, *, marked: Text | None = None
) -> Text:
    """The marks (``marked``: :func:`marked_part`), the counts, then the
    :func:`insight_parts` that fit, most wanted first.

    The marks always show. The counts keep their words before any insight part is shown
    (the words are what a newcomer reads; the ETA and the rates are extras): only the
    statuses no task is in give way to the parts, and a part that does not fit leaves
    room for a later one.
    """
    parts = insight_parts(summary)
    marks = marked or Text()
    everything = _join([marks, counts_line(counts), *parts])
    if width is None or everything.cell_len <= width:
        return everything
    line = marks + counts_line(counts, max(0, width - marks.cell_len), zeros=False)
    for part in parts:
        if line.cell_len + part.cell_len <= width:
            line.append_text(part)
    return line


class StatusBar(Static):
    """Two lines: the connection and refresh state, then the per-status counts.

    Lines never wrap (CSS): a wrapped first line would push the counts out of the bar.
    Each line is made to fit the bar's width by leaving parts out whole
    (:func:`state_line`, :func:`counts_line`), so nothing is cut mid-word.
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
    _given: tuple[str, Counts, SchedulerState | None, str, Summary | None, int, int] | None = None

    def show(
        self,
        *,
        where: str,
        counts: Counts,
        state: SchedulerState | None,
        mode: str,
        summary: Summary | None = None,
        marked: int = 0,
        hidden: int = 0,
    ) -> None:
        """Render the bar. ``mode`` overrides ``state.mode`` (e.g. ``no-key``);
        ``summary``: the ETA, budget and request figures after the counts; ``marked``:
        how many rows are marked, ``hidden`` of them by the filter."""
        self._given = (where, counts, state, mode, summary, marked, hidden)
        # Not laid out yet (width 0): everything, the next call fits it.
        width = self.content_region.width or None
        line = state_line(where=where, credits=counts.credits, state=state, mode=mode, width=width)
        line.append("\n")
        line.append_text(second_line(counts, summary, width, marked=marked_part(marked, hidden)))
        if line != self._shown:
            self._shown = line
            # Two lines tall and as wide as the screen whatever they say: no layout pass.
            self.update(line, layout=False)

    def on_resize(self) -> None:
        # Fitted to the old width: fit it to the new one now, not at the next tick.
        if self._given is not None:
            where, counts, state, mode, summary, marked, hidden = self._given
            self.show(
                where=where,
                counts=counts,
                state=state,
                mode=mode,
                summary=summary,
                marked=marked,
                hidden=hidden,
            )
