"""Commands on rows: ``[commands.NAME]`` tables of the config, run for watched tasks.

A command is an argument list, never a shell string::

    [commands.fetch]
    key = "ctrl+d"
    description = "Download the output with curl"
    run = ["curl", "-fsSLO", "--", "{output_url}"]
    confirm = false
    timeout = 120          # seconds (default 60)

Each placeholder (``{task_id}``, ``{out_task_id}``, ``{output_url}``, ``{label}``,
``{model}``; ``{{`` and ``}}`` write braces) is replaced inside its argument, and every
argument stays one element of the program's argv: no shell reads it, so nothing a task
holds (a label like ``x; rm -rf / $(touch pwned)``) can become a command. The program
itself (the first element) is always the config's, never a placeholder. An argument that
*begins* with a placeholder is refused when the value begins with ``-`` (the program
would read it as an option), and an output URL must be a plain http(s) link.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from aireiter_tui.domain.errors import ConfigError
from aireiter_tui.domain.models import IdKind
from aireiter_tui.domain.sanitize import one_line, url_refusal
from aireiter_tui.domain.session import Row

PLACEHOLDERS: Final = ("task_id", "out_task_id", "output_url", "label", "model")
#: Seconds a run may take unless the command says otherwise; then it is killed.
DEFAULT_TIMEOUT: Final = 60.0
MAX_TIMEOUT: Final = 3600.0
#: The most of a run's output (stdout and stderr together) that is kept to be shown; the
#: rest is read and dropped, so a chatty program never blocks on a full pipe.
MAX_OUTPUT_BYTES: Final = 64 * 1024
#: Runs at once when a command is run for many rows.
PARALLEL_RUNS: Final = 4

_KEYS: Final = ("key", "description", "run", "confirm", "timeout")
#: Names end up in action strings and in the help: plain words only.
_NAME_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,40}")
_TOKEN_RE: Final = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_EXAMPLE: Final = 'run = ["open", "{output_url}"]'


@dataclass(frozen=True, slots=True)
class RowCommand:
    """One ``[commands.NAME]`` table."""

    name: str
    run: tuple[str, ...]
    key: str | None = None
    description: str = ""
    confirm: bool = False
    timeout: float = DEFAULT_TIMEOUT

    @property
    def title(self) -> str:
        """What the help and the palette call it: its description, else its name."""
        return self.description or self.name


class NotRunnable(Exception):
    """A command cannot run for a task; the argument says why, as a sentence's end
    (``"it has no output URL yet"``)."""


def _placeholders(argument: str) -> list[str]:
    """The placeholder names in ``argument``.

    Raises:
        ValueError: a lone brace (``{{`` and ``}}`` write one).
    """
    names = []
    for match in _TOKEN_RE.finditer(argument):
        token = match.group()
        if token in ("{", "}"):
            raise ValueError(f'has a lone "{token}" (write {token}{token} for a brace)')
        if match.group(1) is not None:
            names.append(match.group(1))
    return names


def _where(origin: str, name: str, key: str) -> str:
    return f'{origin}: "commands.{one_line(name, 40)}.{key}"'


def _parse_run(value: object, origin: str, name: str) -> tuple[str, ...]:
    where = _where(origin, name, "run")
    if isinstance(value, str):
        raise ConfigError(
            f"{where} is a string, which a shell would have to split: write it as a list"
            f" of arguments, one string each, such as {_EXAMPLE} (no shell runs it, so a"
            " task's label or URL can never become a command)"
        )
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where} must be a list of arguments, such as {_EXAMPLE}")
    for index, argument in enumerate(value):
        at = _where(origin, name, f"run[{index}]")
        if not isinstance(argument, str):
            raise ConfigError(f"{at} must be a string, got {type(argument).__name__}")
        if "\0" in argument:
            raise ConfigError(f"{at} holds a NUL character")
        try:
            names = _placeholders(argument)
        except ValueError as problem:
            raise ConfigError(f"{at} {problem}") from None
        unknown = [found for found in names if found not in PLACEHOLDERS]
        if unknown:
            known = ", ".join(f"{{{known}}}" for known in PLACEHOLDERS)
            raise ConfigError(
                f"{at} names {{{one_line(unknown[0], 40)}}}, which is no placeholder"
                f" (known: {known})"
            )
        if index == 0 and (names or not argument.strip()):
            raise ConfigError(
                f"{at} must name the program itself: a program taken from a task would let"
                " the network choose what runs"
            )
    return tuple(value)


def _parse_one(name: str, table: object, origin: str) -> RowCommand:
    if not isinstance(table, dict):
        raise ConfigError(
            f'{origin}: "commands.{one_line(name, 40)}" must be a table, like'
            f" [commands.{one_line(name, 40)}] {_EXAMPLE}"
        )
    if not _NAME_RE.fullmatch(name):
        raise ConfigError(
            f'{origin}: the command name "{one_line(name, 40)}" may hold only letters,'
            " digits, - and _ (at most 40)"
        )
    for key in table:
        if key not in _KEYS:
            raise ConfigError(
                f'{origin}: unknown key "commands.{name}.{one_line(key, 40)}" (known keys:'
                f" {', '.join(_KEYS)})"
            )
    if "run" not in table:
        raise ConfigError(f"{_where(origin, name, 'run')} is needed, such as {_EXAMPLE}")
    run = _parse_run(table["run"], origin, name)
    keys = table.get("key")
    if keys is not None and (not isinstance(keys, str) or not keys.strip()):
        raise ConfigError(f'{_where(origin, name, "key")} must be a key such as "ctrl+d"')
    description = table.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{_where(origin, name, 'description')} must be a string")
    confirm = table.get("confirm", False)
    if not isinstance(confirm, bool):
        raise ConfigError(f"{_where(origin, name, 'confirm')} must be true or false")
    timeout = table.get("timeout", DEFAULT_TIMEOUT)
    number = isinstance(timeout, int | float) and not isinstance(timeout, bool)
    if not number or not math.isfinite(timeout) or not 1 <= timeout <= MAX_TIMEOUT:
        raise ConfigError(
            f"{_where(origin, name, 'timeout')} must be a number of seconds between 1"
            f" and {MAX_TIMEOUT:g}"
        )
    return RowCommand(
        name=name,
        run=run,
        key=",".join(part.strip() for part in keys.split(",")) if keys else None,
        description=" ".join(description.split()),
        confirm=confirm,
        timeout=float(timeout),
    )


def parse_commands(value: object, origin: str) -> dict[str, RowCommand]:
    """The ``commands`` table of a config file (``origin`` names it in messages).

    Raises:
        ConfigError: a command is not a table, has an unknown key, a ``run`` that is a
            string or names no program, an unknown placeholder, or a bad key, confirm or
            timeout.
    """
    if not isinstance(value, dict):
        raise ConfigError(f'{origin}: "commands" must be a set of [commands.NAME] tables')
    return {name: _parse_one(name, table, origin) for name, table in value.items()}


def placeholder_values(row: Row) -> dict[str, str | None]:
    """What each placeholder stands for in ``row`` (None: not known).

    ``output_url`` is the first output (the detail pane's first link).
    """
    task, ref = row.task, row.ref
    task_id = task.task_id if task is not None else None
    out_task_id = task.out_task_id if task is not None else None
    if ref.kind is IdKind.TASK_ID:
        task_id = task_id or ref.id
    else:
        out_task_id = out_task_id or ref.id
    outputs = task.outputs if task is not None else ()
    return {
        "task_id": task_id,
        "out_task_id": out_task_id,
        "output_url": outputs[0].url if outputs else None,
        "label": row.label or "",
        "model": task.model if task is not None else None,
    }


_MISSING: Final = {
    "task_id": "its task_id is not known yet",
    "out_task_id": "it has no out_task_id",
    "output_url": "it has no output URL yet",
    "model": "its model is not known yet",
}


def expand(command: RowCommand, values: Mapping[str, str | None]) -> list[str]:
    """``command.run`` with the placeholders replaced by ``values``, one argument each.

    One pass: a value holding ``{task_id}`` stays as it is.

    Raises:
        NotRunnable: a value is missing, would be read as an option, is an output URL
            that is not plain http(s), or holds a NUL character.
    """
    for name in {name for argument in command.run for name in _placeholders(argument)}:
        value = values.get(name)
        if value is None:
            raise NotRunnable(_MISSING.get(name, f"its {name} is not known"))
        if "\0" in value:
            raise NotRunnable(f"its {name} holds a NUL character, which no program can take")
        if name == "output_url":
            refusal = url_refusal(value)
            if refusal is not None:
                raise NotRunnable(f"its output URL is refused: {refusal}")
    argv = []
    for argument in command.run:

        def substitute(match: re.Match[str]) -> str:
            token = match.group()
            if token in ("{{", "}}"):
                return token[0]
            return values[match.group(1)] or ""

        expanded = _TOKEN_RE.sub(substitute, argument)
        starts = _TOKEN_RE.match(argument)
        if starts and starts.group(1) is not None and expanded.startswith("-"):
            raise NotRunnable(
                f"its {starts.group(1)} begins with '-', which {one_line(command.run[0], 40)}"
                " would read as an option"
            )
        argv.append(expanded)
    return argv


@dataclass(frozen=True, slots=True)
class RunResult:
    """How one run went."""

    argv: tuple[str, ...]
    #: The exit status (negative: killed by that signal); None when it never started or
    #: was killed at its timeout.
    exit_code: int | None
    #: Its stdout and stderr, interleaved as written, decoded (broken UTF-8 as U+FFFD),
    #: at most :data:`MAX_OUTPUT_BYTES`.
    output: str
    #: More was written than kept.
    cut: bool
    #: Why it did not succeed, as a sentence's end ("exited with status 3"), or None.
    problem: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.problem is None


def _kill_group(process: asyncio.subprocess.Process) -> None:
    # The run has its own process group: what it started in the background goes too,
    # and cannot hold the output pipe open after the run is over.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def run(
    argv: Sequence[str], *, timeout: float, max_bytes: int = MAX_OUTPUT_BYTES
) -> RunResult:
    """Run ``argv`` (no shell; standard input empty), collecting its output, killing it
    and what it started after ``timeout`` seconds. Never raises for the program's sake:
    a missing program, a failure or a timeout is the result's ``problem``."""
    started = time.monotonic()
    program = one_line(argv[0], 200)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as error:
        if isinstance(error, FileNotFoundError):
            refusal = f"{program} was not found"
        elif isinstance(error, PermissionError):
            refusal = f"{program} cannot be run (permission denied)"
        else:
            refusal = f"{program} could not be started ({error.strerror or error})"
        return RunResult(tuple(argv), None, "", False, refusal, time.monotonic() - started)
    kept = bytearray()
    cut = False
    timed_out = False
    try:
        assert process.stdout is not None
        async with asyncio.timeout(timeout):
            while chunk := await process.stdout.read(65536):
                room = max_bytes - len(kept)
                cut = cut or len(chunk) > room
                kept += chunk[:room]
            await process.wait()
    except TimeoutError:
        timed_out = True
    finally:
        if process.returncode is None:
            _kill_group(process)
            await process.wait()
    code = process.returncode
    if timed_out:
        problem: str | None = f"was stopped after {timeout:g} s"
        code = None
    elif code is not None and code < 0:
        problem = f"was killed by signal {-code}"
    elif code:
        problem = f"exited with status {code}"
    else:
        problem = None
    output = bytes(kept).decode("utf-8", "replace")
    return RunResult(tuple(argv), code, output, cut, problem, time.monotonic() - started)
