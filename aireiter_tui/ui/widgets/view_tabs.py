"""The saved views as tabs above the table, each with the number of tasks it holds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar

from rich.text import Text
from textual.widgets import Tab, Tabs

from aireiter_tui.domain.view import RowSource
from aireiter_tui.domain.views import ALL_TAB, View, ViewCounts
from aireiter_tui.ui.widgets.formatting import safe


def tab_label(name: str, count: int) -> Text:
    """``Failed 12``: the view's name (the user's words, shown as text) and its count."""
    label = safe(name, max_length=40)
    label.append(f" {count:,}", style="dim")
    return label


class ViewTabs(Tabs, can_focus=False):
    """An implicit "All" tab, then one tab per saved view, each labelled with its count.

    The counts follow the monitor's change batches (:meth:`take`) a changed row at a time
    (see :class:`~aireiter_tui.domain.views.ViewCounts`). The tabs never take the focus:
    the table keeps the keyboard, and number keys or ``<`` ``>`` switch. Hidden while
    there is no saved view.
    """

    DEFAULT_CSS = """
    ViewTabs {
        height: 1;
        background: $panel;
        & Underline {
            display: none;
        }
        & Tab.-active {
            color: $foreground;
            background: $accent 40%;
            text-style: bold;
        }
    }
    """

    #: The id of the tab at ``index`` (0: All).
    TAB_ID: ClassVar[str] = "view-{}"

    def __init__(self, views: Sequence[View], *, id: str | None = None) -> None:
        self._views = tuple(views)
        self._counts = ViewCounts(views)
        self._shown: list[tuple[str, int]] = []
        super().__init__(*self._make_tabs(views), id=id)
        self.display = bool(views)

    def _make_tabs(self, views: Sequence[View]) -> list[Tab]:
        names = [ALL_TAB, *(view.name for view in views)]
        self._shown = [(name, 0) for name in names]
        return [
            Tab(tab_label(name, 0), id=self.TAB_ID.format(index))
            for index, name in enumerate(names)
        ]

    @property
    def views(self) -> tuple[View, ...]:
        """The saved views, in tab order (the All tab is none of them)."""
        return self._views

    @property
    def index(self) -> int:
        """The active tab's place: 0 for All, then 1 for the first view, and so on."""
        active = self.active
        return int(active.rpartition("-")[2]) if active else 0

    def index_of(self, tab: Tab) -> int:
        return int((tab.id or "view-0").rpartition("-")[2])

    def select(self, index: int) -> None:
        """Make the tab at ``index`` the active one (0: All); a TabActivated follows."""
        self.active = self.TAB_ID.format(index)

    def take(self, rows: Mapping[str, RowSource], updated: Iterable[str], *, full: bool) -> None:
        """Take in the monitor's change batch (see :meth:`ViewCounts.take`)."""
        if self._counts.views:
            self._counts.take(rows, updated, full=full)

    @property
    def wants_stuck(self) -> bool:
        """Whether :meth:`show_counts` needs the stuck rows (a view of stuck tasks)."""
        return self._counts.wants_stuck

    def show_counts(self, total: int, stuck: Iterable[str] = ()) -> None:
        """Label each tab with its count now (only those that changed are drawn again)."""
        if not self._counts.views:
            return
        counts = [total, *self._counts.counts(stuck)]
        for index, ((name, shown), count) in enumerate(zip(self._shown, counts, strict=True)):
            if count != shown:
                self._shown[index] = (name, count)
                self.query_one(f"#{self.TAB_ID.format(index)}", Tab).label = tab_label(name, count)

    async def add_view(self, view: View, rows: Mapping[str, RowSource]) -> None:
        """Add a tab for ``view`` at the end (counted afresh) and make it the active one."""
        self._views = views = (*self._views, view)
        self._counts.add(view, rows)
        index = len(views)
        self._shown.append((view.name, 0))
        await self.add_tab(Tab(tab_label(view.name, 0), id=self.TAB_ID.format(index)))
        self.display = True
        self.select(index)

    def replace_view(self, index: int, view: View) -> None:
        """Put ``view`` in place of the view at tab ``index`` (its columns changed: the
        filters, and so the count, are the same)."""
        views = list(self._views)
        views[index - 1] = view
        self._views = tuple(views)
