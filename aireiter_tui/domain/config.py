"""Settings: defaults, the TOML config file, profiles, environment and CLI overrides.

Precedence, lowest first: built-in defaults, the file's top-level keys, the selected
``[profiles.<name>]`` table, the environment (``AIREITER_API_KEY``,
``AIREITER_BASE_URL``), then explicit overrides from command-line flags.
Example: ``theme = "nord"``, then ``[profiles.test]`` with
``base_url = "https://test.aireiter.com"``, then ``[keys]`` with ``refresh = "f5,ctrl+r"``.
Each value's check, and :class:`ConfigError`, live in :mod:`aireiter_tui.domain.config_checks`.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final

import tomli_w

from aireiter_tui.domain import config_checks as checks
from aireiter_tui.domain.drafts import Template, parse_templates
from aireiter_tui.domain.errors import ConfigError
from aireiter_tui.domain.paths import replace_atomically
from aireiter_tui.domain.row_commands import RowCommand, parse_commands
from aireiter_tui.domain.secret import ApiKey
from aireiter_tui.domain.views import ColumnChoice, View, parse_views

DEFAULT_BASE_URL: Final = "https://aireiter.com"
API_KEY_ENV: Final = "AIREITER_API_KEY"
BASE_URL_ENV: Final = "AIREITER_BASE_URL"


@dataclass(frozen=True)
class Settings:
    """Everything the app can be configured with. Built by :func:`load_settings`."""

    base_url: str = DEFAULT_BASE_URL
    """The AIReiter server, e.g. ``https://aireiter.com`` or ``https://test.aireiter.com``.
    Overridden by ``AIREITER_BASE_URL`` and ``--base-url``."""

    api_key: ApiKey | None = None
    """The API key sent as ``Authorization: Bearer``. Prefer the ``AIREITER_API_KEY``
    environment variable; if it is kept in the file, make the file ``chmod 600``."""

    profile: str | None = None
    """The ``[profiles.<name>]`` table in use (``--profile``, or ``profile = "..."``
    at the top of the file); ``None`` uses the top-level keys only."""

    poll_interval: float = 5.0
    """Seconds between two queries of the same unfinished task (at least 1)."""

    slow_poll_interval: float = 30.0
    """Seconds between queries of a task that has been running longer than
    ``long_running_after`` (at least 1): long video jobs need not be polled as often."""

    long_running_after: float = 600.0
    """Seconds after a task's creation from which ``slow_poll_interval`` applies."""

    concurrency: int = 32
    """The most queries in flight at once (1 to 256)."""

    request_timeout: float = 15.0
    """Seconds to wait for one query's answer before counting it as a timeout (1 to 300)."""

    theme: str = "textual-dark"
    """The Textual theme name; the last one picked in the app is remembered here."""

    bell: bool = False
    """Ring the terminal bell when a watched task completes or fails."""

    download_dir: Path | None = None
    """The folder outputs are downloaded into (``~`` allowed). None: ``aireiter`` in the
    XDG download folder, else ``~/Downloads/aireiter``
    (:func:`~aireiter_tui.domain.download_names.default_download_dir`)."""

    cache_max_mb: int = 500
    """Megabytes the preview cache (``$XDG_CACHE_HOME/aireiter-tui/outputs``) may take;
    the least recently shown files go first."""

    max_output_mb: int = 200
    """The largest output file, in megabytes, that is previewed or downloaded."""

    previews: bool = True
    """Draw output images in the detail pane (``P`` toggles it; the choice is remembered
    here). Some terminals draw them badly."""

    keymap: dict[str, str] = field(default_factory=dict, hash=False)
    """Key remaps from the ``[keys]`` table: binding id -> comma-separated keys, passed to
    ``App.set_keymap`` (e.g. ``refresh = "f5,ctrl+r"``)."""

    allow_insecure_http: bool = False
    """Allow a plain ``http://`` base URL to a host other than this machine (the API key
    would travel unencrypted). Off by default."""

    templates: dict[str, Template] = field(default_factory=dict, hash=False)
    """Drafts to start a new task from, by name: ``[templates.NAME]`` tables with a
    ``model`` and ``params`` (read by :func:`~aireiter_tui.domain.drafts.parse_templates`)."""

    commands: dict[str, RowCommand] = field(default_factory=dict, hash=False)
    """Commands on rows, by name: ``[commands.NAME]`` tables with a ``run`` argument list,
    an optional ``key``, ``description``, ``confirm`` and ``timeout`` (read by
    :func:`~aireiter_tui.domain.row_commands.parse_commands`)."""

    budget_credits_per_day: float | None = None
    """Credits a UTC day's tasks may use: the status bar shows the share used, and a toast
    warns at 80 % and at 100 % (once a day each). None: no budget."""

    budget_credits_per_month: float | None = None
    """The same for a UTC calendar month (optional)."""

    notify: str = "off"
    """Desktop notifications for finished and failed tasks, sent as the terminal's escape
    sequence: ``"osc9"`` (iTerm2, WezTerm, kitty, Windows Terminal, foot), ``"osc777"``
    (VTE terminals, rxvt, Ghostty) or ``"off"``."""

    stuck_after: dict[str, float] = field(default_factory=dict, hash=False)
    """Seconds after which an unfinished task of a model counts as stuck, by model, from
    the ``[stuck_after]`` table (``"*"``: every model); without one, a model's own 95th
    percentile of durations decides (once it has 5 completed tasks)."""

    columns: tuple[ColumnChoice, ...] | None = None
    """The table's columns, in order, each with an optional width: ``columns = ["task",
    "status", "model:14"]`` (ids in :data:`~aireiter_tui.domain.view.COLUMN_IDS`); the
    column dialog (``c``) remembers its choice here. None: every column."""

    views: tuple[View, ...] = ()
    """Saved views, shown as tabs above the table: ``[[views]]`` tables with a ``name`` and
    optional ``filter``, ``status``, ``sort`` (a column id, ``-`` first to reverse) and
    ``columns`` (read by :func:`~aireiter_tui.domain.views.parse_views`); ``V`` adds one."""

    warnings: tuple[str, ...] = ()
    """Problems worth telling the user that do not stop the app (e.g. file permissions)."""


