"""The watchlist's own TOML read without tomllib (``domain/watchlist.py``'s
``read_plain_toml``): whatever it reads, it reads as tomllib does; what the encoder writes
it reads; anything else it leaves to tomllib."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from watchlist_fixtures import T0

from aireiter_tui.domain import watchlist
from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.watchlist import WatchlistStore, read_plain_toml
from aireiter_tui.domain.watchlist_codec import WatchEntry, encode, toml_str, toml_time

IDS = st.text(
    st.characters(
        codec="utf-8", exclude_characters=' ,…"\\', exclude_categories=("Cc", "Zs", "Zl", "Zp")
    ),
    min_size=1,
    max_size=12,
)
LABELS = (
    st.none()
    | st.text(max_size=12)
    | st.sampled_from(['say "hi"', "a\\b", "tab\there", "dög", "#", "x = 1"])
)
TIMES = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
) | st.just(T0)
ESTIMATES = (
    st.none() | st.floats(min_value=0, allow_nan=False, allow_infinity=False) | st.just(120.0)
)
ENTRIES = st.builds(
    lambda ident, kind, label, added, estimate, retry: WatchEntry(
        TaskRef(kind, ident), label, added, estimated_credits=estimate, retry_of=retry
    ),
    IDS,
    st.sampled_from(IdKind),
    LABELS,
    TIMES,
    ESTIMATES,
    st.none() | st.builds(TaskRef, st.sampled_from(IdKind), IDS),
)


def _plain(text: str) -> bool:
    """Whether the encoder writes ``text`` without escapes."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def _same_as_tomllib(text: str) -> dict[str, Any] | None:
    found = read_plain_toml(text)
    if found is not None:
        assert found == tomllib.loads(text)
        for got, want in zip(
            found.get("tasks", []), tomllib.loads(text).get("tasks", []), strict=True
        ):
            # (the decoder keeps a time whose zone *is* UTC as it is)
            assert [type(value) for value in got.values()] == [
                type(value) for value in want.values()
            ]
            if "added_at" in got:
                assert got["added_at"].tzinfo is want["added_at"].tzinfo
    return found


@given(st.lists(ENTRIES, max_size=8))
@settings(max_examples=300)
def test_what_the_encoder_writes_is_read_as_tomllib_reads_it(entries: list[WatchEntry]) -> None:
    text = encode(entries)
    found = _same_as_tomllib(text)
    strings = [e.ref.id for e in entries] + [e.label for e in entries if e.label is not None]
    strings += [e.retry_of.key for e in entries if e.retry_of is not None]
    if all(_plain(value) for value in strings):
        assert found is not None  # the encoder's own form never needs tomllib


# Characters that matter to TOML, to break the encoder's lines in every way.
EDITS = st.lists(
    st.tuples(
        st.integers(min_value=0),
        st.integers(0, 3),
        st.text(st.sampled_from('"{}[],=#\n\r \t\\.:-+eZT0129abx'), max_size=3),
    ),
    max_size=4,
)


@given(st.lists(ENTRIES, min_size=1, max_size=4), EDITS)
@settings(max_examples=1000)
@example(
    [
        WatchEntry(TaskRef(IdKind.TASK_ID, "a"), None, T0),
        WatchEntry(TaskRef(IdKind.TASK_ID, "b"), None, T0),
    ],
    [(110, 1, "")],
)
def test_a_hand_edited_file_is_read_as_tomllib_reads_it_or_left_to_tomllib(
    entries: list[WatchEntry], edits: list[tuple[int, int, str]]
) -> None:
    _check_edited(encode(entries), edits)


def _check_edited(text: str, edits: list[tuple[int, int, str]]) -> None:
    """``text`` with ``edits`` made is read as tomllib reads it, or left to tomllib."""
    for at, cut, insert in edits:
        at %= len(text) + 1
        text = text[:at] + insert + text[at + cut :]
    try:
        expected: dict[str, Any] | None = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        expected = None
    found = read_plain_toml(text)
    if found is not None:
        assert expected is not None, "read a file tomllib refuses"
        _same_as_tomllib(text)


@pytest.mark.parametrize(
    "text",
    [
        'tasks = [\n  {id = "a"}\n  {id = "b"},\n]\n',  # a comma missing
        "version = 1\nversion = 1\ntasks = [\n]\n",  # a key twice
        'tasks = [\n  {id = "a", added_at = 2026-02-30T00:00:00Z},\n]\n',  # no such day
        'tasks = [\n  {id = "a"},\n',  # never closed
        'tasks = [\n  {id = "a"},\n]\ntasks = [\n]\n',
    ],
)
def test_a_broken_file_is_left_to_tomllib(text: str) -> None:
    with pytest.raises(tomllib.TOMLDecodeError):
        tomllib.loads(text)
    assert read_plain_toml(text) is None


