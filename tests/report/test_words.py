"""The run in words: the first sentence from the counts (singular, plural, zero, dry run),
outcome names, durations and local times."""

from __future__ import annotations

from collections.abc import Collection
from zoneinfo import ZoneInfo

import pytest

from canvas_observers.core.outcomes import DEFAULT_FAIL_ON, Outcome
from canvas_observers.report.words import (
    OUTCOME_WORDS,
    coverage_sentence,
    duration_words,
    lead_sentence,
    local_time,
    waiting_clause,
)


@pytest.mark.parametrize(
    ("totals", "dry_run", "sentence"),
    [
        (
            {"created": 238, "paired": 82, "not_enrolled": 18, "student_not_found": 4},
            False,
            "238 parents were given Canvas accounts and 82 were paired; 4 rows need your "
            "attention; 18 students are not enrolled yet.",
        ),
        (
            {"created": 1, "paired": 1, "failed": 1},
            False,
            "1 parent was given a Canvas account and 1 was paired; 1 row needs your attention.",
        ),
        (
            {"paired": 2, "already_paired": 5, "not_enrolled": 1},
            False,
            "2 parents were paired with their existing accounts (5 already were); no row needs "
            "your attention; 1 student is not enrolled yet.",
        ),
        (
            {"created": 3, "already_paired": 1, "no_email": 1, "conflict": 2},
            False,
            "3 parents were given Canvas accounts (1 already was); 2 rows need your attention; "
            "1 guardian has no email in the SIS.",
        ),
        (
            {"already_paired": 320},
            False,
            "All 320 parents were already paired, so nothing changed; no row needs your attention.",
        ),
        (
            {"already_paired": 1},
            True,
            "1 parent was already paired, so nothing would change; no row needs your attention.",
        ),
        ({}, False, "No parent was paired; no row needs your attention."),
        (
            {"would_create": 3, "would_pair": 1, "not_enrolled": 2, "conflict": 1},
            True,
            "3 parents would be given Canvas accounts and 1 would be paired; 1 row needs your "
            "attention; 2 students are not enrolled yet.",
        ),
        (
            {"student_not_found": 2, "not_enrolled": 1, "no_email": 3},
            True,
            "No parent would be paired; 2 rows need your attention; 1 student is not enrolled "
            "yet and 3 guardians have no email in the SIS.",
        ),
        (
            {"created": 5, "not_enrolled": 18, "no_email": 3, "not_processed": 1},
            False,
            "5 parents were given Canvas accounts; no row needs your attention; 18 students are "
            "not enrolled yet, 3 guardians have no email in the SIS and 1 row was not reached "
            "before the run stopped.",
        ),
        (
            {"not_processed": 40, "failed": 1},
            False,
            "No parent was paired; 1 row needs your attention; 40 rows were not reached before "
            "the run stopped.",
        ),
        (
            {"not_enrolled": 4, "created": 0},
            False,
            "No parent was paired; no row needs your attention; 4 students are not enrolled yet.",
        ),
    ],
)
def test_lead_sentence(totals: dict[str, int], dry_run: bool, sentence: str) -> None:
    """With the default --fail-on: the rows it counts need attention, the rows that wait (not
    enrolled, no email, not reached) are said apart, singular, plural and zero."""
    assert lead_sentence(totals, dry_run=dry_run) == sentence


