"""Strings that look like others: invisible characters, lookalike hosts, lone surrogates.

A status of ``completed`` + a zero-width space is not ``completed`` and must not read
like it; an output host in Cyrillic lookalikes (or with a zero-width space inside) is
shown with its punycode form and opened only after the user confirms; a lone surrogate
from the network takes one cell, not the six the terminal stream would write for it.
Domain checks first (sanitize), then the same strings through the real app.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import (
    SIZE,
    T0,
    AppFactory,
    all_fetched,
    assert_terminal_safe,
    fault_settings,
    opened_urls,
    pane_text,
    refs_of,
    row_line,
    seed_watchlist,
    settled,
    table,
    table_lines,
    wait_for,
)
from rich.cells import cell_len
from screen_fixtures import Host, finish, shown
from textual.pilot import Pilot
from textual.widgets import OptionList, Static

from aireiter_tui.domain.models import OutputKind, TaskOutput, TaskRef, TaskStatus
from aireiter_tui.domain.sanitize import (
    agreed_widths,
    clean,
    escape_invisible,
    punycode_host,
    url_lookalike,
    url_refusal,
    url_warning,
    visible,
)
from aireiter_tui.simulator import Fault, Simulator, responses
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.screens.confirm import ConfirmScreen
from aireiter_tui.ui.screens.output_chooser import OutputChooserScreen
from aireiter_tui.ui.widgets.formatting import status_text, visible_controls

# "apple.com" in Cyrillic letters (a, er, er, palochka, ie): written as escapes so that
# this file itself shows what it holds.
CYRILLIC_HOST = "\u0430\u0440\u0440\u04cf\u0435.com"
CYRILLIC_PUNYCODE = "xn--80ak6aa92e.com"
ZWSP = "\u200b"
ZWSP_HOST = f"app{ZWSP}le.com"
SURROGATE = "\ud800"

INVISIBLE = {
    "zero-width space": "\u200b",
    "zero-width non-joiner": "\u200c",
    "zero-width joiner": "\u200d",
    "word joiner": "\u2060",
    "byte order mark": "\ufeff",
    "soft hyphen": "\u00ad",
    "left-to-right mark": "\u200e",
    "right-to-left mark": "\u200f",
    "arabic letter mark": "\u061c",
    "right-to-left override": "\u202e",
    "first strong isolate": "\u2068",
    "variation selector 16": "\ufe0f",
    "variation selector 1": "\ufe00",
    "ideographic variation selector": "\U000e0100",
    "tag latin a": "\U000e0041",
    "cancel tag": "\U000e007f",
    "combining grapheme joiner": "\u034f",
    "hangul filler": "\u3164",
    "braille blank": "\u2800",
    "no-break space": "\u00a0",
    "ideographic space": "\u3000",
    "line separator": "\u2028",
    "mongolian vowel separator": "\u180e",
}


def escape(char: str) -> str:
    return f"\u27e8U+{ord(char):04X}\u27e9"


# --- visible(): invisible characters in strings that name something --------------------------


@pytest.mark.parametrize("char", list(INVISIBLE.values()), ids=list(INVISIBLE))
def test_visible_writes_invisible_characters_as_escapes(char: str) -> None:
    shown_status = visible(f"completed{char}")
    assert shown_status == f"completed{escape(char)}"
    assert char not in shown_status
    assert visible(f"a{char}b") == f"a{escape(char)}b"


def test_zero_width_space_status_does_not_read_as_completed() -> None:
    status = status_text(TaskStatus.UNKNOWN, f"completed{ZWSP}")
    assert status.plain == f"? completed{escape(ZWSP)}"
    # The escape stands out from the word (highlighted), whatever the theme.
    assert any(span.style == "bold reverse" for span in status.spans)
    assert status_text(TaskStatus.COMPLETED, "completed").plain == "✔ completed"


@pytest.mark.parametrize(
    "text",
    [
        "nano_banana_pro",
        "日本語のモデル",
        "собака",
        "e\u0301 n\u0303",  # combining accents are visible marks
        "\U0001f415\u200d\U0001f9ba \U0001f469\U0001f3fd\u200d\U0001f3a8",  # ZWJ sequences
        "\u2764\ufe0f \u2764\ufe0f\u200d\U0001f525 \U0001f441\ufe0f\u200d\U0001f5e8\ufe0f",
        "1\ufe0f\u20e3 #\ufe0f\u20e3",  # keycaps
        "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # Scotland
        "\U0001f3f3\ufe0f\u200d\U0001f308",  # rainbow flag
        "\u00a9\ufe0f \u203c\ufe0f",
    ],
)
def test_visible_keeps_legitimate_text(text: str) -> None:
    # Only what terminals draw at disputed widths changes (see test_sanitize.py).
    assert visible(text) == agreed_widths(text)
    assert "\u27e8" not in visible(text)
    # ... and an invisible character after it is still seen.
    assert visible(f"{text}{ZWSP}") == f"{agreed_widths(text)}{escape(ZWSP)}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\u200db", f"a{escape(chr(0x200D))}b"),  # a joiner between letters joins nothing
        ("x\ufe0f", f"x{escape(chr(0xFE0F))}"),  # a VS16 after a letter selects nothing
        ("\u200d\U0001f525", f"{escape(chr(0x200D))}\U0001f525"),
        ("a\U000e0041\U000e007f", f"a{escape(chr(0xE0041))}{escape(chr(0xE007F))}"),
        (f"\u2764{ZWSP}\ufe0f", f"\u2764{escape(ZWSP)}{escape(chr(0xFE0F))}"),
    ],
)
def test_visible_escapes_emoji_parts_outside_emoji(text: str, expected: str) -> None:
    assert visible(text) == expected


def test_visible_still_cleans_and_bounds() -> None:
    assert visible("a\x1b[2Jb\nc") == "a\u241b[2Jb c"
    assert visible(f"a{SURROGATE}b") == "a\ufffdb"
    huge = ZWSP * 1_000_000
    result = visible(huge, max_length=18)
    assert len(result) == 18 and result.endswith("…") and ZWSP not in result


def test_every_format_space_and_selector_character_is_escaped() -> None:
    """The list in sanitize.py is checked against this Python's Unicode database:
    every format character (Cf), every space but U+0020, every line/paragraph separator
    and every variation selector is escaped when it stands alone between letters."""
    missed = []
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        category = unicodedata.category(char)
        selector = "VARIATION SELECTOR" in unicodedata.name(char, "")
        wanted = category in ("Cf", "Zl", "Zp") or (category == "Zs" and char != " ")
        if (wanted or selector) and escape_invisible(f"a{char}b") != f"a{escape(char)}b":
            missed.append(f"U+{code:04X}")
    assert not missed


# --- lone surrogates ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", [0xD800, 0xDBFF, 0xDC00, 0xDFFF])
@pytest.mark.parametrize("single_line", [False, True])
def test_clean_replaces_lone_surrogates(code: int, single_line: bool) -> None:
    result = clean(f"a{chr(code)}b", single_line=single_line)
    assert result == "a\ufffdb"
    result.encode("utf-8")  # strict: no surrogate left


def test_editors_draw_a_surrogate_as_one_replacement_character() -> None:
    drawn = visible_controls(f"ab{SURROGATE}c")
    assert drawn.plain == "ab\ufffdc"  # one character for one: cursor offsets hold
    assert drawn.spans and drawn.spans[0].start == 2


def test_url_with_a_lone_surrogate_is_refused() -> None:
    reason = url_refusal(f"https://example.com/{SURROGATE}.png")
    assert reason is not None and "surrogate" in reason


# --- lookalike URLs ----------------------------------------------------------------------------


def test_warning_for_a_cyrillic_host() -> None:
    assert punycode_host(CYRILLIC_HOST) == CYRILLIC_PUNYCODE
    assert punycode_host("example.com") == "example.com"
    assert punycode_host("a..b") is None  # an empty label
    assert punycode_host("é" * 70 + ".com") is None  # a label over 63 bytes
    assert punycode_host("é" * 100_000) is None
    warning = url_warning(f"https://{CYRILLIC_HOST}/login.png")
    assert warning == (
        f"The host {CYRILLIC_HOST} is written in non-Latin letters ({CYRILLIC_PUNYCODE});"
        " it may imitate another site."
    )
    upper = CYRILLIC_HOST.upper().replace(".COM", ".com")
    lookalike = url_lookalike(f"https://{upper}:8443/a.png")
    assert lookalike is not None and lookalike.host == upper  # as written, not lowercased
    assert lookalike.ascii_url == f"https://{CYRILLIC_PUNYCODE}:8443/a.png"


def test_warning_for_an_invisible_character_in_the_host() -> None:
    warning = url_warning(f"https://{ZWSP_HOST}/x.png")
    assert warning is not None
    assert f"app{escape(ZWSP)}le.com" in warning and "apple.com" in warning
    assert ZWSP not in warning


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (f"https://example.com/a{ZWSP}.png", "invisible characters"),
        ("https://example.com/a\u202e.png", "invisible characters"),  # bidi: refused too
        ("https://bücher.de/x.png", "xn--bcher-kva.de"),
        ("https://例え.jp/画像.png", "xn--r8jz45g.jp"),
        ("https://" + "é" * 70 + ".com/x.png", "no valid punycode form"),
        ("https://\uff50\uff41\uff59\uff50\uff41\uff4c.com/", "paypal.com"),  # fullwidth
    ],
)
def test_warning_sentences(url: str, words: str) -> None:
    warning = url_warning(url)
    assert warning is not None and words in warning
    assert warning.endswith(".") and len(warning) < 300
    assert clean(warning) == warning and escape_invisible(warning) == warning


@pytest.mark.parametrize(
    ("plain", "lookalike"),
    [
        ("https://example.com/a.png", "https://ex\u0430mple.com/a.png"),  # a Cyrillic a
        # A non-ASCII path alone is no warning: the host decides which site opens.
        ("https://example.com/画像.png", f"https://example.com/画像{ZWSP}.png"),
        ("https://xn--80ak6aa92e.com/a.png", f"https://{CYRILLIC_HOST}/a.png"),
        ("https://[::1]:8443/x.mp4", "https://[::1]:8443/x\u2060.mp4"),
        ("http://127.0.0.1:8080/out/a.png", "http://127.0.0.1:8080/out/a\u00ad.png"),
    ],
)
def test_warning_only_for_lookalikes(plain: str, lookalike: str) -> None:
    assert url_warning(plain) is None
    assert url_warning(lookalike) is not None


# --- the dialogs ---------------------------------------------------------------------------------

LOOKALIKE_OUTPUTS = (
    TaskOutput(f"https://{ZWSP_HOST}/x.png", OutputKind.IMAGE),
    TaskOutput(f"https://{CYRILLIC_HOST}/a.png", OutputKind.IMAGE),
    TaskOutput("https://example.com/b.png", OutputKind.IMAGE),
)


async def test_link_question_shows_both_forms_and_enter_cancels() -> None:
    url = f"https://{CYRILLIC_HOST}/login.png"
    warning = url_warning(url)
    assert warning is not None
    app = Host(ConfirmScreen.open_link(url, warning))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = shown(app.screen.query_one("#message Static", Static))
        assert warning in text.replace("\n", " ")
        assert url in text and f"https://{CYRILLIC_PUNYCODE}/login.png" in text
        await pilot.press("enter")  # Cancel has the focus: an Enter out of habit opens nothing
        assert await finish(pilot, app) is False
        app.show(ConfirmScreen.open_link(url, warning))
        await pilot.pause()
        await pilot.press("y")
        assert await finish(pilot, app, 2) is True


async def test_chooser_shows_punycode_and_invisible_characters() -> None:
    app = Host(OutputChooserScreen(LOOKALIKE_OUTPUTS))
    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        options = app.screen.query_one(OptionList)
        first, second, third = (str(options.get_option_at_index(i).prompt) for i in range(3))
        assert f"app{escape(ZWSP)}le.com" in first and ZWSP not in first
        assert "invisible characters in the host = apple.com" in first
        assert CYRILLIC_HOST in second and f"non-Latin host = {CYRILLIC_PUNYCODE}" in second
        assert "⚠" not in third and "\n" not in third
        await pilot.press("2")  # still pickable: the caller asks before opening it
        assert await finish(pilot, app) == LOOKALIKE_OUTPUTS[1].url


# --- through the real app ---------------------------------------------------------------------


def terminal_width(line: str) -> int:
    """The cells a painted line takes once written: Textual writes to ``sys.__stderr__``,
    whose ``backslashreplace`` turns a lone surrogate into the six characters ``\\ud800``."""
    return cell_len(line.encode("utf-8", "backslashreplace").decode("utf-8"))


class Scene:
    """Three completed tasks whose answers hold lookalikes: a status of ``completed`` +
    a zero-width space with lone surrogates in its model and prompt; one output on a
    Cyrillic host; three outputs (a zero-width space in a host, a Cyrillic host, a plain
    one). The surrogates travel as JSON escapes, as a server would send them."""

    def __init__(
        self, sim: Simulator, tmp_path: Path, app_factory: AppFactory, plain_url: str
    ) -> None:
        self.sim = sim
        refs: list[TaskRef] = refs_of(sim.add_tasks(3, status_mix={"completed": 1.0}))
        self.status, self.cyrillic, self.several = refs
        self.plain_url = plain_url
        self.content: dict[str, dict[str, Any]] = {
            self.status.id: {
                "status": f"completed{ZWSP}",
                "input": {
                    "model": f"nano{SURROGATE}banana",
                    "params": {"prompt": f"{SURROGATE}{SURROGATE} a dog {SURROGATE} zero{ZWSP}"},
                },
                "output": [],
            },
            self.cyrillic.id: {
                "status": "completed",
                "output": [{"url": f"https://{CYRILLIC_HOST}/login.png"}],
            },
            self.several.id: {
                "status": "completed",
                "output": [
                    {"url": f"https://{ZWSP_HOST}/x.png"},
                    {"url": f"https://{CYRILLIC_HOST}/a.png"},
                    {"url": plain_url},
                ],
            },
        }
        for ref in refs:
            sim.set_fault(Fault.HOSTILE, task_id=ref.id)
        self.path = tmp_path / "w.toml"
        seed_watchlist(self.path, refs)
        self._app_factory = app_factory

    def data(self, task: Any) -> dict[str, Any]:
        return self.content.get(task.task_id) or self.content[task.out_task_id]

    def app(self) -> AIReiterApp:
        settings = fault_settings(self.sim.base_url, self.sim.api_key)
        return self._app_factory(settings, watchlist=self.path, frozen_at=T0)


@pytest.fixture
def scene(
    sim: Simulator, tmp_path: Path, app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Scene]:
    s = Scene(sim, tmp_path, app_factory, "http://127.0.0.1:9/plain.png")
    # The simulator's hostile answer, replaced by this scene's; ASCII-escaped JSON, so a
    # lone surrogate is sent as "\ud800" (the simulator's UTF-8 body cannot hold one).
    monkeypatch.setattr(responses, "hostile_data", s.data)
    monkeypatch.setattr(
        responses,
        "dumps",
        lambda payload, base: json.dumps(payload, separators=(",", ":")).encode(),
    )
    yield s


async def started(pilot: Pilot[None], app: AIReiterApp) -> None:
    await wait_for(pilot, lambda: all_fetched(app) and settled(app), "every task answered")
    app.main_screen.apply_changes()
    await pilot.pause()


def browsers_done(app: AIReiterApp) -> bool:
    return not [w for w in app.workers if w.group == "browser" and not w.is_finished]


async def test_rows_stay_aligned_with_surrogates_and_invisible_characters(scene: Scene) -> None:
    app = scene.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        task = app.monitor.session.rows[scene.status.key].task
        assert task is not None and task.prompt is not None and SURROGATE in task.prompt
        lines = [line for line in table_lines(app) if line.strip()]
        assert len(lines) >= 4  # the header and three rows
        widths = {terminal_width(line) for line in lines}
        assert len(widths) == 1, [terminal_width(line) for line in lines]
        line = row_line(app, scene.status.id)
        assert "\ufffd\ufffd a dog \ufffd" in line and SURROGATE not in line
        assert_terminal_safe(app)
        table(app).move_to_key(scene.status.key)
        await pilot.pause()
        text = pane_text(app)
        assert SURROGATE not in text and "nano\ufffdbanana" in text


async def test_lookalike_status_is_shown_exactly(scene: Scene) -> None:
    app = scene.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        row = app.monitor.session.rows[scene.status.key]
        assert row.task is not None and row.task.status is TaskStatus.UNKNOWN
        assert "\u27e8U+" in row_line(app, scene.status.id)  # cut by the column, still seen
        table(app).move_to_key(scene.status.key)
        await pilot.pause()
        assert f"? completed{escape(ZWSP)}" in pane_text(app)


async def test_opening_a_cyrillic_host_asks_first(scene: Scene, browser_log: Path) -> None:
    url = f"https://{CYRILLIC_HOST}/login.png"
    app = scene.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        table(app).move_to_key(scene.cyrillic.key)
        await pilot.pause()
        for key in ("escape", "n", "enter"):  # each declines (Enter: Cancel has the focus)
            await pilot.press("o")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
            text = shown(app.screen.query_one("#message Static", Static))
            assert CYRILLIC_PUNYCODE in text and "non-Latin" in text
            await pilot.press(key)
            await wait_for(pilot, lambda: len(app.screen_stack) == 1, "the question to close")
        fence = "https://example.invalid/fence.png"  # a plain URL: opened without a question
        assert app.main_screen.open_url_safely(fence)
        await wait_for(pilot, lambda: len(opened_urls(browser_log)) >= 1, "the fence")
        await wait_for(pilot, lambda: browsers_done(app), "browser workers end")
        assert opened_urls(browser_log) == [fence]
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: len(opened_urls(browser_log)) >= 2, "the browser records")
        await wait_for(pilot, lambda: browsers_done(app), "browser workers end")
        assert opened_urls(browser_log) == [fence, url]


async def test_chooser_lists_lookalikes_and_asks_before_opening(
    scene: Scene, browser_log: Path
) -> None:
    app = scene.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        table(app).move_to_key(scene.several.key)
        await pilot.pause()
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OutputChooserScreen), "the chooser")
        options = app.screen.query_one(OptionList)
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(3)]
        assert escape(ZWSP) in prompts[0] and "= apple.com" in prompts[0]
        assert CYRILLIC_PUNYCODE in prompts[1]
        assert_terminal_safe(app)
        await pilot.press("1")  # the host with a zero-width space: a question, declined
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert "apple.com" in shown(app.screen.query_one("#message Static", Static))
        await pilot.press("n")
        await wait_for(pilot, lambda: len(app.screen_stack) == 1, "the question to close")
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OutputChooserScreen), "the chooser")
        await pilot.press("3")  # the plain URL: opened at once
        await wait_for(pilot, lambda: len(opened_urls(browser_log)) >= 1, "the browser records")
        await wait_for(pilot, lambda: browsers_done(app), "browser workers end")
        assert opened_urls(browser_log) == [scene.plain_url]
        assert len(app.screen_stack) == 1


async def test_detail_pane_shows_lookalike_urls_exactly(scene: Scene) -> None:
    """Needs the detail_sections.py change (the pane's URL rows)."""
    app = scene.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        table(app).move_to_key(scene.several.key)
        await pilot.pause()
        text = pane_text(app)
        # (The raw response below keeps the JSON as received: there it is prose.)
        note = "(⚠ invisible characters in the host = apple.com)"
        assert f"https://app{escape(ZWSP)}le.com/x.png  {note}" in text
        assert f"https://{CYRILLIC_HOST}/a.png  (⚠ non-Latin host = {CYRILLIC_PUNYCODE})" in text
        assert f"{scene.plain_url}\n" in text + "\n"  # a plain URL: no note
