"""The result table: one row per figure, with its target and PASS/FAIL, and the machine.

A figure measured several times (:meth:`Figure.judged`) shows its median, judged
against the target, and its spread (the lowest and highest run), and says how far the
median is from the target: a figure that passes by 3 %, or whose worst run fails, reads
as such rather than as a plain PASS.
"""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata


@dataclass(frozen=True, slots=True)
class Target:
    """A limit a figure must stay under (``at_least``: reach), as the table shows it.

    ``inclusive``: the limit itself passes (``<=``, ``>=``) rather than (``<``, ``>``).
    """

    limit: float
    shown: str
    at_least: bool = False
    inclusive: bool = False

    def met(self, value: float) -> bool:
        if self.at_least:
            return value >= self.limit if self.inclusive else value > self.limit
        return value <= self.limit if self.inclusive else value < self.limit

    def margin(self, value: float) -> str:
        """How far ``value`` is inside the limit ("35% headroom") or past it ("12% over")."""
        if not self.limit or value != value:  # NaN: nothing was measured
            return ""
        share = value / self.limit - 1 if self.at_least else 1 - value / self.limit
        return f"{share:.0%} headroom" if share >= 0 else f"{-share:.0%} over"


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure. ``ok`` is None for figures shown for information only;
    ``margin`` says how close a judged figure is to its target."""

    section: str
    metric: str
    n: str
    value: str
    target: str = ""
    ok: bool | None = None
    margin: str = ""

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("PASS" if self.ok else "FAIL")

    @classmethod
    def judged(
        cls,
        section: str,
        metric: str,
        n: str,
        samples: Sequence[float],
        shown: Callable[[float], str],
        target: Target | None = None,
        *,
        note: str = "",
        valid: bool = True,
    ) -> Figure:
        """A figure from several runs: the median (judged against ``target``) and the
        spread, each value written by ``shown``. ``valid=False`` fails it whatever the
        figures (errors, runs cut off: ``note`` says which)."""
        value = spread(samples, shown) + (f", {note}" if note else "")
        if target is None:
            return cls(section, metric, n, value)
        middle = median(samples)
        ok = valid and bool(samples) and target.met(middle)
        notes = [target.margin(middle)] if samples else []
        failing = sum(not target.met(sample) for sample in samples)
        if failing:
            notes.append(f"{failing} of {len(samples)} runs miss")
        margin = "; ".join(note for note in notes if note)
        return cls(section, metric, n, value, target.shown, ok, margin)


def spread(samples: Sequence[float], shown: Callable[[float], str]) -> str:
    """``median (lowest..highest, k runs)``; the unit once when all three share it."""
    if not samples:
        return "not measured"
    middle = shown(median(samples))
    if len(samples) == 1:
        return f"{middle} (1 run)"
    low, high = shown(min(samples)), shown(max(samples))
    unit = middle.rpartition(" ")[2]
    if " " in middle and all(text.endswith(" " + unit) for text in (low, high)):
        low, high = low.removesuffix(" " + unit), high.removesuffix(" " + unit)
    return f"{middle} ({low}..{high}, {len(samples)} runs)"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def fine_ms(seconds: float) -> str:
    """Milliseconds to the microsecond (a query's CPU time)."""
    return f"{seconds * 1000:,.3f} ms"


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
    for package in ("textual", "httpx", "aiohttp", "rich"):
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


def percentile(values: Sequence[float], share: float) -> float:
    """The value ``share`` (0..1) of the way up the sorted values (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def times(factor: float) -> str:
    return f"{factor:.2f}x"


def table(figures: Iterable[Figure]) -> str:
    """A plain-text table, one line per figure, grouped by section."""
    rows = [("section", "metric", "N", "measured", "target", "", "margin")]
    rows += [(f.section, f.metric, f.n, f.value, f.target, f.verdict, f.margin) for f in figures]
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
