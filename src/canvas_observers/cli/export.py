"""`canvas-observers export-sis`: write Canvas SIS-import CSVs; nothing is sent to Canvas.

Also home of ``source_options``, the roster-source flags (``--format``, ``--guardian-roles``,
``--student-id-field``, ``--legal-names``, ``--encoding``, ``--column``, ``--delimiter``)
shared with ``sync``: they reach the command as one ``source: SourceOptions`` value.
"""

from __future__ import annotations

import codecs
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from canvas_observers.cli.common import fail
from canvas_observers.cli.config import config_option
from canvas_observers.cli.exits import EXIT_ATTENTION, EXIT_OK, EXIT_STOPPED
from canvas_observers.roster.columns import parse_delimiter, parse_mapping
from canvas_observers.roster.export import ExportError, check_template
from canvas_observers.roster.export import export_sis as run_export
from canvas_observers.roster.model import RosterError
from canvas_observers.roster.sources import FORMATS, SourceOptions

F = TypeVar("F", bound=Callable[..., Any])
MAX_LISTED = 20  # problems printed one per line; the rest are counted


def _printable(text: str) -> str:
    """SIS values reach the terminal: escape control characters (no terminal escapes)."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _roles(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    roles = tuple(r.strip().lower() for r in value.split(",") if r.strip())
    if not roles:
        raise click.BadParameter("name at least one role, e.g. parent,guardian")
    return roles


def _encoding(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        codecs.lookup(value)
    except LookupError:
        raise click.BadParameter(f"unknown encoding {value!r} (try utf-8, cp1252)") from None
    return value


def _column(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    try:
        return tuple(parse_mapping(values).items())
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _delimiter(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        return parse_delimiter(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


_SOURCE_FLAGS = (
    click.option(
        "--format",
        "source_format",
        type=click.Choice(FORMATS),
        default=None,
        help="Roster format: csv (four columns), oneroster (1.1/1.2 folder, zip or "
        "users.csv) or sds (School Data Sync v2.1). Default: detected. See docs/oneroster.md.",
    ),
    click.option(
        "--guardian-roles",
        default="parent,guardian",
        show_default=True,
        callback=_roles,
        help="OneRoster/SDS roles that count as guardians, comma-separated "
        "(add relative only if relatives should see grades).",
    ),
    click.option(
        "--student-id-field",
        default="identifier",
        show_default=True,
        help="OneRoster/SDS field used as the student's Canvas SIS id: identifier (falls "
        "back to username), username, sourcedId, email, or a userIds type like {SIS}.",
    ),
    click.option(
        "--legal-names",
        is_flag=True,
        help="OneRoster 1.2: use givenName/familyName even where "
        "preferredGivenName/preferredFamilyName are given.",
    ),
    click.option(
        "--encoding",
        default="utf-8",
        show_default=True,
        callback=_encoding,
        help="Text encoding of the roster files (e.g. cp1252, utf-16).",
    ),
    click.option(
        "--column",
        "columns",
        multiple=True,
        metavar="NAME=HEADER",
        callback=_column,
        help="Four-column CSV: the file's own header for a roster column, e.g. "
        "--column 'student_id=Student ID' --column 'observer_email=Parent Email' (repeat "
        "per column). OneRoster and SDS ignore it.",
    ),
    click.option(
        "--delimiter",
        default=",",
        show_default=True,
        callback=_delimiter,
        help="Four-column CSV: the separator, ',' or ';' or a tab ('\\t' or tab). OneRoster "
        "and SDS ignore it.",
    ),
)


def source_options(command: F) -> F:
    """Add the roster-source flags to a click command; it receives ``source: SourceOptions``."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["source"] = SourceOptions(
            format=kwargs.pop("source_format"),
            guardian_roles=kwargs.pop("guardian_roles"),
            student_id_field=kwargs.pop("student_id_field"),
            prefer_preferred_names=not kwargs.pop("legal_names"),
            encoding=kwargs.pop("encoding"),
            columns=kwargs.pop("columns"),
            delimiter=kwargs.pop("delimiter"),
        )
        return command(*args, **kwargs)

    decorated: Any = wrapper
    for flag in reversed(_SOURCE_FLAGS):
        decorated = flag(decorated)
    return decorated  # type: ignore[no-any-return]


def _template(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        check_template(value)
    except ExportError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@click.command("export-sis")
@click.argument("path", type=click.Path(path_type=Path))
@config_option
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write users.csv and user_observers.csv into (created if missing; "
    "existing files of those names are replaced).",
)
@click.option(
    "--observer-id-template",
    default="{email}",
    show_default=True,
    callback=_template,
    help="The guardians' new Canvas SIS user_id: {email} and/or {sourcedId} (the "
    "OneRoster/SDS guardian id), e.g. G-{sourcedId}.",
)
@source_options
def export_sis(path: Path, out_dir: Path, observer_id_template: str, source: SourceOptions) -> None:
    """Write Canvas SIS-import files for the guardians of PATH; nothing is sent to Canvas.

    PATH is a four-column roster CSV, or a OneRoster / School Data Sync export (folder or
    .zip). Writes users.csv (one row per guardian) and user_observers.csv (active links, and
    deleted ones for users the SIS marks tobedeleted) for Canvas's SIS import. Exit codes: 0
    written, 1 written but some rows were skipped, 2 nothing written (unreadable roster).
    """
    try:
        result = run_export(
            path,
            out_dir,
            observer_id_template=observer_id_template,
            format=source.format,
            guardian_roles=source.guardian_roles,
            student_id_field=source.student_id_field,
            prefer_preferred_names=source.prefer_preferred_names,
            encoding=source.encoding,
            columns=dict(source.columns),
            delimiter=source.delimiter,
        )
    except (RosterError, ExportError) as exc:
        fail(_printable(str(exc)), EXIT_STOPPED)
        return
    click.echo(f"{result.users_path}: {result.guardians} guardian(s)")
    click.echo(
        f"{result.user_observers_path}: {result.active_links} active link(s), "
        f"{result.deleted_links} deleted (removal candidates)"
    )
    if result.roster.duplicates:
        click.echo(f"{result.roster.duplicates} duplicate link(s) collapsed")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if result.problems:
        click.echo(f"{len(result.problems)} problem(s), rows skipped:")
        for problem in result.problems[:MAX_LISTED]:
            where = f"{problem.source}:{problem.line}" if problem.source else f"line {problem.line}"
            click.echo(_printable(f"  {where}: {problem.reason}"))
        if len(result.problems) > MAX_LISTED:
            click.echo(f"  ... and {len(result.problems) - MAX_LISTED} more")
    raise SystemExit(EXIT_ATTENTION if result.problems else EXIT_OK)
