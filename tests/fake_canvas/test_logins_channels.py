"""A user's logins, email channels and names: list and edit logins, add channels, rename
(pseudonyms_controller.rb, communication_channels_controller.rb, users_controller.rb update;
docs/canvas-behaviour.md)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from canvas_observers.fake_canvas import FakeCanvas

ClientFor = Callable[..., httpx.AsyncClient]
TAKEN = {
    "errors": {
        "unique_id": [
            {
                "attribute": "unique_id",
                "type": "taken",
                "message": "ID already in use for this account and authentication provider",
            }
        ]
    }
}


def guardian(fake: FakeCanvas) -> int:
    return fake.state.add_user(
        "Pat Lee", login_id="old@home.test", sis_user_id="G-1", email="old@home.test"
    )


async def limited(
    fake: FakeCanvas, api: httpx.AsyncClient, client_for: ClientFor, *rights: str
) -> httpx.AsyncClient:
    """A client whose token is an admin of a custom role with exactly these permissions."""
    user = fake.state.add_user("Limited Admin", login_id=f"limited-{len(fake.state.users)}")
    answer = await api.post("/__fake__/tokens", json={"user_id": user, "permissions": rights})
    return client_for(answer.json()["token"])


async def test_list_logins_shows_the_users_live_logins(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """GET /users/:id/logins lists the active logins by id, with the SIS id for an admin."""
    uid = guardian(fake)
    second = fake.state.add_login(uid, "pat@work.test")
    gone = fake.state.add_login(uid, "gone@home.test")
    fake.state.delete_login(gone)
    answer = await api.get(f"/api/v1/users/{uid}/logins")
    assert answer.status_code == 200
    logins = answer.json()
    assert [(p["unique_id"], p["sis_user_id"]) for p in logins] == [
        ("old@home.test", "G-1"),
        ("pat@work.test", None),
    ]
    assert logins[1]["id"] == second
    assert {"id", "user_id", "account_id", "workflow_state"} <= set(logins[0])
    assert (await api.get("/api/v1/users/999/logins")).status_code == 404


async def test_edit_login_changes_the_unique_id_and_lookups_follow(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """PUT /accounts/:id/logins/:id with login[unique_id]: 200 with the login; the new id is
    found by sis_login_id: and the old one no longer is."""
    uid = guardian(fake)
    login = fake.state.users[uid].logins[0].id
    answer = await api.put(
        f"/api/v1/accounts/self/logins/{login}", data={"login[unique_id]": "new@home.test"}
    )
    assert answer.status_code == 200
    assert answer.json()["unique_id"] == "new@home.test"
    assert (await api.get("/api/v1/users/sis_login_id:NEW@home.test")).json()["id"] == uid
    assert (await api.get("/api/v1/users/sis_login_id:old@home.test")).status_code == 404
    assert (await api.get("/api/v1/users/sis_user_id:G-1")).json()["login_id"] == "new@home.test"


async def test_edit_login_to_a_taken_unique_id_is_canvas_400(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """Another active login with that id (any case): 400 with the model's `taken` error, and
    nothing changes."""
    uid = guardian(fake)
    fake.state.add_user("Other", login_id="taken@home.test")
    login = fake.state.users[uid].logins[0].id
    answer = await api.put(
        f"/api/v1/accounts/self/logins/{login}", data={"login[unique_id]": "Taken@Home.test"}
    )
    assert answer.status_code == 400
    assert answer.json() == TAKEN
    assert fake.state.users[uid].logins[0].unique_id == "old@home.test"


async def test_edit_login_and_its_sis_id_in_one_save(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """login[unique_id] with login[sis_user_id]: both change; the new SIS id finds the user,
    the old one finds nobody and is free for another login."""
    uid = guardian(fake)
    login = fake.state.users[uid].logins[0].id
    answer = await api.put(
        f"/api/v1/accounts/self/logins/{login}",
        data={"login[unique_id]": "new@home.test", "login[sis_user_id]": "G-2"},
    )
    assert answer.status_code == 200
    assert (answer.json()["unique_id"], answer.json()["sis_user_id"]) == ("new@home.test", "G-2")
    assert (await api.get("/api/v1/users/sis_user_id:G-2")).json()["id"] == uid
    assert (await api.get("/api/v1/users/sis_user_id:G-1")).status_code == 404
    other = fake.state.add_user("Next Guardian", login_id="old@home.test", sis_user_id="G-1")
    assert fake.state.user_by_sis_id("G-1") is fake.state.users[other]


async def test_edit_login_to_a_taken_sis_id_is_canvas_400_and_saves_nothing(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """An SIS id another login holds, a deleted login included: 400 `taken` on sis_user_id,
    and the login id sent with it is not saved either. A taken login id is told first."""
    uid = guardian(fake)
    gone = fake.state.add_user("Gone", login_id="gone@home.test", sis_user_id="G-2")
    fake.state.delete_login(fake.state.users[gone].logins[0].id)
    fake.state.add_user("Other", login_id="taken@home.test")
    login = fake.state.users[uid].logins[0].id
    answer = await api.put(
        f"/api/v1/accounts/self/logins/{login}",
        data={"login[unique_id]": "new@home.test", "login[sis_user_id]": "G-2"},
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "errors": {
            "sis_user_id": [
                {
                    "attribute": "sis_user_id",
                    "type": "taken",
                    "message": 'SIS ID "G-2" is already in use',
                }
            ]
        }
    }
    account = fake.state.users[uid]
    assert [(p.unique_id, p.sis_user_id) for p in account.logins] == [("old@home.test", "G-1")]
    both = await api.put(
        f"/api/v1/accounts/self/logins/{login}",
        data={"login[unique_id]": "taken@home.test", "login[sis_user_id]": "G-2"},
    )
    assert (both.status_code, both.json()) == (400, TAKEN)
    same = await api.put(
        f"/api/v1/accounts/self/logins/{login}", data={"login[sis_user_id]": "G-1"}
    )
    assert same.status_code == 200  # its own SIS id is no clash


async def test_edit_login_without_a_known_field_or_login(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """No recognised login[...] field: 400 "missing required parameter", as current Canvas
    answers; an unknown or deleted login: 404."""
    uid = guardian(fake)
    login = fake.state.users[uid].logins[0].id
    empty = await api.put(f"/api/v1/accounts/self/logins/{login}", data={"login[color]": "red"})
    assert (empty.status_code, empty.json()) == (400, {"message": "missing required parameter"})
    missing = await api.put("/api/v1/accounts/self/logins/999", data={"login[unique_id]": "x@y.z"})
    assert missing.status_code == 404


async def test_logins_need_manage_user_logins(
    fake: FakeCanvas, api: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """Without manage_user_logins, listing and editing another user's logins is refused with
    the 401 "unauthorized" body; a login's SIS id also needs manage_sis."""
    uid = guardian(fake)
    login = fake.state.users[uid].logins[0].id
    reader = await limited(fake, api, client_for, "read_roster", "view_user_logins")
    assert (await reader.get(f"/api/v1/users/{uid}/logins")).status_code == 401
    edit = await reader.put(
        f"/api/v1/accounts/self/logins/{login}", data={"login[unique_id]": "x@home.test"}
    )
    assert edit.status_code == 401
    assert edit.json()["status"] == "unauthorized"
    manager = await limited(fake, api, client_for, "manage_user_logins")
    sis = await manager.put(
        f"/api/v1/accounts/self/logins/{login}", data={"login[sis_user_id]": "G-2"}
    )
    assert sis.status_code == 401
    both = await manager.put(
        f"/api/v1/accounts/self/logins/{login}",
        data={"login[unique_id]": "new@home.test", "login[sis_user_id]": "G-2"},
    )
    assert both.status_code == 401  # and the login id sent with it is not saved
    assert fake.state.users[uid].logins[0].unique_id == "old@home.test"


