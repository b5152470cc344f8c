"""Readers for single JSON fields of unknown shape: dates, URL lists, error messages.

Helpers of :mod:`aireiter_tui.domain.models`' parser; each accepts any JSON value and
never raises.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any, Final, TypeAlias

JSON: TypeAlias = Any
"""A value as ``json.loads`` returns it (kept as ``Any``: mypy cannot narrow unions of it)."""

# What a parsed task keeps of a huge answer. The raw response is kept whole (the CLI's
# ``query --json`` prints it); everything read out of it for the dashboard is capped, so
# the cost of showing, comparing, sorting and saving a task never follows the size of
# what the server sent (100,000 outputs took 42 s and 787 MB to show before these).
#: Outputs kept in ``Task.outputs``; ``Task.outputs_omitted`` counts the rest.
MAX_OUTPUTS: Final = 1000
#: URLs kept per comma-joined URL list (each params value, the attachments).
MAX_URLS: Final = 1000
#: A prompt or an error message: pages of text, far beyond any real one.
MAX_TEXT_CHARS: Final = 20_000
#: A model name or an unknown status: real ones are a few dozen characters.
MAX_NAME_CHARS: Final = 200
#: Warnings kept for the entries of one list; one more line counts the rest.
MAX_ITEM_WARNINGS: Final = 20
ELLIPSIS: Final = "…"


def cap(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the last one an ellipsis when anything was cut.

    The same object comes back when nothing is cut, so capping a normal value is free.
    """
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def parse_datetime(value: JSON) -> datetime | None:
    """ISO 8601 (``Z`` or offset; naive taken as UTC) or epoch seconds/milliseconds."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, int | float):
            if not math.isfinite(value):
                return None
            seconds = value / 1000 if abs(value) > 1e11 else value
            return datetime.fromtimestamp(seconds, tz=UTC)
        if isinstance(value, str):
            text = value.strip()
            if not text or len(text) > 64:
                return None
            parsed = datetime.fromisoformat(text)
            # Always hand out aware UTC, so comparing and formatting never mixes offsets.
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def split_urls(value: str) -> tuple[str, ...]:
    """Split a comma-joined URL list into its parts, dropping blanks."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


# A part that is blank from here to its end (the first part), and a comma whose part is.
_BLANK_FIRST_PART: Final = re.compile(r"\s*(?:,|\Z)")
_COMMA_BEFORE_BLANK: Final = re.compile(r",(?=\s*(?:,|\Z))")


def count_urls(value: str, start: int = 0) -> int:
    """How many non-blank parts the comma-joined list ``value[start:]`` holds.

    ``start`` is where a part begins. Counted without splitting: a 2 MB list is one scan
    in C (the blank parts, rare, are the only matches made), not 25,000 strings.
    """
    parts = value.count(",", start) + 1
    blank = 1 if _BLANK_FIRST_PART.match(value, start) else 0
    blank += sum(1 for _ in _COMMA_BEFORE_BLANK.finditer(value, start))
    return parts - blank


def split_url_list(value: str, limit: int) -> tuple[tuple[str, ...], int]:
    """The first ``limit`` URLs of a comma-joined list (blanks dropped) and how many more.

    Only the kept parts are cut out of ``value``; the rest is counted, never split.
    """
    kept: list[str] = []
    start = 0
    while len(kept) < limit:
        comma = value.find(",", start)
        part = value[start:] if comma < 0 else value[start:comma]
        if part and not part.isspace():
            kept.append(part.strip())
        if comma < 0:
            return tuple(kept), 0
        start = comma + 1
    return tuple(kept), count_urls(value, start)


_MESSAGE_KEYS: Final = ("message", "msg", "error_message", "detail", "reason", "description")


def best_error_message(raw: JSON, _depth: int = 0) -> str:
    """Find the most human message in an error value of unknown shape."""
    if isinstance(raw, str):
        return cap(raw.strip(), MAX_TEXT_CHARS) or "the task failed (empty error message)"
    if isinstance(raw, dict) and _depth < 4:
        for key in (*_MESSAGE_KEYS, "error"):
            value = raw.get(key)
            if isinstance(value, str) and value.strip():
                code = raw.get("code")
                known_code = isinstance(code, str | int) and str(code) not in value
                prefix = f"{cap(str(code), MAX_NAME_CHARS)}: " if known_code else ""
                return cap(prefix + value.strip(), MAX_TEXT_CHARS)
            if isinstance(value, dict | list) and value:
                return best_error_message(value, _depth + 1)
    if isinstance(raw, list) and raw and _depth < 4:
        return best_error_message(raw[0], _depth + 1)
    if raw is None or raw == {} or raw == []:
        return "the task failed without an error message"
    return compact(raw, 500)


TOO_DEEP: Final = "(too deeply nested to show)"


def dump_json(
    value: JSON, limit: int, *, indent: int | None = None, sort_keys: bool = False
) -> tuple[str, bool]:
    """The JSON text of ``value``, at most ``limit`` characters, and whether it was cut.

    The encoding is lazy and stops once ``limit`` is passed: dumping a 100,000-output
    response whole to show its first 200 KB cost the whole encoding (and its memory)
    every time the task was shown.
    """
    encoder = json.JSONEncoder(ensure_ascii=False, indent=indent, sort_keys=sort_keys, default=str)
    chunks: list[str] = []
    size = 0
    try:
        for chunk in encoder.iterencode(value):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                return "".join(chunks)[:limit], True
    except RecursionError:
        # repr() would recurse just as deep; a nesting this deep has nothing to read anyway.
        return TOO_DEEP, False
    except (TypeError, ValueError):
        try:
            text = repr(value)
        except RecursionError:
            return TOO_DEEP, False
        return text[:limit], len(text) > limit
    return "".join(chunks), False


def compact(value: JSON, limit: int) -> str:
    text, cut = dump_json(value, limit, sort_keys=True)
    return cap(text + ELLIPSIS, limit) if cut else cap(text, limit)


def type_name(value: JSON) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def is_empty_error(value: JSON) -> bool:
    """True for the "no error" placeholders services send: null, false, "", {}, []."""
    if value is None or value is False:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, dict | list) and not value


def optional_str(
    data: dict[str, JSON], key: str, warnings: list[str], limit: int = MAX_NAME_CHARS
) -> str | None:
    """The string (or integer) at ``key``, cut to ``limit`` characters."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return cap(value, limit)
    if isinstance(value, int) and not isinstance(value, bool):
        return cap(str(value), limit)
    warnings.append(f"{key}: expected a string, got {type_name(value)}")
    return None


def parse_credits(value: JSON, warnings: list[str]) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        warnings.append(f"credits_used: expected a number, got {type_name(value)}")
        return None
    try:
        # JSON integers are unbounded: float() of a 400-digit one raises OverflowError.
        credits = float(value)
    except OverflowError:
        credits = math.inf
    if not math.isfinite(credits):
        warnings.append("credits_used: not a finite number")
        return None
    return credits
