"""What the task table needs to know about a column, and about a cell that fits itself."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text


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
