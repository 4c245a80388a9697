"""The fake's default district: the demo's roster (``fake-canvas --scenario demo``) as a
OneRoster 1.1 or 1.2 CSV bundle, so the fake OneRoster API and the fake Canvas agree.

Each distinct student id becomes a student (``identifier`` and ``userIds`` ``{SIS:id}``),
each distinct guardian (email and names as the roster gives them, traps included) a
``parent`` whose sourcedId the student lists in ``agentSourcedIds``; every fourth guardian
lists their students too, as PowerSchool does. Added for OneRoster: one guardian whose status
is ``tobedeleted`` (a removal candidate), and in 1.2 the teacher who is a parent carries a
primary ``teacher`` and a secondary ``parent`` role.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from canvas_observers.fake_canvas.scenarios import TEACHER_PARENT_LOGIN, build_demo
from canvas_observers.fake_canvas.state import FakeState
from canvas_observers.sis_api.mapping import ROLES_12, USERS_11, USERS_12
from canvas_observers.sis_api.snapshot import csv_text, manifest_rows

ORG = "org-springfield"


def demo_users() -> tuple[list[dict[str, str]], dict[str, str]]:
    """(users as 1.1 cells, the sourcedId -> role of each) built from the demo roster."""
    text = build_demo(FakeState("fake-oneroster-sample"))
    rows = list(csv.DictReader(io.StringIO(text)))
    students: dict[str, dict[str, str]] = {}
    guardians: dict[tuple[str, str, str], dict[str, str]] = {}
    links: dict[str, list[str]] = {}
    for row in rows:
        sid = row["student_id"].strip()
        key = (row["observer_email"], row["observer_first_name"], row["observer_last_name"])
        if sid not in students:
            n = len(students) + 1
            students[sid] = {
                "sourcedId": f"stu-{n:04d}",
                "role": "student",
                "identifier": sid,
                "username": sid,
                "userIds": "" if "@" in sid else f"{{SIS:{sid}}}",
                "givenName": "Student",
                "familyName": f"{n:04d}",
                "email": sid if "@" in sid else "",
                "grades": "07",
            }
        if key not in guardians:
            email, first, last = key
            guardians[key] = {
                "sourcedId": f"par-{len(guardians) + 1:04d}",
                "role": "parent",
                "givenName": first,
                "familyName": last,
                "email": email,
            }
        kids = links.setdefault(guardians[key]["sourcedId"], [])
        if students[sid]["sourcedId"] not in kids:
            kids.append(students[sid]["sourcedId"])
    by_student: dict[str, list[str]] = {}
    for n, guardian in enumerate(guardians.values()):
        kids = links[guardian["sourcedId"]]
        for kid in kids:
            by_student.setdefault(kid, []).append(guardian["sourcedId"])
        if n % 4 == 0:
            guardian["agentSourcedIds"] = ",".join(kids)
        if n == 5:
            guardian["status"] = "tobedeleted"
    users = [*guardians.values(), *students.values()]
    for user in users:
        if user["role"] == "student":
            user["agentSourcedIds"] = ",".join(by_student.get(user["sourcedId"], []))
        user.setdefault("status", "active")
        user["enabledUser"] = "true"
        user["orgSourcedIds"] = ORG
        user["dateLastModified"] = "2025-08-01T00:00:00Z"
    roles = {u["sourcedId"]: u["role"] for u in users}
    return users, roles


def write_sample(dest: Path, version: str) -> Path:
    """Write the demo district as a OneRoster ``version`` bundle folder at ``dest``."""
    users, roles = demo_users()
    dest.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    if version == "1.1":
        files["users.csv"] = csv_text(
            USERS_11, [{c: u.get(c, "") for c in USERS_11} for u in users]
        )
    else:
        files["users.csv"] = csv_text(
            USERS_12, [{c: u.get(c, "") for c in USERS_12} for u in users]
        )
        role_rows: list[dict[str, str]] = []
        for user in users:
            sid = user["sourcedId"]
            primary = roles[sid]
            if user.get("email") == TEACHER_PARENT_LOGIN:
                primary = "teacher"
            entries = [("primary", primary)]
            if primary == "teacher":
                entries.append(("secondary", "parent"))
            for n, (kind, role) in enumerate(entries):
                role_rows.append(
                    {
                        "sourcedId": f"{sid}-r{n}",
                        "status": "active",
                        "userSourcedId": sid,
                        "roleType": kind,
                        "role": role,
                        "orgSourcedId": ORG,
                    }
                )
        files["roles.csv"] = csv_text(
            ROLES_12, [{c: r.get(c, "") for c in ROLES_12} for r in role_rows]
        )
    files["manifest.csv"] = csv_text(("propertyName", "value"), manifest_rows(version, files))
    for name, text in files.items():
        (dest / name).write_text(text, encoding="utf-8")
    return dest
