"""The HTML report: one self-contained page to share (no external asset, works offline).

Every value from the roster, the journal or Canvas is HTML-escaped (names and ids are whatever
the SIS exported). The page's Content-Security-Policy allows nothing but its own inline style
and its own inline script (by their SHA-256), so it loads nothing from the network and a value
that slipped through escaping still could not run as a script. Canvas ids link to the Canvas
user pages. The inline script filters the rows by outcome; ``#outcome=NAME`` (or
``#outcome=attention``) in the page's address presets the filter.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from html import escape
from urllib.parse import urlsplit

from canvas_observers.core.outcomes import Outcome, RowResult
from canvas_observers.report.advice import WHAT_TO_DO
from canvas_observers.report.summary import RunInfo
from canvas_observers.roster.model import RemovalCandidate

Facts = Sequence[tuple[str, str]]

_REMOVALS = frozenset({Outcome.REMOVED, Outcome.WOULD_REMOVE})
_ATTENTION = "attention"  # the filter value for every outcome that is not a success
_COLUMNS = ("line", "student", "guardian", "outcome", "detail", "Canvas student")
_CANVAS_READ = {
    "report": "whole, by one provisioning report",
    "lookups": "row by row (look-ups)",
}

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right}
tr.group th{background:#e8eef8}
tr.attention td.outcome{color:#a40;font-weight:bold}
td.detail{max-width:40em;overflow-wrap:anywhere}
code{background:#f3f3f3;padding:0 .2em}
.stopped{color:#a00;font-weight:bold}
[hidden]{display:none!important}
"""

_SCRIPT = """
(function () {
  var select = document.getElementById("outcome-filter");
  var shown = document.getElementById("shown");
  var rows = document.querySelectorAll("tr[data-outcome]");
  function apply() {
    var want = select.value, count = 0;
    rows.forEach(function (row) {
      var keep = want === "" || row.getAttribute("data-outcome") === want ||
        (want === "attention" && row.classList.contains("attention"));
      row.hidden = !keep;
      if (keep) { count += 1; }
    });
    document.querySelectorAll("tbody").forEach(function (group) {
      var head = group.querySelector("tr.group");
      if (head) { head.hidden = !group.querySelector("tr[data-outcome]:not([hidden])"); }
    });
    shown.textContent = count + " of " + rows.length + " rows shown";
  }
  var preset = /(?:^#|&)outcome=([a-z_]+)/.exec(window.location.hash);
  if (preset && select.querySelector('option[value="' + preset[1] + '"]')) {
    select.value = preset[1];
  }
  select.addEventListener("change", apply);
  apply();
})();
"""


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


_CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{_sha256(_STYLE)}'; "
    f"script-src 'sha256-{_sha256(_SCRIPT)}'; "
    "base-uri 'none'; form-action 'none'"
)


def api_calls_text(calls: Mapping[str, int]) -> str:
    """``17 (create_user 2, get_user 12, pair_code 3)``."""
    parts = ", ".join(f"{kind} {count}" for kind, count in sorted(calls.items()))
    return f"{sum(calls.values())} ({parts})" if parts else "0"


def info_facts(info: RunInfo) -> list[tuple[str, str]]:
    """The summary lines of a run just made (``sync --report run.html``)."""
    facts = [
        ("run", str(info.run_id or "-")),
        ("state", info.state),
        ("stopped because", info.stop_reason),
        ("Canvas", info.canvas_url),
        ("roster", info.roster),
        (
            "roster rows",
            f"{info.rows_read} read, {info.rows_rejected} rejected, "
            f"{info.duplicates} duplicates collapsed",
        ),
        ("dry run", "yes (nothing written)" if info.dry_run else "no"),
        ("pairing", info.pairing),
        ("Canvas read", _CANVAS_READ.get(info.canvas_state, info.canvas_state)),
        ("removals held", info.removals_held),
        ("removal safety stop overridden", info.removals_forced),
        ("started", info.started_at),
        ("ended", info.ended_at),
        ("duration", f"{info.duration_s:.1f} s"),
        ("API calls", api_calls_text(info.api_calls)),
        ("throttled answers, retries", f"{info.throttled}, {info.retries}"),
    ]
    return [(label, value) for label, value in facts if value]


