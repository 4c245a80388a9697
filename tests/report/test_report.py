"""Report: totals, JSON and CSV files (shape, formula escaping, 0600, atomic) and the summary."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from canvas_observers.core.outcomes import Outcome, RowResult
from canvas_observers.report import (
    ROW_FIELDS,
    RunInfo,
    needs_attention,
    render_summary,
    totals,
    write_report,
)
from canvas_observers.report.render import REMOVAL_CANDIDATE
from canvas_observers.roster.model import RemovalCandidate

INFO = RunInfo(
    run_id=7,
    started_at="2024-09-01T02:00:00Z",
    ended_at="2024-09-01T02:01:30Z",
    canvas_url="https://school.instructure.com",
    dry_run=False,
    pairing="code",
    duration_s=90.12345,
    api_calls={"get_user": 12, "create_user": 2, "pair_code": 3},
    roster="roster.csv",
    rows_read=6,
    rows_rejected=1,
    duplicates=1,
)

RESULTS = [
    RowResult(2, "S1", "jane@example.org", Outcome.CREATED, "", 101, 201, "Sam Doe", "Jane Doe"),
    RowResult(3, "S2", "bob@example.org", Outcome.ALREADY_PAIRED, "", 102, 202),
    RowResult(9, "S9", "x@example.org", Outcome.FAILED, "502 Bad Gateway after 5 attempts", 109),
    RowResult(4, "100", "amy@example.org", Outcome.STUDENT_NOT_FOUND, "no exact match for '100'"),
    RowResult(5, "S5", "not-an-email", Outcome.INVALID_ROW, "observer_email has no '@'"),
    RowResult(6, "S6", "kim@example.org", Outcome.PAIRED, "", 106, 206),
]

HOSTILE = [
    "=cmd|' /C calc'!A0",
    "+1",
    "-1",
    "@SUM(1)",
    "\t=1+1",
    "\r=1+1",
]


def test_totals_has_every_outcome_in_order_with_zeros() -> None:
    """totals() lists every Outcome value, in enum order, zeros included."""
    counts = totals(RESULTS)
    assert list(counts) == [o.value for o in Outcome]
    assert counts["created"] == 1
    assert counts["failed"] == 1
    assert counts["would_pair"] == 0
    assert sum(counts.values()) == len(RESULTS)


def test_totals_of_nothing_is_all_zero() -> None:
    """No results still gives every outcome, each zero."""
    assert set(totals([]).values()) == {0}
    assert len(totals(iter([]))) == len(Outcome)


def test_needs_attention_is_non_success_by_line() -> None:
    """needs_attention() keeps only rows that are not successes, sorted by line."""
    assert [r.line for r in needs_attention(RESULTS)] == [4, 5, 9]


def test_run_info_as_json_is_a_copy() -> None:
    """RunInfo.as_json() returns every field and a copy of api_calls."""
    data = INFO.as_json()
    assert data["run_id"] == 7
    assert data["state"] == "complete"
    assert data["duration_s"] == 90.123
    assert set(data) == {
        "run_id",
        "started_at",
        "ended_at",
        "canvas_url",
        "dry_run",
        "pairing",
        "duration_s",
        "api_calls",
        "roster",
        "rows_read",
        "rows_rejected",
        "duplicates",
        "state",
        "throttled",
        "retries",
        "stop_reason",
        "canvas_state",
        "removals_forced",
        "removals_held",
        "source",
    }
    api_calls = data["api_calls"]
    assert isinstance(api_calls, dict)
    api_calls["get_user"] = 0
    assert INFO.api_calls["get_user"] == 12


def test_json_report_shape(tmp_path: Path) -> None:
    """The JSON report is {"run": {...info, totals}, "rows": [...]}."""
    path = tmp_path / "out.json"
    write_report(path, INFO, RESULTS)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) == {"run", "rows"}
    run = data["run"]
    assert run["canvas_url"] == "https://school.instructure.com"
    assert run["api_calls"] == {"get_user": 12, "create_user": 2, "pair_code": 3}
    assert run["totals"] == totals(RESULTS)
    assert run["dry_run"] is False
    assert len(data["rows"]) == len(RESULTS)
    first = data["rows"][0]
    assert list(first) == list(ROW_FIELDS)
    assert first == {
        "line": 2,
        "student_id": "S1",
        "observer_email": "jane@example.org",
        "outcome": "created",
        "detail": "",
        "canvas_student_id": 101,
        "canvas_observer_id": 201,
        "student_name": "Sam Doe",
        "guardian_name": "Jane Doe",
    }
    assert data["rows"][3]["canvas_observer_id"] is None
    assert data["rows"][3]["student_name"] == data["rows"][3]["guardian_name"] == ""


def test_json_keeps_hostile_values_verbatim(tmp_path: Path) -> None:
    """JSON is not a spreadsheet: formula-like values are written exactly as they are."""
    path = tmp_path / "out.json"
    rows = [RowResult(2, v, "a@b.co", Outcome.INVALID_ROW, v) for v in HOSTILE]
    write_report(path, INFO, rows)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert [r["student_id"] for r in data["rows"]] == HOSTILE


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_csv_report_columns_and_values(tmp_path: Path) -> None:
    """The CSV report has the row fields as columns and empty cells for missing ids."""
    path = tmp_path / "out.csv"
    write_report(path, INFO, RESULTS)
    with path.open(encoding="utf-8-sig", newline="") as f:
        header = next(csv.reader(f))
    assert header == list(ROW_FIELDS)
    rows = read_csv(path)
    assert len(rows) == len(RESULTS)
    assert rows[0] == {
        "line": "2",
        "student_id": "S1",
        "observer_email": "jane@example.org",
        "outcome": "created",
        "detail": "",
        "canvas_student_id": "101",
        "canvas_observer_id": "201",
        "student_name": "Sam Doe",
        "guardian_name": "Jane Doe",
    }
    assert rows[3]["canvas_student_id"] == ""
    assert rows[3]["detail"] == "no exact match for '100'"


@pytest.mark.parametrize("value", HOSTILE)
def test_csv_formula_cells_are_escaped(tmp_path: Path, value: str) -> None:
    """A cell starting with = + - @ tab or CR is written with a leading ' in every column."""
    path = tmp_path / "out.csv"
    row = RowResult(2, value, value, Outcome.INVALID_ROW, value, None, None, value, value)
    write_report(path, INFO, [row])
    (got,) = read_csv(path)
    for field in ("student_id", "observer_email", "detail", "student_name", "guardian_name"):
        assert got[field] == "'" + value
    assert got["outcome"] == "invalid_row"


