"""Export of a view (domain/export.py) and ``aireiter-tui list --format``: rows in the
view's order and its columns, parsed back in each format; what came from the network
stays data (formulas neutralised in CSV, control characters never raw, strict JSON)."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aireiter_tui.cli import main
from aireiter_tui.domain.models import IdKind, TaskRef, parse_task
from aireiter_tui.domain.paths import NotRegularFile
from aireiter_tui.domain.session import Row, Session
from aireiter_tui.domain.view import COLUMN_IDS, StatusFilter, ViewSpec, compute_order
from aireiter_tui.domain.watchlist import WatchlistStore
from aireiter_tui.domain.watchlist_codec import WatchEntry
from aireiter_tui.export import (
    ALL_FIELDS,
    ExportFormat,
    csv_cell,
    default_name,
    export_fields,
    records,
    render,
    write_export,
)

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
HOSTILE_LABEL = "=cmd()|' /C calc'!A0"


def _task(ident: str, status: str, prompt: str, credits: float, age: int, **extra: object):
    created = NOW - timedelta(seconds=age)
    data: dict[str, object] = {
        "task_id": ident,
        "status": status,
        "created_at": created.isoformat(),
        "credits_used": credits,
        "input": {"model": "nano_banana", "params": {"prompt": prompt, "output_n": 2}},
    }
    data.update(extra)
    return parse_task(data)


def _session() -> Session:
    session = Session(None, lambda: NOW)
    tasks = [
        ("a", "completed", "a red fox", 100.0, 300, "fox"),
        ("b", "failed", "+SUM(A1:A9)", 0.0, 600, HOSTILE_LABEL),
        ("c", "completed", "@import\x1b[31m red\nline two", 12.5, 90, None),
        ("d", "processing", "a paper boat", 0.0, 30, None),
    ]
    for ident, status, prompt, credits, age, label in tasks:
        ref = TaskRef(IdKind.TASK_ID, ident)
        session.add([ref], label=label)
        extra: dict[str, object] = {}
        if status == "completed":
            extra["completed_at"] = (NOW - timedelta(seconds=age - 20)).isoformat()
            extra["output"] = [{"url": f"https://cdn.example/{ident}.png"}]
        if status == "failed":
            extra["error"] = {"message": "-1 credits left"}
        session.apply(ref, _task(ident, status, prompt, credits, age, **extra), None)
    return session


def _view_rows(session: Session, spec: ViewSpec) -> list[Row]:
    return [session.rows[key] for key in compute_order(session.rows.items(), spec, NOW)]


def _parse(text: str, fmt: ExportFormat) -> list[dict[str, object]]:
    if fmt is ExportFormat.CSV:
        return list(csv.DictReader(io.StringIO(text)))
    if fmt is ExportFormat.JSONL:
        return [json.loads(line) for line in text.splitlines()]
    parsed = json.loads(text)
    assert isinstance(parsed, list)
    return parsed


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_a_filtered_sorted_view_parses_back_as_its_rows_and_columns(fmt: ExportFormat) -> None:
    session = _session()
    spec = ViewSpec(status=StatusFilter.COMPLETED, sort="credits", reverse=True)  # type: ignore[arg-type]
    rows = _view_rows(session, spec)
    columns = ("task", "status", "credits", "outputs")
    fields = export_fields(columns)
    assert fields == ("id", "label", "status", "credits", "output_count")

    text = render(records(rows, fields, now=NOW), fields, fmt, io.StringIO())
    parsed = _parse(text, fmt)

    assert [record["id"] for record in parsed] == ["a", "c"]  # filtered, by credits, down
    assert list(parsed[0]) == list(fields)
    if fmt is ExportFormat.CSV:
        assert parsed[0] == {
            "id": "a",
            "label": "fox",
            "status": "completed",
            "credits": "100",
            "output_count": "1",
        }
        assert parsed[1]["label"] == "" and parsed[1]["credits"] == "12.5"
    else:
        assert parsed[0] == {
            "id": "a",
            "label": "fox",
            "status": "completed",
            "credits": 100.0,
            "output_count": 1,
        }
        assert parsed[1]["label"] is None and parsed[1]["credits"] == 12.5


def test_every_table_column_exports_as_a_field() -> None:
    for column in COLUMN_IDS:
        assert export_fields([column]), column


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_all_fields_adds_every_field_after_the_columns(fmt: ExportFormat) -> None:
    session = _session()
    rows = _view_rows(session, ViewSpec())
    fields = export_fields(["status", "task"], all_fields=True)
    assert fields[:3] == ("status", "id", "label")
    assert set(fields) == set(ALL_FIELDS)
    parsed = _parse(render(records(rows, fields, now=NOW), fields, fmt, io.StringIO()), fmt)
    first = parsed[0]
    assert first["kind"] == "task_id"
    assert first["created"] == "2026-01-02T11:55:00Z"
    assert first["completed"] == "2026-01-02T11:55:20Z"
    assert first["outputs"] == (
        "https://cdn.example/a.png" if fmt is ExportFormat.CSV else ["https://cdn.example/a.png"]
    )
    params = {"prompt": "a red fox", "output_n": 2}
    if fmt is ExportFormat.CSV:
        assert json.loads(str(first["params"])) == params
        assert first["time"] == "20"
    else:
        assert first["params"] == params
        assert first["time"] == 20
    failed = next(record for record in parsed if record["id"] == "b")
    # The server's message starts with "-": data, never a formula.
    assert failed["error"] == ("'-1 credits left" if fmt is ExportFormat.CSV else "-1 credits left")


def test_csv_neutralises_formulas_from_the_network() -> None:
    session = _session()
    rows = _view_rows(session, ViewSpec())
    fields = export_fields(["task", "prompt"])
    parsed = _parse(
        render(records(rows, fields, now=NOW), fields, ExportFormat.CSV, io.StringIO()),
        ExportFormat.CSV,
    )
    by_id = {record["id"]: record for record in parsed}
    assert by_id["b"]["label"] == "'" + HOSTILE_LABEL
    assert by_id["b"]["prompt"] == "'+SUM(A1:A9)"
    assert str(by_id["c"]["prompt"]).startswith("'@import")
    assert by_id["a"]["prompt"] == "a red fox"  # plain text is left alone
    for value in ("=1+1", "+1", "-1", "@SUM(1)", "\t=1", "\r=1", "  =1", "\uff1d1+1"):
        assert csv_cell(value).startswith("'"), value
    assert csv_cell(-5.0) == "-5"  # a number we write is a number, not a formula


def test_text_outputs_carry_no_raw_control_characters() -> None:
    session = _session()
    rows = _view_rows(session, ViewSpec())
    fields = export_fields(["task", "prompt"])
    data = records(rows, fields, now=NOW)
    for fmt in ExportFormat:
        text = render(data, fields, fmt, io.StringIO())
        assert "\x1b" not in text, fmt
        # Lines are records (CSV: and the header), never a prompt's line break.
        expected = {ExportFormat.CSV: 5, ExportFormat.JSONL: 4, ExportFormat.JSON: 6}[fmt]
        assert len(text.splitlines()) == expected, fmt
    csv_text = render(data, fields, ExportFormat.CSV, io.StringIO())
    assert "'@import␛[31m red line two" in csv_text
    json_text = render(data, fields, ExportFormat.JSON, io.StringIO())
    assert json.loads(json_text)[2]["prompt"] == "@import\x1b[31m red\nline two"


def test_json_is_strict_where_the_server_is_not() -> None:
    row = Row(
        WatchEntry(
            TaskRef(IdKind.TASK_ID, "n"),
            "\u202eevil\u2028",
            NOW,
            parse_task({"task_id": "n", "status": "completed", "credits_used": float("nan")}),
        )
    )
    fields = ("label", "credits")
    for fmt in (ExportFormat.JSON, ExportFormat.JSONL):
        text = render(records([row], fields, now=NOW), fields, fmt, io.StringIO())
        assert "\u202e" not in text and "\u2028" not in text and "NaN" not in text
        parsed = _parse(text, fmt)
        assert parsed == [{"label": "\u202eevil\u2028", "credits": None}]


def test_an_empty_view_is_a_header_or_an_empty_list() -> None:
    fields = ("id", "status")
    assert render([], fields, ExportFormat.CSV, io.StringIO()) == "id,status\n"
    assert json.loads(render([], fields, ExportFormat.JSON, io.StringIO())) == []
    assert render([], fields, ExportFormat.JSONL, io.StringIO()) == ""


def test_default_name_carries_the_time_and_format() -> None:
    assert default_name(ExportFormat.JSONL, NOW) == "aireiter-export-20260102-120000.jsonl"


def test_write_export_replaces_atomically_keeping_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old")
    os.chmod(target, 0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert write_export(link, "id\na\n") == target
    assert target.read_text() == "id\na\n"
    assert link.is_symlink()  # written through, the link stays
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    with pytest.raises(NotRegularFile):
        write_export(tmp_path, "x")
    with pytest.raises(FileNotFoundError):
        write_export(tmp_path / "missing" / "out.csv", "x")


# --- aireiter-tui list --format --------------------------------------------------------------


def _seed_cli_watchlist(path: Path) -> None:
    session = _session()
    WatchlistStore(path).save([row.entry for row in session.rows.values()])


@pytest.fixture
def watchlist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # no user config in the way
    path = tmp_path / "w.toml"
    _seed_cli_watchlist(path)
    return path


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_list_format_prints_the_export(
    watchlist: Path, fmt: ExportFormat, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--watchlist", str(watchlist), "list", "--format", fmt.value]) == 0
    parsed = _parse(capsys.readouterr().out, fmt)
    assert [record["id"] for record in parsed] == ["a", "b", "c", "d"]
    assert list(parsed[0]) == list(export_fields(COLUMN_IDS))
    hostile = parsed[1]["label"]
    assert hostile == ("'" + HOSTILE_LABEL if fmt is ExportFormat.CSV else HOSTILE_LABEL)


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_list_format_filters_and_adds_all_fields(
    watchlist: Path, fmt: ExportFormat, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--watchlist", str(watchlist), "list", "--format", fmt.value]
    assert main([*argv, "--status", "completed", "--filter", "FOX", "--all-fields"]) == 0
    parsed = _parse(capsys.readouterr().out, fmt)
    assert [record["id"] for record in parsed] == ["a"]
    assert set(ALL_FIELDS) <= set(parsed[0])
    assert main([*argv, "--status", "failed"]) == 0
    assert [record["id"] for record in _parse(capsys.readouterr().out, fmt)] == ["b"]


def test_list_filters_apply_to_the_plain_listing_too(
    watchlist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--watchlist", str(watchlist), "list", "--filter", "boat"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["d"]


def test_list_format_refuses_what_does_not_go_together(
    watchlist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--watchlist", str(watchlist), "list", "--all-fields"]) == 2
    assert "--all-fields needs --format" in capsys.readouterr().err
    assert main(["--watchlist", str(watchlist), "list", "--json", "--format", "csv"]) == 2
    assert "--json" in capsys.readouterr().err
