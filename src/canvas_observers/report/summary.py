"""Pure summaries of a run: totals by outcome, the rows that need a human, and run facts.

No I/O here; ``render.py`` turns these into a terminal table, a JSON or a CSV report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, field

from canvas_observers.core.outcomes import DEFAULT_FAIL_ON, Outcome, RowResult


def totals(results: Iterable[RowResult]) -> dict[str, int]:
    """Count rows per outcome: every ``Outcome`` value as a key, zeros included, in enum order."""
    counts = Counter(result.outcome for result in results)
    return {outcome.value: counts.get(outcome, 0) for outcome in Outcome}


def needs_attention(
    results: Iterable[RowResult], fail_on: Collection[Outcome] = DEFAULT_FAIL_ON
) -> list[RowResult]:
    """The rows a person must look at, by line: those whose outcome is in the run's
    ``--fail-on`` set, the one meaning of "needs attention" (exit code, summary, `runs`,
    `show --needs-attention`)."""
    return sorted((r for r in results if r.outcome in fail_on), key=lambda r: r.line)


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Facts about one run that head the report, token never included.

    ``state`` is ``complete`` or ``stopped``; ``api_calls`` counts requests by kind (every
    HTTP request, retries and further pages included); ``throttled`` counts the answers that
    Canvas's rate limiter refused, ``retries`` the requests sent again.
    """

    run_id: int | None
    started_at: str
    ended_at: str
    canvas_url: str
    dry_run: bool
    pairing: str
    duration_s: float
    api_calls: dict[str, int] = field(hash=False)
    roster: str
    rows_read: int
    rows_rejected: int
    duplicates: int
    state: str = "complete"
    throttled: int = 0
    retries: int = 0
    stop_reason: str = ""
    canvas_state: str = "lookups"  # how Canvas was read: "report" or "lookups"
    removals_forced: str = ""  # the safety stop --force-removals let through, if any
    removals_held: str = ""  # why the run's removals were held (a truncated roster), if so
    source: str = ""  # the roster source the run belongs to

    def as_json(self) -> dict[str, object]:
        """A JSON-ready dict of every field (a copy: changing it does not change the value)."""
        data = asdict(self)
        data["api_calls"] = dict(self.api_calls)
        data["duration_s"] = round(self.duration_s, 3)
        return data
