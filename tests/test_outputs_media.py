"""media_info: what a file is, from its magic bytes and headers only (never Pillow, never
the whole file)."""

from __future__ import annotations

import io
import pathlib
import struct
from pathlib import Path
from typing import IO, Any

import pytest
from PIL import Image

from aireiter_tui.domain.media_info import (
    IMAGE_KINDS,
    MediaInfo,
    MediaKind,
    human_duration,
    human_size,
    inspect,
    sniff,
)
from aireiter_tui.simulator.media import make_mp4, make_png


def pillow_bytes(fmt: str, size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, format=fmt)
    return out.getvalue()


def written(tmp_path: Path, data: bytes, name: str = "f") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (make_png(16, 9, 1), MediaKind.PNG),
        (pillow_bytes("JPEG"), MediaKind.JPEG),
        (pillow_bytes("GIF"), MediaKind.GIF),
        (pillow_bytes("WEBP"), MediaKind.WEBP),
        (make_mp4(1), MediaKind.MP4),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x82\x84webm", MediaKind.WEBM),
        (b"<!doctype html><html>", MediaKind.OTHER),
        (b"", MediaKind.OTHER),
        (b"\x89PNG", MediaKind.OTHER),  # cut before the signature ends
    ],
)
def test_sniff_tells_kinds_by_magic_bytes(data: bytes, kind: MediaKind) -> None:
    assert sniff(data[:64]) is kind


@pytest.mark.parametrize(
    ("fmt", "size"),
    [("PNG", (321, 123)), ("JPEG", (77, 301)), ("GIF", (64, 48)), ("WEBP", (90, 45))],
)
def test_inspect_reads_image_dimensions(tmp_path: Path, fmt: str, size: tuple[int, int]) -> None:
    data = pillow_bytes(fmt, size)
    info = inspect(written(tmp_path, data))
    assert (info.width, info.height) == size
    assert info.size == len(data)
    assert info.is_image and info.kind in IMAGE_KINDS


def test_inspect_reads_lossless_and_extended_webp(tmp_path: Path) -> None:
    out = io.BytesIO()
    Image.new("RGBA", (33, 17), (1, 2, 3, 4)).save(out, format="WEBP", lossless=True)
    info = inspect(written(tmp_path, out.getvalue()))
    assert (info.width, info.height) == (33, 17)


def test_inspect_reads_a_jpeg_frame_after_exif(tmp_path: Path) -> None:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010E] = "x" * 5000  # ImageDescription: a long APP1 segment before the frame
    Image.new("RGB", (50, 20)).save(out, format="JPEG", exif=exif.tobytes())
    info = inspect(written(tmp_path, out.getvalue()))
    assert (info.width, info.height) == (50, 20)


def test_mp4_duration_and_frame_size(tmp_path: Path) -> None:
    info = inspect(
        written(tmp_path, make_mp4(7, size=20_000, duration=65.4, width=640, height=360))
    )
    assert info.kind is MediaKind.MP4 and not info.is_image and info.is_video
    assert (info.width, info.height) == (640, 360)
    assert info.duration == pytest.approx(65.4)
    assert info.describe() == "MP4 video 640\N{MULTIPLICATION SIGN}360, 20 KB, 1:05"


def _ebml(ident: bytes, payload: bytes) -> bytes:
    assert len(payload) < 127
    return ident + bytes([0x80 | len(payload)]) + payload


def test_webm_duration_and_frame_size(tmp_path: Path) -> None:
    header = _ebml(b"\x1a\x45\xdf\xa3", _ebml(b"\x42\x82", b"webm"))
    info = _ebml(
        b"\x15\x49\xa9\x66",
        _ebml(b"\x2a\xd7\xb1", (1_000_000).to_bytes(3, "big"))
        + _ebml(b"\x44\x89", struct.pack(">d", 12_500.0)),
    )
    video = _ebml(b"\xe0", _ebml(b"\xb0", (854).to_bytes(2, "big")) + _ebml(b"\xba", b"\x01\xe0"))
    tracks = _ebml(b"\x16\x54\xae\x6b", _ebml(b"\xae", video))
    # A Segment of unknown size, as live encoders write it.
    segment = b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff" + info + tracks
    got = inspect(written(tmp_path, header + segment + bytes(1000)))
    assert got.kind is MediaKind.WEBM
    assert (got.width, got.height, got.duration) == (854, 480, pytest.approx(12.5))


class _Counting:
    """Wraps a file and counts the bytes read through it."""

    def __init__(self, handle: IO[bytes], counter: list[int]) -> None:
        self._handle = handle
        self._counter = counter

    def read(self, n: int = -1) -> bytes:
        data = self._handle.read(n)
        self._counter[0] += len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> _Counting:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


def test_a_big_video_is_described_from_a_few_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 300 MB file (sparse: it costs no disk) whose moov comes after its mdat.
    head = make_mp4(3, size=2000)
    ftyp_end = struct.unpack(">I", head[:4])[0]
    moov_len = struct.unpack(">I", head[ftyp_end : ftyp_end + 4])[0]
    moov = head[ftyp_end : ftyp_end + moov_len]
    mdat_size = 300_000_000
    path = tmp_path / "big.mp4"
    with path.open("wb") as f:
        f.write(head[:ftyp_end])
        f.write(struct.pack(">I4s", mdat_size, b"mdat"))
        f.seek(ftyp_end + mdat_size)
        f.write(moov)
    counter = [0]
    real_open = pathlib.Path.open
    monkeypatch.setattr(
        pathlib.Path, "open", lambda self, *a, **k: _Counting(real_open(self, *a, **k), counter)
    )
    info = inspect(path)
    assert info.duration == pytest.approx(5.0) and info.size > mdat_size
    assert counter[0] < 4096


def test_a_cut_file_says_what_it_can(tmp_path: Path) -> None:
    png = make_png(30, 20, 2)
    assert inspect(written(tmp_path, png[:20])) == MediaInfo(MediaKind.PNG, 20)
    mp4 = make_mp4(2)
    cut = inspect(written(tmp_path, mp4[:40]))
    assert cut.kind is MediaKind.MP4 and cut.duration is None
    jpeg = pillow_bytes("JPEG")
    assert inspect(written(tmp_path, jpeg[:30])).width is None


def test_describe_words() -> None:
    assert MediaInfo(MediaKind.PNG, 41_000, 320, 180).describe() == (
        "PNG 320\N{MULTIPLICATION SIGN}180, 41 KB"
    )
    assert MediaInfo(MediaKind.MP4, 1_200_000, duration=5.2).describe() == (
        "MP4 video, 1.2 MB, 0:05"
    )
    assert MediaInfo(MediaKind.OTHER, 12).describe() == "file, 12 B"
    assert [human_size(n) for n in (999, 1000, 999_499, 999_500, 999_999_999, 5 * 10**12)] == [
        "999 B",
        "1 KB",
        "999 KB",
        "1.0 MB",
        "1.0 GB",
        "5000.0 GB",
    ]
    assert [human_duration(s) for s in (0.4, 59.6, 3600 + 62)] == ["0:00", "1:00", "1:01:02"]
