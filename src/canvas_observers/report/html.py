"""The HTML run report: one self-contained page a Canvas admin can forward as it is.

It opens with what the run did in a sentence (``words.lead_sentence``), when it ran in the
district's time zone and how long it took, and a chart of the rows by outcome. The rows come
in three parts, each grouped by outcome with what to do said once at each group's head, each
row naming the student and the guardian (their ids and Canvas links beside the names, or the
ids alone where a journal holds no names): "Needs your attention", the rows whose outcome the
run's ``--fail-on`` counted (what its exit code, summary, `runs` and `show --needs-attention`
count); "Waiting or for your information", the other rows that are no success (by default
``not_enrolled``, ``no_email``, ``not_processed``); and the done rows, folded. Removals
follow. Every outcome with its advice, and the internals (run id, UTC times, API calls,
throttling, how Canvas was read), are folded at the bottom.

The page is ``templates/run.html.j2`` (``pages.py``: autoescaped, with a Content-Security-Policy
allowing only its own inline style and script). The inline script filters the rows by outcome;
``#outcome=NAME`` (or ``#outcome=attention``, ``#outcome=waiting``) in the page's address
presets the filter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from urllib.parse import urlsplit

from canvas_observers.core.outcomes import DEFAULT_FAIL_ON, EXPECTED, Outcome, RowResult
from canvas_observers.core.timezone import TimeZoneChoice
from canvas_observers.report.advice import WHAT_TO_DO
from canvas_observers.report.pages import FILTER_SCRIPT, render_page
from canvas_observers.report.summary import RunInfo
from canvas_observers.report.words import (
    OUTCOME_WORDS,
    duration_words,
    lead_sentence,
    local_time,
    plural,
)
from canvas_observers.roster.model import RemovalCandidate

Facts = Sequence[tuple[str, str]]

UTC_CHOICE = TimeZoneChoice(UTC, "UTC", "no other zone was given")
_REMOVALS = frozenset({Outcome.REMOVED, Outcome.WOULD_REMOVE})
_CANVAS_READ = {
    "report": "whole, by one provisioning report",
    "lookups": "row by row (look-ups)",
}


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What the top of a run's page says: a run just made (``RunInfo``) or a journaled one."""

    dry_run: bool = False
    state: str = "complete"
    stop_reason: str = ""
    removals_held: str = ""
    roster: str = ""
    roster_rows: str = ""  # "6 rows read, 1 rejected", when known
    started_at: str = ""  # ISO 8601 UTC, as the journal keeps it
    duration_s: float | None = None


def api_calls_text(calls: Mapping[str, int]) -> str:
    """``17 (create_user 2, get_user 12, pair_code 3)``."""
    parts = ", ".join(f"{kind} {count}" for kind, count in sorted(calls.items()))
    return f"{sum(calls.values())} ({parts})" if parts else "0"


def info_facts(info: RunInfo) -> list[tuple[str, str]]:
    """The internals of a run just made (``sync --report run.html``), folded at the bottom."""
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
        ("started (UTC)", info.started_at),
        ("ended (UTC)", info.ended_at),
        ("duration", f"{info.duration_s:.1f} s"),
        ("API calls", api_calls_text(info.api_calls)),
        ("throttled answers, retries", f"{info.throttled}, {info.retries}"),
    ]
    return [(label, value) for label, value in facts if value]


def info_run_facts(info: RunInfo) -> RunFacts:
    """The top of the page of a run just made."""
    rows = f"{plural(info.rows_read, 'row')} read, {info.rows_rejected} rejected"
    return RunFacts(
        dry_run=info.dry_run,
        state=info.state,
        stop_reason=info.stop_reason,
        removals_held=info.removals_held,
        roster=info.roster,
        roster_rows=rows,
        started_at=info.started_at,
        duration_s=info.duration_s,
    )


@dataclass(frozen=True, slots=True)
class _Group:
    code: str
    words: str
    tone: str
    advice: str
    rows: list[RowResult]

    @property
    def count_text(self) -> str:
        return plural(len(self.rows), "row")


def _tone(outcome: Outcome, fail_on: Collection[Outcome]) -> str:
    """``attention`` for what the run's ``fail_on`` counts, ``waiting`` for the other rows
    that are no success, ``done``, or ``neutral`` for removals."""
    if outcome in _REMOVALS or outcome is Outcome.REMOVAL_PENDING:
        return "neutral"
    if outcome.is_success:
        return "done"
    return "attention" if outcome in fail_on else "waiting"


def _attention_order(outcome: Outcome) -> tuple[int, int]:
    """Rows a person must fix first, then those that fix themselves; in ``Outcome`` order."""
    return (outcome in EXPECTED, list(Outcome).index(outcome))


