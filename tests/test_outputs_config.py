"""The output settings: where downloads go, the preview cache's bound, the per-file cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from aireiter_tui.domain.config import Settings, load_settings
from aireiter_tui.domain.errors import ConfigError
from aireiter_tui.domain.output_cache import output_cache_dir
from aireiter_tui.domain.paths import cache_dir


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return load_settings(path, env={})


def test_defaults() -> None:
    settings = Settings()
    assert (settings.download_dir, settings.cache_max_mb, settings.max_output_mb) == (
        None,
        500,
        200,
    )


def test_values_from_the_file(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        'download_dir = "~/Pictures/ai"\ncache_max_mb = 50\nmax_output_mb = 20\n'
        "[profiles.big]\nmax_output_mb = 2000\n",
    )
    assert settings.download_dir == Path("~/Pictures/ai").expanduser()
    assert (settings.cache_max_mb, settings.max_output_mb) == (50, 20)


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ('download_dir = "relative/dir"', '"download_dir" must be an absolute folder path'),
        ('download_dir = ""', '"download_dir" must be an absolute folder path'),
        ("download_dir = 5", '"download_dir" must be an absolute folder path'),
        ("cache_max_mb = 0", '"cache_max_mb" must be an integer between 1 and'),
        ("max_output_mb = 1.5", '"max_output_mb" must be an integer between 1 and'),
    ],
)
def test_bad_values(tmp_path: Path, text: str, part: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert part in str(caught.value)


def test_the_cache_lives_under_xdg_cache_home(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cache_dir({"XDG_CACHE_HOME": "/c", "HOME": "/h"}) == Path("/c/aireiter-tui")
    assert cache_dir({"XDG_CACHE_HOME": "rel", "HOME": "/h"}) == Path("/h/.cache/aireiter-tui")
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")
    assert output_cache_dir() == Path("/somewhere/aireiter-tui/outputs")
