"""The pure side of guardian ids: what an account found by the guardian id lacks, how rows
report it, and a roster that gives one guardian id two emails."""

from __future__ import annotations

from canvas_observers.canvas.models import CanvasUser
from canvas_observers.core.outcomes import Outcome
from canvas_observers.roster.model import RosterRow
from canvas_observers.sync.identity import (
    IdentityChange,
    IdentityNote,
    SisIdChange,
    account_deleted,
    identity_change,
    predict,
    sis_id_change,
    sis_id_changed,
    sis_id_kept,
    updated,
    with_note,
)
from canvas_observers.sync.rules import Found, ObserverState, roster_conflicts


def row(email: str = "new@home.test", gid: str | None = "7", line: int = 2) -> RosterRow:
    return RosterRow(line, "S1", email, "Pat", "Lee", guardian_id=gid)


def found(login: str | None, name: str = "Pat Lee", *, by_sis_id: bool = True) -> ObserverState:
    user = CanvasUser(id=5, name=name, login_id=login)
    return ObserverState(Found(user, by_sis_id=by_sis_id))


def test_only_an_account_found_by_the_guardian_id_can_have_changed() -> None:
    """A login other than the email, or other names, count only on an account found by the
    SIS id; the same login in another letter case, or a hidden login, is no change."""
    change = identity_change(found("old@home.test"), row())
    assert change is not None and (change.old_login, change.rename) == ("old@home.test", False)
    assert identity_change(found("old@home.test", by_sis_id=False), row()) is None
    assert identity_change(found("NEW@home.test"), row()) is None
    assert identity_change(found(None), row()) is None
    renamed = identity_change(found("new@home.test", "Pat Kim"), row())
    assert renamed is not None and (renamed.old_login, renamed.rename) == (None, True)


def test_notes_replace_paired_outcomes_and_annotate_the_others() -> None:
    """Without --update-guardians a changed email replaces paired/already paired (said in
    words) and is added to a failure's detail; a name-only change says nothing."""
    change = identity_change(found("old@home.test"), row())
    note = predict(change, row(), update=False, owner=None)
    assert note is not None and note.outcome is Outcome.GUARDIAN_EMAIL_CHANGED
    outcome, detail = with_note(Outcome.ALREADY_PAIRED, "", note)
    assert outcome is Outcome.GUARDIAN_EMAIL_CHANGED and detail.endswith("; already paired")
    kept, why = with_note(Outcome.NOT_ENROLLED, "no enrollment", note)
    assert kept is Outcome.NOT_ENROLLED and why.startswith("no enrollment; ")
    name_only = identity_change(found("new@home.test", "Pat Kim"), row())
    assert predict(name_only, row(), update=False, owner=None) is None


def test_update_predictions_conflict_on_another_accounts_login() -> None:
    """With --update-guardians, a dry run predicts a conflict when the new email is another
    account's login, and the change otherwise; the account's own login is no conflict."""
    change = identity_change(found("old@home.test"), row())
    other = CanvasUser(id=9, name="Someone")
    taken = predict(change, row(), update=True, owner=other)
    assert taken is not None and taken.outcome is Outcome.CONFLICT
    mine = predict(change, row(), update=True, owner=CanvasUser(id=5, name="Pat Lee"))
    assert mine is not None and mine.outcome is Outcome.GUARDIAN_EMAIL_CHANGED
    assert updated([]) is None
    done = updated(["login a -> b"])
    assert done is not None and done.once and done.outcome is Outcome.GUARDIAN_UPDATED


def test_one_guardian_id_with_two_emails_is_a_roster_conflict() -> None:
    """Every row of a guardian id given two emails is a conflict; other rows are not."""
    rows = [row("a@home.test", "7", 2), row("b@home.test", "7", 3), row("c@home.test", "8", 4)]
    conflicts = roster_conflicts(rows)
    assert set(conflicts) == {2, 3}
    assert "a@home.test, b@home.test" in conflicts[2]


