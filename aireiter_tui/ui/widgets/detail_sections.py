"""The text of each section of the detail pane, built from a watched task.

Every function returns a ``rich.text.Text`` (or ``None`` for a section with nothing to
show) assembled from :func:`~aireiter_tui.domain.sanitize.clean` output: no string from
the network is ever parsed as markup or reaches the terminal with its control bytes.
The pane (``detail_pane.py``) only decides when to rebuild and where to put them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Final

from rich.text import Text

from aireiter_tui.domain.errors import AIReiterError, TaskNotFoundError
from aireiter_tui.domain.fields import (
    JSON,
    MAX_NAME_CHARS,
    MAX_OUTPUTS,
    MAX_TEXT_CHARS,
    MAX_URLS,
    TOO_DEEP,
    cap,
    dump_json,
)
from aireiter_tui.domain.models import MAX_ID_LENGTH, Task, TaskRef, forgotten, parse_status
from aireiter_tui.domain.sanitize import (
    MAX_URL_LENGTH,
    clean,
    url_lookalike,
    url_refusal,
    visible,
)
from aireiter_tui.domain.session import credits_problem, ended_at, finish_seen, seen_unfinished
from aireiter_tui.domain.watchlist_codec import StatusChange, WatchEntry
from aireiter_tui.ui.widgets.formatting import (
    STALE_STYLE,
    format_ago,
    format_credits,
    format_duration,
    format_timestamp,
    safe,
    safe_block,
    safe_visible,
    shorten_middle,
    status_text,
    unanswered_status,
)

#: Upper bound on the characters of one JSON dump or of the outputs listing. The pane's
#: sections are laid out whole, every line, each time the cursor comes back to the task:
#: 200 KB took 70-170 ms a time (and past 250 ms beside a CPU hog); this much takes a few.
MAX_SECTION_CHARS: Final = 24_000
#: The key/value listings (and each URL list) stop sooner: the raw response has the rest.
#: Still more than a long prompt (10,000 characters is shown whole).
MAX_LISTING_CHARS: Final = 12_000
#: Where the whole of a response too big for the pane can be read.
WHOLE_RESPONSE_HINT: Final = "aireiter-tui query --json ID prints the whole response"
#: Nesting deeper than this is shown as compact JSON rather than indented further.
MAX_DEPTH: Final = 12
MAX_HISTORY: Final = 200
MAX_WARNINGS: Final = 10
_LABEL_WIDTH: Final = 13
#: Cells of an ID in the retry links; both ends show (see shorten_middle).
LINK_ID_WIDTH: Final = 40
#: How many retries the "Retried as" line names.
MAX_LINKS: Final = 5
_KEY_STYLE: Final = "bold"
_SCALAR_STYLE: Final = "cyan"
_NOTE_STYLE: Final = "dim"

NOT_FETCHED_MESSAGE: Final = (
    "Not fetched yet — it will be queried on the next refresh (r refreshes it now)."
)
NOT_YET_ANSWERED_MESSAGE: Final = (
    "No answer for this task yet (see below); it is retried with a growing delay (r tries now)."
)
NOT_FOUND_MESSAGE: Final = (
    "Not found: the server does not know this ID (see below); it is asked again now and then"
    " (r asks now)."
)
NO_DATA_MESSAGE: Final = (
    "No task data received yet — it will be retried on the next refresh (r refreshes it now)."
)
NO_SELECTION_MESSAGE: Final = (
    "No task selected.\n\nSelect a task in the list to see its details, inputs and outputs here."
)


def _line(text: Text, label: str, value: Text | str) -> None:
    """Append one ``Label        value`` row of the summary."""
    text.append(f"{label:<{_LABEL_WIDTH}}", style=_KEY_STYLE)
    text.append(" ")
    text.append(value)
    text.append("\n")


# The summary is built in three parts, shown one under the other, so that the one-second
# clock tick redraws only the short lines that move with the clock: the head and the tail
# hold every string from the network (a 900,000-character model name redrawn each second
# kept a core 80-90 % busy) and change only with the task, its label or the refresh note.


def summary_head(
    entry: WatchEntry,
    now: datetime,
    *,
    stale: bool,
    error: AIReiterError | None = None,
    retried_as: Sequence[TaskRef] = (),
) -> Text:
    """ID, other ID, label, the retry links, status, model, created/completed times and
    duration.

    ``now`` only gives the time zone the times are shown in; ``stale`` adds the marker
    of a failed last refresh to the status; ``error`` is that refresh's error (the
    status reads as in the table: ``⚠ not found``, ``⊘ gone``); ``retried_as``: the
    watched tasks that retry this one.
    """
    text = Text()
    task = entry.task
    # IDs and the model are shown exactly (invisible characters as ⟨U+200B⟩): two IDs
    # that look the same must not read the same.
    id_value = safe_visible(entry.ref.id, max_length=MAX_ID_LENGTH)
    id_value.append(f"  ({entry.ref.kind.value})", style=_NOTE_STYLE)
    _line(text, "ID", id_value)
    if task is not None:
        # The response may name the other of the two IDs: worth showing, it is what
        # the user's own system or the provider's support knows the task by.
        for label, other in (("Task ID", task.task_id), ("Out task ID", task.out_task_id)):
            if other and other != entry.ref.id:
                # Cut here too: a task read back from an older cache was never capped.
                _line(text, label, safe_visible(other, max_length=MAX_ID_LENGTH))
    if entry.label:
        _line(text, "Label", safe(entry.label, max_length=MAX_NAME_CHARS))
    _retry_lines(text, entry.retry_of, retried_as)
    if task is None:
        shown = unanswered_status(error) if error else status_text(None, None, stale=stale)
        _line(text, "Status", shown)
    else:
        if forgotten(task.status, error):
            status = status_text(None, None, gone=True)
            status.append("  no longer known to the server; last seen ", style=_NOTE_STYLE)
            status.append_text(status_text(task.status, task.status_raw))
        else:
            status = status_text(task.status, task.status_raw, stale=stale)
        _line(text, "Status", status)
        if task.model:
            _line(text, "Model", safe_visible(task.model, max_length=MAX_NAME_CHARS))
        if task.created_at:
            _line(text, "Created", format_timestamp(task.created_at, now))
        _finish_lines(text, entry, now)
    text.rstrip()
    return text


def _retry_lines(text: Text, retry_of: TaskRef | None, retried_as: Sequence[TaskRef]) -> None:
    """``Retry of …`` and ``Retried as …``: the IDs cut in the middle, both ends shown."""
    if retry_of is not None:
        _line(text, "Retry of", _link(retry_of))
    if retried_as:
        shown = Text(", ").join(_link(ref) for ref in retried_as[:MAX_LINKS])
        if len(retried_as) > MAX_LINKS:
            shown.append(f" and {len(retried_as) - MAX_LINKS} more", style=_NOTE_STYLE)
        _line(text, "Retried as", shown)


def _link(ref: TaskRef) -> Text:
    return Text(shorten_middle(visible(ref.id), LINK_ID_WIDTH))


def _finish_lines(text: Text, entry: WatchEntry, now: datetime) -> None:
    """When a finished task finished and how long it ran: the server's ``completed_at``,
    or (failed tasks get none) when the status history first saw it finished."""
    task = entry.task
    assert task is not None
    if task.completed_at:
        _line(text, "Completed", format_timestamp(task.completed_at, now))
        if task.created_at:
            _line(text, "Duration", format_duration(task.completed_at - task.created_at))
        return
    seen = finish_seen(entry)
    if seen is None:
        return
    word = task.status.value
    when = format_timestamp(seen.at, now)
    # Seen unfinished before: the change was seen within a poll of when it happened.
    # Already finished at the first check: it finished at that time at the latest.
    exact = seen_unfinished(entry)
    note = "  (first seen)" if exact else "  (at the first check)"
    _line(text, word.capitalize(), Text(when).append(note, style=_NOTE_STYLE))
    if task.created_at:
        ran = format_duration(seen.at - task.created_at)
        shown = Text(ran if exact else f"≤ {ran}")
        shown.append("  (until then)" if exact else "  (until then, at most)", style=_NOTE_STYLE)
        _line(text, "Duration", shown)


def summary_clock(
    entry: WatchEntry, now: datetime, *, gone: bool = False, eta: str | None = None
) -> Text:
    """Elapsed, credits, added and last checked: the lines that move with the clock.

    Every one is short (numbers and times), so rebuilding them each second costs the same
    whatever the task holds. Credits does not move, but it sits between Elapsed and Added.
    ``gone``: the server no longer knows the task; its clock stopped at its last answer.
    ``eta``: the time it is expected to need still, from its model's finished tasks.
    """
    text = Text()
    task = entry.task
    if task is not None:
        end = ended_at(entry, gone) if gone else None
        if task.created_at and end is not None:
            ran = format_duration(end - task.created_at)
            _line(text, "Ran", f"{ran} until its last answer (stopped: it is gone)")
        elif task.created_at and not task.completed_at and task.status.is_active and not gone:
            _line(text, "Elapsed", f"{format_duration(now - task.created_at)} so far")
        if eta is not None and task.status.is_active and not gone:
            _line(text, "ETA", eta)
        if task.credits_used is not None:
            problem = credits_problem(task.credits_used)
            if problem is None:
                _line(text, "Credits", _with_estimate(task.credits_used, entry))
            else:
                _line(text, "Credits", f"⚠ {task.credits_used!r}: {problem} (not in the total)")
    if (task is None or task.credits_used is None) and entry.estimated_credits is not None:
        _line(text, "Credits", f"estimated {format_credits(entry.estimated_credits)}")
    added = format_timestamp(entry.added_at, now)
    _line(text, "Added", f"{added}  ({format_ago(entry.added_at, now)})")
    _line(text, "Last checked", format_ago(entry.checked_at, now) or "never")
    text.rstrip()
    return text


def _with_estimate(used: float, entry: WatchEntry) -> str:
    """``0 (estimated 120)``: the submit answer's estimate beside what the task used."""
    shown = format_credits(used)
    if entry.estimated_credits is None:
        return shown
    return f"{shown} (estimated {format_credits(entry.estimated_credits)})"


