"""The preview in the detail pane: one of a task's outputs (or input images) drawn in the
terminal, or what a video is, or why a link cannot be shown.

``textual_image`` draws with the terminal's best protocol (Kitty graphics, Sixel, or
coloured half-blocks everywhere else, tmux included). It asks the terminal which it
speaks when it is imported, which only works before Textual reads the keyboard: this
module is imported with the app, never later.

Nothing here waits for the network or for Pillow on the event loop. The cache is asked
first, synchronously (a stat); a file not there yet is fetched by a worker while the pane
says "loading…", and a file is decoded to a bounded picture on a thread. Only bytes the
cache has sniffed as an image ever reach Pillow, and an image bigger than Pillow's own
decompression-bomb limit is described instead of decoded.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Final

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from aireiter_tui.domain.models import Task
from aireiter_tui.domain.sanitize import url_refusal
from aireiter_tui.ui.bindings import first_key
from aireiter_tui.ui.widgets.formatting import STALE_STYLE

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from aireiter_tui.domain.output_cache import Fetched, OutputCache

#: The longest side a picture is decoded to: wider than a detail pane drawn with Kitty
#: graphics or Sixel (100 cells of 10 px), far more than half-blocks need (2 px a row).
DECODE_BOUND: Final = 800
#: Pictures up to this many pixels are decoded on the event loop (a 320x180 PNG takes
#: about a millisecond, 640x640 a few); larger ones on a thread.
INLINE_PIXELS: Final = 640 * 640
#: Decoded pictures kept, so moving back to a recent task draws at once (~2 MB each).
_KEPT_PICTURES: Final = 8
#: At most this many outputs and input images are offered in the switch.
MAX_ITEMS: Final = 50
#: The params that hold input images, in the order they are offered after the outputs.
INPUT_IMAGE_PARAMS: Final = ("image_url", "end_image_url")
LOADING: Final = "loading…"
_FORMATS: Final = ("PNG", "JPEG", "GIF", "WEBP")


@dataclass(frozen=True, slots=True)
class PreviewItem:
    """One thing the preview can show: an output or an input image, by its URL."""

    url: str
    label: str
    """``output 2``, ``input image_url 1``, ``input attachment 3``."""
    is_input: bool = False


def preview_items(task: Task | None) -> tuple[PreviewItem, ...]:
    """The outputs, then the input images (``image_url``, the attachments, then
    ``end_image_url``): each URL once, only http/https links, at most :data:`MAX_ITEMS`."""
    if task is None:
        return ()
    found: list[PreviewItem] = []
    for number, output in enumerate(islice(task.outputs, MAX_ITEMS), 1):
        found.append(PreviewItem(output.url, f"output {number}"))
    given = task.input
    if given is not None:
        groups = (
            ("image_url", given.url_lists.get("image_url", ())),
            ("attachment", given.attachments),
            ("end_image_url", given.url_lists.get("end_image_url", ())),
        )
        for name, urls in groups:
            for number, url in enumerate(islice(urls, MAX_ITEMS), 1):
                label = f"input {name}" if len(urls) == 1 else f"input {name} {number}"
                found.append(PreviewItem(url, label, is_input=True))
    # The API echoes the input images in ``attachments`` too: each URL is offered once.
    seen: set[str] = set()
    usable = []
    for item in found:
        if item.url not in seen and url_refusal(item.url) is None:
            seen.add(item.url)
            usable.append(item)
    return tuple(usable[:MAX_ITEMS])


class PictureProblem(Exception):
    """A file the cache called an image that cannot be drawn; ``str()`` says why."""


def decode(path: Path, width: int | None, height: int | None) -> PILImage.Image:
    """The picture at ``path``, at most :data:`DECODE_BOUND` pixels a side, in RGB.

    ``width`` and ``height`` are what the file's headers said (from the cache's sniffing):
    an image over Pillow's decompression-bomb limit is refused before any pixel is
    decoded (Pillow only warns below twice that limit, and decoding it would take
    hundreds of megabytes).

    Raises:
        PictureProblem: the file is too big, damaged or not one of the known formats.
    """
    # Pillow is imported here, off the loop, by the first decode: the dashboard's first
    # frame does not wait for it.
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    limit = PILImage.MAX_IMAGE_PIXELS
    if width and height and limit and width * height > limit:
        raise PictureProblem(f"too large to draw ({width} x {height} pixels)")
    try:
        with PILImage.open(path, formats=_FORMATS) as image:
            # JPEG decodes at 1/2 to 1/8 of its size when asked first: far less work.
            image.draft("RGB", (DECODE_BOUND, DECODE_BOUND))
            image.thumbnail((DECODE_BOUND, DECODE_BOUND))
            return image.convert("RGB")
    except PILImage.DecompressionBombError:
        raise PictureProblem("too large to draw") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        # PIL's messages name the file's path (our cache): say what happened in words.
        kind = "damaged" if not isinstance(error, UnidentifiedImageError) else "unknown"
        raise PictureProblem(f"the image cannot be drawn ({kind} image data)") from None


def best_image_type() -> type[Widget]:
    """textual-image's widget for the terminal's best protocol.

    Importing it asks the terminal what it can draw (a Sixel and a Kitty query, up to
    0.1 s each when the terminal does not answer), which works only before Textual takes
    the terminal: the dashboard's start imports it on a thread meanwhile
    (``aireiter_tui.cli._dashboard``), so here it is already loaded.
    """
    import textual_image.widget

    image: type[Widget] = textual_image.widget.Image
    return image


class OutputPreview(Vertical):
    """A task's outputs and input images, one at a time (``[`` and ``]`` switch).

    Call :meth:`show` with the task whenever the pane shows one: it does nothing unless
    the task or the cache changed. When a fetch lands it posts :class:`Landed`, so the
    pane can show the outputs' link states.
    """

    DEFAULT_CSS = """
    OutputPreview {
        height: auto;
    }
    OutputPreview > #preview-caption {
        color: $text-muted;
    }
    OutputPreview > #preview-message {
        color: $text-muted;
    }
    OutputPreview > .preview-image {
        width: auto;
        height: auto;
        max-height: 18;
    }
    """

    #: The widget that draws pictures; None: the terminal's best protocol (see
    #: :func:`best_image_type`). Tests and the snapshot scenes use half-blocks, which
    #: draw the same cells on any terminal.
    image_type: ClassVar[type[Widget] | None] = None

    class Landed(Message):
        """A fetch for the preview finished: the outputs' link states may have changed."""

        def __init__(self, url: str) -> None:
            super().__init__()
            self.url = url

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._caption = Static(id="preview-caption", markup=False)
        self._message = Static(id="preview-message", markup=False)
        #: The picture's widget, made and mounted by the first picture drawn: textual-image
        #: (and Pillow under it) is not imported before the dashboard's first frame.
        self._picture: Widget | None = None
        self._items: tuple[PreviewItem, ...] = ()
        self._index = 0
        self._key: tuple[object, ...] | None = None
        self._cache: OutputCache | None = None
        #: url -> (picture, what it is): decoded pictures of recently shown items.
        self._pictures: OrderedDict[str, tuple[PILImage.Image, str]] = OrderedDict()
        #: Bumped whenever another item is shown: a worker finishing for an item no longer
        #: shown drops its result.
        self._generation = 0
        self.keymap: Mapping[str, str] = {}
        """The ``[keys]`` remaps, for the keys the preview names."""
        self.drawn: str | None = None
        """The URL of the picture drawn now, or ``None`` (loading, a message, nothing)."""

    def compose(self) -> ComposeResult:
        yield self._caption
        yield self._message

    def on_mount(self) -> None:
        self._message.display = False

    @property
    def items(self) -> tuple[PreviewItem, ...]:
        """What the switch goes through: the outputs, then the input images."""
        return self._items

    @property
    def current(self) -> PreviewItem | None:
        """The item shown (or being fetched), ``None`` when there is nothing to show."""
        return self._items[self._index] if self._items else None

    @property
    def message(self) -> str:
        """The text shown instead of a picture ("loading…", why not), or ``""``."""
        return str(self._message.render()) if self._message.display else ""

    def show(self, key: str, task: Task | None, cache: OutputCache | None) -> bool:
        """Preview ``task`` (whose row key is ``key``); return whether it has anything to
        preview. The item shown stays when the same task is shown again with news."""
        signature = (key, id(task), id(cache))
        if signature == self._key:
            return bool(self._items)
        same_task = self._key is not None and self._key[0] == key
        self._key = signature
        current = self.current
        self._items = preview_items(task)
        self._cache = cache
        if same_task and current in self._items:
            assert current is not None
            self._index = self._items.index(current)
        elif not same_task or self._index >= len(self._items):
            self._index = 0
        if (
            same_task
            and current is not None
            and current == self.current
            and self.drawn == current.url
        ):
            return True  # the task refreshed, the same picture still drawn
        self._load()
        return bool(self._items)

    def forget(self) -> None:
        """Show nothing (no task, or previews turned off); stop any fetch."""
        self._key = None
        self._items = ()
        self._index = 0
        self._load()

    def step(self, delta: int) -> bool:
        """Show the next (``1``) or previous (``-1``) item, wrapping; False if there is no
        other item to switch to."""
        if len(self._items) < 2:
            return False
        self._index = (self._index + delta) % len(self._items)
        self._load()
        return True

    def reload(self) -> None:
        """Ask the cache again for the item shown (a download may have fetched it)."""
        if self.drawn is None:
            self._load()

    # --- loading ----------------------------------------------------------------------
    def _load(self) -> None:
        self._generation += 1
        self.drawn = None
        item = self.current
        if item is None:
            self.workers.cancel_group(self, "preview")
            _clear(self._caption)
            self._say(None)
            return
        self._caption.update(self._caption_text(item, None))
        kept = self._pictures.get(item.url)
        if kept is not None:
            self._pictures.move_to_end(item.url)
            self.workers.cancel_group(self, "preview")
            self._draw(item, *kept)
            return
        cache = self._cache
        if cache is None:
            # Not connected yet: the pane shows the task again once the cache exists.
            self._say(Text(LOADING))
            return
        fetched = cache.cached(item.url)
        if fetched is not None and not _drawable(fetched):
            self.workers.cancel_group(self, "preview")
            self._tell(item, fetched)
            return
        if fetched is not None and _small(fetched):
            # A few milliseconds on the loop save a frame of "loading…" and a second
            # layout of the pane: the picture is painted with the cursor's move.
            self.workers.cancel_group(self, "preview")
            self._decoded(item, fetched, self._generation, _decode(fetched))
            return
        self._say(Text(LOADING))
        self.run_worker(
            self._fetch(item, self._generation, cache, fetched),
            group="preview",
            exclusive=True,
            exit_on_error=False,
        )

    async def _fetch(
        self, item: PreviewItem, generation: int, cache: OutputCache, fetched: Fetched | None
    ) -> None:
        if fetched is None:
            fetched = await cache.fetch(item.url)
            self.post_message(self.Landed(item.url))
        if generation != self._generation:
            return
        if not _drawable(fetched):
            self._tell(item, fetched)
            return
        picture = await asyncio.to_thread(_decode, fetched)
        self._decoded(item, fetched, generation, picture)

    def _decoded(
        self,
        item: PreviewItem,
        fetched: Fetched,
        generation: int,
        picture: PILImage.Image | PictureProblem | OSError,
    ) -> None:
        """Draw what decoding ``fetched`` gave, if ``item`` is still the one shown."""
        info = fetched.info
        assert info is not None
        described = info.describe()
        if not isinstance(picture, PictureProblem | OSError):
            self._pictures[item.url] = (picture, described)
            while len(self._pictures) > _KEPT_PICTURES:
                self._pictures.popitem(last=False)
        if generation != self._generation:
            return
        if not isinstance(picture, PictureProblem | OSError):
            self._draw(item, picture, described)
        elif isinstance(picture, PictureProblem):
            self._caption.update(self._caption_text(item, described))
            self._say(Text(str(picture).capitalize() + ".", style=STALE_STYLE))
        else:
            # The file went between the stat and the read (evicted): fetch it again.
            self._load()

    # --- what is shown ----------------------------------------------------------------
    def _caption_text(self, item: PreviewItem, described: str | None) -> Text:
        text = Text()
        if len(self._items) > 1:
            text.append(f"{self._index + 1}/{len(self._items)}  ", style="bold")
        text.append(item.label)
        if described:
            text.append(f" · {described}")
        if len(self._items) > 1:
            previous = first_key("preview_previous", self.keymap)
            following = first_key("preview_next", self.keymap)
            text.append(f"   {previous} {following} switch", style="dim")
        return text

    def _draw(self, item: PreviewItem, picture: PILImage.Image, described: str) -> None:
        self._caption.update(self._caption_text(item, described))
        self._say(None)
        if self._picture is None:
            # textual_image's constructors take the image first; its types are not exported.
            image_type = self.image_type or best_image_type()
            self._picture = image_type(picture, classes="preview-image")  # type: ignore[arg-type]
            self.mount(self._picture)
        else:
            self._picture.image = picture  # type: ignore[attr-defined]
        self._picture.display = True
        self.drawn = item.url

    def _tell(self, item: PreviewItem, fetched: Fetched) -> None:
        """A dead link, a video or another file: say what it is instead of drawing it."""
        info = fetched.info
        self._caption.update(self._caption_text(item, info.describe() if info else None))
        if fetched.path is None:
            text = Text(fetched.state.value, style=f"bold {STALE_STYLE}")
            if fetched.reason:
                text.append(f": {fetched.reason}", style=STALE_STYLE)
            self._say(text)
            return
        text = Text(
            "A video: no preview." if info and info.is_video else "Not an image: no preview."
        )
        if not item.is_input:
            opens = first_key("open", self.keymap)
            saves = first_key("download", self.keymap)
            text.append(f" {opens} opens it in the browser, {saves} downloads it.", style="dim")
        self._say(text)

    def _say(self, text: Text | None) -> None:
        if text is None:
            self._message.display = False
            _clear(self._message)
        else:
            if self._picture is not None:
                self._picture.display = False
            self._message.update(text)
            self._message.display = True


def _clear(static: Static) -> None:
    """Empty ``static``, unless it is empty already: ``update`` lays the whole screen out
    even for the same text (at start-up, a task with no outputs is shown again once the
    pane has looked for saved files, after the first frame and before the rest of the
    list is read)."""
    if static.content != "":
        static.update("")


def _small(fetched: Fetched) -> bool:
    """Whether the picture is small enough to decode on the event loop."""
    info = fetched.info
    if info is None or info.width is None or info.height is None:
        return False
    return info.width * info.height <= INLINE_PIXELS


def _decode(fetched: Fetched) -> PILImage.Image | PictureProblem | OSError:
    """:func:`decode` of a drawable file, its failure returned rather than raised."""
    path, info = fetched.image_path, fetched.info
    assert path is not None and info is not None
    try:
        return decode(path, info.width, info.height)
    except (PictureProblem, OSError) as problem:
        return problem


def _drawable(fetched: Fetched) -> bool:
    """Whether the cache's magic-byte check called the file an image (only then may
    Pillow see it)."""
    return fetched.image_path is not None
