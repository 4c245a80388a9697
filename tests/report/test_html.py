"""The HTML report: one self-contained, escaped page (summary, rows, removals, what to do), and
the per-outcome advice that docs/cli.md repeats word for word."""

from __future__ import annotations

import html
import re
import stat
from html.parser import HTMLParser
from pathlib import Path

import pytest

from canvas_observers.core.outcomes import Outcome, RowResult
from canvas_observers.core.timezone import FROM_CANVAS, chosen
from canvas_observers.report import RunInfo, write_report
from canvas_observers.report.advice import WHAT_TO_DO
from canvas_observers.report.pages import sha256
from canvas_observers.report.words import OUTCOME_WORDS
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
    assert "<i>Sol</i>" in parsed.text and "Bob <Ng>" in parsed.text
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
    """The internals hold the run's facts; rows needing attention come first, the others in
    their own (folded) table after them; removals have their own section; Canvas ids link to
    the user pages."""
    text, parsed = page(tmp_path)
    words = "".join(parsed.text)
    for fact in ("stopped because", "Canvas refused the token <401>", "6 read, 1 rejected"):
        assert fact in words
    assert "whole, by one provisioning report" in words
    assert "15 (get_user 12, pair_code 3)" in words
    assert [r["data-outcome"] for r in parsed.rows["row-table"]] == [
        "student_not_found",
        "failed",
    ]
    assert [r["data-outcome"] for r in parsed.rows["done-table"]] == ["created", "already_paired"]
    assert text.index('id="row-table"') < text.index('id="done-table"')
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
    """WHAT_TO_DO covers every outcome, and the page's table of every outcome holds it."""
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


NAMED = [
    RowResult(
        2, "S1", "jane@example.org", Outcome.CREATED, "", 101, 201, "Ada Lovelace", "Jane Lovelace"
    ),
    RowResult(3, "S2", "bob@example.org", Outcome.STUDENT_NOT_FOUND, "no exact match for 'S2'"),
    RowResult(4, "S3", "kim@example.org", Outcome.STUDENT_NOT_FOUND, "no exact match for 'S3'"),
    RowResult(5, "S5", "lee@example.org", Outcome.NOT_ENROLLED, "", 105, 205, "Lee Park", ""),
]


def named_page(tmp_path: Path, zone: str = "America/Chicago") -> str:
    path = tmp_path / "named.html"
    write_report(path, INFO, NAMED, time_zone=chosen(zone, FROM_CANVAS))
    return path.read_text(encoding="utf-8")


def test_the_page_opens_with_a_sentence_and_local_time(tmp_path: Path) -> None:
    """The first paragraph is the run in a sentence; times are in the zone given, said so; the
    run's UTC timestamps, run id and API calls are only in the folded internals."""
    text = named_page(tmp_path)
    lead = re.search(r'<p class="lead" id="lead">(.*?)</p>', text)
    assert lead is not None
    assert lead.group(1) == (
        "1 parent was given a Canvas account; 2 rows need your attention; "
        "1 student is not enrolled yet."
    )
    # 02:00 UTC on 1 September is 9 PM the evening before in Chicago (CDT, UTC-5).
    assert "Saturday 31 August 2024, 9:00 PM CDT" in text
    assert "took 1 minute 30 seconds" in text
    assert "Times are America/Chicago, from Canvas." in text
    internals = text.split('<details id="internals">', 1)[1]
    assert "2024-09-01T02:00:00+00:00" in internals
    assert "2024-09-01T02:00:00" not in text.split('<details id="internals">', 1)[0]
    assert "15 (get_user 12, pair_code 3)" in internals
    assert '<details id="internals" open' not in text


def test_rows_name_the_student_and_the_guardian(tmp_path: Path) -> None:
    """A row with names shows them above the ids and the Canvas links; one without (an old
    journal, a student not found) shows its ids alone, as the row's name."""
    text = named_page(tmp_path)
    assert '<span class="name">Ada Lovelace</span><span class="sub">S1</span>' in text
    assert (
        '<span class="name">Jane Lovelace</span><span class="sub">jane@example.org</span>' in text
    )
    assert 'href="https://school.instructure.com/users/101"' in text
    assert (
        '<span class="name">S2</span>' in text
        and '<span class="name">bob@example.org</span>' in text
    )
    assert '<span class="name">lee@example.org</span>' in text  # no guardian name for S5


