"""A OneRoster export and the equivalent four-column CSV give the same Canvas state."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app
from canvas_observers.roster.model import Roster
from canvas_observers.roster.sources import SourceOptions, to_four_column_csv
from tests.wiring import roster_of, sync_with

HEADER = (
    "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,"
    "givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password"
)
# Students list guardians (S1 -> G1), guardians list students (G2 -> S2, S3): both directions.
# G3 is tobedeleted (a removal candidate, not provisioned); G4 is a relative (not by default).
USERS = [
    "S1,active,,true,O1,student,s1.user,,Ana,Diaz,,1001,s1@kids.test,,,G1,05,",
    "S2,active,,true,O1,student,s2.user,,Bo,Diaz,,100,s2@kids.test,,,,05,",
    'S3,active,,true,O1,student,s3.user,,Cy,Diaz,,1002,s3@kids.test,,,"G3,G4",03,',
    "S4,active,,true,O1,student,s4.user,,Di,Kim,,2001,s4@kids.test,,,G5,04,",
    "G1,active,,true,O1,parent,g1,,Maria,Diaz,,G1,Maria.Diaz@Home.test,,,,,",
    'G2,active,,true,O1,guardian,g2,,Luis,Diaz,,G2,luis@home.test,,,"S2,S3",,',
    "G3,tobedeleted,,true,O1,guardian,g3,,Old,Diaz,,G3,old@home.test,,,S3,,",
    "G4,active,,true,O1,relative,g4,,Tia,Diaz,,G4,tia@home.test,,,S3,,",
    "G5,active,,true,O1,parent,g5,,Jae,Kim,,G5,jae@home.test,,,S4,,",
]


def build_district(app: FakeCanvasApp) -> None:
    """Students whose Canvas SIS ids are the OneRoster identifiers, all enrolled."""
    state = app.fake.state
    course = state.add_course("Grade 5")
    for sis in ("1001", "100", "1002", "2001"):
        uid = state.add_user(f"Student {sis}", login_id=f"{sis}@kids.test", sis_user_id=sis)
        state.enroll(uid, course)
    state.add_user("Jae Kim", login_id="jae@home.test")  # an existing guardian account


async def sync_into(app: FakeCanvasApp, roster: Roster) -> set[tuple[str, str]]:
    """Sync and return the links as (observer login, student SIS id)."""
    await sync_with(app, roster)
    snap = app.fake.state.snapshot()
    login = {u["id"]: u["logins"][0]["unique_id"] for u in snap["users"] if u["logins"]}
    sis = {u["id"]: u["logins"][0]["sis_user_id"] for u in snap["users"] if u["logins"]}
    return {
        (login[k["observer_id"]], sis[k["student_id"]])
        for k in snap["observer_links"]
        if k["workflow_state"] == "active"
    }


@pytest.mark.parametrize("packaging", ["folder", "zip"])
async def test_oneroster_bundle_matches_the_four_column_csv(tmp_path: Path, packaging: str) -> None:
    """The same district synced from OneRoster and from its four-column CSV ends the same."""
    text = "\n".join([HEADER, *USERS]) + "\n"
    if packaging == "folder":
        bundle = tmp_path / "oneroster"
        bundle.mkdir()
        (bundle / "users.csv").write_text(text, encoding="utf-8")
    else:
        bundle = tmp_path / "oneroster.zip"
        with zipfile.ZipFile(bundle, "w") as archive:
            archive.writestr("users.csv", text)
    roster = SourceOptions().read(bundle)
    assert {(c.observer_email, c.student_id) for c in roster.removal_candidates} == {
        ("old@home.test", "1002")
    }
    from_oneroster = create_app(FakeConfig(throttle=False))
    build_district(from_oneroster)
    links_a = await sync_into(from_oneroster, roster)

    csv_text = to_four_column_csv(roster)
    from_csv = create_app(FakeConfig(throttle=False))
    build_district(from_csv)
    links_b = await sync_into(from_csv, roster_of(csv_text))
    assert (
        links_a
        == links_b
        == {
            ("maria.diaz@home.test", "1001"),
            ("luis@home.test", "100"),
            ("luis@home.test", "1002"),
            ("jae@home.test", "2001"),
        }
    )
