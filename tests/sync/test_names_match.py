"""The name check behind a contact email: an account found only through its email is the
roster's guardian when its name is the guardian's name, and only then (``names_match``).

A contact email is not identity: a stranger whose contact address is the guardian's (a shared
family address, a typo in the SIS) must not be paired as the guardian. The table follows the
function's promise: "the same words as first + last name, in any order, case and accents
aside (its display or its sortable name)"; sharing some words is not the same words.
"""

from __future__ import annotations

import pytest

from canvas_observers.canvas.models import CanvasUser
from canvas_observers.core.outcomes import Outcome
from canvas_observers.roster.model import RosterRow
from canvas_observers.sync.rules import (
    Found,
    ObserverState,
    Pair,
    Skip,
    names_match,
    plan_row,
)


def account(name: str, sortable: str | None = None) -> CanvasUser:
    return CanvasUser(id=40, name=name, sortable_name=sortable, email="pat@home.test")


def guardian(first: str, last: str) -> RosterRow:
    return RosterRow(2, "S1", "pat@home.test", first, last)


# (account's display name, its sortable name, roster first name, roster last name, match?)
CASES = [
    pytest.param("Pat Lee", None, "Pat", "Lee", True, id="same-name"),
    # Sharing words is not having the same words.
    pytest.param("Kim Lee", None, "Pat", "Lee", False, id="shared-last-name-only"),
    pytest.param("Kim Lee", "Lee, Kim", "Pat", "Lee", False, id="shared-last-name-sortable"),
    pytest.param("Pat Kim", None, "Pat", "Lee", False, id="shared-first-name-only"),
    pytest.param("Lee", None, "Pat", "Lee", False, id="account-has-the-last-name-only"),
    pytest.param("Lee", "Lee", "Pat", "Lee", False, id="account-is-one-word"),
    pytest.param("Pat", None, "Pat", "Lee", False, id="account-has-the-first-name-only"),
    pytest.param("Pat Lee", None, "", "Lee", False, id="row-has-the-last-name-only"),
    # Extra words on either side (middle names) make other words.
    pytest.param("Pat Jordan Lee", None, "Pat", "Lee", False, id="account-has-a-middle-name"),
    pytest.param("Pat Lee", None, "Pat Jordan", "Lee", False, id="row-has-a-middle-name"),
    pytest.param("Pat Jordan Lee", None, "Pat Jordan", "Lee", True, id="same-middle-name"),
    pytest.param("Pat Lee", None, "Pat", "Lee Kim", False, id="row-has-two-last-names"),
    # Initials are not the words they stand for; a dot only separates.
    pytest.param("P. Lee", None, "Pat", "Lee", False, id="account-initial"),
    pytest.param("P Lee", None, "Pat", "Lee", False, id="account-initial-no-dot"),
    pytest.param("Pat Lee", None, "P.", "Lee", False, id="row-initial"),
    pytest.param("P Lee", None, "P.", "Lee", True, id="same-initial"),
    # Words, not prefixes or substrings.
    pytest.param("Patrick Lee", None, "Pat", "Lee", False, id="longer-first-name"),
    pytest.param("Pat Leeson", None, "Pat", "Lee", False, id="longer-last-name"),
    pytest.param("Pa Lee", None, "Pat", "Lee", False, id="shorter-first-name"),
    pytest.param("PatLee", None, "Pat", "Lee", False, id="words-run-together"),
    # Any order: the display name, or the sortable name "Last, First".
    pytest.param("Lee Pat", None, "Pat", "Lee", True, id="reversed-display-name"),
    pytest.param("Lee, Pat", None, "Pat", "Lee", True, id="comma-display-name"),
    pytest.param("Patricia Lee", "Lee, Pat", "Pat", "Lee", True, id="sortable-name-matches"),
    pytest.param("Kim Lee", "Lee, Kim", "Lee", "Kim", True, id="roster-names-swapped"),
    pytest.param("Pat Lee", "Lee, Patricia", "Pat", "Lee", True, id="display-name-matches"),
    # Case and accents aside.
    pytest.param("PAT LEE", None, "pat", "lee", True, id="case"),
    pytest.param("José Pérez", None, "Jose", "Perez", True, id="accents-on-the-account"),
    pytest.param("Jose Perez", None, "José", "Pérez", True, id="accents-in-the-roster"),
    pytest.param("Zoë Ångström", None, "ZOE", "angstrom", True, id="accents-and-case"),
    pytest.param("José Pérez", None, "Josue", "Perez", False, id="accents-aside-not-letters"),
    # Hyphens and apostrophes separate words, as spaces do.
    pytest.param("Mary-Jo O’Brien", None, "Mary Jo", "O'Brien", True, id="hyphen-apostrophe"),
    pytest.param("Mary Jo O Brien", None, "Mary-Jo", "O’Brien", True, id="separators-alike"),
    pytest.param("Mary-Jo OBrien", None, "Mary-Jo", "O'Brien", False, id="apostrophe-not-dropped"),
    # An empty roster name never matches, not even an account with no name.
    pytest.param("", None, "", "", False, id="no-name-on-either-side"),
    pytest.param("Pat Lee", "Lee, Pat", "", "", False, id="row-without-a-name"),
    pytest.param("", None, "Pat", "Lee", False, id="account-without-a-name"),
]


@pytest.mark.parametrize(("name", "sortable", "first", "last", "expected"), CASES)
def test_names_match_needs_the_same_words_in_any_order_case_and_accents_aside(
    name: str, sortable: str | None, first: str, last: str, expected: bool
) -> None:
    """An account's name is the guardian's only when it has exactly the words of the roster's
    first and last name (display or sortable name): not a shared word, not the last name
    alone, not an initial or a middle name more or less."""
    assert names_match(account(name, sortable), guardian(first, last)) is expected


def test_a_stranger_with_the_guardians_contact_email_is_not_paired() -> None:
    """Kim Lee, whose contact email is Pat Lee's, found through that email alone: the row is
    ``observer_mismatch``, nothing to write; Pat Lee's own account (found so) is paired, and
    an account found by its login is the guardian whatever its name."""
    student = CanvasUser(id=1, name="Kid", sis_user_id="S1", login_id="kid@school.test")
    row = guardian("Pat", "Lee")
    kim = CanvasUser(id=40, name="Kim Lee", sortable_name="Lee, Kim", email="pat@home.test")
    pat = CanvasUser(id=41, name="Pat Lee", sortable_name="Lee, Pat", email="pat@home.test")

    def plan(user: CanvasUser, *, by_contact_email: bool = True, trust: bool = False) -> object:
        state = ObserverState(Found(user, by_contact_email=by_contact_email))
        return plan_row(row, Found(student), state, method="direct", trust_contact_email=trust)

    refused = plan(kim)
    assert isinstance(refused, Skip) and refused.outcome is Outcome.OBSERVER_MISMATCH
    assert "'Kim Lee'" in refused.detail and "Pat Lee" in refused.detail
    paired = Pair(student, create_observer=False, method="direct")
    assert plan(pat) == paired
    assert plan(kim, trust=True) == paired
    assert plan(kim, by_contact_email=False) == paired
