"""Write Canvas SIS-import CSVs (``users.csv`` + ``user_observers.csv``) from a roster.

For sites that prefer Canvas's own importer to the API sync: nothing is sent to Canvas.
Column names and values follow Canvas ``doc/api/sis_csv.md`` (docs/canvas-behaviour.md, "SIS
import CSVs"):

* ``users.csv``: ``user_id`` (the observer's new SIS id, from ``observer_id_template``),
  ``login_id`` (the email), ``first_name``, ``last_name``, ``email``, ``status`` ``active``;
  one row per guardian email, with the names of its first roster row.
* ``user_observers.csv``: ``observer_id``, ``student_id`` (both users.csv ``user_id``s, i.e.
  SIS ids: Canvas looks them up among active pseudonyms with that ``sis_user_id``),
  ``status`` ``active``, or ``deleted`` for the SIS's removal candidates. Guardians known only
  through removal candidates get no users.csv row: a ``deleted`` users.csv row would delete
  their whole Canvas account, which is not what the SIS asked for.

Files are written with mode 0600 (they hold family emails), atomically (a temporary file in
the same folder, then ``os.replace``), in UTF-8 (Canvas refuses other charsets). A value that
a spreadsheet would run as a formula is neutralised in names; in ids and emails, which must
reach Canvas unchanged, the row is left out and reported instead.
"""

from __future__ import annotations

import csv
import io
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from canvas_observers.core.errors import CanvasObserversError
from canvas_observers.core.files import csv_safe, formula_risk, private_folder, write_private
from canvas_observers.roster.model import Roster, RowProblem
from canvas_observers.roster.sources import SourceOptions

USERS_COLUMNS = ("user_id", "login_id", "first_name", "last_name", "email", "status")
USER_OBSERVERS_COLUMNS = ("observer_id", "student_id", "status")
TEMPLATE_FIELDS = ("email", "sourcedId")


class ExportError(CanvasObserversError):
    """The export cannot be made as asked (bad template, unwritable folder): nothing written."""


@dataclass(frozen=True, slots=True)
class ExportResult:
    users_path: Path
    user_observers_path: Path
    guardians: int  # rows in users.csv
    active_links: int
    deleted_links: int
    roster: Roster
    problems: tuple[RowProblem, ...]  # the roster's, then the export's own
    warnings: tuple[str, ...] = ()


