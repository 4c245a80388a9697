"""Observer links: pairing-code POST, PUT, lists, show, DELETE (docs/canvas-behaviour.md)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import httpx

from canvas_observers.fake_canvas import FakeCanvas, FakeState

ClientFor = Callable[..., httpx.AsyncClient]
NOT_FOUND = {"errors": [{"message": "The specified resource does not exist."}]}
INVALID_CODE = {"errors": [{"message": "Invalid pairing code."}]}
UNAUTHORIZED = {
    "status": "unauthorized",
    "errors": [{"message": "user not authorized to perform that action"}],
}


def district(state: FakeState) -> tuple[int, int]:
    """A parent and an enrolled student."""
    parent = state.add_user("Pat Parent", login_id="pat@example.com", email="pat@example.com")
    student = state.add_user("Kim Kid", login_id="kim", sis_user_id="S-1")
    state.enroll(student, state.add_course("Math"))
    return parent, student


async def new_code(api: httpx.AsyncClient, student: int) -> str:
    """Generate a pairing code for the student through the API."""
    response = await api.post(f"/api/v1/users/{student}/observer_pairing_codes")
    assert response.status_code == 200
    return str(response.json()["code"])


def live_links(fake: FakeCanvas) -> list[tuple[int, int]]:
    """(observer, student) pairs of active links in the state dump."""
    return [
        (k["observer_id"], k["student_id"])
        for k in fake.state.snapshot()["observer_links"]
        if k["workflow_state"] == "active"
    ]


async def test_pair_with_code_form_body(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """A valid code links observer and student and answers the student JSON."""
    parent, student = district(fake.state)
    code = await new_code(api, student)
    response = await api.post(f"/api/v1/users/{parent}/observees", data={"pairing_code": code})
    assert response.status_code == 200
    assert response.json() == {
        "id": student,
        "name": "Kim Kid",
        "created_at": response.json()["created_at"],
        "sortable_name": "Kid, Kim",
        "short_name": "Kim Kid",
        "observation_link_root_account_ids": [1],
    }
    assert live_links(fake) == [(parent, student)]


async def test_pair_with_code_json_body_as_parent(
    fake: FakeCanvas, api: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """The parent's own token may redeem a code for `self`, with a JSON body."""
    parent, student = district(fake.state)
    code = await new_code(api, student)
    client = client_for(fake.state.issue_token(parent))
    response = await client.post("/api/v1/users/self/observees", json={"pairing_code": code})
    assert response.status_code == 200
    assert live_links(fake) == [(parent, student)]


