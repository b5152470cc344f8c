"""The submit dialog: retry a failed task, duplicate one with edits, or start a new one.

One dialog for the three: a retry shows what will be sent again (model, params as
indented JSON, what the original cost) and asks to confirm; a duplicate or a new task
opens the params as an editable JSON document and the model as a choice. The dialog
checks the draft (:func:`~aireiter_tui.domain.drafts.check_draft`) before anything is
sent and says why it will not send it; sending goes through the duplicate guard
(:class:`~aireiter_tui.domain.submitting.Submitter`) in a worker, so the screen keeps
drawing, and a second press while it is on the wire does nothing.
"""

from __future__ import annotations

import enum
import importlib.util
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import ClassVar, Final

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Select, Static, TextArea

from aireiter_tui.domain.drafts import (
    KNOWN_MODELS,
    Draft,
    Template,
    check_draft,
    params_problems,
    parse_json_object,
)
from aireiter_tui.domain.fields import JSON
from aireiter_tui.domain.sanitize import clean
from aireiter_tui.domain.submitting import SubmitError, Submitted, SubmitUnknown
from aireiter_tui.ui.screens.dialog import DialogScreen
from aireiter_tui.ui.screens.label import LabelValidator, label_problem
from aireiter_tui.ui.widgets.detail_sections import copyable_json, pretty_json
from aireiter_tui.ui.widgets.formatting import (
    ControlCharHighlighter,
    format_credits,
    safe,
    safe_visible,
)

#: The dialog's submit key: Enter in the params editor is a new line.
SUBMIT_KEY: Final = "ctrl+s"
#: The model choice that reveals the field for typing another model name.
OTHER_MODEL: Final = "\x00other"
#: How an empty prompt reads in the editor.
EMPTY_PROMPT: Final = '"prompt": ""'
#: Rows the params editor may take: at least this few, at most this many.
MIN_EDITOR_ROWS: Final = 5
MAX_EDITOR_ROWS: Final = 14
#: Syntax colours need tree-sitter's JSON grammar (the ``textual[syntax]`` extra);
#: without it the editor is plain text, which edits JSON just as well.
_JSON_LANGUAGE: Final = "json" if importlib.util.find_spec("tree_sitter_json") else None


class SubmitMode(enum.Enum):
    """What the dialog is for: its title, its button and which fields it has."""

    RETRY = "Retry task"
    DUPLICATE = "Duplicate task"
    NEW = "New task"

    @property
    def button(self) -> str:
        return "Retry" if self is SubmitMode.RETRY else "Submit"


@dataclass(frozen=True, slots=True)
class Unclear:
    """A submit whose answer was lost and whose task the server does not know yet: the
    row is watched by its out_task_id, so the poller settles it either way."""

    draft: Draft
    message: str


SubmitOutcome = Submitted | Unclear
Send = Callable[[Draft], Awaitable[Submitted]]


def params_text(params: Mapping[str, JSON]) -> str:
    """The params as an indented JSON document to edit: every character the editor could
    not show as itself is a ``\\uXXXX`` escape, so what is shown parses to what was sent."""
    try:
        return copyable_json(json.dumps(params, indent=2, ensure_ascii=False))
    except (TypeError, ValueError, RecursionError):
        return "{}"


def model_options(current: str | None) -> list[tuple[Text, str]]:
    """The model choice: the documented models, the draft's own model first when it is
    not one of them, and a last entry for typing any other name."""
    names = list(KNOWN_MODELS)
    if current and current not in names:
        names.insert(0, current)
    options = [(safe_visible(name, max_length=60), name) for name in names]
    options.append((Text("other: type a name", style="italic"), OTHER_MODEL))
    return options


