"""The committed ``screenshots/`` must be what ``python -m scenes``
writes today, byte for byte (regenerate them and look at them when this fails)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from scenes import GALLERY
from scenes.__main__ import main, write_gallery

COMMITTED = Path(__file__).resolve().parent.parent / "screenshots"


async def test_committed_svgs_match_a_fresh_run(tmp_path: Path) -> None:
    written = await write_gallery(tmp_path)
    assert [path.name for path in written] == [f"{scene.name}.svg" for scene in GALLERY]
    stale = [
        path.name
        for path in written
        if not (COMMITTED / path.name).is_file()
        or (COMMITTED / path.name).read_bytes() != path.read_bytes()
    ]
    assert not stale, f"regenerate with `python -m scenes`: {stale}"


def test_the_readme_screenshot_is_in_the_gallery() -> None:
    assert "main" in {scene.name for scene in GALLERY}


def test_cli_rejects_an_unknown_scene(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--no-png", "no-such-scene"])
    assert "unknown scene(s): no-such-scene" in capsys.readouterr().err


def test_the_pngs_are_not_tracked() -> None:
    """PNGs differ from one rsvg-convert to the next: a fresh gallery run on another
    machine must not show committed files as changed."""
    repo = COMMITTED.parent
    if shutil.which("git") is None or not (repo / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        ["git", "ls-files", "screenshots"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked and not [name for name in tracked if not name.endswith(".svg")]
    ignored = subprocess.run(["git", "check-ignore", "-q", "screenshots/main.png"], cwd=repo)
    assert ignored.returncode == 0
