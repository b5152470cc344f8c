"""Marks (domain/selection.py): by task, through sorting and filtering, shift runs that
grow and shrink like a text editor's selection, the marks of removed rows dropped."""

from __future__ import annotations

from aireiter_tui.domain.selection import Marks

ORDER = ["a", "b", "c", "d", "e"]


def test_toggle_marks_and_unmarks() -> None:
    marks = Marks()
    assert marks.toggle("b") is True
    assert "b" in marks and len(marks) == 1
    assert marks.toggle("b") is False
    assert not marks


def test_marks_follow_the_task_not_the_position() -> None:
    marks = Marks()
    marks.toggle("d")
    marks.toggle("b")
    assert marks.in_order(ORDER) == ["b", "d"]
    assert marks.in_order(list(reversed(ORDER))) == ["d", "b"]  # sorted the other way
    assert marks.in_order(["a", "d"]) == ["d"]  # a filter hides b; its mark stays
    assert marks.in_order(ORDER) == ["b", "d"]


def test_toggle_all_marks_the_visible_then_unmarks_them() -> None:
    marks = Marks()
    marks.toggle("e")  # marked, then hidden by a filter
    assert marks.toggle_all(["a", "b"]) is True
    assert set(marks) == {"a", "b", "e"}
    marks.toggle("a")
    assert marks.toggle_all(["a", "b"]) is True  # not all were marked: all are now
    assert marks.toggle_all(["a", "b"]) is False  # all were: unmarked, e's mark stays
    assert set(marks) == {"e"}
    assert marks.toggle_all([]) is True and set(marks) == {"e"}


def test_a_shift_run_grows_and_shrinks_and_keeps_earlier_marks() -> None:
    marks = Marks()
    marks.toggle("a")
    assert marks.extend(ORDER, "c", "d") == {"c", "d"}
    assert marks.extend(ORDER, "d", "e") == {"e"}
    assert set(marks) == {"a", "c", "d", "e"}
    assert marks.extend(ORDER, "e", "d") == {"e"}  # back over the run: unmarked again
    assert marks.extend(ORDER, "d", "c") == {"d"}
    assert marks.extend(ORDER, "c", "b") == {"b"}  # past the anchor: the other way
    assert set(marks) == {"a", "b", "c"}


def test_a_new_run_starts_where_the_cursor_moved_to() -> None:
    marks = Marks()
    marks.extend(ORDER, "a", "b")
    # The cursor moved on without shift (to d): shift from there starts a new run, and
    # moving back over it leaves the first run's marks alone.
    marks.extend(ORDER, "d", "e")
    marks.extend(ORDER, "e", "d")
    assert set(marks) == {"a", "b", "d"}
    # A toggle ends a run too: shift from the same place starts afresh.
    marks.toggle("d")
    marks.extend(ORDER, "d", "c")
    assert set(marks) == {"a", "b", "c", "d"}


def test_shift_at_the_edge_marks_the_cursor_row() -> None:
    marks = Marks()
    assert marks.extend(ORDER, "e", "e") == {"e"}


def test_removed_rows_lose_their_marks() -> None:
    marks = Marks()
    marks.toggle_all(ORDER)
    assert marks.keep_only({"a", "c"}) == {"b", "d", "e"}
    assert set(marks) == {"a", "c"}
    assert marks.clear() == {"a", "c"}
    assert not marks


def test_the_marks_lead_the_status_bar_and_never_colour_the_counts() -> None:
    from aireiter_tui.domain.session import Counts
    from aireiter_tui.ui.widgets.status_bar import marked_part, second_line

    line = second_line(Counts(total=5), None, 120, marked=marked_part(3, hidden=1))
    assert line.plain.startswith("✓ 3 marked (1 hidden)  5 watched")
    watched = line.plain.index("watched")
    assert all("reverse" not in str(span.style) for span in line.spans if span.end > watched)
    assert not line.style
    narrow = second_line(Counts(total=5), None, 30, marked=marked_part(3))
    assert narrow.plain.startswith("✓ 3 marked  5 watched")
    assert not narrow.style  # the counts after the marks are not drawn reversed
    assert second_line(Counts(total=5), None, 120, marked=marked_part(0)).plain.startswith("5 w")
