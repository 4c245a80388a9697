"""The snapshot: a provisioning report's CSVs parsed, and looked up with Canvas's rules; the
whole-run plan decided from it (pure, no Canvas)."""

from __future__ import annotations

import io
import random
import zipfile
from typing import Any

import pytest

from canvas_observers.canvas.models import CanvasUser
from canvas_observers.roster.model import RosterRow
from canvas_observers.sync.rules import Ambiguous, Found, Missing, ObserverState
from canvas_observers.sync.snapshot import SnapshotError, parse_snapshot
from canvas_observers.sync.whole import plan_run

USERS = (
    "canvas_user_id,user_id,integration_id,authentication_provider_id,login_id,first_name,"
    "last_name,full_name,sortable_name,short_name,email,status,created_by_sis\n"
    '10,S-100,,,kid100@school.test,Kim,Kid,Kim Kid,"Kid, Kim",Kim Kid,,active,true\n'
    '11,S-1001,,,kid1001@school.test,Lee,Kid,Lee Kid,"Kid, Lee",Lee Kid,,active,true\n'
    '12,,,,pat@home.test,Pat,Parent,Pat Parent,"Parent, Pat",Pat Parent,pat@home.test,'
    "active,false\n"
    '13,,,,someone@else.test,Not,Parent,Not Parent,"Parent, Not",Not Parent,'
    "shared@home.test,active,false\n"
    '14,S-9,,,gone@school.test,Gone,Kid,Gone Kid,"Kid, Gone",Gone Kid,,deleted,true\n'
    '10,,,,second@school.test,Kim,Kid,Kim Kid,"Kid, Kim",Kim Kid,,active,false\n'
)
LINKS = (
    "canvas_observer_id,observer_id,canvas_student_id,student_id,status,created_by_sis\n"
    "12,,10,S-100,active,false\n"
    "12,,11,S-1001,deleted,false\n"
)
ENROLLMENTS = (
    "canvas_course_id,course_id,canvas_user_id,user_id,role,role_id,canvas_section_id,"
    "section_id,status,canvas_associated_user_id,associated_user_id,created_by_sis,"
    "base_role_type,limit_section_privileges\n"
    "1,C1,10,S-100,student,3,1,,active,,,true,StudentEnrollment,false\n"
    "2,C2,11,S-1001,student,3,2,,inactive,,,true,StudentEnrollment,false\n"
    "1,C1,12,,observer,6,1,,active,10,S-100,false,ObserverEnrollment,false\n"
)


