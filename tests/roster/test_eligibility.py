"""Eligibility rules (``--only``, ``--skip``) on rows read with their rule columns kept."""

from __future__ import annotations

import io

import pytest

from canvas_observers.roster.csv_reader import read_roster
from canvas_observers.roster.eligibility import (
    RuleError,
    apply_rules,
    parse_rule,
    parse_rules,
    rule_columns,
)
from canvas_observers.roster.model import Roster
from tests.wiring import HEADER

COLUMNS = HEADER.rstrip("\n") + ",Portal Access,Relationship\n"


def roster(body: str, *rules: tuple[str, str]) -> Roster:
    only = [text for kind, text in rules if kind == "only"]
    skip = [text for kind, text in rules if kind == "skip"]
    parsed = parse_rules(only, skip)
    read = read_roster(
        io.BytesIO((COLUMNS + body).encode()), source="r.csv", keep=rule_columns(parsed)
    )
    return apply_rules(read, parsed)


def test_a_rule_is_a_column_and_values_in_any_case() -> None:
    rule = parse_rule(" Contact Priority = 1 | 2 ", only=True)
    assert rule.column == "Contact Priority"
    assert rule.values == frozenset({"1", "2"})
    assert not rule.leaves_out(" 2 ") and rule.leaves_out("3")
    skip = parse_rule("Relationship=Emergency Contact", only=False)
    assert skip.leaves_out("EMERGENCY CONTACT") and not skip.leaves_out("Mother")


@pytest.mark.parametrize("text", ["Portal Access", "=Y", "  =Y", ""])
def test_a_rule_without_column_and_value_is_refused(text: str) -> None:
    with pytest.raises(RuleError, match="COLUMN=VALUE"):
        parse_rule(text, only=True)


def test_every_only_and_no_skip_must_hold() -> None:
    """Lines 2..5: eligible, no portal, an emergency contact, a blank portal cell."""
    got = roster(
        "S1,a@x.test,A,One,Y,Mother\n"
        "S2,b@x.test,B,Two,N,Father\n"
        "S3,c@x.test,C,Three,y,Emergency Contact\n"
        "S4,d@x.test,D,Four,,Mother\n",
        ("only", "portal access=Y"),
        ("skip", "Relationship=emergency contact"),
    )
    assert [r.student_id for r in got.rows] == ["S1"]
    assert [(n.line, n.student_id) for n in got.ineligible] == [(3, "S2"), (4, "S3"), (5, "S4")]
    assert (
        "'N'" in got.ineligible[0].reason and "--only 'portal access=Y'" in got.ineligible[0].reason
    )
    assert "--skip" in got.ineligible[1].reason
    assert "blank" in got.ineligible[2].reason
    assert got.ineligible[0].guardian_name == "B Two"


def test_a_guardian_with_no_email_left_out_is_not_eligible_and_an_invalid_row_stays_invalid() -> (
    None
):
    got = roster(
        "S1,,A,One,N,Mother\nS2,,B,Two,Y,Mother\nS3,not-an-email,C,Three,N,Mother\n",
        ("only", "Portal Access=Y"),
    )
    assert [n.student_id for n in got.ineligible] == ["S1"]
    assert [(p.student_id, p.no_email) for p in got.problems] == [("S2", True), ("S3", False)]


def test_no_rules_leave_the_roster_as_it_was() -> None:
    read = read_roster(io.BytesIO((HEADER + "S1,a@x.test,A,One\n").encode()), source="r.csv")
    assert apply_rules(read, ()) is read
