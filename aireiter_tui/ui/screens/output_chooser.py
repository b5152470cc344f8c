"""Pick one of a task's outputs to open."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final, Literal

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from aireiter_tui.domain.models import TaskOutput
from aireiter_tui.domain.sanitize import ELLIPSIS, escape_spans, url_lookalike, url_refusal, visible
from aireiter_tui.ui.screens.dialog import DialogScreen
from aireiter_tui.ui.widgets.formatting import PLACEHOLDER_STYLE, safe

#: Number keys pick the first nine outputs directly.
MAX_NUMBER_KEYS: Final = 9
#: What picking does, in the dialog's words: (title, the hint's verb, a refusal's verb).
_WORDS: Final = {
    "open": ("Open which output?", "opens", "won't open"),
    "copy": ("Copy which output?", "copies", "won't copy"),
}
_KIND_WIDTH: Final = 6
# Until the list has been laid out we do not know its width; this fits an 80-column terminal.
_DEFAULT_URL_WIDTH: Final = 56


def middle_ellipsis(text: str, width: int) -> str:
    """Shorten ``text`` to ``width`` characters by cutting its middle.

    The middle of a URL is the least telling part: the host at the start and the file
    name at the end are what tell outputs apart.
    """
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    if width == 1:
        return ELLIPSIS
    head = width // 2
    tail = width - 1 - head
    return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")


class OutputChooserScreen(DialogScreen[str | None]):
    """List a task's outputs and dismiss with the raw URL of the one picked (to open it,
    or to copy it: ``purpose`` only changes the words).

    Outputs whose URL must not be opened are listed, disabled, with the reason. A URL
    that may imitate another (a host in lookalike letters, invisible characters, shown
    as ``⟨U+200B⟩``) is listed with its punycode host; the caller asks before opening
    it. The caller still validates the returned URL before opening it.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="output_chooser.cancel", tooltip="Pick nothing"),
        *(
            Binding(
                str(number),
                f"pick({number - 1})",
                f"Pick #{number}",
                show=False,
                id=f"output_chooser.pick_{number}",
            )
            for number in range(1, MAX_NUMBER_KEYS + 1)
        ),
    ]

    DEFAULT_CSS = """
    OutputChooserScreen {
        & > #dialog {
            width: 100;
        }
        & OptionList {
            height: auto;
            max-height: 16;
        }
    }
    """

    def __init__(
        self,
        outputs: Sequence[TaskOutput],
        *,
        purpose: Literal["open", "copy"] = "open",
        title: str | None = None,
    ) -> None:
        """Build the dialog.

        Args:
            outputs: The task's outputs, in the order the API listed them.
            purpose: What the caller does with the URL picked (the title and hint say it).
            title: Shown in the dialog's border instead of the purpose's question.
        """
        super().__init__()
        self._outputs = tuple(outputs)
        self._refusals = tuple(url_refusal(output.url) for output in self._outputs)
        self._lookalikes = tuple(url_lookalike(output.url) for output in self._outputs)
        question, self._verb, self._refused = _WORDS[purpose]
        self._title = question if title is None else title
        self._url_width = _DEFAULT_URL_WIDTH

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as dialog:
            dialog.border_title = safe(self._title, max_length=60)
            yield OptionList(*self._options())
            yield Static(self._hint(), id="hint", markup=False)
            yield Static(id="problem", markup=False)

    def _hint(self) -> Text:
        if not self._outputs:
            return Text("This task has no outputs. Escape closes.")
        keys = min(len(self._outputs), MAX_NUMBER_KEYS)
        numbers = "1" if keys == 1 else f"1-{keys}"
        return Text(f"{numbers} or Enter {self._verb} · Escape cancels")

    def _prompt(self, index: int) -> Text:
        output = self._outputs[index]
        refusal = self._refusals[index]
        number = f"{index + 1}".ljust(3)
        prompt = Text(number, style="bold")
        prompt.append(f"{output.kind.value:<{_KIND_WIDTH}} ", style="italic")
        # Shown exactly: a zero-width space in a host must not pass for the real host.
        url = middle_ellipsis(visible(output.url), self._url_width)
        shown = Text(url, style="dim strike" if refusal else "")
        for start, end in escape_spans(url):
            shown.stylize(PLACEHOLDER_STYLE, start, end)
        prompt.append_text(shown)
        lookalike = self._lookalikes[index]
        if refusal:
            prompt.append("\n" + " " * (3 + _KIND_WIDTH + 1))
            prompt.append(safe(f"{self._refused}: {refusal}", max_length=self._url_width))
        elif lookalike is not None:
            # What the host really is, before picking: the picked URL is asked about again.
            prompt.append("\n" + " " * (3 + _KIND_WIDTH + 1))
            prompt.append(safe(f"⚠ {lookalike.short}", max_length=self._url_width, style="bold"))
        return prompt

    def _options(self) -> list[Option]:
        return [
            Option(self._prompt(index), id=f"output-{index}", disabled=refusal is not None)
            for index, refusal in enumerate(self._refusals)
        ]

    def on_mount(self) -> None:
        option_list = self.query_one(OptionList)
        option_list.focus()
        option_list.action_first()
        self.call_after_refresh(self._fit_urls)

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self._fit_urls)

    def _fit_urls(self) -> None:
        """Re-cut the URLs to the list's real width, so each stays on one line."""
        option_list = self.query_one(OptionList)
        # One spare cell so a line never ends exactly at the edge and wraps.
        available = option_list.scrollable_content_region.width - 1 - (3 + _KIND_WIDTH + 1)
        width = max(available, 12)
        if width == self._url_width:
            return
        self._url_width = width
        for index in range(len(self._outputs)):
            option_list.replace_option_prompt_at_index(index, self._prompt(index))

    def _say(self, problem: str) -> None:
        widget = self.query_one("#problem", Static)
        widget.update(safe(problem))
        widget.add_class("-shown")

    def action_pick(self, index: int) -> None:
        """Pick output ``index`` (0-based) directly, unless it is refused."""
        if index >= len(self._outputs):
            self.app.bell()
            return
        refusal = self._refusals[index]
        if refusal is not None:
            self._say(f"#{index + 1} {self._refused}: {refusal}")
            self.app.bell()
            return
        self.dismiss(self._outputs[index].url)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self._refusals[event.option_index] is None:
            self.dismiss(self._outputs[event.option_index].url)

    def action_cancel(self) -> None:
        """Close without opening anything."""
        self.dismiss(None)