def zipped(**files: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(f"{name}.csv", text)
    return buffer.getvalue()


def test_users_links_and_enrollments_from_a_zip() -> None:
    """A zip of the three CSVs: users once per account, live links, live student enrollments."""
    snap = parse_snapshot(zipped(users=USERS, user_observers=LINKS, enrollments=ENROLLMENTS))
    assert set(snap.users) == {10, 11, 12, 13}  # the deleted login's user is not matched
    assert snap.users[10].sis_user_id == "S-100"
    assert snap.users[10].login_id == "kid100@school.test"  # the login with the SIS id
    assert snap.observees == {12: {10}}
    assert snap.enrolled == {10}
    assert snap.has_live_enrollment(11) is False
    shown_deleted = ENROLLMENTS.replace(",inactive,", ",deleted,")
    unsure = parse_snapshot(zipped(users=USERS, enrollments=shown_deleted))
    assert unsure.has_live_enrollment(11) is None  # course deleted, or the enrollment: unknown


def test_staff_are_read_from_the_enrollments_by_base_role() -> None:
    """A teacher, a custom role on the TA base and a concluded designer are staff; a rejected
    invitation, a deleted course's teacher and students and observers are not; a report
    without base_role_type is read by the built-in role's name."""
    staff = ENROLLMENTS + (
        "1,C1,12,,teacher,4,1,,active,,,false,TeacherEnrollment,false\n"
        "2,C2,12,,Counsellor,9,2,,active,,,false,TaEnrollment,false\n"
        "2,C2,13,,designer,6,2,,concluded,,,false,DesignerEnrollment,false\n"
        "3,C3,11,,teacher,4,3,,rejected,,,false,TeacherEnrollment,false\n"
        "4,C4,10,,teacher,4,4,,deleted,,,false,TeacherEnrollment,false\n"
    )
    snap = parse_snapshot(zipped(users=USERS, enrollments=staff))
    assert snap.staff == {12: {"teacher", "TA"}, 13: {"designer"}}
    bare = "canvas_course_id,canvas_user_id,role,status\n1,13,ta,active\n1,10,student,active\n"
    assert parse_snapshot(zipped(users=USERS, enrollments=bare)).staff == {13: {"TA"}}


def test_links_made_by_an_sis_import_are_kept_apart() -> None:
    """created_by_sis true marks a link as SIS-made; a links table without the column has none."""
    links = LINKS + "13,,11,S-1001,active,true\n" + "13,,11,S-1001,active,true\n"
    snap = parse_snapshot(zipped(users=USERS, user_observers=links))
    assert snap.observees == {12: {10}, 13: {11}}
    assert snap.sis_links == {(13, 11)}
    old = (
        "canvas_observer_id,observer_id,canvas_student_id,student_id,status\n12,,10,S-100,active\n"
    )
    assert parse_snapshot(zipped(users=USERS, user_observers=old)).sis_links == set()


def test_lookups_follow_canvas_rules() -> None:
    """SIS ids exactly (no 100/1001 trap), logins case-insensitively, every login of a user."""
    snap = parse_snapshot(USERS.encode())
    assert snap.student("S-100") == Found(snap.users[10])
    assert snap.student("s-100") == Missing()
    assert snap.student("S-10") == Missing()
    assert snap.student("S-9") == Missing()  # a deleted login
    assert snap.student("SECOND@school.test") == Found(snap.users[10])
    assert snap.has_live_enrollment(10) is None  # no enrollments table read
    guardian = snap.observer("PAT@home.test")
    assert guardian.resolution == Found(snap.users[12])
    contact = snap.observer("shared@home.test")
    assert contact.resolution == Found(snap.users[13], by_contact_email=True)


def test_two_accounts_with_one_email_are_ambiguous() -> None:
    """Two accounts whose email is the guardian's, neither by login: ambiguous."""
    extra = '15,,,,x@else.test,X,Y,X Y,"Y, X",X Y,shared@home.test,active,false\n'
    snap = parse_snapshot((USERS + extra).encode())
    assert isinstance(snap.observer("shared@home.test").resolution, Ambiguous)


GUARDIANS = (
    "canvas_user_id,user_id,login_id,full_name,sortable_name,email,status\n"
    "20,obs-G1,pat.new@home.test,Pat Parent,,,active\n"
    "21,obs-G2,sam@home.test,Sam One,,,active\n"
    "22,obs-G2,sam2@home.test,Sam Two,,,active\n"
    "23,,kim@home.test,Kim Login,,,active\n"
    "24,,other@home.test,Kim Contact,,kim@home.test,active\n"
    "25,,kid@school.test,Kid Login,,,active\n"
    "26,,x@school.test,Kid Mail,,Kid.Mail@School.test,active\n"
)


def test_a_guardian_is_found_by_the_sis_id_of_their_guardian_id_first() -> None:
    """The account holding the guardian id's SIS id is theirs whatever its login; an SIS id two
    accounts hold decides nothing (the login does); no SIS id given: the login, then the email.
    A student with ``@`` is found by email when no login has it."""
    snap = parse_snapshot(GUARDIANS.encode())
    by_sis = snap.observer("pat.old@home.test", "obs-G1")
    assert by_sis.resolution == Found(snap.users[20], by_sis_id=True)
    shared_sis = snap.observer("kim@home.test", "obs-G2")
    assert shared_sis.resolution == Found(snap.users[23])
    assert snap.observer("nobody@home.test", "obs-G2").resolution == Missing()
    assert snap.observer("kim@home.test").resolution == Found(snap.users[23])
    assert snap.student("kid.mail@school.TEST") == Found(snap.users[26])
    assert snap.student("kid@school.test") == Found(snap.users[25])


def test_an_email_three_accounts_share_names_all_three() -> None:
    """A key held by a third account adds it (the index keeps every holder)."""
    extra = (
        '15,,,,x@else.test,X,Y,X Y,"Y, X",X Y,shared@home.test,active,false\n'
        '16,,,,z@else.test,Z,Y,Z Y,"Y, Z",Z Y,shared@home.test,active,false\n'
    )
    snap = parse_snapshot((USERS + extra).encode())
    found = snap.observer("shared@home.test").resolution
    assert isinstance(found, Ambiguous)
    assert [u.id for u in found.users] == [13, 15, 16]
    assert snap.accounts_with("shared@home.test") == {13, 15, 16}


def test_a_remembered_account_and_a_logins_owner() -> None:
    """``account`` gives a remembered guardian's account (found by id, as by SIS id) with the
    students it observes, None once the report no longer has it; ``login_owner`` is the
    account whose live login this is, case aside."""
    snap = parse_snapshot(zipped(users=USERS, user_observers=LINKS))
    remembered = snap.account(12)
    assert remembered is not None
    assert remembered.resolution == Found(snap.users[12], by_sis_id=True)
    assert remembered.observees == (snap.users[10],)
    assert snap.account(13) == ObserverState(
        Found(snap.users[13], by_sis_id=True), (), logins_known=True
    )
    assert snap.account(14) is None  # its only login is deleted
    assert snap.login_owner(" SECOND@school.test ") == snap.users[10]
    assert snap.login_owner("shared@home.test") is None  # an email, not a login
    assert snap.login_owner("gone@school.test") is None


def test_the_users_table_fills_names_and_prefers_the_login_with_an_sis_id() -> None:
    """No full name: first and last; no sortable name: None. A user's login with an SIS id is
    the one shown, whichever row comes first; every row read is counted, deleted ones too.
    A byte-order mark and a quoted line break are read as Canvas writes them."""
    users = (
        "\ufeffcanvas_user_id,user_id,login_id,first_name,last_name,full_name,sortable_name,"
        "email,status\n"
        "30,,first@school.test,Ana,Pérez,,,,active\n"
        "30,S-30,second@school.test,Ana,Pérez,,,,active\n"
        "30,,third@school.test,Ana,Pérez,,,,active\n"
        '31,S-31,only@school.test,,,"Line\nBreak","Break, Line",,active\n'
        "32,,gone@school.test,Gone,User,,,,deleted\n"
    )
    links = "canvas_observer_id,canvas_student_id,status\n30,31,active\n30,32,deleted\n"
    enrollments = (
        "canvas_course_id,canvas_user_id,role,base_role_type,status\n"
        "1,31,learner,StudentEnrollment,active\n"
        "1,30,student,,active\n"
    )
    snap = parse_snapshot(zipped(users=users, user_observers=links, enrollments=enrollments))
    assert snap.users[30] == CanvasUser(
        30, "Ana Pérez", sortable_name=None, sis_user_id="S-30", login_id="second@school.test"
    )
    assert snap.users[31].name == "Line\nBreak"
    assert snap.users[31].sortable_name == "Break, Line"
    assert snap.rows_read == 5 + 2 + 2
    assert snap.enrolled == {30, 31}  # by base role type, else by role
    assert parse_snapshot(users.encode("utf-8")).users[30].sis_user_id == "S-30"


@pytest.mark.parametrize("packed", [True, False], ids=["zip", "csv"])
def test_a_quoted_carriage_return_and_line_feed_is_kept(packed: bool) -> None:
    """A quoted field holding \\r\\n (a name pasted from Windows) keeps both characters, in a
    zip's CSV and in a single CSV alike, and the rows end with \\r\\n as a Windows file's do:
    the csv module reads line ends itself, so the text is opened without translating them."""
    users = (
        "canvas_user_id,user_id,login_id,full_name,sortable_name,email,status\r\n"
        '50,S-50,cr@school.test,"Carriage\r\nReturn","Return,\rCarriage",,active\r\n'
        "51,S-51,next@school.test,Next Row,,,active\r\n"
    )
    data = zipped(users=users) if packed else users.encode("utf-8")
    snap = parse_snapshot(data)
    assert snap.users[50].name == "Carriage\r\nReturn"
    assert snap.users[50].sortable_name == "Return,\rCarriage"
    assert snap.users[51].name == "Next Row"
    assert snap.rows_read == 2


def test_the_smallest_tables_and_missing_columns() -> None:
    """Tables with only the columns a report of them must have are read; a user with no login
    has none,
    and no name when the report gives none; a user's logins without SIS ids: the first shown;
    two enrollments tables add up."""
    users = (
        "canvas_user_id,user_id,login_id,email,status\n40,,first@s.test,,active\n"
        "40,,second@s.test,,active\n41,,,,active\n"
    )
    links = "canvas_observer_id,canvas_student_id,status\n40,41,active\n"
    bare = "canvas_course_id,canvas_user_id,role,status\n1,40,student,inactive\n"  # not live
    one = "canvas_course_id,canvas_user_id,role,status\n2,40,student,active\n"
    two = "canvas_course_id,canvas_user_id,role,status\n3,41,student,active\n"
    snap = parse_snapshot(
        zipped(users=users, user_observers=links, enrollments=bare, one=one, two=two)
    )
    assert snap.users[40] == CanvasUser(40, "", login_id="first@s.test")
    assert snap.users[41] == CanvasUser(41, "")
    assert snap.observees == {40: {41}}
    assert snap.enrolled == {40, 41}
    assert "second@s.test" in snap.by_login and "s-100" not in snap.by_login


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "report.csv: not a provisioning report table"),
        (zipped(user_observers=LINKS), "the report has no users table"),
        (b"a,b\n1,2\n", "report.csv: not a provisioning report table"),
        (zipped(other="a,b\n1,2\n"), "other.csv: not a provisioning report table"),
        (
            b"canvas_user_id,user_id,login_id,email,status\nten,,x@y.test,,active\n",
            "the report cannot be read: ValueError: ",
        ),
        (b"PK\x03\x04 broken", "the report's zip cannot be read: "),
        (
            zipped(users="canvas_user_id,login_id\n1,a@x.test\n"),
            "users.csv: the report's users table has no user_id, email, status column",
        ),
        (
            zipped(users=USERS, user_observers="canvas_observer_id,canvas_student_id\n12,10\n"),
            "user_observers.csv: the report's user_observers table has no status column",
        ),
        (
            zipped(users=USERS, enrollments="canvas_course_id,canvas_user_id,role\n1,10,student\n"),
            "enrollments.csv: the report's enrollments table has no status column",
        ),
    ],
)
def test_a_refused_report_says_why(data: bytes, message: str) -> None:
    """The error names the table that is not a report's, once (not wrapped in another); a
    table with just the columns that tell its kind is that kind, short of the others it needs."""
    with pytest.raises(SnapshotError) as caught:
        parse_snapshot(data)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    "data",
    [b"", b"a,b\n1,2\n", zipped(user_observers=LINKS), b"PK\x03\x04 broken"],
)
def test_what_is_not_a_report_is_refused(data: bytes) -> None:
    """An empty file, another CSV, a zip without users, a broken zip: SnapshotError."""
    with pytest.raises(SnapshotError):
        parse_snapshot(data)


