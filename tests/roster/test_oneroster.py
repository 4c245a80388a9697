"""OneRoster 1.1 / 1.2 reader: sample bundles and made fixtures."""

from __future__ import annotations

import csv
import shutil
import zipfile
from pathlib import Path

import pytest

from canvas_observers.roster.model import Roster, RosterError
from canvas_observers.roster.sources import read_source, read_source_detailed

FIXTURES = Path(__file__).parent / "fixtures"
V11 = FIXTURES / "oneroster11"
V12 = FIXTURES / "oneroster12"
MOCKER = Path(__file__).resolve().parents[1] / "fixtures" / "samples" / "oneroster-mocker"


def links(roster: Roster) -> set[tuple[int, str, str]]:
    return {(r.line, r.student_id, r.observer_email) for r in roster.rows}


def where(roster: Roster) -> set[str]:
    return {f"{p.source}:{p.line}" for p in roster.problems}


def write_users(path: Path, text: str, *, bom: bool = False) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "users.csv").write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


HEADER = "sourcedId,role,givenName,familyName,identifier,email,agentSourcedIds\n"


def test_mocker_sample_gives_every_link_once_per_email() -> None:
    """The synthetic district: 2,390 links, 5 collapsed because two parents share an email."""
    roster = read_source(MOCKER)
    assert len(roster.rows) + roster.duplicates == 2390
    assert roster.duplicates == 5
    assert len({r.observer_email for r in roster.rows}) == 811  # 812 parents, one shared email
    assert roster.problems == ()
    assert roster.removal_candidates == ()
    assert all(r.source == "users.csv" for r in roster.rows)


def test_mocker_rows_point_at_the_parent_line_and_keep_apostrophes() -> None:
    """Rows carry the parent's users.csv line; emails with an apostrophe are accepted."""
    roster = read_source(MOCKER)
    lines = (MOCKER / "users.csv").read_text(encoding="utf-8").splitlines()
    for row in roster.rows[:50]:
        assert row.observer_email in lines[row.line - 1].lower()
        assert ",parent," in lines[row.line - 1]
    with (MOCKER / "users.csv").open(newline="", encoding="utf-8") as fp:
        quoted = {
            u["email"].lower()
            for u in csv.DictReader(fp)
            if u["role"] == "parent" and "'" in u["email"]
        }
    assert quoted and quoted <= {r.observer_email for r in roster.rows}


def test_mocker_small_ignores_roles_that_are_not_guardians() -> None:
    """The small sample's principal is neither guardian nor student: one parent, two kids."""
    roster = read_source(MOCKER / "small")
    assert {(r.student_id, r.observer_email) for r in roster.rows} == {
        ("margegreenfelder@nicelion.com", "juliogreenfelder@nicelion.com"),
        ("tremainegreenfelder@nicelion.com", "juliogreenfelder@nicelion.com"),
    }


def test_links_from_both_directions_are_unioned() -> None:
    """Students listing guardians and guardians listing students both give rows, once each."""
    roster = read_source(V11)
    assert links(roster) == {
        (2, "1001", "ana.lopez@example.org"),  # both directions
        (2, "s2user", "ana.lopez@example.org"),  # guardian side; identifier empty -> username
        (3, "1001", "ben@example.org"),  # student side only
        (12, "1003", "eve@example.org"),  # guardian side only
    }
    assert roster.duplicates == 0
    assert [r.line for r in roster.rows] == sorted(r.line for r in roster.rows)


def test_emails_and_names_are_normalised_like_the_csv_reader() -> None:
    """Emails are trimmed and lower-cased; names come from givenName/familyName."""
    row = next(r for r in read_source(V11).rows if r.line == 2)
    assert (row.observer_email, row.observer_first_name, row.observer_last_name) == (
        "ana.lopez@example.org",
        "Ana",
        "Lopez",
    )


def test_dangling_ids_and_missing_email_are_reported_with_file_and_line() -> None:
    """A dangling agent id (either side) and a guardian without email are problems, not fatal;
    the guardian without email is kept with their names, marked no_email."""
    roster = read_source(V11)
    assert where(roster) == {"users.csv:4", "users.csv:8", "users.csv:12"}
    by_line = {p.line: p for p in roster.problems}
    assert "no email" in by_line[4].reason and by_line[4].field == "email"
    # Chidi Nwosu has no email: a no_email row naming them and their student, not an error.
    nomail = by_line[4]
    assert nomail.no_email and not by_line[8].no_email and not by_line[12].no_email
    assert (nomail.student_id, nomail.observer_name, nomail.guardian_id) == (
        "1003",
        "Chidi Nwosu",
        "G3",
    )
    assert "GX" in by_line[8].reason and by_line[8].field == "agentSourcedIds"
    assert "S9" in by_line[12].reason


def test_tobedeleted_and_disabled_users_become_removal_candidates() -> None:
    """A tobedeleted guardian and an enabledUser=false student are not provisioned."""
    roster = read_source(V11)
    got = {(c.student_id, c.observer_email, c.reason, c.line) for c in roster.removal_candidates}
    assert got == {
        ("s2user", "dan@example.org", "guardian status tobedeleted", 6),
        ("1004", "ben@example.org", "student enabledUser false", 3),
    }
    assert not {("1004", "ben@example.org")} & {
        (r.student_id, r.observer_email) for r in roster.rows
    }