def summary_tail(
    entry: WatchEntry, note: Text | None, *, error: AIReiterError | None = None
) -> Text:
    """The fields the parser dropped, the not-fetched message, the last refresh problem
    (``error``: that problem, for a task never answered: not found is said as such)."""
    text = Text()
    task = entry.task
    # Fields the parser had to drop (wrong type): the raw response below still has them.
    if task is not None and task.warnings:
        shown = task.warnings[:MAX_WARNINGS]
        more = len(task.warnings) - len(shown)
        value = safe_block("\n".join(shown) + (f"\n… and {more} more" if more > 0 else ""))
        value.stylize(_NOTE_STYLE)
        _line(text, "Ignored", value)
    if task is None:
        text.append("\n")
        if isinstance(error, TaskNotFoundError):
            message = NOT_FOUND_MESSAGE
        elif note is not None:
            message = NOT_YET_ANSWERED_MESSAGE
        else:
            message = NOT_FETCHED_MESSAGE if entry.checked_at is None else NO_DATA_MESSAGE
        text.append(message, style="italic")
        text.append("\n")
    if note is not None:
        text.append("\n")
        # The app builds the note from sanitised parts; should one slip through raw, its
        # plain text is cleaned (losing its styles) rather than sent to the terminal.
        plain = note.plain
        cleaned = clean(plain, max_length=MAX_TEXT_CHARS)
        text.append(note if cleaned == plain else Text(cleaned, style=STALE_STYLE))
    text.rstrip()
    return text