@pytest.mark.parametrize(
    "text",
    [
        'tasks = [ # mine\n  {id = "a"},\n]\n',  # a comment after a value
        'tasks = [\n  {id = "a\\u0041"},\n]\n',  # an escape
        "tasks = [\n  {id = 'a'},\n]\n",  # a literal string
        '[[tasks]]\nid = "a" # mine\n',  # tables, a comment after a value
        '[[tasks]]\n"id" = "a"\n',  # tables, a quoted key
        'tasks = [\r\n  {id = "a"},\r\n]\r\n',
    ],
)
def test_other_valid_forms_are_left_to_tomllib(text: str, tmp_path: Path) -> None:
    assert read_plain_toml(text) is None
    path = tmp_path / "watchlist.toml"
    path.write_text(text, encoding="utf-8", newline="")
    assert [entry.ref.id for entry in WatchlistStore(path).load()] in (["a"], ["aA"])


def test_a_hand_added_line_in_the_written_form_is_read_without_tomllib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "watchlist.toml"
    WatchlistStore(path).save(
        [WatchEntry(TaskRef(IdKind.TASK_ID, f"t{n}"), None, T0) for n in range(3)]
    )
    line = '  {id = "by_hand", label = "mine", added_at = 2026-01-01T00:00:00.5Z},\n'
    path.write_text(path.read_text(encoding="utf-8")[:-2] + line + "]\n", encoding="utf-8")

    def refused(text: str) -> dict[str, Any]:
        raise AssertionError("tomllib was used")

    monkeypatch.setattr(watchlist.tomllib, "loads", refused)
    loaded = WatchlistStore(path).load()
    assert [entry.ref.id for entry in loaded] == ["t0", "t1", "t2", "by_hand"]
    assert loaded[-1].label == "mine"
    assert loaded[-1].added_at == datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=500)


def _tables(entries: list[WatchEntry], *, version: bool = True) -> str:
    """The list in the ``[[tasks]]`` form a script writes: a table per task."""
    lines = ["version = 1", ""] if version else []
    for item in entries:
        lines += ["[[tasks]]", f"id = {toml_str(item.ref.id)}"]
        if item.ref.kind is not IdKind.TASK_ID:
            lines.append(f"kind = {toml_str(item.ref.kind.value)}")
        if item.label is not None:
            lines.append(f"label = {toml_str(item.label)}")
        lines.append(f"added_at = {toml_time(item.added_at)}")
        if item.estimated_credits is not None:
            lines.append(f"estimated_credits = {item.estimated_credits!r}")
        if item.retry_of is not None:
            lines.append(f"retry_of = {toml_str(item.retry_of.key)}")
        lines.append("")
    return "\n".join(lines)


@given(st.lists(ENTRIES, max_size=8), st.booleans())
@settings(max_examples=300)
def test_the_tables_form_is_read_as_tomllib_reads_it(
    entries: list[WatchEntry], version: bool
) -> None:
    text = _tables(entries, version=version)
    found = _same_as_tomllib(text)
    strings = [e.ref.id for e in entries] + [e.label for e in entries if e.label is not None]
    strings += [e.retry_of.key for e in entries if e.retry_of is not None]
    if all(_plain(value) for value in strings):
        assert found is not None  # a script's plain form never needs tomllib


@given(st.lists(ENTRIES, min_size=1, max_size=4), EDITS)
@settings(max_examples=1000)
def test_a_hand_edited_tables_form_is_read_as_tomllib_reads_it_or_left_to_tomllib(
    entries: list[WatchEntry], edits: list[tuple[int, int, str]]
) -> None:
    _check_edited(_tables(entries), edits)


@pytest.mark.parametrize(
    "text",
    [
        '[[tasks]]\nid = "a"\nid = "b"\n',  # a key twice
        'tasks = [\n  {id = "a"},\n]\n[[tasks]]\nid = "b"\n',  # both forms
        '[[tasks]]\nid = "a"\nadded_at = 2026-02-30T00:00:00Z\n',  # no such day
    ],
)
def test_a_broken_tables_form_is_left_to_tomllib(text: str) -> None:
    with pytest.raises(tomllib.TOMLDecodeError):
        tomllib.loads(text)
    assert read_plain_toml(text) is None
