"""The benchmark's result table: medians with their spread, and how close each is to its
target (bench/report.py). Nothing here is timed."""

from __future__ import annotations

import math

from bench.report import Figure, Target, ms, percentile, spread, table


def test_spread_shows_the_median_then_the_lowest_and_highest_run() -> None:
    assert spread([0.003, 0.001, 0.002], ms) == "2.0 ms (1.0..3.0, 3 runs)"
    assert spread([0.0021], ms) == "2.1 ms (1 run)"
    assert spread([], ms) == "not measured"
    # Values whose units differ keep them.
    assert (
        spread([1.0, 2.0], lambda v: "fast" if v < 1.5 else "1.5 s")
        == "1.5 s (fast..1.5 s, 2 runs)"
    )


def test_a_judged_figure_passes_on_its_median_and_says_its_headroom() -> None:
    target = Target(0.1, "< 100 ms")
    figure = Figure.judged("keys", "Down -> painted", "10,000", [0.07, 0.06, 0.08], ms, target)
    assert figure.value == "70.0 ms (60.0..80.0, 3 runs)"
    assert (figure.target, figure.verdict, figure.margin) == ("< 100 ms", "PASS", "30% headroom")


def test_a_median_that_passes_with_a_failing_run_says_so() -> None:
    target = Target(0.1, "< 100 ms")
    figure = Figure.judged("keys", "max", "10,000", [0.09, 0.097, 0.12], ms, target)
    assert figure.verdict == "PASS"
    assert figure.margin == "3% headroom; 1 of 3 runs miss"


def test_a_failing_median_reads_as_over_its_target() -> None:
    figure = Figure.judged(
        "cpu", "per query", "-", [0.6e-3, 0.7e-3], ms, Target(0.5e-3, "<= 0.5 ms")
    )
    assert figure.verdict == "FAIL"
    assert figure.margin == "30% over; 2 of 2 runs miss"


def test_targets_to_reach_and_inclusive_limits() -> None:
    faster = Target(20, ">= 20x", at_least=True, inclusive=True)
    assert faster.met(20) and not faster.met(19.9)
    assert faster.margin(25) == "25% headroom" and faster.margin(15) == "25% over"
    assert Target(1.3, "<= 1.3x", inclusive=True).met(1.3)
    assert not Target(1.3, "< 1.3x").met(1.3)
    assert Target(1.0, "< 1 s").margin(math.nan) == ""


def test_an_invalid_run_fails_whatever_its_figures() -> None:
    target = Target(1.3, "<= 1.3x", inclusive=True)
    figure = Figure.judged(
        "net", "ratio", "10,000", [1.1], str, target, note="3 errors", valid=False
    )
    assert figure.verdict == "FAIL" and figure.value == "1.1 (1 run), 3 errors"
    assert Figure.judged("net", "ratio", "1", [], str, target).verdict == "FAIL"


def test_information_only_figures_have_no_verdict() -> None:
    figure = Figure.judged("cpu", "server CPU", "-", [1.0, 3.0], ms)
    assert figure.ok is None and figure.verdict == "" and figure.target == ""


def test_the_table_has_a_margin_column() -> None:
    judged = Figure.judged("keys", "max", "10", [0.05], ms, Target(0.1, "< 100 ms"))
    text = table([judged, Figure("keys", "info", "10", "x")])
    header, _, first, second = text.splitlines()
    assert header.split()[-2:] == ["target", "margin"]
    assert first.endswith("< 100 ms  PASS  50% headroom")
    assert second.rstrip().endswith("x")


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.95) == 96.0 and percentile(values, 0.0) == 1.0
    assert percentile(values, 1.0) == 100.0 and math.isnan(percentile([], 0.5))
