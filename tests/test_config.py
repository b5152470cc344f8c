"""Settings: defaults, precedence, profiles, XDG paths, error messages and file modes."""

from __future__ import annotations

import os
import shutil
import stat
import tomllib
from pathlib import Path

import pytest

from aireiter_tui.domain.config import (
    Settings,
    load_settings,
    remember,
    setting_names,
    write_config,
)
from aireiter_tui.domain.errors import ConfigError
from aireiter_tui.domain.paths import config_path, demo_watchlist_path, watchlist_path
from aireiter_tui.domain.secret import ApiKey

DATA = Path(__file__).parent / "data"
SECRET = "sk-live-0123456789abcdef"


def write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def load(path: Path, **kwargs: object) -> Settings:
    env = kwargs.pop("env", {})
    profile = kwargs.pop("profile", None)
    return load_settings(path, profile=profile, env=env, overrides=kwargs)  # type: ignore[arg-type]


def error_for(path: Path, **kwargs: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load(path, **kwargs)
    return str(caught.value)


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path / "nope.toml")
    assert settings == Settings()
    assert settings.base_url == "https://aireiter.com"
    assert settings.api_key is None
    assert (settings.poll_interval, settings.slow_poll_interval) == (5.0, 30.0)
    assert (settings.long_running_after, settings.concurrency) == (600.0, 32)
    assert (settings.request_timeout, settings.theme, settings.bell) == (
        15.0,
        "textual-dark",
        False,
    )
    assert settings.keymap == {} and settings.allow_insecure_http is False
    assert settings.warnings == ()


def test_every_setting_is_documented() -> None:
    source = Path(__file__).parents[1].joinpath("aireiter_tui/domain/config.py").read_text()
    for name in setting_names():
        block = source.split(f"\n    {name}: ", 1)[1].split("\n", 2)[1]
        assert block.strip().startswith('"""'), name


def test_file_values_and_keys_table(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'base_url = "https://example.test/"\nconcurrency = 8\nbell = true\n'
        'poll_interval = 2\ntheme = "nord"\n[keys]\nrefresh = "f5,ctrl+r"\n',
    )
    settings = load(path)
    assert settings.base_url == "https://example.test"
    assert settings.concurrency == 8 and settings.bell is True
    assert settings.poll_interval == 2.0 and settings.theme == "nord"
    assert settings.keymap == {"refresh": "f5,ctrl+r"}


def test_profiles_override_top_level(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'concurrency = 4\n[keys]\nquit = "q"\n'
        '[profiles.test]\nbase_url = "https://test.aireiter.com"\n'
        '[profiles.test.keys]\nrefresh = "r"\n',
    )
    assert load(path).base_url == "https://aireiter.com"
    test = load(path, profile="test")
    assert test.profile == "test"
    assert test.base_url == "https://test.aireiter.com"
    assert test.concurrency == 4
    assert test.keymap == {"quit": "q", "refresh": "r"}


def test_default_profile_from_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'profile = "test"\n[profiles.test]\nbell = true\n')
    assert load(path).bell is True


def test_env_and_override_precedence(tmp_path: Path) -> None:
    path = write(tmp_path, f'api_key = "{SECRET}"\nbase_url = "https://file.test"\n')
    assert load(path).api_key == ApiKey(SECRET)
    env = {"AIREITER_API_KEY": "from-env", "AIREITER_BASE_URL": "https://env.test"}
    settings = load(path, env=env)
    assert settings.api_key == ApiKey("from-env")
    assert settings.base_url == "https://env.test"
    settings = load(path, env=env, base_url="https://flag.test", concurrency=3, bell=None)
    assert settings.base_url == "https://flag.test"
    assert settings.concurrency == 3 and settings.bell is False


def test_profile_api_key(tmp_path: Path) -> None:
    path = write(tmp_path, f'[profiles.test]\napi_key = "{SECRET}"\n')
    assert load(path).api_key is None
    assert load(path, profile="test").api_key == ApiKey(SECRET)


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("bad_syntax.toml", ["bad_syntax.toml", "TOML syntax error", "line 2, column"]),
        ("bad_types.toml", ['"concurrency" must be an integer between 1 and 256', 'got "ten"']),
        ("bad_unknown_key.toml", ['unknown key "poll_intervall"', "known keys:", "poll_interval"]),
        ("bad_unknown_profile.toml", ['unknown profile "staging"', "prod, test"]),
        ("bad_negative_interval.toml", ['"profiles.test.poll_interval"', "at least 1", "got -5"]),
        ("bad_bool.toml", ['"bell" must be true or false', 'got "yes"']),
        ("bad_api_key_type.toml", ['"api_key" must be a non-empty string', "type int"]),
    ],
)
def test_bad_files(tmp_path: Path, fixture: str, expected: list[str]) -> None:
    path = tmp_path / fixture
    shutil.copy(DATA / fixture, path)
    message = error_for(path)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    for part in expected:
        assert part in message
    assert "12345678" not in message


