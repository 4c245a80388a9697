"""`canvas-observers runs` and `canvas-observers show`: read the journal of past runs.

Both are read-only views over ``canvas_observers.store.Journal``; they never create a
journal. Every value from the journal is printed as ``rich.text.Text`` (never parsed as
markup), since roster names and emails are whatever the SIS exported; the people's names
(a Canvas name may hold anything) and the details also go through ``printable``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
from rich.text import Text

from canvas_observers.cli.common import Command, output_console
from canvas_observers.cli.config import config_option
from canvas_observers.cli.exits import Stopped
from canvas_observers.cli.options import (
    OUTCOME_NAMES,
    canvas_url_option,
    help_groups,
    outcomes_option,
    run_argument,
    run_number,
    state_option,
    time_zone_option,
)
from canvas_observers.cli.wiring import computer_time_zone
from canvas_observers.core.outcomes import Outcome, RowResult
from canvas_observers.core.timezone import FROM_RUN, FROM_SETTING, TimeZoneChoice, chosen
from canvas_observers.report.html import RunFacts, api_calls_text
from canvas_observers.report.render import shown, write_html_report
from canvas_observers.report.tables import (
    Column,
    Listing,
    print_facts,
    print_listing,
)
from canvas_observers.store import (
    Journal,
    NotAJournal,
    RunRecord,
    default_state_path,
)

_STATE_STYLES = {
    "complete": "green",
    "running": "cyan",
    "interrupted": "bold red",
    "failed": "red",
    "stopped": "yellow",
}

_state_option = state_option(
    "The SQLite journal to read. Default: the one for --canvas-url under the user's "
    "state directory (~/.local/state/canvas-observers/ on Linux)."
)
_canvas_url_option = canvas_url_option(
    "Canvas base URL whose default journal to read (env: CANVAS_URL). "
    "Ignored when --state is given."
)


def _journal_path(state_path: Path | None, canvas_url: str | None) -> Path:
    if state_path is not None:
        return state_path
    if not canvas_url:
        raise click.UsageError("give --state PATH, or --canvas-url URL (or set CANVAS_URL)")
    try:
        return default_state_path(canvas_url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--canvas-url") from exc


@contextmanager
def _reading(path: Path) -> Iterator[Journal]:
    """Open an existing journal; a damaged one is a ``JournalError`` (one line, exit 2).

    A damaged page may only show up when a query reaches it, so reads are covered too.
    """
    try:
        with Journal.open(path) as journal:
            yield journal
    except sqlite3.DatabaseError as exc:
        raise NotAJournal(str(path), str(exc)) from None


def _summarise(counts: Mapping[str, int], order: Iterable[str] = OUTCOME_NAMES) -> str:
    """``created 12 · paired 30 · failed 1``: non-zero counts, known outcomes first."""
    known = list(order)
    keys = [k for k in known if k in counts] + sorted(k for k in counts if k not in known)
    parts = [f"{k} {counts[k]}" for k in keys if counts[k]]
    return " · ".join(parts) if parts else "—"


def _duration(started: str, ended: str | None) -> str:
    if ended is None:
        return "—"
    try:
        seconds = int(
            (datetime.fromisoformat(ended) - datetime.fromisoformat(started)).total_seconds()
        )
    except (ValueError, TypeError):
        return "?"
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _state_text(state: str) -> Text:
    return Text(state, style=_STATE_STYLES.get(state, ""))


def _when(iso: str, *, seconds: bool = False) -> str:
    """``2024-09-01T02:00:00+00:00`` -> ``2024-09-01 02:00 UTC``: narrower, still exact."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    text = moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    offset = moment.utcoffset()
    if offset is None:
        return text
    return f"{text} UTC" if not offset else f"{text}{moment.strftime('%z')}"


_IDS = "canvas ids\nstudent/\nobserver"
_IDS_LABEL = "canvas student/observer"


def _ids(student: int | None, observer: int | None) -> Text:
    """Canvas ids as ``student/observer``, ``—`` for one not known."""
    return Text(f"{'—' if student is None else student}/{'—' if observer is None else observer}")


