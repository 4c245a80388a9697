"""OneRoster exports read from a folder or a zip: ending records, one export per zip, ids and
links never guessed."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from canvas_observers.roster.model import RosterError
from canvas_observers.roster.sources import read_source, read_source_detailed

USERS = "sourcedId,status,role,givenName,familyName,identifier,email,agentSourcedIds\n"


def test_a_student_role_tobedeleted_in_roles_csv_ends_the_link(tmp_path: Path) -> None:
    """OneRoster 1.2: a student whose only student role is tobedeleted is not provisioned."""
    (tmp_path / "users.csv").write_text(
        "sourcedId,status,givenName,familyName,identifier,email,agentSourcedIds\n"
        "G1,active,Pat,Lee,G1,pat@x.org,S1\n"
        "S1,active,Kai,Lee,1001,,\n",
        encoding="utf-8",
    )
    (tmp_path / "roles.csv").write_text(
        "sourcedId,status,userSourcedId,roleType,role\n"
        "r0,active,G1,primary,parent\n"
        "r1,tobedeleted,S1,primary,student\n",
        encoding="utf-8",
    )
    roster = read_source(tmp_path)
    assert roster.rows == ()
    assert [(c.student_id, c.observer_email) for c in roster.removal_candidates] == [
        ("1001", "pat@x.org")
    ]


def test_a_zip_with_two_exports_is_refused_not_guessed(tmp_path: Path) -> None:
    """Two users.csv at the same depth (two nights' exports) are an error naming both."""
    bundle = tmp_path / "exports.zip"
    text = USERS + "G1,active,parent,Pat,Lee,G1,pat@x.org,S1\nS1,active,student,Kai,Lee,1,,\n"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("exports/2024-09-01/users.csv", text)
        archive.writestr("exports/2024-09-02/users.csv", text)
    with pytest.raises(RosterError, match="more than one export"):
        read_source(bundle)


def test_a_zip_reads_every_file_from_the_export_folder(tmp_path: Path) -> None:
    """roles.csv is read from the folder of users.csv, not from another folder of the zip."""
    bundle = tmp_path / "export.zip"
    users = (
        "sourcedId,status,givenName,familyName,identifier,email,agentSourcedIds\n"
        "G1,active,Pat,Lee,G1,pat@x.org,S1\nS1,active,Kai,Lee,1001,,\n"
    )
    roles = "sourcedId,status,userSourcedId,roleType,role\n"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("export/users.csv", users)
        archive.writestr(
            "export/roles.csv",
            roles + "r0,active,G1,primary,parent\nr1,active,S1,primary,student\n",
        )
        archive.writestr("old/stuff/roles.csv", roles + "r0,active,G1,primary,teacher\n")
    assert [(r.student_id, r.observer_email) for r in read_source(bundle).rows] == [
        ("1001", "pat@x.org")
    ]


def test_an_active_guardian_keeps_their_own_id_when_an_ending_record_shares_the_email(
    tmp_path: Path,
) -> None:
    """export-sis ids: an active guardian record's sourcedId wins over a tobedeleted one's."""
    (tmp_path / "users.csv").write_text(
        USERS
        + "G1,tobedeleted,parent,Pat,Lee,G1,pat@x.org,S1\n"
        + "G2,active,parent,Pat,Lee,G2,pat@x.org,S1\n"
        + "S1,active,student,Kai,Lee,1001,,\n",
        encoding="utf-8",
    )
    read = read_source_detailed(tmp_path)
    assert read.guardian_ids["pat@x.org"] == "G2"


def test_an_export_with_no_guardian_links_is_an_error(tmp_path: Path) -> None:
    """Nothing found for the roles asked (say, only relatives): said loudly, not a silent 0."""
    (tmp_path / "users.csv").write_text(
        USERS + "G1,active,relative,Pat,Lee,G1,pat@x.org,S1\nS1,active,student,Kai,Lee,1,,\n",
        encoding="utf-8",
    )
    with pytest.raises(RosterError, match="no guardian-student links for the roles parent"):
        read_source(tmp_path)
    assert len(read_source(tmp_path, guardian_roles=("relative",)).rows) == 1


def test_two_ids_of_one_userids_type_are_never_guessed(tmp_path: Path) -> None:
    """`{SIS:1001},{SIS:9999}`: the student is reported, not paired under either id."""
    (tmp_path / "users.csv").write_text(
        USERS.replace("agentSourcedIds", "agentSourcedIds,userIds")
        + "G1,active,parent,Pat,Lee,G1,pat@x.org,S1,\n"
        + 'S1,active,student,Kai,Lee,,,,"{SIS:1001},{SIS:9999}"\n'
        + 'S2,active,student,Lia,Lee,,,G1,"{SIS:2002},{FED:7}"\n',
        encoding="utf-8",
    )
    roster = read_source(tmp_path, student_id_field="{SIS}")
    assert [r.student_id for r in roster.rows] == ["2002"]
    assert any("'1001 or 9999'" in p.reason for p in roster.problems)
