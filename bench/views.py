"""What the saved views' tab counts cost at 10,000 watched tasks (issue 17).

``python -m bench.views [--tasks N] [--views N]``

CPU time (``time.process_time``) of keeping each view's count, against filtering every
row for every view (what a recount per refresh would cost):

- a flush in which 1 % of the rows changed (an answer each): the changed rows are
  matched against each view;
- a tick in which nothing changed (the counts are read);
- a task added (the batch names no rows: the new ones are found by their keys);
- a view saved with ``V`` (only it goes through the rows);
- a recount from nothing (the app starting: spread over the frames that read the list);
- the naive recount: every row through every view's filter.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.session import Session
from aireiter_tui.domain.view import SortKey, StatusFilter, matches
from aireiter_tui.domain.views import View, ViewCounts

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
STATUSES = ("pending", "processing", "completed", "failed")
MODELS = ("nano_banana", "veo3_1_fast", "sora2_pro", "gpt_4o")
VIEWS = (
    View("Failed", status=StatusFilter.FAILED),
    View("Active", status=StatusFilter.ACTIVE, sort=SortKey.TIME),
    View("Bananas", text="banana"),
    View("Done veo", text="veo", status=StatusFilter.COMPLETED),
    View("Errors", status=StatusFilter.ERRORS),
    View("Dogs", text="dog"),
    View("Gone", status=StatusFilter.GONE),
    View("Stuck", status=StatusFilter.STUCK),
)


def _answer(ident: str, rng: random.Random) -> object:
    return parse_task(
        {
            "task_id": ident,
            "status": rng.choice(STATUSES),
            "created_at": (NOW - timedelta(seconds=rng.randint(0, 3600))).isoformat(),
            "credits_used": rng.choice((0, 100, 400)),
            "input": {
                "model": rng.choice(MODELS),
                "params": {"prompt": rng.choice(("a dog", "a red fox", "a paper boat"))},
            },
        }
    )


def _session(tasks: int, rng: random.Random) -> Session:
    session = Session(None, lambda: NOW)
    refs = [TaskRef(IdKind.TASK_ID, f"order_{n:06d}") for n in range(tasks)]
    session.add(refs)
    for ref in refs:
        session.apply(ref, _answer(ref.id, rng), None)  # type: ignore[arg-type]
    return session


def _cpu(run: Callable[[], object], repeats: int) -> float:
    """The median CPU seconds of ``run``."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.views")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--views", type=int, default=len(VIEWS))
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args(argv)
    rng = random.Random(7)
    views = VIEWS[: args.views]
    session = _session(args.tasks, rng)
    counts = ViewCounts(views)
    counts.take(session.rows, (), full=True)
    keys = list(session.rows)
    changed = max(1, args.tasks // 100)

    def flush() -> None:
        updated = rng.sample(keys, changed)
        for key in updated:
            ref = session.rows[key].ref
            session.apply(ref, _answer(ref.id, rng), None)  # type: ignore[arg-type]
        counts.take(session.rows, updated, full=False)
        counts.counts()

    def answers_only() -> None:
        for key in rng.sample(keys, changed):
            ref = session.rows[key].ref
            session.apply(ref, _answer(ref.id, rng), None)  # type: ignore[arg-type]

    added = iter(range(10**9))

    def add_one() -> None:
        ref = TaskRef(IdKind.TASK_ID, f"new_{next(added)}")
        session.add([ref])
        counts.take(session.rows, (), full=True)
        counts.counts()

    def add_view() -> None:
        ViewCounts(views).add(View("Veo", text="veo"), session.rows)

    def recount() -> None:
        fresh = ViewCounts(views)
        fresh.take(session.rows, (), full=True)
        fresh.counts()

    def naive() -> None:
        for view in views:
            needle = view.text.lower()
            sum(1 for row in session.rows.values() if matches(row, view.spec, needle))

    answers = _cpu(answers_only, args.repeats)
    figures = {
        f"flush, {changed:,} rows changed (counts only, answers taken away)": _cpu(
            flush, args.repeats
        )
        - answers,
        "tick, nothing changed": _cpu(counts.counts, args.repeats),
        "a task added (rows added or removed: a full batch)": _cpu(add_one, args.repeats),
        "a view saved (V): only it goes through the rows": _cpu(add_view, args.repeats),
        "recount from nothing (the start, spread over its frames)": _cpu(recount, args.repeats),
        "naive: every row through every view": _cpu(naive, args.repeats),
    }
    print(f"{args.tasks:,} tasks, {len(views)} views, median of {args.repeats} (CPU time)")
    for name, seconds in figures.items():
        print(f"  {name:<62} {seconds * 1000:8.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