class SubmitScreen(DialogScreen[SubmitOutcome | None]):
    """Confirm or edit a draft, then send it through ``send``.

    Dismisses with the :class:`~aireiter_tui.domain.submitting.Submitted` task, an
    :class:`Unclear` when it is unknown whether the server took it, or ``None`` when
    cancelled. A refusal (the draft's problems, or the server's no) stays in the dialog
    as sentences, and nothing is added.

    Args:
        mode: retry, duplicate or new.
        draft: what to start from (a retry sends it as it is, with its own out_task_id).
        send: submits a draft through the duplicate guard.
        templates: ``[templates.NAME]`` of the config, to start a new task from.
        original: how the task retried or duplicated is called (label and ID), shown.
        original_credits: what the retried task cost, if the server said.
        note: a sentence to show above the buttons (a retry made before, say).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            SUBMIT_KEY,
            "submit",
            "Submit",
            priority=True,
            id="submit.submit",
            tooltip="Send the task to the service",
        ),
        Binding("escape", "cancel", "Cancel", id="submit.cancel", tooltip="Send nothing"),
    ]

    DEFAULT_CSS = """
    SubmitScreen {
        & > #dialog {
            width: 84;
        }
        & #about {
            height: auto;
        }
        & #params-view {
            height: auto;
            max-height: 12;
            border: round $primary 50%;
            padding: 0 1;
        }
        & #params-view > Static {
            height: auto;
        }
        & .choices {
            height: auto;
        }
        & .choices Select {
            width: 1fr;
        }
        & #model-other {
            width: 1fr;
            display: none;
        }
        & #model-other.-shown {
            display: block;
        }
        & #params {
            height: auto;
            min-height: 5;
            max-height: 14;
        }
        & .field {
            width: 1fr;
            height: auto;
        }
        & .field-name {
            color: $text-muted;
            padding: 0 1;
        }
        & #state {
            height: auto;
            color: $text-warning;
            display: none;
        }
        & #state.-shown {
            display: block;
        }
    }
    """

    def __init__(
        self,
        mode: SubmitMode,
        draft: Draft,
        send: Send,
        *,
        templates: Mapping[str, Template] | None = None,
        original: str | None = None,
        original_credits: float | None = None,
        note: str | None = None,
    ) -> None:
        super().__init__()
        self.mode = mode
        self.draft = draft
        self._send_draft = send
        self._templates = dict(templates or {})
        self._original = original
        self._original_credits = original_credits
        self._note = note
        #: A submit is on the wire: the button is off and further presses do nothing.
        self.busy = False

    # --- layout ---------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as dialog:
            dialog.border_title = Text(self.mode.value)
            if self.mode is SubmitMode.RETRY:
                yield Static(self._retry_summary(), id="about", markup=False)
                with VerticalScroll(id="params-view"):
                    yield Static(pretty_json(self.draft.params), markup=False)
            else:
                yield from self._editors()
            yield Static(self._hint(), id="hint", markup=False)
            yield Static(id="problem", markup=False)
            yield Static(Text("Submitting…"), id="state", markup=False)
            with Horizontal(id="buttons"):
                yield Button(Text("Cancel"), id="cancel")
                yield Button(Text(self.mode.button), variant="primary", id="submit")

    def _retry_summary(self) -> Text:
        text = Text()
        if self._original:
            text.append("Retry of  ", style="bold")
            text.append_text(safe(self._original, max_length=120))
            text.append("\n")
        text.append("Model     ", style="bold")
        text.append_text(safe_visible(self.draft.model, max_length=100))
        text.append("\nCost      ", style="bold")
        if self._original_credits is None:
            text.append("not known", style="dim")
        else:
            text.append(f"{format_credits(self._original_credits)} credits the last time")
        text.append("\nNew ID    ", style="bold")
        text.append_text(safe_visible(self.draft.out_task_id, max_length=120))
        text.append("  (out_task_id)", style="dim")
        if self.draft.label:
            text.append("\nLabel     ", style="bold")
            text.append_text(safe(self.draft.label, max_length=80))
        text.append("\nParams", style="bold")
        return text

    def _editors(self) -> ComposeResult:
        if self._original:
            yield Static(
                Text("From  ", style="bold").append_text(safe(self._original, max_length=120)),
                id="about",
                markup=False,
            )
        with Horizontal(classes="choices"):
            yield Select(
                model_options(self.draft.model or None),
                value=self.draft.model or KNOWN_MODELS[0],
                allow_blank=False,
                id="model",
                tooltip="The model to generate with",
            )
            yield Input(
                placeholder="model name",
                highlighter=ControlCharHighlighter(),
                id="model-other",
            )
            if self.mode is SubmitMode.NEW and self._templates:
                yield Select(
                    [(safe(name, max_length=40), name) for name in sorted(self._templates)],
                    prompt="start from a template",
                    id="template",
                    tooltip="[templates.NAME] of the config file",
                )
        yield TextArea(
            params_text(self.draft.params),
            language=_JSON_LANGUAGE,
            soft_wrap=True,
            id="params",
            tooltip='The params, a JSON object with a "prompt"',
        )
        with Horizontal(classes="choices"):
            with Vertical(classes="field"):
                yield Static(Text("out_task_id (your ID for it)"), classes="field-name")
                yield Input(
                    clean(self.draft.out_task_id, single_line=True),
                    highlighter=ControlCharHighlighter(),
                    id="out-task-id",
                )
            with Vertical(classes="field"):
                yield Static(Text("Label (optional)"), classes="field-name")
                yield Input(
                    clean(self.draft.label or "", single_line=True),
                    placeholder="a short note",
                    validators=[LabelValidator()],
                    highlighter=ControlCharHighlighter(),
                    id="label",
                )

    def _hint(self) -> Text:
        hint = Text()
        if self._note:
            hint.append_text(safe(self._note, max_length=300))
            hint.append("\n")
        if self.mode is SubmitMode.RETRY:
            hint.append(f"Enter or {SUBMIT_KEY} retries · Esc cancels")
        else:
            hint.append(f"{SUBMIT_KEY} submits · Tab moves · Esc cancels")
        return hint

    def on_mount(self) -> None:
        if self.mode is SubmitMode.RETRY:
            self.query_one("#submit", Button).focus()
        else:
            editor = self.query_one("#params", TextArea)
            editor.focus()
            # A new task's empty prompt: the cursor waits between its quotes.
            for row, line in enumerate(editor.text.splitlines()):
                if EMPTY_PROMPT in line:
                    editor.move_cursor((row, line.index(EMPTY_PROMPT) + len(EMPTY_PROMPT) - 1))
                    break
        self.call_after_refresh(self._fit)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        if self.mode is not SubmitMode.RETRY and self.is_attached:
            self.fit_to_screen(self.query_one("#params"), MIN_EDITOR_ROWS, MAX_EDITOR_ROWS)

    # --- the draft --------------------------------------------------------------------
    def current_draft(self) -> tuple[Draft, list[str]]:
        """The draft as the fields hold it, and every reason it must not be sent."""
        if self.mode is SubmitMode.RETRY:
            return self.draft, check_draft(self.draft)
        choice = self.query_one("#model", Select).value
        if choice == OTHER_MODEL or not isinstance(choice, str):
            model = self.query_one("#model-other", Input).value.strip()
        else:
            model = choice
        params, unreadable = parse_json_object(self.query_one("#params", TextArea).text)
        label = self.query_one("#label", Input).value
        draft = replace(
            self.draft,
            model=model,
            params=params if params is not None else {},
            out_task_id=self.query_one("#out-task-id", Input).value.strip(),
            label=label.strip() or None,
        )
        problems = check_draft(draft)
        if params is None:
            # Unreadable JSON: say that, not that the (empty) object lacks a prompt.
            empty = set(params_problems({}))
            problems = [unreadable, *(problem for problem in problems if problem not in empty)]
        problem = label_problem(label)
        if problem:
            problems.append(f"The {problem}.")
        return draft, problems

    def _show_problem(self, problems: list[str]) -> None:
        widget = self.query_one("#problem", Static)
        widget.update(safe("\n".join(problems), max_length=1200))
        widget.set_class(bool(problems), "-shown")

    @on(Select.Changed, "#model")
    def _model_changed(self, event: Select.Changed) -> None:
        other = self.query_one("#model-other", Input)
        other.set_class(event.value == OTHER_MODEL, "-shown")
        if event.value == OTHER_MODEL:
            other.focus()

    @on(Select.Changed, "#template")
    def _template_chosen(self, event: Select.Changed) -> None:
        template = self._templates.get(event.value) if isinstance(event.value, str) else None
        if template is None:
            return
        self.query_one("#params", TextArea).load_text(params_text(template.params))
        model = self.query_one("#model", Select)
        if template.model in KNOWN_MODELS or template.model == self.draft.model:
            model.value = template.model
        else:
            model.value = OTHER_MODEL
            self.query_one("#model-other", Input).value = template.model
        self._show_problem([])

    # --- sending --------------------------------------------------------------------
    @on(Button.Pressed, "#submit")
    def action_submit(self) -> None:
        """Send the draft unless it has problems (said in the dialog) or a submit is on
        the wire already (then nothing happens)."""
        if self.busy:
            return
        draft, problems = self.current_draft()
        if problems:
            self._show_problem(problems)
            self.app.bell()
            return
        self._show_problem([])
        self._set_busy(True)
        self._send(draft)

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        button = self.query_one("#submit", Button)
        button.disabled = busy
        button.label = Text("Submitting…" if busy else self.mode.button)
        self.query_one("#state", Static).set_class(busy, "-shown")

    @work(exclusive=True, group="submit", exit_on_error=False)
    async def _send(self, draft: Draft) -> None:
        try:
            submitted = await self._send_draft(draft)
        except SubmitUnknown as unknown:
            self.dismiss(Unclear(draft, unknown.message))
            return
        except SubmitError as error:
            reasons = getattr(error, "reasons", None) or [error.message]
            self._refused(list(reasons))
            return
        except Exception as error:  # a bug must not leave the dialog stuck "submitting"
            self._refused([f"Not submitted: an unexpected {type(error).__name__}."])
            raise
        self.dismiss(submitted)

    def _refused(self, reasons: list[str]) -> None:
        self._set_busy(False)
        self._show_problem(reasons)
        self.app.bell()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without sending; not while a submit is on the wire (its answer is
        awaited so the new task is watched)."""
        if self.busy:
            self.notify(
                "Waiting for the service's answer; the dialog closes when it comes.",
                markup=False,
                timeout=3,
            )
            return
        self.dismiss(None)
