"""`canvas-observers export-sis`: write Canvas SIS-import CSVs; nothing is sent to Canvas."""

from __future__ import annotations

from pathlib import Path

import click

from canvas_observers.cli.common import Command
from canvas_observers.cli.config import config_option
from canvas_observers.cli.exits import Stopped, attention_exit_code
from canvas_observers.cli.options import (
    ROSTER_GROUPS,
    help_groups,
    observer_id_template_option,
    source_options,
)
from canvas_observers.cli.roster_input import (
    ApiSource,
    api_options,
    check_one_source,
    fetch_snapshot,
    read_client_secret,
    snapshot_source,
)
from canvas_observers.report.render import printable
from canvas_observers.roster.model import RosterError
from canvas_observers.roster.sources import SourceOptions
from canvas_observers.sis_export import ExportError
from canvas_observers.sis_export import export_sis as run_export

MAX_LISTED = 20  # problems printed one per line; the rest are counted


@click.command("export-sis", cls=Command)
@help_groups(("Output", ("--out", "--observer-id-template")), *ROSTER_GROUPS)
@click.argument("path", required=False, type=click.Path(path_type=Path))
@config_option
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write users.csv and user_observers.csv into (created if missing; "
    "existing files of those names are replaced).",
)
@observer_id_template_option(
    "The guardians' new Canvas SIS user_id: {email} and/or {sourcedId} (the "
    "OneRoster/SDS guardian id), e.g. G-{sourcedId}."
)
@source_options
@api_options
def export_sis(
    path: Path | None,
    out_dir: Path,
    observer_id_template: str,
    source: SourceOptions,
    api: ApiSource | None,
) -> int:
    """Write Canvas SIS-import files for the guardians of PATH; nothing is sent to Canvas.

    PATH is a four-column roster CSV, or a OneRoster / School Data Sync export (folder or
    .zip), or with --oneroster-api the SIS's OneRoster API (its snapshot is kept in
    OUT/oneroster-snapshots). Writes users.csv (one row per guardian) and user_observers.csv
    (active links, and deleted ones for users the SIS marks tobedeleted) for Canvas's SIS
    import. Exit codes: 0 written, 1 written but some rows were skipped, 2 nothing written
    (unreadable roster).
    """
    check_one_source(path, api)
    secret = read_client_secret(api)
    if api is not None:
        assert secret is not None
        fetched = fetch_snapshot(api, secret, out_dir / "oneroster-snapshots")
        path, source = fetched.dest, snapshot_source(source)
    assert path is not None
    try:
        result = run_export(path, out_dir, observer_id_template=observer_id_template, source=source)
    except (RosterError, ExportError) as exc:
        raise Stopped(printable(str(exc))) from exc
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
            click.echo(printable(f"  {where}: {problem.reason}"))
        if len(result.problems) > MAX_LISTED:
            click.echo(f"  ... and {len(result.problems) - MAX_LISTED} more")
    return attention_exit_code(bool(result.problems))
