"""The dashboard's key bindings: one list feeds the Footer, the help screen, the
command palette and the ``[keys]`` remapping in config.toml (by binding ``id``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from difflib import get_close_matches
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
        "retry",
        "t",
        "retry_task",
        "Retry",
        "Retry the selected failed task: the same model and params, a new out_task_id",
        "Submit",
        False,
    ),
    Action(
        "duplicate",
        "e",
        "duplicate_task",
        "Duplicate",
        "Submit a copy of the selected task, its model and params edited first",
        "Submit",
        False,
    ),
    Action(
        "new_task",
        "n",
        "new_task",
        "New task",
        "Submit a new task (a model, params as JSON, or a template from the config)",
        "Submit",
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
    Action(
        "copy_id",
        "y",
        "copy_id",
        "Copy ID",
        "Copy the selected task ID (again: show it to select by hand)",
        "Outputs",
        False,
    ),
    Action(
        "copy_url",
        "Y",
        "copy_url",
        "Copy URL",
        "Copy the selected task's output URL (again: show it)",
        "Outputs",
        False,
    ),
    Action(
        "copy_json",
        "J",
        "copy_json",
        "Copy JSON",
        "Copy the selected task's raw JSON (again: show it)",
        "Outputs",
        False,
    ),
    Action(
        "filter", "slash", "filter", "Filter", "Filter by text (ID, label, model, prompt)", "View"
    ),
    # f and v are left out of the Footer: it keeps its room for the most used keys.
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
        "zoom",
        "z",
        "toggle_zoom",
        "Zoom details",
        "Give the detail pane all the room (the table hides), or the table back (Esc too)",
        "View",
        False,
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
    Action(
        "hide_problems",
        "x",
        "hide_problems",
        "Hide problems",
        "Hide the config and watchlist problems in the banner (this screen keeps them)",
        "App",
        False,
    ),
    Action(
        "insight",
        "i",
        "insight",
        "Insight",
        "Credits, durations and failures per model, throughput (today / 7 days / all)",
        "View",
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


#: Keys a [keys] entry cannot take, and why: the focused table (or the app) handles them
#: before any action bound here could see them, so such a remap would never fire.
RESERVED_KEYS: Final[Mapping[str, str]] = {
    "enter": "the table's key for moving into the detail pane",
    **{
        key: "one of the table's cursor keys"
        for key in ("up", "down", "j", "k", "pageup", "pagedown", "home", "end", "g", "G")
    },
    "ctrl+p": "the command palette's key",
    "ctrl+q": "the app's own quit key",
}


def _reserved_in(keys: str) -> list[str]:
    return [key.strip() for key in keys.split(",") if key.strip() in RESERVED_KEYS]


def usable_keymap(keymap: Mapping[str, str]) -> dict[str, str]:
    """The ``[keys]`` entries that can work: one naming a reserved key is left out whole,
    so its action keeps its default keys (:func:`keymap_problems` says why)."""
    return {action: keys for action, keys in keymap.items() if not _reserved_in(keys)}


def keys_of(action: Action, keymap: Mapping[str, str]) -> str:
    """The keys that run ``action`` under ``keymap`` (refused entries ignored), as shown."""
    return display_keys(usable_keymap(keymap).get(action.id, action.keys))


def first_key(action_id: str, keymap: Mapping[str, str]) -> str:
    """The first key that runs the action with this binding id, as shown (for hints)."""
    action = next(action for action in ACTIONS if action.id == action_id)
    return display_keys(usable_keymap(keymap).get(action.id, action.keys).split(",")[0])


def keymap_problems(keymap: Mapping[str, str]) -> list[str]:
    """Sentences about a ``[keys]`` table that cannot do what its author meant."""
    known = {action.id: action for action in ACTIONS}
    problems = []
    unknown = sorted(set(keymap) - set(known))
    if unknown:
        # The whole list of ids would fill the banner and hide the problems after it.
        guesses = [
            f"{name} (did you mean {close[0]}?)" if close else name
            for name in unknown
            for close in [get_close_matches(name, list(known), n=1)]
        ]
        problems.append(
            f"[keys] in the config names no action: {', '.join(guesses)}. "
            "The ids: the first column of the README's Keys table."
        )
    for action_id, keys in keymap.items():
        reserved = _reserved_in(keys)
        if reserved and action_id in known:
            action = known[action_id]
            problems.append(
                f'[keys] {action_id} = "{keys}" is ignored: {display_keys(reserved[0])} is '
                f"{RESERVED_KEYS[reserved[0]]}. {action.label} stays on "
                f"{display_keys(action.keys)}."
            )
    usable = usable_keymap(keymap)
    owners: dict[str, list[str]] = {}
    for action in ACTIONS:
        for key in usable.get(action.id, action.keys).split(","):
            owners.setdefault(key.strip(), []).append(action.id)
    for key, ids in sorted(owners.items()):
        if len(ids) > 1:
            problems.append(f"[keys]: {display_keys(key)} is bound to {' and '.join(ids)}.")
    return problems


#: The Footer's entries, most important first: when the terminal is too narrow for all of
#: them, the last ones are left out (never cut). "palette" is the command palette's key.
FOOTER_PRIORITY: Final[tuple[str, ...]] = (
    "help",
    "quit",
    "add",
    "open",
    "palette",
    "filter",
    "remove",
    "refresh",
    "pause",
    "sort",
)
