"""clean() makes network strings harmless; url_refusal() decides which links may be opened."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from aireiter_tui.domain.sanitize import (
    ELLIPSIS,
    MAX_URL_LENGTH,
    clean,
    escape_invisible,
    is_openable_url,
    url_refusal,
    visible,
)
from aireiter_tui.ui.widgets.formatting import safe

# What must never reach the terminal: C0 except LF, DEL, C1 (which includes one-byte CSI).
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


@pytest.mark.parametrize(
    "dangerous",
    [
        "\x1b",
        "\x1b]52;c;aGk=\x07",  # OSC 52: would write "hi" to the user's clipboard
        "\x1b[2J",  # clear screen
        "\x9b2J",  # the same through the one-byte C1 CSI
        "\x00",
        "\x7f",
        "\x1b]8;;https://evil/\x1b\\link\x1b]8;;\x1b\\",  # OSC 8 hyperlink
    ],
)
@pytest.mark.parametrize("single_line", [False, True])
def test_control_sequences_are_neutralised(dangerous: str, single_line: bool) -> None:
    result = clean(f"before{dangerous}after", single_line=single_line)
    assert not FORBIDDEN.search(result)
    assert result.startswith("before") and result.endswith("after")


def test_placeholders_are_visible() -> None:
    assert clean("a\x1bb") == "a\u241bb"  # ␛
    assert clean("a\x00b") == "a\u2400b"  # ␀
    assert clean("a\x7fb") == "a\u2421b"  # ␡
    assert clean("a\x9bb") == "a\ufffdb"


def test_osc52_payload_cannot_act() -> None:
    result = clean("\x1b]52;c;aGk=\x07")
    assert "\x1b" not in result and "\x07" not in result
    assert "52;c;aGk=" in result  # shown as text, so a person can see what was sent


@pytest.mark.parametrize("char", list(BIDI))
def test_bidi_overrides_replaced(char: str) -> None:
    result = clean(f"invoice{char}fdp.exe")
    assert char not in result
    assert result.startswith("invoice") and result.endswith("fdp.exe")


@pytest.mark.parametrize(
    "text",
    [
        "日本語のプロンプト",
        "собака на пляже",
        "كلب على الشاطئ",  # right-to-left script itself is fine
        "e\u0301 n\u0303 a\u0308",  # combining accents
        "🐕‍🦺 👩‍🎨",  # ZWJ sequences that start wide
        "plain ASCII, with [bold]markup[/bold] left as text",
    ],
)
def test_ordinary_text_unchanged(text: str) -> None:
    assert clean(text) == text
    assert clean(text, single_line=True) == text


def test_newlines_and_tabs() -> None:
    assert clean("a\r\nb\rc\nd\te") == "a\nb\nc\nd    e"
    assert clean("a\r\n\r\nb\tc\n", single_line=True) == "a b c "


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("abcdef", 3, "ab" + ELLIPSIS),
        ("abc", 3, "abc"),
        ("abcd", 1, ELLIPSIS),
        ("abcd", 0, ""),
        ("", 5, ""),
        ("\n" * 100 + "tail", 10, " " + ELLIPSIS),
    ],
)
def test_max_length(text: str, limit: int, expected: str) -> None:
    assert clean(text, max_length=limit, single_line=True) == expected


def test_huge_string_is_bounded() -> None:
    huge = "\x1b[2J" * 2_500_000  # 10,000,000 characters
    result = clean(huge, max_length=80, single_line=True)
    assert len(result) == 80
    assert result.endswith(ELLIPSIS)
    assert not FORBIDDEN.search(result)


@given(
    text=st.text(alphabet=st.characters(codec="utf-8")),
    single_line=st.booleans(),
    max_length=st.none() | st.integers(min_value=0, max_value=50),
)
@settings(max_examples=300)
def test_clean_never_emits_controls(text: str, single_line: bool, max_length: int | None) -> None:
    result = clean(text, max_length=max_length, single_line=single_line)
    assert not FORBIDDEN.search(result)
    assert not any(ch in BIDI for ch in result)
    if max_length is not None:
        assert len(result) <= max_length
    if single_line:
        assert "\n" not in result


@given(st.text(alphabet=st.sampled_from("ab\x1b\x9b\x00\x7f\n\r\t\u202e[]"), max_size=60))
def test_clean_control_heavy_text(text: str) -> None:
    for single_line in (False, True):
        assert not FORBIDDEN.search(clean(text, single_line=single_line, max_length=20))


@pytest.mark.parametrize(
    "url",
    [
        "https://s1.pxz.ai/upload/image-generator/20251218/hYtdX7AInk4HgErJCgD-w-item-0.jpeg",
        "http://127.0.0.1:8080/out/a.png",
        "HTTPS://EXAMPLE.COM/A.PNG",
        "https://example.com/a.png?sig=abc&exp=1#frag",
        "https://例え.jp/画像.png",
        "https://[::1]:8443/x.mp4",
    ],
)
def test_openable_urls(url: str) -> None:
    assert url_refusal(url) is None
    assert is_openable_url(url)


@pytest.mark.parametrize(
    ("url", "reason_part"),
    [
        ("javascript:alert(1)", "javascript"),
        ("JavaScript:alert(1)", "javascript"),
        ("file:///etc/passwd", "file"),
        ("data:text/html,<script>alert(1)</script>", "data"),
        ("ftp://example.com/a.png", "ftp"),
        ("example.com/a.png", "scheme"),
        ("//example.com/a.png", "scheme"),
        ("-https://example.com/", "'-'"),
        ("--help", "'-'"),
        ("https://exa\nmple.com/", "line breaks"),
        ("https://example.com/\ta.png", "spaces"),
        ("https://example.com/a b.png", "spaces"),
        (" https://example.com/", "spaces"),
        ("https://example.com/\x1b[2J", "control"),
        ("https://user:pw@example.com/", "password"),
        ("https://user@example.com/", "user name"),
        ("https:///a.png", "no host"),
        ("https://", "no host"),
        ("https://example.com:99999/", "parsed"),
        ("https://[::1/a.png", "parsed"),
        ("https://example.com/" + "a" * MAX_URL_LENGTH, "too long"),
        ("", "empty"),
    ],
)
def test_refused_urls(url: str, reason_part: str) -> None:
    reason = url_refusal(url)
    assert reason is not None
    assert reason_part in reason.lower()
    assert not FORBIDDEN.search(reason)  # the reason is shown to the user
    assert len(reason) < 120
    assert not is_openable_url(url)


@given(st.text(max_size=80))
def test_url_refusal_total(url: str) -> None:
    reason = url_refusal(url)
    assert reason is None or (reason and not FORBIDDEN.search(reason))
    if reason is None:
        assert url.lower().startswith(("http://", "https://"))


# --- lone surrogates and invisible characters (issue 13, items 9 and 12) -------------------

ANY_TEXT = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8"), st.characters(categories=["Cs"])),
    max_size=80,
)


@given(text=ANY_TEXT, single_line=st.booleans(), max_length=st.none() | st.integers(0, 50))
@settings(max_examples=300)
def test_clean_output_takes_the_cells_it_says(
    text: str, single_line: bool, max_length: int | None
) -> None:
    """What a widget measures is what the terminal gets: the stream Textual writes to
    (``sys.__stderr__``) turns a lone surrogate into six characters, so none may remain."""
    result = clean(text, max_length=max_length, single_line=single_line)
    result.encode("utf-8")  # strict
    written = result.encode("utf-8", "backslashreplace").decode("utf-8")
    assert cell_len(written) == cell_len(result)


@given(text=ANY_TEXT)
@settings(max_examples=300)
def test_visible_leaves_nothing_invisible(text: str) -> None:
    shown = visible(text)
    assert escape_invisible(shown) == shown  # only emoji keep their joiners and selectors
    assert not FORBIDDEN.search(shown) and "\n" not in shown
    shown.encode("utf-8")


# Widths measured in tmux 3.3a (printing each and reading #{cursor_x}); Rich 15 counts
# every one of these sequences as one 2-cell cluster, so before agreed_widths() a row
# holding one was drawn shifted.
@pytest.mark.parametrize(
    ("text", "shown", "cells"),
    [
        ("\u2764\ufe0f", "\u2764", 1),  # heart with VS16
        ("\u2714\ufe0f", "\u2714", 1),
        ("1\ufe0f\u20e3", "1\u20e3", 1),  # keycap
        ("\U0001f44d\U0001f3fd", "\U0001f44d", 2),  # skin tone: tmux draws 4
        ("\U0001f3f3\ufe0f\u200d\U0001f308", "\U0001f3f3\U0001f308", 3),  # rainbow flag
        ("\u2764\ufe0f\u200d\U0001f525", "\u2764\U0001f525", 3),
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467", None, 2),  # family: joined
        ("\U0001f1ef\U0001f1f5", None, 2),  # flag
        ("\U0001f3ac", None, 2),
        ("日本", None, 4),
        ("\u0915\u094d\u200d\u0937", None, 1),  # Devanagari: the ZWJ shapes, it stays
    ],
)
def test_cell_widths_agree_with_what_terminals_draw(
    text: str, shown: str | None, cells: int
) -> None:
    assert clean(text) == (shown or text)
    assert cell_len(clean(text)) == cells
    assert cell_len(safe(f"{text} hero").plain) == cells + 5


def test_a_vs16_after_a_wide_emoji_stays() -> None:
    assert clean("\U0001f3ac\ufe0f") == "\U0001f3ac\ufe0f"
