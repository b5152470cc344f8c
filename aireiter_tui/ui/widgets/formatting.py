"""Turn domain values into short, safe, styled text for cells and panes.

Everything here returns ``rich.text.Text`` built from :func:`~aireiter_tui.domain.sanitize.clean`
output, so no string from the network is ever parsed as markup or reaches the terminal raw.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Final

from rich.cells import cell_len
from rich.highlighter import Highlighter
from rich.text import Text

from aireiter_tui.domain.errors import AIReiterError
from aireiter_tui.domain.models import TaskStatus
from aireiter_tui.domain.sanitize import clean, escape_spans, visible

#: Symbol and theme-independent style per status. The symbol carries the meaning on its
#: own, so the table still reads on a monochrome terminal or for colour-blind users.
STATUS_SYMBOLS: Final[dict[TaskStatus, str]] = {
    TaskStatus.PENDING: "◌",
    TaskStatus.PROCESSING: "◐",
    TaskStatus.COMPLETED: "✔",
    TaskStatus.FAILED: "✖",
    TaskStatus.UNKNOWN: "?",
}
STATUS_STYLES: Final[dict[TaskStatus, str]] = {
    TaskStatus.PENDING: "yellow",
    TaskStatus.PROCESSING: "bold cyan",
    TaskStatus.COMPLETED: "green",
    TaskStatus.FAILED: "bold red",
    TaskStatus.UNKNOWN: "magenta",
}
#: A task the server answered for before and now does not know (see ``models.forgotten``).
GONE_SYMBOL: Final = "⊘"
GONE_WORD: Final = "gone"
GONE_STYLE: Final = "bold magenta"
#: Shown after the status when the last refresh failed: the status is the last one known.
STALE_SYMBOL: Final = "⚠"
STALE_STYLE: Final = "bold yellow"
NEVER_FETCHED: Final = "…"
#: How placeholders and escapes for characters that cannot be shown as they are stand out.
PLACEHOLDER_STYLE: Final = "bold reverse"


def safe(text: object, *, max_length: int | None = None, style: str = "") -> Text:
    """A single-line ``Text`` of any value, control characters made visible."""
    return Text(clean(str(text), max_length=max_length, single_line=True), style=style)


def safe_visible(text: object, *, max_length: int | None = None, style: str = "") -> Text:
    """A single-line ``Text`` of a value that names something exactly (a status, an ID, a
    model, a URL): invisible characters are written as highlighted ``⟨U+200B⟩`` escapes,
    so a lookalike reads differently from the real value."""
    shown = visible(str(text), max_length=max_length)
    result = Text(shown, style=style)
    for start, end in escape_spans(shown):
        result.stylize(PLACEHOLDER_STYLE, start, end)
    return result


def safe_block(text: object, *, style: str = "") -> Text:
    """A multi-line ``Text`` (newlines kept) of any value."""
    return Text(clean(str(text)), style=style)


def _middle_cut(text: str, width: int) -> tuple[int, int] | None:
    """Where :func:`shorten_middle` cuts ``text``: the characters before ``head`` and from
    ``tail`` on are kept (``None``: it fits whole). ``width`` must be at least 2."""
    if cell_len(text) <= width:
        return None
    room = width - 1
    head_room = (room + 1) // 2
    head = used = 0
    for char in text:
        if used + cell_len(char) > head_room:
            break
        head += 1
        used += cell_len(char)
    tail = len(text)
    tail_room = room - used
    used = 0
    while tail > head and used + cell_len(text[tail - 1]) <= tail_room:
        tail -= 1
        used += cell_len(text[tail])
    return head, tail


def shorten_middle(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, cut in the middle (``order_lwU2…CCmrdYu``).

    Task IDs differ at both ends (a shared prefix, a unique tail), so an ID cut at the
    end would hide what tells two apart."""
    if width <= 1:
        return text if cell_len(text) <= width else "…"[:width]
    cut = _middle_cut(text, width)
    if cut is None:
        return text
    head, tail = cut
    return text[:head] + "…" + text[tail:]


def shorten_middle_text(text: Text, width: int) -> Text:
    """:func:`shorten_middle` for styled text: the kept ends keep their styles (italic
    out_task_ids, highlighted ``⟨U+200B⟩`` escapes), and when the cut takes away any part
    of an escape the ellipsis is highlighted too, so an ID with an invisible character
    never reads like one without."""
    plain = text.plain
    if width <= 1:
        return text.copy() if cell_len(plain) <= width else Text("…"[:width])
    cut = _middle_cut(plain, width)
    if cut is None:
        return text.copy()
    head, tail = cut
    hidden = any(start < tail and end > head for start, end in escape_spans(plain))
    result = text[:head]
    result.append("…", style=PLACEHOLDER_STYLE if hidden else "")
    result.append_text(text[tail:])
    result.style = text.style
    return result


