"""The HTML report's numbers and advice, read back from the rendered page: each outcome's line
of "Every outcome and what to do about it" gives that outcome's own advice and its real row
count, each group of rows says how many rows it holds and gives its own outcome's advice, and
each part of the page (needing attention, waiting or for information, done, removals) counts
its rows, the attention part holding exactly the outcomes the run's --fail-on counted.

An admin acts on this page: advice shifted to the neighbouring outcome, or counts of 0 next to
rows that need a person, would send them to the wrong fix or to none.
"""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

import pytest

from canvas_observers.core.outcomes import DEFAULT_FAIL_ON, Outcome, RowResult
from canvas_observers.report.advice import WHAT_TO_DO
from canvas_observers.report.html import html_report
from canvas_observers.report.words import OUTCOME_WORDS

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
    """The text of every cell, row by row, of each table by id; the group heads' text by table
    (the head and the what-to-do, apart); the headings by id (a summary by its details' id);
    the code names in each cell; any text in a table outside its cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.groups: dict[str, list[str]] = {}
        self.todo: dict[str, list[str]] = {}
        self.headings: dict[str, str] = {}
        self.codes: dict[str, list[list[str]]] = {}
        self.stray: list[str] = []
        self._table = ""
        self._cell: list[str] | None = None
        self._group = False
        self._heading: str | None = None
        self._details = ""
        self._part = ""  # "head", "todo" or "code" inside a group head or a cell
        self._part_tag = ""  # the element that holds it, and how many of its name are open
        self._open = 0
        self._parts: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        css = attributes.get("class") or ""
        if tag in ("h2", "h3"):
            self._heading = attributes.get("id") or tag
            self.headings[self._heading] = ""
        elif tag == "details":
            self._details = attributes.get("id") or ""
        elif tag == "summary":  # a folded part's heading, by its details' id
            self._heading = self._details
            self.headings[self._heading] = ""
        elif self._part and tag == self._part_tag:
            self._open += 1
        elif self._cell is not None and not self._part and css in ("head", "todo", "code"):
            self._part, self._part_tag, self._open = css, tag, 1
            self._parts.setdefault(css, [])
        elif tag == "table":
            self._table = attributes.get("id") or ""
            self.tables.setdefault(self._table, [])
        elif tag == "tr":
            self.tables[self._table].append([])
            self.codes.setdefault(self._table, []).append([])
            self._group = css.split()[:1] == ["group"]
        elif tag in ("td", "th"):
            self._cell = []
            self._parts = {}

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h2", "h3", "summary"):
            self._heading = None
        elif self._part and tag == self._part_tag:
            self._open -= 1
            if not self._open:
                self._part = ""
        elif tag == "table":
            self._table = ""
        elif tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell)
            self.tables[self._table][-1].append(text)
            self.codes[self._table][-1].append("".join(self._parts.get("code", [])))
            if self._group:
                self.groups.setdefault(self._table, []).append("".join(self._parts["head"]))
                todo = "".join(self._parts["todo"]).removeprefix("What to do: ")
                self.todo.setdefault(self._table, []).append(todo)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
            if self._part:
                self._parts[self._part].append(data)
        elif self._heading is not None:
            self.headings[self._heading] += data
        elif self._table and data.strip():
            self.stray.append(data)


def page(rows: list[RowResult], fail_on: frozenset[Outcome] = DEFAULT_FAIL_ON) -> Tables:
    text = html_report(
        title="Run 7",
        canvas_url="https://school.instructure.com",
        facts=[("run", "7")],
        totals={o.value: n for o, n in Counter(r.outcome for r in rows).items()},
        results=rows,
        fail_on=fail_on,
    )
    parsed = Tables()
    parsed.feed(text)
    return parsed


def test_each_outcome_has_its_own_advice_and_its_real_count() -> None:
    """The table of every outcome: one line per outcome, in order, with its code name, the
    number of this run's rows of that outcome and that outcome's own advice (backquotes shown
    as code)."""
    rows = results()
    assert sorted(set(COUNTS.values())) == [0, 1, 2, 3]
    parsed = page(rows)
    assert parsed.headings["every-outcome"] == "Every outcome and what to do about it"
    assert parsed.stray == []
    advice = parsed.tables["advice"]
    assert advice[0] == ["outcome", "rows here", "what to do"]
    assert [
        [code[0], *line[1:]]
        for code, line in zip(parsed.codes["advice"][1:], advice[1:], strict=True)
    ] == [[o.value, str(COUNTS[o]), WHAT_TO_DO[o].replace("`", "")] for o in Outcome]
    assert [line[0] for line in advice[1:]] == [f"{OUTCOME_WORDS[o]} {o.value}" for o in Outcome]


def test_the_counts_follow_the_rows_given() -> None:
    """Another run, other counts: the table counts the rows it is given, not a fixed list."""
    rows = [
        RowResult(2, "S1", "a@home.test", Outcome.FAILED),
        RowResult(3, "S2", "b@home.test", Outcome.FAILED),
        RowResult(4, "S3", "c@home.test", Outcome.PAIRED),
    ]
    parsed = page(rows)
    counts = {
        code[0]: line[1]
        for code, line in zip(parsed.codes["advice"][1:], parsed.tables["advice"][1:], strict=True)
    }
    assert counts["failed"] == "2" and counts["paired"] == "1"
    assert {value for name, value in counts.items() if name not in ("failed", "paired")} == {"0"}


@pytest.mark.parametrize(
    "fail_on",
    [
        DEFAULT_FAIL_ON,
        DEFAULT_FAIL_ON | {Outcome.NOT_ENROLLED},
        frozenset({Outcome.FAILED, Outcome.NO_EMAIL}),
    ],
)
def test_each_group_of_rows_says_how_many_it_holds_and_what_to_do(
    fail_on: frozenset[Outcome],
) -> None:
    """Each outcome's group of rows says how many rows it lists and gives that outcome's own
    advice; "Needs your attention (N)" counts the rows whose outcome the run's --fail-on
    counted, "Waiting or for your information (N)" the other rows that are no success, "Done:
    N rows" the rest, and the removals' groups count the removals."""
    rows = results()
    parsed = page(rows, fail_on)
    on_roster = [r for r in rows if r.line > 0 or r.outcome is Outcome.REMOVAL_PENDING]
    attention = [r for r in on_roster if r.outcome in fail_on]
    waiting = [r for r in on_roster if not r.outcome.is_success and r.outcome not in fail_on]
    others = [r for r in on_roster if r.outcome.is_success]
    removals = [r for r in rows if r.line == 0 and r.outcome is not Outcome.REMOVAL_PENDING]
    assert attention and waiting and others and removals
    assert parsed.headings["attention"] == f"Needs your attention ({len(attention)})"
    assert parsed.headings["waiting"] == f"Waiting or for your information ({len(waiting)})"
    assert parsed.headings["done"] == f"Done: {len(others)} rows"
    for table, listed in (
        ("row-table", attention),
        ("waiting-table", waiting),
        ("done-table", others),
        ("removal-table", removals),
    ):
        counted = Counter(r.outcome for r in listed)
        expected = [
            f"{OUTCOME_WORDS[o]}: {n} {'row' if n == 1 else 'rows'}" for o, n in counted.items()
        ]
        assert sorted(parsed.groups[table]) == sorted(expected), table
        heads = {
            head.split(":")[0]: todo
            for head, todo in zip(parsed.groups[table], parsed.todo[table], strict=True)
        }
        assert heads == {OUTCOME_WORDS[o]: WHAT_TO_DO[o].replace("`", "") for o in counted}
        listed_rows = [row for row in parsed.tables[table] if len(row) == 4]
        assert len(listed_rows) == len(listed) + 1  # and the column heads
