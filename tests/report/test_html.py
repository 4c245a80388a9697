"""The HTML report: one self-contained, escaped page (summary, rows, removals, what to do), and
the per-outcome advice that docs/cli.md repeats word for word."""

from __future__ import annotations

import re
import stat
from html.parser import HTMLParser
from pathlib import Path

import pytest

from canvas_observers.core.outcomes import Outcome, RowResult
from canvas_observers.report import RunInfo, write_report
from canvas_observers.report.advice import WHAT_TO_DO
from canvas_observers.roster.model import RemovalCandidate

DOC = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")

INFO = RunInfo(
    run_id=7,
    started_at="2024-09-01T02:00:00+00:00",
    ended_at="2024-09-01T02:01:30+00:00",
    canvas_url="https://school.instructure.com",
    dry_run=False,
    pairing="code",
    duration_s=90.1,
    api_calls={"get_user": 12, "pair_code": 3},
    roster="<b>roster</b>.csv",
    rows_read=6,
    rows_rejected=1,
    duplicates=0,
    canvas_state="report",
    state="stopped",
    stop_reason="Canvas refused the token <401>",
)
HOSTILE = "<script>window.pwned = 1</script>"
RESULTS = [
    RowResult(2, HOSTILE, "jane@example.org", Outcome.CREATED, "", 101, 201),
    RowResult(
        3, "S2", "bob@example.org", Outcome.ALREADY_PAIRED, "", 102, 202, "<i>Sol</i>", "Bob <Ng>"
    ),
    RowResult(4, "S4", "amy@example.org", Outcome.STUDENT_NOT_FOUND, "no exact match for 'S4'"),
    RowResult(9, "S9", "x@example.org", Outcome.FAILED, '502 <img src=x onerror="alert(1)">', 109),
    RowResult(0, "S7", "old@example.org", Outcome.REMOVED, "the SIS ended it", 107, 207),
]
CANDIDATES = [RemovalCandidate("S8", "gone@example.org", "tobedeleted", "users.csv", 12)]


class Page(HTMLParser):
    """What a page holds: script/link/style tags, rows by table, and every text node."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.table = ""
        self.rows: dict[str, list[dict[str, str | None]]] = {}
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "table":
            self.table = attributes.get("id") or ""
        if tag == "tr" and "data-outcome" in attributes:
            self.rows.setdefault(self.table, []).append(attributes)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def page(tmp_path: Path, **changes: object) -> tuple[str, Page]:
    path = tmp_path / "run.html"
    info = RunInfo(**{**INFO.as_json(), **changes})  # type: ignore[arg-type]
    write_report(path, info, RESULTS, removal_candidates=CANDIDATES)
    text = path.read_text(encoding="utf-8")
    parsed = Page()
    parsed.feed(text)
    return text, parsed


def test_values_are_escaped_and_stay_text(tmp_path: Path) -> None:
    """A <script> in a student id, HTML in a detail, a person's name or the roster name: text,
    never markup;
    the only script is the page's own inline one."""
    text, parsed = page(tmp_path)
    assert HOSTILE not in text
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in text
    assert HOSTILE in parsed.text
    assert '502 <img src=x onerror="alert(1)">' in parsed.text
    assert "<b>roster</b>.csv" in parsed.text
    assert "<i>Sol</i> (S2)" in parsed.text and "Bob <Ng> (bob@example.org)" in parsed.text
    assert not any(tag == "i" for tag, _ in parsed.tags)
    assert [tag for tag, _ in parsed.tags].count("script") == 1
    assert not any(tag == "img" for tag, _ in parsed.tags)


def test_self_contained_and_locked_down(tmp_path: Path) -> None:
    """No external asset (no src, no stylesheet link, no URL but the Canvas user links), and a
    CSP that allows only the page's own inline style and script."""
    _, parsed = page(tmp_path)
    for tag, attributes in parsed.tags:
        assert tag != "link" and "src" not in attributes, tag
        for name, value in attributes.items():
            if name == "href":
                assert tag == "a" and re.fullmatch(
                    r"https://school\.instructure\.com/users/\d+", value or ""
                )
            else:
                assert "//" not in (value or ""), (tag, name, value)
    csp = [a["content"] for _, a in parsed.tags if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp[0] is not None and csp[0].startswith("default-src 'none'")
    assert "'unsafe-inline'" not in csp[0]


def test_summary_rows_order_and_canvas_links(tmp_path: Path) -> None:
    """The summary has the run's facts; rows needing attention come first; removals have their
    own section; Canvas ids link to the user pages."""
    text, parsed = page(tmp_path)
    words = "".join(parsed.text)
    for fact in ("stopped because", "Canvas refused the token <401>", "6 read, 1 rejected"):
        assert fact in words
    assert "whole, by one provisioning report" in words
    assert "15 (get_user 12, pair_code 3)" in words
    assert [r["data-outcome"] for r in parsed.rows["row-table"]] == [
        "student_not_found",
        "failed",
        "created",
        "already_paired",
    ]
    assert [r["data-outcome"] for r in parsed.rows["removal-table"]] == ["removed"]
    assert "gone@example.org" in words and "tobedeleted" in words
    assert 'href="https://school.instructure.com/users/201"' in text
    assert 'href="https://school.instructure.com/users/207"' in text


def test_a_canvas_url_that_is_not_http_makes_no_link(tmp_path: Path) -> None:
    """A journal holding a javascript: Canvas URL (tampered) gives plain ids, no link."""
    text, parsed = page(tmp_path, canvas_url="javascript:alert(1)//")
    assert not any(tag == "a" for tag, _ in parsed.tags)
    assert ">201<" in text


def test_owner_only(tmp_path: Path) -> None:
    """The HTML report is written 0600, like the JSON and CSV reports."""
    page(tmp_path)
    assert stat.S_IMODE((tmp_path / "run.html").stat().st_mode) == 0o600


def test_every_outcome_has_advice_and_the_page_shows_it(tmp_path: Path) -> None:
    """WHAT_TO_DO covers every outcome, and the page's "what to do next" table holds it."""
    assert list(WHAT_TO_DO) == list(Outcome)
    _, parsed = page(tmp_path)
    words = "".join(parsed.text)
    for advice in WHAT_TO_DO.values():
        assert advice.replace("`", "") in words


def test_docs_have_the_same_table() -> None:
    """docs/cli.md's "What to do about each outcome" is WHAT_TO_DO, row for row, in order."""
    section = DOC.split("### What to do about each outcome", 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows == [f"| `{o.value}` | {text} |" for o, text in WHAT_TO_DO.items()]


@pytest.mark.parametrize("name", ["run.html", "RUN.HTM"])
def test_the_extension_picks_html(tmp_path: Path, name: str) -> None:
    """.html and .htm names write the page."""
    write_report(tmp_path / name, INFO, RESULTS)
    assert (tmp_path / name).read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