def test_csv_ordinary_values_untouched(tmp_path: Path) -> None:
    """Values that are not formulas, including inner = and -, are written as they are."""
    path = tmp_path / "out.csv"
    row = RowResult(2, "S-1", "o'brien@example.org", Outcome.FAILED, "a=b, c-d; 李 🌈")
    write_report(path, INFO, [row])
    (got,) = read_csv(path)
    assert (got["student_id"], got["observer_email"], got["detail"]) == (
        "S-1",
        "o'brien@example.org",
        "a=b, c-d; 李 🌈",
    )


def test_csv_lists_removal_candidates_after_the_rows(tmp_path: Path) -> None:
    """The SIS's removal candidates follow the rows, outcome removal_candidate, the reason as
    detail, no Canvas ids; formula-like values get the leading '."""
    path = tmp_path / "out.csv"
    candidates = [
        RemovalCandidate("S8", "gone@example.org", "tobedeleted", "users.csv", 12),
        RemovalCandidate("=HYPERLINK(1)", "@x.org", "-ended", "roles.csv", 4),
    ]
    write_report(path, INFO, RESULTS, removal_candidates=candidates)
    rows = read_csv(path)
    assert len(rows) == len(RESULTS) + 2
    assert rows[-2] == {
        "line": "12",
        "student_id": "S8",
        "observer_email": "gone@example.org",
        "outcome": REMOVAL_CANDIDATE,
        "detail": "tobedeleted",
        "canvas_student_id": "",
        "canvas_observer_id": "",
        "student_name": "",
        "guardian_name": "",
    }
    last = rows[-1]
    assert (last["student_id"], last["observer_email"], last["detail"]) == (
        "'=HYPERLINK(1)",
        "'@x.org",
        "'-ended",
    )


