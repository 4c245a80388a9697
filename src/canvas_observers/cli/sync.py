"""`canvas-observers sync`: the main job. Its flags shared with other commands are in
``options.py``; the run's wiring (client, journal, progress, the end of a run) in ``wiring.py``."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import click
import httpx

from canvas_observers.cli.common import (
    LOG_LEVELS,
    Command,
    PipeConsole,
    canvas_url_or_exit,
    ensure_folder,
    output_console,
    read_token,
    setup_logging,
    token_file_to_use,
)
from canvas_observers.cli.config import config_option
from canvas_observers.cli.exits import Stopped
from canvas_observers.cli.lock import run_lock, warn_other_journals
from canvas_observers.cli.nightly import check_notify_url, not_started
from canvas_observers.cli.options import (
    CANVAS_GROUP,
    ROSTER_GROUPS,
    canvas_options,
    help_groups,
    observer_id_template_option,
    outcomes_option,
    report_option,
    report_timeout_option,
    source_options,
    state_option,
    time_zone_option,
)
from canvas_observers.cli.roster_input import (
    ApiSource,
    api_options,
    check_one_source,
    read_client_secret,
    read_roster,
    roster_argument,
    snapshot_folder,
)
from canvas_observers.cli.wiring import (
    REQUEST_TIMEOUT,
    canvas_client,
    check_report_path,
    finish,
    install_stop_signals,
    open_journal,
    run_with_progress,
    time_zone_for,
)
from canvas_observers.core.outcomes import DEFAULT_FAIL_ON, Outcome
from canvas_observers.core.timezone import TimeZoneChoice
from canvas_observers.roster.eligibility import (
    Rule,
    RuleError,
    apply_rules,
    parse_rules,
    rule_columns,
)
from canvas_observers.roster.exclude import read_exclusions
from canvas_observers.roster.sources import SourceOptions
from canvas_observers.store.journal import Journal, default_state_path
from canvas_observers.sync.options import AUTO_REPORT_ROWS, CanvasStateMode, SyncOptions
from canvas_observers.sync.run import RunResult
from canvas_observers.sync.stopping import StopRequest

log = logging.getLogger("canvas_observers")


def login_provider(value: str | None) -> str | None:
    """``--login-provider``: ``canvas``, a provider's id (digits) or ``none`` (None)."""
    text = (value or "").strip().lower()
    if text == "none":
        return None
    if text == "canvas" or (text.isdigit() and int(text) > 0):
        return text
    raise click.BadParameter(
        f"{value!r} is not canvas, a provider's id or none", param_hint="--login-provider"
    )


def eligibility_rules(only: Sequence[str], skip: Sequence[str], *, api: bool) -> tuple[Rule, ...]:
    """``--only`` and ``--skip`` as rules; a usage error (exit 2, nothing read or sent) for a
    rule that is not COLUMN=VALUE, or for rules on the OneRoster API, whose fields are fixed."""
    try:
        rules = parse_rules(only, skip)
    except RuleError as exc:
        raise click.UsageError(str(exc)) from None
    if rules and api:
        raise click.UsageError(
            "--only and --skip read columns of a four-column CSV or Excel roster; OneRoster "
            "and SDS have fixed fields, so eligibility rules are not supported for them yet"
        )
    return rules


