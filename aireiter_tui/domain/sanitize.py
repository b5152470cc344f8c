"""Make strings from the network safe to show, and decide which URLs may be opened.

Every string that came over the network goes through :func:`clean` before it reaches
a widget: Textual passes ESC, OSC and C1 control bytes straight to the terminal even
inside ``rich.text.Text``, so they are replaced here by visible placeholders. Markup is
never parsed either: widgets get ``Text``/``Content`` objects, not markup strings.

Strings that name something exactly (statuses, IDs, model names, URLs) go through
:func:`visible` instead: on top of :func:`clean` it writes every invisible character
as ``⟨U+200B⟩``, so ``completed`` followed by a zero-width space cannot pass for
``completed``. Prose (prompts, labels, messages) keeps them: there they join emoji and
shape scripts. :func:`url_warning` says why a URL that may be opened deserves a second
look (a host in lookalike letters, invisible characters).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final
from urllib.parse import SplitResult, urlsplit

# C0 controls, DEL, C1 controls (0x80-0x9f, which include the one-byte CSI 0x9b),
# and the Unicode bidi overrides/isolates that could reorder the rest of a line.
_CONTROL_RE: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Lone surrogates (JSON allows "\ud800" escapes) cannot be encoded: the terminal stream
# writes each as the six characters "\ud800", shifting the rest of its line by five cells.
_SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")
REPLACEMENT: Final = "\ufffd"
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
    text = _SURROGATE_RE.sub(REPLACEMENT, text)
    text = agreed_widths(text)
    # Folding newlines can shrink a pre-cut text below max_length: it still lost its tail.
    if max_length is not None and (cut or len(text) > max_length):
        text = text[: max_length - 1] + ELLIPSIS
    return text


def one_line(text: str, limit: int = 80) -> str:
    """``text`` to quote in a sentence: :func:`clean`, on one line, at most ``limit``
    characters."""
    return clean(text, max_length=limit, single_line=True)


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
    if _SURROGATE_RE.search(url):
        return "the URL contains broken characters (lone surrogates)"
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


# --- emoji that terminals draw at different widths ------------------------------------------

# Rich measures a grapheme cluster (an emoji with its selector, skin tone or ZWJ partners)
# as one 2-cell glyph; terminals that do not cluster (tmux among them) draw a text-style
# base with VS16 one cell wide, a skin tone as a second emoji, and join a ZWJ sequence to
# the width of its first character. The row then shifts by the difference.
_DISPUTED_RE: Final = re.compile("[\ufe0e\ufe0f\u200d\U0001f3fb-\U0001f3ff]")
_SKIN_TONES: Final = "\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff"


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in "WF"


def agreed_widths(text: str) -> str:
    """``text`` with the emoji sequences whose width terminals dispute rewritten to ones
    every terminal draws as wide as Rich counts them.

    A variation selector after a narrow base goes (``❤️`` is drawn as ``❤``), a skin
    tone goes (``👍🏽`` as ``👍``), and a ZWJ goes when it would join an emoji to a narrow
    character (``🏳️‍🌈`` as ``🏳🌈``). ZWJ sequences that start wide (``👩‍💻``), flags,
    CJK and the ZWJ that shapes Indic and Arabic script are left alone.
    """
    if not _DISPUTED_RE.search(text):
        return text
    kept: list[str] = []
    for index, char in enumerate(text):
        base = kept[-1] if kept else ""
        if char in "\ufe0e\ufe0f":
            if base and not _wide(base):
                continue
        elif char in _SKIN_TONES:
            if _is_emoji(base):
                continue
        elif char == "\u200d":
            after = text[index + 1] if index + 1 < len(text) else ""
            if _is_emoji(after) and not (base == "\ufe0f" or _wide(base)):
                continue
        kept.append(char)
    return "".join(kept)


# --- invisible characters -------------------------------------------------------------------

# Characters that draw nothing (or a blank) yet change what a string is: format characters
# (category Cf: zero-width space/joiners, word joiner, BOM, soft hyphen, bidi marks and
# overrides, tags...), variation selectors, spaces other than U+0020, line/paragraph
# separators, combining grapheme joiner, Hangul fillers, the blank Braille pattern.
# Listed, not derived from unicodedata at import: scanning every code point would cost
# about 0.2 s of start-up. tests/test_lookalikes.py checks the list against unicodedata.
_INVISIBLE_RE: Final = re.compile(
    "["
    "\u00a0\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2"
    "\u115f\u1160\u1680\u17b4\u17b5\u180b-\u180f"
    "\u2000-\u200f\u2028-\u202f\u205f-\u206f\u2800\u3000\u3164"
    "\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U00016fe4\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
    "]"
)
_ESCAPE_RE: Final = re.compile("\u27e8U\\+[0-9A-F]{4,6}\u27e9")
_TAG_FIRST: Final = 0xE0020
_TAG_LAST: Final = 0xE007F
_KEYCAP: Final = "\u20e3"
_BLACK_FLAG: Final = "\U0001f3f4"


def escape_code(char: str) -> str:
    """How :func:`visible` writes one invisible character: ``⟨U+200B⟩``."""
    return f"\u27e8U+{ord(char):04X}\u27e9"


def escape_spans(text: str) -> list[tuple[int, int]]:
    """Where :func:`visible` output holds escapes (start, end), to highlight them."""
    return [match.span() for match in _ESCAPE_RE.finditer(text)]


def _is_emoji(char: str) -> bool:
    """Roughly: a character that starts or continues an emoji presentation sequence."""
    if not char:
        return False
    code = ord(char)
    # Skin tones are Sk; "‼" and "⁉" are Po: the rest of the emoji are symbols (So).
    return (
        0x1F3FB <= code <= 0x1F3FF or char in "\u203c\u2049" or unicodedata.category(char) == "So"
    )


def _part_of_emoji(text: str, index: int) -> bool:
    """Whether the invisible ``text[index]`` belongs to an emoji sequence (and so stays):
    VS15/VS16 after an emoji or in a keycap, a ZWJ between two emoji, the tags of a
    subdivision flag."""
    char = text[index]
    code = ord(char)
    before = text[index - 1] if index else ""
    after = text[index + 1] if index + 1 < len(text) else ""
    if char in "\ufe0e\ufe0f":
        keycap = bool(before) and before in "#*0123456789" and after == _KEYCAP
        return keycap or _is_emoji(before)
    if char == "\u200d":
        return (_is_emoji(before) or before == "\ufe0f") and _is_emoji(after)
    if _TAG_FIRST <= code <= _TAG_LAST:
        start = index
        while start > 0 and _TAG_FIRST <= ord(text[start - 1]) <= _TAG_LAST:
            start -= 1
        return start > 0 and text[start - 1] == _BLACK_FLAG
    return False


def escape_invisible(text: str) -> str:
    """``text`` with each invisible character written as ``⟨U+XXXX⟩`` (emoji kept whole)."""
    if not _INVISIBLE_RE.search(text):
        return text
    pieces: list[str] = []
    last = 0
    for match in _INVISIBLE_RE.finditer(text):
        index = match.start()
        if _part_of_emoji(text, index):
            continue
        pieces.append(text[last:index])
        pieces.append(escape_code(match.group()))
        last = index + 1
    pieces.append(text[last:])
    return "".join(pieces)


def has_invisible(text: str) -> bool:
    """Whether :func:`visible` would write an escape into ``text``."""
    return any(not _part_of_emoji(text, m.start()) for m in _INVISIBLE_RE.finditer(text))


def visible(text: str, *, max_length: int | None = None) -> str:
    """One line of ``text`` exactly as it is: :func:`clean` output in which every invisible
    character is written as ``⟨U+XXXX⟩`` (bidi controls too, instead of U+FFFD).

    For strings that name something (statuses, IDs, model names, URLs), where an
    invisible character makes a different value that looks the same. Not for prose:
    CJK and emoji (with their VS16 and ZWJ) stay as they are, but a zero-width space
    that separates Thai words would be escaped.
    """
    if not isinstance(text, str):
        text = str(text)
    if max_length is not None:
        # Bound the work on huge strings; one character more tells clean() it was cut.
        text = text[: max(max_length, 0) * 4 + 1]
    return clean(escape_invisible(text), max_length=max_length, single_line=True)


# --- URLs that may be opened but deserve a second look ----------------------------------------

#: Longer than any DNS name (253) even written in four-byte characters: not encoded.
_MAX_HOST_CHARS: Final = 1024


def punycode_host(host: str) -> str | None:
    """``host`` as DNS sees it (``apple.com`` in Cyrillic letters -> ``xn--80ak6aa92e.com``),
    or ``None`` when it has no valid IDNA form (an empty or too long label, a forbidden
    character)."""
    if len(host) > _MAX_HOST_CHARS:
        return None
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def _written_host(parts: SplitResult) -> str:
    """The host as the URL writes it: ``urlsplit().hostname`` lowercases it, and a lookalike
    should be shown as the server sent it."""
    host = parts.netloc.rpartition("@")[2]
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    return host.rpartition(":")[0] if ":" in host else host


@dataclass(frozen=True, slots=True)
class Lookalike:
    """Why a URL may not lead where it seems to: see :func:`url_lookalike`."""

    host: str
    """The host as written (may hold invisible characters; show it with :func:`visible`)."""
    ascii_host: str | None
    """The host as DNS sees it, or ``None`` when it has no valid IDNA form."""
    ascii_url: str | None
    """The whole URL with :attr:`ascii_host` in place of the host."""
    non_ascii_host: bool
    non_latin_host: bool
    invisible_in_host: bool
    invisible_in_url: bool

    @property
    def sentence(self) -> str:
        """The warning, in a sentence, to ask before opening (already safe to show)."""
        host = visible(self.host, max_length=80)
        puny = visible(self.ascii_host, max_length=80) if self.ascii_host else None
        if self.invisible_in_host:
            lead = f"The host {host} holds invisible characters"
            where = f" (the browser may go to {puny})" if puny else " (it has no valid form)"
            return f"{lead}{where}; it may imitate another site."
        if self.non_ascii_host:
            letters = "non-Latin letters" if self.non_latin_host else "characters beyond ASCII"
            form = puny if puny else "it has no valid punycode form"
            return f"The host {host} is written in {letters} ({form}); it may imitate another site."
        return (
            "The URL holds invisible characters (shown as \u27e8U+…\u27e9); "
            "it may not be the link it looks like."
        )

    @property
    def short(self) -> str:
        """The warning in a few words, for a list of URLs."""
        puny = visible(self.ascii_host, max_length=80) if self.ascii_host else "no valid form"
        if self.invisible_in_host:
            return f"invisible characters in the host = {puny}"
        if self.non_ascii_host:
            kind = "non-Latin" if self.non_latin_host else "non-ASCII"
            return f"{kind} host = {puny}"
        return "invisible characters in the URL"


def url_lookalike(url: str) -> Lookalike | None:
    """What makes ``url`` look like another (a non-ASCII host, invisible characters
    anywhere), or ``None``. Unparseable URLs give ``None``: :func:`url_refusal` says why.

    A non-ASCII path alone does not count: the host decides which site is opened.
    """
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = _written_host(parts)
    non_ascii_host = not host.isascii()
    invisible_in_url = has_invisible(url)
    if not (non_ascii_host or invisible_in_url):
        return None
    ascii_host = punycode_host(host) if non_ascii_host else host
    ascii_url = None
    if ascii_host is not None and host:
        start = url.find(host, len(parts.scheme) + 3) if "://" in url else -1
        if start >= 0:
            ascii_url = url[:start] + ascii_host + url[start + len(host) :]
    letters = [char for char in host if not char.isascii() and char.isalpha()]
    return Lookalike(
        host=host,
        ascii_host=ascii_host,
        ascii_url=ascii_url,
        non_ascii_host=non_ascii_host,
        non_latin_host=any("LATIN" not in unicodedata.name(char, "") for char in letters),
        invisible_in_host=has_invisible(host),
        invisible_in_url=invisible_in_url,
    )


def url_warning(url: str) -> str | None:
    """A sentence to show before opening ``url`` if it may imitate another link, else
    ``None``: "The host apple.com is written in non-Latin letters (xn--80ak6aa92e.com);
    it may imitate another site." (that apple.com in Cyrillic). Ask first;
    :func:`url_refusal` still decides whether it may be opened at all."""
    lookalike = url_lookalike(url)
    return None if lookalike is None else lookalike.sentence