def heads(text: str, table: str) -> list[tuple[str, str]]:
    """The group heads (words, count) of the table ``table`` of a page."""
    part = text.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<span class="head">(.*?): <span class="count">(.*?)</span>', part)


def test_attention_groups_by_outcome_with_advice_once(tmp_path: Path) -> None:
    """Each outcome needing attention is one group, in words with its code name small beside,
    its row count, and what to do said once at its head; the rows the run's --fail-on does not
    count (not enrolled) are a part of their own after them, "Waiting or for your
    information", with their own what to do once."""
    text = named_page(tmp_path)
    attention = text.split('id="row-table"', 1)[1].split("</table>", 1)[0]
    assert heads(text, "row-table") == [("Student not found", "2 rows")]
    assert heads(text, "waiting-table") == [("Student not enrolled yet", "1 row")]
    assert '<h3 id="attention">Needs your attention (2)</h3>' in text
    assert '<h3 id="waiting">Waiting or for your information (1)</h3>' in text
    assert text.index('id="row-table"') < text.index('id="waiting-table"')
    assert text.index('id="waiting-table"') < text.index('id="done-table"')
    words = html.unescape(re.sub(r"<[^>]+>", "", text.split('id="internals"', 1)[0]))
    for outcome in (Outcome.STUDENT_NOT_FOUND, Outcome.NOT_ENROLLED):
        # Once in its group, once in the folded table of every outcome.
        assert words.count(WHAT_TO_DO[outcome].replace("`", "")) == 2
    assert "<code>@</code>" in attention  # backquoted words shown as code
    assert '<code class="code"' in attention and ">student_not_found</code>" in attention


def test_the_runs_fail_on_decides_what_needs_attention(tmp_path: Path) -> None:
    """A run whose --fail-on counts not_enrolled lists it under attention (after the rows a
    person must fix, as it fixes itself), and says so in the sentence; one that counts only
    `failed` leaves student_not_found waiting."""
    path = tmp_path / "wide.html"
    wide = {Outcome.STUDENT_NOT_FOUND, Outcome.NOT_ENROLLED}
    write_report(path, INFO, NAMED, fail_on=wide)
    text = path.read_text(encoding="utf-8")
    assert heads(text, "row-table") == [
        ("Student not found", "2 rows"),
        ("Student not enrolled yet", "1 row"),
    ]
    assert 'id="waiting"' not in text
    assert "3 rows need your attention, 1 of them will fix itself" in text
    write_report(path, INFO, NAMED, fail_on={Outcome.FAILED})
    text = path.read_text(encoding="utf-8")
    assert 'id="row-table"' not in text and "No row needs your attention." in text
    assert heads(text, "waiting-table") == [
        ("Student not found", "2 rows"),
        ("Student not enrolled yet", "1 row"),
    ]
    assert 'class="waiting"' in text and 'class="attention"' not in text


def test_a_guardian_without_email_is_named_with_no_email(tmp_path: Path) -> None:
    """A no_email row names the guardian, says "no email" where the email would be, and waits
    with its own what to do; the sentence says it apart from the rows needing attention."""
    path = tmp_path / "no-email.html"
    rows = [
        *NAMED,
        RowResult(6, "S6", "", Outcome.NO_EMAIL, "no email", 106, None, "Mo Diaz", "Rita Diaz"),
    ]
    write_report(path, INFO, rows)
    text = path.read_text(encoding="utf-8")
    assert '<span class="name">Rita Diaz</span><span class="sub">no email</span>' in text
    assert heads(text, "waiting-table") == [
        ("Student not enrolled yet", "1 row"),
        ("Guardian has no email in the SIS", "1 row"),
    ]
    assert (
        "2 rows need your attention; 1 student is not enrolled yet and 1 guardian has no email "
        "in the SIS." in text
    )


