"""The domain layer, the errors and the client never pull in Textual.

They must work from a plain script and be testable without a terminal. The import check
runs in a fresh interpreter, because in this process pytest or other tests may already
have imported Textual. Modules are discovered with pkgutil, so new ones are covered.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import aireiter_tui

PACKAGE_DIR = Path(aireiter_tui.__file__).resolve().parent
PLAIN_DIRS = (PACKAGE_DIR / "domain", PACKAGE_DIR / "api")
FORBIDDEN = "textual"

PROBE = textwrap.dedent(
    """
    import importlib
    import json
    import pkgutil
    import sys

    import aireiter_tui.api as api
    import aireiter_tui.domain as domain

    names = ["aireiter_tui.domain", "aireiter_tui.api"]
    for package in (domain, api):
        names += [
            info.name
            for info in pkgutil.walk_packages(
                package.__path__, prefix=package.__name__ + "."
            )
        ]
    for name in names:
        importlib.import_module(name)
    loaded = sorted(
        m for m in sys.modules if m == "textual" or m.startswith("textual.")
    )
    print(json.dumps({"imported": names, "textual": loaded}))
    """
)


def run_probe() -> dict[str, list[str]]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(PACKAGE_DIR.parent), *filter(None, [env.get("PYTHONPATH")])]
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env=env,
        cwd=PACKAGE_DIR.parent,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, list[str]] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_domain_errors_client_do_not_import_textual() -> None:
    report = run_probe()
    assert report["textual"] == [], f"textual was imported: {report['textual'][:5]}"
    # The discovery really found the domain modules (not an empty package walk).
    for expected in ("models", "sanitize", "secret"):
        assert f"aireiter_tui.domain.{expected}" in report["imported"]
    assert "aireiter_tui.api.client" in report["imported"]


def _dynamic_import_target(call: ast.Call) -> str | None:
    """The literal module name of ``importlib.import_module("x")``/``__import__("x")``."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in {"import_module", "__import__"} or not call.args:
        return None
    first = call.args[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def textual_imports(path: Path) -> list[str]:
    """Every ``import textual...``/``from textual... import`` in a file, wherever it sits."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        elif isinstance(node, ast.Call) and _dynamic_import_target(node) is not None:
            modules = [str(_dynamic_import_target(node))]
        else:
            continue
        found += [
            f"{path.name}:{node.lineno}: {m}"
            for m in modules
            if m == FORBIDDEN or m.startswith(FORBIDDEN + ".")
        ]
    return found


def test_no_domain_file_imports_textual() -> None:
    files = sorted(path for folder in PLAIN_DIRS for path in folder.rglob("*.py"))
    assert files, "no domain modules found"
    offenders = [hit for path in files for hit in textual_imports(path)]
    assert offenders == []


def test_static_check_detects_textual_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os, textual.app\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from textual.widget import Widget\n"
        "def f():\n"
        "    import importlib\n"
        "    return importlib.import_module('textual')\n"
        "import textualize_not_it\n",
        encoding="utf-8",
    )
    assert len(textual_imports(sample)) == 3
