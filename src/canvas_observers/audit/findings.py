"""The coverage audit, decided purely: the SIS roster against Canvas seen whole.

In: the roster's valid rows, a ``CanvasSnapshot`` (users, observer links, enrollments), the
links the journal shows this tool made (``OwnedLink``) and the accounts it created
(``CreatedAccount``). Out: an ``Audit``. No HTTP, no SQLite, no clock.

Rules (docs/cli.md, "canvas-observers audit"):

* a roster student is found exactly as the sync finds one (``CanvasSnapshot.student``);
* the SIS lists an observer for a student when the observer's account has one of the
  student's roster guardian emails as a login or as its email (the looser of the sync's two
  ways to find a guardian: an audit must not call a guardian "unknown" for the way the
  account was made);
* the students are the roster's students found in Canvas and every user with a live student
  enrollment; one with no observer at all is "with guardian" when the roster lists one for
  them, else "without guardian" (the roster is the SIS's list of guardians);
* a guardian the SIS lists with no email (the reader's ``no_email`` rows) is no rejected row
  but a person no sync can pair until the SIS has their email: each is listed, named, with
  their student (found in Canvas or not); a student nobody observes whose only SIS guardians
  have no email says so rather than "the SIS lists no guardian";
* who made a link: ``this tool`` when the journal owns it, ``an SIS import`` when the report
  says ``created_by_sis``, else ``a person or the parent`` (Canvas does not say which);
* an observer login has a managed password (Pseudonym#managed_password?) when it is bound to
  a provider that is not Canvas's, or bound to none with an SIS id on an account with single
  sign-on: its guardian can never set or reset a password in Canvas. The login judged is the
  one the report shows for the account (one with an SIS id first); the providers' types come
  from the API (``CanvasSnapshot.providers``), and without them nothing is judged;
* two accounts look like one parent (``duplicate_accounts``, each pair once, with every reason)
  when (a) they have the same name (``rules.same_name``, the sync's name comparison) and one's
  login or email is the other's login or email, (b) an account this tool created observes
  nobody while another account with its guardian's email (as login or email) observes that
  guardian's child, or (c) two accounts with the same name observe the same child. Only
  accounts that observe someone or that this tool created are judged (parents, not staff or
  students with a shared address). Which one the SIS points at is the account the sync finds
  for the roster's guardian emails (``CanvasSnapshot.observer``). Nothing is merged: Canvas's
  merge is a person's decision (Admin > People > the user > Merge with another user);
* an observer is "staff" (``staff_observers``) when the report's enrollments give the account
  a teacher, TA or designer enrollment (``CanvasSnapshot.staff``): a counsellor observing a
  caseload, or a teacher who is also a parent. Account admin roles are not in the report's
  users, links or enrollments, so an admin who teaches nothing is not named staff.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from canvas_observers.canvas.models import CanvasUser
from canvas_observers.roster.model import RosterRow, RowProblem, roster_pair
from canvas_observers.store.history import CreatedAccount, OwnedLink
from canvas_observers.sync.rules import Ambiguous, Found, Resolution, same_name
from canvas_observers.sync.snapshot import CanvasSnapshot

BY_TOOL = "this tool"
BY_SIS = "an SIS import"
BY_PERSON = "a person or the parent"

# The finding sections, in the order they are reported: (JSON section, CSV kind).
SECTIONS = (
    ("students_not_found", "student_not_found"),
    ("unobserved_with_guardian", "unobserved_with_guardian"),
    ("unobserved_without_guardian", "unobserved_without_guardian"),
    ("guardians_without_email", "guardian_without_email"),
    ("unlisted_observers", "unlisted_observer"),
    ("idle_accounts", "idle_account"),
    ("managed_logins", "managed_login"),
    ("lost_observer_enrollments", "lost_observer_enrollment"),
    ("duplicate_accounts", "duplicate_account"),
    ("staff_observers", "staff_observer"),
)
FINDING_FIELDS = (
    "kind",
    "student_id",
    "canvas_student_id",
    "observer",
    "canvas_observer_id",
    "made_by",
    "detail",
    "course",
    "canvas_course_id",
    "other_account",
    "canvas_other_account_id",
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the audit found: a student, a link or an account, and what it means."""

    kind: str
    student_id: str = ""
    canvas_student_id: int | None = None
    observer: str = ""
    canvas_observer_id: int | None = None
    made_by: str = ""
    detail: str = ""
    course: str = ""  # the course's SIS id ('' without one), for an observer enrollment
    canvas_course_id: int | None = None
    # The second account of a duplicate pair (``observer`` is the first: the one the SIS
    # points at, when it points at one of them).
    other_account: str = ""
    canvas_other_account_id: int | None = None
    # The people's names as Canvas gives them, for the HTML page ('' when unknown); the JSON
    # and CSV reports keep FINDING_FIELDS.
    student_name: str = ""
    observer_name: str = ""
    other_account_name: str = ""

    def as_json(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in FINDING_FIELDS}


