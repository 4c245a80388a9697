"""POST /api/v1/accounts/:id/users: create, duplicates, notifications (docs/canvas-behaviour.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from canvas_observers.fake_canvas import FakeCanvas

ClientFor = Callable[..., httpx.AsyncClient]
CREATE = "/api/v1/accounts/self/users"


def emails(fake: FakeCanvas) -> list[dict[str, Any]]:
    """The registration emails the fake recorded."""
    return list(fake.state.snapshot()["registration_emails"])


async def test_create_with_form_body(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """A form-encoded create answers 200 (not 201) with the user JSON."""
    response = await api.post(
        CREATE,
        data={
            "user[name]": "Parent One",
            "pseudonym[unique_id]": "parent1@example.com",
            "pseudonym[sis_user_id]": "P-1",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Parent One"
    assert body["sortable_name"] == "One, Parent"
    assert body["login_id"] == "parent1@example.com"
    assert body["sis_user_id"] == "P-1"
    assert {"id", "created_at", "short_name", "integration_id", "locale", "uuid"} <= set(body)
    shown = await api.get("/api/v1/users/sis_user_id:P-1")
    assert shown.json()["id"] == body["id"]
    assert shown.json()["email"] == "parent1@example.com"


async def test_create_with_json_body(api: httpx.AsyncClient) -> None:
    """A JSON body with the same nesting works like the form."""
    response = await api.post(
        CREATE,
        json={
            "user": {"name": "Json Parent", "sortable_name": "Parent, J."},
            "pseudonym": {"unique_id": "json@example.com"},
        },
    )
    assert response.status_code == 200
    assert response.json()["sortable_name"] == "Parent, J."
    assert response.json()["login_id"] == "json@example.com"


async def test_name_defaults_to_unique_id(api: httpx.AsyncClient) -> None:
    """Without user[name] the login id is the name."""
    response = await api.post(CREATE, data={"pseudonym[unique_id]": "noname@example.com"})
    assert response.status_code == 200
    assert response.json()["name"] == "noname@example.com"


async def test_duplicate_login_is_400_taken(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """A login already in use (in any case) is a 400 with the nested `taken` error."""
    fake.state.add_user("First", login_id="dup@example.com")
    response = await api.post(
        CREATE, data={"user[name]": "Second", "pseudonym[unique_id]": "DUP@Example.com"}
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors["pseudonym"]["unique_id"][0] == {
        "attribute": "unique_id",
        "type": "taken",
        "message": "ID already in use for this account and authentication provider",
    }
    assert errors["user"]["pseudonyms"][0]["type"] == "invalid"
    assert errors["observee"] == {}
    assert errors["pairing_code"] == {}
    assert errors["recaptcha"] is None
    assert len(fake.state.search("dup@")) == 1


async def test_login_of_a_deleted_user_can_be_reused(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """Uniqueness counts active logins only."""
    old = fake.state.add_user("Old", login_id="reuse@example.com")
    fake.state.delete_user(old)
    response = await api.post(CREATE, data={"pseudonym[unique_id]": "reuse@example.com"})
    assert response.status_code == 200
    assert response.json()["id"] != old


async def test_duplicate_sis_id_is_400(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """An SIS id already in use is a 400 on pseudonym.sis_user_id."""
    fake.state.add_user("Has Sis", login_id="has", sis_user_id="S-9")
    response = await api.post(
        CREATE, data={"pseudonym[unique_id]": "new@example.com", "pseudonym[sis_user_id]": "S-9"}
    )
    assert response.status_code == 400
    error = response.json()["errors"]["pseudonym"]["sis_user_id"][0]
    assert error["message"] == 'SIS ID "S-9" is already in use'


async def test_missing_unique_id_is_400(api: httpx.AsyncClient) -> None:
    """pseudonym[unique_id] is required."""
    response = await api.post(CREATE, data={"user[name]": "Nobody"})
    assert response.status_code == 400
    assert "unique_id" in response.json()["errors"]["pseudonym"]


async def test_force_self_registration_records_an_email(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """force_self_registration sends the confirm_registration email to the channel address."""
    response = await api.post(
        CREATE,
        data={
            "user[name]": "Reg Parent",
            "pseudonym[unique_id]": "reg@example.com",
            "pseudonym[force_self_registration]": "true",
        },
    )
    uid = response.json()["id"]
    assert emails(fake) == [
        {"user_id": uid, "address": "reg@example.com", "kind": "confirm_registration"}
    ]


async def test_skip_confirmation_suppresses_the_email(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """communication_channel[skip_confirmation] sends nothing, even with self-registration."""
    response = await api.post(
        CREATE,
        json={
            "pseudonym": {"unique_id": "quiet@example.com", "force_self_registration": True},
            "communication_channel": {"skip_confirmation": True},
        },
    )
    assert response.status_code == 200
    assert emails(fake) == []


async def test_send_confirmation_and_channel_address(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """send_confirmation sends pseudonym_registration to communication_channel[address]."""
    response = await api.post(
        CREATE,
        data={
            "pseudonym[unique_id]": "login-not-email",
            "pseudonym[send_confirmation]": "1",
            "communication_channel[type]": "email",
            "communication_channel[address]": "home@example.com",
        },
    )
    uid = response.json()["id"]
    assert emails(fake) == [
        {"user_id": uid, "address": "home@example.com", "kind": "pseudonym_registration"}
    ]
    found = await api.get(
        "/api/v1/accounts/self/users", params={"search_term": "home@", "include[]": "email"}
    )
    assert [u["email"] for u in found.json()] == ["home@example.com"]


async def test_no_email_without_a_valid_address(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """A login that is not an email and no address: no channel, so no email is sent."""
    response = await api.post(
        CREATE,
        data={"pseudonym[unique_id]": "justalogin", "pseudonym[force_self_registration]": "true"},
    )
    assert response.status_code == 200
    assert emails(fake) == []
    shown = await api.get(f"/api/v1/users/{response.json()['id']}")
    assert shown.json()["email"] is None


@pytest.mark.parametrize("account", ["self", "1"])
async def test_non_admin_gets_403_empty_body(
    fake: FakeCanvas, client_for: ClientFor, account: str
) -> None:
    """Without manage_user_logins (and no self-registration) the answer is 403 `{}`."""
    uid = fake.state.add_user("Plain", login_id="plain")
    client = client_for(fake.state.issue_token(uid))
    response = await client.post(
        f"/api/v1/accounts/{account}/users", data={"pseudonym[unique_id]": "x@example.com"}
    )
    assert response.status_code == 403
    assert response.json() == {}
    assert fake.state.user_by_login("x@example.com") is None


async def test_create_with_pairing_code_links_and_uses_the_code(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """initial_enrollment_type=observer + pairing_code[code] creates, links, and uses the code."""
    student = fake.state.add_user("Kid", login_id="kid@school.test")
    fake.state.enroll(student, fake.state.add_course("C"))
    code = (await api.post(f"/api/v1/users/{student}/observer_pairing_codes")).json()["code"]
    form = {
        "user[name]": "Pat Lee",
        "user[initial_enrollment_type]": "observer",
        "pairing_code[code]": code,
        "pseudonym[unique_id]": "pat@home.test",
    }
    response = await api.post(CREATE, data=form)
    assert response.status_code == 200
    parent = response.json()["id"]
    assert fake.state.is_linked(parent, student)
    again = await api.post(CREATE, data={**form, "pseudonym[unique_id]": "pat2@home.test"})
    assert again.status_code == 400
    assert again.json()["errors"]["pairing_code"]["code"][0]["type"] == "invalid"
    assert fake.state.user_by_login("pat2@home.test") is None


async def test_create_with_a_wrong_case_code_creates_nothing(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """A pairing code is case-sensitive on create too: a wrong-case code is a 400, no account."""
    student = fake.state.add_user("Kid", login_id="kid@school.test")
    fake.state.enroll(student, fake.state.add_course("C"))
    code = (await api.post(f"/api/v1/users/{student}/observer_pairing_codes")).json()["code"]
    wrong = code.swapcase() if code.swapcase() != code else "zzzzzz"
    response = await api.post(
        CREATE,
        data={
            "user[initial_enrollment_type]": "observer",
            "pairing_code[code]": wrong,
            "pseudonym[unique_id]": "pat@home.test",
        },
    )
    assert response.status_code == 400
    assert fake.state.user_by_login("pat@home.test") is None


async def test_taken_login_and_bad_code_are_both_in_one_400(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """A taken login with a bad pairing code gets both errors in one nested 400 body."""
    fake.state.add_user("First", login_id="dup@example.com")
    response = await api.post(
        CREATE,
        data={
            "user[initial_enrollment_type]": "observer",
            "pairing_code[code]": "nosuch",
            "pseudonym[unique_id]": "dup@example.com",
        },
    )
    assert response.status_code == 400
    assert response.json() == {
        "errors": {
            "user": {
                "pseudonyms": [{"attribute": "pseudonyms", "type": "invalid", "message": "invalid"}]
            },
            "pseudonym": {
                "unique_id": [
                    {
                        "attribute": "unique_id",
                        "type": "taken",
                        "message": "ID already in use for this account and authentication provider",
                    }
                ]
            },
            "observee": {},
            "pairing_code": {
                "code": [{"attribute": "code", "type": "invalid", "message": "invalid"}]
            },
            "recaptcha": None,
        }
    }


@pytest.mark.parametrize(
    ("pending_state", "form", "expected_state"),
    [
        ("creation_pending", {}, "pre_registered"),
        ("pending_approval", {"user[skip_registration]": "true"}, "registered"),
    ],
)
async def test_login_of_an_unfinished_user_is_reused(
    fake: FakeCanvas,
    api: httpx.AsyncClient,
    pending_state: str,
    form: dict[str, str],
    expected_state: str,
) -> None:
    """A login whose user is creation_pending/pending_approval is reused: same user, renamed."""
    old = fake.state.add_user(
        "Old Name", login_id="pend@example.com", sis_user_id="S-1", workflow_state=pending_state
    )
    response = await api.post(
        CREATE,
        data={**form, "user[name]": "New Name", "pseudonym[unique_id]": "PEND@example.com"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == old
    assert body["name"] == "New Name"
    assert body["sortable_name"] == "Name, New"
    assert body["login_id"] == "PEND@example.com"
    assert body["sis_user_id"] is None  # @pseudonym.sis_user_id = the (absent) param
    [user] = [u for u in fake.state.snapshot()["users"] if u["id"] == old]
    assert user["workflow_state"] == expected_state
    assert len(user["logins"]) == 1
    assert len(fake.state.search("pend@")) == 1
