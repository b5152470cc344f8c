"""Snapshot tests of the dashboard: one class per feature, every scene of
:mod:`scenes` covered. Update with ``pytest --snapshot-update`` and look
at each changed SVG before committing it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from scenes import BY_NAME

SnapCompare = Callable[..., bool]

#: Scene names per feature class; test_every_scene_is_tested checks none is left out.
FEATURES: dict[str, list[str]] = {
    "TestEmptyState": ["empty"],
    "TestTable": ["main", "main-120x36", "marked-rows"],
    "TestDetails": ["details-completed", "details-failed", "wide-no-details"],
    "TestAddModal": ["add-modal", "add-modal-nothing-valid"],
    "TestSubmitDialog": ["submit-retry", "submit-duplicate", "submit-error"],
    "TestFilterSort": ["filter-sort"],
    "TestHelp": ["help"],
    "TestConnection": ["offline", "rate-limited", "no-key"],
    "TestHostileStrings": ["hostile", "hostile-failed"],
    "TestSizes": ["narrow-80x24"],
    "TestThemes": ["theme-nord", "theme-gruvbox"],
    "TestInsight": ["insight-120x36", "insight-80x24"],
    "TestColumnsAndViews": ["tabs", "column-dialog"],
    "TestOutputs": ["preview", "download-in-progress"],
}


def compare(snap_compare: SnapCompare, name: str) -> bool:
    scene = BY_NAME[name]
    return snap_compare(scene.build(), terminal_size=scene.size, run_before=scene.run_before)


def scenes_of(feature: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("name", FEATURES[feature])


class TestEmptyState:
    """Nothing watched: the first-start instructions."""

    @scenes_of("TestEmptyState")
    def test_scene(self, snap_compare: SnapCompare, name: str) -> None:
        assert compare(snap_compare, name)


class TestTable:
    """Every status, an unknown one, a never-fetched task and a ⚠ could-not-refresh row."""

    @scenes_of("TestTable")
    def test_scene(self, snap_compare: SnapCompare, name: str) -> None:
        assert compare(snap_compare, name)


class TestDetails:
    """The detail pane of a completed task (split URL lists, outputs) and a failed one."""

    @scenes_of("TestDetails")
    def test_scene(self, snap_compare: SnapCompare, name: str) -> None:
        assert compare(snap_compare, name)


class TestAddModal:
    """The add-tasks dialog: the preview with rejected IDs, and ctrl+s with none valid."""

    @scenes_of("TestAddModal")
    def test_scene(self, snap_compare: SnapCompare, name: str) -> None:
        assert compare(snap_compare, name)


class TestSubmitDialog:
    """Retry (confirm), duplicate with edits (valid), a new task with invalid JSON."""

    @scenes_of("TestSubmitDialog")
    def test_scene(self, snap_compare: SnapCompare, name: str) -> None:
        assert compare(snap_compare, name)


class TestFilterSort:
    """A text filter and a sort applied: banner, header marker, filter box."""

    @scenes_of("TestFilterSort")
    def test_scene(self, snap_compare: SnapCompare, name: str) -> None:
        assert compare(snap_compare, name)


class TestHelp:
    """The key reference."""

    @scenes_of("TestHelp")
    def test_scene(self, snap_compare: SnapCompare, name: str) -> None:
        assert compare(snap_compare, name)


class TestConnection:
    """The offline and rate-limited banners, and the no-API-key state."""

    @scenes_of("TestConnection")
    def test_scene(self, snap_compare: SnapCompare, name: str) -> None:
        assert compare(snap_compare, name)


class TestHostileStrings:
    """Markup, escape sequences, bidi and long or non-Latin text shown as plain text."""

    @scenes_of("TestHostileStrings")
    def test_scene(self, snap_compare: SnapCompare, name: str) -> None:
        assert compare(snap_compare, name)


class TestSizes:
    """80x24 (160x48 is covered by the table, details and hostile scenes)."""

    @scenes_of("TestSizes")
    def test_scene(self, snap_compare: SnapCompare, name: str) -> None:
        assert compare(snap_compare, name)


class TestThemes:
    """Non-default themes."""

    @scenes_of("TestThemes")
    def test_scene(self, snap_compare: SnapCompare, name: str) -> None:
        assert compare(snap_compare, name)


class TestInsight:
    """The insight screen (i) at 120x36 and 80x24."""

    @scenes_of("TestInsight")
    def test_scene(self, snap_compare: SnapCompare, name: str) -> None:
        assert compare(snap_compare, name)


class TestColumnsAndViews:
    """Saved views as tabs with their counts, and the column dialog over the table."""

    @scenes_of("TestColumnsAndViews")
    def test_scene(self, snap_compare: SnapCompare, name: str) -> None:
        assert compare(snap_compare, name)


class TestOutputs:
    """A completed task's output drawn in half-blocks, and downloads frozen mid-way."""

    @scenes_of("TestOutputs")
    def test_scene(self, snap_compare: SnapCompare, name: str) -> None:
        assert compare(snap_compare, name)


def test_every_scene_is_tested() -> None:
    tested = [name for names in FEATURES.values() for name in names]
    assert sorted(tested) == sorted(BY_NAME)
    assert set(FEATURES) == {name for name in globals() if name.startswith("Test")}