def html_report(
    *,
    title: str,
    canvas_url: str,
    facts: Facts,
    totals: Mapping[str, int],
    results: Sequence[RowResult],
    removal_candidates: Sequence[RemovalCandidate] = (),
) -> str:
    """The whole page: summary, rows (needing attention first), removals, what to do next."""
    rows = [r for r in results if not (r.line == 0 and r.outcome in _REMOVALS)]
    removals = [r for r in results if r.line == 0 and r.outcome in _REMOVALS]
    attention = sorted((r for r in rows if not r.outcome.is_success), key=lambda r: r.line)
    others = sorted((r for r in rows if r.outcome.is_success), key=lambda r: r.line)
    present = [o for o in Outcome if any(r.outcome is o for r in results)]
    user = _user_link(canvas_url)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{escape(_CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        _facts_table(facts),
        _totals_table(totals),
        '<h2 id="rows">Rows</h2>',
        _filter(present),
        '<table id="row-table">',
        _head((*_COLUMNS, "Canvas observer")),
        _group("Needs attention", attention, user),
        _group("Everything else", others, user),
        "</table>",
        _removal_section(removals, removal_candidates, user),
        _advice_table(results),
        f"<script>{_SCRIPT}</script></body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def _user_link(canvas_url: str) -> str | None:
    """``<canvas>/users/`` for an http(s) Canvas; None for anything else (no javascript: link)."""
    scheme = urlsplit(canvas_url).scheme.lower()
    return f"{canvas_url.rstrip('/')}/users/" if scheme in ("http", "https") else None


def _id_cell(canvas_id: int | None, user: str | None) -> str:
    if canvas_id is None:
        return "<td></td>"
    if user is None:
        return f'<td class="n">{canvas_id}</td>'
    href = escape(f"{user}{canvas_id}")
    return f'<td class="n"><a href="{href}" rel="noreferrer">{canvas_id}</a></td>'


def _facts_table(facts: Facts) -> str:
    cells = "".join(
        f"<tr><th>{escape(label)}</th><td{_stopped(label)}>{escape(value)}</td></tr>"
        for label, value in facts
    )
    return f'<table id="summary">{cells}</table>'


def _stopped(label: str) -> str:
    return ' class="stopped"' if label == "stopped because" else ""


def _totals_table(totals: Mapping[str, int]) -> str:
    lines = "".join(
        f'<tr><td>{escape(outcome)}</td><td class="n">{count}</td></tr>'
        for outcome, count in totals.items()
        if count
    )
    return (
        '<h2>Totals</h2><table id="totals"><tr><th>outcome</th><th>rows</th></tr>'
        f'{lines}<tr><th>total</th><th class="n">{sum(totals.values())}</th></tr></table>'
    )


def _filter(present: Sequence[Outcome]) -> str:
    options = "".join(
        f'<option value="{escape(o.value)}">{escape(o.value)}</option>' for o in present
    )
    return (
        '<p><label>Show rows: <select id="outcome-filter"><option value="">every outcome'
        f'</option><option value="{_ATTENTION}">needing attention</option>{options}'
        '</select></label> <span id="shown"></span></p>'
    )


def _head(columns: Sequence[str]) -> str:
    return "<thead><tr>" + "".join(f"<th>{escape(c)}</th>" for c in columns) + "</tr></thead>"


def _group(label: str, rows: Sequence[RowResult], user: str | None) -> str:
    if not rows:
        return ""
    head = f'<tr class="group"><th colspan="7">{escape(label)} ({len(rows)})</th></tr>'
    return "<tbody>" + head + "".join(_row(r, user) for r in rows) + "</tbody>"


def _row(r: RowResult, user: str | None) -> str:
    outcome = escape(r.outcome.value)
    css = "" if r.outcome.is_success else ' class="attention"'
    return (
        f'<tr data-outcome="{outcome}"{css}><td class="n">{r.line}</td>'
        f"<td>{escape(r.student_label)}</td><td>{escape(r.guardian_label)}</td>"
        f'<td class="outcome">{outcome}</td><td class="detail">{escape(r.detail)}</td>'
        f"{_id_cell(r.canvas_student_id, user)}{_id_cell(r.canvas_observer_id, user)}</tr>"
    )


def _removal_section(
    removals: Sequence[RowResult], candidates: Sequence[RemovalCandidate], user: str | None
) -> str:
    if not removals and not candidates:
        return ""
    parts = ['<h2 id="removals">Removals</h2>']
    if removals:
        parts += [
            '<table id="removal-table">',
            _head((*_COLUMNS, "Canvas observer")),
            _group("Links removed, or a real run would remove", removals, user),
            "</table>",
        ]
    if candidates:
        lines = "".join(
            f'<tr><td class="n">{c.line}</td><td>{escape(c.student_id)}</td>'
            f"<td>{escape(c.observer_email)}</td><td>{escape(c.reason)}</td>"
            f"<td>{escape(c.source)}</td></tr>"
            for c in candidates
        )
        parts += [
            "<p>Links the SIS marks as ending (removal candidates): removed only with "
            "<code>--remove-ended</code>.</p>",
            '<table id="removal-candidates">',
            _head(("line", "student id", "guardian email", "reason", "source")),
            f"<tbody>{lines}</tbody></table>",
        ]
    return "\n".join(parts)


def _advice_table(results: Sequence[RowResult]) -> str:
    """Every outcome with what to do about it (docs/cli.md has the same table) and its rows."""
    counts = Counter(r.outcome for r in results)
    lines = "".join(
        f'<tr><td><code>{escape(o.value)}</code></td><td class="n">{counts.get(o, 0)}</td>'
        f"<td>{_code(WHAT_TO_DO[o])}</td></tr>"
        for o in Outcome
    )
    return (
        '<h2 id="next">What to do next</h2><table id="advice">'
        f"<tr><th>outcome</th><th>rows here</th><th>what to do</th></tr>{lines}</table>"
    )


def _code(text: str) -> str:
    """Escape ``text`` and show its backquoted words as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))
