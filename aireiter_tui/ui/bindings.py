"""The dashboard's key bindings: one list feeds the Footer, the help screen, the
command palette and the ``[keys]`` remapping in config.toml (by binding ``id``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from textual.binding import Binding, BindingType


@dataclass(frozen=True, slots=True)
class Action:
    """One user action: its binding id (the name used in ``[keys]``), keys and words."""

    id: str
    keys: str
    action: str
    label: str
    description: str
    group: str
    show: bool = True


ACTIONS: Final[tuple[Action, ...]] = (
    Action("add", "a", "add_tasks", "Add", "Add task IDs to the watchlist", "Watchlist"),
    Action("remove", "d,delete", "remove_task", "Remove", "Remove the selected task", "Watchlist"),
    Action(
        "undo", "u", "undo_remove", "Undo", "Bring back the last removed tasks", "Watchlist", False
    ),
    Action(
        "label",
        "l",
        "edit_label",
        "Label",
        "Set or clear the selected task's label",
        "Watchlist",
        False,
    ),
    Action(
        "open",
        "o",
        "open_output",
        "Open",
        "Open the selected task's output in the browser",
        "Outputs",
    ),
    Action("copy_id", "y", "copy_id", "Copy ID", "Copy the selected task ID", "Outputs", False),
    Action(
        "copy_url",
        "Y",
        "copy_url",
        "Copy URL",
        "Copy the selected task's output URL",
        "Outputs",
        False,
    ),
    Action(
        "filter", "slash", "filter", "Filter", "Filter by text (ID, label, model, prompt)", "View"
    ),
    # f and v are left out of the Footer so that "? Help" and "q Quit" fit in 80 columns.
    Action(
        "status_filter",
        "f",
        "cycle_status_filter",
        "Status",
        "Cycle the status filter",
        "View",
        False,
    ),
    Action("clear_filter", "escape", "clear_filter", "Clear", "Clear the filters", "View", False),
    Action("sort", "s", "cycle_sort", "Sort", "Sort by the next column", "View"),
    Action("reverse", "S", "reverse_sort", "Reverse sort", "Reverse the sort order", "View", False),
    Action(
        "details", "v", "toggle_details", "Details", "Show or hide the detail pane", "View", False
    ),
    Action(
        "refresh", "r", "refresh_selected", "Refresh", "Refresh the selected task now", "Refresh"
    ),
    Action(
        "refresh_all", "R", "refresh_all", "Refresh all", "Refresh every task now", "Refresh", False
    ),
    Action("pause", "p", "toggle_pause", "Pause", "Pause or resume background refresh", "Refresh"),
    Action(
        "reload",
        "ctrl+r",
        "reload_watchlist",
        "Reload",
        "Take in the watchlist file's changes from other programs now",
        "Watchlist",
        False,
    ),
    Action("help", "question_mark", "help", "Help", "Show all keys", "App"),
    Action("quit", "q", "app.quit", "Quit", "Quit (the watchlist is saved)", "App"),
)


def app_bindings() -> list[BindingType]:
    """Textual bindings for :data:`ACTIONS` (ids make them remappable with set_keymap)."""
    return [
        Binding(a.keys, a.action, a.label, show=a.show, id=a.id, tooltip=a.description)
        for a in ACTIONS
    ]


def display_keys(keys: str) -> str:
    """``"d,delete"`` -> ``"d / delete"``; Textual key names shown as typed."""
    names = {
        "slash": "/",
        "question_mark": "?",
        "delete": "Del",
        "enter": "Enter",
        "escape": "Esc",
    }
    return " / ".join(names.get(key.strip(), key.strip()) for key in keys.split(","))


def keymap_problems(keymap: Mapping[str, str]) -> list[str]:
    """Sentences about a ``[keys]`` table that cannot do what its author meant."""
    known = {action.id: action for action in ACTIONS}
    problems = []
    unknown = sorted(set(keymap) - set(known))
    if unknown:
        problems.append(
            f"[keys] in the config names no action: {', '.join(unknown)}; "
            f"the actions are {', '.join(known)}."
        )
    owners: dict[str, list[str]] = {}
    for action in ACTIONS:
        for key in keymap.get(action.id, action.keys).split(","):
            owners.setdefault(key.strip(), []).append(action.id)
    for key, ids in sorted(owners.items()):
        if len(ids) > 1:
            problems.append(f"[keys]: {display_keys(key)} is bound to {' and '.join(ids)}.")
    return problems
