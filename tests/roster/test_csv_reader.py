"""The four-column roster reader: parsing, normalisation, duplicates and name conflicts."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canvas_observers.roster import Roster, RosterError, check_email, read_roster
from canvas_observers.roster.validate import email_problem
from tests.wiring import HEADER


def read(data: str | bytes, *, encoding: str = "utf-8") -> Roster:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return read_roster(io.BytesIO(raw), source="roster.csv", encoding=encoding)


def summary(roster: Roster) -> list[tuple[int, str, str, str, str]]:
    return [
        (r.line, r.student_id, r.observer_email, r.observer_first_name, r.observer_last_name)
        for r in roster.rows
    ]


class Trickle:
    """A binary file that hands out a few bytes per read, to cross every chunk boundary."""

    def __init__(self, data: bytes, size: int = 3) -> None:
        self.data = io.BytesIO(data)
        self.size = size

    def read(self, n: int = -1) -> bytes:
        return self.data.read(self.size)


PARSE_CASES = [
    pytest.param(
        HEADER + "S1,jane@example.org,Jane,Doe\nS2,bob@example.org,Bob,Roe\n",
        [(2, "S1", "jane@example.org", "Jane", "Doe"), (3, "S2", "bob@example.org", "Bob", "Roe")],
        id="happy-path",
    ),
    pytest.param(
        "observer_last_name,grade,observer_email,student_id,observer_first_name,extra\n"
        "Doe,5,jane@example.org,S1,Jane,x\n",
        [(2, "S1", "jane@example.org", "Jane", "Doe")],
        id="reordered-and-extra-columns",
    ),
    pytest.param(
        " Student_ID , OBSERVER_EMAIL,Observer_First_Name ,observer_LAST_name\n"
        "S1,jane@example.org,Jane,Doe\n",
        [(2, "S1", "jane@example.org", "Jane", "Doe")],
        id="case-insensitive-padded-header",
    ),
    pytest.param(
        "\ufeff" + HEADER + "S1,jane@example.org,Jane,Doe\n",
        [(2, "S1", "jane@example.org", "Jane", "Doe")],
        id="utf8-bom",
    ),
    pytest.param(
        (HEADER + "S1,jane@example.org,Jane,Doe\nS2,bob@example.org,Bob,Roe\n").replace(
            "\n", "\r\n"
        ),
        [(2, "S1", "jane@example.org", "Jane", "Doe"), (3, "S2", "bob@example.org", "Bob", "Roe")],
        id="crlf",
    ),
    pytest.param(
        (HEADER + "S1,jane@example.org,Jane,Doe\nS2,bob@example.org,Bob,Roe").replace("\n", "\r"),
        [(2, "S1", "jane@example.org", "Jane", "Doe"), (3, "S2", "bob@example.org", "Bob", "Roe")],
        id="old-mac-cr-no-final-newline",
    ),
    pytest.param(
        "\n\n"
        + HEADER
        + "\nS1,jane@example.org,Jane,Doe\n   \n,,,\n\nS2,bob@example.org,Bob,Roe\n\n",
        [(5, "S1", "jane@example.org", "Jane", "Doe"), (9, "S2", "bob@example.org", "Bob", "Roe")],
        id="blank-lines-skipped-lines-counted",
    ),
    pytest.param(
        HEADER + 'S1,jane@example.org,"Jane, Mary","Doe\nSmith"\n'
        'S2,bob@example.org,"Bob ""the"" Builder",Roe\n'
        'S3,"eve@example.org",Eve,"Long\r\n\r\nName"\n'
        "S4,dan@example.org,Dan,Poe\n",
        [
            (2, "S1", "jane@example.org", "Jane, Mary", "Doe Smith"),
            (4, "S2", "bob@example.org", 'Bob "the" Builder', "Roe"),
            (5, "S3", "eve@example.org", "Eve", "Long Name"),
            (8, "S4", "dan@example.org", "Dan", "Poe"),
        ],
        id="quoted-commas-and-newlines-numbered-by-start-line",
    ),
    pytest.param(
        HEADER + "  S1 ,  Jane.Doe@Example.ORG  ,  Mary   Jane , van  der   Berg \n",
        [(2, "S1", "jane.doe@example.org", "Mary Jane", "van der Berg")],
        id="trimmed-and-collapsed-email-lower-cased",
    ),
    pytest.param(
        HEADER + "S1,jane@example.org,Jane,Doe,extra,fields,here\n",
        [(2, "S1", "jane@example.org", "Jane", "Doe")],
        id="too-many-fields-is-fine",
    ),
    pytest.param(
        "observer_email,observer_first_name,observer_last_name,student_id,notes\n"
        "jane@example.org,Jane,Doe,S1\n",
        [(2, "S1", "jane@example.org", "Jane", "Doe")],
        id="too-few-fields-fine-when-required-present",
    ),
    pytest.param(
        HEADER + "Kid.One@School.org,jane@example.org,Jane,Doe\n",
        [(2, "Kid.One@School.org", "jane@example.org", "Jane", "Doe")],
        id="student-login-kept-as-given",
    ),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES)
def test_parse_cases(text: str, expected: list[tuple[int, str, str, str, str]]) -> None:
    """Each well-formed layout reads to the expected rows with physical start-line numbers."""
    roster = read(text)
    assert summary(roster) == expected
    assert roster.problems == ()
    assert roster.duplicates == 0
    assert all(r.source == "roster.csv" and r.notes == () for r in roster.rows)


def test_source_is_recorded() -> None:
    """The Roster and every row carry the source name used in messages."""
    roster = read(HEADER + "S1,jane@example.org,Jane,Doe\n")
    assert roster.source == "roster.csv"
    assert roster.rows[0].source == "roster.csv"


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_tiny_reads_cross_chunk_boundaries(size: int) -> None:
    """Multi-byte characters and CRLF split across reads still decode and count lines right."""
    text = HEADER + "S1,zoë@example.org,Zoë,Ñúñez\r\nS2,li@example.org,李,小龙\r\n"
    roster = read_roster(Trickle(text.encode(), size), source="roster.csv")  # type: ignore[arg-type]
    assert summary(roster) == [
        (2, "S1", "zoë@example.org", "Zoë", "Ñúñez"),
        (3, "S2", "li@example.org", "李", "小龙"),
    ]


def test_other_encoding_when_asked() -> None:
    """A Latin-1 file reads when the caller passes encoding='latin-1'."""
    data = (HEADER + "S1,jose@example.org,José,Muñoz\n").encode("latin-1")
    roster = read(data, encoding="latin-1")
    assert summary(roster) == [(2, "S1", "jose@example.org", "José", "Muñoz")]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_when_asked(encoding: str) -> None:
    """A UTF-16 file reads when the caller passes its encoding (with or without a BOM)."""
    text = HEADER + "S1,jane@example.org,Jane,Doe\r\n"
    if encoding != "utf-16":
        text = "\ufeff" + text  # a BOM that the explicit-endian codec leaves in the text
    roster = read(text.encode(encoding), encoding=encoding)
    assert summary(roster) == [(2, "S1", "jane@example.org", "Jane", "Doe")]


def test_duplicates_collapsed_with_count_and_note() -> None:
    """Same student and email (any case) collapse to the first row, counted and noted."""
    roster = read(
        HEADER
        + "S1,jane@example.org,Jane,Doe\n"
        + "S2,jane@example.org,Jane,Doe\n"
        + "S1,JANE@example.org ,Jane,Doe\n"
        + "S1,jane@example.org,Jane,Doe\n"
    )
    assert [r.line for r in roster.rows] == [2, 3]
    assert roster.duplicates == 2
    assert roster.rows[0].notes == (
        "duplicate of this row on line 4",
        "duplicate of this row on line 5",
    )
    assert roster.rows[1].notes == ()


def test_duplicate_student_login_compared_case_insensitively() -> None:
    """A student given by login in different case is the same student for duplicates."""
    roster = read(
        HEADER
        + "Kid@School.org,jane@example.org,Jane,Doe\nkid@school.org,jane@example.org,Jane,Doe\n"
    )
    assert len(roster.rows) == 1
    assert roster.duplicates == 1


def test_sis_ids_differing_in_case_are_not_duplicates() -> None:
    """SIS ids compare exactly, so 'a1' and 'A1' are two students."""
    roster = read(HEADER + "a1,jane@example.org,Jane,Doe\nA1,jane@example.org,Jane,Doe\n")
    assert len(roster.rows) == 2
    assert roster.duplicates == 0


def test_same_email_different_names_noted_first_wins() -> None:
    """Rows sharing a guardian email with other names all run; each notes the conflict."""
    roster = read(
        HEADER
        + "S1,jane@example.org,Jane,Doe\n"
        + "S2,JANE@example.org,Janet,Doe\n"
        + "S3,jane@example.org,Jane,Doe\n"
    )
    assert [r.line for r in roster.rows] == [2, 3, 4]
    first, second, third = roster.rows
    assert first.notes == (
        "observer_email also given as 'Janet Doe' on line 3; using 'Jane Doe' from line 2",
    )
    assert second.notes == (
        "observer_email first given as 'Jane Doe' on line 2; "
        "using that name for the account, not 'Janet Doe'",
    )
    assert third.notes == ()
    assert roster.duplicates == 0


def test_duplicate_with_other_name_says_which_name_is_used() -> None:
    """A collapsed duplicate that spells the guardian differently says the name kept."""
    roster = read(HEADER + "S1,jane@example.org,Jane,Doe\nS1,jane@example.org,Janet,Doe\n")
    assert roster.duplicates == 1
    assert roster.rows[0].notes == (
        "duplicate of this row on line 3 (which gives the name 'Janet Doe'; "
        "using 'Jane Doe' from line 2)",
    )


def test_many_other_names_are_summarised() -> None:
    """A shared email with many spellings lists a few on the first row, then a count."""
    lines = [f"S{i},office@school.org,Parent{i},X\n" for i in range(10)]
    roster = read(HEADER + "".join(lines))
    notes = roster.rows[0].notes
    assert len(notes) == 4
    assert notes[0] == (
        "observer_email also given as 'Parent1 X' on line 3; using 'Parent0 X' from line 2"
    )
    assert notes[-1] == "observer_email also given with 6 more different names on other rows"


def test_a_guardian_with_no_email_keeps_their_names() -> None:
    """An empty (or blank) email with every other field usable is a no_email problem that
    keeps the guardian's names, guardian id and the student; a malformed email, or no email
    in a row with another fault, is an ordinary invalid row (names kept where usable)."""
    roster = read(
        "student_id,observer_email,observer_first_name,observer_last_name,guardian_id\n"
        "S1,,Ana,  Ng ,G7\n"
        "S2,   ,Bo,Ng,\n"
        "S3,bo@,Bo,Ng,\n"
        "S 4,,Cy,Ng,\n"
        "S5,,,Ng,\n"
        "S6,pat@home.test,Pat,Lee,\n"
    )
    assert summary(roster) == [(7, "S6", "pat@home.test", "Pat", "Lee")]
    got = [
        (p.line, p.no_email, p.student_id, p.observer_name, p.guardian_id, p.field)
        for p in roster.problems
    ]
    assert got == [
        (2, True, "S1", "Ana Ng", "G7", "observer_email"),
        (3, True, "S2", "Bo Ng", None, "observer_email"),
        (4, False, "S3", "Bo Ng", None, "observer_email"),
        (5, False, "S 4", "Cy Ng", None, "student_id"),
        (6, False, "S5", "Ng", None, "observer_email"),
    ]


def test_several_problems_in_one_row_are_all_reported() -> None:
    """A row with several bad fields is one problem naming each, field = the first bad one."""
    roster = read(HEADER + ",not-an-email,,Doe\nS2,bob@example.org,Bob,Roe\n")
    (problem,) = roster.problems
    assert problem.line == 2
    assert problem.field == "student_id"
    assert problem.reason == (
        "student_id is missing; observer_email 'not-an-email' has no '@'; "
        "observer_first_name is missing"
    )
    assert problem.observer_email == "not-an-email"
    assert summary(roster) == [(3, "S2", "bob@example.org", "Bob", "Roe")]


VALID_EMAILS = [
    "a@b.co",
    "jane.doe+school@example.org",
    "o'brien@example.ie",
    "x_y-z@sub.domain.example.com",
    "zoë@exämple.de",
    "用户@例子.广告",
    "a" * 64 + "@example.org",
]

INVALID_EMAILS = [
    ("jane.example.org", "has no '@'"),
    ("jane@@example.org", "has more than one '@'"),
    ("jane@home@example.org", "has more than one '@'"),
    ("jane doe@example.org", "contains spaces"),
    ("jane@example", "has no dot in the domain 'example'"),
    ("jane@example.org.", "ends with a dot"),
    ("jane@.example.org", "has an empty part in the domain"),
    ("jane@example..org", "has an empty part in the domain"),
    (".jane@example.org", "has a misplaced '.' before the '@'"),
    ("jane.@example.org", "has a misplaced '.' before the '@'"),
    ("ja..ne@example.org", "has a misplaced '.' before the '@'"),
    ("@example.org", "has nothing before the '@'"),
    ("jane@", "has nothing after the '@'"),
    ("a" * 65 + "@example.org", "has more than 64 characters before the '@'"),
    ("j" * 60 + "@" + "d" * 60 + ".org", "is longer than 100 characters"),
    ("j" * 60 + "@" + "d" * 250 + ".org", "is longer than 100 characters"),
    ("jane\x07@example.org", "contains control or invisible characters"),
    ("jane\u200b@example.org", "contains control or invisible characters"),
    ("Jane <jane@example.org>", "contains spaces"),
    ("jane@example.org,bob@example.org", "has more than one '@'"),
    ("jane,doe@example.org", "contains ','"),
    ("jane@exa(mple).org", "contains '('"),
]


@pytest.mark.parametrize("email", VALID_EMAILS)
def test_valid_emails(email: str) -> None:
    """Practical addresses, including internationalised ones, pass the email check."""
    assert check_email(email) is None


@pytest.mark.parametrize(("email", "why"), INVALID_EMAILS)
def test_invalid_emails(email: str, why: str) -> None:
    """Each kind of broken email is refused with a reason that says what is wrong."""
    reason = check_email(email)
    assert reason is not None
    assert reason.startswith("observer_email ")
    assert why in reason


@given(
    st.text(
        alphabet=st.sampled_from("ab.@-_+'Z9 \u00e9,"),
        min_size=0,
        max_size=30,
    )
)
def test_fast_path_agrees_with_detailed_checks(email: str) -> None:
    """The fast email path never accepts an address the detailed checks would refuse."""
    if check_email(email) is None:
        assert email_problem(email) is None


def test_header_is_first_non_blank_record() -> None:
    """Leading blank lines are skipped and a header on line 3 is still found."""
    roster = read("\r\n\r\n" + HEADER + "S1,jane@example.org,Jane,Doe\n")
    assert summary(roster) == [(4, "S1", "jane@example.org", "Jane", "Doe")]


def test_error_str_reads_after_error_prefix() -> None:
    """A RosterError prints as 'file:line (field): message', ready for the CLI's 'error: '."""
    with pytest.raises(RosterError) as info:
        read("student_id,observer_email,observer_first_name\nS1,a@b.co,Jane\n")
    assert str(info.value).startswith("roster.csv:1 (observer_last_name): the header has no column")


