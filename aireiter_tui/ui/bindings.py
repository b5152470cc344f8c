"""The dashboard's key bindings: one list feeds the Footer, the help screen, the
command palette and the ``[keys]`` remapping in config.toml (by binding ``id``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Final

from textual.binding import Binding, BindingType

from aireiter_tui.domain.row_commands import RowCommand


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
    #: Run as the app takes the key from its queue, before the keys behind it are handed
    #: to the focused widget (Textual's priority binding).
    priority: bool = False


_ORDINALS: Final = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")

ACTIONS: Final[tuple[Action, ...]] = (
    Action("add", "a", "add_tasks", "Add", "Add task IDs to the watchlist", "Watchlist"),
    Action(
        "remove",
        "d,delete",
        "remove_task",
        "Remove",
        "Remove the marked tasks, or the selected one (asks first)",
        "Watchlist",
    ),
    Action(
        "undo",
        "u",
        "undo_remove",
        "Undo",
        "Bring back the last removal (again: the one before, and so on)",
        "Watchlist",
        False,
    ),
    Action(
        "mark",
        "space",
        "toggle_mark",
        "Mark",
        "Mark or unmark the selected task, then move down",
        "Selection",
        False,
    ),
    Action(
        "mark_down",
        "shift+down",
        "extend_marks_down",
        "Mark down",
        "Mark from the selected task downwards (back over the run unmarks)",
        "Selection",
        False,
    ),
    Action(
        "mark_up",
        "shift+up",
        "extend_marks_up",
        "Mark up",
        "Mark from the selected task upwards (back over the run unmarks)",
        "Selection",
        False,
    ),
    Action(
        "mark_all",
        "A",
        "mark_all",
        "Mark all",
        "Mark every task in view (again: unmark them)",
        "Selection",
        False,
    ),
    Action(
        "label",
        "l",
        "edit_label",
        "Label",
        "Set or clear the label of the marked tasks, or the selected one",
        "Watchlist",
        False,
    ),
    Action(
        "retry",
        "t",
        "retry_task",
        "Retry",
        "Retry the failed task (of the marked, the failed ones): same model and params",
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
        "Open the output in the browser (of the marked tasks: all, asking above 5)",
        "Outputs",
    ),
    Action(
        "copy_id",
        "y",
        "copy_id",
        "Copy ID",
        "Copy the task ID, or the marked tasks' IDs (again: show it to select by hand)",
        "Outputs",
        False,
    ),
    Action(
        "copy_url",
        "Y",
        "copy_url",
        "Copy URL",
        "Copy the output URL, or the marked tasks' (again: show it)",
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
        "download",
        "w",
        "download_outputs",
        "Download",
        "Download the outputs of the marked tasks, or of the selected one",
        "Outputs",
        False,
    ),
    Action(
        "download_all",
        "D",
        "download_all_outputs",
        "Download all",
        "Download the outputs of every completed task in view (asks first past 10)",
        "Outputs",
        False,
    ),
    Action(
        "open_local",
        "O",
        "open_local_output",
        "Open file",
        "Open the selected task's downloaded output (the one previewed first)",
        "Outputs",
        False,
    ),
    Action(
        "preview_previous",
        "left_square_bracket",
        "preview_previous",
        "Previous preview",
        "Preview the previous output or input image",
        "Outputs",
        False,
    ),
    Action(
        "preview_next",
        "right_square_bracket",
        "preview_next",
        "Next preview",
        "Preview the next output or input image",
        "Outputs",
        False,
    ),
    Action(
        "toggle_previews",
        "P",
        "toggle_previews",
        "Previews",
        "Show or hide output previews in the detail pane (remembered)",
        "Outputs",
        False,
    ),
    # A priority binding: the focus is in the filter before the keys typed right after
    # it are handed out ("/veo" typed fast had v and e run the table's keys).
    Action(
        "filter",
        "slash",
        "filter",
        "Filter",
        "Filter by text (ID, label, model, prompt)",
        "View",
        priority=True,
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
    Action(
        "clear_filter",
        "escape",
        "clear_filter",
        "Clear",
        "Clear the marks; when none, the filters",
        "View",
        False,
    ),
    Action("sort", "s", "cycle_sort", "Sort", "Sort by the next column", "View"),
    Action("reverse", "S", "reverse_sort", "Reverse sort", "Reverse the sort order", "View", False),
    Action(
        "columns",
        "c",
        "columns",
        "Columns",
        "Choose the columns: shown or hidden, their order, their widths (remembered)",
        "View",
        False,
    ),
    *(
        Action(
            f"view_{number}",
            str(number),
            f"show_view({number})",
            f"Tab {number}",
            f"Show tab {number}: "
            + ("All, every task" if number == 1 else f"the {_ORDINALS[number - 2]} saved view"),
            "Views",
            False,
        )
        for number in range(1, 10)
    ),
    Action(
        "previous_view",
        "less_than_sign",
        "cycle_view(-1)",
        "Previous tab",
        "Show the saved view on the left",
        "Views",
        False,
    ),
    Action(
        "next_view",
        "greater_than_sign",
        "cycle_view(1)",
        "Next tab",
        "Show the saved view on the right",
        "Views",
        False,
    ),
    Action(
        "save_view",
        "V",
        "save_view",
        "Save view",
        "Save the filters, sort and columns as a new tab (asks a name; remembered)",
        "Views",
        False,
    ),
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
        "refresh",
        "r",
        "refresh_selected",
        "Refresh",
        "Refresh the marked tasks, or the selected one, now",
        "Refresh",
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
    Action(
        "export",
        "E",
        "export",
        "Export",
        "Export the view's tasks (its rows and columns) to CSV, JSON or JSON Lines",
        "View",
        False,
    ),
    Action("help", "question_mark", "help", "Help", "Show all keys", "App"),
    Action("quit", "q", "app.quit", "Quit", "Quit (the watchlist is saved)", "App"),
)


def app_bindings() -> list[BindingType]:
    """Textual bindings for :data:`ACTIONS` (ids make them remappable with set_keymap)."""
    return [
        Binding(
            a.keys,
            a.action,
            a.label,
            show=a.show,
            priority=a.priority,
            id=a.id,
            tooltip=a.description,
        )
        for a in ACTIONS
    ]


def display_keys(keys: str) -> str:
    """``"d,delete"`` -> ``"d / delete"``; Textual key names shown as typed."""
    names = {
        "slash": "/",
        "question_mark": "?",
        "left_square_bracket": "[",
        "right_square_bracket": "]",
        "delete": "Del",
        "enter": "Enter",
        "escape": "Esc",
        "less_than_sign": "<",
        "greater_than_sign": ">",
        "space": "Space",
        "shift+up": "shift+↑",
        "shift+down": "shift+↓",
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


#: Keys Textual itself moves the focus with: a command there would never run.
_FOCUS_KEYS: Final[Mapping[str, str]] = {
    "tab": "the key that moves between the table and the detail pane",
    "shift+tab": "the key that moves the focus back",
}


def command_keys(
    commands: Mapping[str, RowCommand], keymap: Mapping[str, str]
) -> tuple[dict[str, RowCommand], list[str]]:
    """The keys of the ``[commands.NAME]`` tables that can be bound (key -> command), and
    a sentence for each key refused: one the table or Textual keeps, one an action has
    (under ``keymap``), or one an earlier command took. A refused command still runs
    from the palette."""
    taken: dict[str, str] = {**RESERVED_KEYS, **_FOCUS_KEYS}
    usable = usable_keymap(keymap)
    for action in ACTIONS:
        for key in usable.get(action.id, action.keys).split(","):
            taken.setdefault(key.strip(), f"the key of {action.label} ({action.id})")
    bound: dict[str, RowCommand] = {}
    problems = []
    for command in commands.values():
        for key in command.key.split(",") if command.key else []:
            reason = taken.get(key)
            if reason is None and key in bound:
                reason = f"the key of [commands.{bound[key].name}]"
            if reason is None:
                bound[key] = command
                continue
            problems.append(
                f'[commands.{command.name}] key = "{key}" is not bound: {display_keys(key)} is'
                f" {reason}. Pick another key; meanwhile it runs from the palette (ctrl+p)."
            )
    return bound, problems


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
