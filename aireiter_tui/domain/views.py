"""Saved views and the columns a table shows, without a terminal: how the config spells
them (``columns = ["task", "status", "model:14"]``, ``[[views]]`` tables), and how many
rows each view holds, kept up to date a changed row at a time.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

from aireiter_tui.domain.errors import ConfigError
from aireiter_tui.domain.sanitize import one_line
from aireiter_tui.domain.view import (
    COLUMN_IDS,
    RowSource,
    SortKey,
    StatusFilter,
    ViewSpec,
    matches,
)

#: The narrowest and widest a column can be set (3: one letter of its header and the
#: sort arrow).
MIN_WIDTH: Final = 3
MAX_WIDTH: Final = 200
#: The longest view name: a tab holds it beside its count.
MAX_VIEW_NAME: Final = 30
#: The implicit first tab, every watched task: no view may take its name.
ALL_TAB: Final = "All"
_KNOWN: Final = ", ".join(COLUMN_IDS)
_CONTROL_RE: Final = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True, slots=True)
class ColumnChoice:
    """One column to show: its id (see :data:`~aireiter_tui.domain.view.COLUMN_IDS`) and
    its width in cells (``None``: the column's own)."""

    id: str
    width: int | None = None

    def spelled(self) -> str:
        """As the config writes it: ``"task"``, ``"model:14"``."""
        return self.id if self.width is None else f"{self.id}:{self.width}"


def parse_columns(value: object) -> tuple[ColumnChoice, ...]:
    """The config's ``columns`` list (``["task", "status", "model:14"]``).

    Raises:
        ValueError: what is wrong, naming the known column ids.
    """
    if not isinstance(value, list) or not value:
        raise ValueError(f'a list of column ids such as ["task", "status", "model:14"] ({_KNOWN})')
    choices: list[ColumnChoice] = []
    for item in value:
        if not isinstance(item, str):
            raise ValueError(f"a list of column ids as strings ({_KNOWN})")
        ident, colon, width = item.strip().partition(":")
        ident = ident.strip().lower()
        if ident not in COLUMN_IDS:
            shown = one_line(ident, 30)
            raise ValueError(f'a list of known column ids: "{shown}" is none of {_KNOWN}')
        if any(choice.id == ident for choice in choices):
            raise ValueError(f'a list of column ids, each once: "{ident}" is there twice')
        size: int | None = None
        if colon:
            width = width.strip()
            if not width.isdigit() or not MIN_WIDTH <= int(width) <= MAX_WIDTH:
                raise ValueError(
                    f"a list of column ids, each with an optional width from {MIN_WIDTH} to"
                    f' {MAX_WIDTH} cells ("model:14"): "{one_line(item, 30)}" is not'
                )
            size = int(width)
        choices.append(ColumnChoice(ident, size))
    return tuple(choices)


def view_name_problem(name: str, taken: Collection[str] = ()) -> str | None:
    """Why ``name`` cannot name a view (``taken``: the other views' names), or ``None``."""
    stripped = name.strip()
    if not stripped:
        return "a view needs a name"
    if _CONTROL_RE.search(stripped):
        return "the name contains control characters"
    if len(stripped) > MAX_VIEW_NAME:
        return f"the name is {len(stripped)} characters long; at most {MAX_VIEW_NAME}"
    if stripped.casefold() == ALL_TAB.casefold():
        return f'"{ALL_TAB}" is the tab of every task'
    if stripped.casefold() in {other.casefold() for other in taken}:
        return f'a view is named "{stripped}" already'
    return None


@dataclass(frozen=True, slots=True)
class View:
    """A saved view: a tab above the table that sets the filters, the sort and the
    columns (``None``: the columns of the config or the column dialog)."""

    name: str
    text: str = ""
    status: StatusFilter = StatusFilter.ALL
    sort: SortKey = SortKey.ADDED
    reverse: bool = False
    columns: tuple[ColumnChoice, ...] | None = None

    @property
    def spec(self) -> ViewSpec:
        return ViewSpec(self.text, self.status, self.sort, self.reverse)

    @classmethod
    def of(cls, name: str, spec: ViewSpec, columns: tuple[ColumnChoice, ...] | None) -> View:
        """A view named ``name`` that shows what ``spec`` and ``columns`` show."""
        return cls(name.strip(), spec.text, spec.status, spec.sort, spec.reverse, columns)

    def to_toml(self) -> dict[str, object]:
        """The ``[[views]]`` table that reads back as this view (defaults left out)."""
        table: dict[str, object] = {"name": self.name}
        if self.text:
            table["filter"] = self.text
        if self.status is not StatusFilter.ALL:
            table["status"] = self.status.value
        if self.sort is not SortKey.ADDED or self.reverse:
            table["sort"] = ("-" if self.reverse else "") + self.sort.value
        if self.columns is not None:
            table["columns"] = [choice.spelled() for choice in self.columns]
        return table


_VIEW_KEYS: Final = ("name", "filter", "status", "sort", "columns")
_STATUSES: Final = ", ".join(status.value for status in StatusFilter)
_SORTS: Final = ", ".join(key.value for key in SortKey)


def parse_views(value: object, origin: str) -> tuple[View, ...]:
    """The config's ``[[views]]`` tables (``origin`` names the file in messages).

    Raises:
        ConfigError: a view is not a table, has an unknown key, no usable name, an
            unknown status or sort, or bad columns.
    """
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(table, dict) for table in value):
        raise ConfigError(
            f'{origin}: "views" must be [[views]] tables, each with a name, like'
            ' [[views]] name = "Failed" status = "failed"'
        )
    views: list[View] = []
    for number, table in enumerate(value, 1):
        where = f"views[{number}]"
        for key in table:
            if key not in _VIEW_KEYS:
                raise ConfigError(
                    f'{origin}: unknown key "{where}.{one_line(str(key), 40)}" (known keys:'
                    f" {', '.join(_VIEW_KEYS)})"
                )
        name = table.get("name")
        problem = (
            view_name_problem(name, [view.name for view in views])
            if isinstance(name, str)
            else "a view needs a name (a string)"
        )
        if problem is not None:
            raise ConfigError(f'{origin}: "{where}.name": {problem}')
        assert isinstance(name, str)
        views.append(_view(table, name.strip(), f'{origin}: "{where}', origin))
    return tuple(views)


