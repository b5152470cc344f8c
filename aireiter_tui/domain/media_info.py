"""What an output file is, told by its bytes: the kind from its magic bytes, and the
size, dimensions and duration from its headers.

Nothing here decodes pixels or loads a whole file: a preview must know a file is an
image before Pillow sees it (a server's Content-Type or a ``.png`` name proves nothing),
and a 200 MB video must be described by reading a few kilobytes of it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Final


class MediaKind(StrEnum):
    """The kinds of output file we recognise; everything else is ``OTHER``."""

    PNG = "png"
    JPEG = "jpeg"
    GIF = "gif"
    WEBP = "webp"
    MP4 = "mp4"
    WEBM = "webm"
    OTHER = "other"


IMAGE_KINDS: Final[frozenset[MediaKind]] = frozenset(
    {MediaKind.PNG, MediaKind.JPEG, MediaKind.GIF, MediaKind.WEBP}
)
VIDEO_KINDS: Final[frozenset[MediaKind]] = frozenset({MediaKind.MP4, MediaKind.WEBM})

_TIMES: Final = "\N{MULTIPLICATION SIGN}"
#: How many leading bytes :func:`sniff` needs to tell every kind apart.
SNIFF_BYTES: Final = 64
#: The file extension each kind is saved with.
EXTENSIONS: Final[dict[MediaKind, str]] = {
    MediaKind.PNG: "png",
    MediaKind.JPEG: "jpg",
    MediaKind.GIF: "gif",
    MediaKind.WEBP: "webp",
    MediaKind.MP4: "mp4",
    MediaKind.WEBM: "webm",
    MediaKind.OTHER: "bin",
}

_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_EBML_MAGIC: Final = b"\x1a\x45\xdf\xa3"
# ISO-BMFF brands of files a video player takes as MP4 (QuickTime's "qt  " included).
_MP4_BRANDS: Final = (b"isom", b"iso", b"mp4", b"avc1", b"M4V", b"qt  ", b"dash", b"mmp4", b"MSNV")
#: JPEG start-of-frame markers (the ones carrying the dimensions); C4, C8 and CC are not.
_JPEG_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: How far into a JPEG the frame header is looked for (EXIF thumbnails come first).
_JPEG_SCAN_LIMIT: Final = 4 * 1024 * 1024
#: How many bytes of a WebM are read for its Info and Tracks elements.
_WEBM_HEAD: Final = 256 * 1024
#: At most this many ISO-BMFF boxes are walked (a crafted file could hold millions).
_MAX_BOXES: Final = 4096


def sniff(head: bytes) -> MediaKind:
    """The kind of file whose first bytes are ``head`` (:data:`SNIFF_BYTES` suffice)."""
    if head.startswith(_PNG_SIGNATURE):
        return MediaKind.PNG
    if head.startswith(b"\xff\xd8\xff"):
        return MediaKind.JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return MediaKind.GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return MediaKind.WEBP
    if head[4:8] == b"ftyp" and head[8:12].startswith(_MP4_BRANDS):
        return MediaKind.MP4
    if head.startswith(_EBML_MAGIC) and b"webm" in head[:SNIFF_BYTES]:
        return MediaKind.WEBM
    return MediaKind.OTHER


@dataclass(frozen=True)
class MediaInfo:
    """What the headers of one file say. Dimensions and duration are ``None`` when the
    headers do not tell them (or the file is cut short)."""

    kind: MediaKind
    size: int
    width: int | None = None
    height: int | None = None
    duration: float | None = None

    @property
    def is_image(self) -> bool:
        """An image kind Pillow may be given (the magic bytes said so)."""
        return self.kind in IMAGE_KINDS

    @property
    def is_video(self) -> bool:
        return self.kind in VIDEO_KINDS

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.kind]

    def describe(self) -> str:
        """One plain line: ``PNG 320x180, 41 KB`` (with a multiplication sign) or
        ``MP4 video, 1.2 MB, 0:05``."""
        name = "file" if self.kind is MediaKind.OTHER else self.kind.value.upper()
        head = name
        if self.is_video:
            head = f"{name} video"
        if self.width and self.height:
            head = f"{head} {self.width}{_TIMES}{self.height}"
        parts = [head, human_size(self.size)]
        if self.duration is not None:
            parts.append(human_duration(self.duration))
        return ", ".join(parts)


def human_size(size: int) -> str:
    """``512 B``, ``41 KB``, ``1.2 MB``, ``3.4 GB`` (decimal units, as file managers)."""
    if size < 1000:
        return f"{size} B"
    if size < 999_500:
        return f"{size / 1e3:.0f} KB"
    if size < 999_950_000:
        return f"{size / 1e6:.1f} MB"
    return f"{size / 1e9:.1f} GB"


def human_duration(seconds: float) -> str:
    """``0:05``, ``12:34``, ``1:02:03``."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def inspect(path: Path) -> MediaInfo:
    """Describe the file at ``path`` from its headers only.

    Raises:
        OSError: the file cannot be read.
    """
    with path.open("rb") as f:
        size = _file_size(f)
        head = f.read(SNIFF_BYTES)
        kind = sniff(head)
        f.seek(0)
        width = height = None
        duration = None
        if kind is MediaKind.PNG:
            width, height = _png_size(head)
        elif kind is MediaKind.GIF:
            width, height = _gif_size(head)
        elif kind is MediaKind.WEBP:
            width, height = _webp_size(f.read(64))
        elif kind is MediaKind.JPEG:
            width, height = _jpeg_size(f)
        elif kind is MediaKind.MP4:
            width, height, duration = _mp4_facts(f, size)
        elif kind is MediaKind.WEBM:
            width, height, duration = _webm_facts(f.read(_WEBM_HEAD))
    return MediaInfo(kind, size, width, height, duration)


