"""The dashboard draws up to 120 frames a second (Textual's default is 60), unless the
user set TEXTUAL_FPS: the command imports the UI package, which says so, before Textual."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_PROBE = (
    "import aireiter_tui.ui, textual.constants as c, textual.screen as s; "
    "print(c.MAX_FPS, round(1 / s.UPDATE_PERIOD))"
)


@pytest.mark.parametrize(("given", "expected"), [(None, "120 120"), ("30", "30 30")])
def test_the_frame_rate_is_120_unless_the_user_set_one(given: str | None, expected: str) -> None:
    env = {key: value for key, value in os.environ.items() if key != "TEXTUAL_FPS"}
    if given is not None:
        env["TEXTUAL_FPS"] = given
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == expected.split()


def test_the_command_imports_the_ui_package_before_textual() -> None:
    probe = (
        "import sys; from aireiter_tui import cli; "
        "assert 'textual' not in sys.modules, 'textual imported by the cli module'; "
        "print('ok')"
    )
    env = {key: value for key, value in os.environ.items() if key != "TEXTUAL_FPS"}
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "ok"
