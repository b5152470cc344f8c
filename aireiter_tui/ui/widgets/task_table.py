"""A virtualised task table: renders only the rows on screen.

Textual's ``DataTable`` measures every cell of every row after each change: filling it
with 10,000 rows took 1.4-2.2 s here (see ``bench/``), over the 1 s budget for the
first frame. This widget keeps only an ordered list of row keys and asks for a row's
cells when that row is about to be painted, so the cost of a frame follows the screen
height, and the cost of an update follows the number of changed rows.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence, Set
from typing import ClassVar, Final

from rich.segment import Segment
from rich.style import Style
from rich.text import Span, Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from aireiter_tui.domain.view import LiveOrder
from aireiter_tui.ui.widgets.columns import MIN_FLEXIBLE, Column, FitText

CellProvider = Callable[[str], Sequence[Text]]
"""Returns the cells of the row with this key, one ``Text`` per column, in column order.
A :class:`~aireiter_tui.ui.widgets.columns.FitText` cell is asked for its column's width."""
NaturalWidths = Callable[[], Mapping[str, int]]
"""Returns, by column key, the width that would show every row's cell whole (called for
each line painted: it must be cheap)."""

#: Characters of a cell kept per cell of its column before it is measured: one character
#: fills a cell, or a base character and a few combining marks; the rest is never shown.
_CHARS_PER_CELL: Final = 4
#: Before a marked row's cells while any row is marked (unmarked rows get blanks): the
#: mark reads without colour. Not the status column's ✔, which means completed.
MARK_GLYPH: Final = "✓ "
#: Seconds within which the scrollbar follows rows added below the screen.
RESIZE_DELAY: Final = 0.5


def _cell_text(cell: Text | str, width: int) -> Text:
    """A copy of ``cell`` cut to what a column ``width`` cells wide can show.

    Copying a ``Text`` scans its whole string, and Rich measures all of it before
    truncating, in Python for anything but plain ASCII: one 900,000-character CJK cell
    cost seconds and megabytes on every repaint (the clock repaints the visible rows
    each second). cells.py cuts its cells to their column already; this keeps any cell
    from costing more than its width.
    """
    if isinstance(cell, str):
        cell = Text(cell)
    limit = _CHARS_PER_CELL * max(width, 1)
    if len(cell) <= limit:
        return cell.copy()
    text = Text(
        cell.plain[:limit],
        style=cell.style,
        justify=cell.justify,
        overflow=cell.overflow,
        no_wrap=cell.no_wrap,
        end=cell.end,
    )
    text.spans = [
        Span(span.start, min(span.end, limit), span.style)
        for span in cell.spans
        if span.start < limit
    ]
    # The kept part may still fit (zero-width characters): it must read as cut.
    text.append("…")
    return text