# File keys that are not Settings field names.
_FILE_KEYS: Final = {"keys": "keymap"}
_PROFILE_KEYS: Final = sorted({*checks.CHECKERS, *_FILE_KEYS} - {"keymap"})
# Tables read by a parser of their own (the Settings field of the same name gets its
# result): parser(the file's value or None when absent, the file's path for messages).
_TABLES: Final[dict[str, Callable[[object, str], object]]] = {
    "templates": lambda value, origin: parse_templates({} if value is None else value, origin),
    "commands": lambda value, origin: parse_commands({} if value is None else value, origin),
    "views": parse_views,
}
_TOP_KEYS: Final = sorted({*_PROFILE_KEYS, "profile", "profiles", *_TABLES})


def _read_toml(path: Path) -> dict[str, Any] | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror or error})") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        match = re.match(r"(.*) \(at line (\d+), column (\d+)\)$", str(error))
        if match:
            reason, line, column = match.groups()
            where = f"line {line}, column {column}"
        else:
            reason, where = str(error), "the end of the file"
        reason = reason[:1].lower() + reason[1:]
        raise ConfigError(f"{path}: TOML syntax error at {where}: {reason}") from None


def _apply(table: Mapping[str, Any], known: list[str], prefix: str, origin: str) -> dict[str, Any]:
    """Check a table's keys and values; return Settings field values."""
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = _FILE_KEYS.get(key, key)
        if key not in known or name not in checks.CHECKERS:
            listed = ", ".join(known)
            shown = key if len(key) <= 40 else key[:39] + "…"
            raise ConfigError(f'{origin}: unknown key "{prefix}{shown}" (known keys: {listed})')
        try:
            values[name] = checks.CHECKERS[name](value)
        except checks.Invalid as invalid:
            raise checks.fail(origin, prefix + key, str(invalid), value) from None
    return values


