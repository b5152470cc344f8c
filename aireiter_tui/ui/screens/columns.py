"""The column dialog: which columns the table shows, in what order, how wide."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from aireiter_tui.domain.views import MAX_WIDTH, MIN_WIDTH, ColumnChoice
from aireiter_tui.ui.screens.dialog import DialogScreen
from aireiter_tui.ui.widgets.columns import Column, default_choices
from aireiter_tui.ui.widgets.formatting import safe

#: Cells of the column's header in the list, so the ids and widths line up.
_LABEL_CELLS: Final = 9
_ID_CELLS: Final = 9

Choices = tuple[ColumnChoice, ...]


@dataclass(slots=True)
class _Entry:
    column: Column
    shown: bool
    width: int | None


class ColumnsScreen(DialogScreen[Choices]):
    """Show or hide, reorder and size the table's columns; each change shows in the table
    at once (``on_change``). Dismisses with the columns chosen, whatever closed it.

    Args:
        catalogue: every column the table has, in its default order.
        choices: the columns shown now (None: every column at its own width).
        on_change: called with the columns after each change.
        scope: whose columns these are, when there are saved views (a view's, or every
            tab's without its own).
        remembered: whether closing writes them to the config (not in --demo).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space,x", "toggle_shown", "Show/hide", id="columns.toggle"),
        Binding("shift+up,K", "move(-1)", "Move up", id="columns.move_up"),
        Binding("shift+down,J", "move(1)", "Move down", id="columns.move_down"),
        Binding("plus,equals_sign,right,l", "resize(1)", "Wider", id="columns.wider"),
        Binding("minus,left,h", "resize(-1)", "Narrower", id="columns.narrower"),
        Binding("r", "reset", "Reset", id="columns.reset"),
        Binding("escape,c,q", "close", "Done", id="columns.close"),
    ]

    DEFAULT_CSS = """
    ColumnsScreen {
        & > #dialog {
            width: 60;
        }
        & OptionList {
            height: auto;
            max-height: 14;
            margin-bottom: 1;
        }
        & #scope {
            color: $text-muted;
            margin-bottom: 1;
        }
    }
    """

    def __init__(
        self,
        catalogue: Sequence[Column],
        choices: Choices | None,
        on_change: Callable[[Choices], object],
        *,
        scope: str | None = None,
        remembered: bool = True,
    ) -> None:
        super().__init__()
        self._catalogue = tuple(catalogue)
        self._on_change = on_change
        self._scope = scope
        self._remembered = remembered
        self._entries = self._entries_for(choices)

    def _entries_for(self, choices: Choices | None) -> list[_Entry]:
        """The shown columns in their order, then the hidden ones in the table's order."""
        by_key = {column.key: column for column in self._catalogue}
        picked = choices if choices is not None else default_choices(self._catalogue)
        entries = [_Entry(by_key[choice.id], True, choice.width) for choice in picked]
        chosen = {choice.id for choice in picked}
        entries += [_Entry(c, False, None) for c in self._catalogue if c.key not in chosen]
        return entries

    @property
    def choices(self) -> Choices:
        """The columns shown, in order, with the widths set."""
        return tuple(ColumnChoice(e.column.key, e.width) for e in self._entries if e.shown)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as dialog:
            dialog.border_title = Text("Columns")
            if self._scope is not None:
                yield Static(safe(f"For {self._scope}.", max_length=80), id="scope")
            yield OptionList(*self._options(), id="columns")
            kept = "and remembers" if self._remembered else "(kept for this run: --demo)"
            yield Static(
                Text(
                    "Space shows or hides · shift+↑ ↓ moves · + - width\n"
                    f"r resets · Esc closes {kept}"
                ),
                id="hint",
            )
            yield Static(id="problem", markup=False)

    def on_mount(self) -> None:
        listing = self.query_one(OptionList)
        listing.focus()
        listing.highlighted = 0

    def _line(self, entry: _Entry) -> Text:
        column = entry.column
        line = Text("[x] " if entry.shown else "[ ] ", style="bold" if entry.shown else "dim")
        line.append(f"{column.label:<{_LABEL_CELLS}} ", style="" if entry.shown else "dim")
        line.append(f"{column.key:<{_ID_CELLS}} ", style="italic dim")
        if entry.width is not None:
            line.append(f"{entry.width} cells")
        elif not column.width:
            line.append("fills the room left", style="dim")
        elif column.grow_to:
            line.append(f"{column.width} cells, grows to {column.grow_to}", style="dim")
        else:
            line.append(f"{column.width} cells", style="dim")
        return line

    def _options(self) -> list[Option]:
        return [Option(self._line(entry)) for entry in self._entries]

    def _cursor(self) -> int:
        highlighted = self.query_one(OptionList).highlighted
        return 0 if highlighted is None else highlighted

    def _changed(self, cursor: int) -> None:
        listing = self.query_one(OptionList)
        for index, entry in enumerate(self._entries):
            listing.replace_option_prompt_at_index(index, self._line(entry))
        listing.highlighted = cursor
        self._say(None)
        self._on_change(self.choices)

    def _say(self, problem: str | None) -> None:
        widget = self.query_one("#problem", Static)
        widget.update(Text(problem or ""))
        widget.set_class(problem is not None, "-shown")

    def action_toggle_shown(self) -> None:
        """Show the highlighted column, or hide it (one column always stays)."""
        entry = self._entries[self._cursor()]
        if entry.shown and len(self.choices) == 1:
            self._say(f"{entry.column.label} is the last column shown: it stays.")
            self.app.bell()
            return
        entry.shown = not entry.shown
        self._changed(self._cursor())

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        # Enter or a click on a line: the same as space.
        event.stop()
        self.action_toggle_shown()

    def action_move(self, step: int) -> None:
        """Move the highlighted column up (-1) or down (1), the cursor with it."""
        cursor = self._cursor()
        target = cursor + step
        if not 0 <= target < len(self._entries):
            return
        entries = self._entries
        entries[cursor], entries[target] = entries[target], entries[cursor]
        self._changed(target)

    def action_resize(self, step: int) -> None:
        """Widen (1) or narrow (-1) the highlighted column by a cell."""
        entry = self._entries[self._cursor()]
        column = entry.column
        current = entry.width if entry.width is not None else column.width
        if not current:
            self._say(f"{column.label} fills the room the other columns leave.")
            self.app.bell()
            return
        width = min(max(current + step, MIN_WIDTH), MAX_WIDTH)
        if width == entry.width:
            self.app.bell()
            return
        entry.width = width
        self._changed(self._cursor())

    def action_reset(self) -> None:
        """Every column, in the table's order, at its own width."""
        self._entries = self._entries_for(None)
        self._changed(0)

    def action_close(self) -> None:
        self.dismiss(self.choices)
