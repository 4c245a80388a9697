"""A run in words, for the people who read its report: the first sentence, outcome names,
durations and local times. Pure functions of counts and values (no clock, no I/O).

The outcome's code name (``student_not_found``) stays what ``--fail-on``, the JSON report and
docs/cli.md use; pages show ``OUTCOME_WORDS`` and keep the code name small beside it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime, tzinfo

from canvas_observers.core.outcomes import DEFAULT_FAIL_ON, Outcome

OUTCOME_WORDS: dict[Outcome, str] = {
    Outcome.CREATED: "Account created and paired",
    Outcome.PAIRED: "Paired with their existing account",
    Outcome.ALREADY_PAIRED: "Already paired",
    Outcome.STUDENT_NOT_FOUND: "Student not found",
    Outcome.STUDENT_AMBIGUOUS: "Several students match",
    Outcome.OBSERVER_AMBIGUOUS: "Several guardian accounts match",
    Outcome.OBSERVER_MISMATCH: "Email belongs to an account with another name",
    Outcome.NOT_ENROLLED: "Student not enrolled yet",
    Outcome.INVALID_ROW: "Roster row not valid",
    Outcome.NO_EMAIL: "Guardian has no email in the SIS",
    Outcome.CONFLICT: "Guardian email is a student's",
    Outcome.GUARDIAN_EMAIL_CHANGED: "Guardian's email changed",
    Outcome.GUARDIAN_UPDATED: "Guardian's account updated",
    Outcome.GUARDIAN_ACCOUNT_DELETED: "Guardian's account was deleted",
    Outcome.FAILED: "Canvas failed or refused",
    Outcome.NOT_PROCESSED: "Not reached before the run stopped",
    Outcome.WOULD_CREATE: "Would create an account and pair",
    Outcome.WOULD_PAIR: "Would pair with their existing account",
    Outcome.EXCLUDED: "On the do-not-pair list",
    Outcome.NOT_ELIGIBLE: "Left out by an eligibility rule",
    Outcome.REMOVED: "Link removed",
    Outcome.WOULD_REMOVE: "Link would be removed",
    Outcome.REMOVAL_PENDING: "Link to be removed after more runs",
}
"""Each outcome as a heading says it, in ``Outcome`` order."""


def plural(count: int, one: str, many: str | None = None) -> str:
    """``1 row``, ``2 rows``, ``0 rows`` (``many`` when adding an s is wrong)."""
    return f"{count} {one if count == 1 else many or one + 's'}"


def _count(totals: Mapping[str, int], *outcomes: Outcome) -> int:
    return sum(totals.get(o.value, 0) for o in outcomes)


def lead_sentence(
    totals: Mapping[str, int],
    *,
    dry_run: bool = False,
    fail_on: Collection[Outcome] = DEFAULT_FAIL_ON,
) -> str:
    """What the run did, in one sentence built from its counts by outcome, e.g. "238 parents
    were given Canvas accounts and 82 were paired; 4 rows need your attention; 18 students are
    not enrolled yet and 3 guardians have no email in the SIS." A dry run says "would".

    "Need your attention" counts the rows whose outcome is in ``fail_on`` (the run's
    ``--fail-on``), as the exit code, the summary, `runs` and `show --needs-attention` do; the
    other rows that are no success (``waiting_clause``) are said apart, after it."""
    created = _count(totals, Outcome.CREATED, Outcome.WOULD_CREATE)
    paired = _count(totals, Outcome.PAIRED, Outcome.WOULD_PAIR)
    already = _count(totals, Outcome.ALREADY_PAIRED)
    attention = _count(totals, *(o for o in Outcome if o in fail_on))
    waiting = _count(totals, Outcome.NOT_ENROLLED) if Outcome.NOT_ENROLLED in fail_on else 0
    done: list[str] = []
    noun = True  # the first clause names the parents, the next ones say "were paired"
    if created:
        verb = "would be given" if dry_run else "was given" if created == 1 else "were given"
        account = "a Canvas account" if created == 1 else "Canvas accounts"
        done.append(f"{plural(created, 'parent')} {verb} {account}")
        noun = False
    if paired:
        verb = "would be" if dry_run else "was" if paired == 1 else "were"
        if noun:
            existing = "their existing account" if paired == 1 else "their existing accounts"
            done.append(f"{plural(paired, 'parent')} {verb} paired with {existing}")
        else:
            done.append(f"{paired} {verb} paired")
        noun = False
    if done:
        text = " and ".join(done)
        if already:
            text += f" ({already} already {'was' if already == 1 else 'were'})"
    elif already:
        every = "" if already == 1 else "All "
        changed = "would change" if dry_run else "changed"
        text = f"{every}{plural(already, 'parent')} {'was' if already == 1 else 'were'} "
        text += f"already paired, so nothing {changed}"
    else:
        text = f"No parent {'would be' if dry_run else 'was'} paired"
    others = waiting_clause(totals, fail_on)
    if not attention:
        text += "; no row needs your attention"
        return f"{text}; {others}." if others else f"{text}."
    needs = "needs" if attention == 1 else "need"
    text += f"; {plural(attention, 'row')} {needs} your attention"
    if waiting == attention == 1:
        text += ", and it will fix itself once the student is enrolled"
    elif waiting == attention:
        text += ", and all of them will fix themselves once the students are enrolled"
    elif waiting == 1:
        text += ", 1 of them will fix itself once the student is enrolled"
    elif waiting:
        text += f", {waiting} of them will fix themselves once the students are enrolled"
    return f"{text}; {others}." if others else f"{text}."


def waiting_clause(
    totals: Mapping[str, int], fail_on: Collection[Outcome] = DEFAULT_FAIL_ON
) -> str:
    """The rows that are no success but that ``fail_on`` does not count, in words: "18
    students are not enrolled yet, 3 guardians have no email in the SIS and 2 rows were not
    reached before the run stopped"; '' when there are none. An outcome a narrowed
    ``--fail-on`` left out is said as "N other rows are listed for your information"."""
    parts: list[str] = []
    other = 0
    for outcome in Outcome:
        count = totals.get(outcome.value, 0)
        if not count or outcome.is_success or outcome in fail_on:
            continue
        one = count == 1
        if outcome is Outcome.NOT_ENROLLED:
            parts.append(f"{plural(count, 'student')} {'is' if one else 'are'} not enrolled yet")
        elif outcome is Outcome.NO_EMAIL:
            has = "has" if one else "have"
            parts.append(f"{plural(count, 'guardian')} {has} no email in the SIS")
        elif outcome is Outcome.NOT_PROCESSED:
            was = "was" if one else "were"
            parts.append(f"{plural(count, 'row')} {was} not reached before the run stopped")
        else:
            other += count
    if other:
        are = "is" if other == 1 else "are"
        parts.append(
            f"{other} other {'row' if other == 1 else 'rows'} {are} listed for your information"
        )
    if len(parts) < 2:
        return "".join(parts)
    return f"{', '.join(parts[:-1])} and {parts[-1]}"


def duration_words(seconds: float | None) -> str:
    """``1 minute 30 seconds``, ``2 hours 5 minutes``, ``less than a second``; '' if unknown."""
    if seconds is None or seconds < 0:
        return ""
    whole = round(seconds)
    if whole < 1:
        return "less than a second"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        parts = [plural(hours, "hour"), plural(minutes, "minute") if minutes else ""]
    else:
        parts = [
            plural(minutes, "minute") if minutes else "",
            plural(secs, "second") if secs else "",
        ]
    return " ".join(part for part in parts if part)


def parse_moment(text: str) -> datetime | None:
    """An ISO 8601 timestamp as the journal keeps it (``...Z`` or with an offset); None if it
    is not one. A timestamp without an offset is UTC, as every one this tool writes."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def local_time(text: str, zone: tzinfo, *, with_day: bool = True) -> str:
    """``Sunday 1 September 2024, 9:00 PM CDT`` in ``zone``; the text itself if it is no
    timestamp ('' stays '')."""
    moment = parse_moment(text)
    if moment is None:
        return text
    here = moment.astimezone(zone)
    hour = here.hour % 12 or 12
    clock = f"{hour}:{here.minute:02d} {'AM' if here.hour < 12 else 'PM'}"
    abbreviation = here.tzname() or ""
    day = f"{here:%A} {here.day} {here:%B %Y}, " if with_day else ""
    return f"{day}{clock} {abbreviation}".strip()


def coverage_sentence(students: int, observed: int, with_guardian: int, without: int) -> str:
    """The coverage audit in one sentence: "Of 362 students, 320 have a parent observing them
    in Canvas; 30 have a guardian in the SIS but no observer, and 12 have neither." """
    if not students:
        return "Canvas has no student to audit: no roster student was found and none is enrolled."
    have = "has" if observed == 1 else "have"
    text = f"Of {plural(students, 'student')}, {observed} {have} a parent observing them in Canvas"
    if not with_guardian and not without:
        return text + "."
    parts = []
    if with_guardian:
        verb = "has" if with_guardian == 1 else "have"
        parts.append(f"{with_guardian} {verb} a guardian in the SIS but no observer")
    if without:
        verb = "has" if without == 1 else "have"
        parts.append(f"{without} {verb} neither a guardian in the SIS nor an observer")
    return f"{text}; {' and '.join(parts)}."
