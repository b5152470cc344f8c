"""The key footer: one line that always reads whole.

Textual's Footer lays its keys out side by side and cuts the last one at the edge (`q Qui`),
and after a live resize it could leave a stale cell behind. This one is a single widget
that renders its whole line on every paint: it picks the roomy or the compact style, then
leaves entries out, least important first (:data:`~aireiter_tui.ui.bindings.FOOTER_PRIORITY`),
until the rest fits the width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

from aireiter_tui.ui.bindings import FOOTER_PRIORITY

#: Drawn between the keys and the command palette's key at the right end.
SEPARATOR = "▏"


@dataclass(frozen=True, slots=True)
class FooterEntry:
    """One key in the footer.

    Attributes:
        key: The key pressed when the entry is clicked (a Textual key name).
        shown: The key as displayed (``?``, ``^p``).
        description: The action's short label.
        enabled: False draws it dimmed and a click only rings the bell.
        rank: Its place in importance: the highest rank is left out first.
    """

    key: str
    shown: str
    description: str
    enabled: bool
    rank: int

    def width(self, compact: bool) -> int:
        """Cells the entry takes: ``" a Add "`` roomy, ``"a Add"`` compact."""
        return cell_len(self.shown) + 1 + cell_len(self.description) + (0 if compact else 2)


def fit(
    entries: list[FooterEntry], palette: FooterEntry | None, width: int
) -> tuple[bool, list[FooterEntry], FooterEntry | None]:
    """What the footer shows in ``width`` cells: whether compact, the entries kept (in
    their order) and the palette's entry if kept. Roomy when everything fits roomy; else
    compact, leaving out the entries of highest rank until the rest fits."""

    def needed(kept: list[FooterEntry], right: FooterEntry | None, compact: bool) -> int:
        gaps = max(len(kept) - 1, 0) if compact else 0
        total = sum(entry.width(compact) for entry in kept) + gaps
        if right is not None:
            total += 1 + len(SEPARATOR) + right.width(compact)
        return total

    if needed(entries, palette, compact=False) <= width:
        return False, entries, palette
    kept, right = list(entries), palette
    candidates = [*entries, *([palette] if palette is not None else [])]
    for dropped in sorted(candidates, key=lambda entry: entry.rank, reverse=True):
        if needed(kept, right, compact=True) <= width:
            break
        if dropped is right:
            right = None
        else:
            kept.remove(dropped)
    return True, kept, right


class KeyFooter(Widget):
    """The screen's shown bindings (remapped keys included), as many as fit, whole."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "key-footer--key",
        "key-footer--description",
        "key-footer--separator",
    }
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        width: 1fr;
        color: $footer-foreground;
        background: $footer-background;
        & > .key-footer--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .key-footer--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        & > .key-footer--separator {
            color: $foreground 20%;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        #: Where each entry was drawn: (first cell, cell after it, entry), for clicks.
        self._spans: list[tuple[int, int, FooterEntry]] = []

    def on_mount(self) -> None:
        # Focus moves and a remapped keymap change the active bindings: draw them again.
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        self.refresh()

    def entries(self) -> tuple[list[FooterEntry], FooterEntry | None]:
        """The screen's shown bindings, one per action, and the command palette's key."""
        app = self.app
        active = self.screen.active_bindings
        entries: list[FooterEntry] = []
        seen: set[str] = set()
        for key, (_node, binding, enabled, _tooltip) in active.items():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            ident = binding.id or ""
            rank = FOOTER_PRIORITY.index(ident) if ident in FOOTER_PRIORITY else 100 + len(seen)
            entries.append(
                FooterEntry(key, app.get_key_display(binding), binding.description, enabled, rank)
            )
        palette = None
        found = active.get(app.COMMAND_PALETTE_BINDING)
        if app.ENABLE_COMMAND_PALETTE and found is not None:
            binding = found.binding
            palette = FooterEntry(
                binding.key,
                app.get_key_display(binding),
                binding.description,
                found.enabled,
                FOOTER_PRIORITY.index("palette"),
            )
        return entries, palette

    def render(self) -> Text:
        width = self.size.width
        entries, palette = self.entries()
        compact, kept, right = fit(entries, palette, width)
        key_style = self.get_component_rich_style("key-footer--key")
        description_style = self.get_component_rich_style("key-footer--description")
        dim = Style(dim=True)
        line = Text(no_wrap=True, overflow="crop", end="")
        spans: list[tuple[int, int, FooterEntry]] = []

        def draw(entry: FooterEntry) -> None:
            start = line.cell_len
            extra = Style() if entry.enabled else dim
            if compact:
                line.append(entry.shown, key_style + extra)
                line.append(f" {entry.description}", description_style + extra)
            else:
                line.append(f" {entry.shown} ", key_style + extra)
                line.append(f"{entry.description} ", description_style + extra)
            spans.append((start, line.cell_len, entry))

        for index, entry in enumerate(kept):
            if compact and index:
                line.append(" ")
            draw(entry)
        if right is not None:
            gap = width - line.cell_len - len(SEPARATOR) - right.width(compact)
            line.append(" " * gap)
            line.append(SEPARATOR, self.get_component_rich_style("key-footer--separator"))
            draw(right)
        self._spans = spans
        return line

    def on_click(self, event: events.Click) -> None:
        for start, end, entry in self._spans:
            if start <= event.x < end:
                if entry.enabled:
                    self.app.simulate_key(entry.key)
                else:
                    self.app.bell()
                return
