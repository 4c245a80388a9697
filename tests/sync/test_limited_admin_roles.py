"""A token whose admin role cannot see logins or SIS ids: the sync stops before any write and
names the missing permission, and SIS rights are asked for only when the roster uses SIS ids."""

from __future__ import annotations

from .conftest import District, SyncRunner, outcomes


async def test_a_role_that_cannot_see_logins_stops_before_any_write(
    district: District, sync_csv: SyncRunner
) -> None:
    """Without view_user_logins an existing guardian is invisible (a duplicate account would
    follow): exit 2 naming the permission as Canvas shows it, nothing written."""
    district.student("S1")
    district.guardian("pat@home.test", name="Pat Lee")
    rights = district.fake.state.users[district.fake.state.admin_id].permissions
    district.fake.state.make_admin(district.fake.state.admin_id, rights - {"view_user_logins"})
    writes = district.writes()
    report = await sync_csv("S1,pat@home.test,Pat,Lee\n")
    assert report.aborted is not None
    assert report.aborted is not None
    assert "'Users - view login IDs' (view_user_logins" in report.aborted
    assert district.writes() == writes
    assert len(district.fake.state.users) == 3  # admin, student, guardian: no duplicate


async def test_sis_rights_are_needed_only_for_sis_ids(
    district: District, sync_csv: SyncRunner
) -> None:
    """A role without read_sis may sync a roster of student logins, not one of SIS ids."""
    district.student("S1", login="kid1@school.test")
    rights = district.fake.state.users[district.fake.state.admin_id].permissions
    district.fake.state.make_admin(
        district.fake.state.admin_id, rights - {"read_sis", "manage_sis"}
    )
    by_login = await sync_csv("kid1@school.test,pat@home.test,Pat,Lee\n")
    assert outcomes(by_login) == {2: "created"}
    by_sis = await sync_csv("S1,pat@home.test,Pat,Lee\n")
    assert by_sis.aborted is not None and "'SIS Data - read' (read_sis or manage_sis" in (
        by_sis.aborted
    )