def stored_zip(**files: str) -> bytes:
    """A zip whose members are stored as they are, so a test can spoil their bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, text in files.items():
            archive.writestr(f"{name}.csv", text)
    return buffer.getvalue()


def with_header_fields(data: bytes, *, flags: int = 0, method: int | None = None) -> bytes:
    """The zip with its first member's flag bits or'ed with ``flags`` and its compression
    method set to ``method``, in both its local header and the central directory."""
    spoiled = bytearray(data)
    for signature, at_flags in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = spoiled.index(signature)
        old = int.from_bytes(spoiled[start + at_flags : start + at_flags + 2], "little")
        spoiled[start + at_flags : start + at_flags + 2] = (old | flags).to_bytes(2, "little")
        if method is not None:
            where = start + at_flags + 2
            spoiled[where : where + 2] = method.to_bytes(2, "little")
    return bytes(spoiled)


def damaged_deflate() -> bytes:
    """A deflated zip whose compressed bytes are overwritten halfway through."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("users.csv", USERS * 20)
        archive.writestr("user_observers.csv", LINKS)
    data = bytearray(buffer.getvalue())
    middle = len(data) // 5
    data[middle : middle + 40] = bytes(40)
    return bytes(data)


DAMAGED = {
    "bad checksum": stored_zip(users=USERS, user_observers=LINKS).replace(
        b"kid100@school.test", b"kid100@school.tesT"
    ),
    "encrypted member": with_header_fields(
        stored_zip(users=USERS, user_observers=LINKS), flags=0x1
    ),
    "unknown compression method": with_header_fields(
        stored_zip(users=USERS, user_observers=LINKS), method=99
    ),
    "damaged deflate data": damaged_deflate(),
}