class TaskTable(ScrollView, can_focus=True):
    """A keyboard and mouse driven table over an ordered list of row keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "cursor_home", "First", show=False),
        Binding("end,G", "cursor_end", "Last", show=False),
        Binding("enter", "select", "Details", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "task-table--header",
        "task-table--cursor",
        "task-table--sorted",
        "task-table--odd",
        "task-table--marked",
    }

    DEFAULT_CSS = """
    TaskTable {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
        background: $surface;
        scrollbar-gutter: stable;
    }
    TaskTable > .task-table--header {
        background: $panel;
        color: $text;
        text-style: bold;
    }
    TaskTable > .task-table--sorted {
        color: $accent;
        text-style: bold underline;
    }
    TaskTable > .task-table--cursor {
        background: $block-cursor-blurred-background;
    }
    TaskTable:focus > .task-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    TaskTable > .task-table--odd {
        background: $surface-lighten-1 20%;
    }
    TaskTable > .task-table--marked {
        background: $accent 25%;
    }
    """

    cursor_row: reactive[int] = reactive(0, always_update=False, init=False)
    """Index into the current order of the highlighted row."""

    class _TableMessage(Message):
        def __init__(self, table: TaskTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> TaskTable:
            return self.table

    class CursorMoved(_TableMessage):
        """The highlighted row changed (``key`` is None when the table is empty)."""

        def __init__(self, table: TaskTable, key: str | None) -> None:
            super().__init__(table)
            self.key = key

    class Selected(_TableMessage):
        """Enter or a double click on a row."""

        def __init__(self, table: TaskTable, key: str) -> None:
            super().__init__(table)
            self.key = key

    class HeaderClicked(_TableMessage):
        """A column header was clicked (the app sorts by it)."""

        def __init__(self, table: TaskTable, column: str) -> None:
            super().__init__(table)
            self.column = column

    def __init__(
        self,
        columns: Sequence[Column],
        cells: CellProvider,
        *,
        natural: NaturalWidths | None = None,
        marks: Collection[str] = frozenset(),
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._columns = tuple(columns)
        self._cells = cells
        self._natural = natural
        self._order: Sequence[str] = []
        #: Where a key is in the order (None: not in it).
        nowhere: dict[str, int] = {}
        self._position: Callable[[str], int | None] = nowhere.get
        self._cache: dict[str, Strip] = {}
        self._resize_timer: Timer | None = None
        self._layout: list[tuple[int, Column, int]] = []
        self._layout_width: tuple[object, ...] = ()
        self.sorted_column: str | None = None
        self.sort_reverse = False
        #: The marked row keys (drawn with :data:`MARK_GLYPH` and their own background).
        self.marks = marks
        self._gutter_shown = False

    # --- data -----------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def order(self) -> Sequence[str]:
        return self._order

    @property
    def cursor_key(self) -> str | None:
        if not self._order:
            return None
        return self._order[min(self.cursor_row, len(self._order) - 1)]

    def set_order(self, order: Sequence[str], *, keep_key: str | None = None) -> None:
        """Show these row keys in this order, keeping the cursor on the same task. A
        :class:`LiveOrder` is shown as it is and as it changes (see :meth:`change_order`);
        any other sequence is indexed here."""
        current = keep_key if keep_key is not None else self.cursor_key
        self._order = order
        if isinstance(order, LiveOrder):
            self._position = order.index_of
        else:
            self._position = {key: index for index, key in enumerate(order)}.get
        self._cache.clear()
        self.virtual_size = Size(0, len(order) + 1)  # (rows are cut to the width: see on_resize)
        self._place_cursor(current)
        self.refresh()
        self.post_message(self.CursorMoved(self, self.cursor_key))

    def change_order(self, change: Callable[[], object], changed: Iterable[str]) -> None:
        """Let ``change`` move rows of the shown :class:`LiveOrder` in place (``changed``:
        the rows whose data changed), keeping the cursor on the same task. Only what
        shows is painted again: the changed rows, or the whole screen when rows came,
        went or moved on it."""
        current = self.cursor_key
        before = (self.cursor_row, self._window())
        length = len(self._order)
        change()
        self._place_cursor(current)
        if (self.cursor_row, self._window()) == before:
            # The rows on screen stay (rows came or went below them, say, as a long list
            # is read): only the changed ones are painted again, and the scrollbar
            # follows within RESIZE_DELAY (a new height lays the screen out again and
            # paints it whole: part after part, that held the keys).
            if len(self._order) != length and self._resize_timer is None:
                self._resize_timer = self.set_timer(RESIZE_DELAY, self._fit_height)
            self.invalidate(changed)
            return
        self._fit_height()
        self._cache.clear()
        self.refresh()
        if self.cursor_key != current:
            self.post_message(self.CursorMoved(self, self.cursor_key))

    def _window(self) -> list[str]:
        """The keys of the rows on screen, top to bottom."""
        top = int(self.scroll_y)
        bottom = min(len(self._order), top + self.scrollable_content_region.height)
        return [self._order[index] for index in range(top, bottom)]

    def _place_cursor(self, key: str | None) -> None:
        """The cursor on the row with ``key`` (where it was when that row is gone)."""
        target = self._position(key) if key is not None else None
        if target is None:
            target = min(self.cursor_row, max(0, len(self._order) - 1))
        self.set_reactive(TaskTable.cursor_row, target)
        self._scroll_to_cursor()

    def shows(self, key: str) -> bool:
        """Whether the row with this key is in the order (not hidden by a filter)."""
        return self._position(key) is not None

    def invalidate(self, keys: Iterable[str]) -> None:
        """Repaint these rows (their data changed); rows off screen cost nothing."""
        keys = keys if isinstance(keys, Set) else set(keys)
        cache = self._cache  # (at most a few hundred strips: cheaper to walk than the keys)
        for key in [key for key in cache if key in keys]:
            del cache[key]
        # The rows on screen are looked up among the keys, not each key in the order
        # (a batch of a thousand answers holds a few rows on screen, if any).
        for line, key in enumerate(self._window(), 1):
            if key in keys:
                self.refresh_line(line)

    def invalidate_all(self) -> None:
        self._cache.clear()
        self.refresh()

    @property
    def columns(self) -> Sequence[Column]:
        """The columns shown when the terminal is wide enough, in order."""
        return self._columns

    def set_columns(self, columns: Sequence[Column]) -> None:
        """Show these columns, in this order (the cell provider gives their cells)."""
        self._columns = tuple(columns)
        self._layout_width = ()
        self.invalidate_all()

    def marks_changed(self, keys: Iterable[str]) -> None:
        """Repaint rows marked or unmarked; all of them when the first mark comes or the
        last goes (the mark's gutter takes room from the columns, or gives it back)."""
        if bool(self.marks) != self._gutter_shown:
            self.invalidate_all()
        else:
            self.invalidate(keys)

    def _gutter(self) -> int:
        self._gutter_shown = bool(self.marks)
        return len(MARK_GLYPH) if self._gutter_shown else 0

    def move_to_key(self, key: str) -> bool:
        index = self._position(key)
        if index is None:
            return False
        self.cursor_row = index
        return True

    # --- cursor ---------------------------------------------------------------------
    def validate_cursor_row(self, value: int) -> int:
        return max(0, min(value, len(self._order) - 1)) if self._order else 0

    def watch_cursor_row(self, old: int, new: int) -> None:
        for index in (old, new):
            if 0 <= index < len(self._order):
                self._cache.pop(self._order[index], None)
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.CursorMoved(self, self.cursor_key))

    def _fit_height(self) -> None:
        """The scrollable height to the order's (a row per task, and the header)."""
        if self._resize_timer is not None:
            self._resize_timer.stop()
            self._resize_timer = None
        height = len(self._order) + 1
        if self.virtual_size.height != height:
            self.virtual_size = Size(0, height)

    def _scroll_to_cursor(self) -> None:
        if self.cursor_row + 2 > self.virtual_size.height:
            self._fit_height()  # (rows below a height not fitted yet must be reached)
        visible = max(1, self.scrollable_content_region.height - 1)
        top = int(self.scroll_y)
        # force: right after set_order the scrollbar still reflects the old order (none
        # for a one-row filter), and without one Textual ignores the scroll.
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True, force=True)
        elif self.cursor_row >= top + visible:
            y = self.cursor_row - visible + 1
            self.scroll_to(y=y, animate=False, immediate=True, force=True)

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 2)

    def action_cursor_up(self) -> None:
        self.cursor_row -= 1

    def action_cursor_down(self) -> None:
        self.cursor_row += 1

    def action_page_up(self) -> None:
        self.cursor_row -= self._page()

    def action_page_down(self) -> None:
        self.cursor_row += self._page()

    def action_cursor_home(self) -> None:
        self.cursor_row = 0

    def action_cursor_end(self) -> None:
        self.cursor_row = len(self._order) - 1

    def action_select(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            column = self._column_at(offset.x)
            if column is not None:
                self.post_message(self.HeaderClicked(self, column))
            return
        index = int(self.scroll_y) + offset.y - 1
        if 0 <= index < len(self._order):
            self.cursor_row = index
            if event.chain == 2:
                self.action_select()

    def _column_at(self, x: int) -> str | None:
        start = self._gutter()
        for _, column, width in self._column_layout():
            if start <= x < start + width + 1:
                return column.key
            start += width + 1
        return None

    # --- rendering ------------------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        # The virtual width stays 0: rows are drawn to the width they get and never
        # scroll sideways. Set to the width here, it laid the screen out once more at
        # every start (16 ms), as soon as the table had its size.
        self._cache.clear()
        self._scroll_to_cursor()

    def _column_layout(self) -> list[tuple[int, Column, int]]:
        """(index, column, width) per visible column: low-priority ones go when narrow
        (never the sorted one); then, while the flexible column keeps
        :data:`MIN_FLEXIBLE` cells, the columns with ``grow_to`` widen (in priority order)
        to show their widest cell whole (``natural``), and the flexible one takes the rest.
        """
        width = self.scrollable_content_region.width - self._gutter()
        natural = self._natural() if self._natural is not None else {}
        key = (width, self.sorted_column, tuple(natural.items()))
        if key == self._layout_width:
            return self._layout
        if self._layout_width:
            # A longer ID or model arrived (or went): rows painted in the old widths,
            # cached or on screen, are painted again.
            self._cache.clear()
            self.refresh()
        by_priority = sorted(self._columns, key=lambda c: (c.key != self.sorted_column, c.priority))
        columns = by_priority
        while columns:
            fixed = sum(c.width + 1 for c in columns if c.width)
            flexible = [c for c in columns if not c.width]
            spare = width - fixed - len(flexible)
            if spare >= MIN_FLEXIBLE * len(flexible) or len(columns) == 1:
                break
            columns = columns[:-1]
        shown = [(i, c) for i, c in enumerate(self._columns) if c in columns]
        widths = {c.key: c.width for _, c in shown}
        has_flexible = any(not c.width for c in columns)
        spare = max(4, width - sum(w + 1 for w in widths.values() if w) - 1)
        for column in columns:
            if not column.width or not column.grow_to:
                continue
            wanted = min(column.grow_to, natural.get(column.key, 0)) - column.width
            extra = min(max(0, wanted), max(0, spare - (MIN_FLEXIBLE if has_flexible else 0)))
            widths[column.key] += extra
            spare -= extra
        self._layout = [(i, c, widths[c.key] or spare) for i, c in shown]
        self._layout_width = key
        return self._layout

    def _render_cells(
        self,
        cells: Sequence[Text | str],
        base: Style,
        sorted_style: Style,
        *,
        marked: bool = False,
    ) -> Strip:
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        if self._gutter():
            line.append(MARK_GLYPH if marked else " " * len(MARK_GLYPH), style="bold")
        for index, column, width in self._column_layout():
            cell = cells[index] if index < len(cells) else ""
            text = _cell_text(cell.fit_cell(width) if isinstance(cell, FitText) else cell, width)
            if column.key == self.sorted_column and isinstance(cell, str):
                text.stylize(sorted_style)
            text.truncate(width, overflow="ellipsis", pad=False)
            text.align(column.justify, width)  # type: ignore[arg-type]
            line.append_text(text)
            line.append(" ")
        segments = list(line.render(self.app.console))
        width = self.scrollable_content_region.width
        return Strip(segments).crop_extend(0, width, base).apply_style(base)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        header_style = self.get_component_rich_style("task-table--header")
        if y == 0:
            sorted_style = self.get_component_rich_style("task-table--sorted", partial=True)
            labels = [column.label for column in self._columns]
            for index, column, width in self._column_layout():
                if column.key == self.sorted_column:
                    # The arrow must show even in a narrow column: shorten the word.
                    arrow = " ▼" if self.sort_reverse else " ▲"
                    labels[index] = column.label[: max(1, width - len(arrow))] + arrow
            return self._render_cells(labels, header_style, sorted_style)
        index = int(self.scroll_y) + y - 1
        if index >= len(self._order):
            return Strip.blank(width, self.rich_style)
        key = self._order[index]
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        marked = key in self.marks
        if index == self.cursor_row:
            base = self.rich_style + self.get_component_rich_style("task-table--cursor")
        elif marked:
            base = self.rich_style + self.get_component_rich_style("task-table--marked")
        elif index % 2:
            base = self.rich_style + self.get_component_rich_style("task-table--odd")
        else:
            base = self.rich_style
        strip = self._render_cells(self._cells(key), base, Style(), marked=marked)
        if index == self.cursor_row:
            # The cursor's colours win over the cells' own, or a green status on a light
            # cursor (nord, gruvbox) becomes unreadable.
            cursor = self.get_component_rich_style("task-table--cursor")
            strip = Strip(Segment.apply_style(strip, post_style=cursor), strip.cell_length)
        if len(self._cache) > 512:
            self._cache.clear()
        self._cache[key] = strip
        return strip
