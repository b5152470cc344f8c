"""Readers for single JSON fields of unknown shape: dates, URL lists, error messages.

Helpers of :mod:`aireiter_tui.domain.models`' parser; each accepts any JSON value and
never raises.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any, Final, TypeAlias

JSON: TypeAlias = Any
"""A value as ``json.loads`` returns it (kept as ``Any``: mypy cannot narrow unions of it)."""


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


_MESSAGE_KEYS: Final = ("message", "msg", "error_message", "detail", "reason", "description")


def best_error_message(raw: JSON, _depth: int = 0) -> str:
    """Find the most human message in an error value of unknown shape."""
    if isinstance(raw, str):
        return raw.strip() or "the task failed (empty error message)"
    if isinstance(raw, dict) and _depth < 4:
        for key in (*_MESSAGE_KEYS, "error"):
            value = raw.get(key)
            if isinstance(value, str) and value.strip():
                code = raw.get("code")
                known_code = isinstance(code, str | int) and str(code) not in value
                return (f"{code}: " if known_code else "") + value.strip()
            if isinstance(value, dict | list) and value:
                return best_error_message(value, _depth + 1)
    if isinstance(raw, list) and raw and _depth < 4:
        return best_error_message(raw[0], _depth + 1)
    if raw is None or raw == {} or raw == []:
        return "the task failed without an error message"
    return compact(raw, 500)


def compact(value: JSON, limit: int) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except RecursionError:
        # repr() would recurse just as deep; a nesting this deep has nothing to read anyway.
        text = "(too deeply nested to show)"
    except (TypeError, ValueError):
        try:
            text = repr(value)
        except RecursionError:
            text = "(too deeply nested to show)"
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def optional_str(data: dict[str, JSON], key: str, warnings: list[str]) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
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