@pytest.mark.parametrize("name", ["out.json", "out.csv", "OUT.JSON", "out.html"])
def test_report_mode_is_owner_only(tmp_path: Path, name: str) -> None:
    """Reports are created readable and writable by the owner only (0600), even over an old one."""
    path = tmp_path / name
    path.write_text("old")
    path.chmod(0o644)
    old_umask = os.umask(0)
    try:
        write_report(path, INFO, RESULTS)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="utf-8-sig") != "old"


def test_atomic_write_leaves_no_temp_file(tmp_path: Path) -> None:
    """After writing, the directory holds only the report: the temp file was renamed."""
    write_report(tmp_path / "out.json", INFO, RESULTS)
    write_report(tmp_path / "out.json", INFO, RESULTS[:1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    assert len(json.loads((tmp_path / "out.json").read_text())["rows"]) == 1


def test_failed_write_keeps_old_report_and_removes_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the final rename fails, the old report is intact and no temp file is left."""
    path = tmp_path / "out.csv"
    path.write_text("previous report")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_report(path, INFO, RESULTS)
    assert path.read_text() == "previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


@pytest.mark.parametrize("name", ["out.txt", "out", "out.xlsx", "out.json.bak"])
def test_unknown_extension_is_a_clear_error(tmp_path: Path, name: str) -> None:
    """Any extension but .json/.csv/.html is a ValueError naming the choices; nothing is
    written."""
    with pytest.raises(ValueError, match=r"must end in \.json, \.csv or \.html"):
        write_report(tmp_path / name, INFO, RESULTS)
    assert list(tmp_path.iterdir()) == []


def render(
    results: list[RowResult],
    info: RunInfo = INFO,
    *,
    terminal: bool = False,
    width: int = 120,
    **kwargs: Any,
) -> str:
    """The summary as a terminal shows it (``terminal``), else as a pipe or cron's mail."""
    console = Console(record=True, width=width, file=io.StringIO(), force_terminal=terminal)
    render_summary(console, info, results, **kwargs)
    return console.export_text()


@pytest.mark.parametrize("terminal", [True, False])
def test_summary_shows_totals_calls_and_attention_rows(terminal: bool) -> None:
    """The summary lists non-zero outcome counts, API calls by kind and rows needing a human,
    as tables on a terminal and as plain lines elsewhere."""
    text = render(RESULTS, terminal=terminal)
    lines = text.splitlines()
    assert any(line.split() == ["created", "1"] for line in lines)
    assert any(line.split() == ["total", "6"] for line in lines)
    assert not any("would_pair" in line for line in lines)
    assert any(line.split() == ["get_user", "12"] for line in lines)
    assert any(line.split() == ["total", "17"] for line in lines)
    assert "Rows that need attention (3)" in text
    assert "502 Bad Gateway after 5 attempts" in text
    assert "https://school.instructure.com" in text
    assert any(line.startswith("─") for line in lines) is terminal
    if not terminal:  # a row is one line of labelled fields
        assert any(
            line.startswith("line ") and "outcome failed" in line and "guardian " in line
            for line in lines
        ), text


def test_summary_escapes_markup_in_values() -> None:
    """Emails, ids and details containing rich markup are printed literally, not styled."""
    rows = [
        RowResult(2, "[bold]S1[/bold]", "[red]x@example.org", Outcome.FAILED, "[link=x]y[/link]"),
    ]
    info = replace(INFO, canvas_url="https://[blink]evil", roster="[i]r.csv")
    console = Console(record=True, width=120, file=io.StringIO(), force_terminal=True)
    render_summary(console, info, rows)
    text = console.export_text()
    assert "[bold]S1[/bold]" in text
    assert "[red]x@example.org" in text
    assert "[link=x]y[/link]" in text
    assert "https://[blink]evil" in text
    assert "[i]r.csv" in text


def test_summary_names_people_and_escapes_control_characters() -> None:
    """An attention row names the student and guardian ("Sam Lee (S1)"); a no_email row names
    the guardian with "no email"; an escape or control character in a name or detail (Canvas
    names are anyone's text) is shown escaped, never sent to the terminal."""
    rows = [
        RowResult(
            2,
            "S1",
            "pat@home.test",
            Outcome.FAILED,
            "boom\x07",
            student_name="Sam\x1b[2J Lee",
            guardian_name="Pat Lee",
        ),
        RowResult(3, "S2", "", Outcome.NO_EMAIL, "no email", guardian_name="Ana Ng"),
    ]
    console = Console(record=True, width=160, file=io.StringIO(), force_terminal=True)
    # no_email needs no one by default (not in --fail-on): counted, not listed; listed when
    # the run's --fail-on names it
    render_summary(console, INFO, rows, fail_on={Outcome.FAILED, Outcome.NO_EMAIL})
    text = console.export_text()
    assert "\x1b" not in text and "\x07" not in text
    assert "Sam\\x1b[2J Lee (S1)" in text
    assert "Pat Lee (pat@home.test)" in text
    assert "boom\\x07" in text
    assert "Ana Ng (no email)" in text and "no_email" in text


def test_summary_caps_attention_rows() -> None:
    """More attention rows than the cap print the cap and '… and N more, see the report'."""
    rows = [
        RowResult(i, f"S{i}", f"g{i}@example.org", Outcome.STUDENT_NOT_FOUND) for i in range(30)
    ]
    text = render(rows, max_attention_rows=20)
    assert "… and 10 more, see the report" in text
    assert "g19@example.org" in text
    assert "g20@example.org" not in text


def test_summary_all_good_and_dry_run() -> None:
    """A dry run with only successes says so and shows no attention table."""
    rows = [RowResult(2, "S1", "a@example.org", Outcome.WOULD_CREATE)]
    info = replace(INFO, dry_run=True)
    text = render(rows, info)
    assert "Dry run (nothing written)" in text
    assert "No rows need attention." in text
    assert "would_create" in text


def test_summary_marks_interrupted_run() -> None:
    """An interrupted run's summary title says so."""
    info = replace(INFO, state="interrupted")
    assert "Sync summary (interrupted)" in render(RESULTS, info)


def test_summary_opens_with_the_pages_sentence_for_the_runs_fail_on(tmp_path: Path) -> None:
    """The summary's first line after its title is the HTML page's first sentence, for the
    same --fail-on: the rows it counts "need your attention", the others are said apart."""
    rows = [
        *RESULTS,
        RowResult(7, "S7", "lee@example.org", Outcome.NOT_ENROLLED, "", 107),
        RowResult(8, "S8", "", Outcome.NO_EMAIL, "no email", guardian_name="Ana Ng"),
    ]
    for fail_on, sentence in (
        (
            None,
            "1 parent was given a Canvas account and 1 was paired (1 already was); 3 rows need "
            "your attention; 1 student is not enrolled yet and 1 guardian has no email in the SIS.",
        ),
        (
            {Outcome.FAILED},
            "1 parent was given a Canvas account and 1 was paired (1 already was); 1 row needs "
            "your attention; 1 student is not enrolled yet, 1 guardian has no email in the SIS "
            "and 2 other rows are listed for your information.",
        ),
    ):
        kwargs: dict[str, Any] = {} if fail_on is None else {"fail_on": fail_on}
        lines = render(rows, width=400, **kwargs).splitlines()
        assert lines[:2] == ["Sync summary", sentence]
        page = tmp_path / "run.html"
        write_report(page, INFO, rows, **kwargs)
        assert f'<p class="lead" id="lead">{sentence}</p>' in page.read_text(encoding="utf-8")
