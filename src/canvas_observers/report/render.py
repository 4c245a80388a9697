"""Report renderers: the terminal summary (rich tables on a terminal, plain lines in a pipe or
cron's mail: ``tables.py``) and the JSON / CSV / HTML report files.

Report files are written with ``core.files.write_private`` (owner-only, atomic) and CSV cells
go through ``core.files.csv_safe`` (the spreadsheet-formula guard). A CSV report starts with a
byte-order mark: Excel reads a CSV without one as the local ANSI code page and garbles
non-Latin names; JSON must not start with one (RFC 8259 section 8.1).
The HTML page is built in ``html.py`` and written here like the others.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path

from rich.console import Console
from rich.text import Text

from canvas_observers.core.files import csv_safe, write_private
from canvas_observers.core.outcomes import DEFAULT_FAIL_ON, Outcome, RowResult
from canvas_observers.core.timezone import TimeZoneChoice
from canvas_observers.report.html import Facts, RunFacts, html_report, info_facts, info_run_facts
from canvas_observers.report.summary import RunInfo, needs_attention, totals
from canvas_observers.report.tables import Column, Listing, print_listing
from canvas_observers.report.words import lead_sentence
from canvas_observers.roster.model import RemovalCandidate

ROW_FIELDS = (
    "line",
    "student_id",
    "observer_email",
    "outcome",
    "detail",
    "canvas_student_id",
    "canvas_observer_id",
    "student_name",
    "guardian_name",
)
_FORMATS = {".json": "json", ".csv": "csv", ".html": "html", ".htm": "html"}
REPORT_SUFFIXES = frozenset(_FORMATS)
"""The names a report may end in; the extension picks the format."""
REMOVAL_CANDIDATE = "removal_candidate"
"""The ``outcome`` of the CSV report's rows that list the SIS's removal candidates."""


def write_report(
    path: Path,
    info: RunInfo,
    results: Sequence[RowResult],
    *,
    removal_candidates: Sequence[RemovalCandidate] = (),
    time_zone: TimeZoneChoice | None = None,
    fail_on: Collection[Outcome] = DEFAULT_FAIL_ON,
) -> None:
    """Write the report as JSON, CSV or HTML, chosen by ``path``'s extension; ValueError
    otherwise. ``time_zone``: the zone of the HTML page's times (the JSON and CSV reports
    keep UTC timestamps); ``fail_on``: the run's ``--fail-on``, what the page counts as
    needing attention.

    Removal candidates (links the SIS marks as ending) are the JSON report's
    ``removal_candidates``, the CSV report's last rows (outcome ``removal_candidate``, the
    reason as detail) and the HTML report's "Removals" section.
    """
    kind = _FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ValueError(
            f"cannot write a report to {str(path)!r}: the name must end in .json, .csv or .html"
        )
    if kind == "html":
        counts = totals(results)
        write_html_report(
            path,
            title=f"canvas-observers {'dry run' if info.dry_run else 'run'} {info.run_id or ''}",
            canvas_url=info.canvas_url,
            facts=info_facts(info),
            totals=counts,
            results=results,
            removal_candidates=removal_candidates,
            run=info_run_facts(info),
            time_zone=time_zone,
            fail_on=fail_on,
        )
        return
    text = (
        _json_text(info, results, removal_candidates)
        if kind == "json"
        else _csv_text(results, removal_candidates)
    )
    write_report_text(path, text)


def write_report_text(path: Path, text: str | Iterable[str]) -> None:
    """Write a report file owner-only and atomically; a ``.csv`` with a byte-order mark."""
    write_private(path, text, encoding="utf-8-sig" if path.suffix.lower() == ".csv" else "utf-8")


def write_html_report(
    path: Path,
    *,
    title: str,
    canvas_url: str,
    facts: Facts,
    totals: dict[str, int],
    results: Sequence[RowResult],
    removal_candidates: Sequence[RemovalCandidate] = (),
    run: RunFacts | None = None,
    time_zone: TimeZoneChoice | None = None,
    fail_on: Collection[Outcome] = DEFAULT_FAIL_ON,
) -> None:
    """Write the self-contained HTML page (``html.py``) atomically, owner-only, as any report."""
    page = html_report(
        title=title.strip(),
        canvas_url=canvas_url,
        facts=facts,
        totals=totals,
        results=results,
        removal_candidates=removal_candidates,
        run=run,
        zone=time_zone,
        fail_on=fail_on,
    )
    write_private(path, page)


def report_json(
    info: RunInfo,
    results: Sequence[RowResult],
    removal_candidates: Sequence[RemovalCandidate] = (),
) -> dict[str, object]:
    """The JSON report as a dict: ``{"run": {...info, "totals": {...}}, "rows": [...]}``,
    plus ``"removal_candidates"`` when the SIS marked links as ending."""
    run = info.as_json()
    run["totals"] = totals(results)
    data: dict[str, object] = {"run": run, "rows": [r.as_json() for r in results]}
    if removal_candidates:
        data["removal_candidates"] = [
            {
                "student_id": c.student_id,
                "observer_email": c.observer_email,
                "reason": c.reason,
                "source": c.source,
                "line": c.line,
            }
            for c in removal_candidates
        ]
    return data


def printable(value: str) -> str:
    """Text from the roster or Canvas made safe for a terminal or a log line: a character that
    does not print (an escape, a control or an invisible format character) is shown escaped,
    as Python writes it (``\x1b``), so a name can never move the cursor or recolour the screen.
    """
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in value)


def shown(value: str, style: str = "") -> Text:
    """``printable`` text as rich ``Text``: never read as markup (``[bold]`` prints as is)."""
    return Text(printable(value), style=style)


def render_summary(
    console: Console,
    info: RunInfo,
    results: Sequence[RowResult],
    *,
    max_attention_rows: int = 20,
    fail_on: Collection[Outcome] = DEFAULT_FAIL_ON,
) -> None:
    """Print the run summary: the run in a sentence (``words.lead_sentence``, the HTML page's
    first one, counting ``fail_on`` as needing attention), totals by outcome, API calls by
    kind, and rows needing a human (``render_attention``).

    Every value that comes from the roster or Canvas goes in as ``Text``, so ``[bold]`` in an
    email prints literally instead of being read as rich markup; the people's names and the
    details go through ``printable`` (a Canvas name may hold a terminal escape).
    """
    title = Text("Dry run (nothing written)" if info.dry_run else "Sync summary")
    if info.state != "complete":
        title.append(f" ({info.state})", style="bold red")
    console.print(title, style="bold")
    console.print(Text(lead_sentence(totals(results), dry_run=info.dry_run, fail_on=fail_on)))
    counts = Listing(
        None,
        (Column("outcome"), Column("rows", justify="right", wrap=False)),
        labelled=False,
        footer=("total", str(len(results))),
    )
    for outcome, count in totals(results).items():
        if count:
            counts.add_row(outcome, str(count))
    print_listing(console, counts)
    console.print(
        Text.assemble(
            ("Roster ", "dim"),
            info.roster,
            f": {info.rows_read} rows read, {info.rows_rejected} rejected, "
            f"{info.duplicates} duplicates collapsed",
        )
    )
    console.print(
        Text.assemble(
            ("Canvas ", "dim"),
            info.canvas_url,
            f": pairing {info.pairing}, {info.duration_s:.1f} s",
        )
    )

    calls = Listing(
        "API calls",
        (Column("kind"), Column("calls", justify="right", wrap=False)),
        caption=f"throttled answers: {info.throttled} · retries: {info.retries}",
        labelled=False,
        footer=("total", str(sum(info.api_calls.values()))),
    )
    for kind, count in sorted(info.api_calls.items()):
        calls.add_row(kind, str(count))
    print_listing(console, calls)

    pending = [r for r in results if r.outcome is Outcome.REMOVAL_PENDING]
    for r in pending[:max_attention_rows]:
        console.print(Text(f"Removal pending: {r.detail}"))
    render_attention(console, info, results, max_attention_rows=max_attention_rows, fail_on=fail_on)


def render_attention(
    console: Console,
    info: RunInfo,
    results: Sequence[RowResult],
    *,
    max_attention_rows: int = 20,
    fail_on: Collection[Outcome] = DEFAULT_FAIL_ON,
) -> None:
    """The part of the summary a person must act on: held removals, the rows whose outcome is
    in ``fail_on`` (the run's ``--fail-on``), and how many rows a stop left unprocessed. All
    that ``--quiet`` prints of the summary, when a run needs a person."""
    if info.removals_held:
        console.print(Text(f"Removals held: {info.removals_held}", style="bold yellow"))
    not_reached = sum(r.outcome is Outcome.NOT_PROCESSED for r in results)
    if not_reached:
        console.print(
            Text(
                f"{not_reached} rows were not processed: the run stopped before reaching them; "
                "the next run takes them.",
                style="yellow",
            )
        )
    attention = needs_attention(results, fail_on)
    if not attention:
        if not info.removals_held and not info.stop_reason:
            console.print(Text("No rows need attention.", style="green"))
        return
    table = Listing(
        f"Rows that need attention ({len(attention)})",
        (
            Column("line", justify="right", wrap=False),
            Column("student"),
            Column("guardian"),
            Column("outcome"),
            Column("detail"),
        ),
    )
    for r in attention[:max_attention_rows]:
        table.add_row(
            str(r.line),
            shown(r.student_label),
            shown(r.guardian_label),
            r.outcome.value,
            shown(r.detail),
        )
    print_listing(console, table)
    hidden = len(attention) - max_attention_rows
    if hidden > 0:
        console.print(Text(f"… and {hidden} more, see the report"))


def _json_text(
    info: RunInfo, results: Sequence[RowResult], removal_candidates: Sequence[RemovalCandidate]
) -> Iterator[str]:
    """``report_json`` as JSON text, in pieces: a row at a time, so a 100,000-row report is
    never one string in memory (the document is the same)."""
    run = info.as_json()
    run["totals"] = totals(results)
    run_text = json.dumps(run, ensure_ascii=False, indent=2).replace("\n", "\n  ")
    yield '{\n  "run": ' + run_text + ',\n  "rows": ['
    for index, result in enumerate(results):
        row = json.dumps(result.as_json(), ensure_ascii=False)
        yield ("," if index else "") + "\n    " + row
    yield "\n  ]" if results else "]"
    rest = report_json(info, (), removal_candidates)
    if "removal_candidates" in rest:
        listed = json.dumps(rest["removal_candidates"], ensure_ascii=False, indent=2)
        yield ',\n  "removal_candidates": ' + listed.replace("\n", "\n  ")
    yield "\n}\n"


def _csv_text(
    results: Sequence[RowResult], candidates: Sequence[RemovalCandidate]
) -> Iterator[str]:
    """The CSV report in pieces of about a thousand rows (never one string in memory)."""
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: CRLF line ends, quotes where needed
    writer.writerow(ROW_FIELDS)
    cells: Iterator[list[object]] = (list(r.as_json().values()) for r in results)
    more: Iterator[list[object]] = (
        [c.line, c.student_id, c.observer_email, REMOVAL_CANDIDATE, c.reason, None, None, "", ""]
        for c in candidates
    )
    for count, row in enumerate(itertools.chain(cells, more), start=1):
        writer.writerow(
            [csv_safe(v) if isinstance(v, str) else "" if v is None else v for v in row]
        )
        if count % 1000 == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()
