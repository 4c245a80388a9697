"""School Data Sync v2.1 reader: Microsoft's sample and made fixtures."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from canvas_observers.roster.model import RosterError
from canvas_observers.roster.sources import read_source, read_source_detailed

SDS = Path(__file__).resolve().parents[1] / "fixtures" / "samples" / "sds-v2.1-guardians"

USERS = "sourcedId,username,givenName,familyName,email\n"
RELS = "userSourcedId,relationshipUserSourcedId,relationshipRole\n"


def bundle(tmp_path: Path, users: str, rels: str) -> Path:
    (tmp_path / "users.csv").write_text(USERS + users, encoding="utf-8")
    (tmp_path / "relationships.csv").write_text(RELS + rels, encoding="utf-8")
    return tmp_path


def test_sample_default_roles_give_the_two_guardian_rows() -> None:
    """Microsoft's sample: 2 guardian relationships; the relative row is left out."""
    read = read_source_detailed(SDS)
    assert read.format == "sds"
    got = {(r.line, r.student_id, r.observer_email, r.observer_name) for r in read.roster.rows}
    assert got == {
        (2, "114001", "jean.craig@outlook.com", "Jean Craig"),
        (4, "114004", "bobsmithee@outlook.com", "Bob Smithee"),
    }
    assert all(r.source == "relationships.csv" for r in read.roster.rows)
    assert read.roster.problems == ()
    assert read.guardian_ids == {
        "jean.craig@outlook.com": "114002",
        "bobsmithee@outlook.com": "114005",
    }


def test_sample_relative_counts_per_relationship_row() -> None:
    """With relative asked for, the adult who is guardian of one and relative of another
    gets both students."""
    roster = read_source(SDS, guardian_roles=("guardian", "relative"))
    assert [(r.line, r.student_id, r.observer_email) for r in roster.rows] == [
        (2, "114001", "jean.craig@outlook.com"),
        (3, "114003", "jean.craig@outlook.com"),
        (4, "114004", "bobsmithee@outlook.com"),
    ]


def test_sample_student_id_by_username() -> None:
    """--student-id-field username sends the student's username instead of sourcedId."""
    roster = read_source(SDS, student_id_field="username")
    assert {r.student_id for r in roster.rows} == {
        "jcraig@classrmtest31.org",
        "asmithee@classrmtest31.org",
    }


def test_sample_zipped_reads_the_same(tmp_path: Path) -> None:
    """The sample as a .zip is detected as SDS and gives the same rows."""
    archive = tmp_path / "sds.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in SDS.glob("*.csv"):
            zf.write(f, f.name)
    assert read_source(archive).rows == read_source(SDS).rows


def test_roles_compare_case_insensitively(tmp_path: Path) -> None:
    """relationshipRole Guardian / PARENT match the default roles; Doctor does not."""
    path = bundle(
        tmp_path,
        "s1,s1@x.org,Kai,Ng,\ng1,g1,Ana,Ng,Ana@Example.org\ng2,g2,Bo,Ng,bo@example.org\n"
        "d1,d1,Doc,Who,doc@example.org\n",
        "s1,g1,Guardian\ns1,g2,PARENT\ns1,d1,Doctor\n",
    )
    roster = read_source(path)
    assert [(r.line, r.observer_email) for r in roster.rows] == [
        (2, "ana@example.org"),
        (3, "bo@example.org"),
    ]


def test_dangling_and_emailless_guardians_are_reported(tmp_path: Path) -> None:
    """Unknown ids in relationships.csv are problems with lines; a guardian with no email is
    a no_email problem on the relationship's line, naming the guardian and the student, while
    one with no email and no name is an unusable guardian on their own users.csv line."""
    path = bundle(
        tmp_path,
        "s1,s1,Kai,Ng,\ng1,g1,Ana,Ng,\ng2,g2,Bo,Ng,bo@example.org\ng3,g3,,Ng,\n",
        "s1,g1,guardian\ns1,gX,guardian\nsX,g2,parent\ns1,g2,parent\ns1,g3,parent\n",
    )
    roster = read_source(path)
    assert [(r.student_id, r.observer_email) for r in roster.rows] == [("s1", "bo@example.org")]
    got = {(p.source, p.line, p.field, p.no_email) for p in roster.problems}
    assert got == {
        ("relationships.csv", 2, "email", True),  # s1 - g1, Ana Ng, who has no email
        ("relationships.csv", 3, "relationshipUserSourcedId", False),
        ("relationships.csv", 4, "userSourcedId", False),
        ("users.csv", 5, "email", False),  # g3's own line: no email and no given name
    }
    (emailless,) = [p for p in roster.problems if p.no_email]
    assert (emailless.student_id, emailless.observer_name, emailless.guardian_id) == (
        "s1",
        "Ana Ng",
        "g1",
    )


def test_status_column_when_present_makes_removal_candidates(tmp_path: Path) -> None:
    """A users.csv status of tobedeleted is honoured in SDS too."""
    (tmp_path / "users.csv").write_text(
        "sourcedId,status,givenName,familyName,email\n"
        "s1,active,Kai,Ng,\ng1,tobedeleted,Ana,Ng,ana@example.org\n",
        encoding="utf-8",
    )
    (tmp_path / "relationships.csv").write_text(RELS + "s1,g1,parent\n", encoding="utf-8")
    roster = read_source(tmp_path)
    assert roster.rows == ()
    assert [(c.student_id, c.observer_email, c.line) for c in roster.removal_candidates] == [
        ("s1", "ana@example.org", 2)
    ]


def test_missing_relationship_column_is_unreadable(tmp_path: Path) -> None:
    """relationships.csv without relationshipRole stops with file, line and field."""
    (tmp_path / "users.csv").write_text(USERS, encoding="utf-8")
    (tmp_path / "relationships.csv").write_text(
        "userSourcedId,relationshipUserSourcedId\ns1,g1\n", encoding="utf-8"
    )
    with pytest.raises(RosterError) as err:
        read_source(tmp_path)
    assert (err.value.source, err.value.line, err.value.field) == (
        "relationships.csv",
        1,
        "relationshipRole",
    )


def test_missing_users_csv_is_unreadable(tmp_path: Path) -> None:
    """An SDS folder without users.csv stops naming users.csv."""
    shutil.copy(SDS / "relationships.csv", tmp_path / "relationships.csv")
    with pytest.raises(RosterError) as err:
        read_source(tmp_path)
    assert err.value.source == "users.csv"


def test_userids_type_is_refused_for_sds(tmp_path: Path) -> None:
    """SDS has no userIds: a {SIS} student id field is a clear error."""
    path = bundle(tmp_path, "s1,s1,Kai,Ng,\n", "")
    with pytest.raises(RosterError, match="does not exist in SDS"):
        read_source(path, student_id_field="{SIS}")


def test_rows_carry_the_guardian_sourced_id(tmp_path: Path) -> None:
    """An SDS row's guardian_id is the adult's sourcedId (relationshipUserSourcedId)."""
    path = bundle(
        tmp_path,
        "s1,sam,Sam,Lee,sam@kids.test\ng9,pat,Pat,Lee,pat@home.test\n",
        "s1,g9,guardian\n",
    )
    (row,) = read_source(path).rows
    assert (row.student_id, row.observer_email, row.guardian_id) == ("s1", "pat@home.test", "g9")
