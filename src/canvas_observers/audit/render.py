"""The coverage audit's renderers: a terminal summary (``report/tables.py``: tables on a
terminal, plain lines in a pipe) and the JSON / CSV / HTML report.

The files are written as the sync's report is (``render.write_report_text``: owner-only, atomic),
and CSV cells go through the same formula guard (``core.files.csv_safe``). The JSON report holds
every section as a list, the CSV one row per finding (the per-student listing is JSON only).
The HTML page (``report/templates/audit.html.j2``, built like the run report's) opens with the
coverage in a sentence and a chart (students observed, with an SIS guardian but no observer,
with neither), then each section's list with the people's names, in the district's time.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console
from rich.text import Text

from canvas_observers.audit.findings import FINDING_FIELDS, SECTIONS, Audit
from canvas_observers.core.files import csv_safe
from canvas_observers.core.timezone import TimeZoneChoice
from canvas_observers.report.html import UTC_CHOICE, user_link
from canvas_observers.report.pages import render_page
from canvas_observers.report.render import write_report_text
from canvas_observers.report.tables import Column, Listing, print_listing
from canvas_observers.report.words import coverage_sentence, local_time, plural

TITLES = {
    "students_not_found": "Roster students not found in Canvas",
    "unobserved_with_guardian": "Students nobody observes, with a guardian in the SIS",
    "unobserved_without_guardian": "Students nobody observes, with no guardian in the SIS",
    "guardians_without_email": "Guardians the SIS has no email for",
    "unlisted_observers": "Observers the SIS does not list for the student",
    "idle_accounts": "Accounts this tool created that observe nobody",
    "managed_logins": "Observer logins whose password Canvas manages (single sign-on only)",
    "lost_observer_enrollments": "Links that show the parent nothing of a course (observer "
    "enrollment missing)",
    "duplicate_accounts": "Accounts that look like one parent (merge by hand, if they are)",
    "staff_observers": "Staff who observe students",
}

# The columns each section's terminal table shows (the others are always empty there).
COLUMNS = {
    "students_not_found": ("student_id", "observer", "detail"),
    "unobserved_with_guardian": ("student_id", "canvas_student_id", "observer", "detail"),
    "unobserved_without_guardian": ("student_id", "canvas_student_id", "detail"),
    "guardians_without_email": ("student_id", "canvas_student_id", "detail"),
    "unlisted_observers": FINDING_FIELDS[1:],  # every field but the kind
    "idle_accounts": ("observer", "canvas_observer_id", "detail"),
    "managed_logins": ("observer", "canvas_observer_id", "detail"),
    "lost_observer_enrollments": (
        "student_id",
        "observer",
        "course",
        "canvas_course_id",
        "made_by",
        "detail",
    ),
    "duplicate_accounts": (
        "observer",
        "canvas_observer_id",
        "other_account",
        "canvas_other_account_id",
        "detail",
    ),
    "staff_observers": ("observer", "canvas_observer_id", "detail"),
}
# What the observer column holds, by section (the rest: the SIS's guardian emails).
ACCOUNT_HEADINGS = {
    "unlisted_observers": "observer",
    "idle_accounts": "account",
    "managed_logins": "account",
    "duplicate_accounts": "account (the SIS's, if one)",
    "staff_observers": "staff account",
    "lost_observer_enrollments": "observer",
    "guardians_without_email": "guardian",
}
HEADINGS = {
    "student_id": "student",
    "canvas_student_id": "Canvas id",
    "observer": "observer",
    "canvas_observer_id": "its Canvas id",
    "made_by": "link made by",
    "detail": "what it means",
    "course": "course",
    "canvas_course_id": "course's Canvas id",
    "other_account": "other account",
    "canvas_other_account_id": "its Canvas id",
}


def audit_json(audit: Audit, about: Mapping[str, object]) -> dict[str, object]:
    """``{"audit": {...about, "totals": {...}}, "students": [...], <section>: [...], ...}``."""
    data: dict[str, object] = {
        "audit": {**about, "totals": audit.totals},
        "students": [s.as_json() for s in audit.students],
    }
    for name, _kind in SECTIONS:
        data[name] = [f.as_json() for f in audit.section(name)]
    return data


def audit_csv(audit: Audit) -> str:
    """One row per finding, columns ``FINDING_FIELDS``, formula-guarded."""
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180, as the sync's report
    writer.writerow(FINDING_FIELDS)
    for finding in audit.findings():
        writer.writerow(
            "" if v is None else csv_safe(v) if isinstance(v, str) else v
            for v in finding.as_json().values()
        )
    return out.getvalue()


AUDIT_SUFFIXES = frozenset({".json", ".csv", ".html", ".htm"})
"""The names an audit report may end in; the extension picks the format."""

_INTERNALS = (
    ("generated_at", "made at (UTC)"),
    ("canvas_url", "Canvas"),
    ("roster", "roster"),
    ("journal", "journal read"),
    ("rows_rejected", "roster rows rejected"),
)


def audit_html(
    audit: Audit, about: Mapping[str, object], time_zone: TimeZoneChoice | None = None
) -> str:
    """The audit as one self-contained page (no script: nothing on it moves)."""
    zone = time_zone or UTC_CHOICE
    totals = audit.totals
    students, observed = totals.get("students", 0), totals.get("students_observed", 0)
    with_guardian = totals["unobserved_with_guardian"]
    without = totals["unobserved_without_guardian"]
    bars = [
        ("Observed by a parent", observed, "done"),
        ("A guardian in the SIS, no observer", with_guardian, "attention"),
        ("No guardian in the SIS, no observer", without, "waiting"),
    ]
    generated = str(about.get("generated_at", ""))
    canvas_url = str(about.get("canvas_url", ""))
    when = f"Made {local_time(generated, zone.zone)}. " if generated else ""
    roster = str(about.get("roster", ""))
    when += f"Roster: {roster}. " if roster else ""
    when += f"Times are {zone.stated}."
    sections = [
        {
            "name": name,
            "title": TITLES[name],
            "findings": audit.section(name),
            "observer_heading": ACCOUNT_HEADINGS.get(name, "SIS guardians").capitalize(),
            "no_email": name == "guardians_without_email",
        }
        for name, _kind in SECTIONS
        if audit.section(name)
    ]
    facts = [(label, str(about[key])) for key, label in _INTERNALS if str(about.get(key, ""))]
    facts += [(name.replace("_", " "), str(count)) for name, count in totals.items()]
    return render_page(
        "audit.html.j2",
        title="canvas-observers coverage audit",
        heading=f"Coverage audit of {local_time(generated, zone.zone)}"
        if generated
        else "Coverage audit",
        canvas_url=canvas_url,
        sentence=coverage_sentence(students, observed, with_guardian, without),
        when=when,
        bars=bars,
        chart_label=f"{plural(students, 'student')}: "
        + "; ".join(f"{words} {count}" for words, count, _ in bars),
        sections=sections,
        user_url=user_link(canvas_url),
        zone=zone.stated,
        facts=facts,
    )


def write_audit(
    path: Path,
    audit: Audit,
    about: Mapping[str, object],
    *,
    time_zone: TimeZoneChoice | None = None,
) -> None:
    """Write the audit as JSON, CSV or HTML, by ``path``'s extension; ValueError for another."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = json.dumps(audit_json(audit, about), ensure_ascii=False, indent=2) + "\n"
    elif suffix == ".csv":
        text = audit_csv(audit)
    elif suffix in (".html", ".htm"):
        text = audit_html(audit, about, time_zone)
    else:
        raise ValueError(
            f"cannot write a report to {str(path)!r}: the name must end in .json, .csv or .html"
        )
    write_report_text(path, text)