def test_relative_only_when_asked() -> None:
    """Role relative is ignored by default and included with guardian_roles."""
    assert "cara@example.org" not in {r.observer_email for r in read_source(V11).rows}
    roster = read_source(V11, guardian_roles=("parent", "guardian", "RELATIVE"))
    assert (5, "1001", "cara@example.org") in links(roster)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("username", {"s1user", "s2user", "s3user"}),
        ("sourcedId", {"S1", "S2", "S3"}),
        ("email", {"s1@school.example.org", "s2@school.example.org", "s3@school.example.org"}),
        ("{SIS}", {"A-1", "A-2", "A-3"}),
        ("SIS", {"A-1", "A-2", "A-3"}),
        ("{SIS:...}", {"A-1", "A-2", "A-3"}),
    ],
)
def test_student_id_field_picks_the_chosen_value(field: str, expected: set[str]) -> None:
    """--student-id-field chooses a column or a {type:value} entry of userIds."""
    roster = read_source(V11, student_id_field=field)
    assert {r.student_id for r in roster.rows} == expected


def test_unknown_userids_type_stops_with_the_types_found() -> None:
    """A userIds type no user has (a typo) is a RosterError, not every student skipped."""
    with pytest.raises(RosterError) as err:
        read_source(V11, student_id_field="identifer")
    assert "(types found: fed, sis)" in str(err.value)


def test_reordered_columns_are_read_by_name(tmp_path: Path) -> None:
    """Columns in any order give the same rows (the fixture has agentSourcedIds mid-row)."""
    text = (V11 / "users.csv").read_text(encoding="utf-8").splitlines()
    rows = list(csv.reader(text))
    order = list(reversed(range(len(rows[0]))))
    out = tmp_path / "rev"
    out.mkdir()
    with (out / "users.csv").open("w", newline="", encoding="utf-8") as fp:
        csv.writer(fp).writerows([[r[i] for i in order] for r in rows])
    assert links(read_source(out)) == links(read_source(V11))


def test_bom_and_crlf_are_tolerated(tmp_path: Path) -> None:
    """A UTF-8 byte-order mark and CRLF line ends do not hide the first column."""
    body = HEADER + "G1,parent,Zoë,Ng,G1,zoe@example.org,S1\nS1,student,Kai,Ng,501,,\n"
    path = write_users(tmp_path / "b", body.replace("\n", "\r\n"), bom=True)
    roster = read_source(path)
    assert [(r.student_id, r.observer_first_name) for r in roster.rows] == [("501", "Zoë")]


def test_zip_bundle_with_a_folder_inside(tmp_path: Path) -> None:
    """A .zip whose files sit in a subfolder reads like the folder itself."""
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in V11.iterdir():
            zf.write(f, f"nightly/{f.name}")
    roster = read_source(archive)
    assert links(roster) == links(read_source(V11))
    assert roster.source == "export.zip"


def test_lone_users_csv_file(tmp_path: Path) -> None:
    """A single users.csv file (any name) is read, with its own name in messages."""
    lone = tmp_path / "ps-users.csv"
    shutil.copy(V11 / "users.csv", lone)
    roster = read_source(lone)
    assert links(roster) == links(read_source(V11))
    assert {p.source for p in roster.problems} == {"ps-users.csv"}


def test_v12_roles_csv_primary_and_secondary_roles() -> None:
    """1.2: roles come from roles.csv, including a teacher's secondary parent role."""
    roster = read_source(V12)
    assert {(r.student_id, r.observer_email) for r in roster.rows} == {
        ("2001", "bob@example.org"),
        ("2001", "maria@example.org"),
        ("2002", "tina@example.org"),
    }
    assert [(c.student_id, c.observer_email) for c in roster.removal_candidates] == [
        ("2002", "pat@example.org")
    ]
    assert "roles.csv" in roster.removal_candidates[0].reason


def test_v12_preferred_names_win_unless_legal_names_asked() -> None:
    """preferredGivenName/preferredFamilyName are used when present and preferred."""
    pref = {r.observer_email: r.observer_name for r in read_source(V12).rows}
    legal = {
        r.observer_email: r.observer_name
        for r in read_source(V12, prefer_preferred_names=False).rows
    }
    assert pref == {
        "bob@example.org": "Bob Smith",
        "maria@example.org": "María García",
        "tina@example.org": "Tina Quinn-Teach",
    }
    assert legal["bob@example.org"] == "Robert Smith"
    assert legal["tina@example.org"] == "Tina Teach"


def test_v12_users_without_roles_csv_is_unreadable(tmp_path: Path) -> None:
    """A 1.2 users.csv (no role column) without roles.csv stops with the field named."""
    shutil.copy(V12 / "users.csv", tmp_path / "users.csv")
    with pytest.raises(RosterError) as err:
        read_source(tmp_path)
    assert (err.value.source, err.value.line, err.value.field) == ("users.csv", 1, "role")


