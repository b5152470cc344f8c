"""What the headless commands write: nothing raw from the network, nothing the stream
cannot encode.

Plain text shows control characters as symbols (:func:`~aireiter_tui.domain.sanitize.
clean`), lone surrogates as U+FFFD, and timestamps to the second. JSON is strict: those
characters and the bidi overrides are escaped (``\\u009b``), lone surrogates become
U+FFFD, and NaN/Infinity (which JSON cannot say) become ``null``. Whatever the stream's
encoding cannot say (a terminal under ``LANG=C``) becomes ``?`` in text and ``\\uXXXX``
in JSON, never a traceback.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Final, TextIO

from aireiter_tui.domain.sanitize import clean

_SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")
# Line and paragraph separators: str.splitlines() and some terminals break lines at them.
_SEPARATORS_RE: Final = re.compile("[\u2028\u2029]")
# What JSON carries unescaped but a terminal or a line reader must not get raw: DEL, the
# C1 controls (0x9b is a one-byte CSI), the bidi controls that reorder a line, and the
# line and paragraph separators that str.splitlines() cuts JSON Lines at. (json.dumps
# escapes C0 itself.) They occur only inside strings, where an escape means the same.
_JSON_UNSAFE_RE: Final = re.compile(
    "[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def whole(text: str) -> str:
    """``text`` with each lone surrogate (JSON's ``"\\ud800"``: no character, and no
    encoding can write it) as U+FFFD; two that make one character are joined."""
    if not _SURROGATE_RE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def shown(value: object, max_length: int | None = None) -> str:
    """One field of plain output: one line, control characters as visible symbols."""
    text = _SEPARATORS_RE.sub(" ", whole(str(value)))
    return clean(text, max_length=max_length, single_line=True)


def timestamp(moment: datetime | None) -> str:
    """ISO 8601 to the second, in UTC as the watchlist file says it, or "" for none."""
    if moment is None:
        return ""
    if moment.utcoffset() is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment.isoformat(timespec="seconds") + "Z"
    return moment.isoformat(timespec="seconds")


def _json_ready(value: object) -> object:
    """A copy of a JSON value that strict JSON can say: strings (keys too) made whole,
    NaN and ±Infinity as null (as JavaScript's JSON.stringify does)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {whole(str(key)): _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    return whole(str(value))


def json_text(value: object, out: TextIO, *, indent: int | None = None) -> str:
    """``value`` as strict JSON that ``out`` can encode, with nothing raw for a terminal."""
    ready = _json_ready(value)
    text = json.dumps(ready, ensure_ascii=False, allow_nan=False, indent=indent)
    if not encodable(text, out):  # ASCII under LANG=C, say: \uXXXX escapes lose nothing
        text = json.dumps(ready, ensure_ascii=True, allow_nan=False, indent=indent)
    return _JSON_UNSAFE_RE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _encoding(out: TextIO) -> str:
    return getattr(out, "encoding", None) or "utf-8"


def encodable(text: str, out: TextIO) -> bool:
    try:
        text.encode(_encoding(out))
    except (UnicodeError, LookupError):
        return False
    return True


def write(out: TextIO, text: str) -> None:
    """Write ``text``; what the stream's encoding cannot say (a terminal under LANG=C,
    PYTHONIOENCODING=ascii) becomes "?", never a UnicodeEncodeError."""
    if not encodable(text, out):
        encoding = _encoding(out)
        try:
            text = text.encode(encoding, "replace").decode(encoding)
        except (UnicodeError, LookupError):
            text = text.encode("ascii", "replace").decode("ascii")
    out.write(text)
