"""The first save after a start writes only the lines that changed: the others are the
file's own lines, known from the read (at 100,000 tasks, encoding every line again held
the GIL for a second and made key presses wait)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from watchlist_fixtures import entry

from aireiter_tui.domain import watchlist_codec
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import Encoder, WatchEntry


def _count_lines(monkeypatch: pytest.MonkeyPatch) -> list[WatchEntry]:
    encoded: list[WatchEntry] = []
    line = watchlist_codec._line

    def counting(item: WatchEntry) -> str:
        encoded.append(item)
        return line(item)

    monkeypatch.setattr(watchlist_codec, "_line", counting)
    return encoded


def test_the_first_save_after_a_start_encodes_only_the_changed_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.toml"
    items = [entry(f"t{number}", "pending") for number in range(50)]
    items[7].label = "tab\there, ünïcode"
    WatchlistStore(path).save(items)
    store = WatchlistStore(path)  # a new start
    loaded = store.load()
    encoded = _count_lines(monkeypatch)
    loaded[3] = replace(loaded[3], label="renamed")
    store.save(loaded)
    assert [item.ref.id for item in encoded] == ["t3"]
    assert path.read_text("utf-8") == Encoder().encode(loaded)


def test_a_file_in_another_form_is_written_in_the_encoders_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.toml"
    items = [entry(f"t{number}", "pending") for number in range(5)]
    WatchlistStore(path).save(items)
    # A hand edit in another spacing: its lines are not the encoder's.
    path.write_text(path.read_text("utf-8").replace(", kind = ", ",kind="), "utf-8")
    store = WatchlistStore(path)
    loaded = store.load()
    store.save([replace(loaded[0], label="x"), *loaded[1:]])
    assert path.read_text("utf-8") == Encoder().encode([replace(loaded[0], label="x"), *loaded[1:]])