def _tables(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The top level and every profile table (the places an ``api_key`` can be)."""
    profiles = data.get("profiles")
    found = [data, *(profiles.values() if isinstance(profiles, dict) else [])]
    return [table for table in found if isinstance(table, dict)]


def _permission_warning(path: Path, data: Mapping[str, Any]) -> str | None:
    if not any("api_key" in table for table in _tables(data)):
        return None
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"{path} holds the API key and is readable by other users; run chmod 600 {path}"
    return None


def load_settings(
    path: Path,
    *,
    profile: str | None = None,
    env: Mapping[str, str] = os.environ,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Build the :class:`Settings` from the file at ``path``, ``env`` and ``overrides``.

    A missing file means defaults. ``overrides`` maps Settings field names to values
    (from command-line flags); ``None`` values are ignored.

    Raises:
        ConfigError: the file is unreadable, not TOML, or holds a bad key or value.
    """
    data = _read_toml(path) or {}
    try:
        return _build(path, data, profile, env, overrides or {})
    except ConfigError as error:
        # A key pasted in the wrong place (e.g. as a key name) must not be echoed back.
        message = str(error)
        for secret in _secrets_in(data, env):
            message = secret.scrub(message)
        raise ConfigError(message) from None


def _secrets_in(data: Mapping[str, Any], env: Mapping[str, str]) -> list[ApiKey]:
    found = [table.get("api_key") for table in _tables(data)]
    found.append(env.get(API_KEY_ENV))
    return [ApiKey(value.strip()) for value in found if isinstance(value, str) and value.strip()]


def _build(
    path: Path,
    data: dict[str, Any],
    profile: str | None,
    env: Mapping[str, str],
    overrides: Mapping[str, object],
) -> Settings:
    values = _apply(
        {k: v for k, v in data.items() if k not in ("profile", "profiles", *_TABLES)},
        _TOP_KEYS,
        "",
        str(path),
    )
    for name, parse in _TABLES.items():
        values[name] = parse(data.get(name), str(path))
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(p, dict) for p in profiles.values()):
        raise checks.fail(str(path), "profiles", "a set of [profiles.<name>] tables", profiles)
    # Every profile is checked, so a mistake shows up before the day it is selected.
    checked = {
        name: _apply(table, _PROFILE_KEYS, f"profiles.{name}.", str(path))
        for name, table in profiles.items()
    }
    if profile is None and "profile" in data:
        try:
            profile = checks.text(data["profile"])
        except checks.Invalid as invalid:
            raise checks.fail(str(path), "profile", str(invalid), data["profile"]) from None
    if profile is not None:
        if profile not in profiles:
            defined = ", ".join(sorted(profiles)) or "none"
            raise ConfigError(f'{path}: unknown profile "{profile}" (profiles defined: {defined})')
        chosen = checked[profile]
        # A profile's [keys] adds to the top-level remaps instead of replacing them all.
        chosen["keymap"] = {**values.get("keymap", {}), **chosen.get("keymap", {})}
        values.update(chosen)

    if env.get(API_KEY_ENV, "").strip():
        values["api_key"] = ApiKey(env[API_KEY_ENV].strip())
    if env.get(BASE_URL_ENV, "").strip():
        try:
            values["base_url"] = checks.url(env[BASE_URL_ENV])
        except checks.Invalid as invalid:
            raise checks.fail(
                f"environment variable {BASE_URL_ENV}", "base_url", str(invalid), env[BASE_URL_ENV]
            ) from None
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in checks.CHECKERS:
            raise ConfigError(f'unknown setting "{key}" given on the command line')
        try:
            values[key] = value if isinstance(value, ApiKey) else checks.CHECKERS[key](value)
        except checks.Invalid as invalid:
            raise checks.fail("command line", key, str(invalid), value) from None

    warning = _permission_warning(path, data)
    return Settings(profile=profile, warnings=(warning,) if warning else (), **values)


def setting_names() -> list[str]:
    """Every Settings field a user can set (for help texts)."""
    return [f.name for f in fields(Settings) if f.name in checks.CHECKERS]


def write_config(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as TOML to ``path`` atomically, with mode 0600 (it may hold the key).

    Raises:
        ConfigError: the file could not be written; the old one is left as it was.
    """
    text = tomli_w.dumps(dict(data)).encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        replace_atomically(path, text, f".{path.name}.", durable=True, mode=0o600)
    except OSError as error:
        raise ConfigError(f"{path}: cannot be written ({error.strerror or error})") from None


def remember(path: Path, values: Mapping[str, Any]) -> None:
    """Remember a choice made in the app (the theme, say): change only these top-level
    keys of the file, keep everything else.

    Comments in the file are not kept (TOML writers cannot preserve them).

    Raises:
        ConfigError: the existing file is not valid TOML (it is left untouched) or
            cannot be written.
    """
    data = _read_toml(path) or {}
    data.update(values)
    write_config(path, data)