def test_the_chart_is_inline_svg_with_words_and_counts(tmp_path: Path) -> None:
    """The outcome chart is an SVG image with a title for screen readers and a text label and
    count per outcome (readable printed); the page still has one script and no external asset."""
    text = named_page(tmp_path)
    svg = text.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert 'role="img"' in svg
    assert '<title id="chart-title">4 rows by outcome: Student not found 2;' in svg
    for words, count in (("Student not found", 2), ("Account created and paired", 1)):
        assert f">{words}</text>" in svg
        assert re.search(rf'<text [^>]*font-weight="bold">{count}</text>', svg)


def test_the_policy_allows_exactly_the_inline_style_and_script(tmp_path: Path) -> None:
    """The CSP's hashes are those of the page's own <style> and <script> text, and nothing else
    is allowed: any other (injected) script or style would be refused by the browser."""
    text = named_page(tmp_path)
    style = text.split("<style>", 1)[1].split("</style>", 1)[0]
    script = text.split("<script>", 1)[1].split("</script>", 1)[0]
    csp = html.unescape(re.search(r'Content-Security-Policy" content="([^"]+)"', text)[1])  # type: ignore[index]
    assert csp == (
        "default-src 'none'; "
        f"style-src 'sha256-{sha256(style)}'; script-src 'sha256-{sha256(script)}'; "
        "base-uri 'none'; form-action 'none'"
    )
    assert "style=" not in text.split("</style>", 1)[1]  # no style attribute: CSP would refuse it


def test_outcome_filter_names_outcomes_in_words_and_keeps_the_code_value(tmp_path: Path) -> None:
    """The menu shows words; its values stay the code names that #outcome= and docs use."""
    text = named_page(tmp_path)
    assert '<option value="student_not_found">Student not found</option>' in text
    assert '<option value="attention">needing your attention</option>' in text
    assert '<option value="waiting">waiting or for your information</option>' in text


def test_a_dry_run_says_would(tmp_path: Path) -> None:
    """A dry run's sentence and heading say what would happen."""
    path = tmp_path / "dry.html"
    rows = [RowResult(2, "S1", "a@example.org", Outcome.WOULD_PAIR, "", 1, 2)]
    info = RunInfo(**{**INFO.as_json(), "dry_run": True, "state": "complete"})  # type: ignore[arg-type]
    write_report(path, info, rows)
    text = path.read_text(encoding="utf-8")
    assert (
        "1 parent would be paired with their existing account; no row needs your attention." in text
    )
    assert "<h1>Dry run (nothing written) of " in text
    assert "Times are UTC" in text  # no zone given


# Each outcome's tone: the class that colours its group's head and its bar in the chart. Red
# for what a person must fix, amber for what fixes itself (a student not enrolled yet, a
# guardian the SIS has no email for), green for done, grey for removals, done or pending.
TONES = {
    Outcome.CREATED: "done",
    Outcome.PAIRED: "done",
    Outcome.ALREADY_PAIRED: "done",
    Outcome.STUDENT_NOT_FOUND: "attention",
    Outcome.STUDENT_AMBIGUOUS: "attention",
    Outcome.OBSERVER_AMBIGUOUS: "attention",
    Outcome.OBSERVER_MISMATCH: "attention",
    Outcome.NOT_ENROLLED: "waiting",
    Outcome.INVALID_ROW: "attention",
    Outcome.NO_EMAIL: "waiting",
    Outcome.CONFLICT: "attention",
    Outcome.GUARDIAN_EMAIL_CHANGED: "attention",
    Outcome.GUARDIAN_UPDATED: "done",
    Outcome.GUARDIAN_ACCOUNT_DELETED: "attention",
    Outcome.FAILED: "attention",
    Outcome.NOT_PROCESSED: "waiting",
    Outcome.WOULD_CREATE: "done",
    Outcome.WOULD_PAIR: "done",
    Outcome.EXCLUDED: "done",
    Outcome.NOT_ELIGIBLE: "done",
    Outcome.REMOVED: "neutral",
    Outcome.WOULD_REMOVE: "neutral",
    Outcome.REMOVAL_PENDING: "neutral",
}
EVERY_OUTCOME = [
    RowResult(
        0 if o in (Outcome.REMOVED, Outcome.WOULD_REMOVE, Outcome.REMOVAL_PENDING) else n + 2,
        f"S{n}",
        f"g{n}@example.org",
        o,
    )
    for n, o in enumerate(Outcome)
]