def test_a_login_takes_the_new_emails_sis_id_only_when_the_template_made_its_old_one() -> None:
    """The template's SIS id for the old email becomes the template's for the new one; a
    template without {email}, another SIS id, or one the token cannot see is left alone."""

    def change(template: str, sis: str | None) -> SisIdChange | None:
        return sis_id_change(
            template,
            guardian_id="7",
            login="old@home.test",
            login_sis_id=sis,
            new_email="new@home.test",
        )

    assert change("{email}", "old@home.test") == SisIdChange("old@home.test", "new@home.test")
    assert change("{sourcedId}:{email}", "7:old@home.test") == SisIdChange(
        "7:old@home.test", "7:new@home.test"
    )
    assert change("G-{sourcedId}", "G-7") is None
    assert change("{email}", "P-7") is None
    assert change("{email}", "OLD@home.test") is None  # SIS ids are exact
    assert change("{email}", None) is None


def test_a_login_moving_to_its_own_email_keeps_its_sis_id() -> None:
    """Nothing to rewrite when the new email is the login already (the same SIS id)."""
    kept = sis_id_change(
        "{email}",
        guardian_id="7",
        login="same@home.test",
        login_sis_id="same@home.test",
        new_email="same@home.test",
    )
    assert kept is None


CHANGED = (
    "the SIS's guardian 7 has the Canvas account 5, whose login is old@home.test, not "
    "new@home.test; that account is used (no second account is made)"
)


def test_what_the_guardians_rows_say_about_their_account() -> None:
    """The words each note gives an admin: the change found, what --update-guardians would do
    or did, why it could not, and the SIS id kept or moved."""
    change = identity_change(found("old@home.test", "Pat Kim"), row())
    assert change == IdentityChange(
        CanvasUser(id=5, name="Pat Kim", login_id="old@home.test"),
        "7",
        "new@home.test",
        "old@home.test",
        True,
    )
    assert predict(change, row(), update=False, owner=None) == IdentityNote(
        Outcome.GUARDIAN_EMAIL_CHANGED,
        f"{CHANGED}; sync --update-guardians changes its login to new@home.test",
    )
    assert predict(change, row(), update=True, owner=None) == IdentityNote(
        Outcome.GUARDIAN_EMAIL_CHANGED,
        f"{CHANGED}; --update-guardians would change the login to new@home.test and add it as "
        "an email and set the name to 'Pat Lee'",
    )
    name_only = identity_change(found("new@home.test", "Pat Kim"), row())
    assert predict(name_only, row(), update=True, owner=None) == IdentityNote(
        None, "--update-guardians would set the name to 'Pat Lee'"
    )
    owner = CanvasUser(id=9, name="Someone")
    assert predict(change, row(), update=True, owner=owner) == IdentityNote(
        Outcome.CONFLICT,
        f"{CHANGED}; its login was not changed: new@home.test is already the login of Canvas "
        "user 9 'Someone'. Nothing about the guardian was changed; merge or fix the two "
        "accounts in Canvas",
    )
    assert updated(["login a -> b", "name set"]) == IdentityNote(
        Outcome.GUARDIAN_UPDATED, "guardian updated: login a -> b; name set", once=True
    )
    moved = SisIdChange("old@home.test", "new@home.test")
    assert sis_id_changed(moved) == "SIS id old@home.test -> new@home.test"
    assert sis_id_kept(moved, "taken") == (
        "SIS id old@home.test kept: Canvas refused new@home.test (taken); a look-up by "
        "old@home.test still finds this account, so change the login's SIS id in Canvas if the "
        "old email may be given to someone else"
    )


def test_a_deleted_guardian_account_names_the_guardian_and_what_to_do() -> None:
    assert account_deleted(row(), 5) == (
        Outcome.GUARDIAN_ACCOUNT_DELETED,
        "the SIS's guardian 7 had the Canvas account 5, which Canvas no longer has (deleted or "
        "merged away); no new account was made. Restore the account in Canvas, or give the "
        "guardian the account they should have (a merge, or one made by hand), then run "
        "`canvas-observers forget-guardian 7`: the next sync finds the guardian again by SIS "
        "id, login and email, and makes an account only when it finds none",
    )
