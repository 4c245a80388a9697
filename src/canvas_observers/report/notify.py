"""What a webhook gets (Slack, Teams or any HTTPS endpoint): pure, no personal data.

Only counts, the run's id, state and exit code, the Canvas host, the stop reason and the
`show` command to read the run go out, and the reason is scrubbed of anything that could name
a person (emails, also percent-encoded, and the SIS or login ids in a Canvas path). ``text``
is what Slack's and Teams' incoming webhooks show as is, written for the person who reads it
at breakfast: what happened in a sentence with the local time, then what to do first, then the
counts below.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import datetime, tzinfo
from urllib.parse import urlsplit

from canvas_observers.core.outcomes import DEFAULT_FAIL_ON, Outcome, RowResult
from canvas_observers.report.summary import RunInfo, totals

_EMAIL = re.compile(r"[^\s@/%:,;()'\"]+(?:@|%40)[^\s/?&,;()'\"]+", re.IGNORECASE)
_IDS = re.compile(r"(sis_(?:user|login|integration)_id:)[^\s/?&]+")


def scrub(text: str) -> str:
    """``text`` without emails or SIS/login ids."""
    return _IDS.sub(r"\1…", _EMAIL.sub("[email]", text))


def local_time(moment: datetime | str, zone: tzinfo | None = None) -> str:
    """``2026-09-01 02:14 EDT``: the moment in ``zone`` (the machine's own when None), as the
    person reading a nightly message thinks of the night."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or local.strftime('%z')}".strip()


def payload(
    info: RunInfo,
    results: Iterable[RowResult],
    *,
    exit_code: int,
    fail_on: Collection[Outcome] = DEFAULT_FAIL_ON,
    show: str = "",
    zone: tzinfo | None = None,
) -> dict[str, object]:
    """The JSON a webhook gets when a run ends with exit 1 or 2. ``show`` is the command that
    shows the run's rows as printed (`canvas-observers show RUN --state ...`)."""
    rows = list(results)
    counts = {k: v for k, v in totals(rows).items() if v}
    host = urlsplit(info.canvas_url).hostname or info.canvas_url
    reason = scrub(info.stop_reason)
    held = scrub(info.removals_held)
    attention = sum(r.outcome in fail_on for r in rows)
    not_reached = sum(r.outcome is Outcome.NOT_PROCESSED for r in rows)
    kind = "dry run" if info.dry_run else "run"
    run = f"{kind} {info.run_id}" if info.run_id else f"the {kind}"
    when = local_time(info.ended_at, zone)
    look = f"`{show}`" if show else f"`canvas-observers show {info.run_id or 'RUN'}`"
    if reason:
        said = f"canvas-observers stopped {run} on {host} at {when}: {reason}."
        if not_reached:
            said += f" {not_reached} rows were not processed; the next run takes them."
        first = (
            "What to do first: fix what stopped it (the reason above), then run the same "
            f"command again by hand to check. The rows so far: {look}."
        )
    elif held:
        said = f"canvas-observers {run} on {host} ended at {when}, removals held: {held}."
        first = (
            "What to do first: check tonight's SIS export (a roster much shorter than usual "
            f"holds removals); the run's rows: {look}."
        )
    else:
        said = (
            f"canvas-observers {run} on {host} ended at {when}: {attention} "
            f"{'row needs' if attention == 1 else 'rows need'} a person."
        )
        listed = f"`{show} --needs-attention`" if show else look
        first = f"What to do first: {listed} lists them, each with what to do."
    lines = ", ".join(f"{k} {v}" for k, v in counts.items()) or "no rows"
    return {
        "text": f"{said}\n{first}\n{lines} (exit {exit_code})",
        "run_id": info.run_id,
        "canvas": host,
        "state": info.state,
        "exit_code": exit_code,
        "dry_run": info.dry_run,
        "stop_reason": reason,
        "removals_held": held,
        "needs_attention": attention,
        "show": show,
        "ended_at": info.ended_at,
        "totals": counts,
    }


def not_started_payload(
    *,
    canvas_url: str,
    problem: str,
    to_do: str,
    at: datetime,
    zone: tzinfo | None = None,
) -> dict[str, object]:
    """The JSON a webhook gets when a run could not start (no roster, the SIS's API down,
    another run holding the lock): nothing was sent to Canvas, exit 2."""
    host = urlsplit(canvas_url).hostname or canvas_url
    problem = scrub(problem).rstrip(".")
    said = f"canvas-observers could not start its run on {host} at {local_time(at, zone)}"
    return {
        "text": f"{said}: {problem}.\nWhat to do first: {to_do}\nNothing was sent to Canvas "
        "(exit 2).",
        "run_id": None,
        "canvas": host,
        "state": "not_started",
        "exit_code": 2,
        "stop_reason": problem,
        "totals": {},
    }