def _view(table: Mapping[str, object], name: str, where: str, origin: str) -> View:
    text = table.get("filter", "")
    if not isinstance(text, str):
        raise ConfigError(f'{where}.filter" must be text to find in IDs, labels, models, prompts')
    status = table.get("status", StatusFilter.ALL.value)
    if status not in {member.value for member in StatusFilter}:
        shown = one_line(str(status), 30)
        raise ConfigError(f'{where}.status" must be one of {_STATUSES}, got "{shown}"')
    sort = table.get("sort", SortKey.ADDED.value)
    reverse = isinstance(sort, str) and sort.startswith("-")
    key = sort[1:] if isinstance(sort, str) and reverse else sort
    if key not in {member.value for member in SortKey}:
        shown = one_line(str(sort), 30)
        raise ConfigError(
            f'{where}.sort" must be a column id, "-" before it to reverse ({_SORTS}), got "{shown}"'
        )
    columns = None
    if "columns" in table:
        try:
            columns = parse_columns(table["columns"])
        except ValueError as error:
            raise ConfigError(f'{where}.columns" must be {error}') from None
        if key != SortKey.ADDED.value and key not in {choice.id for choice in columns}:
            raise ConfigError(f'{where}.sort" is "{key}", which is not among its columns')
    return View(name, text.strip(), StatusFilter(status), SortKey(key), reverse, columns)


class ViewCounts:
    """How many rows each view holds, kept up to date from the change batches: a batch
    costs its changed rows times the views, never the whole watchlist per view.

    Whether a row is stuck moves with the clock, not with its data: a stuck view keeps
    the rows that pass its text filter, and :meth:`counts` takes the stuck ones among them.
    """

    def __init__(self, views: Sequence[View]) -> None:
        self.views = tuple(views)
        self._specs = [
            replace(view.spec, status=StatusFilter.ALL)
            if view.status is StatusFilter.STUCK
            else view.spec
            for view in self.views
        ]
        self._needles = [view.text.lower() for view in self.views]
        self._members: list[set[str]] = [set() for _ in self.views]
        self._known: set[str] = set()

    @property
    def wants_stuck(self) -> bool:
        """Whether :meth:`counts` needs the stuck rows."""
        return any(view.status is StatusFilter.STUCK for view in self.views)

    def take(self, rows: Mapping[str, RowSource], updated: Iterable[str], *, full: bool) -> None:
        """Take in a change batch: the ``updated`` rows, and with ``full`` (rows added or
        removed) the rows new since the last batch and those gone."""
        keys = list(updated)
        if full:
            # Set differences run in C: at 100,000 rows a Python loop over each side cost
            # more than the batch itself.
            keys += self._known - rows.keys()
            keys += rows.keys() - self._known
        for key in keys:
            row = rows.get(key)
            if row is None:
                self._known.discard(key)
                for members in self._members:
                    members.discard(key)
                continue
            self._known.add(key)
            for spec, needle, members in zip(
                self._specs, self._needles, self._members, strict=True
            ):
                if matches(row, spec, needle):
                    members.add(key)
                else:
                    members.discard(key)

    def add(self, view: View, rows: Mapping[str, RowSource]) -> None:
        """Count one more view (saved with ``V``): only it goes through the rows."""
        self.views = (*self.views, view)
        spec = view.spec
        if view.status is StatusFilter.STUCK:
            spec = replace(spec, status=StatusFilter.ALL)
        needle = view.text.lower()
        self._specs.append(spec)
        self._needles.append(needle)
        self._members.append({key for key, row in rows.items() if matches(row, spec, needle)})

    def counts(self, stuck: Iterable[str] = ()) -> list[int]:
        """Each view's number of rows, in order (``stuck``: the stuck rows' keys, for the
        views of stuck tasks)."""
        stuck_keys = list(stuck) if self.wants_stuck else []
        return [
            sum(1 for key in stuck_keys if key in members)
            if view.status is StatusFilter.STUCK
            else len(members)
            for view, members in zip(self.views, self._members, strict=True)
        ]
