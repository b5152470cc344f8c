"""The detail pane: everything known about the task under the table's cursor."""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.geometry import Size
from textual.widgets import Static

from aireiter_tui.domain.errors import AIReiterError, TaskNotFoundError
from aireiter_tui.domain.models import Task, TaskRef, forgotten
from aireiter_tui.domain.watchlist_codec import StatusChange, WatchEntry
from aireiter_tui.ui.bindings import first_key
from aireiter_tui.ui.widgets.detail_sections import (
    NO_SELECTION_MESSAGE,
    OutputNote,
    error_section,
    history_section,
    input_section,
    metadata_section,
    outputs_section,
    raw_section,
    summary_clock,
    summary_head,
    summary_tail,
)
from aireiter_tui.ui.widgets.preview import OutputPreview, PreviewItem

if TYPE_CHECKING:
    from aireiter_tui.backend import Backend

#: Section id and heading, in display order. A failed task's error comes first: it is what
#: the user came to read, and below the summary it fell out of a short pane.
SECTIONS: Final = (
    ("error", "Error"),
    ("summary", "Summary"),
    ("outputs", "Outputs"),
    ("preview", "Preview"),
    ("input", "Input"),
    ("metadata", "Metadata"),
    ("history", "Status history"),
    ("raw", "Raw response"),
)
#: Sections that depend on the task object alone, so they are rebuilt only when it changes.
_TASK_SECTIONS: Final[tuple[tuple[str, Callable[[Task], Text | None]], ...]] = (
    ("error", error_section),
    ("input", input_section),
    ("metadata", metadata_section),
    ("raw", raw_section),
)
#: The summary's body is three widgets one under the other, read as one: the lines that
#: move with the clock ("Last checked 3s ago") are redrawn each second on their own, and
#: the head and tail (IDs, model, status, messages: all the network's strings) only when
#: what they show changes.
SUMMARY_PARTS: Final = ("summary", "summary-clock", "summary-tail")
#: How many tasks' built sections are kept: moving the cursor back and forth between
#: recent tasks then costs neither rebuilding nor re-wrapping (Content caches its height).
_CACHE_SIZE: Final = 8
#: Outputs whose link state and local file are looked up (a stat each) for the pane.
MAX_NOTED_OUTPUTS: Final = 50


def _home_short(path: Path) -> str:
    """``~/Downloads/aireiter/ID.png`` for a file under the home folder."""
    try:
        return f"~/{path.relative_to(Path.home())}"
    except (ValueError, RuntimeError):  # not under it, or no home to be found
        return str(path)


#: Sections whose body is not a Static of their own: the preview is a widget.
_OWN_BODY: Final = frozenset({"summary", "preview"})