def _file_size(f: BinaryIO) -> int:
    f.seek(0, 2)
    size = f.tell()
    f.seek(0)
    return size


def _dimensions(width: int, height: int) -> tuple[int | None, int | None]:
    if width <= 0 or height <= 0:
        return None, None
    return width, height


def _png_size(head: bytes) -> tuple[int | None, int | None]:
    if head[12:16] != b"IHDR" or len(head) < 24:
        return None, None
    width, height = struct.unpack(">II", head[16:24])
    return _dimensions(width, height)


def _gif_size(head: bytes) -> tuple[int | None, int | None]:
    if len(head) < 10:
        return None, None
    width, height = struct.unpack("<HH", head[6:10])
    return _dimensions(width, height)


def _webp_size(head: bytes) -> tuple[int | None, int | None]:
    chunk = head[12:16]
    if chunk == b"VP8X" and len(head) >= 30:
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        return _dimensions(width, height)
    if chunk == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return _dimensions((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", head[26:30])
        return _dimensions(width & 0x3FFF, height & 0x3FFF)
    return None, None


def _jpeg_size(f: BinaryIO) -> tuple[int | None, int | None]:
    """Walk the JPEG's marker segments (skipping each by its length) to the frame header."""
    f.seek(2)
    while f.tell() < _JPEG_SCAN_LIMIT:
        byte = f.read(1)
        if not byte:
            return None, None
        if byte != b"\xff":
            continue
        marker = f.read(1)
        while marker == b"\xff":  # fill bytes before a marker
            marker = f.read(1)
        if not marker:
            return None, None
        code = marker[0]
        if code in (0xD8, 0x01) or 0xD0 <= code <= 0xD7:
            continue  # markers without a length
        if code == 0xD9 or code == 0xDA:
            return None, None  # end of image, or the scan began: no frame header before it
        length_bytes = f.read(2)
        if len(length_bytes) < 2:
            return None, None
        length = int.from_bytes(length_bytes, "big")
        if length < 2:
            return None, None
        if code in _JPEG_SOF:
            frame = f.read(5)
            if len(frame) < 5:
                return None, None
            height, width = struct.unpack(">HH", frame[1:5])
            return _dimensions(width, height)
        f.seek(length - 2, 1)
    return None, None


def _boxes(f: BinaryIO, start: int, end: int, budget: list[int]) -> list[tuple[bytes, int, int]]:
    """The ISO-BMFF boxes between ``start`` and ``end``: (type, payload start, payload end).

    Read by seeking from header to header, so a 200 MB ``mdat`` costs one 16-byte read.
    """
    found: list[tuple[bytes, int, int]] = []
    offset = start
    while offset + 8 <= end and budget[0] > 0:
        budget[0] -= 1
        f.seek(offset)
        header = f.read(8)
        if len(header) < 8:
            break
        size, kind = struct.unpack(">I4s", header)
        payload = offset + 8
        if size == 1:
            large = f.read(8)
            if len(large) < 8:
                break
            size = struct.unpack(">Q", large)[0]
            payload = offset + 16
        elif size == 0:
            size = end - offset  # the box runs to the end of its parent
        if size < payload - offset:
            break
        box_end = min(offset + size, end)
        found.append((kind, payload, box_end))
        offset = offset + size
    return found


def _mp4_facts(f: BinaryIO, size: int) -> tuple[int | None, int | None, float | None]:
    budget = [_MAX_BOXES]
    duration: float | None = None
    width = height = None
    for kind, start, end in _boxes(f, 0, size, budget):
        if kind != b"moov":
            continue
        for child, c_start, c_end in _boxes(f, start, end, budget):
            if child == b"mvhd" and duration is None:
                duration = _mvhd_duration(f, c_start, c_end)
            elif child == b"trak" and width is None:
                width, height = _trak_size(f, c_start, c_end, budget)
        break
    return width, height, duration


def _mvhd_duration(f: BinaryIO, start: int, end: int) -> float | None:
    f.seek(start)
    data = f.read(min(end - start, 32))
    if not data:
        return None
    if data[0] == 1 and len(data) >= 32:
        timescale, length = struct.unpack(">IQ", data[20:32])
    elif data[0] == 0 and len(data) >= 20:
        timescale, length = struct.unpack(">II", data[12:20])
    else:
        return None
    if timescale == 0 or length in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
        return None
    return float(length / timescale)


def _trak_size(
    f: BinaryIO, start: int, end: int, budget: list[int]
) -> tuple[int | None, int | None]:
    for kind, c_start, c_end in _boxes(f, start, end, budget):
        if kind != b"tkhd" or c_end - c_start < 84:
            continue
        f.seek(c_end - 8)  # width and height close the box, as 16.16 fixed point
        tail = f.read(8)
        if len(tail) < 8:
            return None, None
        width, height = struct.unpack(">II", tail)
        return _dimensions(width >> 16, height >> 16)
    return None, None


# Matroska element IDs (with their length-marker bits, as they appear in the file).
_SEGMENT: Final = 0x18538067
_INFO: Final = 0x1549A966
_TRACKS: Final = 0x1654AE6B
_TRACK_ENTRY: Final = 0xAE
_VIDEO: Final = 0xE0
_TIMECODE_SCALE: Final = 0x2AD7B1
_DURATION: Final = 0x4489
_PIXEL_WIDTH: Final = 0xB0
_PIXEL_HEIGHT: Final = 0xBA
_CONTAINERS: Final = frozenset({_SEGMENT, _INFO, _TRACKS, _TRACK_ENTRY, _VIDEO})


def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at ``pos``: (value, length), or ``None``."""
    if pos >= len(data):
        return None
    first = data[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8 or pos + length > len(data):
        return None
    value = first if keep_marker else first & (0xFF >> length)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    return value, length


def _webm_facts(data: bytes) -> tuple[int | None, int | None, float | None]:
    scale = 1_000_000  # Matroska's default: timestamps in milliseconds
    raw_duration: float | None = None
    width = height = None
    pos = 0
    # A flat walk that steps into the few containers we care for and over everything
    # else; a Segment or Cluster of "unknown size" is stepped into, never skipped.
    while pos < len(data):
        element = _vint(data, pos, keep_marker=True)
        if element is None:
            break
        ident, id_len = element
        sized = _vint(data, pos + id_len, keep_marker=False)
        if sized is None:
            break
        length, size_len = sized
        body = pos + id_len + size_len
        unknown = length == (1 << (7 * size_len)) - 1
        if ident in _CONTAINERS or unknown:
            pos = body
            continue
        value = data[body : body + length]
        if ident == _TIMECODE_SCALE and value:
            scale = int.from_bytes(value, "big") or scale
        elif ident == _DURATION and len(value) in (4, 8):
            raw_duration = struct.unpack(">f" if len(value) == 4 else ">d", value)[0]
        elif ident == _PIXEL_WIDTH and value and width is None:
            width = int.from_bytes(value, "big")
        elif ident == _PIXEL_HEIGHT and value and height is None:
            height = int.from_bytes(value, "big")
        pos = body + length
    duration = None
    if raw_duration is not None and raw_duration == raw_duration and raw_duration >= 0:
        duration = raw_duration * scale / 1e9
    if width is None or height is None:
        return None, None, duration
    w, h = _dimensions(width, height)
    return w, h, duration
