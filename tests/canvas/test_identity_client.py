"""The client's identity calls: logins, email channels and names, on the fake Canvas."""

from __future__ import annotations

import httpx
import pytest

from canvas_observers.canvas import CanvasClient, OutcomeUnknown, RequestRejected
from canvas_observers.canvas.protocol import WRITE_OPERATIONS
from canvas_observers.fake_canvas import FakeCanvasApp
from tests.wiring import BASE_URL

from .conftest import ClientFactory


async def test_login_channel_and_name_changes_round_trip(
    quiet_app: FakeCanvasApp, canvas_on: ClientFactory
) -> None:
    """List the logins, change one, add the email channel and rename: Canvas shows the new
    login, channel and names; each write counts as a write operation."""
    state = quiet_app.fake.state
    uid = state.add_user("Pat Lee", login_id="old@home.test", sis_user_id="G-1")
    client = canvas_on(quiet_app)
    (login,) = await client.list_logins(uid)
    assert (login.unique_id, login.sis_user_id, login.user_id) == ("old@home.test", "G-1", uid)
    changed = await client.update_login(login.id, "new@home.test")
    assert changed.unique_id == "new@home.test"
    channel = await client.add_email_channel(uid, "new@home.test")
    assert (channel.address, channel.type, channel.workflow_state) == (
        "new@home.test",
        "email",
        "active",
    )
    assert [c.address for c in await client.list_channels(uid)] == ["new@home.test"]
    renamed = await client.rename_user(uid, name="Pat Kim", sortable_name="Kim, Pat")
    assert (renamed.name, renamed.sortable_name) == ("Pat Kim", "Kim, Pat")
    writes = {"update_login", "add_email_channel", "rename_user"}
    assert writes <= WRITE_OPERATIONS
    assert all(client.counts.by_operation[op] == 1 for op in writes)


async def test_taken_login_and_repeated_channel_are_rejected(
    quiet_app: FakeCanvasApp, canvas_on: ClientFactory
) -> None:
    """A login another account has is RequestRejected "taken"; a channel that is there
    already is RequestRejected "unique!"."""
    state = quiet_app.fake.state
    uid = state.add_user("Pat Lee", login_id="old@home.test", email="old@home.test")
    state.add_user("Other", login_id="taken@home.test")
    client = canvas_on(quiet_app)
    (login,) = await client.list_logins(uid)
    with pytest.raises(RequestRejected) as taken:
        await client.update_login(login.id, "TAKEN@home.test")
    assert "taken" in taken.value.error_types()
    with pytest.raises(RequestRejected) as twice:
        await client.add_email_channel(uid, "OLD@home.test")
    assert "unique!" in twice.value.error_types()


async def test_a_login_and_its_sis_id_change_together_or_are_rejected_by_attribute(
    quiet_app: FakeCanvasApp, canvas_on: ClientFactory
) -> None:
    """update_login with sis_user_id changes both; an SIS id another login holds is
    RequestRejected "taken" on sis_user_id, not on unique_id."""
    state = quiet_app.fake.state
    uid = state.add_user("Pat Lee", login_id="old@home.test", sis_user_id="old@home.test")
    state.add_user("Other", login_id="other@home.test", sis_user_id="held@home.test")
    client = canvas_on(quiet_app)
    (login,) = await client.list_logins(uid)
    with pytest.raises(RequestRejected) as held:
        await client.update_login(login.id, "held@home.test", sis_user_id="held@home.test")
    assert held.value.error_types("sis_user_id") == {"taken"}
    assert held.value.error_types("unique_id") == set()
    changed = await client.update_login(login.id, "new@home.test", sis_user_id="new@home.test")
    assert (changed.unique_id, changed.sis_user_id) == ("new@home.test", "new@home.test")


async def test_a_lost_login_edit_is_outcome_unknown_and_sent_once(
    quiet_app: FakeCanvasApp,
) -> None:
    """A 502 to the login PUT is OutcomeUnknown, not retried: the sync looks it up instead."""
    uid = quiet_app.fake.state.add_user("Pat Lee", login_id="old@home.test")
    sent: list[str] = []
    inner = httpx.ASGITransport(app=quiet_app)

    class Lost(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "PUT":
                sent.append(request.url.path)
                await inner.handle_async_request(request)
                return httpx.Response(502)
            return await inner.handle_async_request(request)

    async with httpx.AsyncClient(transport=Lost()) as http:
        client = CanvasClient(http, base_url=BASE_URL, token=quiet_app.fake.config.admin_token)
        (login,) = await client.list_logins(uid)
        with pytest.raises(OutcomeUnknown):
            await client.update_login(login.id, "new@home.test")
    assert len(sent) == 1
    assert quiet_app.fake.state.user_by_login("new@home.test") is not None
