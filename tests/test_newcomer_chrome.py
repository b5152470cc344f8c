"""What a newcomer hit around the table (issue 18): the footer at every width, a key
remapped onto Enter, the detail pane maximised, hiding config problems, the demo and the
user's config, and the keys in the command palette."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from harness import (
    SIZE,
    AppFactory,
    StepClock,
    banner_text,
    mode,
    record_notes,
    seed_watchlist,
    settings_for,
    table,
    wait_for,
)
from textual.pilot import Pilot
from textual.widgets import Static

from aireiter_tui.backend import Backend
from aireiter_tui.domain import paths
from aireiter_tui.domain.config import Settings
from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.secret import ApiKey
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.simulator import ManualClock, Simulator
from aireiter_tui.ui.app import AIReiterApp
from aireiter_tui.ui.bindings import ACTIONS, display_keys, keymap_problems, usable_keymap
from aireiter_tui.ui.screens.help import HelpScreen
from aireiter_tui.ui.widgets.detail_pane import DetailPane

REFS = [TaskRef(IdKind.TASK_ID, f"order_chrome{i}") for i in range(3)]
#: Every entry the dashboard's footer can show, whole.
ENTRIES = [
    "a Add",
    "d Remove",
    "o Open",
    "/ Filter",
    "s Sort",
    "r Refresh",
    "p Pause",
    "? Help",
    "q Quit",
    "^p palette",
]


def screen_lines(app: AIReiterApp) -> list[str]:
    """Every line of the screen as the terminal is sent it."""
    return ["".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips()]


def assert_footer_whole(app: AIReiterApp, width: int) -> str:
    """The bottom line holds only whole footer entries, "? Help" and "q Quit" among them."""
    line = screen_lines(app)[-1]
    assert len(line) == width, line
    rest = line
    for entry in sorted(ENTRIES, key=len, reverse=True):
        rest = rest.replace(entry, "")
    assert set(rest) <= {" ", "▏"}, (width, line)
    assert "? Help" in line and "q Quit" in line, (width, line)
    return line


# --- 1: the footer ------------------------------------------------------------------------------


async def test_the_footer_reads_whole_at_every_width_through_live_resizes(
    app_factory: AppFactory,
) -> None:
    app = app_factory(Settings(), live=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        wide = assert_footer_whole(app, 120)
        assert all(entry in wide for entry in ENTRIES)  # room for everything
        shown: dict[int, str] = {}
        for width, height in ((80, 24), (60, 20), (16, 20), (200, 50), (100, 30), (80, 24)):
            await pilot.resize_terminal(width, height)
            await pilot.pause()
            shown[width] = assert_footer_whole(app, width)
        # Fewer columns drop entries (least important first), never cut one.
        assert "^p palette" in shown[80] and "s Sort" not in shown[80]
        assert "a Add" in shown[60] and "p Pause" not in shown[60]
        assert shown[16].strip() == "? Help q Quit"


async def test_the_footer_reads_whole_from_a_narrow_start(app_factory: AppFactory) -> None:
    app = app_factory(Settings(), live=False)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        assert_footer_whole(app, 60)


async def test_a_click_on_a_footer_entry_presses_its_key(app_factory: AppFactory) -> None:
    app = app_factory(Settings(), live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        line = screen_lines(app)[-1]
        await pilot.click(offset=(line.index("? Help") + 2, 23))
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")


async def test_the_footer_shows_a_remapped_key(app_factory: AppFactory) -> None:
    app = app_factory(Settings(keymap={"add": "n"}), live=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        line = screen_lines(app)[-1]
        assert "n Add" in line and "a Add" not in line


# --- 4: a key remapped onto one the table keeps for itself ---------------------------------


def test_keys_the_table_keeps_are_refused_with_the_reason() -> None:
    keymap = {"open": "enter", "refresh": "f5", "sort": "j,x"}
    assert usable_keymap(keymap) == {"refresh": "f5"}
    problems = keymap_problems(keymap)
    assert any(
        'open = "enter"' in p and "detail pane" in p and "Open stays on o" in p for p in problems
    )
    assert any('sort = "j,x"' in p and "Sort stays on s" in p for p in problems)


async def test_open_remapped_to_enter_is_refused_and_o_still_opens(
    tmp_path: Path, app_factory: AppFactory
) -> None:
    seed_watchlist(tmp_path / "watchlist.toml", REFS)
    app = app_factory(Settings(keymap={"open": "enter"}), live=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert 'open = "enter"' in banner_text(app) and "stays on o" in banner_text(app)
        assert "o Open" in screen_lines(app)[-1]
        notes = record_notes(app)
        await pilot.press("o")
        assert [n.message for n in notes] == ["The selected task has no output yet."]
        await pilot.press("enter")  # still the table's: into the detail pane
        assert isinstance(app.focused, DetailPane)
        await pilot.press("question_mark")
        keys = [str(s.render()) for s in app.screen.query(".key").results(Static)]
        assert "o" in keys and "Enter" in keys  # o opens; Enter only once, the table's
        assert keys.count("Enter") == 1


# --- 9: the detail pane maximised -----------------------------------------------------------------


async def test_z_gives_the_detail_pane_the_whole_body_and_back(
    tmp_path: Path, app_factory: AppFactory
) -> None:
    seed_watchlist(tmp_path / "watchlist.toml", REFS)
    app = app_factory(Settings(), live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        pane, body = app.query_one(DetailPane), app.query_one("#body")
        small = pane.region.height
        await pilot.press("z")
        await pilot.pause()
        assert not app.query_one("#list").display
        assert pane.region.height == body.region.height > small
        assert app.focused is pane  # arrows scroll it at once
        await pilot.press("z")
        await pilot.pause()
        assert app.query_one("#list").display and pane.region.height == small
        assert app.focused is table(app)
        # Escape comes back too, and v hides the pane from the maximised view.
        await pilot.press("z", "escape")
        await pilot.pause()
        assert app.query_one("#list").display and app.focused is table(app)
        await pilot.press("v", "z")
        await pilot.pause()
        assert pane.display and not app.query_one("#list").display
        await pilot.press("v")
        await pilot.pause()
        assert app.query_one("#list").display and not pane.display
        await pilot.press("question_mark")
        keys = [str(s.render()) for s in app.screen.query(".key").results(Static)]
        assert "z" in keys


# --- 12: config problems can be hidden ----------------------------------------------------------


async def test_a_config_problem_is_hidden_by_a_key_and_kept_on_the_help_screen(
    app_factory: AppFactory,
) -> None:
    app = app_factory(Settings(keymap={"nonexistent": "f9"}), live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown = banner_text(app)
        assert shown.startswith("(x hides) ") and "nonexistent" in shown
        await pilot.press("x")
        await pilot.pause()
        assert banner_text(app) == "" and not app.query_one("#banner").display
        await pilot.press("question_mark")
        texts = " ".join(str(s.render()) for s in app.screen.query(Static).results(Static))
        assert "nonexistent" in texts
        await pilot.press("escape")
        # A problem found later is news: it shows, with the hint again.
        app.problems.append("Something new.")
        app.main_screen.refresh_chrome()
        await pilot.pause()
        assert banner_text(app) == "(x hides) Something new."


async def test_live_trouble_still_shows_once_config_problems_are_hidden(
    tmp_path: Path, sim: Simulator, app_factory: AppFactory
) -> None:
    seed_watchlist(tmp_path / "watchlist.toml", REFS[:1])
    settings = settings_for(sim, api_key=ApiKey("wrong"), keymap={"nonexistent": "f9"})
    app = app_factory(settings)
    async with app.run_test(size=SIZE) as pilot:
        assert "nonexistent" in banner_text(app)
        await pilot.press("x")
        await wait_for(pilot, lambda: mode(app) == "auth-blocked", "the key refused")
        app.main_screen.refresh_chrome()
        await pilot.pause()
        assert "refused the API key" in banner_text(app)
        assert "nonexistent" not in banner_text(app)


# --- 14: the demo leaves the user's config alone ----------------------------------------------


async def test_the_demo_never_writes_the_users_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv(paths.CONFIG_ENV, raising=False)
    monkeypatch.delenv(paths.WATCHLIST_ENV, raising=False)
    config = paths.config_path()
    config.parent.mkdir(parents=True)
    config.write_text('theme = "textual-dark"\n')
    sim = Simulator(seed=7, clock=ManualClock())  # the app starts it, as --demo does
    # As the command line builds it for --demo.
    backend = Backend(
        Settings(), WatchlistStore(paths.demo_watchlist_path()), config_path=config, simulator=sim
    )
    app = AIReiterApp(backend, monotonic=StepClock(), rng=random.Random(0), live=False)
    async with app.run_test(size=SIZE) as pilot:
        app.theme = "nord"
        await _theme_saves_done(pilot, app)
        assert app.theme == "nord"
    assert config.read_text() == 'theme = "textual-dark"\n'
    assert not paths.watchlist_path().exists()


async def _theme_saves_done(pilot: Pilot[None], app: AIReiterApp) -> None:
    await pilot.pause()
    for worker in [w for w in app.workers if w.group == "theme"]:
        await worker.wait()


# --- 17: the palette shows each action's key --------------------------------------------------


async def test_the_palette_shows_each_actions_key(app_factory: AppFactory) -> None:
    app = app_factory(Settings(keymap={"refresh": "f5"}), live=False)
    async with app.run_test(size=SIZE):
        helps = {c.title: c.help for c in app.get_system_commands(app.screen)}
    for action in ACTIONS:
        if action.id == "quit":
            continue  # Textual's own Quit command stands for it
        keys = "f5" if action.id == "refresh" else display_keys(action.keys)
        assert helps[action.label].startswith(f"{keys} · "), (action.label, helps[action.label])
        assert action.description in helps[action.label]


async def test_a_key_that_looks_like_markup_reads_as_typed_in_the_palette(
    app_factory: AppFactory,
) -> None:
    app = app_factory(Settings(keymap={"refresh": "[b]"}), live=False)
    async with app.run_test(size=SIZE):
        (command,) = [c for c in app.get_system_commands(app.screen) if c.title == "Refresh"]
    from textual.content import Content

    assert Content.from_markup(command.help).plain.startswith("[b] · ")
    assert re.search(r"Refresh the marked tasks, or the selected one", command.help)