def test_each_group_and_bar_has_its_outcomes_tone(tmp_path: Path) -> None:
    """A group's head and its bar in the chart carry their outcome's tone, the class that
    colours them: a person reads red as "fix this", amber as "fixes itself", green as done."""
    assert list(TONES) == list(Outcome)
    path = tmp_path / "every.html"
    write_report(path, INFO, EVERY_OUTCOME)
    text = path.read_text(encoding="utf-8")
    groups = dict(re.findall(r'<tbody data-group="([a-z_]+)">\s*<tr class="group ([a-z]+)">', text))
    assert groups == {o.value: tone for o, tone in TONES.items()}
    svg = text.split("<svg", 1)[1].split("</svg>", 1)[0]
    bars = re.findall(r'<g class="bar ([a-z]+)">\s*<text [^>]*>([^<]+)</text>', svg)
    shown = sorted((tone, html.unescape(words)) for tone, words in bars)
    assert shown == sorted((TONES[o], words) for o, words in OUTCOME_WORDS.items())


def test_the_filter_offers_the_outcomes_of_the_page(tmp_path: Path) -> None:
    """The filter's menu lists the outcomes the page's rows have, in outcome order, and no
    other: choosing one must show rows."""
    _, parsed = page(tmp_path)
    options = [a["value"] for tag, a in parsed.tags if tag == "option"]
    assert options == [
        *("", "attention", "waiting", "created", "already_paired", "student_not_found"),
        *("failed", "removed"),
    ]
    path = tmp_path / "one.html"
    write_report(path, INFO, [RESULTS[0]])
    one = Page()
    one.feed(path.read_text(encoding="utf-8"))
    assert [a["value"] for tag, a in one.tags if tag == "option"] == [
        *("", "attention", "waiting", "created")
    ]


def test_the_title_kicker_and_zone_name_the_run(tmp_path: Path) -> None:
    """The browser tab names the run; the line above the heading names the Canvas it ran
    against; the folded internals say which time zone the times are in."""
    text = named_page(tmp_path)
    assert "<title>canvas-observers run 7</title>" in text
    assert '<p class="kicker">Canvas parent accounts · https://school.instructure.com</p>' in text
    internals = text.split('<details id="internals">', 1)[1]
    assert "<p>Times above are America/Chicago, from Canvas.</p>" in internals


def test_a_page_without_a_start_time_is_headed_by_its_title(tmp_path: Path) -> None:
    """A run with no start time known (an old journal) has no time to head the page with: the
    heading is the page's title."""
    text, _ = page(tmp_path, started_at="")
    assert "<h1>canvas-observers run 7</h1>" in text


def test_a_stopped_run_says_so_first_and_a_complete_one_does_not(tmp_path: Path) -> None:
    """A stopped run's page says, under its first sentence, that it stopped and why; a run that
    completed says nothing of a stop, even with a reason left over in its facts."""
    text, _ = page(tmp_path)
    assert (
        '<p class="banner" id="stopped"><strong>The run stopped before it finished:</strong> '
        "Canvas refused the token &lt;401&gt;. The next run picks up where it left off.</p>"
    ) in text
    done, _ = page(tmp_path, state="complete")
    assert 'id="stopped"' not in done and "The run stopped" not in done


def test_held_removals_are_said_at_the_top(tmp_path: Path) -> None:
    """Removals held by a safety stop are said at the top of the page, with why."""
    held = "the roster lists 40% fewer rows than the last whole run"
    text, _ = page(tmp_path, removals_held=held)
    assert f'<p class="banner held" id="held"><strong>Removals were held:</strong> {held}</p>' in (
        text
    )
    plain, _ = page(tmp_path)
    assert 'id="held"' not in plain
