"""Short forms of values for cells, dialogs and toasts."""

from __future__ import annotations

from rich.cells import cell_len

from aireiter_tui.ui.widgets.formatting import shorten_middle


def test_a_short_id_is_kept_whole() -> None:
    assert shorten_middle("order_abc", 9) == "order_abc"


def test_a_long_id_keeps_both_ends() -> None:
    short = shorten_middle("order_lwU2d-VkUq9-tlCCmrdYu", 16)
    assert short == "order_lw…CCmrdYu"
    assert cell_len(short) == 16


def test_wide_characters_are_counted_in_cells() -> None:
    short = shorten_middle("夕暮れ夕暮れ hero", 8)
    assert cell_len(short) <= 8
    assert short.startswith("夕") and short.endswith("ero") and "…" in short


def test_tiny_widths() -> None:
    assert shorten_middle("abcdef", 1) == "…"
    assert shorten_middle("abcdef", 0) == ""
