"""The checks every config value passes, and the error a failed one becomes.

Each checker takes a value as read from TOML (or given on the command line) and returns it
in the type :class:`~aireiter_tui.domain.config.Settings` holds, or raises :class:`Invalid`
saying what was expected; :func:`fail` turns that into the :class:`ConfigError` a person
reads. :data:`CHECKERS` maps each Settings field a user can set to its checker.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from aireiter_tui.domain.errors import ConfigError
from aireiter_tui.domain.secret import ApiKey
from aireiter_tui.domain.views import ColumnChoice, parse_columns

Checker = Callable[[Any], Any]


class Invalid(Exception):
    """A value failed its check; the argument is what was expected."""


def number(low: float, high: float | None = None) -> Checker:
    def check(value: Any) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value < low or (high and value > high):
            bound = f"between {low:g} and {high:g}" if high else f"of at least {low:g}"
            raise Invalid(f"a number {bound} (seconds)")
        return float(value)

    return check


def integer(low: int, high: int) -> Checker:
    def check(value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise Invalid(f"an integer between {low} and {high}")
        return value

    return check


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("true or false")
    return value


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("a non-empty string")
    return value.strip()


def url(value: Any) -> str:
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid('an http:// or https:// URL such as "https://aireiter.com"')
    return str(value).strip().rstrip("/")


def api_key(value: Any) -> ApiKey:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("a non-empty string")
    return ApiKey(value.strip())


def keymap(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items()
    ):
        raise Invalid('a table of binding = "keys" strings')
    return {k: v.strip() for k, v in value.items()}


def budget(value: Any) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise Invalid("a number of credits greater than 0")
    return float(value)


NOTIFY_KINDS: Final = ("off", "osc9", "osc777")


def notify(value: Any) -> str:
    if value not in NOTIFY_KINDS:
        raise Invalid('one of "off", "osc9" or "osc777"')
    return str(value)


def stuck_after(value: Any) -> dict[str, float]:
    def seconds(limit: Any) -> bool:
        ok = isinstance(limit, int | float) and not isinstance(limit, bool)
        return ok and math.isfinite(limit) and limit > 0

    if not isinstance(value, dict) or not all(
        isinstance(model, str) and model and seconds(limit) for model, limit in value.items()
    ):
        raise Invalid('a table of model = seconds (greater than 0), e.g. "*" = 600')
    return {model: float(limit) for model, limit in value.items()}


def columns(value: Any) -> tuple[ColumnChoice, ...]:
    try:
        return parse_columns(value)
    except ValueError as error:
        raise Invalid(str(error)) from None


def folder(value: Any) -> Path:
    path = Path(value.strip()).expanduser() if isinstance(value, str) and value.strip() else None
    if path is None or not path.is_absolute():
        raise Invalid('an absolute folder path such as "~/Pictures/aireiter"')
    return path


CHECKERS: Final[dict[str, Checker]] = {
    "base_url": url,
    "api_key": api_key,
    "poll_interval": number(1),
    "slow_poll_interval": number(1),
    "long_running_after": number(0),
    "concurrency": integer(1, 256),
    "request_timeout": number(1, 300),
    "theme": text,
    "bell": boolean,
    "download_dir": folder,
    "cache_max_mb": integer(1, 1_000_000),
    "max_output_mb": integer(1, 100_000),
    "previews": boolean,
    "keymap": keymap,
    "allow_insecure_http": boolean,
    "budget_credits_per_day": budget,
    "budget_credits_per_month": budget,
    "notify": notify,
    "stuck_after": stuck_after,
    "columns": columns,
}
_SECRET_KEYS: Final = {"api_key"}


def shown(key: str, value: Any) -> str:
    """How a bad value is quoted back: its type only for secrets, else a short excerpt."""
    if key in _SECRET_KEYS or key.endswith(".api_key"):
        return "a value of type " + type(value).__name__
    excerpt = json.dumps(value, ensure_ascii=False, default=str)
    return excerpt if len(excerpt) <= 60 else excerpt[:59] + "…"


def fail(origin: str, key: str, expected: str, value: Any) -> ConfigError:
    """The error for ``value`` at ``key`` (from ``origin``), which should have been ``expected``."""
    return ConfigError(f'{origin}: "{key}" must be {expected}, got {shown(key, value)}')