@dataclass(frozen=True, slots=True)
class LinkedObserver:
    """An observer Canvas links to the student, whether the SIS lists them, who made it."""

    canvas_observer_id: int
    observer: str
    listed: bool
    made_by: str


@dataclass(frozen=True, slots=True)
class SisGuardian:
    """A guardian the SIS lists for the student: their account (if one is found) and whether
    it observes the student in Canvas."""

    email: str
    canvas_observer_id: int | None
    linked: bool


@dataclass(frozen=True, slots=True)
class StudentCoverage:
    """One roster student: the guardians the SIS lists and the observers Canvas has."""

    student_id: str
    canvas_student_id: int | None
    guardians: tuple[SisGuardian, ...]
    observers: tuple[LinkedObserver, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "student_id": self.student_id,
            "canvas_student_id": self.canvas_student_id,
            "guardians": [
                {"email": g.email, "canvas_observer_id": g.canvas_observer_id, "linked": g.linked}
                for g in self.guardians
            ],
            "observers": [
                {
                    "canvas_observer_id": o.canvas_observer_id,
                    "observer": o.observer,
                    "listed": o.listed,
                    "made_by": o.made_by,
                }
                for o in self.observers
            ],
        }


@dataclass(frozen=True, slots=True)
class Audit:
    """The whole audit: each roster student's coverage, the findings by section, and counts
    that are not findings (``counts``)."""

    students: tuple[StudentCoverage, ...] = ()
    students_not_found: tuple[Finding, ...] = ()
    unobserved_with_guardian: tuple[Finding, ...] = ()
    unobserved_without_guardian: tuple[Finding, ...] = ()
    guardians_without_email: tuple[Finding, ...] = ()
    unlisted_observers: tuple[Finding, ...] = ()
    idle_accounts: tuple[Finding, ...] = ()
    managed_logins: tuple[Finding, ...] = ()
    lost_observer_enrollments: tuple[Finding, ...] = ()
    duplicate_accounts: tuple[Finding, ...] = ()
    staff_observers: tuple[Finding, ...] = ()
    counts: dict[str, int] = field(default_factory=dict, hash=False)

    def section(self, name: str) -> tuple[Finding, ...]:
        found: tuple[Finding, ...] = getattr(self, name)
        return found

    def findings(self) -> list[Finding]:
        """Every finding, section by section."""
        return [f for name, _ in SECTIONS for f in self.section(name)]

    @property
    def totals(self) -> dict[str, int]:
        """The counts, then each section's size, then the unlisted links by who made them."""
        made = [f.made_by for f in self.unlisted_observers]
        return {
            **self.counts,
            **{name: len(self.section(name)) for name, _ in SECTIONS},
            "unlisted_by_this_tool": made.count(BY_TOOL),
            "unlisted_by_sis_import": made.count(BY_SIS),
            "unlisted_by_person_or_parent": made.count(BY_PERSON),
        }


def shown(user: CanvasUser | None) -> str:
    """How an account is named in the audit: its login, else its email, else its name."""
    if user is None:
        return ""
    return user.login_id or user.email or user.name


def _name(user: CanvasUser | None) -> str:
    return user.name if user is not None else ""


def _student_key(user: CanvasUser | None) -> str:
    if user is None:
        return ""
    return user.sis_user_id or user.login_id or ""