# Characters that would be drawn as something else (controls, lone surrogates), as
# nothing (zero-width and format characters, odd spaces), or that change an emoji's width
# (variation selectors, skin tones, ZWJ): they can only stand inside JSON strings.
_JSON_ESCAPED_RE: Final = re.compile(
    "[\x7f-\x9f\u00a0\u00ad\u034f\u061c\u115f\u1160\u180e\u2000-\u200f\u2028-\u202f"
    "\u205f-\u206f\u3000\u3164\ud800-\udfff\ufe00-\ufe0f\ufeff\ufff9-\ufffb"
    "\U0001f3fb-\U0001f3ff\U000e0000-\U000e0fff]"
)


def _json_escape(match: re.Match[str]) -> str:
    return json.dumps(match.group())[1:-1]  # "\u200b", or a surrogate pair's two escapes


def copyable_json(dumped: str) -> str:
    """JSON text in which every character the pane could not show as itself is written
    as its ``\\uXXXX`` escape: what is shown is what is copied, and a copy parses to the
    same value (the sanitiser would otherwise swap such characters for symbols)."""
    return _JSON_ESCAPED_RE.sub(_json_escape, dumped)


def pretty_json(value: JSON) -> Text:
    """Indented JSON of ``value``, cleaned and bounded to :data:`MAX_SECTION_CHARS`.

    Only what is shown is encoded: the size of the rest is never worked out. Whole, it is
    valid JSON as shown (see :func:`copyable_json`), so selecting and copying it works.
    """
    dumped, cut = dump_json(value, MAX_SECTION_CHARS, indent=2)
    text = safe_block(copyable_json(dumped))
    if cut:
        text.append(
            f"\n… cut here: showing the first {MAX_SECTION_CHARS // 1000} KB; "
            f"{WHOLE_RESPONSE_HINT}",
            style=_NOTE_STYLE,
        )
    return text


