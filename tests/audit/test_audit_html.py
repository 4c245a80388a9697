"""`audit --report audit.html`: one self-contained, escaped page; the coverage in a sentence and
a chart; each section's list with names; times in the zone given."""

from __future__ import annotations

import stat
from pathlib import Path

from canvas_observers.audit.findings import Audit, Finding
from canvas_observers.audit.render import write_audit
from canvas_observers.core.timezone import FROM_SETTING, chosen

HOSTILE = "<script>window.pwned = 1</script>"
AUDIT = Audit(
    students_not_found=(Finding("student_not_found", HOSTILE, observer="a@home.test"),),
    unobserved_with_guardian=(
        Finding("unobserved_with_guardian", "S2", 12, "b@home.test", student_name="Rosa <b>Diaz"),
    ),
    guardians_without_email=(
        Finding(
            "guardian_without_email",
            "S3",
            13,
            detail="the SIS has no email for Ana Ng",
            student_name="Li Ng",
            observer_name="Ana Ng",
        ),
    ),
    counts={"students": 4, "students_observed": 3},
)
ABOUT = {
    "canvas_url": "https://school.instructure.com",
    "roster": "roster.csv",
    "generated_at": "2024-09-01T02:00:00.000Z",
}


def test_the_audit_page(tmp_path: Path) -> None:
    path = tmp_path / "audit.html"
    write_audit(path, AUDIT, ABOUT, time_zone=chosen("Europe/Paris", FROM_SETTING))
    text = path.read_text(encoding="utf-8")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert HOSTILE not in text and "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in text
    assert "Rosa &lt;b&gt;Diaz" in text and "<script" not in text
    assert "script-src 'none'" in text.replace("&#39;", "'")
    assert (
        "Of 4 students, 3 have a parent observing them in Canvas; 1 has a guardian in the SIS "
        "but no observer." in text
    )
    assert 'role="img"' in text and ">Observed by a parent</text>" in text
    assert "Sunday 1 September 2024, 4:00 AM CEST" in text
    assert "Times are Europe/Paris, set for this tool." in text
    assert 'href="https://school.instructure.com/users/12"' in text
    assert "<h2>Roster students not found in Canvas (1)</h2>" in text
    assert "<h2>Guardians the SIS has no email for (1)</h2>" in text
    assert '<span class="name">Ana Ng</span><span class="sub">no email</span>' in text
    assert '<span class="name">Li Ng</span><span class="sub">S3</span>' in text