class _Canvas:
    """The snapshot with the journal's knowledge, and the questions the audit asks of them."""

    def __init__(self, snapshot: CanvasSnapshot, owned: Iterable[OwnedLink]) -> None:
        self.snapshot = snapshot
        self.owned = {(link.observer_id, link.student_id): link for link in owned}
        self.observers_of: dict[int, set[int]] = {}
        for observer, kids in snapshot.observees.items():
            for kid in kids:
                self.observers_of.setdefault(kid, set()).add(observer)

    def made_by(self, observer: int, student: int) -> str:
        if (observer, student) in self.owned:
            return BY_TOOL
        return BY_SIS if (observer, student) in self.snapshot.sis_links else BY_PERSON

    def accounts_of(self, email: str) -> set[int]:
        """Every account with this (lower-cased) email as a login or as its email."""
        return self.snapshot.accounts_with(email)

    def observed(self, student: int) -> bool:
        return bool(self.observers_of.get(student))


@dataclass
class _RosterStudent:
    student_id: str  # as the roster first gives it
    emails: list[str] = field(default_factory=list)  # lower-cased, in roster order
    canvas_id: int | None = None


def audit(
    rows: Sequence[RosterRow],
    snapshot: CanvasSnapshot,
    *,
    owned: Iterable[OwnedLink] = (),
    created: Iterable[CreatedAccount] = (),
    no_email: Sequence[RowProblem] = (),
) -> Audit:
    """The coverage audit of Canvas against the roster (see the module docstring);
    ``no_email``: the roster's guardians with no email (its ``no_email`` problems)."""
    canvas = _Canvas(snapshot, owned)
    roster: dict[str, _RosterStudent] = {}
    for row in rows:
        student = roster.setdefault(
            roster_pair(row.student_id, "")[0], _RosterStudent(row.student_id)
        )
        if row.email_key not in student.emails:
            student.emails.append(row.email_key)

    not_found: list[Finding] = []
    listed_emails: dict[int, list[str]] = {}  # Canvas student -> every email the SIS lists
    roster_name: dict[int, str] = {}  # Canvas student -> the roster's id for them
    for student in roster.values():
        resolution = snapshot.student(student.student_id)
        if isinstance(resolution, Found):
            student.canvas_id = uid = resolution.user.id
            roster_name.setdefault(uid, student.student_id)
            emails = listed_emails.setdefault(uid, [])
            emails.extend(e for e in student.emails if e not in emails)
        else:
            not_found.append(_not_found(student, resolution))
    listed = {
        uid: {account for e in emails for account in canvas.accounts_of(e)}
        for uid, emails in listed_emails.items()
    }
    students = tuple(_coverage(student, canvas, listed) for student in roster.values())
    with_guardian = [
        Finding(
            "unobserved_with_guardian",
            student_id,
            uid,
            observer=", ".join(listed_emails[uid]),
            detail=_why_unobserved(snapshot, uid, listed_emails[uid]),
            student_name=_name(snapshot.users.get(uid)),
        )
        for uid, student_id in roster_name.items()
        if not canvas.observed(uid)
    ]
    without_email = _without_email(no_email, snapshot)
    emailless: dict[int, list[str]] = {}  # Canvas student -> their guardians with no email
    for finding in without_email:
        if finding.canvas_student_id is not None:
            emailless.setdefault(finding.canvas_student_id, []).append(finding.observer_name)
    without_guardian = [
        Finding(
            "unobserved_without_guardian",
            _student_key(snapshot.users.get(uid)),
            uid,
            detail=_why_no_guardian(emailless.get(uid, [])),
            student_name=_name(snapshot.users.get(uid)),
        )
        for uid in sorted(snapshot.enrolled or ())
        if uid not in roster_name and not canvas.observed(uid)
    ]
    unlisted = [
        Finding(
            "unlisted_observer",
            roster_name.get(kid) or _student_key(snapshot.users.get(kid)),
            kid,
            shown(snapshot.users.get(observer)),
            observer,
            canvas.made_by(observer, kid),
            _why_unlisted(listed_emails.get(kid), canvas.owned.get((observer, kid))),
            student_name=_name(snapshot.users.get(kid)),
            observer_name=_name(snapshot.users.get(observer)),
        )
        for kid, observer in sorted(
            (kid, observer) for observer, kids in snapshot.observees.items() for kid in kids
        )
        if observer not in listed.get(kid, ())
    ]
    roster_emails = {row.email_key for row in rows}
    created = list(created)
    idle = [
        _idle(account, snapshot.users[account.observer_id], roster_emails)
        for account in created
        if account.observer_id in snapshot.users and not snapshot.observees.get(account.observer_id)
    ]
    population = set(roster_name) | set(snapshot.enrolled or ())
    counts = {
        "students": len(population),
        "students_observed": sum(canvas.observed(uid) for uid in population),
        "roster_students": len(roster),
        "roster_students_found": sum(s.canvas_id is not None for s in roster.values()),
        "sis_guardians": sum(len(s.guardians) for s in students),
        "sis_guardians_linked": sum(g.linked for s in students for g in s.guardians),
        "canvas_students": len(snapshot.enrolled or ()),
        "observer_links": sum(len(kids) for kids in snapshot.observees.values()),
    }
    return Audit(
        students=students,
        students_not_found=tuple(not_found),
        unobserved_with_guardian=tuple(with_guardian),
        unobserved_without_guardian=tuple(without_guardian),
        guardians_without_email=tuple(without_email),
        unlisted_observers=tuple(unlisted),
        idle_accounts=tuple(idle),
        managed_logins=tuple(_managed(snapshot, created)),
        lost_observer_enrollments=tuple(lost_observer_enrollments(snapshot, canvas, roster_name)),
        duplicate_accounts=tuple(_duplicates(snapshot, created, roster.values(), listed_emails)),
        staff_observers=tuple(_staff(snapshot, listed, roster_name)),
        counts=counts,
    )


