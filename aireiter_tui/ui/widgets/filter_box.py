"""The filter line under the table."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from aireiter_tui.ui.widgets.formatting import ControlCharHighlighter


class FilterBox(Input):
    """A text filter that hands the keyboard back to the table the moment Enter is pressed.

    Keys are queued for the widget that had the focus when they arrived, so a key typed
    right after Enter (a paste of ``dog⏎s``) would still land in the box: Enter moves the
    focus at once, and a key that arrives here afterwards is sent round again. Control
    characters are drawn as symbols: an ``Input`` passes ESC sequences to the terminal.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            placeholder="Filter by ID, label, model or prompt",
            id=id,
            highlighter=ControlCharHighlighter(),
        )

    async def _on_key(self, event: events.Key) -> None:
        if self.screen.focused is not self:
            # A key that was already on its way here when Enter moved the focus: send it
            # round again, so it reaches the table and the app's bindings.
            event.stop()
            event.prevent_default()
            self.app.post_message(events.Key(event.key, event.character))
            return
        if event.key == "enter":
            # Submit here rather than through the Enter binding, which runs only after
            # the keys queued behind it: the focus moves now, so they are not typed in.
            event.stop()
            event.prevent_default()
            self._focus_table()
            self.post_message(self.Submitted(self, self.value))
            return
        await super()._on_key(event)

    def _focus_table(self) -> None:
        table = self.screen.query_one("#table")
        if table.display:
            self.screen.set_focus(table)

    async def action_submit(self) -> None:
        self._focus_table()
        await super().action_submit()
