"""The coverage audit's renderers: a terminal summary (rich) and the JSON / CSV report.

The files are written as the sync's report is (``render.write_report_text``: owner-only, atomic),
and CSV cells go through the same formula guard (``core.files.csv_safe``). The JSON report holds
every section as a list, the CSV one row per finding (the per-student listing is JSON only).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from canvas_observers.audit.findings import FINDING_FIELDS, SECTIONS, Audit
from canvas_observers.core.files import csv_safe
from canvas_observers.report.render import write_report_text

TITLES = {
    "students_not_found": "Roster students not found in Canvas",
    "unobserved_with_guardian": "Students nobody observes, with a guardian in the SIS",
    "unobserved_without_guardian": "Students nobody observes, with no guardian in the SIS",
    "unlisted_observers": "Observers the SIS does not list for the student",
    "idle_accounts": "Accounts this tool created that observe nobody",
    "managed_logins": "Observer logins whose password Canvas manages (single sign-on only)",
}

# The columns each section's terminal table shows (the others are always empty there).
COLUMNS = {
    "students_not_found": ("student_id", "observer", "detail"),
    "unobserved_with_guardian": ("student_id", "canvas_student_id", "observer", "detail"),
    "unobserved_without_guardian": ("student_id", "canvas_student_id", "detail"),
    "unlisted_observers": FINDING_FIELDS[1:],  # every field but the kind
    "idle_accounts": ("observer", "canvas_observer_id", "detail"),
    "managed_logins": ("observer", "canvas_observer_id", "detail"),
}
HEADINGS = {
    "student_id": "student",
    "canvas_student_id": "Canvas id",
    "observer": "observer",
    "canvas_observer_id": "its Canvas id",
    "made_by": "link made by",
    "detail": "what it means",
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


def write_audit(path: Path, audit: Audit, about: Mapping[str, object]) -> None:
    """Write the audit as JSON or CSV, by ``path``'s extension; ValueError for another."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = json.dumps(audit_json(audit, about), ensure_ascii=False, indent=2) + "\n"
    elif suffix == ".csv":
        text = audit_csv(audit)
    else:
        raise ValueError(
            f"cannot write a report to {str(path)!r}: the name must end in .json or .csv"
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
    counts = Table(title="Totals")
    counts.add_column("what")
    counts.add_column("count", justify="right")
    for name, count in audit.totals.items():
        counts.add_row(name, str(count), style="yellow" if name in TITLES and count else "")
    console.print(counts)
    for name, _kind in SECTIONS:
        findings = audit.section(name)
        if not findings:
            continue
        table = Table(title=Text(f"{TITLES[name]} ({len(findings)})"))
        columns = COLUMNS[name]
        for column in columns:
            heading = HEADINGS[column]
            if column == "observer" and name != "unlisted_observers":
                account = name in ("idle_accounts", "managed_logins")
                heading = "account" if account else "SIS guardians"
            table.add_column(heading, overflow="fold", ratio=1 if column == "detail" else None)
        for finding in findings[:max_rows]:
            cells = finding.as_json()
            table.add_row(*(Text("" if cells[c] is None else str(cells[c])) for c in columns))
        console.print(table)
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
