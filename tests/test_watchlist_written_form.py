"""A save writes the file in the encoder's form, whatever form it was read in."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from watchlist_fixtures import entry

from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import encode


def test_a_file_in_another_form_is_written_in_the_encoders_form(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    items = [entry(f"t{number}", "pending") for number in range(5)]
    WatchlistStore(path).save(items)
    # A hand edit in another spacing: its lines are not the encoder's.
    path.write_text(path.read_text("utf-8").replace(", kind = ", ",kind="), "utf-8")
    store = WatchlistStore(path)
    loaded = store.load()
    store.save([replace(loaded[0], label="x"), *loaded[1:]])
    assert path.read_text("utf-8") == encode([replace(loaded[0], label="x"), *loaded[1:]])