@click.command(cls=Command)
@config_option
@_state_option
@_canvas_url_option
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Show at most this many runs, newest first.",
)
def runs(state_path: Path | None, canvas_url: str | None, limit: int) -> None:
    """List past runs from the journal, newest first; an interrupted run says so."""
    path = _journal_path(state_path, canvas_url)
    if not path.exists():
        if state_path is not None:  # a path the user typed: most likely a typo
            raise Stopped(f"no journal at {path}")
        click.echo(f"No runs recorded yet (no journal at {path}).")
        return
    with _reading(path) as journal:
        records = journal.list_runs(limit=limit)
    if not records:
        click.echo(f"No runs recorded yet in {path}.")
        return
    listing = Listing(
        Text(f"Runs in {path}"),
        (
            Column("id", justify="right", wrap=False),
            Column("started"),
            Column("took", justify="right", wrap=False),
            Column("state"),
            Column("roster"),
            # Three numbers a row fits: paired now, fine already, needing a human (`show` has
            # the rest).
            Column("new", justify="right", wrap=False),
            Column("ok", justify="right", wrap=False),
            Column("check", justify="right", wrap=False),
            Column("why it stopped or held", label="why"),
        ),
        caption="started in UTC · new: created or paired (or would be) · ok: already paired · "
        "check: rows that need a human, as the run's --fail-on counted them (see "
        "`canvas-observers show RUN --needs-attention`)",
    )
    for run in records:
        new, ok, attention = _triage(run.totals, run.fail_on, held=bool(run.held))
        why = run.stop_reason or (f"removals held: {run.held}" if run.held else "")
        listing.add_row(
            str(run.id),
            _when(run.started_at).removesuffix(" UTC"),
            _duration(run.started_at, run.ended_at),
            _state_text(run.state).append(", dry run" if run.dry_run else ""),
            run.roster,
            new,
            ok,
            Text(attention, style="yellow" if attention not in {"0", "—"} else ""),
            Text(why, style="yellow"),
        )
    print_listing(output_console(), listing)


def _triage(
    totals: Mapping[str, int], fail_on: Collection[Outcome], *, held: bool = False
) -> tuple[str, str, str]:
    """(new, ok, attention) counts of a run's outcomes; dashes for a run without totals. The
    attention count is the rows whose outcome the run's ``--fail-on`` counted (what its exit
    code counted); a run whose removals were held counts as one more item."""
    if not totals:
        return "—", "—", "1" if held else "—"
    made = ("created", "paired", "guardian_updated", "would_create", "would_pair")
    new = sum(totals.get(k, 0) for k in made)
    ok = totals.get("already_paired", 0)
    counted = {o.value for o in fail_on}
    attention = sum(v for k, v in totals.items() if k in counted) + int(held)
    return str(new), str(ok), str(attention)