async def test_add_email_channel_with_skip_confirmation(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """POST /users/:id/communication_channels: 200 with the channel, active and no
    confirmation sent with skip_confirmation (only the "new email address added" notice to
    the primary address); the same address again is 400 `unique!`."""
    uid = guardian(fake)
    form = {
        "communication_channel[address]": "new@home.test",
        "communication_channel[type]": "email",
        "skip_confirmation": "true",
    }
    answer = await api.post(f"/api/v1/users/{uid}/communication_channels", data=form)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["address"], body["type"], body["workflow_state"]) == (
        "new@home.test",
        "email",
        "active",
    )
    assert (body["user_id"], body["position"]) == (uid, 2)
    # no confirmation, but the primary address is told an address was added
    assert fake.state.snapshot()["registration_emails"] == [
        {"user_id": uid, "address": "old@home.test", "kind": "new_email_address_added"}
    ]
    again = await api.post(f"/api/v1/users/{uid}/communication_channels", data=form)
    assert again.status_code == 400
    assert again.json()["errors"]["path"][0]["type"] == "unique!"
    listed = await api.get(f"/api/v1/users/{uid}/communication_channels")
    assert [c["address"] for c in listed.json()] == ["old@home.test", "new@home.test"]


async def test_add_channel_without_skip_confirmation_sends_a_confirmation(
    fake: FakeCanvas, api: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """Without skip_confirmation (or without manage_students) the channel is unconfirmed and
    a confirmation email is recorded; without manage_user_logins the create is refused."""
    uid = guardian(fake)
    form = {
        "communication_channel[address]": "new@home.test",
        "communication_channel[type]": "email",
        "skip_confirmation": "true",
    }
    manager = await limited(fake, api, client_for, "manage_user_logins")
    answer = await manager.post(f"/api/v1/users/{uid}/communication_channels", data=form)
    assert answer.json()["workflow_state"] == "unconfirmed"
    sent = [(m["address"], m["kind"]) for m in fake.state.snapshot()["registration_emails"]]
    assert sent == [
        ("new@home.test", "confirm_email_communication_channel"),
        ("old@home.test", "new_email_address_added"),
    ]
    reader = await limited(fake, api, client_for, "read_roster")
    form["communication_channel[address]"] = "third@home.test"
    refused = await reader.post(f"/api/v1/users/{uid}/communication_channels", data=form)
    assert refused.status_code == 401


async def test_update_user_renames_and_refuses_unknown_fields(
    fake: FakeCanvas, api: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """PUT /users/:id with user[name] and user[sortable_name]: 200 with the user, found by the
    new name; a field the caller may not change (or no manage_user_logins) is 401."""
    uid = guardian(fake)
    answer = await api.put(
        f"/api/v1/users/{uid}", data={"user[name]": "Pat Kim", "user[sortable_name]": "Kim, Pat"}
    )
    assert answer.status_code == 200
    assert (answer.json()["name"], answer.json()["sortable_name"]) == ("Pat Kim", "Kim, Pat")
    found = await api.get("/api/v1/accounts/self/users", params={"search_term": "Pat Kim"})
    assert [u["id"] for u in found.json()] == [uid]
    named = await api.put(f"/api/v1/users/{uid}", data={"user[name]": "Pat Kimura"})
    assert named.json()["sortable_name"] == "Kimura, Pat"  # derived, so it follows the name
    odd = await api.put(f"/api/v1/users/{uid}", data={"user[bogus]": "x"})
    assert odd.status_code == 401
    reader = await limited(fake, api, client_for, "read_roster")
    assert (await reader.put(f"/api/v1/users/{uid}", data={"user[name]": "X"})).status_code == 401
    assert fake.state.users[uid].name == "Pat Kimura"