@click.command(cls=Command)
@help_groups(
    ("Canvas", (*CANVAS_GROUP, "--canvas-state", "--report-timeout", "--concurrency")),
    (
        "Pairing",
        (
            "--dry-run",
            "--pairing",
            "--no-registration-email",
            "--login-provider",
            "--observer-id-template",
            "--trust-contact-email",
            "--update-guardians",
            "--exclude",
        ),
    ),
    ("Who is eligible", ("--only", "--skip")),
    *ROSTER_GROUPS,
    (
        "Removing links the SIS has ended",
        ("--remove-ended", "--source", "--grace-runs", "--max-removals", "--force-removals"),
    ),
    (
        "Report, journal and alerts",
        ("--report", "--time-zone", "--state", "--fail-on", "--notify-url"),
    ),
    ("Logging", ("--log-level", "--quiet", "--log-file")),
)
@roster_argument
@config_option
@canvas_options
@click.option(
    "--dry-run",
    is_flag=True,
    help="Look everything up and report what would be done; write nothing to Canvas.",
)
@click.option(
    "--pairing",
    type=click.Choice(["code", "direct"]),
    default="code",
    show_default=True,
    help="code: pairing codes, Canvas's own process (students need a live enrollment); "
    "direct: admin link with PUT, no code and no enrollment needed.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=16,
    show_default=True,
    help="Guardians handled at once. Requests are paced to Canvas's rate limit either way.",
)
@report_option(
    "Also write the full report to PATH (.json, .csv, or .html: one page to share), "
    "readable only by you."
)
@state_option(
    "The SQLite journal of runs. Default: one per Canvas under ~/.local/state/canvas-observers/."
)
@time_zone_option(
    "The time zone of the HTML report's times, e.g. America/Chicago. Default: the Canvas "
    "account's time zone, else this computer's. Kept with the run for `show --html`."
)
@click.option(
    "--no-registration-email",
    is_flag=True,
    help="Create accounts without Canvas's 'finish registering' email to the guardian.",
)
@click.option(
    "--remove-ended",
    is_flag=True,
    help="Also remove links the SIS has ended: only links this tool made (the journal says "
    "so), when the SIS marks them tobedeleted or their pair has been absent from the roster "
    "for --grace-runs runs; and pairs on the --exclude list, whoever made them. Safety stops "
    "apply (see docs/cli.md).",
)
@click.option(
    "--source",
    "source_name",
    default=None,
    metavar="NAME",
    help="The roster source this run belongs to (default: the roster file's full path, or the "
    "OneRoster API's URL). Links are removed only by runs of the source that made them; give "
    "the same NAME every night when the SIS writes a new file name each time, and a "
    "different one to each school's roster that shares a Canvas.",
)
@click.option(
    "--grace-runs",
    default=2,
    show_default=True,
    type=click.IntRange(1, 100),
    metavar="N",
    help="Consecutive complete runs of the same roster a pair must be absent from before its "
    "link is removed.",
)
@click.option(
    "--max-removals",
    default=None,
    type=click.IntRange(min=0),
    metavar="N",
    help="Stop, removing nothing, when more links than this would go (default: the larger of "
    "10 and 5% of the links this tool made for this roster source).",
)
@click.option(
    "--force-removals",
    is_flag=True,
    help="Let this one run through the removal safety stops (said in the report).",
)
@click.option(
    "--exclude",
    "exclude_path",
    default=None,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="A do-not-pair list, CSV student_id,observer_email[,reason]: those pairs are never "
    "linked (outcome excluded); with --remove-ended a listed pair linked in Canvas is removed "
    "whoever made the link.",
)
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="'COLUMN=VALUE[|VALUE...]'",
    help="Pair only the rows whose roster column COLUMN holds one of the VALUEs (any case), "
    "e.g. --only 'Portal Access=Y' or --only 'Contact Priority=1|2'; the others are "
    "not_eligible. Repeatable: a row must pass every --only. Four-column CSV or Excel "
    "rosters only.",
)
@click.option(
    "--skip",
    "skip",
    multiple=True,
    metavar="'COLUMN=VALUE[|VALUE...]'",
    help="Leave out the rows whose roster column COLUMN holds one of the VALUEs (any case), "
    "e.g. --skip 'Relationship=Emergency Contact' (outcome not_eligible). Repeatable.",
)
@outcomes_option(
    "--fail-on",
    "fail_on",
    "Outcomes that make a finished run exit 1 (default: every outcome that needs a "
    "human except not_enrolled, which a later run cures by itself).",
)
@click.option(
    "--notify-url",
    default=None,
    metavar="URL",
    callback=lambda _ctx, _param, value: check_notify_url(value),
    help="POST the run summary as JSON (with a 'text' Slack and Teams show) to this https "
    "URL when the run ends with exit 1 or 2; no personal data, never the token.",
)
@click.option(
    "--canvas-state",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "report", "lookups"]),
    help="How to read Canvas: one provisioning report of every user and link (a few calls "
    "whatever the size), row-by-row look-ups, or auto: a report for rosters of "
    f"{AUTO_REPORT_ROWS} rows or more, look-ups when the report is refused or late.",
)
@report_timeout_option
@click.option(
    "--trust-contact-email",
    is_flag=True,
    help="Pair a guardian with an account found only through its contact email even when the "
    "account's name is not the roster's guardian name. By default such a row is "
    "observer_mismatch: a shared family address or a typo must not give a child's grades to "
    "another adult.",
)
@observer_id_template_option(
    "The SIS id a new guardian login gets, and the one a guardian with a guardian id "
    "(the roster's guardian_id, the OneRoster/SDS sourcedId) is looked up by first: {email} "
    "and/or {sourcedId} (the guardian id), as for export-sis, e.g. G-{sourcedId}."
)
@click.option(
    "--login-provider",
    default="canvas",
    show_default=True,
    metavar="canvas|ID|none",
    callback=lambda _ctx, _param, value: login_provider(value),
    help="The authentication provider a new guardian login is bound to: canvas (Canvas's own "
    "sign-in, so the guardian can set a password even where the district has single sign-on), "
    "a provider's id, or none (no provider: on an account with SSO, Canvas then manages the "
    "password of a login with an SIS id, and the guardian can never set one).",
)
@click.option(
    "--update-guardians",
    is_flag=True,
    help="An account found by the guardian id whose login is not the roster's email takes "
    "that email as its login and as an email address, and the roster's names. By default "
    "such a row is guardian_email_changed (paired with the account, nothing else changed).",
)
@source_options
@api_options
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="info",
    show_default=True,
    help="How much to log to stderr and the log file.",
)
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="Print only problems (warnings, errors) and the summary: no progress, no info lines "
    "on stderr. The log file keeps its --log-level.",
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Also log to this file, e.g. for cron (created readable only by you; a symbolic "
    "link is refused).",
)
def sync(
    roster: Path | None,
    canvas_url: str | None,
    token_file: Path | None,
    allow_insecure_http: bool,
    dry_run: bool,
    pairing: str,
    concurrency: int,
    report_path: Path | None,
    state_path: Path | None,
    time_zone: str | None,
    no_registration_email: bool,
    trust_contact_email: bool,
    canvas_state: str,
    report_timeout: float,
    remove_ended: bool,
    source_name: str | None,
    grace_runs: int,
    max_removals: int | None,
    force_removals: bool,
    exclude_path: Path | None,
    only: tuple[str, ...],
    skip: tuple[str, ...],
    fail_on: tuple[str, ...],
    notify_url: str | None,
    observer_id_template: str,
    login_provider: str | None,
    update_guardians: bool,
    source: SourceOptions,
    api: ApiSource | None,
    log_level: str,
    quiet: bool,
    log_file: Path | None,
) -> int:
    """Create and pair observer accounts for every row of ROSTER.

    ROSTER is a CSV with the columns student_id, observer_email, observer_first_name,
    observer_last_name, or a OneRoster / School Data Sync export (see --format); or, with
    --oneroster-api, the SIS's OneRoster API stands for it.

    Exit codes: 0 every row is paired (or would be); 1 the run finished but some rows need
    attention (see the summary or --report); 2 nothing was done: bad usage, unreadable roster,
    Canvas unreachable or the token rejected.
    """
    if not canvas_url:
        raise click.UsageError("no Canvas: pass --canvas-url URL or set CANVAS_URL")
    check_one_source(roster, api)
    token = read_token(token_file_to_use(token_file))
    secret = read_client_secret(api)
    secrets = (token, secret.reveal()) if secret is not None else (token,)
    setup_logging(log_level, log_file, secrets=secrets, quiet=quiet)
    canvas_url = canvas_url_or_exit(canvas_url, allow_insecure=allow_insecure_http)
    check_report_path(report_path)
    if state_path is not None:
        ensure_folder("--state", state_path)
    state = state_path or default_state_path(canvas_url)
    fail_set = frozenset(Outcome(name) for name in fail_on) if fail_on else DEFAULT_FAIL_ON
    rules = eligibility_rules(only, skip, api=api is not None)
    source = dataclasses.replace(source, keep=(*source.keep, *rule_columns(rules)))
    # The lock comes first: a second cron run stops before it reads the SIS (or the roster).
    # What stops the run before it starts (the lock held, no roster, the SIS's API down, the
    # journal) reaches the webhook too: a night without a run needs a person as much.
    with contextlib.ExitStack() as held:
        with not_started(notify_url, canvas_url):
            held.enter_context(run_lock(canvas_url, state, "sync"))
            warn_other_journals(canvas_url, state, new=not state.exists())
            read = read_roster(
                roster,
                source,
                api=api,
                secret=secret,
                snapshots=snapshot_folder(state),
                quiet=quiet,
            )
            excluded = read_exclusions(exclude_path) if exclude_path is not None else {}
            journal = held.enter_context(open_journal(state))
        data = apply_rules(read.roster, rules)
        location = str(roster.resolve()) if roster is not None else data.source
        run_source = source_name.strip() if source_name and source_name.strip() else location
        options = SyncOptions(
            method="direct" if pairing == "direct" else "code",
            dry_run=dry_run,
            concurrency=concurrency,
            send_registration=not no_registration_email,
            trust_contact_email=trust_contact_email,
            canvas_state=cast(CanvasStateMode, canvas_state),
            report_timeout=report_timeout,
            remove_ended=remove_ended,
            grace_runs=grace_runs,
            max_removals=max_removals,
            force_removals=force_removals,
            observer_id_template=observer_id_template,
            update_guardians=update_guardians,
            login_provider=login_provider,
        )
        settings: dict[str, object] = {
            "pairing": options.method,
            "dry_run": dry_run,
            "concurrency": concurrency,
            "send_registration": options.send_registration,
            "trust_contact_email": trust_contact_email,
            "canvas_state": canvas_state,
            "remove_ended": remove_ended,
            "source": run_source,
            "grace_runs": grace_runs,
            "force_removals": force_removals,
            "exclude": str(exclude_path) if exclude_path else None,
            "only": [rule.text for rule in rules if rule.only],
            "skip": [rule.text for rule in rules if not rule.only],
            "observer_id_template": observer_id_template,
            "update_guardians": update_guardians,
            "login_provider": login_provider or "none",
            "format": "oneroster" if api is not None else source.format or "detected",
            "roster": str(roster) if roster is not None else data.source,
            **read.settings(),
        }
        console = output_console(PipeConsole)
        zones: list[TimeZoneChoice] = []

        async def main(journal: Journal) -> RunResult:
            interrupt = StopRequest()
            install_stop_signals(interrupt)
            async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
                client = canvas_client(
                    http, base_url=canvas_url, token=token, allow_insecure=allow_insecure_http
                )
                zone = await time_zone_for(time_zone, client)
                zones.append(zone)
                # Kept with the run, so `show --html` later gives the same times.
                settings["time_zone"] = zone.key
                settings["time_zone_from"] = zone.source
                return await run_with_progress(
                    data,
                    client=client,
                    http=http,
                    base_url=canvas_url,
                    token=token,
                    options=options,
                    journal=journal,
                    allow_insecure=allow_insecure_http,
                    settings=settings,
                    console=console,
                    interrupt=interrupt,
                    excluded=excluded,
                    quiet=quiet,
                    source=run_source,
                    location=location,
                    fail_on=fail_set,
                )

        try:
            report = asyncio.run(main(journal))
        except KeyboardInterrupt:
            raise Stopped(
                "quit at once (second Ctrl-C); `canvas-observers runs` shows this run as "
                "interrupted, and the next run picks up where it left off"
            ) from None
    return finish(
        report,
        console=console,
        report_path=report_path,
        state_path=state,
        removal_candidates=data.removal_candidates,
        fail_on=fail_set,
        notify_url=notify_url,
        quiet=quiet,
        time_zone=zones[0] if zones else None,
    )