@click.command(cls=Command)
@help_groups(
    ("Which journal", ("--state", "--canvas-url")),
    ("Which rows", ("--outcome", "--needs-attention", "--max-rows")),
    ("Tables, JSON or a page", ("--json", "--html", "--time-zone")),
)
@run_argument
@config_option
@_state_option
@_canvas_url_option
@outcomes_option(
    "--outcome",
    "outcomes",
    "Only rows with this outcome (repeat, or give several separated by commas), and the "
    "actions taken for their lines.",
)
@click.option(
    "--needs-attention",
    is_flag=True,
    help="Only rows a human must act on: those whose outcome the run's --fail-on counted "
    "(the default set for a run that gave none). --outcome lists any outcome.",
)
@click.option(
    "--max-rows",
    type=click.IntRange(min=0),
    default=500,
    show_default=True,
    help="Print at most this many rows and this many actions in the tables (0: all). "
    "Drawing tables is slow for large runs; --json always prints everything.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON instead of tables.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Write the run as one self-contained HTML page to FILE (readable only by you) to "
    "share: the run in a sentence, rows needing attention first with what to do, a filter by "
    "outcome. Times are in the zone kept with the run (see --time-zone).",
)
@time_zone_option(
    "The time zone of the HTML page's times. Default: the one kept with the run (the sync's "
    "--time-zone, else its Canvas account's), else this computer's."
)
def show(
    run_id: int | str,
    state_path: Path | None,
    canvas_url: str | None,
    outcomes: tuple[str, ...],
    needs_attention: bool,
    max_rows: int,
    as_json: bool,
    html_path: Path | None,
    time_zone: str | None,
) -> None:
    """Show one run (RUN is its id from `canvas-observers runs`, or last for the latest):
    settings, rows, actions."""
    path = _journal_path(state_path, canvas_url)
    if not path.exists():
        raise Stopped(f"no journal at {path}")
    with _reading(path) as journal:
        run_id = run_number(journal, run_id, path)
        run = journal.get_run(run_id)
        if run is None:
            raise Stopped(f"no run {run_id} in {path}")
        rows = sorted(journal.run_rows(run_id), key=lambda r: r.line)
        actions = journal.run_actions(run_id)
    if outcomes or needs_attention:
        wanted = set(outcomes)
        rows = [
            r
            for r in rows
            if r.outcome.value in wanted or (needs_attention and run.needs_attention(r.outcome))
        ]
        lines = {r.line for r in rows}
        actions = [a for a in actions if a.line in lines]

    if html_path is not None:
        _write_html(html_path, run, rows, _page_zone(time_zone, run))
        return
    if as_json:
        document = {
            "run": _run_json(run),
            "rows": [r.as_json() for r in rows],
            "actions": [
                {
                    "at": a.at,
                    "kind": a.kind,
                    "line": a.line,
                    "result": a.result,
                    "canvas_observer_id": a.canvas_observer_id,
                    "canvas_student_id": a.canvas_student_id,
                    "detail": a.detail,
                }
                for a in actions
            ],
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return

    console = output_console()
    print_facts(console, _header(run))

    row_listing = Listing(
        Text(f"Rows ({len(rows)})"),
        (
            Column("line", justify="right", wrap=False),
            Column("student"),
            Column("guardian"),
            Column("outcome", wrap=False),
            Column("detail"),
            Column(_IDS, label=_IDS_LABEL),
        ),
        caption=_cut_note(len(rows), max_rows),
    )
    for r in rows[: max_rows or None]:
        row_listing.add_row(
            str(r.line),
            shown(r.student_label),
            shown(r.guardian_label),
            Text(r.outcome.value, style="green" if r.outcome.is_success else "yellow"),
            shown(r.detail),
            _ids(r.canvas_student_id, r.canvas_observer_id),
        )
    print_listing(console, row_listing)

    action_listing = Listing(
        Text(f"Actions ({len(actions)})"),
        (
            Column("time (UTC)", wrap=False),
            Column("kind"),
            Column("line", justify="right", wrap=False),
            Column(_IDS, label=_IDS_LABEL),
            Column("result", wrap=False),
            Column("detail"),
        ),
        caption=_cut_note(len(actions), max_rows),
    )
    for a in actions[: max_rows or None]:
        action_listing.add_row(
            _when(a.at, seconds=True).removesuffix(" UTC"),
            a.kind,
            str(a.line),
            _ids(a.canvas_student_id, a.canvas_observer_id),
            Text(a.result, style="green" if a.result in ("ok", "recovered") else "red"),
            a.detail,
        )
    print_listing(console, action_listing)


def _cut_note(total: int, max_rows: int) -> Text | None:
    if not max_rows or total <= max_rows:
        return None
    return Text(
        f"first {max_rows} of {total}: see --outcome, --max-rows 0 or --json", style="yellow"
    )


def _page_zone(given: str | None, run: RunRecord) -> TimeZoneChoice:
    """``--time-zone``, else the zone kept with the run (and where it came from), else this
    computer's (a run made before zones were kept)."""
    if given:
        return chosen(given, FROM_SETTING)
    kept = run.settings.get("time_zone")
    if isinstance(kept, str) and kept:
        try:
            return chosen(kept, str(run.settings.get("time_zone_from") or FROM_RUN))
        except ValueError:
            pass  # a zone this computer's tz database does not know
    return computer_time_zone()


def _write_html(path: Path, run: RunRecord, rows: list[RowResult], zone: TimeZoneChoice) -> None:
    started = datetime.fromisoformat(run.started_at.replace("Z", "+00:00"))
    ended = run.ended_at and datetime.fromisoformat(run.ended_at.replace("Z", "+00:00"))
    try:
        write_html_report(
            path,
            title=f"canvas-observers {'dry run' if run.dry_run else 'run'} {run.id}",
            canvas_url=run.canvas_url,
            facts=_html_facts(run),
            totals=run.totals,
            results=rows,
            run=RunFacts(
                dry_run=run.dry_run,
                state=run.state,
                stop_reason=run.stop_reason
                or ("the run did not finish" if run.state in ("interrupted", "failed") else ""),
                removals_held=run.held,
                roster=run.roster,
                started_at=run.started_at,
                duration_s=(ended - started).total_seconds() if ended else None,
            ),
            time_zone=zone,
            fail_on=run.fail_on,
        )
    except OSError as exc:
        raise Stopped(f"cannot write {path}: {exc.strerror or exc}") from None
    click.echo(f"HTML report written to {path}")


def _html_facts(run: RunRecord) -> list[tuple[str, str]]:
    """The HTML page's summary of a journaled run (the journal keeps no roster counts)."""
    calls = dict(run.api_calls)
    throttled, retries = calls.pop("throttled", 0), calls.pop("retries", 0)
    mode = run.settings.get("canvas_state", "")
    read = "a provisioning report was started" if calls.get("start_report") else "row by row"
    facts = [
        ("run", str(run.id)),
        ("state", run.state),
        ("stopped because", run.stop_reason),
        ("removals held", run.held),
        ("Canvas", run.canvas_url),
        ("roster", run.roster),
        ("dry run", "yes (nothing written)" if run.dry_run else "no"),
        ("pairing", str(run.settings.get("pairing", ""))),
        ("Canvas read", f"{read} (--canvas-state {mode})" if mode else read),
        ("started (UTC)", run.started_at),
        ("ended (UTC)", run.ended_at or "—"),
        ("duration", _duration(run.started_at, run.ended_at)),
        ("API calls", api_calls_text(calls)),
        ("throttled answers, retries", f"{throttled}, {retries}"),
    ]
    return [(label, value) for label, value in facts if value]


def _counted(run: RunRecord) -> dict[str, int]:
    """The run's totals of the outcomes its --fail-on counted as needing attention."""
    return {k: v for k, v in run.totals.items() if k in {o.value for o in run.fail_on}}


def _run_json(run: RunRecord) -> dict[str, object]:
    return {
        "id": run.id,
        "canvas_url": run.canvas_url,
        "roster": run.roster,
        "dry_run": run.dry_run,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "state": run.state,
        "settings": run.settings,
        "totals": run.totals,
        "api_calls": run.api_calls,
        "pid": run.pid,
        "host": run.host,
        "stop_reason": run.stop_reason,
        "source": run.source,
        "removals_held": run.held,
        "fail_on": sorted(o.value for o in run.fail_on),
    }


def _header(run: RunRecord) -> list[tuple[str, str | Text]]:
    """The run's facts, a label and a value each."""
    facts: list[tuple[str, str | Text]] = [(f"Run {run.id}", _state_text(run.state))]
    if run.stop_reason:
        facts.append(("stopped because", Text(run.stop_reason, style="yellow")))
    if run.held:
        facts.append(("removals held", Text(run.held, style="yellow")))
    facts.append(("canvas", run.canvas_url))
    facts.append(("roster", run.roster))
    if run.source is not None and run.source != run.roster:
        facts.append(("roster source", run.source))
    facts.append(("dry run", "yes" if run.dry_run else "no"))
    facts.append(("started", _when(run.started_at, seconds=True)))
    facts.append(("ended", _when(run.ended_at, seconds=True) if run.ended_at else "—"))
    facts.append(("duration", _duration(run.started_at, run.ended_at)))
    facts.append(("process", f"pid {run.pid} on {run.host}"))
    settings = ", ".join(
        f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(run.settings.items())
    )
    facts.append(("settings", settings or "—"))
    facts.append(("totals", _summarise(run.totals)))
    facts.append(("needs attention", _summarise(_counted(run)) + " (as its --fail-on counts)"))
    facts.append(("API calls", _summarise(run.api_calls, order=())))
    return facts