def _without_email(problems: Sequence[RowProblem], snapshot: CanvasSnapshot) -> list[Finding]:
    """Each guardian the SIS has no email for, once per student, named, with their student."""
    found: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for problem in problems:
        if not problem.no_email:
            continue
        key = (roster_pair(problem.student_id, "")[0], problem.guardian_id or problem.observer_name)
        if key in seen:
            continue
        seen.add(key)
        resolution = snapshot.student(problem.student_id)
        user = resolution.user if isinstance(resolution, Found) else None
        who = problem.observer_name or "this guardian"
        found.append(
            Finding(
                "guardian_without_email",
                problem.student_id,
                user.id if user is not None else None,
                detail=f"the SIS has no email for {who}, so no sync can pair them: add the "
                "email in the SIS (the next sync pairs them), or give the family the student's "
                "Canvas pairing code",
                student_name=_name(user),
                observer_name=problem.observer_name,
            )
        )
    return found


def _why_no_guardian(without_email: Sequence[str]) -> str:
    """What to do for a student nobody observes and whom no usable roster row names."""
    if not without_email:
        return (
            "the SIS lists no guardian for this student: record one there, if they should have one"
        )
    names = ", ".join(name or "a guardian" for name in without_email)
    return f"the SIS lists {names} for this student, with no email: add it in the SIS"


def _managed(snapshot: CanvasSnapshot, created: Iterable[CreatedAccount]) -> list[Finding]:
    """Observer accounts (observing someone, or made by this tool) whose login's password
    Canvas manages; none when the providers could not be read."""
    providers = snapshot.providers
    if providers is None:
        return []
    sso = any(kind != "canvas" for kind in providers.values())
    made = {account.observer_id for account in created}
    found: list[Finding] = []
    for uid in sorted(set(snapshot.observees) | made):
        user = snapshot.users.get(uid)
        if user is None:
            continue
        provider = snapshot.login_providers.get(uid)
        if provider is not None:
            kind = providers.get(provider)
            if kind is None or kind == "canvas":
                continue  # Canvas's own sign-in (or a provider since deleted, with its logins)
            why = f"its login is bound to the {kind} provider ({provider})"
        elif user.sis_user_id is not None and sso:
            why = "its login has an SIS id and no provider, on an account with single sign-on"
        else:
            continue
        found.append(
            Finding(
                "managed_login",
                observer=shown(user),
                canvas_observer_id=uid,
                made_by=BY_TOOL if uid in made else "",
                observer_name=user.name,
                detail=f"Canvas manages this login's password ({why}): the guardian can "
                "neither set nor reset one in Canvas and signs in only through the district's "
                "single sign-on; if they have no account there, bind the login to the Canvas "
                "provider (sync --login-provider canvas binds new logins so)",
            )
        )
    return found


# -- observer enrollments ------------------------------------------------------------------

