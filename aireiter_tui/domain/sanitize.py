"""Make strings from the network safe to show, and decide which URLs may be opened.

Every string that came over the network goes through :func:`clean` before it reaches
a widget: Textual passes ESC, OSC and C1 control bytes straight to the terminal even
inside ``rich.text.Text``, so they are replaced here by visible placeholders. Markup is
never parsed either: widgets get ``Text``/``Content`` objects, not markup strings.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

# C0 controls, DEL, C1 controls (0x80-0x9f, which include the one-byte CSI 0x9b),
# and the Unicode bidi overrides/isolates that could reorder the rest of a line.
_CONTROL_RE: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NEWLINES_RE: Final = re.compile(r"[\r\n\t]+")
ELLIPSIS: Final = "…"
MAX_URL_LENGTH: Final = 8192


def _placeholder(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the "symbol for" block: ␛ for ESC, ␀ for NUL
    if code == 0x7F:
        return "\u2421"
    return "\ufffd"


def clean(text: str, *, max_length: int | None = None, single_line: bool = False) -> str:
    """Return ``text`` with control characters made visible and harmless.

    Args:
        text: Any string from the network or a file.
        max_length: Truncate to this many characters (an ellipsis included).
        single_line: Fold newlines and tabs into single spaces (for table cells).
    """
    if not isinstance(text, str):
        text = str(text)
    if max_length is not None and max_length <= 0:
        return ""
    cut = max_length is not None and len(text) > max_length * 4
    if max_length is not None and cut:
        # Bound the work on huge strings before the regexes run over them.
        text = text[: max_length * 4]
    if single_line:
        text = _NEWLINES_RE.sub(" ", text)
    else:
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    text = _CONTROL_RE.sub(_placeholder, text)
    # Folding newlines can shrink a pre-cut text below max_length: it still lost its tail.
    if max_length is not None and (cut or len(text) > max_length):
        text = text[: max_length - 1] + ELLIPSIS
    return text


def url_refusal(url: str) -> str | None:
    """Say why ``url`` must not be opened, or return ``None`` if it is safe.

    Only absolute ``http``/``https`` URLs with a host and no embedded credentials are
    opened. The raw string is checked, not only ``urlsplit``'s view of it, because
    ``urlsplit`` silently drops newlines and tabs.
    """
    if not isinstance(url, str) or not url:
        return "the URL is empty"
    if len(url) > MAX_URL_LENGTH:
        return "the URL is too long"
    if url != url.strip() or any(ch.isspace() for ch in url):
        return "the URL contains spaces or line breaks"
    if _CONTROL_RE.search(url):
        return "the URL contains control characters"
    if url.startswith("-"):
        return "the URL starts with '-'"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        # Read for its check only: .port raises ValueError for a non-numeric or >65535 port.
        _ = parts.port
    except ValueError:
        return "the URL cannot be parsed"
    if not parts.scheme:
        return "the URL has no scheme (only http and https links are opened)"
    if parts.scheme.lower() not in ("http", "https"):
        scheme = clean(parts.scheme, max_length=20)
        return f"only http and https links are opened, not {scheme}"
    if not host:
        return "the URL has no host"
    if parts.username is not None or parts.password is not None:
        return "the URL carries a user name or password"
    return None


def is_openable_url(url: str) -> bool:
    """True if :func:`url_refusal` has no objection to ``url``."""
    return url_refusal(url) is None
