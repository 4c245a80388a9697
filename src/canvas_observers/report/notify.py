"""The run summary a webhook gets (Slack, Teams or any HTTPS endpoint): pure, no personal data.

Only counts, the run's id, state and exit code, the Canvas host and the stop reason go out, and
the reason is scrubbed of anything that could name a person (emails, also percent-encoded, and
the SIS or login ids in a Canvas path). ``text`` is what Slack's and Teams' incoming webhooks
show as is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from canvas_observers.core.outcomes import RowResult
from canvas_observers.report.summary import RunInfo, totals

_EMAIL = re.compile(r"[^\s@/%:,;()'\"]+(?:@|%40)[^\s/?&,;()'\"]+", re.IGNORECASE)
_IDS = re.compile(r"(sis_(?:user|login|integration)_id:)[^\s/?&]+")


def scrub(text: str) -> str:
    """``text`` without emails or SIS/login ids."""
    return _IDS.sub(r"\1…", _EMAIL.sub("[email]", text))


def payload(info: RunInfo, results: Iterable[RowResult], *, exit_code: int) -> dict[str, object]:
    """The JSON a webhook gets when a run ends with exit 1 or 2."""
    counts = {k: v for k, v in totals(results).items() if v}
    host = urlsplit(info.canvas_url).hostname or info.canvas_url
    reason = scrub(info.stop_reason)
    held = scrub(info.removals_held)
    if reason:
        state = f"stopped: {reason}"
    elif held:
        state = f"{info.state}, removals held: {held}"
    else:
        state = f"{info.state}, some rows need a human"
    head = f"canvas-observers run {info.run_id or '-'} on {host}: {state}"
    lines = ", ".join(f"{k} {v}" for k, v in counts.items()) or "no rows"
    return {
        "text": f"{head}\n{lines} (exit {exit_code}; details: canvas-observers show "
        f"{info.run_id or 'RUN'})",
        "run_id": info.run_id,
        "canvas": host,
        "state": info.state,
        "exit_code": exit_code,
        "dry_run": info.dry_run,
        "stop_reason": reason,
        "removals_held": held,
        "totals": counts,
    }