def error_section(task: Task) -> Text | None:
    """The best human message of a failure, then the whole error object."""
    failure = task.failure
    if failure is None:
        return None
    # Cut here too: a task read back from an older cache was never capped.
    text = Text(clean(failure.message, max_length=MAX_TEXT_CHARS), style="bold red")
    raw = failure.raw
    # A non-blank string is the message itself (perhaps cut): it is not shown twice.
    if raw is not None and not (isinstance(raw, str) and raw and not raw.isspace()):
        text.append("\n\n")
        text.append(pretty_json(failure.raw))
    return text


def _history_time(moment: datetime, now: datetime) -> str:
    """Seconds matter in a history: ``14:03:07`` today, ``Dec 17 14:03:07`` before."""
    local = moment.astimezone(now.tzinfo)
    return local.strftime("%H:%M:%S" if local.date() == now.date() else "%b %d %H:%M:%S")


def _append_url(text: Text, prefix: str, url: str) -> None:
    """One numbered URL row; a refused URL says why it will not be opened, a lookalike
    (a host in non-ASCII letters, invisible characters) what its host really is."""
    # Plain spaces, so that a copied row is clean: a URL too long for the rest of the
    # line starts on the next one, where it is whole to select.
    text.append(prefix, style=_NOTE_STYLE)
    # Shown exactly: a zero-width space in a host must not pass for the real host.
    text.append_text(safe_visible(url, max_length=MAX_URL_LENGTH + 1))
    refusal = url_refusal(url)
    lookalike = url_lookalike(url) if refusal is None else None
    if refusal is not None:
        text.append(f"  (won't open: {clean(refusal, single_line=True)})", style=_NOTE_STYLE)
    elif lookalike is not None:
        text.append(f"  (⚠ {lookalike.short})", style=STALE_STYLE)
    text.append("\n")


def _append_urls(
    text: Text, rows: Iterable[tuple[str, str]], total: int, indent: int, budget: int
) -> None:
    """Append ``(prefix, url)`` rows until ``text`` holds ``budget`` characters, then say
    how many of the ``total`` were left out (each URL row may be up to 8 KB long)."""
    limit = len(text) + budget
    shown = 0
    for prefix, url in rows:
        if len(text) >= limit:
            break
        _append_url(text, prefix, url)
        shown += 1
    if total > shown:
        text.append(f"{' ' * indent}… and {total - shown:,} more\n", style=_NOTE_STYLE)


