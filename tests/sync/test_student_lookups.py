"""Finding a roster's student as Canvas answers: an SIS id that is not found is not searched for,
and a student whose only course was deleted is not enrolled, in a dry run as in a real one."""

from __future__ import annotations

import httpx

from .conftest import District, SyncRunner, outcomes


async def test_an_unknown_sis_id_is_not_searched(district: District, sync_csv: SyncRunner) -> None:
    """After sis_user_id: answers 404 no search follows: it could not find an exact match."""
    district.student("S100")
    report = await sync_csv("10,pat@home.test,Pat,Lee\n")
    assert outcomes(report) == {2: "student_not_found"}
    assert district.fake.stats.by_route.get("GET /api/v1/accounts/:account_id/users", 0) == 1


async def test_dry_run_predicts_a_deleted_course_as_canvas_answers_it(
    district: District, sync_csv: SyncRunner, api: httpx.AsyncClient
) -> None:
    """A course deleted through the API takes its enrollments with it, so Canvas refuses the
    code: the dry run predicts not_enrolled, and the real run agrees; a student with another
    live course is still paired."""
    only = district.student("S1")
    other = district.student("S2")
    state = district.fake.state
    second = state.add_course("Art")
    state.enroll(other, second)
    response = await api.delete(f"/api/v1/courses/{district.course}", params={"event": "delete"})
    assert response.json() == {"delete": True}
    rows = "S1,a@home.test,A,L\nS2,b@home.test,B,L\n"
    dry = await sync_csv(rows, dry_run=True)
    assert outcomes(dry) == {2: "not_enrolled", 3: "would_create"}
    real = await sync_csv(rows)
    assert outcomes(real) == {2: "not_enrolled", 3: "created"}
    assert {s for _, s in district.links()} == {other}
    assert only not in {s for _, s in district.links()}
