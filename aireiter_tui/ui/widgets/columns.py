"""What the task table needs to know about a column, about a cell that fits itself, and
which columns the config or the column dialog picked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from rich.text import Text

from aireiter_tui.domain.views import ColumnChoice


@dataclass(frozen=True, slots=True)
class Column:
    """One table column. ``width`` 0 means "take the space left" (one such column)."""

    key: str
    label: str
    width: int
    #: Lower numbers survive longer when the terminal is narrow.
    priority: int = 0
    justify: str = "left"
    #: A fixed column may grow up to this width to show what its cells hold whole, when
    #: the flexible one keeps room enough (see ``TaskTable``'s ``natural`` widths).
    grow_to: int = 0


class FitText(Text):
    """A cell that decides itself what to show in a given width (a label and an ID
    shortened each its own way, rather than the whole cut at the end).

    Its plain text is the whole value; the table asks :meth:`fit_cell` for the column's width.
    """

    __slots__ = ()

    def fit_cell(self, width: int) -> Text:
        """What to show in ``width`` cells (this default: the text as it is; the table
        cuts what does not fit)."""
        return self.copy()


#: The flexible column keeps at least this much room when others grow or stay.
MIN_FLEXIBLE = 12


def arrange(
    catalogue: Sequence[Column], choices: Sequence[ColumnChoice] | None
) -> list[tuple[int, Column]]:
    """The columns ``choices`` pick from ``catalogue`` (None: all of them), in their
    order, each with its index in the catalogue (where a row's cell for it is). A width
    chosen is the column's width: it no longer fills the room left or grows to its cells."""
    if choices is None:
        return list(enumerate(catalogue))
    index = {column.key: position for position, column in enumerate(catalogue)}
    picked = []
    for choice in choices:
        position = index[choice.id]
        column = catalogue[position]
        if choice.width is not None:
            column = replace(column, width=choice.width, grow_to=0)
        picked.append((position, column))
    return picked


def default_choices(catalogue: Sequence[Column]) -> tuple[ColumnChoice, ...]:
    """Every column of ``catalogue`` at its own width: what the dialog's reset brings."""
    return tuple(ColumnChoice(column.key) for column in catalogue)