def _append_url_list(
    text: Text, urls: Sequence[str], indent: int, omitted: int, budget: int
) -> None:
    # At most MAX_URLS rows even for a task read back from an older, uncapped cache.
    kept = min(len(urls), MAX_URLS)
    width = len(str(kept))
    rows = (
        (f"{' ' * indent}{number:>{width}}. ", url)
        for number, url in enumerate(islice(urls, kept), 1)
    )
    _append_urls(text, rows, len(urls) + omitted, indent, budget)


@dataclass(frozen=True, slots=True)
class OutputNote:
    """What is known of one output beyond its URL: a dead link, where it was saved."""

    state: str = ""
    """``link expired``, ``not reachable`` or ``refused``; ``""`` when fine or not known."""
    reason: str = ""
    """The sentence behind ``state``."""
    saved: str = ""
    """The local file it was downloaded to, or ``""``."""


def outputs_section(
    task: Task, notes: Sequence[OutputNote] = (), *, open_key: str = "O"
) -> Text | None:
    """``1. image  https://…`` for each generated resource, then how many are not listed.

    ``notes`` (by output, in order) add a line under an output whose link is dead and
    one naming the file it was downloaded to (``open_key`` opens it).
    """
    if not task.outputs:
        return None
    text = Text()
    kept = min(len(task.outputs), MAX_OUTPUTS)
    width = len(str(kept))
    indent = " " * (width + 2)
    limit = MAX_SECTION_CHARS
    shown = 0
    for number, output in enumerate(islice(task.outputs, kept), 1):
        if len(text) >= limit:
            break
        _append_url(text, f"{number:>{width}}. {output.kind.value:<5}  ", output.url)
        shown += 1
        note = notes[number - 1] if number <= len(notes) else None
        if note is None:
            continue
        if note.state:
            text.append(f"{indent}✖ {note.state}", style=f"bold {STALE_STYLE}")
            if note.reason:
                text.append(f": {clean(note.reason, single_line=True)}", style=STALE_STYLE)
            text.append("\n")
        if note.saved:
            text.append(f"{indent}✔ saved ", style=_NOTE_STYLE)
            text.append_text(safe(note.saved, max_length=MAX_URL_LENGTH))
            text.append(f"  ({open_key} opens it)\n", style=_NOTE_STYLE)
    if task.output_count > shown:
        text.append(f"… and {task.output_count - shown:,} more\n", style=_NOTE_STYLE)
    text.rstrip()
    return text


class _KeyValueWriter:
    """Writes a JSON object as an indented, readable key/value listing into one Text."""

    def __init__(
        self,
        url_lists: dict[str, tuple[str, ...]] | None = None,
        omitted: dict[str, int] | None = None,
    ) -> None:
        self.text = Text()
        self._url_lists = url_lists or {}
        self._omitted = omitted or {}
        self._full = False

    def _room(self) -> bool:
        if len(self.text) <= MAX_LISTING_CHARS:
            return True
        if not self._full:
            self._full = True
            self.text.append("… the rest is too long to list: see Raw response\n", _NOTE_STYLE)
        return False

    def mapping(self, value: dict[str, JSON], indent: int = 0, depth: int = 0) -> None:
        for key, item in value.items():
            if not self._room():
                return
            self.text.append(" " * indent)
            self.text.append(safe(key, max_length=200, style=_KEY_STYLE))
            self.text.append(":")
            urls = self._url_lists.get(key) if depth == 0 else None
            if urls is not None and len(urls) > 1:
                omitted = self._omitted.get(key, 0)
                self.text.append(f" ({len(urls) + omitted:,} URLs)\n", style=_NOTE_STYLE)
                _append_url_list(self.text, urls, indent + 2, omitted, MAX_LISTING_CHARS)
            else:
                self.value(item, indent, depth)

    def value(self, item: JSON, indent: int, depth: int) -> None:
        """Write ``item`` after a ``key:`` (inline if it is short, else on lines below)."""
        if isinstance(item, dict) and item and depth < MAX_DEPTH:
            self.text.append("\n")
            self.mapping(item, indent + 2, depth + 1)
        elif isinstance(item, list) and item and depth < MAX_DEPTH:
            self.text.append("\n")
            for element in item:
                if not self._room():
                    return
                self.text.append(" " * (indent + 2) + "-", style=_NOTE_STYLE)
                self.value(element, indent + 2, depth + 1)
        elif isinstance(item, str):
            # A long prompt is what the user came to read (the pane wraps it), but pages
            # of it are enough: past MAX_TEXT_CHARS it is cut, the raw response has it all.
            shown = cap(item, MAX_TEXT_CHARS)
            if "\n" in shown:
                self.text.append("\n")
                for row in shown.replace("\r\n", "\n").split("\n"):
                    self.text.append(" " * (indent + 2))
                    self.text.append(safe(row))
                    self.text.append("\n")
            else:
                self.text.append(" ")
                self.text.append(safe(shown))
                self.text.append("\n")
        else:
            self.text.append(" ")
            self.text.append(_compact_json(item, MAX_TEXT_CHARS), style=_SCALAR_STYLE)
            self.text.append("\n")


