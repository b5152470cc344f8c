"""What the headless commands write: hostile strings from the network shown as visible
symbols (plain) or escaped (JSON, strict: no NaN, no lone surrogates), on any stdout
encoding; timestamps to the second; ``list`` in columns on a terminal, tabs otherwise.
``query`` runs against the simulator on its own thread, over real sockets."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aireiter_tui.cli import main
from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry
from aireiter_tui.simulator import ManualClock, Simulator, running_in_thread, scenario

#: What must never reach stdout raw: C0 but tab and newline, DEL, C1, the bidi controls,
#: line/paragraph separators (str.splitlines() cuts JSON Lines at them), lone surrogates.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
#: The hostile text: an ANSI colour, a one-byte CSI (0x9b), C1 DCS/ST/OSC (0x90, 0x9c,
#: 0x9d), a right-to-left override, a line separator, a lone surrogate, an emoji (kept).
HOSTILE = "a\x1b[31mred \x9b31m\x90dcs\x9c\x9d \u202eevil\u2028next \ud800 \U0001f600"
#: The same text as strict JSON gives it back: the lone surrogate became U+FFFD.
HOSTILE_BACK = HOSTILE.replace("\ud800", "\ufffd")
SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def strict_json(text: str) -> Any:
    """Parse as strict JSON: NaN and Infinity are refused, strings must be UTF-8-able."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    value = json.loads(text, parse_constant=refuse)
    json.dumps(value, ensure_ascii=False).encode("utf-8")  # no lone surrogate in it
    return value


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private config and watchlist (returned); no key or URL from the environment."""
    monkeypatch.setenv("AIREITER_TUI_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("AIREITER_TUI_WATCHLIST", str(tmp_path / "watchlist.toml"))
    for name in ("AIREITER_API_KEY", "AIREITER_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "watchlist.toml"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Simulator, str]]:
    """The simulator on a thread, answering in ASCII JSON.

    It writes its answers as UTF-8, which cannot carry a lone surrogate; a server that
    escapes non-ASCII (JavaScript's JSON.stringify writes a lone surrogate as "\\ud800")
    sends one as the six characters ``\\ud800``, which every JSON parser reads back as
    the lone surrogate. This makes the simulator answer the same way.
    """
    dumps = json.dumps

    class AsciiJson:
        @staticmethod
        def dumps(value: Any, **options: Any) -> str:
            return dumps(value, **{**options, "ensure_ascii": True})

    monkeypatch.setattr(scenario, "json", AsciiJson)
    sim = Simulator(seed=2, clock=ManualClock())
    with running_in_thread(sim) as base:
        monkeypatch.setenv("AIREITER_API_KEY", sim.api_key)
        yield sim, base


def submit_hostile(sim: Simulator) -> None:
    """A completed task "shot" whose prompt and metadata are hostile, with a NaN and an
    Infinity among its params, created at a time with a fraction of a second."""
    sim.advance(0.25)
    params = {"prompt": HOSTILE, "seed": float("nan"), "strength": float("-inf")}
    metadata = {"note\x9b": HOSTILE, "u2029": "para\u2029graph"}
    sim.submit("nano_banana_pro", params, "shot", metadata=metadata)
    sim.advance(100.5)
    sim.force_status("shot", "completed")


def test_query_shows_controls_as_symbols_and_times_to_the_second(
    files: Path, served: tuple[Simulator, str], capsys: pytest.CaptureFixture[str]
) -> None:
    sim, base = served
    submit_hostile(sim)
    assert main(["--base-url", base, "query", "--out", "shot"]) == 0  # completed
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    out = captured.out
    assert not RAW.search(out), ascii(out)
    prompt = next(line for line in out.splitlines() if line.lstrip().startswith("prompt"))
    assert "\u241b[31mred" in prompt  # ESC as the symbol for ESC
    assert "\ufffd" in prompt and "\U0001f600" in prompt
    created = next(line for line in out.splitlines() if line.lstrip().startswith("created"))
    assert SECONDS.fullmatch(created.split()[-1]), created  # no microseconds, in UTC


def test_query_json_escapes_controls_and_stays_strict(
    files: Path, served: tuple[Simulator, str], capsys: pytest.CaptureFixture[str]
) -> None:
    sim, base = served
    submit_hostile(sim)
    assert main(["--base-url", base, "query", "--out", "shot", "--json"]) == 0
    out = capsys.readouterr().out
    assert not RAW.search(out), ascii(out)
    for escape in ("\\u001b", "\\u009b", "\\u0090", "\\u009c", "\\u009d", "\\u202e", "\\u2028"):
        assert escape in out
    task = strict_json(out)
    assert task["input"]["params"] == {
        "prompt": HOSTILE_BACK,
        "seed": None,  # NaN and -Infinity: strict JSON has no words for them
        "strength": None,
    }
    assert task["metadata"] == {"note\x9b": HOSTILE_BACK, "u2029": "para\u2029graph"}
    assert task["status"] == "completed"


def hostile_watchlist(path: Path) -> None:
    """A watchlist whose cached snapshot is hostile (a status with a C1 control, a lone
    surrogate and a line separator; model, output URL) and whose label holds a bidi
    override and wide characters; one task not fetched yet."""
    task = parse_task(
        {
            "task_id": "order_hostile",
            "status": "done\x9b\ud800\u2028!",
            "input": {"model": "nano\x90\ud800banana", "params": {"prompt": HOSTILE}},
            "output": [{"url": "https://example.invalid/\x9d\ud800.png"}],
        }
    )
    checked = datetime(2025, 12, 18, 10, 12, 11, 123456, tzinfo=UTC)
    added = datetime(2025, 12, 18, 10, 0, 0, 654321, tzinfo=UTC)
    WatchlistStore(path).save(
        [
            WatchEntry(
                TaskRef(IdKind.TASK_ID, "order_hostile"),
                "\u202eevil \u65e5\u672c",
                added,
                task=task,
                checked_at=checked,
            ),
            WatchEntry(TaskRef(IdKind.OUT_TASK_ID, "shot-2"), None, added),
        ]
    )


def test_list_json_escapes_what_the_cache_holds(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile_watchlist(files)
    assert main(["list", "--json"]) == 0
    out = capsys.readouterr().out
    assert not RAW.search(out), ascii(out)
    assert "\\u009b" in out and "\\u202e" in out
    first, second = (strict_json(line) for line in out.splitlines())
    assert first == {
        "id": "order_hostile",
        "kind": "task_id",
        "label": "\u202eevil \u65e5\u672c",
        "status": "done\x9b\ufffd\u2028!",
        "model": "nano\x90\ufffdbanana",
        "outputs": ["https://example.invalid/\x9d\ufffd.png"],
    }
    assert second["id"] == "shot-2" and second["status"] is None


def test_list_into_a_pipe_keeps_tabs_and_shows_symbols(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile_watchlist(files)
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert not RAW.search("\n".join(lines).replace("\t", " "))
    assert [line.count("\t") for line in lines] == [2, 2]  # ID, kind, status (label)
    assert lines[0].startswith("order_hostile\ttask_id\tdone\ufffd\ufffd !  (\ufffdevil ")
    assert lines[1] == "shot-2\tout_task_id\tnot fetched"


class Terminal(io.StringIO):
    """A stdout that says it is a terminal."""

    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


def test_list_on_a_terminal_prints_aligned_columns(
    files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile_watchlist(files)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(["list"]) == 0
    header, first, second = terminal.getvalue().splitlines()
    assert header.split() == ["ID", "KIND", "STATUS", "CHECKED", "LABEL"]
    for column in ("KIND", "STATUS", "CHECKED", "LABEL"):
        start = header.index(column)
        assert first[start - 2 : start] == "  " and first[start] != " ", (column, first)
    assert first[header.index("CHECKED") :].startswith("2025-12-18T10:12:11Z  ")  # no µs
    assert first.endswith("\ufffdevil \u65e5\u672c")  # the label last, the override shown
    assert second.split() == ["shot-2", "out_task_id", "not", "fetched", "never"]
    assert not RAW.search(terminal.getvalue())


@pytest.mark.parametrize(
    "env",
    [
        {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"},  # stdout is ASCII
        {"PYTHONIOENCODING": "utf-8:strict"},  # a lone surrogate cannot be written
    ],
    ids=["lang-c", "utf8-strict"],
)
def test_no_stdout_encoding_turns_output_into_a_traceback(
    files: Path, served: tuple[Simulator, str], env: dict[str, str]
) -> None:
    """Through the real entry point, into a pipe: every command exits with its status."""
    sim, base = served
    submit_hostile(sim)
    hostile_watchlist(files)
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "LC_ALL")}
    environ.update(env)
    runs = {
        "list": ["list"],
        "list --json": ["list", "--json"],
        "query": ["--base-url", base, "query", "--out", "shot"],
        "query --json": ["--base-url", base, "query", "--out", "shot", "--json"],
    }
    for name, argv in runs.items():
        done = subprocess.run(
            [sys.executable, "-m", "aireiter_tui", *argv],
            capture_output=True,
            env=environ,
            check=False,
        )
        assert (done.returncode, done.stderr) == (0, b""), name
        out = done.stdout.decode("utf-8")
        assert not RAW.search(out), (name, ascii(out))
        if name == "list --json":
            labels = [strict_json(line)["label"] for line in out.splitlines()]
            assert labels == ["\u202eevil \u65e5\u672c", None]  # nothing lost to ASCII
        elif name == "query --json":
            assert strict_json(out)["input"]["params"]["prompt"] == HOSTILE_BACK
