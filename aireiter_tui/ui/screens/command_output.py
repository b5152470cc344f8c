"""A ``[commands.NAME]`` run for the target rows, and the dialog that shows each run's
output as it finishes (as data: control characters as symbols, never markup)."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Callable, Sequence
from typing import ClassVar, Final

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Static

from aireiter_tui.domain.row_commands import (
    MAX_OUTPUT_BYTES,
    PARALLEL_RUNS,
    NotRunnable,
    RowCommand,
    RunResult,
    expand,
    placeholder_values,
    run,
)
from aireiter_tui.domain.session import Row
from aireiter_tui.ui.screens.dialog import DialogScreen
from aireiter_tui.ui.widgets.formatting import safe, safe_block

#: Failures toasted one by one; past this many, one toast counts them.
MAX_FAILURE_TOASTS: Final = 3
#: The most of a command line the confirmation shows.
_MAX_COMMAND_SHOWN: Final = 300


class CommandOutputScreen(DialogScreen[None]):
    """The runs of one command, a section each: the task, how the run went, its output.

    Sections fill in as runs finish (:meth:`show_result`, :meth:`show_refusal`); closing
    the dialog leaves the runs going (their failures still come as toasts).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close", id="command_output.close", tooltip="Close"),
    ]

    DEFAULT_CSS = """
    CommandOutputScreen {
        & > #dialog {
            width: 100;
        }
        & #runs {
            height: auto;
            max-height: 30;
        }
        & .run-head {
            height: auto;
            text-style: bold;
            margin-top: 1;
        }
        & .run-head.-failed {
            color: $text-error;
        }
        & .run-output {
            height: auto;
            padding: 0 1;
            background: $panel;
        }
        & #buttons {
            margin-top: 1;
        }
    }
    """

    def __init__(self, title: str, names: Sequence[str]) -> None:
        """Build the dialog.

        Args:
            title: The command's description or name (from the user's config).
            names: How each target task is called, in run order.
        """
        super().__init__()
        self._title = title
        self._names = tuple(names)
        # Made here, not in compose: a run may finish before the dialog is mounted.
        self._heads = [
            Static(self._head("…", name, "running"), classes="run-head") for name in self._names
        ]
        self._outputs = [Static(Text(), classes="run-output", markup=False) for _ in self._names]

    @staticmethod
    def _head(symbol: str, name: str, state: str) -> Text:
        head = Text(f"{symbol} ")
        head.append_text(safe(name, max_length=120))
        head.append(f" — {state}", style="not bold")
        return head

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as dialog:
            dialog.border_title = safe(self._title, max_length=60)
            count = len(self._names)
            yield Static(
                Text(f"{count} run{'s' if count != 1 else ''} · Esc closes (runs go on)"),
                id="hint",
            )
            with VerticalScroll(id="runs"):
                for head, output in zip(self._heads, self._outputs, strict=True):
                    yield head
                    yield output
            with Horizontal(id="buttons"):
                yield Button(Text("Close (Esc)"), variant="primary", id="close")

    def on_mount(self) -> None:
        self.query_one("#runs", VerticalScroll).focus()
        self.call_after_refresh(self._fit_runs)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_runs)

    def _fit_runs(self) -> None:
        self.fit_to_screen(self.query_one("#runs"), 3, 60)

    def _set(self, index: int, head: Text, output: Text, failed: bool) -> None:
        self._heads[index].update(head)
        self._heads[index].set_class(failed, "-failed")
        self._outputs[index].update(output)

    def show_result(self, index: int, result: RunResult) -> None:
        """Show how run ``index`` went, and its output (as text, never markup)."""
        took = f"{result.seconds:.1f} s"
        if result.ok:
            head = self._head("✔", self._names[index], f"exit 0 · {took}")
        else:
            head = self._head("✖", self._names[index], f"{result.problem} · {took}")
        output = safe_block(result.output) if result.output else Text("(no output)", "dim")
        if result.cut:
            output.append(
                f"\n… only the first {MAX_OUTPUT_BYTES // 1024} KB of its output are kept",
                style="dim",
            )
        self._set(index, head, output, not result.ok)

    def show_refusal(self, index: int, reason: str) -> None:
        """Say why run ``index`` was not started."""
        head = self._head("⊘", self._names[index], f"not run: {reason}")
        self._set(index, head, Text("(not run)", "dim"), True)

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        """Close the dialog; runs still going finish on their own."""
        self.dismiss(None)