def status_text(
    status: TaskStatus | None, raw_label: str | None, *, stale: bool = False, gone: bool = False
) -> Text:
    """The status cell: symbol + word, coloured; a stale marker if the last refresh failed.

    ``gone``: the server no longer knows the task (it answered for it before): shown as
    its own state instead of the last status, which would claim it still runs."""
    if gone:
        return Text(f"{GONE_SYMBOL} {GONE_WORD}", style=GONE_STYLE)
    if status is None:
        text = Text(f"{NEVER_FETCHED} not fetched", style="dim")
    else:
        label = raw_label if status is TaskStatus.UNKNOWN and raw_label else status.value
        text = Text(f"{STATUS_SYMBOLS[status]} ", style=STATUS_STYLES[status])
        # An unknown status is shown exactly: "completed" + a zero-width space must not
        # read as "completed" (it is not one, and is never treated as finished).
        text.append_text(safe_visible(label, max_length=18, style=STATUS_STYLES[status]))
    if stale:
        text.append(f" {STALE_SYMBOL}", style=STALE_STYLE)
    return text


def unanswered_status(error: AIReiterError | None) -> Text:
    """The status of a task never answered: why its last refresh failed (``⚠ not
    found``), or not fetched yet."""
    if error is None:
        return status_text(None, None)
    return Text(f"{STALE_SYMBOL} {error.label}", style=STALE_STYLE)


def format_duration(delta: timedelta | float | None) -> str:
    """Compact duration: ``42s``, ``3m05s``, ``2h07m``, ``3d04h``."""
    if delta is None:
        return ""
    seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
    if seconds < 0:
        return "0s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def format_when(moment: datetime | None, now: datetime) -> str:
    """Local wall time today (``14:03:07``), else the day (``Dec 18``) or month."""
    if moment is None:
        return ""
    local = moment.astimezone(now.tzinfo)
    if local.date() == now.date():
        return local.strftime("%H:%M:%S")
    if local.year == now.year:
        return local.strftime("%b %d")
    return local.strftime("%Y-%m")


def format_timestamp(moment: datetime | None, now: datetime) -> str:
    """Full local date and time with the zone, for the detail pane."""
    if moment is None:
        return ""
    return moment.astimezone(now.tzinfo).strftime("%Y-%m-%d %H:%M:%S %Z").rstrip()


def format_ago(moment: datetime | None, now: datetime) -> str:
    """``12s ago``; empty for never."""
    if moment is None:
        return ""
    return f"{format_duration(now - moment)} ago"


def format_age(moment: datetime | None, now: datetime) -> str:
    """How long ago, in its largest unit only: ``12s ago``, ``11m ago``, ``3h ago``,
    ``2d ago``, ``3y ago``; at most 9 cells (the table's Checked column) at any age.
    Empty for never. Where precision matters (the detail pane) use :func:`format_ago`."""
    if moment is None:
        return ""
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("y", 365 * 86_400), ("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def format_credits(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


# Control characters as the editors (filter, label and add inputs) draw them: tabs are the
# editor's business, everything else is shown. Lone surrogates too (as U+FFFD): the
# terminal stream writes one as the six characters "\ud800", shifting the line.
_DISPLAY_CONTROL_RE: Final = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _placeholder(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # ␛ for ESC, ␇ for BEL
    return "\u2421" if code == 0x7F else "\ufffd"


def visible_controls(raw: str) -> Text:
    """``raw`` as ``Text`` with each control character drawn as a highlighted symbol.

    Textual's ``Input`` and ``TextArea`` send ESC and C1 bytes of their value straight
    to the terminal, so a pasted escape sequence would be executed. The value itself
    keeps the raw characters (so they can be refused with a reason); only what is
    drawn changes. One character becomes one, so cursor and selection offsets hold.
    """
    text = Text(_DISPLAY_CONTROL_RE.sub(_placeholder, raw), end="", no_wrap=True)
    for match in _DISPLAY_CONTROL_RE.finditer(raw):
        text.stylize(PLACEHOLDER_STYLE, match.start(), match.end())
    return text


class ControlCharHighlighter(Highlighter):
    """An ``Input`` highlighter that draws control characters as visible symbols."""

    def highlight(self, text: Text) -> None:
        # Rich has already dropped BEL, BS, VT, FF and CR from ``text`` (harmless, and
        # the validator still sees them in the value); ESC and C1 are still here.
        shown = visible_controls(text.plain)
        if shown.spans:
            text.plain = shown.plain
            for span in shown.spans:
                text.stylize(span.style, span.start, span.end)