def render_audit(
    console: Console, audit: Audit, about: Mapping[str, str], *, max_rows: int = 10
) -> None:
    """Print the totals and the first ``max_rows`` findings of each section that has any.

    Values from the roster or Canvas go in as ``Text``, never read as rich markup.
    """
    console.print(Text("Coverage audit (nothing written to Canvas)"), style="bold")
    console.print(
        Text.assemble(
            ("Roster ", "dim"),
            about.get("roster", ""),
            ("  Canvas ", "dim"),
            about.get("canvas_url", ""),
        )
    )
    counts = Listing(
        "Totals", (Column("what"), Column("count", justify="right", wrap=False)), labelled=False
    )
    for name, count in audit.totals.items():
        counts.add_row(name, str(count), style="yellow" if name in TITLES and count else "")
    print_listing(console, counts)
    for name, _kind in SECTIONS:
        findings = audit.section(name)
        if not findings:
            continue
        columns = COLUMNS[name]
        headings = []
        for column in columns:
            heading = HEADINGS[column]
            if column == "observer":
                heading = ACCOUNT_HEADINGS.get(name, "SIS guardians")
            headings.append(Column(heading))
        table = Listing(Text(f"{TITLES[name]} ({len(findings)})"), headings)
        for finding in findings[:max_rows]:
            cells = finding.as_json()
            table.add_row(*("" if cells[c] is None else str(cells[c]) for c in columns))
        print_listing(console, table)
        hidden = len(findings) - max_rows
        if hidden > 0:
            console.print(Text(f"… and {hidden} more: see --report"))
    if not audit.findings():
        console.print(
            Text(
                "Nothing to look at: every student has an observer, each one the SIS lists.",
                "green",
            )
        )