LOST_ENROLLMENT_TODO = (
    "the guardian sees nothing of this course: remove the link in Canvas and let the next sync "
    "make it again (or add it again by hand), which makes Canvas enroll the observer in the "
    "student's courses again; sync cannot do it without removing the link, because Canvas "
    "enrolls an observer only when a link is made or restored"
)


def lost_observer_enrollments(
    snapshot: CanvasSnapshot, canvas: _Canvas, roster_name: Mapping[int, str]
) -> list[Finding]:
    """Live links whose observer has no active or pending observer enrollment for the student
    in a course the student is enrolled in as active or pending: one finding per link and
    course, by student, observer and course id. Canvas enrolls the observer in those courses
    when the link is made (UserObservationLink#create_linked_enrollments); an enrollment
    import can take them away later, and the link then shows the parent nothing."""
    found: list[Finding] = []
    for observer, kids in sorted(snapshot.observees.items()):
        for kid in sorted(kids):
            for course in sorted(snapshot.student_courses.get(kid, ())):
                if (observer, kid, course) in snapshot.observing_in:
                    continue
                sis_course = snapshot.course_sis_ids.get(course, "")
                named = (
                    f"course {sis_course} (Canvas id {course})"
                    if sis_course
                    else (f"the course with Canvas id {course}")
                )
                found.append(
                    Finding(
                        "lost_observer_enrollment",
                        roster_name.get(kid) or _student_key(snapshot.users.get(kid)),
                        kid,
                        shown(snapshot.users.get(observer)),
                        observer,
                        canvas.made_by(observer, kid),
                        f"the observer is not enrolled in {named}, where the student is: "
                        + LOST_ENROLLMENT_TODO,
                        course=sis_course,
                        canvas_course_id=course,
                        student_name=_name(snapshot.users.get(kid)),
                        observer_name=_name(snapshot.users.get(observer)),
                    )
                )
    found.sort(key=lambda f: (f.canvas_student_id or 0, f.canvas_observer_id or 0))
    return found


def _not_found(student: _RosterStudent, resolution: Resolution) -> Finding:
    if isinstance(resolution, Ambiguous):
        ids = ", ".join(str(u.id) for u in resolution.users)
        detail = f"several accounts match exactly ({ids}): fix the duplicates in Canvas"
    else:
        detail = "no Canvas account has this SIS id or login: check the id in the SIS"
    return Finding(
        "student_not_found", student.student_id, observer=", ".join(student.emails), detail=detail
    )


def _coverage(
    student: _RosterStudent, canvas: _Canvas, listed: Mapping[int, set[int]]
) -> StudentCoverage:
    """The roster student's guardians and Canvas observers."""
    uid = student.canvas_id
    linked = sorted(canvas.observers_of.get(uid, ())) if uid is not None else []
    guardians: list[SisGuardian] = []
    for email in student.emails:
        on = sorted(canvas.accounts_of(email) & set(linked))
        account: int | None = on[0] if on else None
        if account is None:
            resolution = canvas.snapshot.observer(email).resolution
            account = resolution.user.id if isinstance(resolution, Found) else None
        guardians.append(SisGuardian(email, account, bool(on)))
    observers = tuple(
        LinkedObserver(
            observer,
            shown(canvas.snapshot.users.get(observer)),
            observer in listed[uid],
            canvas.made_by(observer, uid),
        )
        for observer in linked
        if uid is not None
    )
    return StudentCoverage(student.student_id, uid, tuple(guardians), observers)


def _why_unobserved(snapshot: CanvasSnapshot, uid: int, emails: Sequence[str]) -> str:
    """What to do for a roster student nobody observes."""
    accounts = [snapshot.observer(email).resolution for email in emails]
    if any(isinstance(r, Found) for r in accounts):
        why = "a guardian's account exists but is not linked: run sync (its row's outcome says "
        why += "why it was not paired)"
    else:
        why = "no Canvas account for the guardian yet: run sync, which creates and pairs it"
    if snapshot.has_live_enrollment(uid) is False:
        why += "; the student has no live enrollment, so no pairing code: sync --pairing direct"
    return why


