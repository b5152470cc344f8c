"""The watchlist store: round trips, damaged files, merging and the entries' own rules.

Crash safety, locking between processes, write failures and the cache file are in
``test_watchlist_files.py``.
"""

from __future__ import annotations

import copy
import json
import tempfile
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from watchlist_fixtures import REFERENCE, T0, entry, ids

from aireiter_tui.domain.models import IdKind, TaskRef, TaskStatus, parse_task
from aireiter_tui.domain.watchlist import WatchlistError, WatchlistStore, parse_id_list
from aireiter_tui.domain.watchlist_codec import StatusChange, WatchEntry


def test_round_trip_reference_task(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    raw = copy.deepcopy(REFERENCE)
    raw["input"]["params"]["prompt"] = 'a dog\'s "day"\nout\t✓ \x7f \u2028'
    first = WatchEntry(TaskRef(IdKind.TASK_ID, REFERENCE["task_id"]), 'Dog "v2" ✓', T0)
    first.record(parse_task({**raw, "status": "pending"}), T0)
    first.record(parse_task(raw), T0 + timedelta(seconds=90))
    second = WatchEntry(TaskRef(IdKind.OUT_TASK_ID, "my_task_123456"), None, T0)
    WatchlistStore(path).save([first, second])

    # The TOML holds what the user owns, one line per task; the snapshots are cached.
    text = path.read_text(encoding="utf-8")
    assert text.count("\n  {id = ") == 2 and "snapshot" not in text
    document = tomllib.loads(text)
    assert document["version"] == 1
    assert document["tasks"] == [
        {"id": first.ref.id, "kind": "task_id", "label": first.label, "added_at": T0},
        {"id": "my_task_123456", "kind": "out_task_id", "added_at": T0},
    ]

    loaded = WatchlistStore(path).load()
    assert [e.ref for e in loaded] == [first.ref, second.ref]
    again = loaded[0]
    assert again.label == first.label and again.added_at == T0
    assert again.checked_at == T0 + timedelta(seconds=90)
    assert again.history == [
        StatusChange("pending", T0),
        StatusChange("completed", again.checked_at),
    ]
    assert again.task == parse_task(raw) and again.task is not None
    assert again.task.raw == raw
    assert len(again.task.input.attachments if again.task.input else ()) == 3
    assert loaded[1].task is None and loaded[1].history == []

    # Without the cache nothing the user owns is lost; the tasks are queried again.
    store = WatchlistStore(path)
    store.cache_path.unlink()
    without = store.load()
    assert [(e.ref, e.label, e.added_at) for e in without] == [
        (e.ref, e.label, e.added_at) for e in loaded
    ]
    assert all(e.task is None and e.history == [] for e in without)
    assert store.last_warnings == []


def test_missing_file(tmp_path: Path) -> None:
    store = WatchlistStore(tmp_path / "nope" / "watchlist.toml")
    assert store.load() == []
    assert not store.path.parent.exists()


def test_corrupt_file_kept_and_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    broken = b'version = 1\n[[tasks]]\nid = "abc\n\xff'
    path.write_bytes(broken)
    store = WatchlistStore(path)
    for attempt in (store.load, lambda: store.save([entry("new")])):
        with pytest.raises(WatchlistError) as caught:
            attempt()
        assert str(path) in str(caught.value)
        assert path.read_bytes() == broken
    aside = store.move_aside()
    assert aside.name.startswith("watchlist.toml.corrupt-") and aside.read_bytes() == broken
    assert not path.exists()
    assert ids(store.save([entry("new")])) == ["new"]
    assert store.move_aside() != aside  # a second one in the same second gets its own name


def test_syntax_error_message(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    path.write_text("version = = 1\n")
    with pytest.raises(WatchlistError, match=r"is not valid TOML .*line 1"):
        WatchlistStore(path).load()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('tasks = "x"', '"tasks" must be an array'),
        ('version = "one"', '"version" must be an integer'),
        ("version = 2", "format version 2"),
        ("tasks = [1, 2]\nversion = 1.5", '"version" must be an integer'),
    ],
)
def test_wrong_types(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "watchlist.toml"
    path.write_text(text)
    with pytest.raises(WatchlistError, match=reason):
        WatchlistStore(path).load()
    assert path.read_text() == text


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(WatchlistError, match="not UTF-8"):
        WatchlistStore(path).load()


def test_bad_entries_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    path.write_text(
        "version = 1\ntasks = [\n"
        '  {id = "good1", kind = "task_id", added_at = 2025-01-01T00:00:00Z},\n'
        '  {id = "bad kind", kind = "task_id"},\n'
        '  {id = "x", kind = "nonsense"},\n'
        '  {id = 5, kind = "task_id"},\n'
        "  7,\n"
        '  {id = "good2", kind = "out_task_id", label = 3, added_at = 2025-01-01T00:00:00,'
        ' history = [{status = "pending", at = 2025-01-01T00:00:00Z}, "junk"],'
        ' snapshot = {status = "failed", error = "boom", raw = "{not json"}},\n'
        '  {id = "good1", kind = "task_id", added_at = 2025-01-02T00:00:00Z},\n'
        "]\n"
    )
    original = path.read_bytes()
    store = WatchlistStore(path)
    loaded = store.load()
    assert [str(e.ref.key) for e in loaded] == ["task_id:good1", "out_task_id:good2"]
    assert len(store.last_warnings) == 6, store.last_warnings
    # The skipped entries would be gone after the next save: the file as read is kept.
    copies = list(tmp_path.glob("watchlist.toml.skipped-*"))
    assert len(copies) == 1 and copies[0].read_bytes() == original
    assert str(copies[0]) in store.last_warnings[-1]
    assert any("the ID contains spaces" in w for w in store.last_warnings)
    good2 = loaded[1]
    assert good2.label is None and good2.added_at.tzinfo is not None
    assert [c.status for c in good2.history] == ["pending"]
    assert good2.task is not None and good2.task.status is TaskStatus.FAILED
    assert good2.task.failure is not None and good2.task.failure.message == "boom"
    assert good2.task.out_task_id == "good2"
    store.save(loaded)
    WatchlistStore(path).load()
    assert list(tmp_path.glob("watchlist.toml.skipped-*")) == copies


def test_a_line_added_by_hand_may_leave_out_the_kind(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    path.write_text('tasks = [{id = "order_abc", added_at = 2026-01-01T00:00:00Z}]\n')
    store = WatchlistStore(path)
    (loaded,) = store.load()
    assert loaded.ref == TaskRef(IdKind.TASK_ID, "order_abc") and store.last_warnings == []


def test_duplicates_ignored(tmp_path: Path) -> None:
    store = WatchlistStore(tmp_path / "watchlist.toml")
    merged = store.save([entry("a"), entry("b"), entry("a", "completed")])
    assert ids(merged) == ["a", "b"]
    assert ids(WatchlistStore(store.path).load()) == ["a", "b"]


def test_merge_keeps_others_and_honours_removal(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    mine, theirs = WatchlistStore(path), WatchlistStore(path)
    mine.save([entry("a")])
    theirs.save([*theirs.load(), entry("b")])
    merged = mine.save([entry("a"), entry("c")])
    assert ids(merged) == ["a", "c", "b"]
    assert ids(mine.save([merged[0], merged[1]], removed=[merged[2].ref])) == ["a", "c"]
    assert ids(theirs.save(theirs.load())) == ["a", "c"]
    assert ids(WatchlistStore(path).load()) == ["a", "c"]


OLD_FORMAT = f"""# aireiter-tui watchlist
version = 1

[[tasks]]
id = "order_old"
kind = "task_id"
added_at = 2025-12-18T10:12:11Z
checked_at = 2025-12-18T10:20:00Z
history = [
  {{status = "completed", at = 2025-12-18T10:20:00Z}},
]

[tasks.snapshot]
status = "completed"
raw = '{json.dumps({**REFERENCE, "task_id": "order_old"})}'

[[tasks]]
id = "summary_only"
kind = "task_id"
label = "kept"
added_at = 2025-12-18T10:12:11Z

[tasks.snapshot]
status = "completed"
model = "nano_banana"
prompt = "dog"
completed_at = 2025-12-18T10:13:41Z
outputs = ["https://example.com/a.png"]
"""


def test_files_written_by_earlier_versions_load_and_are_rewritten_slim(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    path.write_text(OLD_FORMAT, encoding="utf-8")
    store = WatchlistStore(path)
    old, summary_only = store.load()
    assert old.task is not None and old.task.task_id == "order_old"
    assert old.task.outputs[0].url == REFERENCE["output"][0]["url"]
    assert [c.status for c in old.history] == ["completed"]
    assert summary_only.label == "kept" and summary_only.task is not None
    assert summary_only.task.status is TaskStatus.COMPLETED
    assert [o.url for o in summary_only.task.outputs] == ["https://example.com/a.png"]
    assert summary_only.task.completed_at == datetime(2025, 12, 18, 10, 13, 41, tzinfo=UTC)

    store.save([old, summary_only])
    assert "snapshot" not in path.read_text(encoding="utf-8")
    again = WatchlistStore(path).load()
    assert [e.task for e in again] == [old.task, summary_only.task]
    assert again[0].history == old.history and again[1].label == "kept"


def test_removals_and_labels_made_elsewhere_are_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.toml"
    mine, theirs = WatchlistStore(path), WatchlistStore(path)
    a, b, c, d = (entry(name) for name in "abcd")
    mine.save([a, b, c, d])
    there = {e.ref.id: e for e in theirs.load()}
    there["c"].label, there["a"].label = "theirs", "theirs too"
    theirs.save([there["a"], there["c"], there["d"]], removed=[b.ref])
    a.label, d.label = "mine", "mine"  # a: changed on both sides, ours wins
    merged = mine.save([a, b, c, d])
    assert [(e.ref.id, e.label) for e in merged] == [("a", "mine"), ("c", "theirs"), ("d", "mine")]
    assert mine.last_merge.dropped == [b.ref] and mine.last_merge.relabelled == {c.ref: "theirs"}
    assert c.label is None  # the caller's entry is left alone: its owner applies the merge
    again = [(e.ref.id, e.label) for e in WatchlistStore(path).load()]
    assert again == [("a", "mine"), ("c", "theirs"), ("d", "mine")]
    # Our own later change to a label we took over is kept.
    c.label = "later"
    mine.save([a, c, d])
    assert [e.label for e in WatchlistStore(path).load()] == ["mine", "later", "mine"]


def test_record_tracks_changes() -> None:
    item = WatchEntry(TaskRef(IdKind.TASK_ID, "t"), None, T0)
    pending = parse_task({"task_id": "t", "status": "pending"})
    assert item.record(pending, T0) is True
    assert item.record(parse_task({"task_id": "t", "status": "pending"}), T0) is False
    assert item.checked_at == T0 and len(item.history) == 1
    assert item.record(parse_task({"task_id": "t", "status": "pending", "credits_used": 3}), T0)
    assert len(item.history) == 1
    for n in range(60):
        assert item.record(parse_task({"task_id": "t", "status": f"s{n}"}), T0) is True
    assert len(item.history) == 50 and item.history[-1].status == "s59"


def test_parse_id_list() -> None:
    text = "a1, b2;c3\n\na1\td4  ,,; x\x00y " + "z" * 300 + " \udc80"
    refs, rejected = parse_id_list(text, IdKind.OUT_TASK_ID)
    assert [r.id for r in refs] == ["a1", "b2", "c3", "d4"]
    assert all(r.kind is IdKind.OUT_TASK_ID for r in refs)
    reasons = dict(rejected)
    assert reasons["x\x00y"] == "the ID contains control characters"
    assert any("longer than" in reason for reason in reasons.values())
    assert reasons["\udc80"] == "the ID contains characters that cannot be saved"
    assert parse_id_list(" \n ,; ", IdKind.TASK_ID) == ([], [])


FRAGMENTS = [
    "version = 1\n",
    "[[tasks]]\n",
    'id = "a"\n',
    'kind = "task_id"\n',
    "tasks = 3\n",
    "[tasks.snapshot]\n",
    'raw = "{}"\n',
    "raw = '[1]'\n",
    "added_at = 2025-01-01\n",
    'history = [{status = 1, at = "x"}]\n',
    "= \n",
    '"\\u0000"',
    "\x00",
    "[x]\n",
]


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(), st.lists(st.sampled_from(FRAGMENTS)).map("".join)))
def test_any_text_loads_or_raises_watchlist_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "watchlist.toml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            result = WatchlistStore(path).load()
        except WatchlistError:
            return
        assert isinstance(result, list)
