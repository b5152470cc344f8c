"""What the task table needs to know about a column."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Column:
    """One table column. ``width`` 0 means "take the space left" (one such column)."""

    key: str
    label: str
    width: int
    #: Lower numbers survive longer when the terminal is narrow.
    priority: int = 0
    justify: str = "left"
    #: A fixed column may grow to this width when the flexible one has plenty of room.
    grow_to: int = 0


#: Columns with ``grow_to`` widen only once the flexible column has this much room.
ROOMY = 60
