"""The HTML report's numbers and advice, read back from the rendered page: each outcome's line
of "What to do next" gives that outcome's own advice and its real row count, and each group of
rows says how many rows it holds.

An admin acts on this page: advice shifted to the neighbouring outcome, or counts of 0 next to
rows that need a person, would send them to the wrong fix or to none.
"""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

from canvas_observers.core.outcomes import Outcome, RowResult
from canvas_observers.report.advice import WHAT_TO_DO
from canvas_observers.report.html import html_report

# Each outcome a different number of times (0 to 3), removals (line 0) among them.
COUNTS = {outcome: index % 4 for index, outcome in enumerate(Outcome)}


def results() -> list[RowResult]:
    rows: list[RowResult] = []
    for outcome, count in COUNTS.items():
        for _ in range(count):
            removal = outcome in (Outcome.REMOVED, Outcome.WOULD_REMOVE, Outcome.REMOVAL_PENDING)
            line = 0 if removal else len(rows) + 2
            rows.append(RowResult(line, f"S{len(rows)}", f"g{len(rows)}@home.test", outcome))
    return rows


class Tables(HTMLParser):
    """The text of every cell, row by row, of each table by id; the group heads' text; the
    headings by id; any text in a table outside its cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.groups: dict[str, list[str]] = {}
        self.headings: dict[str, str] = {}
        self.stray: list[str] = []
        self._table = ""
        self._cell: list[str] | None = None
        self._group = False
        self._heading: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "h2":
            self._heading = attributes.get("id") or ""
            self.headings[self._heading] = ""
        elif tag == "table":
            self._table = attributes.get("id") or ""
            self.tables.setdefault(self._table, [])
        elif tag == "tr":
            self.tables[self._table].append([])
            self._group = attributes.get("class") == "group"
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._heading = None
        elif tag == "table":
            self._table = ""
        elif tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell)
            self.tables[self._table][-1].append(text)
            if self._group:
                self.groups.setdefault(self._table, []).append(text)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._heading is not None:
            self.headings[self._heading] += data
        elif self._table and data.strip():
            self.stray.append(data)


def page(rows: list[RowResult]) -> Tables:
    text = html_report(
        title="Run 7",
        canvas_url="https://school.instructure.com",
        facts=[("run", "7")],
        totals={o.value: n for o, n in Counter(r.outcome for r in rows).items()},
        results=rows,
    )
    parsed = Tables()
    parsed.feed(text)
    return parsed


def test_each_outcome_has_its_own_advice_and_its_real_count() -> None:
    """The "What to do next" table: one line per outcome, in order, with the number of this
    run's rows of that outcome and that outcome's own advice (backquotes shown as code)."""
    rows = results()
    assert sorted(set(COUNTS.values())) == [0, 1, 2, 3]
    parsed = page(rows)
    assert parsed.headings["next"] == "What to do next"
    assert parsed.stray == []
    advice = parsed.tables["advice"]
    assert advice[0] == ["outcome", "rows here", "what to do"]
    assert advice[1:] == [
        [o.value, str(COUNTS[o]), WHAT_TO_DO[o].replace("`", "")] for o in Outcome
    ]


def test_the_counts_follow_the_rows_given() -> None:
    """Another run, other counts: the table counts the rows it is given, not a fixed list."""
    rows = [
        RowResult(2, "S1", "a@home.test", Outcome.FAILED),
        RowResult(3, "S2", "b@home.test", Outcome.FAILED),
        RowResult(4, "S3", "c@home.test", Outcome.PAIRED),
    ]
    counts = {line[0]: line[1] for line in page(rows).tables["advice"][1:]}
    assert counts["failed"] == "2" and counts["paired"] == "1"
    assert {value for name, value in counts.items() if name not in ("failed", "paired")} == {"0"}


def test_each_group_of_rows_says_how_many_it_holds() -> None:
    """ "Needs attention (N)" and "Everything else (N)" count the rows listed under them, and
    the removals' group counts the removals."""
    rows = results()
    parsed = page(rows)
    on_roster = [r for r in rows if r.line > 0 or r.outcome is Outcome.REMOVAL_PENDING]
    attention = sum(1 for r in on_roster if not r.outcome.is_success)
    others = len(on_roster) - attention
    removals = sum(1 for r in rows if r.line == 0 and r.outcome is not Outcome.REMOVAL_PENDING)
    assert attention and others and removals
    assert parsed.groups["row-table"] == [
        f"Needs attention ({attention})",
        f"Everything else ({others})",
    ]
    assert parsed.groups["removal-table"] == [
        f"Links removed, or a real run would remove ({removals})"
    ]
    listed = [row for row in parsed.tables["row-table"] if len(row) == 7]
    assert len(listed) == attention + others + 1  # and the column heads
