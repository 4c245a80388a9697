"""What to do about each row outcome: the one text the HTML report and docs/cli.md both give.

A test compares docs/cli.md's table "What to do about each outcome" with ``WHAT_TO_DO``, so
the page an admin shares and the manual never drift apart. Backquoted words are code.
"""

from __future__ import annotations

from canvas_observers.core.outcomes import Outcome

WHAT_TO_DO: dict[Outcome, str] = {
    Outcome.CREATED: 'Nothing. The guardian gets Canvas\'s "finish registering" email '
    "(unless `--no-registration-email`) and sees the student once signed in.",
    Outcome.PAIRED: "Nothing: the guardian's existing account now observes the student.",
    Outcome.ALREADY_PAIRED: "Nothing: the link was already there, nothing was sent.",
    Outcome.STUDENT_NOT_FOUND: "Check the student id in the SIS: it must be the student's "
    "Canvas SIS ID exactly (or their login when it contains `@`). A student Canvas does not "
    "have yet is found by a later run, once the SIS import has created them.",
    Outcome.STUDENT_AMBIGUOUS: "Several Canvas accounts match the id exactly: merge or fix "
    "the duplicate accounts in Canvas; the next run pairs the one left.",
    Outcome.OBSERVER_AMBIGUOUS: "Several Canvas accounts have the guardian's email: merge "
    "them in Canvas (or give the guardian one login); the next run pairs it.",
    Outcome.OBSERVER_MISMATCH: "The email is only the contact address of an account with "
    "another name: fix the email in the SIS, or the name in Canvas when it is the same "
    "person. `--trust-contact-email` pairs by the contact email alone.",
    Outcome.NOT_ENROLLED: "Usually nothing: Canvas gives no pairing code without a live "
    "enrollment, and a later run pairs the student once enrolled (or use "
    "`--pairing direct`).",
    Outcome.INVALID_ROW: "Fix the row in the SIS export (the detail names the field); the "
    "next run reads it again.",
    Outcome.NO_EMAIL: "The SIS has no email for this guardian, so nothing was written: "
    "add the guardian's email in the SIS (the next run pairs them), or give the family the "
    "student's Canvas pairing code, which a parent enters when signing up as an observer.",
    Outcome.CONFLICT: "The guardian email is the student's own login or email, or is used "
    "both as a student and a guardian: correct the guardian email in the SIS.",
    Outcome.GUARDIAN_EMAIL_CHANGED: "The SIS gives this guardian (same guardian id) a new "
    "email: the row was paired with their existing account. Run with `--update-guardians` to "
    "make the new email their login, or fix the email in the SIS if it is wrong.",
    Outcome.GUARDIAN_UPDATED: "Nothing: the guardian's login, email and names now follow the "
    "SIS; tell the guardian to sign in with the new email.",
    Outcome.GUARDIAN_ACCOUNT_DELETED: "The guardian's Canvas account was deleted, and no "
    "second account is ever made for a known guardian: restore the account, or give the "
    "guardian the one they should have (a merge, or one made by hand), then run "
    "`canvas-observers forget-guardian ID` with the guardian id the detail names.",
    Outcome.FAILED: "Read the detail (Canvas's answer); the next run retries the row. When "
    "it fails night after night, look at that account in Canvas.",
    Outcome.NOT_PROCESSED: "Fix what stopped the run (the summary's error, or `stopped "
    "because` in `canvas-observers show RUN`); the next run takes these rows, nothing was "
    "tried for them.",
    Outcome.WOULD_CREATE: "Nothing: a dry run; a real run creates the account and pairs it.",
    Outcome.WOULD_PAIR: "Nothing: a dry run; a real run pairs them.",
    Outcome.EXCLUDED: "Nothing: the pair is on the `--exclude` do-not-pair list and is "
    "never linked.",
    Outcome.NOT_ELIGIBLE: "Nothing, if the rule is right: an eligibility rule (`--only`, "
    "`--skip`) leaves this contact out, so nothing is written for them. To pair them, change "
    "the contact in the SIS or the rule.",
    Outcome.REMOVED: "Nothing, unless the link should stay: `canvas-observers undo RUN` "
    "puts back the links this run removed.",
    Outcome.WOULD_REMOVE: "Check the list: a real run with `--remove-ended` removes these links.",
    Outcome.REMOVAL_PENDING: "Nothing, if the SIS really ended these links: they go after the "
    "runs named. If a student or guardian should still be paired, put them back in the SIS "
    "export before then.",
}
"""One sentence or two per outcome, in ``Outcome`` order; every outcome has one."""
