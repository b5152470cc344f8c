"""The files the simulator serves as task outputs: real PNGs and MP4-looking bytes.

Both are pure Python and deterministic: the same seed always gives the same bytes, so
tests can compare downloads and screenshots stay stable.
"""

from __future__ import annotations

import random
import struct
import zlib
from functools import lru_cache
from typing import Final

#: The long side of every generated image; small so tests and the demo stay fast.
LONG_SIDE: Final = 320
PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"


def size_for_aspect_ratio(aspect_ratio: object, long_side: int = LONG_SIDE) -> tuple[int, int]:
    """Width and height for an ``"W:H"`` aspect ratio (``16:9`` -> 320x180).

    Anything that is not a well-formed ratio (``"auto"``, ``None``, ``"0:5"``) gives a square.
    """
    if isinstance(aspect_ratio, str):
        left, sep, right = aspect_ratio.partition(":")
        try:
            w, h = float(left), float(right)
        except ValueError:
            w = h = 1.0
        if not sep or w <= 0 or h <= 0 or w / h > 20 or h / w > 20:
            w = h = 1.0
    else:
        w = h = 1.0
    if w >= h:
        return long_side, max(1, round(long_side * h / w))
    return max(1, round(long_side * w / h)), long_side


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


@lru_cache(maxsize=64)
def make_png(width: int, height: int, seed: int) -> bytes:
    """An RGB PNG of ``width`` x ``height``: a diagonal gradient with stripes, from ``seed``.

    Each row is the same base row shifted through a byte translation table, which keeps
    the work per image at a few milliseconds without any per-pixel Python loop.
    """
    rng = random.Random(seed)
    start = [rng.randrange(256) for _ in range(3)]
    step = [rng.uniform(-1.5, 1.5) * 256 / max(width, 1) for _ in range(3)]
    base = bytearray(width * 3)
    for x in range(width):
        for c in range(3):
            base[x * 3 + c] = int(start[c] + step[c] * x) % 256
    row = bytes(base)
    stripe = rng.randrange(8, 32)
    vertical = rng.uniform(0.3, 1.2)
    raw = bytearray()
    for y in range(height):
        shift = int(y * vertical) + (24 if (y // stripe) % 2 else 0)
        table = bytes((v + shift) % 256 for v in range(256))
        raw += b"\x00"  # filter type "None" for this scanline
        raw += row.translate(table)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        (
            PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(bytes(raw), 6)),
            _chunk(b"IEND", b""),
        )
    )


def png_size(data: bytes) -> tuple[int, int]:
    """Read width and height from a PNG's IHDR chunk (used by tests and sanity checks)."""
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


_IDENTITY_MATRIX: Final = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def _movie_header(duration: float, width: int, height: int) -> bytes:
    """A ``moov`` with the movie header (duration) and one video track header (size)."""
    timescale = 1000
    length = round(duration * timescale)
    mvhd = _box(
        b"mvhd",
        struct.pack(">B3xIIII", 0, 0, 0, timescale, length)
        + struct.pack(">IH10x", 0x10000, 0x100)
        + _IDENTITY_MATRIX
        + bytes(24)
        + struct.pack(">I", 2),
    )
    tkhd = _box(
        b"tkhd",
        struct.pack(">B3BIII4xI8x", 0, 0, 0, 3, 0, 0, 1, length)
        + struct.pack(">hhH2x", 0, 0, 0)
        + _IDENTITY_MATRIX
        + struct.pack(">II", width << 16, height << 16),
    )
    return _box(b"moov", mvhd + _box(b"trak", tkhd))


@lru_cache(maxsize=16)
def make_mp4(
    seed: int, size: int = 4096, duration: float = 5.0, width: int = 1280, height: int = 720
) -> bytes:
    """Bytes laid out as an ISO-BMFF file: ``ftyp``, a ``moov`` whose headers give the
    duration and frame size, then ``free`` and ``mdat``.

    Not a playable video (no sample tables); enough for a client to sniff the type, read
    the duration and size, and for a viewer to say it cannot play it.
    """
    rng = random.Random(seed)
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2avc1mp41")
    moov = _movie_header(duration, width, height)
    free = _box(b"free", b"aireiter-simulator")
    payload = rng.randbytes(max(0, size - len(ftyp) - len(moov) - len(free) - 8))
    return ftyp + moov + free + _box(b"mdat", payload)


def content_type_for(name: str) -> str:
    """The Content-Type the file server sends for an output file name."""
    if name.endswith(".mp4"):
        return "video/mp4"
    if name.endswith(".png"):
        return "image/png"
    return "application/octet-stream"
