"""``aireiter-tui stats``: the insight screen's figures, headless, from the watchlist file
(each task's last answer as the dashboard saved it); nothing is fetched."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from aireiter_tui.domain.insight import Window, report
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.output import json_text, shown, write

_SINCE_RE = re.compile(r"^(?:(today)|(all)|(\d+)d)$")


def add_arguments(commands: Any, common: argparse.ArgumentParser) -> None:
    stats = commands.add_parser(
        "stats",
        parents=[common],
        help="credits, durations and failures per model, from the watchlist",
        description="Print the insight screen's figures from the watchlist (UTC days).",
    )
    stats.add_argument(
        "--since",
        default="all",
        metavar="WHEN",
        help="today, 7d or all (default: all)",
    )
    stats.add_argument("--json", action="store_true", help="print one JSON object")


def window_of(since: str) -> Window:
    """``today``, ``7d`` or ``all`` (the windows the screen has)."""
    match = _SINCE_RE.match(since.strip().lower())
    if match is None or (match.group(3) and match.group(3) != "7"):
        raise ValueError(f"--since must be today, 7d or all, not {since!r}")
    if match.group(1):
        return Window.TODAY
    return Window.ALL if match.group(2) else Window.WEEK


def run(
    args: argparse.Namespace,
    store: WatchlistStore,
    out: TextIO,
    *,
    window: Window,
    now: datetime | None = None,
) -> int:
    """Print the figures of ``window`` (``args.json``: one JSON object)."""
    figures = report(store.load(), now or datetime.now(UTC), window)
    if args.json:
        write(out, json_text(figures.as_json(), out) + "\n")
        return 0
    write(
        out, f"{figures.window.words} (UTC): {figures.tasks:,} tasks, {figures.credits:g} credits\n"
    )
    write(out, f"today {figures.credits_today:g} credits, this month {figures.credits_month:g}\n")
    header = ("MODEL", "TASKS", "CREDITS", "MEDIAN", "P95", "FAILED")
    rows = [header]
    for model in figures.models:
        rate = "" if model.failure_rate is None else f" ({100 * model.failure_rate:.0f}%)"
        rows.append(
            (
                shown(model.model, 40),
                str(model.tasks),
                f"{model.credits:g}",
                _seconds(model.median),
                _seconds(model.p95),
                f"{model.failed}{rate}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        write(
            out,
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            + "\n",
        )
    finished = sum(figures.throughput)
    write(out, f"finished in the last hour: {finished}\n")
    return 0


def _seconds(value: float | None) -> str:
    return "-" if value is None else str(timedelta(seconds=round(value)))