@pytest.mark.parametrize(
    ("totals", "fail_on", "sentence"),
    [
        (
            {"created": 238, "paired": 82, "not_enrolled": 18, "student_not_found": 4},
            DEFAULT_FAIL_ON | {Outcome.NOT_ENROLLED},
            "238 parents were given Canvas accounts and 82 were paired; 22 rows need your "
            "attention, 18 of them will fix themselves once the students are enrolled.",
        ),
        (
            {"paired": 2, "already_paired": 5, "not_enrolled": 1},
            {Outcome.NOT_ENROLLED},
            "2 parents were paired with their existing accounts (5 already were); 1 row needs "
            "your attention, and it will fix itself once the student is enrolled.",
        ),
        (
            {"not_enrolled": 4, "no_email": 1},
            {Outcome.NOT_ENROLLED, Outcome.NO_EMAIL},
            "No parent was paired; 5 rows need your attention, 4 of them will fix themselves "
            "once the students are enrolled.",
        ),
        (
            {"not_enrolled": 4},
            {Outcome.NOT_ENROLLED},
            "No parent was paired; 4 rows need your attention, and all of them will fix "
            "themselves once the students are enrolled.",
        ),
        (
            {"student_not_found": 2, "not_enrolled": 1, "failed": 1},
            {Outcome.FAILED, Outcome.NOT_ENROLLED},
            "No parent was paired; 2 rows need your attention, 1 of them will fix itself once "
            "the student is enrolled; 2 other rows are listed for your information.",
        ),
        (
            {"conflict": 1, "no_email": 2},
            {Outcome.FAILED},
            "No parent was paired; no row needs your attention; 2 guardians have no email in "
            "the SIS and 1 other row is listed for your information.",
        ),
        (
            {"failed": 3, "created": 1},
            frozenset(),
            "1 parent was given a Canvas account; no row needs your attention; 3 other rows are "
            "listed for your information.",
        ),
    ],
)
def test_lead_sentence_counts_the_runs_fail_on(
    totals: dict[str, int], fail_on: Collection[Outcome], sentence: str
) -> None:
    """ "Need your attention" is what the run's --fail-on counted, as its exit code: a wider
    set counts not_enrolled (which fixes itself) among them, a narrower one leaves the others
    to the second clause."""
    assert lead_sentence(totals, fail_on=fail_on) == sentence


def test_waiting_clause() -> None:
    assert waiting_clause({"already_paired": 3, "failed": 2}) == ""
    assert waiting_clause({"no_email": 1}) == "1 guardian has no email in the SIS"
    assert waiting_clause({"not_enrolled": 1, "not_processed": 2}) == (
        "1 student is not enrolled yet and 2 rows were not reached before the run stopped"
    )


def test_lead_sentence_of_one_already_paired_beside_new_pairings() -> None:
    """One already-paired row beside new ones is "(1 already was)", in the singular."""
    assert lead_sentence({"created": 2, "already_paired": 1}, dry_run=False) == (
        "2 parents were given Canvas accounts (1 already was); no row needs your attention."
    )


def test_a_run_is_not_a_dry_run_unless_said() -> None:
    """Without ``dry_run``, the sentence says what was done, not what would be."""
    assert lead_sentence({"paired": 1}) == (
        "1 parent was paired with their existing account; no row needs your attention."
    )


def test_every_outcome_has_words_and_none_is_its_code_name() -> None:
    assert list(OUTCOME_WORDS) == list(Outcome)
    for outcome, words in OUTCOME_WORDS.items():
        assert "_" not in words and words != outcome.value and words[0].isupper()


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (None, ""),
        (0.2, "less than a second"),
        (1, "1 second"),
        (60, "1 minute"),
        (90.1, "1 minute 30 seconds"),
        (3600, "1 hour"),
        (7325, "2 hours 2 minutes"),
    ],
)
def test_duration_words(seconds: float | None, words: str) -> None:
    assert duration_words(seconds) == words


def test_local_time_in_the_zone_given() -> None:
    """The journal's UTC time, in the district's zone with its abbreviation; not a time: as is."""
    chicago = ZoneInfo("America/Chicago")
    assert local_time("2024-09-01T02:00:00.000Z", chicago) == "Saturday 31 August 2024, 9:00 PM CDT"
    assert local_time("2024-12-01T15:05:00+00:00", chicago) == "Sunday 1 December 2024, 9:05 AM CST"
    assert local_time("2024-12-01T00:30:00Z", ZoneInfo("UTC"), with_day=False) == "12:30 AM UTC"
    assert local_time("not a time", chicago) == "not a time"


def test_coverage_sentence() -> None:
    assert coverage_sentence(362, 320, 30, 12) == (
        "Of 362 students, 320 have a parent observing them in Canvas; 30 have a guardian in "
        "the SIS but no observer and 12 have neither a guardian in the SIS nor an observer."
    )
    assert coverage_sentence(2, 1, 1, 0) == (
        "Of 2 students, 1 has a parent observing them in Canvas; 1 has a guardian in the SIS "
        "but no observer."
    )
    assert coverage_sentence(1, 1, 0, 0) == "Of 1 student, 1 has a parent observing them in Canvas."
    assert coverage_sentence(0, 0, 0, 0).startswith("Canvas has no student to audit")