def _why_unlisted(emails: Sequence[str] | None, link: OwnedLink | None) -> str:
    """What a link the SIS does not list means."""
    if emails:
        why = f"the SIS lists {', '.join(emails)} for this student, not this observer"
    else:
        why = "the student is not in the roster"
    if link is not None:
        made_for = f", for {link.roster_email}" if link.roster_email else ""
        why += (
            f"; this tool made it (run {link.run_id}{made_for}): sync --remove-ended removes it "
            "after --grace-runs runs"
        )
    return why


def _idle(account: CreatedAccount, user: CanvasUser, roster_emails: set[str]) -> Finding:
    """An account this tool created that observes nobody, and what to do about it."""
    names = {account.roster_email, user.login_id or "", user.email or ""}
    if {n.lower() for n in names if n} & roster_emails:
        todo = "the SIS still lists this guardian: run sync to pair them"
    else:
        todo = "the SIS no longer lists this guardian: pair them by hand, or delete the account"
    return Finding(
        "idle_account",
        observer=shown(user) or account.roster_email,
        canvas_observer_id=account.observer_id,
        made_by=BY_TOOL,
        detail=f"created in run {account.run_id}; {todo}",
        observer_name=user.name,
    )


# -- accounts that look like one parent -------------------------------------------------------

# The reasons two accounts look like one person, as the finding's detail words them.
_SHARED = "the same name, and {address} is a login or email of both"
_CREATED_IDLE = (
    "this tool created {made} for {email} (run {run}); it observes nobody, while {other}, "
    "which has that email, observes {kids}"
)
_SAME_CHILD = "the same name, and both observe {kids}"


@dataclass
class _Pair:
    """Two accounts and why they look like one person; ``kids``: the children concerned."""

    reasons: list[str] = field(default_factory=list)
    kids: set[int] = field(default_factory=set)


def _addresses(user: CanvasUser) -> set[str]:
    return {a.lower() for a in (user.login_id, user.email) if a}


def _duplicates(
    snapshot: CanvasSnapshot,
    created: Sequence[CreatedAccount],
    roster: Iterable[_RosterStudent],
    listed_emails: Mapping[int, Sequence[str]],
) -> list[Finding]:
    """Pairs of accounts that look like one parent (see the module docstring), each once."""
    users = snapshot.users
    made = {account.observer_id: account for account in created}
    parents = {uid for uid, kids in snapshot.observees.items() if kids} | set(made)
    pairs: dict[tuple[int, int], _Pair] = {}

    def note(one: int, other: int, reason: str, kids: Iterable[int] = ()) -> None:
        pair = pairs.setdefault((min(one, other), max(one, other)), _Pair())
        if reason not in pair.reasons:
            pair.reasons.append(reason)
        pair.kids.update(kids)

    # (a) a shared login or email and the same name
    for address in {*snapshot.by_login.keys(), *snapshot.by_email.keys()}:
        holders = sorted(snapshot.accounts_with(address) & users.keys())
        for i, one in enumerate(holders):
            for other in holders[i + 1 :]:
                if {one, other} & parents and same_name(users[one], users[other]):
                    note(one, other, _SHARED.format(address=address))
    # (b) an account this tool made observes nobody; another with its email observes the child
    for account in created:
        mine = users.get(account.observer_id)
        if mine is None or snapshot.observees.get(mine.id):
            continue
        emails = sorted(_addresses(mine) | {account.roster_email.lower()} - {""})
        for email in emails:
            for other in sorted(snapshot.accounts_with(email) - {mine.id}):
                theirs = snapshot.observees.get(other, set())
                kids = {k for k in theirs if email in listed_emails.get(k, ())} or theirs
                if kids and other in users:
                    reason = _CREATED_IDLE.format(
                        made=shown(mine),
                        email=email,
                        run=account.run_id,
                        other=shown(users[other]),
                        kids=_names(snapshot, kids),
                    )
                    note(mine.id, other, reason, kids)
    # (c) two accounts with the same name observe the same child
    observers_of: dict[int, list[int]] = {}
    for observer, kids in sorted(snapshot.observees.items()):
        for kid in kids:
            observers_of.setdefault(kid, []).append(observer)
    same_child: dict[tuple[int, int], set[int]] = {}
    for kid, observers in observers_of.items():
        known = [o for o in observers if o in users]
        for i, one in enumerate(known):
            for other in known[i + 1 :]:
                if same_name(users[one], users[other]):
                    same_child.setdefault((one, other), set()).add(kid)
    for (one, other), kids in same_child.items():
        note(one, other, _SAME_CHILD.format(kids=_names(snapshot, kids)), kids)

    guardians = {uid: s.emails for s in roster if (uid := s.canvas_id) is not None}
    return [
        _duplicate(snapshot, one, other, pair, guardians, made)
        for (one, other), pair in sorted(pairs.items())
    ]