@pytest.mark.parametrize("name", list(DAMAGED))
def test_a_damaged_zip_is_a_snapshot_error(name: str) -> None:
    """A bad checksum, an encrypted member, an unknown compression method or spoiled deflate
    data: SnapshotError with one line saying what, never zipfile's own exception."""
    with pytest.raises(SnapshotError) as raised:
        parse_snapshot(DAMAGED[name], kinds=("users", "user_observers"))
    message = str(raised.value)
    assert "\n" not in message
    assert "zip" in message


def test_a_table_asked_for_and_missing_is_an_error_not_no_links() -> None:
    """A report without the user_observers table asked for, or a users table without email,
    is refused: it would otherwise read as "no links" or "nobody has that email"."""
    with pytest.raises(SnapshotError, match="no user_observers table"):
        parse_snapshot(zipped(users=USERS), kinds=("users", "user_observers"))
    with pytest.raises(SnapshotError, match="no enrollments table"):
        parse_snapshot(
            zipped(users=USERS, user_observers=LINKS),
            kinds=("users", "user_observers", "enrollments"),
        )
    header, *rows = USERS.splitlines(keepends=True)
    no_email = "".join(
        line.replace(",email,", ",contact,") if n == 0 else line
        for n, line in enumerate([header, *rows])
    )
    with pytest.raises(SnapshotError, match="has no email column"):
        parse_snapshot(zipped(users=no_email, user_observers=LINKS))
    assert parse_snapshot(zipped(users=USERS), kinds=("users",)).observees == {}


