"""`canvas-observers letters`: pairing-code letters for families the nightly sync cannot reach.

A guardian with no email in the SIS cannot get an observer account from the sync (``no_email``).
This command asks Canvas for a pairing code per (student, guardian) and writes a PDF with one
letter per code, and/or a mail-merge CSV; the parent signs up with the code and is paired by
Canvas. The codes are kept in the journal (``letter_codes``), so a second run within the week
prints the same codes (``sync/letters.py`` says when). The codes are never printed here nor
logged: they are in the two files only, each readable by its owner only.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from pathlib import Path

import click
import httpx

from canvas_observers.canvas.errors import CanvasError
from canvas_observers.cli.common import (
    Command,
    canvas_url_or_exit,
    ensure_folder,
    output_console,
    read_token,
    setup_logging,
    token_file_to_use,
)
from canvas_observers.cli.config import config_option
from canvas_observers.cli.exits import EXIT_OK, Stopped, attention_exit_code
from canvas_observers.cli.options import (
    CANVAS_GROUP,
    ROSTER_GROUPS,
    canvas_options,
    help_groups,
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
from canvas_observers.cli.wiring import REQUEST_TIMEOUT, canvas_client, time_zone_for
from canvas_observers.core.clock import utc_now
from canvas_observers.core.timezone import TimeZoneChoice
from canvas_observers.report.letters import (
    LANGUAGES,
    Letter,
    template_language,
    write_codes_csv,
    write_letters_pdf,
)
from canvas_observers.roster.model import extra_value
from canvas_observers.roster.sources import SourceOptions
from canvas_observers.store.journal import Journal, default_state_path
from canvas_observers.sync.letters import (
    CODE_REFUSED,
    Codes,
    Wanted,
    issue_codes,
    wanted_letters,
)
from canvas_observers.sync.run import read_canvas
from canvas_observers.sync.stopping import RunAborted

SELF_REGISTRATION_HINT = (
    "Canvas refused a pairing code for an enrolled student: the token may lack "
    "generate_observer_pairing_code, or self-registration for parents may be off "
    "(Admin > Settings > Authentication, Self Registration: For observers only)."
)


def _out_path(flag: str, path: Path | None, suffix: str) -> None:
    if path is None:
        return
    if path.suffix.lower() != suffix:
        raise click.UsageError(f"{flag} {path}: the name must end in {suffix}")
    ensure_folder(flag, path)


@click.command("letters", cls=Command)
@help_groups(
    ("Canvas", CANVAS_GROUP),
    *ROSTER_GROUPS,
    (
        "Letters",
        (
            "--out",
            "--csv",
            "--all",
            "--without-observer",
            "--reissue",
            "--school-name",
            "--school-column",
            "--language",
            "--language-column",
            "--templates",
        ),
    ),
    ("Journal and time", ("--state", "--time-zone", "--report-timeout")),
)
@roster_argument
@config_option
@canvas_options
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH.pdf",
    help="Write the letters, one page each, to this PDF (readable only by you).",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH.csv",
    help="Write a mail-merge file: student, guardian, code, expiry, address (only you read it).",
)
@click.option(
    "--all",
    "everyone",
    is_flag=True,
    help="A letter for every (student, guardian) of the roster, not only guardians with no email.",
)
@click.option(
    "--without-observer",
    is_flag=True,
    help="A letter for each guardian of the roster's students nobody observes in Canvas "
    "(read from Canvas's provisioning report, as the audit does), with or without email.",
)
@click.option(
    "--reissue",
    is_flag=True,
    help="Ask Canvas for new codes, even where a printed one still has days left.",
)
@click.option(
    "--school-name",
    metavar="NAME",
    help="The school or district named at the top of each letter (settings key school_name).",
)
@click.option(
    "--school-column",
    metavar="NAME",
    help="A roster column (CSV or Excel) naming each row's school, used instead of "
    "--school-name where the row has a value.",
)
@click.option(
    "--language",
    type=click.Choice(LANGUAGES),
    default="en",
    show_default=True,
    help="The letters' language: the English or the Spanish sample template.",
)
@click.option(
    "--language-column",
    metavar="NAME",
    help="A roster column (CSV or Excel) choosing each family's template (en, English, es, "
    "Spanish, Español, es-MX...); blank or unknown values get --language, with a note.",
)
@click.option(
    "--templates",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    metavar="DIR",
    help="A folder with your own edited letter.en.html.j2 / letter.es.html.j2 "
    "(copies of the samples), used instead of the samples.",
)
@state_option(
    "The SQLite journal, which remembers the codes printed. Default: the one of this "
    "Canvas under ~/.local/state/canvas-observers/."
)
@time_zone_option(
    "The time zone of the codes' expiry, e.g. America/Chicago. Default: the Canvas "
    "account's time zone, else this computer's."
)
@report_timeout_option
@source_options
@api_options
def letters(
    roster: Path | None,
    canvas_url: str | None,
    token_file: Path | None,
    out_path: Path | None,
    csv_path: Path | None,
    everyone: bool,
    without_observer: bool,
    reissue: bool,
    school_name: str | None,
    school_column: str | None,
    language: str,
    language_column: str | None,
    templates: Path | None,
    state_path: Path | None,
    time_zone: str | None,
    report_timeout: float,
    source: SourceOptions,
    api: ApiSource | None,
    allow_insecure_http: bool,
) -> int:
    """Print pairing-code letters for guardians the sync cannot reach (no email in the SIS).

    One Canvas pairing code, and one letter, per (student, guardian): the parent signs up
    with it on Canvas's login page or in the Canvas Parent app and is paired with that
    student only. A code still valid for 3 days, with nobody linked to the student since, is
    printed again rather than replaced. Students with no current enrollment get no letter
    (Canvas gives them no code) and are listed as not_enrolled. --all: every guardian of the
    roster; --without-observer: the guardians of the roster's students nobody observes yet.

    Exit codes: 0 every letter was made; 1 some were not (listed); 2 bad usage, unreadable
    roster, token refused, Canvas unreachable.
    """
    if not canvas_url:
        raise click.UsageError("no Canvas: pass --canvas-url URL or set CANVAS_URL")
    if out_path is None and csv_path is None:
        raise click.UsageError("say where the letters go: --out letters.pdf and/or --csv codes.csv")
    if everyone and without_observer:
        raise click.UsageError("--all and --without-observer choose differently: pass one")
    check_one_source(roster, api)
    keep = tuple(dict.fromkeys(c.strip() for c in (language_column, school_column) if c))
    if any(not c for c in (language_column, school_column) if c is not None):
        raise click.UsageError("--language-column and --school-column need a column name")
    source = dataclasses.replace(source, keep=keep)
    canvas_url = canvas_url_or_exit(canvas_url, allow_insecure=allow_insecure_http)
    _out_path("--out", out_path, ".pdf")
    _out_path("--csv", csv_path, ".csv")
    token = read_token(token_file_to_use(token_file))
    secret = read_client_secret(api)
    setup_logging("info", None, secrets=(token, secret.reveal()) if secret else (token,))
    state = state_path or default_state_path(canvas_url)
    data = read_roster(
        roster, source, api=api, secret=secret, snapshots=snapshot_folder(state)
    ).roster
    console = output_console()
    now = utc_now()
    with Journal.open(state) as journal:
        stored = journal.letter_codes(canvas_url=canvas_url)

        async def main() -> tuple[list[Wanted], Codes, TimeZoneChoice]:
            async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
                client = canvas_client(
                    http, base_url=canvas_url, token=token, allow_insecure=allow_insecure_http
                )
                seen = None
                if without_observer:
                    seen = await read_canvas(client, wait_at_most=report_timeout)
                wanted = wanted_letters(data, everyone=everyone, unobserved=seen)
                zone = await time_zone_for(time_zone, client)
                codes = await issue_codes(client, wanted, stored=stored, now=now, reissue=reissue)
                return wanted, codes, zone

        try:
            wanted, codes, zone = asyncio.run(main())
        except RunAborted as stop:
            raise Stopped(f"no letter was made: {stop.reason}") from stop
        except CanvasError as error:
            raise Stopped(f"Canvas: {error}") from error
        except KeyboardInterrupt:
            raise Stopped("interrupted (Ctrl-C); no letter was written") from None
        for note in _unknown_languages(wanted, language_column, default=language):
            console.print(note, markup=False)
        made = [
            Letter(
                student_id=i.wanted.student_id,
                student_name=i.student.name,
                guardian_name=i.wanted.guardian_name,
                school=_column(i.wanted, school_column) or school_name or canvas_url,
                language=_language(i.wanted, language_column, default=language),
                code=i.code,
                expires_at=i.expires_at,
                canvas_url=canvas_url,
            )
            for i in codes.issued
        ]
        # The codes are kept before the files are written: a code Canvas issued is live
        # whether or not its letter is printed, and the next run must know it.
        journal.record_letter_codes(canvas_url=canvas_url, codes=codes.to_store)
    try:
        if out_path is not None:
            write_letters_pdf(out_path, made, zone=zone.zone, templates=templates)
        if csv_path is not None:
            write_codes_csv(csv_path, made, zone=zone.zone)
    except OSError as error:
        raise Stopped(f"cannot write the letters: {error.strerror or error}") from error
    for issued in codes.issued:
        how = "the code printed before" if issued.reprinted else "a new code"
        guardian = issued.wanted.guardian_name or "the parent or guardian"
        console.print(
            f"letter: {guardian} for {issued.student.name} ({issued.wanted.student_id}), {how}",
            markup=False,
        )
    for skipped in codes.skipped:
        guardian = skipped.wanted.guardian_name or "the parent or guardian"
        console.print(
            f"{skipped.outcome}: {guardian} for {skipped.student_name or skipped.wanted.student_id}"
            f" (line {skipped.wanted.line}): {skipped.detail}",
            markup=False,
        )
    if any(s.outcome == CODE_REFUSED for s in codes.skipped):
        console.print(SELF_REGISTRATION_HINT, markup=False)
    new = sum(1 for i in codes.issued if not i.reprinted)
    console.print(
        f"{len(made)} letters ({new} new codes, {len(made) - new} printed again), "
        f"{len(codes.skipped)} not made. Expiry times in {zone.stated}.",
        markup=False,
    )
    for path in (out_path, csv_path):
        if path is not None:
            console.print(f"Written to {path} (readable only by you: it holds live codes)")
    if not wanted:
        if without_observer:
            console.print("Every student of this roster found in Canvas has an observer.")
        else:
            console.print("No guardian without an email in this roster: pass --all for every row.")
        return EXIT_OK
    return attention_exit_code(bool(codes.skipped))


def _column(wanted: Wanted, column: str | None) -> str:
    return extra_value(wanted.extra, column) if column else ""


def _language(wanted: Wanted, column: str | None, *, default: str) -> str:
    """The row's language column's template, else ``--language``."""
    return template_language(_column(wanted, column)) or default


def _unknown_languages(wanted: Sequence[Wanted], column: str | None, *, default: str) -> list[str]:
    """A note per value of the language column no template fits, naming its roster lines."""
    if not column:
        return []
    lines: dict[str, list[int]] = {}
    for want in wanted:
        value = _column(want, column)
        if value and template_language(value) is None:
            lines.setdefault(value, []).append(want.line)
    return [
        f"note: {column} {value!r} (line{'s' if len(at) > 1 else ''} "
        f"{', '.join(str(n) for n in at)}) is not a language with a letter template "
        f"({', '.join(LANGUAGES)}); those letters are in {default}"
        for value, at in lines.items()
    ]
