"""Canvas SIS-import export (users.csv + user_observers.csv) and the export-sis command."""

from __future__ import annotations

import csv
import stat
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from canvas_observers.cli.export import export_sis as export_command
from canvas_observers.cli.options import source_options
from canvas_observers.roster.model import RosterError
from canvas_observers.roster.sources import SourceOptions
from canvas_observers.sis_export import ExportError, export_sis, observer_sis_id
from tests.wiring import HEADER

V11 = Path(__file__).resolve().parents[1] / "roster" / "fixtures" / "oneroster11"
SDS = Path(__file__).resolve().parents[1] / "fixtures" / "samples" / "sds-v2.1-guardians"

# Canvas doc/api/sis_csv.md (docs/canvas-behaviour.md, "SIS import CSVs"): every users.csv
# column Canvas knows, the ones it requires, and the three (all required) columns of
# user_observers.csv.
SIS_USERS_COLUMNS = {
    "user_id", "integration_id", "login_id", "password", "ssha_password",
    "authentication_provider_id", "first_name", "last_name", "full_name", "sortable_name",
    "short_name", "email", "pronouns", "declared_user_type", "status",
}  # fmt: skip
SIS_USERS_REQUIRED = {"user_id", "login_id", "status"}
SIS_OBSERVERS_COLUMNS = ["observer_id", "student_id", "status"]


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fp:
        reader = csv.DictReader(fp)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def four_column(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "roster.csv"
    body = HEADER + "".join(r + "\n" for r in rows)
    path.write_text(body, encoding="utf-8")
    return path


def check_sis_shape(out: Path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Assert both files follow the SIS CSV spec; return their rows."""
    user_cols, users = read_csv(out / "users.csv")
    link_cols, links = read_csv(out / "user_observers.csv")
    assert set(user_cols) <= SIS_USERS_COLUMNS and set(user_cols) >= SIS_USERS_REQUIRED
    assert link_cols == SIS_OBSERVERS_COLUMNS
    assert all(u["status"] in {"active", "suspended", "deleted"} for u in users)
    assert all(u["user_id"] and u["login_id"] for u in users)
    assert all(link["status"] in {"active", "deleted"} for link in links)
    assert all(link["observer_id"] and link["student_id"] for link in links)
    ids = {u["user_id"] for u in users}
    assert all(link["observer_id"] in ids for link in links if link["status"] == "active")
    return users, links


def test_oneroster_export_matches_the_sis_spec(tmp_path: Path) -> None:
    """A OneRoster bundle gives one users.csv row per guardian and active/deleted links."""
    result = export_sis(V11, tmp_path / "out", observer_id_template="G-{sourcedId}")
    users, links = check_sis_shape(tmp_path / "out")
    assert [(u["user_id"], u["login_id"], u["first_name"], u["last_name"]) for u in users] == [
        ("G-G1", "ana.lopez@example.org", "Ana", "Lopez"),
        ("G-G2", "ben@example.org", "Ben", "Okafor"),
        ("G-G6", "eve@example.org", "Eve", "Nwosu"),
    ]
    assert all(u["email"] == u["login_id"] and u["status"] == "active" for u in users)
    assert [tuple(link.values()) for link in links] == [
        ("G-G1", "1001", "active"),
        ("G-G1", "s2user", "active"),
        ("G-G2", "1001", "active"),
        ("G-G6", "1003", "active"),
        ("G-G5", "s2user", "deleted"),  # G5 is tobedeleted
    ]
    # S4 is only enabledUser=false (often temporary): its link is reported, not deleted.
    assert (result.guardians, result.active_links, result.deleted_links) == (3, 4, 1)
    assert {f"{p.source}:{p.line}" for p in result.problems} == {
        "users.csv:4",
        "users.csv:8",
        "users.csv:3",  # the link, on the guardian's (G2's) line
        "users.csv:12",
    }
    (kept,) = [p for p in result.problems if p.line == 3]
    assert "not written as deleted: student enabledUser false may be temporary" in kept.reason


def test_files_are_private_and_written_atomically(tmp_path: Path) -> None:
    """Both files are 0600, replace older ones, and leave no temporary files."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "users.csv").write_text("old", encoding="utf-8")
    export_sis(V11, out)
    for name in ("users.csv", "user_observers.csv"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    assert sorted(p.name for p in out.iterdir()) == ["user_observers.csv", "users.csv"]
    assert (out / "users.csv").read_text(encoding="utf-8").startswith("user_id,")


def test_email_template_from_a_four_column_csv(tmp_path: Path) -> None:
    """The default {email} template works with the plain CSV; siblings share one guardian."""
    src = four_column(tmp_path, "501,Ana@Example.org,Ana,Ng", "502,ana@example.org,Ana,Ng")
    export_sis(src, tmp_path / "out")
    users, links = check_sis_shape(tmp_path / "out")
    assert [u["user_id"] for u in users] == ["ana@example.org"]
    assert [(x["observer_id"], x["student_id"]) for x in links] == [
        ("ana@example.org", "501"),
        ("ana@example.org", "502"),
    ]


def test_sourced_id_template_refused_for_plain_csv(tmp_path: Path) -> None:
    """{sourcedId} needs a OneRoster/SDS export: an error, and nothing written."""
    src = four_column(tmp_path, "501,ana@example.org,Ana,Ng")
    with pytest.raises(ExportError, match="sourcedId"):
        export_sis(src, tmp_path / "out", observer_id_template="G-{sourcedId}")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("template", ["G-{id}", "plain", "{email.__class__}", "{email!r}", "{"])
def test_bad_templates_are_refused(tmp_path: Path, template: str) -> None:
    """Only {email} and {sourcedId}, without conversions or attributes, are accepted."""
    with pytest.raises(ExportError):
        export_sis(V11, tmp_path / "out", observer_id_template=template)


def test_formula_cells_are_neutralised_or_left_out(tmp_path: Path) -> None:
    """A name starting with = is quoted; a student id starting with = is left out, reported."""
    src = four_column(
        tmp_path, "501,ana@example.org,=HYPERLINK(1),Ng", "=cmd|x,bo@example.org,Bo,Ng"
    )
    result = export_sis(src, tmp_path / "out")
    users, links = check_sis_shape(tmp_path / "out")
    assert [u["first_name"] for u in users] == ["'=HYPERLINK(1)"]
    assert [x["student_id"] for x in links] == ["501"]
    assert [(p.line, "formula" in p.reason) for p in result.problems] == [(3, True)]


def test_unreadable_source_writes_nothing(tmp_path: Path) -> None:
    """A bundle without users.csv raises RosterError before any file is written."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "relationships.csv").write_text("x\n", encoding="utf-8")
    with pytest.raises(RosterError):
        export_sis(tmp_path / "empty", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_sds_sample_export(tmp_path: Path) -> None:
    """Microsoft's SDS sample exports its two guardians with their sourcedIds."""
    export_sis(SDS, tmp_path / "out", observer_id_template="P{sourcedId}")
    users, links = check_sis_shape(tmp_path / "out")
    assert [u["user_id"] for u in users] == ["P114002", "P114005"]
    assert [(x["observer_id"], x["student_id"]) for x in links] == [
        ("P114002", "114001"),
        ("P114005", "114004"),
    ]


def test_cli_prints_summary_and_problems_with_file_and_line(tmp_path: Path) -> None:
    """export-sis prints counts and each problem as file:line, exit 1 when rows were skipped."""
    result = CliRunner().invoke(
        export_command, [str(V11), "--out", str(tmp_path / "o"), "--guardian-roles", "parent"]
    )
    assert result.exit_code == 1, result.output
    assert "2 guardian(s)" in result.output  # G2 and G6 have role parent and links
    assert "users.csv:4" not in result.output  # G3 is a guardian, not asked for
    assert "users.csv:12: agentSourcedIds names S9" in result.output


def test_cli_exit_0_when_clean(tmp_path: Path) -> None:
    """A clean roster exports with exit 0."""
    src = four_column(tmp_path, "501,ana@example.org,Ana,Ng")
    result = CliRunner().invoke(export_command, [str(src), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "1 active link(s)" in result.output


def test_cli_unreadable_roster_exits_2(tmp_path: Path) -> None:
    """A RosterError becomes 'error: ...' on stderr and exit 2, with nothing written."""
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "users.csv").write_text("sourcedId,role\n", encoding="utf-8")
    result = CliRunner().invoke(export_command, [str(tmp_path / "b"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "error: users.csv:1 (agentSourcedIds)" in result.output
    assert not (tmp_path / "o").exists()


def test_cli_bad_template_is_a_usage_error(tmp_path: Path) -> None:
    """An unknown template field is refused by click before anything is read."""
    result = CliRunner().invoke(
        export_command,
        [str(V11), "--out", str(tmp_path / "o"), "--observer-id-template", "{id}"],
    )
    assert result.exit_code == 2 and "unknown field {id}" in result.output


def test_every_option_has_help() -> None:
    """export-sis documents every option in --help."""
    for param in export_command.params:
        if isinstance(param, click.Option):
            assert param.help, param.name
    result = CliRunner().invoke(export_command, ["--help"])
    assert result.exit_code == 0
    for flag in ("--out", "--observer-id-template", "--format", "--guardian-roles",
                 "--student-id-field", "--legal-names", "--encoding"):  # fmt: skip
        assert flag in result.output


def test_source_options_collapse_into_one_value() -> None:
    """source_options gives any command a SourceOptions built from the shared flags."""
    seen: list[SourceOptions] = []

    @click.command()
    @source_options
    def probe(source: SourceOptions) -> None:
        seen.append(source)

    args = ["--format", "sds", "--guardian-roles", "Parent, relative", "--legal-names",
            "--student-id-field", "{SIS}", "--encoding", "cp1252"]  # fmt: skip
    assert CliRunner().invoke(probe, args).exit_code == 0
    assert seen == [SourceOptions("sds", ("parent", "relative"), "{SIS}", False, "cp1252")]
    bad = CliRunner().invoke(probe, ["--encoding", "klingon"])
    assert bad.exit_code == 2 and "unknown encoding" in bad.output


def test_observer_sis_id_fills_the_template_from_the_guardian_id() -> None:
    """sync's SIS id for a new login: the export-sis template, filled with the guardian id
    and email; no guardian id, no SIS id."""
    assert observer_sis_id("G-{sourcedId}", email="a@b.test", guardian_id="17") == "G-17"
    assert observer_sis_id("{email}", email="a@b.test", guardian_id="17") == "a@b.test"
    assert observer_sis_id("G-{sourcedId}", email="a@b.test", guardian_id=None) is None