def shuffled(table: str, seed: int) -> str:
    """The CSV with its data rows in another order (Canvas writes users and user_observers
    without ORDER BY), the header first."""
    header, *rows = table.splitlines(keepends=True)
    random.Random(seed).shuffle(rows)
    return header + "".join(rows)


def answers(snap: Any) -> tuple[Any, ...]:
    """Every look-up the sync and the audit make of a snapshot, for the keys of the tables."""
    students = ["S-100", "S-100b", "S-1001", "S-9", "second@school.test", "kid100@school.test"]
    guardians = [
        ("pat@home.test", None),
        ("shared@home.test", None),
        ("x@y.test", "S-100b"),
        ("PAT@home.test", "S-1001"),
    ]
    return (
        snap.users,
        {key: snap.student(key) for key in students},
        {(email, sis): snap.observer(email, sis) for email, sis in guardians},
        {uid: snap.account(uid) for uid in range(9, 16)},
        {login: snap.login_owner(login) for login in ("second@school.test", "pat@home.test")},
        {email: snap.accounts_with(email) for email in ("pat@home.test", "shared@home.test")},
        {uid: snap.has_live_enrollment(uid) for uid in range(9, 16)},
        snap.observees,
        snap.sis_links,
        snap.rows_read,
    )


def test_the_rows_order_changes_no_answer() -> None:
    """Canvas writes users and user_observers in no set order: any order gives the same
    accounts and look-ups, a user with two SIS logins included (shown by the SIS id that
    sorts first, every login found)."""
    users = (
        USERS + '10,S-100b,,,kim.b@school.test,Kim,Kid,Kim Kid,"Kid, Kim",Kim Kid,,active,true\n'
    )
    links = LINKS + "13,,10,S-100b,active,true\n"
    first = parse_snapshot(zipped(users=users, user_observers=links, enrollments=ENROLLMENTS))
    assert first.users[10].sis_user_id == "S-100"
    assert first.users[10].login_id == "kid100@school.test"
    assert first.student("S-100b") == Found(first.users[10])
    for seed in range(12):
        other = parse_snapshot(
            zipped(
                users=shuffled(users, seed),
                user_observers=shuffled(links, seed),
                enrollments=ENROLLMENTS,
            )
        )
        assert answers(other) == answers(first), seed