def _shown_command(argv: Sequence[str]) -> Text:
    """A command line to read (quoted as a shell would need; nothing runs a shell)."""
    return safe(shlex.join(argv), max_length=_MAX_COMMAND_SHOWN, style="bold")


def run_for_rows(
    host: Widget, command: RowCommand, rows: Sequence[Row], name_of: Callable[[Row], str]
) -> None:
    """Run ``command`` once for each of ``rows`` (asking first if it says ``confirm``),
    show the runs in a :class:`CommandOutputScreen`, and toast every run that was refused,
    failed or not found, naming the command and the task."""
    from aireiter_tui.ui.screens.confirm import ConfirmScreen

    if not rows:
        host.notify("No task is selected.", markup=False)
        return
    names = [name_of(row) for row in rows]
    planned: list[list[str] | NotRunnable] = []
    for row in rows:
        try:
            planned.append(expand(command, placeholder_values(row)))
        except NotRunnable as refusal:
            planned.append(refusal)

    def start() -> None:
        screen = CommandOutputScreen(command.title, names)
        host.app.push_screen(screen)
        host.run_worker(
            _run_all(host, screen, command, names, planned),
            group="row-commands",
            exit_on_error=False,
        )

    if not command.confirm:
        start()
        return
    runnable = [argv for argv in planned if isinstance(argv, list)]
    body = Text()
    body.append_text(safe(command.title, max_length=80, style="bold"))
    if len(rows) == 1:
        body.append("\nfor ")
        body.append_text(safe(names[0], max_length=120))
    else:
        body.append(f"\nfor {len(rows)} tasks")
    if runnable:
        body.append("\n\n")
        body.append_text(_shown_command(runnable[0]))
        if len(runnable) > 1:
            body.append(f"\n… and {len(runnable) - 1} more, one per task", style="dim")
    body.append("\n\nRun it?")
    question = ConfirmScreen(f"Run {command.name}", body, confirm_label="Run", danger=False)
    host.app.push_screen(question, lambda go: start() if go else None)


async def _run_all(
    host: Widget,
    screen: CommandOutputScreen,
    command: RowCommand,
    names: Sequence[str],
    planned: Sequence[list[str] | NotRunnable],
) -> None:
    failures = 0

    def failed(sentence: str) -> None:
        # Each failure as it happens, up to a few; the rest are counted at the end.
        nonlocal failures
        failures += 1
        if failures <= MAX_FAILURE_TOASTS:
            host.notify(sentence, severity="error", markup=False, timeout=10)

    slots = asyncio.Semaphore(PARALLEL_RUNS)

    async def one(index: int, argv: list[str]) -> None:
        async with slots:
            result = await run(argv, timeout=command.timeout)
        screen.show_result(index, result)
        if not result.ok:
            failed(f"{command.name} failed for {names[index]}: {result.problem}.")

    runs = []
    for index, argv in enumerate(planned):
        if isinstance(argv, NotRunnable):
            screen.show_refusal(index, str(argv))
            failed(f"{command.name} was not run for {names[index]}: {argv}.")
        else:
            runs.append(one(index, argv))
    await asyncio.gather(*runs)
    if failures > MAX_FAILURE_TOASTS:
        more = failures - MAX_FAILURE_TOASTS
        host.notify(
            f"{command.name} also failed or was not run for {more} more tasks (its dialog"
            " lists them).",
            severity="error",
            markup=False,
            timeout=10,
        )
