"""Which Canvas account is a roster's guardian: never the student's own account (self-pairing
is a conflict), not a stranger whose contact email the roster names, two accounts for two
look-alike emails, one for two emails of one account, and always the account's current id."""

from __future__ import annotations

from canvas_observers.store.journal import Journal
from tests.wiring import BASE_URL

from .conftest import District, SyncRunner, outcomes


def pairing_writes(district: District) -> int:
    routes = district.fake.stats.by_route
    return routes.get("POST /api/v1/users/:user_id/observees", 0) + routes.get(
        "PUT /api/v1/users/:user_id/observees/:observee_id", 0
    )


# --- a guardian account that is the student's own -------------------------------------------


async def test_guardian_email_on_a_second_login_of_the_student_is_a_conflict(
    district: District, sync_csv: SyncRunner
) -> None:
    """The email is the student's *other* login (found after "taken"): conflict, no pairing,
    no account; the run goes on (Canvas would answer 401 after burning the code)."""
    kid = district.student("S1")
    state = district.fake.state
    state._add_login(state.users[kid], "family@home.test", None)  # a second login of the kid
    district.student("S2")
    report = await sync_csv("S1,family@home.test,Pat,Lee\nS2,other@home.test,Ann,Lee\n")
    assert outcomes(report) == {2: "conflict", 3: "created"}
    assert "student's own Canvas account" in report.results[0].detail
    assert report.aborted is None
    assert all(s != kid for _, s in district.links())
    assert pairing_writes(district) == 0  # the created guardian was paired by the create


async def test_self_pairing_found_through_the_journal_route_is_a_conflict(
    district: District, sync_csv: SyncRunner
) -> None:
    """A guardian seen before is found by login; when that login is the student's, nothing
    is written, in a dry run too."""
    kid = district.student("S1")
    state = district.fake.state
    state._add_login(state.users[kid], "family@home.test", None)
    journal = Journal.open(":memory:")
    journal.for_run(0, canvas_url=BASE_URL).remember_user(
        kind="observer", key="family@home.test", canvas_id=kid, at="x"
    )
    dry = await sync_csv("S1,family@home.test,Pat,Lee\n", journal=journal, dry_run=True)
    assert outcomes(dry) == {2: "conflict"}
    writes = district.writes()
    report = await sync_csv("S1,family@home.test,Pat,Lee\n", journal=journal, method="direct")
    assert outcomes(report) == {2: "conflict"}
    assert district.writes() == writes
    assert district.links() == set()


# --- a contact email is not identity ----------------------------------------------------------


async def test_a_strangers_contact_email_is_observer_mismatch_and_nothing_is_written(
    district: District, sync_csv: SyncRunner
) -> None:
    """The roster email is only another adult's contact address: no pairing, no new account;
    the dry run says the same."""
    district.student("S1")
    stranger = district.fake.state.add_user(
        "Not The Parent", login_id="someone.else@home.test", email="shared.home@home.test"
    )
    dry = await sync_csv("S1,shared.home@home.test,Kim,Home\n", dry_run=True)
    assert outcomes(dry) == {2: "observer_mismatch"}
    writes = district.writes()
    report = await sync_csv("S1,shared.home@home.test,Kim,Home\n")
    assert outcomes(report) == {2: "observer_mismatch"}
    detail = report.results[0].detail
    assert f"contact email of Canvas user {stranger} 'Not The Parent'" in detail
    assert "login someone.else@home.test" in detail and "the roster names Kim Home" in detail
    assert district.writes() == writes
    assert district.fake.state.user_by_login("shared.home@home.test") is None
    assert report.aborted is None and report.attention()


async def test_a_contact_email_with_the_roster_name_is_used(
    district: District, sync_csv: SyncRunner
) -> None:
    """Same name (order, case and accents aside): the account is the guardian's; paired."""
    kid = district.student("S1")
    parent = district.fake.state.add_user(
        "JOSÉ  Núñez", login_id="jn-1975", email="jose@home.test", sortable_name="Núñez, JOSÉ"
    )
    report = await sync_csv("S1,jose@home.test,Nunez,jose\n")
    assert outcomes(report) == {2: "paired"}
    assert district.links() == {(parent, kid)}


async def test_trust_contact_email_pairs_by_email_alone(
    district: District, sync_csv: SyncRunner
) -> None:
    """--trust-contact-email restores the older rule for districts that want it."""
    kid = district.student("S1")
    stranger = district.fake.state.add_user(
        "Not The Parent", login_id="someone.else@home.test", email="shared.home@home.test"
    )
    report = await sync_csv("S1,shared.home@home.test,Kim,Home\n", trust_contact_email=True)
    assert outcomes(report) == {2: "paired"}
    assert district.links() == {(stranger, kid)}


# --- look-alike emails, one account's two emails, an account recreated --------------------


async def test_lookalike_emails_are_never_one_guardian(
    district: District, sync_csv: SyncRunner
) -> None:
    """`straße` and `strasse` are two emails and two look-ups (LOWER() tells them apart), but
    one login id once Canvas normalises it: the second is refused as taken, and its row fails
    at once with why (no retries, no pairing with the other guardian's account)."""
    a = district.student("A1")
    district.student("B2")
    report = await sync_csv("A1,anna.straße@home.test,Anna,S\nB2,anna.strasse@home.test,Bob,S\n")
    assert outcomes(report) == {2: "created", 3: "failed"}
    assert "same id once Canvas compares it normalised" in report.results[1].detail
    anna = district.fake.state.user_by_login("anna.straße@home.test")
    assert anna is not None
    assert district.fake.state.user_by_login("anna.strasse@home.test") is None
    assert district.links() == {(anna.id, a)}
    creates = district.fake.stats.by_route["POST /api/v1/accounts/:account_id/users"]
    assert creates == 2


async def test_two_emails_of_one_account_pair_a_student_once(
    district: District, sync_csv: SyncRunner
) -> None:
    """A login and an email of the same account, both in the roster: one pairing, not two."""
    s1 = district.student("S1")
    dad = district.guardian("dad@work.test", name="Dad Doe", login="dad@home.test")
    rows = "".join(f"S1,{email},Dad,Doe\n" for email in ("dad@home.test", "dad@work.test"))
    report = await sync_csv(rows, method="direct")
    assert sorted(outcomes(report).values()) == ["already_paired", "paired"]
    assert district.links() == {(dad, s1)}
    assert district.fake.stats.by_method.get("PUT", 0) == 1


async def test_report_never_shows_a_stale_observer_id(
    district: District, sync_csv: SyncRunner
) -> None:
    """A guardian recreated with the same login is never reported under the old account id."""
    a = district.student("A1")
    journal = Journal.open(":memory:")
    await sync_csv("A1,pat@home.test,Pat,Lee\n", journal=journal)
    old = district.fake.state.user_by_login("pat@home.test")
    assert old is not None
    district.fake.state.delete_user(old.id)
    new = district.guardian("pat@home.test")
    district.fake.state.link(new, a)
    report = await sync_csv("A1,pat@home.test,Pat,Lee\n", journal=journal)
    assert outcomes(report) == {2: "already_paired"}
    assert report.results[0].canvas_observer_id in {None, new}