def row(line: int, student: str, email: str, first: str = "Pat", last: str = "Parent") -> RosterRow:
    return RosterRow(line, student, email, first, last)


def test_the_whole_plan_from_a_snapshot() -> None:
    """Already paired, not enrolled, a stranger's contact email, a new guardian once for two
    siblings, a student not found: all decided at once."""
    snap = parse_snapshot(zipped(users=USERS, user_observers=LINKS, enrollments=ENROLLMENTS))
    rows = [
        row(2, "S-100", "pat@home.test"),
        row(3, "S-1001", "pat@home.test"),
        row(4, "S-100", "shared@home.test", "Kim", "Home"),
        row(5, "S-100", "new@home.test", "New", "One"),
        row(6, "kid1001@school.test", "new@home.test", "New", "One"),
        row(7, "S-7", "new@home.test", "New", "One"),
    ]
    plan = plan_run(rows, snap, method="code")
    assert [p.outcome.value for p in plan] == [
        "already_paired",
        "not_enrolled",
        "observer_mismatch",
        "would_create",
        "not_enrolled",
        "student_not_found",
    ]
    direct = plan_run(rows, snap, method="direct")
    assert [p.outcome.value for p in direct][3:5] == ["would_create", "would_pair"]


def test_suspended_logins_and_login_providers_are_kept() -> None:
    """A suspended login still finds its account (by SIS id and by login); an account whose
    every live login is suspended is named in ``suspended`` (one active login, in any order,
    clears it), and the provider of the login shown for an account is kept."""
    head = USERS.split("\n", 1)[0] + "\n"
    text = head + (
        '20,G-20,,,sus@home.test,Sue,S,Sue S,"S, Sue",Sue S,,suspended,false\n'
        '21,,,2,both@home.test,Bo,B,Bo B,"B, Bo",Bo B,,suspended,false\n'
        '21,G-21,,1,both2@home.test,Bo,B,Bo B,"B, Bo",Bo B,,active,false\n'
        '22,G-22,,1,act@home.test,Al,A,Al A,"A, Al",Al A,,active,false\n'
        '22,,,,act2@home.test,Al,A,Al A,"A, Al",Al A,,suspended,false\n'
    )
    snapshot = parse_snapshot(text.encode())
    assert snapshot.suspended == {20: "sus@home.test"}
    assert snapshot.login_providers == {21: 1, 22: 1}
    state = snapshot.observer("sus@home.test", "G-20")
    assert state.user is not None and state.user.id == 20
    assert state.logins_known and state.suspended == "sus@home.test"
    assert snapshot.observer("both@home.test").suspended is None


def test_the_login_an_account_is_shown_by_does_not_depend_on_the_rows_order() -> None:
    """Of a user's live logins the account is shown by one with an SIS id, the smallest SIS
    id, then the smallest login without regard to case, then with it: in whichever order the
    rows come. The login provider is that login's, and none when that login has none."""
    head = "canvas_user_id,user_id,authentication_provider_id,login_id,full_name,email,status\n"
    rows = [
        "60,S-2,,a2@home.test,Ann,,active",
        "60,S-1,,z1@home.test,Ann,,active",  # the smallest SIS id, not the smallest login
        "61,,,Bob@home.test,Bo,,active",
        "61,,,amy@home.test,Bo,,active",  # smallest without regard to case
        "62,,,patb@home.test,Pat,,active",
        "62,,,pat_b@home.test,Pat,,active",  # "_" sorts before lower-case letters only
        "63,,,cy@home.test,Cy,,active",
        "63,,,Cy@home.test,Cy,,active",  # the same but for case: the upper-case one
        "64,,3,old@home.test,Di,,active",
        "64,S-64,,new@home.test,Di,,active",  # shown, and has no provider
    ]
    shown = {
        60: ("S-1", "z1@home.test"),
        61: (None, "amy@home.test"),
        62: (None, "pat_b@home.test"),
        63: (None, "Cy@home.test"),
        64: ("S-64", "new@home.test"),
    }
    for order in (rows, rows[::-1]):
        snap = parse_snapshot((head + "\n".join(order) + "\n").encode())
        assert {u: (snap.users[u].sis_user_id, snap.users[u].login_id) for u in shown} == shown
        assert snap.login_providers == {}
