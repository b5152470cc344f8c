"""Paste one or many task IDs to start watching them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, RadioButton, RadioSet, Static, TextArea

from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.sanitize import visible
from aireiter_tui.domain.watchlist import parse_id_list
from aireiter_tui.ui.screens.dialog import DialogScreen
from aireiter_tui.ui.screens.label import LabelValidator, label_problem
from aireiter_tui.ui.widgets.formatting import (
    ControlCharHighlighter,
    safe,
    shorten_middle,
    visible_controls,
)

#: How many rejected IDs the preview lists before saying "and N more".
MAX_REJECTIONS_SHOWN: Final = 3
#: How many of the IDs to add the preview lists (it scrolls); the count says how many in
#: all. Past this a list is too long to check by eye, and it is laid out at each key.
MAX_IDS_SHOWN: Final = 1_000
#: Cells of an ID in the list (a flagged one leaves room for why beside it).
_ID_WIDTH: Final = 64
_FLAGGED_ID_WIDTH: Final = 36
#: Rows the scrolling preview may take: at least this few, at most this many.
MIN_PREVIEW_ROWS: Final = 2
MAX_PREVIEW_ROWS: Final = 12
ADDED_MARK: Final = "+"
FLAG_MARK: Final = "⚠"
#: What makes a word look like a task ID (``order_lwU2d-VkUq9``, ``my_shot_001``).
_ID_MARKS: Final = frozenset("0123456789_-")
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


def _unusual(ident: str) -> set[str]:
    """The characters of ``ident`` that are neither letters, digits, ``_`` nor ``-``."""
    return {char for char in ident if not char.isalnum() and char not in "_-"}


def odd_ones(ids: Sequence[str]) -> dict[str, str]:
    """The IDs that do not look like the others, each with why, for a second look.

    Text pasted by mistake (a log line, a sentence) is split into words that are valid
    IDs. Among IDs with a digit, ``_`` or ``-``, a word without any is suspect; so is
    punctuation that most of the others do not have. Alike IDs (all words, say chosen
    out_task_ids) raise nothing: there is nothing to tell them from.
    """
    if len(ids) < 2:
        return {}
    marked = [not _ID_MARKS.isdisjoint(ident) for ident in ids]
    unusual = [_unusual(ident) for ident in ids]
    plain = sum(not chars for chars in unusual)
    flagged: dict[str, str] = {}
    for ident, has_marks, chars in zip(ids, marked, unusual, strict=True):
        reasons = []
        if not has_marks and any(marked):
            reasons.append("no digit, _ or -")
        if chars and plain * 2 > len(ids):
            reasons.append(f"has {' '.join(sorted(chars)[:4])} unlike the others")
        if reasons:
            flagged[ident] = "; ".join(reasons)
    return flagged


class _KindButton(RadioButton):
    """A radio button whose state reads without colour: ``●`` chosen, ``○`` not (the
    stock one draws ``●`` for both and tells them apart by colour alone)."""

    def __init__(self, label: Text, *, value: bool, id: str) -> None:
        super().__init__(label, value=value, id=id)
        self.BUTTON_INNER = "●" if value else "○"

    def watch_value(self) -> None:
        self.BUTTON_INNER = "●" if self.value else "○"
        super().watch_value()


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
    says how many IDs of which kind will be added, lists what was rejected and why, then
    every ID to add, the ones unlike the others marked for a second look (pasted prose
    splits into words that are valid IDs). Dismisses with an :class:`AddTasksResult`
    holding only refs not watched yet, or ``None`` if cancelled.
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
        & #preview-box {
            height: auto;
            max-height: 8;
        }
        & #preview {
            height: auto;
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
                        yield _KindButton(
                            Text(kind.value), value=kind is self._initial_kind, id=kind.value
                        )
                yield Input(
                    placeholder="label (optional, for all of them)",
                    validators=[LabelValidator()],
                    highlighter=ControlCharHighlighter(),
                    id="label",
                )
            with VerticalScroll(id="preview-box"):
                yield Static(id="preview", markup=False)
            with Horizontal(id="buttons"):
                yield Button(Text("Cancel"), id="cancel")
                yield Button(Text(f"Add ({ADD_KEY})"), variant="primary", id="add")
            yield Static(keys_hint(), id="keys-hint", classes="hint")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()
        self._refresh_preview()
        self.call_after_refresh(self._fit_preview)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_preview)

    def _fit_preview(self) -> None:
        # However long the list grows, the buttons and the keys hint stay in view.
        box = self.query_one("#preview-box")
        self.fit_to_screen(box, MIN_PREVIEW_ROWS, MAX_PREVIEW_ROWS)

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
        # The kind in words: the radio buttons' colours are not the only place it shows.
        kind = self.kind.value
        text.append(f"{ready} {kind}{'' if ready == 1 else 's'} will be added", style="bold")
        if parsed.duplicates:
            text.append(f" · {parsed.duplicates} already watched")
        if parsed.rejected:
            text.append(f" · {len(parsed.rejected)} rejected")
        flagged = odd_ones([ref.id for ref in parsed.new])
        if flagged:
            count = len(flagged)
            text.append(
                f"\n{FLAG_MARK} {count} do not look like the others: pasted text? "
                f"Check the {FLAG_MARK} ones.",
                style="bold",
            )
        for raw, reason in parsed.rejected[:MAX_REJECTIONS_SHOWN]:
            text.append("\n✖ ", style="bold")
            # Bounded so each rejection stays on one line of an 80-column dialog.
            text.append_text(safe(raw, max_length=28))
            text.append_text(safe(f" — {reason}", max_length=42))
        hidden = len(parsed.rejected) - MAX_REJECTIONS_SHOWN
        if hidden > 0:
            text.append(f"\n  and {hidden} more")
        for ref in parsed.new[:MAX_IDS_SHOWN]:
            why = flagged.get(ref.id)
            if why is None:
                text.append(f"\n{ADDED_MARK} ")
                text.append(shorten_middle(visible(ref.id), _ID_WIDTH), style="")
            else:
                text.append(f"\n{FLAG_MARK} ", style="bold")
                text.append(shorten_middle(visible(ref.id), _FLAGGED_ID_WIDTH), style="bold")
                text.append_text(safe(f" — {why}", max_length=30))
        unlisted = ready - MAX_IDS_SHOWN
        if unlisted > 0:
            text.append(f"\n  and {unlisted:,} more (all {ready:,} will be added)")
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