def _names(snapshot: CanvasSnapshot, kids: Iterable[int]) -> str:
    """Students as a person reads them: "Ana Diaz (Canvas user 5)", joined."""
    return ", ".join(
        f"{_name(snapshot.users.get(kid)) or 'a student'} (Canvas user {kid})"
        for kid in sorted(kids)
    )


def _duplicate(
    snapshot: CanvasSnapshot,
    one: int,
    other: int,
    pair: _Pair,
    guardians: Mapping[int, Sequence[str]],
    made: Mapping[int, CreatedAccount],
) -> Finding:
    """The finding for one pair: the account the SIS points at first, and what to do."""
    users = snapshot.users
    emails = {a for uid in (one, other) for a in _addresses(users[uid])}
    emails |= {made[uid].roster_email.lower() for uid in (one, other) if uid in made}
    emails |= {e for kid in pair.kids for e in guardians.get(kid, ())}
    roster_emails = {e for s in guardians.values() for e in s}
    pointed: set[int] = set()
    for email in sorted(emails & roster_emails):
        resolution = snapshot.observer(email).resolution
        if isinstance(resolution, Found) and resolution.user.id in (one, other):
            pointed.add(resolution.user.id)
    first, second = (other, one) if pointed == {other} else (one, other)
    a, b = users[first], users[second]
    if len(pointed) == 1:
        sis = f"The SIS points at {shown(a)} (Canvas user {first}): keep that one."
    elif pointed:
        sis = "The SIS points at both (by different guardian emails): keep the one the parent uses."
    else:
        sis = "The SIS points at neither: keep the one the parent uses."
    todo = (
        f"{sis} If they are one person, an admin can merge them in Canvas (Admin > People > "
        f"{_name(a) or shown(a)} > Merge with another user, the kept account first); this tool "
        "never merges. If they are two people, nothing is wrong."
    )
    kid = min(pair.kids) if pair.kids else None
    return Finding(
        "duplicate_account",
        _student_key(users.get(kid)) if kid is not None else "",
        kid,
        shown(a),
        first,
        detail=f"{todo} Why they look like one person: {'; '.join(pair.reasons)}.",
        other_account=shown(b),
        canvas_other_account_id=second,
        student_name=_name(users.get(kid)) if kid is not None else "",
        observer_name=a.name,
        other_account_name=b.name,
    )


# -- staff who observe students ---------------------------------------------------------------


def _staff(
    snapshot: CanvasSnapshot, listed: Mapping[int, set[int]], roster_name: Mapping[int, str]
) -> list[Finding]:
    """Observer accounts that also have a staff enrollment, one finding each."""
    found: list[Finding] = []
    for uid in sorted(snapshot.observees.keys() & snapshot.staff.keys()):
        user, kids = snapshot.users.get(uid), sorted(snapshot.observees[uid])
        if user is None or not kids:
            continue
        roles = " and ".join(sorted(snapshot.staff[uid]))
        by_sis = [kid for kid in kids if uid in listed.get(kid, ())]
        if len(by_sis) == len(kids):
            whose = "the SIS gives this account's login or email as the guardian of each"
        elif by_sis:
            whose = f"the SIS gives it as the guardian of {len(by_sis)} of them"
        else:
            whose = "the SIS gives it as the guardian of none of them (linked by hand)"
        first = kids[0]
        found.append(
            Finding(
                "staff_observer",
                roster_name.get(first) or _student_key(snapshot.users.get(first)),
                first,
                shown(user),
                uid,
                detail=f"staff: a {roles} in Canvas who observes "
                f"{len(kids)} student{'s' if len(kids) != 1 else ''} ({_names(snapshot, kids)}); "
                f"{whose}. Check that this person should see these students' grades: a "
                "roster row whose guardian email is a staff login pairs that very account "
                "(a login is one person), so take them out of the SIS's guardians if not.",
                student_name=_name(snapshot.users.get(first)),
                observer_name=user.name,
            )
        )
    return found