def test_missing_required_column_names_file_line_and_field(tmp_path: Path) -> None:
    """users.csv without agentSourcedIds is a RosterError at users.csv:1."""
    path = write_users(tmp_path / "x", "sourcedId,role,email\nG1,parent,a@example.org\n")
    with pytest.raises(RosterError) as err:
        read_source(path, format="oneroster")
    assert str(err.value).startswith("users.csv:1 (agentSourcedIds)")


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    """Latin-1 bytes in a UTF-8 read stop the run naming users.csv and the line."""
    path = tmp_path / "l"
    path.mkdir()
    body = HEADER + "G1,parent,Zoë,Ng,G1,zoe@example.org,S1\n"
    (path / "users.csv").write_bytes(body.encode("latin-1"))
    with pytest.raises(RosterError) as err:
        read_source(path)
    assert (err.value.source, err.value.line) == ("users.csv", 2)
    roster = read_source(path, encoding="latin-1")
    assert roster.problems[0].reason.startswith("agentSourcedIds names S1")


def test_unquoted_multi_value_row_is_skipped_not_shifted(tmp_path: Path) -> None:
    """A row with an unquoted comma has too many cells: reported, never read shifted."""
    body = HEADER + (
        "G1,parent,Ana,Ng,G1,ana@example.org,\n"
        "G2,parent,Bo,Ng,G2,bo@example.org,\n"
        "S1,student,Kai,Ng,501,,G1,G2\n"
    )
    roster = read_source(write_users(tmp_path / "u", body))
    assert roster.rows == ()
    assert where(roster) == {"users.csv:4"}
    assert "7 fields" in roster.problems[0].reason or "8 fields" in roster.problems[0].reason


def test_shared_email_with_other_names_is_noted(tmp_path: Path) -> None:
    """Two guardian records with one email give one account name and a note."""
    body = HEADER + (
        "G1,parent,Ana,Ng,G1,home@example.org,S1\n"
        "G2,parent,Bo,Ng,G2,home@example.org,S2\n"
        "S1,student,Kai,Ng,501,,\n"
        "S2,student,Lia,Ng,502,,\n"
    )
    read = read_source_detailed(write_users(tmp_path / "s", body))
    rows = {r.student_id: r for r in read.roster.rows}
    assert rows["502"].observer_name == "Ana Ng"
    assert rows["502"].notes and "Ana Ng" in rows["502"].notes[0]
    assert read.guardian_ids == {"home@example.org": "G1"}


def test_repeated_sourced_id_is_reported(tmp_path: Path) -> None:
    """A second row with the same sourcedId is skipped, naming the first line."""
    body = HEADER + (
        "G1,parent,Ana,Ng,G1,ana@example.org,S1\n"
        "G1,parent,Eve,Ng,G1,eve@example.org,S1\n"
        "S1,student,Kai,Ng,501,,\n"
    )
    roster = read_source(write_users(tmp_path / "r", body))
    assert [r.observer_email for r in roster.rows] == ["ana@example.org"]
    assert where(roster) == {"users.csv:3"} and "line 2" in roster.problems[0].reason


def test_guardian_with_bad_email_or_no_name_is_reported_once(tmp_path: Path) -> None:
    """An invalid email or a missing familyName skips the guardian, reported once at its line."""
    body = HEADER + (
        'G1,parent,Ana,Ng,G1,ana@@example.org,"S1,S2"\n'
        "G2,parent,Bo,,G2,bo@example.org,S1\n"
        "S1,student,Kai,Ng,501,,\n"
        "S2,student,Lia,Ng,502,,\n"
    )
    roster = read_source(write_users(tmp_path / "e", body))
    assert roster.rows == ()
    assert [(p.line, p.field) for p in roster.problems] == [(2, "email"), (3, "familyName")]
    assert "more than one '@'" in roster.problems[0].reason


def test_rows_carry_the_guardian_sourced_id(tmp_path: Path) -> None:
    """Each row's guardian_id is its guardian's sourcedId (the id export-sis templates use)."""
    bundle = write_users(
        tmp_path / "b",
        HEADER + "p1,parent,Pat,Lee,,pat@home.test,\ns1,student,Sam,Lee,1001,,p1\n",
    )
    (row,) = read_source(bundle).rows
    assert (row.student_id, row.observer_email, row.guardian_id) == ("1001", "pat@home.test", "p1")


def test_guardian_with_an_unusable_sourced_id_is_reported(tmp_path: Path) -> None:
    """A guardian sourcedId with a space cannot be a guardian id: their links are skipped and
    the problem names users.csv, the guardian's line and the field."""
    bundle = write_users(
        tmp_path / "b",
        HEADER + "p 1,parent,Pat,Lee,,pat@home.test,\ns1,student,Sam,Lee,1001,,p 1\n",
    )
    roster = read_source(bundle)
    assert roster.rows == ()
    (problem,) = roster.problems
    assert (problem.source, problem.line, problem.field) == ("users.csv", 2, "sourcedId")
