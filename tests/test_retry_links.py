"""The detail pane's "Retried as" links, kept up to date as rows come and go: only the
rows added or removed are read (at 100,000 rows, reading every row's entry again after
each add or removal cost 20-25 ms on the event loop)."""

from __future__ import annotations

from watchlist_fixtures import T0

from aireiter_tui.domain.models import IdKind, TaskRef
from aireiter_tui.domain.retry_links import RetryLinks
from aireiter_tui.domain.session import Row, Session
from aireiter_tui.domain.watchlist_codec import WatchEntry


class CountedRow(Row):
    """A row that counts how often its entry is read."""

    reads = 0

    def __init__(self, entry: WatchEntry) -> None:
        self._entry = entry

    @property  # type: ignore[override]
    def entry(self) -> WatchEntry:
        CountedRow.reads += 1
        return self._entry


def row(ident: str, retry_of: str | None = None) -> CountedRow:
    original = None if retry_of is None else TaskRef(IdKind.TASK_ID, retry_of)
    return CountedRow(WatchEntry(TaskRef(IdKind.TASK_ID, ident), None, T0, retry_of=original))


def ref(ident: str) -> TaskRef:
    return TaskRef(IdKind.TASK_ID, ident)


def full(rows: dict[str, Row]) -> dict[TaskRef, list[TaskRef]]:
    return RetryLinks().update(rows)


def test_rows_added_at_the_end_are_the_only_ones_read() -> None:
    made = [row(f"t{n}") for n in range(100)] + [row("r1", "t3")]
    rows: dict[str, Row] = {item.ref.key: item for item in made}
    links = RetryLinks()
    assert links.update(rows) == {ref("t3"): [ref("r1")]}
    CountedRow.reads = 0
    for item in (row("r2", "t3"), row("r3", "t5"), row("t200")):
        rows[item.ref.key] = item
    CountedRow.reads = 0
    assert links.update(rows) == {ref("t3"): [ref("r1"), ref("r2")], ref("t5"): [ref("r3")]}
    assert CountedRow.reads <= 3 * 2  # the three new rows, none of the others
    assert links.update(rows) == full(rows)


def test_removed_rows_take_their_links_with_them_without_reading_the_others() -> None:
    made = [row(f"t{n}") for n in range(100)] + [row("r1", "t3"), row("r2", "t3")]
    rows: dict[str, Row] = {item.ref.key: item for item in made}
    links = RetryLinks()
    links.update(rows)
    del rows[ref("r1").key], rows[ref("t7").key]
    rows[ref("r9").key] = row("r9", "t8")
    CountedRow.reads = 0
    assert links.update(rows) == {ref("t3"): [ref("r2")], ref("t8"): [ref("r9")]}
    assert CountedRow.reads <= 2
    del rows[ref("r2").key]
    assert links.update(rows) == {ref("t8"): [ref("r9")]} == full(rows)


def test_rows_put_back_between_others_are_linked_in_the_list_order() -> None:
    made = [row("t1"), row("r1", "t1"), row("t2"), row("r2", "t1")]
    rows: dict[str, Row] = {item.ref.key: item for item in made}
    links = RetryLinks()
    links.update(rows)
    del rows[ref("r1").key]
    assert links.update(rows) == {ref("t1"): [ref("r2")]}
    # An undo puts r1 back where it was: before r2.
    back = {key: item for key, item in zip(rows, rows.values(), strict=True)}
    rows.clear()
    rows.update({made[0].ref.key: made[0], made[1].ref.key: made[1], **back})
    assert links.update(rows) == {ref("t1"): [ref("r1"), ref("r2")]} == full(rows)


def test_rows_a_session_added_come_from_its_append_log_without_a_walk() -> None:
    session = Session(None, lambda: T0)
    session.add([ref(f"t{n}") for n in range(20)])
    links = RetryLinks()
    links.update(session.rows, session.appended)
    (retry,) = session.add([ref("r1")])
    retry.entry.retry_of = ref("t3")

    class NoWalk(dict[str, Row]):
        def __iter__(self):  # type: ignore[no-untyped-def]
            raise AssertionError("every key was walked")

    assert links.update(NoWalk(session.rows), session.appended) == {ref("t3"): [ref("r1")]}
    positions = session.positions([ref("t3").key])
    removed = session.remove([ref("t3").key])
    assert links.update(session.rows, session.appended) == full(session.rows)
    session.restore(removed, positions)  # (put back where it was: the log starts again)
    assert links.update(session.rows, session.appended) == full(session.rows)