def _compact_json(value: JSON, limit: int) -> str:
    """One-line JSON of ``value``, at most ``limit`` characters (only those are encoded)."""
    dumped, cut = dump_json(value, limit)
    if dumped == TOO_DEEP:
        return dumped
    return clean(dumped + "…" if cut else dumped, max_length=limit, single_line=True)


_INPUT_SHOWN_ELSEWHERE: Final = frozenset({"model", "params", "attachments"})


def input_section(task: Task) -> Text | None:
    """The params as sent (every key, in order), the attachments, then other input keys."""
    task_input = task.input
    if task_input is None:
        return None
    writer = _KeyValueWriter(task_input.url_lists, task_input.url_lists_omitted)
    writer.mapping(task_input.params)
    text = writer.text
    if task_input.attachments:
        total = len(task_input.attachments) + task_input.attachments_omitted
        text.append("attachments:", style=_KEY_STYLE)
        text.append(f" ({total:,})\n", style=_NOTE_STYLE)
        _append_url_list(
            text, task_input.attachments, 2, task_input.attachments_omitted, MAX_LISTING_CHARS
        )
    if isinstance(task_input.raw, dict):
        limit = len(text) + MAX_LISTING_CHARS
        others = len(task_input.raw) - sum(key in task_input.raw for key in _INPUT_SHOWN_ELSEWHERE)
        for shown, (key, value) in enumerate(
            (key, value)
            for key, value in task_input.raw.items()
            if key not in _INPUT_SHOWN_ELSEWHERE
        ):
            if len(text) >= limit:
                more = others - shown
                text.append(f"… and {more:,} more keys: see Raw response\n", _NOTE_STYLE)
                break
            text.append(safe(key, max_length=200, style=_KEY_STYLE))
            text.append(": ")
            text.append(_compact_json(value, 200), style=_SCALAR_STYLE)
            text.append("\n")
    text.rstrip()
    return text if text.plain else None


def metadata_section(task: Task) -> Text | None:
    """The submit-time metadata, returned as-is by the API."""
    if not task.metadata:
        return None
    writer = _KeyValueWriter()
    writer.mapping(task.metadata)
    writer.text.rstrip()
    return writer.text


def history_section(history: Sequence[StatusChange], now: datetime) -> Text | None:
    """One ``14:03:07  ◐ processing  (+5s)`` line per status change, oldest first."""
    if not history:
        return None
    text = Text()
    shown = history[-MAX_HISTORY:]
    if len(shown) < len(history):
        text.append(f"… {len(history) - len(shown)} earlier changes not shown\n", _NOTE_STYLE)
    previous: datetime | None = None
    for change in shown:
        status, raw = parse_status(change.status)
        text.append(_history_time(change.at, now))
        text.append("  ")
        text.append(status_text(status, raw))
        if previous is not None:
            text.append(f"  (+{format_duration(change.at - previous)})", style=_NOTE_STYLE)
        previous = change.at
        text.append("\n")
    text.rstrip()
    return text


def raw_section(task: Task) -> Text | None:
    """The task's ``data`` object exactly as received, pretty-printed."""
    if task.raw is None:
        return None
    return pretty_json(task.raw)