async def test_wrong_case_code_is_422(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """Codes are case-sensitive: the swapped-case code is invalid."""
    parent, student = district(fake.state)
    code = await new_code(api, student)
    while code.swapcase() == code:  # all digits: no case to swap
        code = await new_code(api, student)
    response = await api.post(
        f"/api/v1/users/{parent}/observees", data={"pairing_code": code.swapcase()}
    )
    assert response.status_code == 422
    assert response.json() == INVALID_CODE
    assert live_links(fake) == []


async def test_unknown_and_expired_codes_are_422(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """A made-up code and a code past its 7 days are both invalid."""
    parent, student = district(fake.state)
    code = await new_code(api, student)
    made_up = await api.post(f"/api/v1/users/{parent}/observees", data={"pairing_code": "zz99zz"})
    assert made_up.json() == INVALID_CODE
    later = fake.state.clock() + timedelta(days=7, seconds=1)
    fake.state.clock = lambda: later
    expired = await api.post(f"/api/v1/users/{parent}/observees", data={"pairing_code": code})
    assert expired.status_code == 422
    assert expired.json() == INVALID_CODE


async def test_code_is_single_use(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """A redeemed code is soft-deleted and cannot be used again."""
    parent, student = district(fake.state)
    other = fake.state.add_user("Other Parent", login_id="other")
    code = await new_code(api, student)
    assert (
        await api.post(f"/api/v1/users/{parent}/observees", data={"pairing_code": code})
    ).status_code == 200
    again = await api.post(f"/api/v1/users/{other}/observees", data={"pairing_code": code})
    assert again.status_code == 422
    assert live_links(fake) == [(parent, student)]
    assert fake.state.snapshot()["pairing_codes"][0]["workflow_state"] == "deleted"


async def test_code_used_up_on_already_linked_pair(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """Redeeming for an existing pair is a 200 no-op that still burns the code."""
    parent, student = district(fake.state)
    fake.state.link(parent, student)
    code = await new_code(api, student)
    first = await api.post(f"/api/v1/users/{parent}/observees", data={"pairing_code": code})
    assert first.status_code == 200
    assert live_links(fake) == [(parent, student)]
    assert fake.state.snapshot()["pairing_codes"][0]["workflow_state"] == "deleted"
    second = await api.post(f"/api/v1/users/{parent}/observees", data={"pairing_code": code})
    assert second.status_code == 422


async def test_admin_pairing_a_student_with_their_own_code_is_refused_after_the_code_is_used(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """An admin POSTing a student's own code for that student gets 401, never 422; code gone."""
    _, student = district(fake.state)
    code = await new_code(api, student)
    response = await api.post(f"/api/v1/users/{student}/observees", data={"pairing_code": code})
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert fake.state.snapshot()["pairing_codes"][0]["workflow_state"] == "deleted"
    assert live_links(fake) == []


async def test_admin_self_pairing_is_403_under_the_auth_error_flag(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """With forbidden_status 403 the same refusal is a 403."""
    fake.config.forbidden_status = 403
    _, student = district(fake.state)
    code = await new_code(api, student)
    response = await api.post(f"/api/v1/users/{student}/observees", data={"pairing_code": code})
    assert response.status_code == 403
    assert response.json() == UNAUTHORIZED


async def test_a_student_redeeming_their_own_code_gets_200_and_no_link(
    fake: FakeCanvas, client_for: ClientFor
) -> None:
    """The student as caller: 200, an empty observation_link_root_account_ids, no link."""
    _, student = district(fake.state)
    own = client_for(fake.state.issue_token(student))
    code = (await own.post(f"/api/v1/users/{student}/observer_pairing_codes")).json()["code"]
    response = await own.post("/api/v1/users/self/observees", data={"pairing_code": code})
    assert response.status_code == 200
    assert response.json()["observation_link_root_account_ids"] == []
    assert live_links(fake) == []


async def test_missing_pairing_code_is_400(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """Without pairing_code the fake answers like Rails' ParameterMissing."""
    parent, _ = district(fake.state)
    response = await api.post(f"/api/v1/users/{parent}/observees", data={})
    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": "pairing_code is missing"}]}


async def test_put_is_idempotent(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """PUT twice answers 200 both times and leaves one link."""
    parent, student = district(fake.state)
    url = f"/api/v1/users/{parent}/observees/{student}"
    first = await api.put(url)
    second = await api.put(url)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second.json()["observation_link_root_account_ids"] == [1]
    assert live_links(fake) == [(parent, student)]
    assert len(fake.state.snapshot()["observer_links"]) == 1


async def test_put_restores_a_deleted_link(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """After DELETE, PUT restores the same link instead of adding another."""
    parent, student = district(fake.state)
    url = f"/api/v1/users/{parent}/observees/{student}"
    await api.put(url)
    assert (await api.delete(url)).status_code == 200
    assert live_links(fake) == []
    assert (await api.put(url)).status_code == 200
    assert live_links(fake) == [(parent, student)]
    assert len(fake.state.snapshot()["observer_links"]) == 1


async def test_put_by_sis_ids(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """PUT accepts sis_login_id: and sis_user_id: path ids."""
    parent, student = district(fake.state)
    response = await api.put(
        "/api/v1/users/sis_login_id:PAT%40EXAMPLE.COM/observees/sis_user_id:S-1"
    )
    assert response.status_code == 200
    assert live_links(fake) == [(parent, student)]


async def test_put_self_and_unknown(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """PUT on yourself is 404 (no common root account), as is an unknown or deleted user."""
    parent, student = district(fake.state)
    own = await api.put(f"/api/v1/users/{student}/observees/{student}")
    assert own.status_code == 404
    assert own.json() == NOT_FOUND
    assert live_links(fake) == []
    assert (await api.put(f"/api/v1/users/{parent}/observees/9999")).json() == NOT_FOUND
    fake.state.delete_user(student)
    assert (await api.put(f"/api/v1/users/{parent}/observees/{student}")).status_code == 404


async def test_delete_without_link_is_404(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """DELETE is not idempotent: no live link means 404."""
    parent, student = district(fake.state)
    url = f"/api/v1/users/{parent}/observees/{student}"
    missing = await api.delete(url)
    assert missing.status_code == 404
    assert missing.json() == NOT_FOUND
    fake.state.link(parent, student)
    removed = await api.delete(url)
    assert removed.status_code == 200
    assert removed.json()["id"] == student
    assert (await api.delete(url)).status_code == 404


async def test_show_observee_and_observer(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """Show one observee/observer: 200 when linked, 404 when not."""
    parent, student = district(fake.state)
    assert (await api.get(f"/api/v1/users/{parent}/observees/{student}")).status_code == 404
    assert (await api.get(f"/api/v1/users/{student}/observers/{parent}")).status_code == 404
    fake.state.link(parent, student)
    shown = await api.get(f"/api/v1/users/{parent}/observees/{student}")
    assert shown.status_code == 200
    assert shown.json()["id"] == student
    observer = await api.get(f"/api/v1/users/{student}/observers/{parent}")
    assert observer.json()["id"] == parent


async def test_lists_sorted_paginated_with_last(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """Observee lists sort by sortable name, page with rel="last" and carry SIS/login fields."""
    parent = fake.state.add_user("Busy Parent", login_id="busy", email="busy@example.com")
    names = ["Zoe Young", "Adam Brown", "Mia Clark", "Leo Adams", "Ivy Stone"]
    kids = {n: fake.state.add_user(n, login_id=n.split()[0].lower(), sis_user_id=n) for n in names}
    for kid in kids.values():
        fake.state.link(parent, kid)
    first = await api.get(f"/api/v1/users/{parent}/observees", params={"per_page": "2"})
    assert [u["name"] for u in first.json()] == ["Leo Adams", "Adam Brown"]
    rels = dict(
        (rel, url) for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', first.headers["link"])
    )
    assert set(rels) == {"current", "next", "first", "last"}
    assert "page=3" in rels["last"]
    last = await api.get(rels["last"])
    assert [u["name"] for u in last.json()] == ["Zoe Young"]
    item = first.json()[0]
    assert item["sis_user_id"] == "Leo Adams"
    assert item["login_id"] == "leo"
    assert item["observation_link_root_account_ids"] == [1]
    assert "email" not in item
    observers = await api.get(
        f"/api/v1/users/{kids['Ivy Stone']}/observers", params={"include[]": "email"}
    )
    assert [(u["id"], u["email"]) for u in observers.json()] == [(parent, "busy@example.com")]


async def test_lists_skip_deleted_links(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """A soft-deleted link is not listed."""
    parent, student = district(fake.state)
    fake.state.link(parent, student)
    fake.state.unlink(parent, student)
    assert (await api.get(f"/api/v1/users/{parent}/observees")).json() == []
    assert (await api.get(f"/api/v1/users/{student}/observers")).json() == []


async def test_link_enrolls_the_observer(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """Linking adds ObserverEnrollments in the student's courses; unlinking removes them."""
    parent, student = district(fake.state)
    url = f"/api/v1/users/{parent}/observees/{student}"
    await api.put(url)
    enrollments = (await api.get(f"/api/v1/users/{parent}/enrollments")).json()
    assert [(e["type"], e["associated_user_id"]) for e in enrollments] == [
        ("ObserverEnrollment", student)
    ]
    await api.delete(url)
    assert (await api.get(f"/api/v1/users/{parent}/enrollments")).json() == []


def test_a_link_made_again_brings_back_lost_observer_enrollments() -> None:
    """Canvas's create_linked_enrollment_for: making a link enrolls the observer in the
    student's live courses (an invited student gives an active observer); a live link is
    left alone, lost enrollments and all; restoring a removed link brings back the observer's
    inactive or deleted enrollment (the same one) rather than adding another."""
    from canvas_observers.fake_canvas.state import FakeState

    state = FakeState()
    a, b = state.add_course("A"), state.add_course("B")
    kid, parent = state.add_user("Kid", login_id="k@s.test"), state.add_user("P")
    state.enroll(kid, a)
    state.enroll(kid, b, state="invited")
    state.link(parent, kid)
    mine = {e.course_id: e for e in state.user_enrollments(parent)}
    assert {c: (e.type, e.state, e.associated_user_id) for c, e in mine.items()} == {
        a: ("ObserverEnrollment", "active", kid),
        b: ("ObserverEnrollment", "active", kid),
    }
    state.set_enrollment_state(mine[a].id, "inactive")
    state.set_enrollment_state(mine[b].id, "deleted")
    state.link(parent, kid)  # a live link: nothing redone
    assert (mine[a].state, mine[b].state) == ("inactive", "deleted")
    assert state.unlink(parent, kid)
    state.link(parent, kid)
    assert (mine[a].state, mine[b].state) == ("active", "active")
    assert len(state.user_enrollments(parent)) == 2