def test_unknown_profile_from_cli(tmp_path: Path) -> None:
    message = error_for(write(tmp_path, ""), profile="nope")
    assert 'unknown profile "nope"' in message and "none" in message


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ('base_url = "ftp://x"', '"base_url" must be an http:// or https:// URL'),
        ("request_timeout = 0", '"request_timeout" must be a number between 1 and 300'),
        ("concurrency = 257", "between 1 and 256, got 257"),
        ("concurrency = true", "got true"),
        ('profiles = "x"', '"profiles" must be'),
        ("[keys]\nrefresh = 5", '"keys" must be a table'),
        ('[profiles.t]\nprofile = "x"', 'unknown key "profiles.t.profile"'),
    ],
)
def test_bad_values(tmp_path: Path, text: str, part: str) -> None:
    assert part in error_for(write(tmp_path, text))


def test_bad_env_and_override(tmp_path: Path) -> None:
    path = tmp_path / "none.toml"
    assert "AIREITER_BASE_URL" in error_for(path, env={"AIREITER_BASE_URL": "nope"})
    assert '"concurrency"' in error_for(path, concurrency=0)
    assert 'unknown setting "colour"' in error_for(path, colour="red")


def test_not_utf8_and_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"theme = '\xff'\n")
    assert "not UTF-8" in error_for(path)
    directory = tmp_path / "dir.toml"
    directory.mkdir()
    assert "cannot be read" in error_for(directory)


def test_key_never_in_errors_or_repr(tmp_path: Path) -> None:
    cases = [
        f'api_key = "{SECRET}"\nconcurrency = "ten"\n',
        f'api_key = "{SECRET}"\nunknown = 1\n',
        f'api_key = "{SECRET}"\n[profiles.a]\napi_key = ["{SECRET}"]\n',
        f'api_key = "{SECRET}" oops\n',
        f'api_key = "{SECRET}"\n[profiles.b]\n"{SECRET}" = 1\n',
    ]
    for index, text in enumerate(cases):
        message = error_for(write(tmp_path, text), profile="a" if index == 2 else None)
        assert SECRET not in message, message
    message = error_for(write(tmp_path, f'"{SECRET}" = 1\n'), env={"AIREITER_API_KEY": SECRET})
    assert SECRET not in message and "unknown key" in message
    settings = load(write(tmp_path, f'api_key = "{SECRET}"\n'))
    assert SECRET not in repr(settings) and SECRET not in str(settings)
    assert SECRET not in error_for(tmp_path / "x.toml", api_key=[SECRET])


def test_readable_key_warning(tmp_path: Path) -> None:
    path = write(tmp_path, f'api_key = "{SECRET}"\n', mode=0o644)
    (warning,) = load(path).warnings
    assert str(path) in warning and "chmod 600" in warning and "readable by other" in warning
    assert SECRET not in warning
    path.chmod(0o600)
    assert load(path).warnings == ()
    path = write(tmp_path, 'theme = "nord"\n', mode=0o644)
    assert load(path).warnings == ()


def test_write_config_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    write_config(path, {"api_key": SECRET, "profiles": {"t": {"bell": True}}})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tomllib.loads(path.read_text())["profiles"]["t"]["bell"] is True
    path.chmod(0o644)
    write_config(path, {"theme": "x"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]


def test_remember_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    remember(path, {"theme": "nord"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load(path).theme == "nord"
    path.write_text('theme = "a"\nconcurrency = 9\n[profiles.t]\ntheme = "b"\n')
    remember(path, {"theme": "gruvbox"})
    data = tomllib.loads(path.read_text())
    assert data == {"theme": "gruvbox", "concurrency": 9, "profiles": {"t": {"theme": "b"}}}


def test_remember_refuses_broken_file(tmp_path: Path) -> None:
    path = write(tmp_path, "theme = = 1\n")
    with pytest.raises(ConfigError):
        remember(path, {"theme": "nord"})
    assert path.read_text() == "theme = = 1\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_write_config_read_only_dir(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match="cannot be written"):
            write_config(tmp_path / "config.toml", {"theme": "x"})
    finally:
        tmp_path.chmod(0o700)


def test_paths() -> None:
    home = {"HOME": "/home/u"}
    assert config_path(home) == Path("/home/u/.config/aireiter-tui/config.toml")
    assert watchlist_path(home) == Path("/home/u/.local/share/aireiter-tui/watchlist.toml")
    assert demo_watchlist_path(home) == Path(
        "/home/u/.local/share/aireiter-tui/demo-watchlist.toml"
    )
    xdg = {**home, "XDG_CONFIG_HOME": "/c", "XDG_DATA_HOME": "/d"}
    assert config_path(xdg) == Path("/c/aireiter-tui/config.toml")
    assert watchlist_path(xdg) == Path("/d/aireiter-tui/watchlist.toml")
    relative = {**home, "XDG_CONFIG_HOME": "rel", "XDG_DATA_HOME": ""}
    assert config_path(relative) == Path("/home/u/.config/aireiter-tui/config.toml")
    explicit = {**xdg, "AIREITER_TUI_CONFIG": "/x/c.toml", "AIREITER_TUI_WATCHLIST": "/x/w.toml"}
    assert config_path(explicit) == Path("/x/c.toml")
    assert watchlist_path(explicit) == Path("/x/w.toml")
    assert demo_watchlist_path(explicit) == Path("/d/aireiter-tui/demo-watchlist.toml")
    clash = {**xdg, "AIREITER_TUI_WATCHLIST": "/d/aireiter-tui/demo-watchlist.toml"}
    assert demo_watchlist_path(clash) != watchlist_path(clash)