def _groups(
    rows: Sequence[RowResult], outcomes: Sequence[Outcome], fail_on: Collection[Outcome]
) -> list[_Group]:
    by_outcome: dict[Outcome, list[RowResult]] = {}
    for r in sorted(rows, key=lambda r: r.line):
        by_outcome.setdefault(r.outcome, []).append(r)
    return [
        _Group(o.value, OUTCOME_WORDS[o], _tone(o, fail_on), WHAT_TO_DO[o], by_outcome[o])
        for o in outcomes
        if o in by_outcome
    ]


def user_link(canvas_url: str) -> str | None:
    """``<canvas>/users/`` for an http(s) Canvas; None for anything else (no javascript: link)."""
    scheme = urlsplit(canvas_url).scheme.lower()
    return f"{canvas_url.rstrip('/')}/users/" if scheme in ("http", "https") else None


def _when(run: RunFacts, zone: TimeZoneChoice) -> str:
    parts = []
    if run.started_at:
        took = duration_words(run.duration_s)
        started = f"Started {local_time(run.started_at, zone.zone)}"
        parts.append(f"{started} and took {took}." if took else f"{started}.")
    if run.roster:
        rows = f" ({run.roster_rows})" if run.roster_rows else ""
        parts.append(f"Roster: {run.roster}{rows}.")
    parts.append(f"Times are {zone.stated}.")
    return " ".join(parts)


def _heading(run: RunFacts, zone: TimeZoneChoice, title: str) -> str:
    kind = "Dry run (nothing written)" if run.dry_run else "Parent accounts run"
    if not run.started_at:
        return title or kind
    return f"{kind} of {local_time(run.started_at, zone.zone)}"


def html_report(
    *,
    title: str,
    canvas_url: str,
    facts: Facts,
    totals: Mapping[str, int],
    results: Sequence[RowResult],
    removal_candidates: Sequence[RemovalCandidate] = (),
    run: RunFacts | None = None,
    zone: TimeZoneChoice | None = None,
    fail_on: Collection[Outcome] = DEFAULT_FAIL_ON,
) -> str:
    """The whole page. ``totals`` are the run's counts by outcome (the sentence and the chart);
    ``results`` the rows to list (all of them, or those ``show --needs-attention`` keeps);
    ``facts`` the internals; ``zone`` the time zone of the times shown (UTC if None);
    ``fail_on`` the run's ``--fail-on``: its rows are "Needs your attention", the other rows
    that are no success "Waiting or for your information", as the exit code counted them."""
    run = run or RunFacts()
    zone = zone or UTC_CHOICE
    rows = [r for r in results if not (r.line == 0 and r.outcome in _REMOVALS)]
    removals = [r for r in results if r.line == 0 and r.outcome in _REMOVALS]
    attention = [o for o in Outcome if o in fail_on and not o.is_success]
    attention.sort(key=_attention_order)
    waiting = [o for o in Outcome if o not in fail_on and not o.is_success]
    waiting.sort(key=_attention_order)
    done = [o for o in Outcome if o.is_success]
    attention_rows = [r for r in rows if r.outcome in attention]
    waiting_rows = [r for r in rows if r.outcome in waiting]
    done_rows = [r for r in rows if r.outcome.is_success]
    present = [o for o in Outcome if any(r.outcome is o for r in results)]
    counts = Counter(r.outcome for r in results)
    charted = sorted(
        (o for o in Outcome if totals.get(o.value, 0)),
        key=lambda o: (o.is_success, o not in fail_on, _attention_order(o)),
    )
    bars = [(OUTCOME_WORDS[o], totals[o.value], _tone(o, fail_on)) for o in charted]
    chart_label = f"{plural(sum(totals.values()), 'row')} by outcome: " + "; ".join(
        f"{words} {count}" for words, count, _ in bars
    )
    return render_page(
        "run.html.j2",
        script=FILTER_SCRIPT,
        title=title,
        heading=_heading(run, zone, title),
        canvas_url=canvas_url,
        sentence=lead_sentence(totals, dry_run=run.dry_run, fail_on=fail_on),
        stop_reason=run.stop_reason if run.state != "complete" else "",
        removals_held=run.removals_held,
        when=_when(run, zone),
        bars=bars,
        chart_label=chart_label,
        filter_options=[(o.value, OUTCOME_WORDS[o]) for o in present],
        attention_groups=_groups(attention_rows, attention, fail_on),
        attention_count=len(attention_rows),
        waiting_groups=_groups(waiting_rows, waiting, fail_on),
        waiting_count=len(waiting_rows),
        done_groups=_groups(done_rows, done, fail_on),
        done_count_text=plural(len(done_rows), "row"),
        removal_groups=_groups(removals, sorted(_REMOVALS), fail_on),
        candidates=removal_candidates,
        user_url=user_link(canvas_url),
        outcomes=[
            {
                "code": o.value,
                "words": OUTCOME_WORDS[o],
                "count": counts.get(o, 0),
                "advice": WHAT_TO_DO[o],
            }
            for o in Outcome
        ],
        zone=zone.stated,
        facts=facts,
    )
