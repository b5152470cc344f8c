"""The key reference: every binding, grouped, with the status legend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.widgets import Static

from aireiter_tui.domain.models import TaskStatus
from aireiter_tui.ui.screens.dialog import DialogScreen
from aireiter_tui.ui.widgets.cells import STUCK_SYMBOL
from aireiter_tui.ui.widgets.formatting import (
    GONE_STYLE,
    GONE_SYMBOL,
    GONE_WORD,
    NEVER_FETCHED,
    STALE_STYLE,
    STALE_SYMBOL,
    STATUS_STYLES,
    STATUS_SYMBOLS,
    safe,
)


@dataclass(frozen=True, slots=True)
class HelpRow:
    """One line of the key reference.

    Attributes:
        keys: The key or keys as the user presses them (``"a"``, ``"ctrl+r"``).
        description: What they do.
        group: The heading the row is listed under.
    """

    keys: str
    description: str
    group: str


def status_legend() -> Text:
    """Five lines explaining every status symbol the table uses."""
    legend = Text()
    for status in TaskStatus:
        if legend:
            legend.append("  ")
        legend.append(f"{STATUS_SYMBOLS[status]} ", style=STATUS_STYLES[status])
        legend.append(status.value)
    # Its own line: appended to the first one it would wrap at 80 columns.
    legend.append(f"\n{NEVER_FETCHED} ", style="dim")
    legend.append("not fetched yet: no answer from the server so far")
    legend.append(f"\n{STALE_SYMBOL} ", style=STALE_STYLE)
    legend.append("could not refresh: the status shown is the last one known")
    legend.append(f"\n{GONE_SYMBOL} ", style=GONE_STYLE)
    legend.append(f"{GONE_WORD}: the server answered for it before, and no longer knows it")
    legend.append(f"\n{STUCK_SYMBOL} ", style=STALE_STYLE)
    legend.append("stuck: running longer than 95 % of its model's tasks took")
    return legend


def group_rows(rows: Sequence[HelpRow]) -> dict[str, list[HelpRow]]:
    """Rows by group, groups in the order they first appear."""
    groups: dict[str, list[HelpRow]] = {}
    for row in rows:
        groups.setdefault(row.group, []).append(row)
    return groups


class HelpScreen(DialogScreen[None]):
    """Show the key reference. Escape, ``q`` or ``?`` close it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,q,question_mark",
            "close",
            "Close",
            id="help.close",
            tooltip="Back to the dashboard",
        ),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        & > #dialog {
            width: 76;
            border-subtitle-color: $text-muted;
        }
        & .intro {
            height: auto;
            color: $text-muted;
        }
        & .legend {
            height: auto;
            margin-bottom: 1;
        }
        & .group {
            height: auto;
            color: $text-primary;
            text-style: bold underline;
            margin-top: 1;
        }
        & .keys {
            grid-size: 2;
            grid-columns: auto 1fr;
            grid-gutter: 0 2;
            grid-rows: auto;
            height: auto;
        }
        & .key {
            color: $accent;
            text-style: bold;
            width: auto;
            min-width: 8;
            height: auto;
        }
        & .description {
            height: auto;
        }
        & .problem {
            height: auto;
            color: $text-warning;
        }
    }
    """

    def __init__(self, rows: Sequence[HelpRow], *, problems: Sequence[str] = ()) -> None:
        """Build the reference.

        Args:
            rows: Every binding to list. Keys may come from the user's config, so all
                text is shown literally.
            problems: What the banner said about the config, the watchlist and the
                client, listed here too: the banner's can be hidden.
        """
        super().__init__()
        self._rows = tuple(rows)
        self._problems = tuple(problems)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog") as dialog:
            dialog.border_title = Text("aireiter-tui — keys")
            dialog.border_subtitle = Text("Escape closes")
            yield Static(
                Text("Each task's status is shown by a symbol, so it reads without colour:"),
                classes="intro",
            )
            yield Static(status_legend(), classes="legend")
            if self._problems:
                yield Static(Text("Problems found"), classes="group")
                for problem in self._problems:
                    yield Static(safe(problem, max_length=300), classes="problem")
            yield Static(
                Text("Keys can be remapped in config.toml [keys]."),
                classes="intro",
            )
            for group, rows in group_rows(self._rows).items():
                yield Static(safe(group, max_length=60), classes="group")
                with Grid(classes="keys"):
                    for row in rows:
                        yield Static(safe(row.keys, max_length=30), classes="key")
                        yield Static(safe(row.description, max_length=200), classes="description")

    def on_mount(self) -> None:
        # The scroll container takes focus so arrows and page keys scroll the reference.
        self.query_one("#dialog", VerticalScroll).focus()

    def action_close(self) -> None:
        """Back to where the user was."""
        self.dismiss(None)
