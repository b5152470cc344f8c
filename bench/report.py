"""The result table: one row per figure, with its target and PASS/FAIL, and the machine."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure. ``ok`` is None for figures shown for information only."""

    section: str
    metric: str
    n: str
    value: str
    target: str = ""
    ok: bool | None = None

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("PASS" if self.ok else "FAIL")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:,.2f} s"


def machine() -> list[str]:
    """CPU count and model, Python and library versions."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = []
    for package in ("textual", "httpx", "aiohttp", "httpx-aiohttp", "rich"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    return [
        f"CPU: {os.cpu_count()} x {model}",
        f"Python {platform.python_version()} ({platform.python_implementation()}) "
        f"on {platform.system()} {platform.release()}",
        ", ".join(versions),
    ]


def table(figures: Iterable[Figure]) -> str:
    """A plain-text table, one line per figure, grouped by section."""
    rows = [("section", "metric", "N", "measured", "target", "")]
    rows += [(f.section, f.metric, f.n, f.value, f.target, f.verdict) for f in figures]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    previous = None
    for number, row in enumerate(rows):
        if number > 1 and row[0] != previous:
            lines.append("")
        previous = row[0]
        shown = ("" if number > 1 and row[0] == rows[number - 1][0] else row[0], *row[1:])
        cells = (cell.ljust(width) for cell, width in zip(shown, widths, strict=True))
        lines.append("  ".join(cells).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)
