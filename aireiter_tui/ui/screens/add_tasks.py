"""Paste one or many task IDs to start watching them."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import ClassVar, Final

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, RadioButton, RadioSet, Static, TextArea

from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.watchlist import parse_id_list
from aireiter_tui.ui.screens.dialog import DialogScreen
from aireiter_tui.ui.screens.label import LabelValidator, label_problem
from aireiter_tui.ui.widgets.formatting import ControlCharHighlighter, safe, visible_controls

#: How many rejected IDs the preview lists before saying "and N more".
MAX_REJECTIONS_SHOWN: Final = 3
#: The dialog's own keys, named once so the bindings and the hint line cannot disagree.
ADD_KEY: Final = "ctrl+s"
TOGGLE_KIND_KEY: Final = "ctrl+t"


def keys_hint() -> Text:
    """The always-visible line saying how to submit: Enter in the ID box is a new line."""
    hint = Text()
    for key, does in (
        (ADD_KEY, "adds"),
        (TOGGLE_KIND_KEY, f"switches {IdKind.TASK_ID.value}/{IdKind.OUT_TASK_ID.value}"),
        ("Tab", "moves"),
        ("Esc", "cancels"),
    ):
        if hint:
            hint.append(" · ")
        hint.append(key, style="bold")
        hint.append(f" {does}")
    return hint


@dataclass(frozen=True, slots=True)
class AddTasksResult:
    """What the user chose to add: the new refs (none already watched) and their label."""

    refs: list[TaskRef]
    label: str | None


@dataclass(frozen=True, slots=True)
class _Parsed:
    """The pasted text, read: new refs, ones already watched, and rejected entries."""

    new: list[TaskRef]
    duplicates: int
    rejected: list[tuple[str, str]]


class _IdsArea(TextArea):
    """A ``TextArea`` that draws pasted control characters as symbols instead of sending
    them to the terminal; the text keeps them, so the parser rejects those IDs."""

    def get_line(self, line_index: int) -> Text:
        # Not super().get_line(): rich's Text() silently drops BEL, BS, VT, FF and CR,
        # which would hide them and shift every offset after them.
        return visible_controls(self.document.get_line(line_index))


class AddTasksScreen(DialogScreen[AddTasksResult | None]):
    """Paste task IDs, pick which kind of ID they are, optionally label them.

    IDs may be separated by spaces, commas, semicolons or line breaks. A live preview
    counts what would be added and lists what was rejected and why. Dismisses with an
    :class:`AddTasksResult` holding only refs not watched yet, or ``None`` if cancelled.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            f"{ADD_KEY},ctrl+enter",
            "add",
            "Add",
            priority=True,
            id="add_tasks.add",
            tooltip="Start watching the IDs in the preview",
        ),
        Binding("escape", "cancel", "Cancel", id="add_tasks.cancel", tooltip="Add nothing"),
        Binding(
            TOGGLE_KIND_KEY,
            "toggle_kind",
            "Switch ID kind",
            priority=True,
            id="add_tasks.toggle_kind",
            tooltip="Read the IDs as task_id or as out_task_id",
        ),
    ]

    DEFAULT_CSS = """
    AddTasksScreen {
        & > #dialog {
            width: 80;
        }
        & .hint {
            color: $text-muted;
            height: auto;
        }
        & TextArea {
            height: 6;
        }
        & #options {
            height: auto;
        }
        & RadioSet {
            width: auto;
            layout: horizontal;
            & > RadioButton {
                width: auto;
                margin-right: 1;
            }
        }
        & #label {
            width: 1fr;
        }
        & #preview {
            height: auto;
            max-height: 6;
            padding: 0 1;
            color: $text-muted;
        }
        & #preview.-error {
            color: $text-error;
        }
    }
    """

    def __init__(
        self, existing: Collection[TaskRef] = (), *, initial_kind: IdKind = IdKind.TASK_ID
    ) -> None:
        """Build the dialog.

        Args:
            existing: Refs already watched; pasting them again adds nothing.
            initial_kind: The kind of ID selected when the dialog opens.
        """
        super().__init__()
        self._existing = frozenset(existing)
        self._initial_kind = initial_kind

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as dialog:
            dialog.border_title = Text("Watch tasks")
            yield Static(
                Text("Task IDs, separated by spaces, commas, semicolons or new lines:"),
                classes="hint",
            )
            yield _IdsArea(id="ids", soft_wrap=True, tab_behavior="focus")
            with Horizontal(id="options"):
                with RadioSet(id="kind", tooltip=f"{TOGGLE_KIND_KEY} switches"):
                    for kind in IdKind:
                        yield RadioButton(
                            Text(kind.value), value=kind is self._initial_kind, id=kind.value
                        )
                yield Input(
                    placeholder="label (optional, for all of them)",
                    validators=[LabelValidator()],
                    highlighter=ControlCharHighlighter(),
                    id="label",
                )
            yield Static(id="preview", markup=False)
            with Horizontal(id="buttons"):
                yield Button(Text("Cancel"), id="cancel")
                yield Button(Text(f"Add ({ADD_KEY})"), variant="primary", id="add")
            yield Static(keys_hint(), id="keys-hint", classes="hint")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()
        self._refresh_preview()

    @property
    def kind(self) -> IdKind:
        """The kind of ID selected."""
        pressed = self.query_one(RadioSet).pressed_button
        return IdKind(pressed.id) if pressed is not None and pressed.id else self._initial_kind

    def _parse(self) -> _Parsed:
        refs, rejected = parse_id_list(self.query_one(TextArea).text, self.kind)
        new: list[TaskRef] = []
        seen: set[TaskRef] = set()
        duplicates = 0
        for ref in refs:
            if ref in self._existing:
                duplicates += 1
            elif ref not in seen:
                seen.add(ref)
                new.append(ref)
        return _Parsed(new, duplicates, rejected)

    def _render_preview(self, parsed: _Parsed, problem: str | None = None) -> Text:
        text = Text()
        if problem is not None:
            text.append(f"{problem}\n", style="bold")
        if not parsed.new and not parsed.duplicates and not parsed.rejected:
            text.append("Nothing pasted yet.")
            return text
        ready = len(parsed.new)
        text.append(f"{ready} ID{'' if ready == 1 else 's'} ready")
        if parsed.duplicates:
            text.append(f" · {parsed.duplicates} already watched")
        if parsed.rejected:
            text.append(f" · {len(parsed.rejected)} rejected")
        for raw, reason in parsed.rejected[:MAX_REJECTIONS_SHOWN]:
            text.append("\n✖ ", style="bold")
            # Bounded so each rejection stays on one line of an 80-column dialog.
            text.append_text(safe(raw, max_length=28))
            text.append_text(safe(f" — {reason}", max_length=42))
        hidden = len(parsed.rejected) - MAX_REJECTIONS_SHOWN
        if hidden > 0:
            text.append(f"\n  and {hidden} more")
        return text

    def _refresh_preview(self, problem: str | None = None) -> _Parsed:
        parsed = self._parse()
        preview = self.query_one("#preview", Static)
        preview.update(self._render_preview(parsed, problem))
        preview.set_class(problem is not None, "-error")
        return parsed

    @on(TextArea.Changed)
    @on(RadioSet.Changed)
    def _inputs_changed(self) -> None:
        self._refresh_preview()

    @on(Input.Changed, "#label")
    def _label_changed(self, event: Input.Changed) -> None:
        self._refresh_preview(label_problem(event.value))

    def action_toggle_kind(self) -> None:
        """Switch between reading the IDs as ``task_id`` and as ``out_task_id``."""
        other = IdKind.OUT_TASK_ID if self.kind is IdKind.TASK_ID else IdKind.TASK_ID
        self.query_one(f"#{other.value}", RadioButton).value = True

    @on(Button.Pressed, "#add")
    @on(Input.Submitted, "#label")
    def action_add(self) -> None:
        """Dismiss with the new refs, or say why there is nothing to add and stay open."""
        label = self.query_one("#label", Input).value
        problem = label_problem(label)
        parsed = self._parse()
        if problem is None and not parsed.new:
            if parsed.duplicates and not parsed.rejected:
                problem = "Nothing to add: every ID is already watched."
            elif parsed.rejected:
                problem = "Nothing to add: no valid new ID (see below)."
            else:
                problem = "Nothing to add: paste at least one task ID."
        if problem is not None:
            self._refresh_preview(problem)
            self.app.bell()
            return
        self.dismiss(AddTasksResult(parsed.new, label.strip() or None))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without adding anything."""
        self.dismiss(None)