def check_template(template: str, *, has_sourced_ids: bool = True) -> None:
    """Raise ExportError unless ``template`` uses only ``{email}`` and ``{sourcedId}``."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ExportError(f"--observer-id-template {template!r}: {exc}") from exc
    fields = [name for _, name, spec, conv in parts if name is not None or spec or conv]
    if not fields:
        raise ExportError(
            f"--observer-id-template {template!r} has no {{email}} or {{sourcedId}}, so "
            "every guardian would get the same id"
        )
    for _, name, spec, conv in parts:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS or spec or conv:
            raise ExportError(
                f"--observer-id-template {template!r}: unknown field {{{name}}}; "
                "use {email} or {sourcedId}"
            )
        if name == "sourcedId" and not has_sourced_ids:
            raise ExportError(
                "--observer-id-template uses {sourcedId}, which only OneRoster and SDS "
                "exports have; use {email} with a four-column CSV"
            )


def observer_sis_id(template: str, *, email: str, guardian_id: str | None) -> str | None:
    """The Canvas SIS id a guardian's new login gets (``sync``): ``template`` with ``{email}``
    and ``{sourcedId}`` (the guardian id) filled in, as export-sis writes ``user_id``; None
    for a guardian without an id."""
    if guardian_id is None:
        return None
    return template.format(email=email, sourcedId=guardian_id)


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def build_export(
    roster: Roster, *, observer_id_template: str, guardian_ids: Mapping[str, str]
) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]], list[RowProblem]]:
    """Pure part: the users.csv rows, user_observers.csv rows, and rows left out."""
    check_template(observer_id_template)
    problems: list[RowProblem] = []

    def observer_id(email: str) -> str:
        sourced_id = guardian_ids.get(email, "")
        if not sourced_id and "{sourcedId}" in observer_id_template:
            raise ExportError(
                f"no guardian sourcedId is known for {email}; {{sourcedId}} in "
                "--observer-id-template needs a OneRoster or SDS export"
            )
        return observer_id_template.format(email=email, sourcedId=sourced_id)

    def risky(line: int, source: str, student_id: str, email: str, oid: str) -> bool:
        bad = [v for v in (student_id, email, oid) if formula_risk(v)]
        if bad:
            problems.append(
                RowProblem(
                    line,
                    f"{bad[0]!r} would be run as a formula by a spreadsheet; left out",
                    student_id=student_id,
                    observer_email=email,
                    source=source,
                )
            )
        return bool(bad)

    users: dict[str, tuple[str, ...]] = {}
    links: dict[tuple[str, str], tuple[str, ...]] = {}
    for row in roster.rows:
        oid = observer_id(row.observer_email)
        if risky(row.line, row.source, row.student_id, row.observer_email, oid):
            continue
        users.setdefault(
            row.observer_email,
            (
                oid,
                row.observer_email,
                csv_safe(row.observer_first_name),
                csv_safe(row.observer_last_name),
                row.observer_email,
                "active",
            ),
        )
        links.setdefault((oid, row.student_id), (oid, row.student_id, "active"))
    for cand in roster.removal_candidates:
        if "tobedeleted" not in cand.reason:
            # inactive / enabledUser=false is often temporary (summer, a reversed withdrawal):
            # a deleted row would remove the link and the observer's enrollments for good.
            problems.append(
                RowProblem(
                    cand.line,
                    f"link of student {cand.student_id} not written as deleted: {cand.reason} "
                    "may be temporary; only tobedeleted links are written as deleted",
                    student_id=cand.student_id,
                    observer_email=cand.observer_email,
                    source=cand.source,
                )
            )
            continue
        oid = observer_id(cand.observer_email)
        if risky(cand.line, cand.source, cand.student_id, cand.observer_email, oid):
            continue
        # An active row for the same pair (another record of the same email) wins.
        links.setdefault((oid, cand.student_id), (oid, cand.student_id, "deleted"))
    return list(users.values()), list(links.values()), problems


def export_sis(
    roster_source_path: Path,
    out_dir: Path,
    *,
    observer_id_template: str = "{email}",
    source: SourceOptions = SourceOptions(),  # noqa: B008 - frozen, so sharing it is safe
) -> ExportResult:
    """Read a roster source and write ``users.csv`` and ``user_observers.csv`` in ``out_dir``.

    Raises ``RosterError`` when the source is unreadable and ``ExportError`` for a bad
    template or folder; in both cases nothing is written.
    """
    check_template(observer_id_template)
    read = source.read_detailed(roster_source_path)
    if "{sourcedId}" in observer_id_template and read.format == "csv":
        check_template(observer_id_template, has_sourced_ids=False)
    users, links, problems = build_export(
        read.roster, observer_id_template=observer_id_template, guardian_ids=read.guardian_ids
    )
    try:
        private_folder(out_dir)
        users_path, links_path = out_dir / "users.csv", out_dir / "user_observers.csv"
        write_private(users_path, _csv_text(USERS_COLUMNS, users))
        write_private(links_path, _csv_text(USER_OBSERVERS_COLUMNS, links))
    except OSError as exc:
        raise ExportError(f"cannot write to {out_dir}: {exc}") from exc
    warnings: list[str] = []
    logins = sum(1 for _, student_id, _ in links if "@" in student_id)
    if logins:
        # user_observers.csv matches students by sis_user_id only (docs/canvas-behaviour.md).
        warnings.append(
            f"{logins} student id(s) look like emails, but user_observers.csv needs the "
            "students' SIS user ids; check --student-id-field"
        )
    return ExportResult(
        users_path=users_path,
        user_observers_path=links_path,
        guardians=len(users),
        active_links=sum(1 for link in links if link[2] == "active"),
        deleted_links=sum(1 for link in links if link[2] == "deleted"),
        roster=read.roster,
        problems=(*read.roster.problems, *problems),
        warnings=tuple(warnings),
    )