class DetailPane(VerticalScroll, can_focus=True):
    """Shows the summary, error, outputs, input, metadata, history and raw JSON of one task.

    Call :meth:`show` whenever the cursor moves, a refresh lands or the clock ticks; it
    compares a cheap signature of what it was given and rebuilds only the sections that
    changed: a tick rebuilds the few short lines that move with the clock, and redraws
    them only if their text changed.
    The pane holds a fixed set of ``Static`` widgets (a heading and a body per section)
    that are updated in place and hidden when empty, so even a 200 KB response costs one
    text layout, never a remount. Every string from the network reaches the screen as a
    cleaned ``rich.text.Text``; no markup is ever parsed.
    """

    DEFAULT_CSS = """
    DetailPane {
        padding: 0 1;
        background: $surface;
        scrollbar-gutter: stable;
    }
    DetailPane:focus {
        background-tint: $foreground 4%;
    }
    DetailPane > .detail-heading {
        color: $accent;
        text-style: bold;
        margin-top: 1;
    }
    DetailPane > #detail-heading-error, DetailPane > #detail-heading-summary {
        margin-top: 0;
    }
    DetailPane.-error-shown > #detail-heading-summary {
        margin-top: 1;
    }
    DetailPane > .detail-body {
        color: $foreground;
    }
    DetailPane > #detail-empty {
        color: $text-muted;
        padding: 1 0;
    }
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
        backend: Backend | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._backend = backend
        self.render_count = 0
        """How many times :meth:`show` actually rebuilt something (for tests and tuning)."""
        self._shown_ref: TaskRef | None = None
        # Mounted showing the "no task selected" message, so a first show(None) is free.
        self._shown_empty = True
        self._empty = Static(Text(NO_SELECTION_MESSAGE), id="detail-empty", markup=False)
        self._headings = {
            key: Static(
                Text(title), id=f"detail-heading-{key}", classes="detail-heading", markup=False
            )
            for key, title in SECTIONS
        }
        self._bodies = {
            key: Static(Text(), id=f"detail-body-{key}", classes="detail-body", markup=False)
            for key in (*SUMMARY_PARTS, *(key for key, _title in SECTIONS if key not in _OWN_BODY))
        }
        self.preview = OutputPreview(id="detail-preview")
        """The preview section's body: a task's output images, one at a time."""
        self.previews = True
        """Whether the preview section is shown (``P``; the ``previews`` setting)."""
        self._entry: WatchEntry | None = None
        self._outputs_key: tuple[object, ...] | None = None
        #: Bumped when what is known of outputs changes (a fetch landed, a download ended).
        self._outputs_version = 0
        #: Whether outputs' local files are looked for: from the frame after the first
        #: shown outputs on, since the lookup imports the download module (and httpx),
        #: which the dashboard's first frame should not wait for.
        self._files_looked_for = False
        self.section_renders: Counter[str] = Counter()
        """How many times each body (section or summary part) was given new text."""
        self._shown_task: Task | None = None
        self._task_rendered = False
        self._head_key: tuple[object, ...] | None = None
        self._clock_key: tuple[object, ...] | None = None
        self._clock_text: Text | None = None
        self._tail_key: tuple[object, ...] | None = None
        self._history_key: tuple[object, ...] | None = None
        # id(task) -> (task, sections); the task is kept so its id cannot be reused.
        self._cache: OrderedDict[int, tuple[Task, dict[str, Content | None]]] = OrderedDict()

    def compose(self) -> ComposeResult:
        yield self._empty
        for key, _title in SECTIONS:
            yield self._headings[key]
            if key == "summary":
                for part in SUMMARY_PARTS:
                    yield self._bodies[part]
            elif key == "preview":
                yield self.preview
            else:
                yield self._bodies[key]

    def on_mount(self) -> None:
        self.preview.keymap = self._backend.settings.keymap if self._backend else {}
        for key, _title in SECTIONS:
            self._set_section(key, None)
        for part in SUMMARY_PARTS[1:]:
            self._set_body(part, None)

    @property
    def shown_ref(self) -> TaskRef | None:
        """The task the pane currently shows, or ``None``."""
        return self._shown_ref

    def show(
        self,
        entry: WatchEntry | None,
        *,
        now: datetime,
        note: Text | None = None,
        error: AIReiterError | None = None,
        retried_as: Sequence[TaskRef] = (),
        eta: str | None = None,
    ) -> None:
        """Show ``entry`` (or the empty message), rebuilding only what changed.

        Args:
            entry: The selected watched task, or ``None`` when nothing is selected.
            now: The current time, for "12s ago" and elapsed durations.
            note: The last refresh problem for this task, already safe to show.
            error: That problem itself (``Row.error``): the status then reads as in the
                table (``⚠ not found``; ``⊘ gone`` for a task the server forgot).
            retried_as: The watched tasks that retry this one (linked in the summary).
            eta: The expected time left for an unfinished task, in words.
        """
        if now.tzinfo is None:
            # Task times are aware UTC; subtracting them from a naive time would raise.
            now = now.astimezone()
        if entry is None:
            if not self._shown_empty:
                self._show_empty()
            return
        changed = False
        if self._shown_empty or entry.ref != self._shown_ref:
            self._shown_empty = False
            self._shown_ref = entry.ref
            self._empty.display = False
            self.scroll_home(animate=False)
        task = entry.task
        if not self._task_rendered or task is not self._shown_task:
            self._render_task(task)
            changed = True
        changed = self._show_summary(entry, now, note, error, tuple(retried_as), eta) or changed
        self._entry = entry
        changed = self._show_outputs(entry) or changed
        history_key = self._history_signature(entry.ref, entry.history, now)
        if history_key != self._history_key:
            self._history_key = history_key
            self._set_section("history", history_section(entry.history, now))
            changed = True
        if changed:
            self.render_count += 1

    def _show_empty(self) -> None:
        self._shown_empty = True
        self._shown_ref = None
        self._shown_task = None
        self._task_rendered = False
        self._head_key = self._clock_key = self._tail_key = self._clock_text = None
        self._history_key = None
        self._entry = None
        self._outputs_key = None
        self.preview.forget()
        for key, _title in SECTIONS:
            self._set_section(key, None)
        for part in SUMMARY_PARTS[1:]:
            self._set_body(part, None)
        self._empty.display = True
        self.remove_class("-error-shown")
        self.scroll_home(animate=False)
        self.render_count += 1

    def _show_summary(
        self,
        entry: WatchEntry,
        now: datetime,
        note: Text | None,
        error: AIReiterError | None,
        retried_as: tuple[TaskRef, ...],
        eta: str | None,
    ) -> bool:
        """Rebuild the summary parts whose inputs changed; say whether any body changed."""
        changed = False
        # The task is compared by identity: the refresher hands out a new Task object for
        # every response, and comparing two 200 KB raw dicts by value would not be cheap.
        stale = note is not None
        task = entry.task
        gone = forgotten(task.status if task else None, error)
        # The status line shows the error's kind (its label), not its message.
        kind = None if error is None else type(error)
        head_key = (
            entry.ref,
            id(task),
            entry.label,
            stale,
            kind,
            now.tzinfo,
            entry.retry_of,
            retried_as,
        )
        if head_key != self._head_key:
            self._head_key = head_key
            head = summary_head(entry, now, stale=stale, error=error, retried_as=retried_as)
            self._set_section("summary", head)
            changed = True
        clock_key = (
            id(task),
            entry.added_at,
            entry.checked_at,
            entry.estimated_credits,
            gone,
            eta,
            now.replace(microsecond=0),
        )
        if clock_key != self._clock_key:
            self._clock_key = clock_key
            clock = summary_clock(entry, now, gone=gone, eta=eta)
            # "2h07m ago" moves once a minute, a finished task's lines not at all: a tick
            # that changes nothing shown redraws nothing.
            if clock != self._clock_text:
                self._clock_text = clock
                self._set_body("summary-clock", clock)
                changed = True
        not_found = isinstance(error, TaskNotFoundError)
        tail_key = (
            id(task),
            entry.checked_at is None,
            not_found,
            None if note is None else note.plain,
        )
        if tail_key != self._tail_key:
            self._tail_key = tail_key
            self._set_body("summary-tail", summary_tail(entry, note, error=error))
            changed = True
        return changed

    # --- outputs: link states, local files, the preview --------------------------------
    def _show_outputs(self, entry: WatchEntry) -> bool:
        """Rebuild the outputs section and the preview if the task, the cache or what is
        known of the outputs changed; say whether anything was rebuilt."""
        task = entry.task
        cache = self._backend.outputs if self._backend is not None else None
        key = (entry.ref, id(task), id(cache), self._outputs_version, self.previews)
        if key == self._outputs_key:
            return False
        self._outputs_key = key
        if task is None:
            self._set_section("outputs", None)
        else:
            keymap = self._backend.settings.keymap if self._backend else {}
            notes = self._output_notes(entry.ref.id, task)
            body = outputs_section(task, notes, open_key=first_key("open_local", keymap))
            self._set_section("outputs", body)
        # No cache and no folder for one (a pane on its own): nothing could be fetched.
        backend = self._backend
        can_fetch = cache is not None or (backend is not None and backend.cache_dir is not None)
        wanted = self.previews and can_fetch
        shown = wanted and self.preview.show(entry.ref.key, task, cache)
        if not wanted:
            self.preview.forget()
        self._headings["preview"].display = shown
        self.preview.display = shown
        return True

    def _output_notes(self, ident: str, task: Task) -> list[OutputNote]:
        """Each output's dead link (as the cache remembers it) and local file, if any."""
        backend = self._backend
        if backend is None:
            return []
        outputs = task.outputs[:MAX_NOTED_OUTPUTS]
        cache = backend.outputs
        saved_paths = self._saved_paths(ident, task, backend)
        notes = []
        for output, saved in zip(outputs, saved_paths, strict=False):
            fetched = cache.cached(output.url) if cache is not None else None
            failed = fetched is not None and fetched.path is None
            notes.append(
                OutputNote(
                    state=fetched.state.value if failed and fetched else "",
                    reason=fetched.reason if failed and fetched else "",
                    saved=_home_short(saved) if saved is not None else "",
                )
            )
        return notes

    def _saved_paths(self, ident: str, task: Task, backend: Backend) -> list[Path | None]:
        """Where each output was saved, if it was; all ``None`` until files are looked
        for (the frame after the first shown outputs)."""
        if not self._files_looked_for:
            self.call_after_refresh(self._look_for_files)
            return [None] * len(task.outputs)
        from aireiter_tui.domain.download_names import plan, saved_path

        items = plan([(ident, [output.url for output in task.outputs])], backend.download_dir)
        return [saved_path(item) for item in items]

    def _look_for_files(self) -> None:
        if self._files_looked_for:
            return
        self._files_looked_for = True
        self._outputs_version += 1
        if self._entry is not None and not self._shown_empty:
            self._show_outputs(self._entry)

    def outputs_changed(self) -> None:
        """Look again at the shown task's link states and local files (after a fetch or
        a download)."""
        self._outputs_version += 1
        if self._entry is not None and not self._shown_empty:
            self._show_outputs(self._entry)
            self.preview.reload()

    def on_output_preview_landed(self, event: OutputPreview.Landed) -> None:
        event.stop()
        self.outputs_changed()

    def step_preview(self, delta: int) -> bool:
        """Preview the next (1) or previous (-1) output or input image; False when there
        is nothing else to switch to."""
        return self.previews and self.preview.display and self.preview.step(delta)

    @property
    def previewed(self) -> PreviewItem | None:
        """The output or input image the preview shows, or ``None``."""
        if not (self.previews and self.preview.display):
            return None
        return self.preview.current

    def _render_task(self, task: Task | None) -> None:
        self._shown_task = task
        self._task_rendered = True
        sections = {} if task is None else self._task_sections(task)
        for key, _build in _TASK_SECTIONS:
            self._set_section(key, sections.get(key))
        self.set_class(self._bodies["error"].display, "-error-shown")

    def _task_sections(self, task: Task) -> dict[str, Content | None]:
        cached = self._cache.get(id(task))
        if cached is not None and cached[0] is task:
            self._cache.move_to_end(id(task))
            return cached[1]
        sections: dict[str, Content | None] = {}
        for key, build in _TASK_SECTIONS:
            text = build(task)
            sections[key] = None if text is None else self._to_content(text)
        self._cache[id(task)] = (task, sections)
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return sections

    def _to_content(self, text: Text) -> Content:
        return Content.from_rich_text(text, console=self.app.console)

    def _set_section(self, key: str, body: Text | Content | None) -> None:
        if key == "preview":
            # Its body is a widget of its own: emptied only (see _show_outputs).
            self.preview.forget()
            self._headings[key].display = self.preview.display = False
            return
        self._headings[key].display = self._set_body(key, body)

    def _set_body(self, key: str, body: Text | Content | None) -> bool:
        """Show ``body`` in the body widget ``key`` (hidden when empty); return whether it
        is visible."""
        static = self._bodies[key]
        if isinstance(body, Text):
            body = self._to_content(body)
        visible = body is not None and bool(body.plain)
        if visible and body is not None:
            # A body that keeps its lines ("checked 3s ago" becoming "4s ago", each second)
            # is redrawn where it is: laying the screen out again took 10-45 ms.
            static.update(body, layout=not (static.display and _fits(body, static.size)))
            self.section_renders[key] += 1
        elif static.display:
            # Drop a large body we no longer show instead of keeping it laid out.
            static.update(Content())
        static.display = visible
        return visible

    @staticmethod
    def _history_signature(
        ref: TaskRef, history: list[StatusChange], now: datetime
    ) -> tuple[object, ...]:
        last = history[-1] if history else None
        # Times are shown with the date unless they fall on the current day.
        return (ref, len(history), last, now.date(), now.tzinfo)


def _fits(body: Content, size: Size) -> bool:
    """Whether ``body`` fills exactly the ``size`` a body has now: as many lines as it is
    high, none wider than it (so none wraps, and its height stays)."""
    lines = body.plain.split("\n")
    return len(lines) == size.height and all(cell_len(line) <= size.width for line in lines)
