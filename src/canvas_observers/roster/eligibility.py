"""Eligibility rules on roster columns (``--only``, ``--skip``): which contacts may be paired.

Not every contact an SIS exports should see grades: districts pair only "Family 1", or only
guardians with portal access. SIS exports say so in columns of their own ("Portal Access",
"Relationship", "Contact Priority"). A rule names one such column and the values it looks
for: ``Portal Access=Y``, ``Contact Priority=1|2`` (``|`` between values). Values compare
trimmed and in any case; column names as the header gives them, in any case.

A row is eligible when it has one of the values of every ``--only`` rule and none of the
values of any ``--skip`` rule. A row left out is no mistake in the roster: it is reported
``not_eligible`` and lists no link (so ``--remove-ended`` treats a link made for it earlier
as it treats one whose row left the roster). Pure: the readers keep the rule columns'
values on each row (``RosterRow.extra``), and ``apply_rules`` sorts the rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from canvas_observers.roster.model import NotEligible, Roster, RosterRow, RowProblem, extra_value


@dataclass(frozen=True, slots=True)
class Rule:
    """One ``--only`` (``only=True``) or ``--skip`` rule: a column and the values it matches
    (case-folded). ``text`` is the rule as given, for messages and the journal."""

    column: str
    values: frozenset[str]
    only: bool
    text: str

    @property
    def flag(self) -> str:
        return "--only" if self.only else "--skip"

    def leaves_out(self, value: str) -> bool:
        """Whether a row whose column holds ``value`` is left out by this rule."""
        found = value.strip().casefold() in self.values
        return not found if self.only else found


class RuleError(ValueError):
    """A rule that cannot be read; the message says what is wrong and shows the form."""


def parse_rule(text: str, *, only: bool) -> Rule:
    """``Column=value[|value...]`` as a rule; ``RuleError`` when it is not of that form."""
    flag = "--only" if only else "--skip"
    column, sep, values = text.partition("=")
    if not sep or not column.strip():
        raise RuleError(
            f"{flag} {text!r} is not COLUMN=VALUE; e.g. {flag} 'Portal Access=Y' or "
            f"{flag} 'Contact Priority=1|2'"
        )
    return Rule(
        column=column.strip(),
        values=frozenset(v.strip().casefold() for v in values.split("|")),
        only=only,
        text=text.strip(),
    )


def parse_rules(only: Iterable[str], skip: Iterable[str]) -> tuple[Rule, ...]:
    """Every ``--only`` rule, then every ``--skip`` rule, as given."""
    return (
        *(parse_rule(t, only=True) for t in only),
        *(parse_rule(t, only=False) for t in skip),
    )


def rule_columns(rules: Sequence[Rule]) -> tuple[str, ...]:
    """The columns the rules name, each once, for the reader to keep (``SourceOptions.keep``)."""
    return tuple(dict.fromkeys(rule.column for rule in rules))


def why_left_out(rules: Sequence[Rule], extra: tuple[tuple[str, str], ...]) -> str | None:
    """Why the first rule that leaves a row out does, naming the rule and the row's value;
    None when the row is eligible."""
    for rule in rules:
        value = extra_value(extra, rule.column)
        if rule.leaves_out(value):
            shown = repr(value) if value else "blank"
            return (
                f"not eligible by the rule {rule.flag} {rule.text!r}: this row's "
                f"{rule.column!r} is {shown}; nothing was written for it"
            )
    return None


def apply_rules(roster: Roster, rules: Sequence[Rule]) -> Roster:
    """The roster with the rows the rules leave out moved to ``Roster.ineligible``.

    Guardians with no email (``RowProblem.no_email``) are sorted too: a contact the rules
    leave out is not eligible whether or not the SIS has an email for them. Rows rejected as
    invalid stay invalid: their values cannot be trusted to say who they are.
    """
    if not rules:
        return roster
    rows: list[RosterRow] = []
    problems: list[RowProblem] = []
    left_out: list[NotEligible] = []
    for row in roster.rows:
        reason = why_left_out(rules, row.extra)
        if reason is None:
            rows.append(row)
        else:
            left_out.append(
                NotEligible(
                    row.line,
                    row.student_id,
                    row.observer_email,
                    reason,
                    source=row.source,
                    guardian_name=row.observer_name,
                )
            )
    for problem in roster.problems:
        reason = why_left_out(rules, problem.extra) if problem.no_email else None
        if reason is None:
            problems.append(problem)
        else:
            left_out.append(
                NotEligible(
                    problem.line,
                    problem.student_id,
                    problem.observer_email,
                    reason,
                    source=problem.source,
                    guardian_name=problem.observer_name,
                )
            )
    return dataclasses.replace(
        roster,
        rows=tuple(rows),
        problems=tuple(problems),
        ineligible=(*roster.ineligible, *sorted(left_out, key=lambda n: n.line)),
    )