# -- the optional guardian_id column ----------------------------------------------------------


def test_guardian_id_column_is_read_trimmed_and_optional() -> None:
    """guardian_id is trimmed, an empty cell is no id, and a file without the column has none."""
    roster = read(
        "student_id,observer_email,observer_first_name,observer_last_name,guardian_id\n"
        "S1,jane@example.org,Jane,Doe,  G-17 \nS2,bob@example.org,Bob,Roe,\n"
    )
    assert [r.guardian_id for r in roster.rows] == ["G-17", None]
    assert [r.guardian_id for r in read(HEADER + "S1,jane@example.org,Jane,Doe\n").rows] == [None]


@pytest.mark.parametrize(
    ("value", "why"),
    [("G 17", "contains spaces"), ("G\u200b17", "control or invisible"), ("G" * 256, "longer")],
)
def test_bad_guardian_id_is_reported_with_line_and_field(value: str, why: str) -> None:
    """A guardian_id with spaces, invisible characters or over 255 characters skips the row,
    naming the file, the line and the field."""
    roster = read(
        "student_id,observer_email,observer_first_name,observer_last_name,guardian_id\n"
        f"S1,jane@example.org,Jane,Doe,{value}\nS2,bob@example.org,Bob,Roe,G-2\n"
    )
    assert [r.student_id for r in roster.rows] == ["S2"]
    (problem,) = roster.problems
    assert (problem.source, problem.line, problem.field) == ("roster.csv", 2, "guardian_id")
    assert why in problem.reason


def test_guardian_id_column_twice_is_refused() -> None:
    """Two guardian_id columns cannot be told apart: the file is refused."""
    with pytest.raises(RosterError, match="guardian_id"):
        read(HEADER.strip() + ",guardian_id,Guardian_ID\nS1,a@example.org,A,B,1,2\n")
