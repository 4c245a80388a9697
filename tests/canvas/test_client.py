"""CanvasClient against the fake Canvas in-process (httpx.ASGITransport): every operation."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from canvas_observers.canvas import (
    CanvasClient,
    CanvasError,
    ConfigurationError,
    InvalidToken,
    NotAllowed,
    NotFound,
    OutcomeUnknown,
    PacingPolicy,
    RequestRejected,
    RetryPolicy,
    ServerError,
    UnsafeRequest,
    is_loopback,
)
from canvas_observers.fake_canvas import FakeCanvasApp, FakeConfig, create_app

Make = Callable[..., CanvasClient]
CREATE_USER = "POST /api/v1/accounts/:account_id/users"
ADD_WITH_CODE = "POST /api/v1/users/:user_id/observees"


def enrolled_student(app: FakeCanvasApp, name: str = "Ana Pérez", **ids: Any) -> int:
    state = app.fake.state
    student = state.add_user(name, **ids)
    state.enroll(student, state.add_course("Math"))
    return student


async def test_get_self_verifies_the_token(quiet_app: FakeCanvasApp, canvas_on: Make) -> None:
    """get_self answers the token's owner; a wrong token is InvalidToken, without the token."""
    me = await canvas_on(quiet_app).get_self()
    assert me.id > 0
    with pytest.raises(InvalidToken) as caught:
        await canvas_on(quiet_app, token="wrong-secret-xyz").get_self()
    assert caught.value.status == 401
    assert "wrong-secret-xyz" not in str(caught.value) + repr(caught.value)


async def test_get_user_and_not_found(quiet_app: FakeCanvasApp, canvas_on: Make) -> None:
    """get_user returns the user by Canvas id; an unknown id is NotFound with its path."""
    user_id = quiet_app.fake.state.add_user("Ben Li", login_id="ben@x.org", sis_user_id="S-2")
    client = canvas_on(quiet_app)
    user = await client.get_user(user_id)
    assert (user.id, user.name) == (user_id, "Ben Li")
    with pytest.raises(NotFound) as caught:
        await client.get_user(99999)
    assert (caught.value.method, caught.value.path, caught.value.status) == (
        "GET",
        "/api/v1/users/99999",
        404,
    )


@pytest.mark.parametrize("sis_id", ["S-100", "A.1/2+3", "Zoë@home", "..", "x:y"])
async def test_get_user_by_sis_id_escapes(
    quiet_app: FakeCanvasApp, canvas_on: Make, sis_id: str
) -> None:
    """SIS ids with dots, slashes, plus, at, colons and accents are found exactly."""
    state = quiet_app.fake.state
    user_id = state.add_user("Cy", login_id="cy@x.org", sis_user_id=sis_id)
    state.add_user("Decoy", login_id="decoy@x.org", sis_user_id=sis_id + "0")
    client = canvas_on(quiet_app)
    assert (await client.get_user_by_sis_id(sis_id)).id == user_id
    with pytest.raises(NotFound):
        await client.get_user_by_sis_id(sis_id.upper() + "-nope")


async def test_sis_id_lookup_is_case_sensitive(quiet_app: FakeCanvasApp, canvas_on: Make) -> None:
    """`sis_user_id:` matches case-sensitively, as Canvas does."""
    quiet_app.fake.state.add_user("Di", login_id="di@x.org", sis_user_id="abc")
    with pytest.raises(NotFound):
        await canvas_on(quiet_app).get_user_by_sis_id("ABC")


async def test_get_user_by_login(quiet_app: FakeCanvasApp, canvas_on: Make) -> None:
    """Logins are found case-insensitively, with `+` and `.` in them; unknown is NotFound."""
    user_id = quiet_app.fake.state.add_user("Ed", login_id="ed.o+kids@x.org")
    client = canvas_on(quiet_app)
    assert (await client.get_user_by_login("Ed.O+Kids@X.org")).id == user_id
    with pytest.raises(NotFound):
        await client.get_user_by_login("ed.o@x.org")


@pytest.mark.parametrize(("per_page", "pages"), [(10, 25), (100, 3)])
async def test_search_reads_every_page(
    quiet_app: FakeCanvasApp, canvas_on: Make, per_page: int, pages: int
) -> None:
    """A search for 250 users reads every page at the chosen page size; exact filtering is easy."""
    state = quiet_app.fake.state
    for n in range(250):
        state.add_user(f"Pupil {n:03d}", login_id=f"p{n}@x.org", sis_user_id=f"1{n:03d}")
    client = canvas_on(quiet_app, per_page=per_page)
    found = await client.search_users("Pupil")
    assert len(found) == 250 == len({user.id for user in found})
    # One more (empty) page is allowed: Canvas cannot know a full page was the last one.
    assert pages <= client.counts.by_operation["search_users"] <= pages + 1
    hits = await client.search_users("1007")
    assert [user.sis_user_id for user in hits if user.sis_user_id == "1007"] == ["1007"]
    hits = await client.search_users("p7@x.org")
    assert [u.login_id for u in hits if u.login_id == "p7@x.org"] == ["p7@x.org"]


async def test_search_term_too_short(quiet_app: FakeCanvasApp, canvas_on: Make) -> None:
    """A one-character search is Canvas's 400, raised as RequestRejected."""
    with pytest.raises(RequestRejected) as caught:
        await canvas_on(quiet_app).search_users("a")
    assert caught.value.status == 400
    assert any("characters" in message for message in caught.value.messages)


async def test_create_user_and_taken(quiet_app: FakeCanvasApp, canvas_on: Make) -> None:
    """create_user makes the account; the same login again is RequestRejected with `taken`."""
    client = canvas_on(quiet_app)
    user = await client.create_user(name="Pat Doe", login_id="pat@x.org", sortable_name="Doe, Pat")
    assert user.name == "Pat Doe"
    assert (await client.get_user_by_login("pat@x.org")).id == user.id
    with pytest.raises(RequestRejected) as caught:
        await client.create_user(name="Pat Again", login_id="PAT@x.org", send_registration=False)
    assert "taken" in caught.value.error_types()
    assert client.counts.by_method == {"POST": 2, "GET": 1}


@pytest.mark.parametrize("forbidden_status", [401, 403])
async def test_pairing_code(canvas_on: Make, forbidden_status: int) -> None:
    """An enrolled student gets a 6-character code; an unenrolled one is NotAllowed (401/403)."""
    app = create_app(FakeConfig(throttle=False, forbidden_status=forbidden_status))
    client = canvas_on(app)
    code = await client.create_pairing_code(enrolled_student(app))
    assert len(code.code) == 6 and code.code.isalnum()
    loner = app.fake.state.add_user("No Classes")
    with pytest.raises(NotAllowed) as caught:
        await client.create_pairing_code(loner)
    assert caught.value.status == forbidden_status


async def test_pair_with_code(quiet_app: FakeCanvasApp, canvas_on: Make) -> None:
    """A code pairs the observer; the used code is then refused as RequestRejected (422)."""
    client = canvas_on(quiet_app)
    student = enrolled_student(quiet_app)
    parent = await client.create_user(name="Pat", login_id="pat@x.org")
    code = await client.create_pairing_code(student)
    assert (await client.add_observee_with_code(parent.id, code.code)).id == student
    assert quiet_app.fake.state.is_linked(parent.id, student)
    with pytest.raises(RequestRejected) as caught:
        await client.add_observee_with_code(parent.id, code.code)
    assert caught.value.status == 422


async def test_direct_pairing_lists_and_removal(quiet_app: FakeCanvasApp, canvas_on: Make) -> None:
    """PUT pairs idempotently; both lists show the link; DELETE unpairs, twice is NotFound."""
    client = canvas_on(quiet_app)
    student = enrolled_student(quiet_app, sis_user_id="S-1", login_id="ana@school.org")
    parent = quiet_app.fake.state.add_user("Pat", login_id="pat.o@x.org")
    for _ in range(2):
        assert (await client.add_observee(parent, student)).id == student
    assert [u.id for u in await client.list_observees(parent)] == [student]
    assert [u.id for u in await client.list_observees("sis_login_id:Pat.O@x.org")] == [student]
    assert [u.id for u in await client.list_observers(student)] == [parent]
    assert (await client.remove_observee(parent, student)).id == student
    assert await client.list_observees(parent) == []
    with pytest.raises(NotFound):
        await client.remove_observee(parent, student)
    assert client.counts.by_method == {"PUT": 2, "GET": 4, "DELETE": 2}


async def test_other_users_observees_not_allowed(quiet_app: FakeCanvasApp, canvas_on: Make) -> None:
    """A non-admin token listing someone else's observees is NotAllowed, not NotFound."""
    state = quiet_app.fake.state
    parent = state.add_user("Pat", login_id="pat@x.org")
    other = state.add_user("Quinn", login_id="q@x.org")
    with pytest.raises(NotAllowed):
        await canvas_on(quiet_app, token=state.issue_token(other)).list_observees(parent)


async def test_gets_survive_20_percent_faults(canvas_on: Make) -> None:
    """With 20% of answers 500/502/503, every GET still succeeds through retries."""
    app = create_app(FakeConfig(throttle=False, fault_rate=0.2, seed=7))
    ids = [app.fake.state.add_user(f"U{n}", login_id=f"u{n}@x.org") for n in range(100)]
    client = canvas_on(app)
    users = await asyncio.gather(*(client.get_user(user_id) for user_id in ids))
    assert [user.id for user in users] == ids
    counts = client.counts
    assert app.fake.stats.faults > 0
    assert counts.retries == app.fake.stats.faults
    assert counts.requests == 100 + counts.retries


async def test_lost_put_is_retried(canvas_on: Make) -> None:
    """An idempotent PUT whose answer is lost (502 or dropped) is sent again and succeeds."""
    app = create_app(FakeConfig(throttle=False, lost_response_rate=0.5, seed=3))
    state = app.fake.state
    pairs = [(state.add_user(f"P{n}"), enrolled_student(app, f"S{n}")) for n in range(20)]
    client = canvas_on(app)
    for parent, student in pairs:
        await client.add_observee(parent, student)
        assert state.is_linked(parent, student)
    assert app.fake.stats.lost_responses > 0
    assert client.counts.retries >= app.fake.stats.lost_responses


async def test_lost_post_is_outcome_unknown_and_not_resent(canvas_on: Make) -> None:
    """A create whose answer is lost raises OutcomeUnknown, is sent once, and did happen."""
    app = create_app(FakeConfig(throttle=False, lost_response_rate=1.0, seed=1))
    client = canvas_on(app)
    for n in range(6):  # both kinds of loss (proxy 502, dropped connection) come up
        with pytest.raises(OutcomeUnknown) as caught:
            await client.create_user(name=f"Pat {n}", login_id=f"pat{n}@x.org")
        assert caught.value.method == "POST"
        assert app.fake.state.user_by_login(f"pat{n}@x.org") is not None
    assert app.fake.stats.by_route[CREATE_USER] == 6
    assert client.counts.retries == 0


async def test_lost_pairing_post_is_outcome_unknown(
    quiet_app: FakeCanvasApp, canvas_on: Make
) -> None:
    """Pairing with a code and losing the answer is OutcomeUnknown, never re-sent."""
    client = canvas_on(quiet_app)
    student = enrolled_student(quiet_app)
    parent = quiet_app.fake.state.add_user("Pat", login_id="pat@x.org")
    code = await client.create_pairing_code(student)
    quiet_app.fake.config.lost_response_rate = 1.0
    with pytest.raises(OutcomeUnknown):
        await client.add_observee_with_code(parent, code.code)
    assert quiet_app.fake.stats.by_route[ADD_WITH_CODE] == 1
    assert quiet_app.fake.state.is_linked(parent, student)


async def test_post_answered_5xx_is_outcome_unknown(canvas_on: Make) -> None:
    """A create answered 500/502/503 is OutcomeUnknown and sent only once."""
    app = create_app(FakeConfig(throttle=False, fault_rate=1.0))
    client = canvas_on(app)
    for n in range(5):
        with pytest.raises(OutcomeUnknown) as caught:
            await client.create_user(name="Pat", login_id=f"pat{n}@x.org")
        assert caught.value.status in (500, 502, 503)
    assert app.fake.stats.faults == 5  # faults answer before the routes count anything
    assert client.counts.requests == 5


async def test_pairing_code_post_is_retried(canvas_on: Make) -> None:
    """The pairing-code POST is replay-safe: 5xx answers are retried until a code comes."""
    app = create_app(FakeConfig(throttle=False, fault_rate=0.5, seed=11))
    client = canvas_on(app)
    student = enrolled_student(app)
    codes = [await client.create_pairing_code(student) for _ in range(10)]
    assert len({code.code for code in codes}) == 10
    assert client.counts.retries > 0


async def test_retries_are_bounded(canvas_on: Make) -> None:
    """When every answer is a 5xx, a GET gives up after the policy's attempts: ServerError."""
    app = create_app(FakeConfig(throttle=False, fault_rate=1.0))
    client = canvas_on(app, retry=RetryPolicy(attempts=3))
    with pytest.raises(ServerError):
        await client.get_self()
    assert client.counts.requests == 3 == app.fake.stats.faults


@pytest.mark.parametrize("throttle_status", [429, 403])
async def test_throttle_storm_completes(canvas_on: Make, throttle_status: int) -> None:
    """With a tiny bucket (hwm 120) a burst of 60 requests is throttled, retried, all answered."""
    app = create_app(FakeConfig(hwm=120.0, throttle_status=throttle_status, latency_ms=2))
    ids = [app.fake.state.add_user(f"U{n}") for n in range(60)]
    client = canvas_on(app)
    users = await asyncio.gather(*(client.get_user(user_id) for user_id in ids))
    assert [user.id for user in users] == ids
    assert client.counts.throttled == app.fake.stats.throttled > 0
    assert client.counts.requests == 60 + client.counts.throttled


def mock_canvas(
    handler: Callable[[httpx.Request], httpx.Response],
) -> tuple[CanvasClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(record))
    client = CanvasClient(http, base_url="https://canvas.test", token="tok-123")
    return client, seen


async def test_off_origin_next_link_is_refused() -> None:
    """A next link to another host, scheme or port raises UnsafeRequest; nothing is sent there."""
    for elsewhere in (
        "https://evil.test/api/v1/users/self/observees?page=2",
        "http://canvas.test/api/v1/users/self/observees?page=2",
        "https://canvas.test:8443/api/v1/users/self/observees?page=2",
    ):
        client, seen = mock_canvas(
            lambda _r, to=elsewhere: httpx.Response(  # type: ignore[misc]
                200, json=[{"id": 1, "name": "A"}], headers={"Link": f'<{to}>; rel="next"'}
            )
        )
        with pytest.raises(UnsafeRequest):
            await client.list_observees(5)
        assert [str(r.url.host) for r in seen] == ["canvas.test"]
        assert seen[0].headers["Authorization"] == "Bearer tok-123"


async def test_same_origin_next_link_is_followed() -> None:
    """A next link on the same origin (default port spelled out) is followed with the token."""
    pages = {
        "1": ('<https://canvas.test:443/api/v1/users/5/observees?page=2>; rel="next"', 1),
        "2": ("", 2),
    }

    def handler(request: httpx.Request) -> httpx.Response:
        link, user = pages[request.url.params.get("page", "1")]
        return httpx.Response(200, json=[{"id": user, "name": "A"}], headers={"Link": link})

    client, seen = mock_canvas(handler)
    assert [u.id for u in await client.list_observees(5)] == [1, 2]
    assert all(r.headers["Authorization"] == "Bearer tok-123" for r in seen)


async def test_redirects_are_not_followed() -> None:
    """A redirect is an error and is never followed (the token would go along)."""
    client, seen = mock_canvas(
        lambda _r: httpx.Response(302, headers={"Location": "https://login.test/"})
    )
    with pytest.raises(CanvasError) as caught:
        await client.get_self()
    assert caught.value.status == 302
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("url", "allow_insecure", "refused"),
    [
        ("https://school.instructure.com", False, None),
        ("http://school.instructure.com", False, UnsafeRequest),
        ("http://school.instructure.com", True, None),
        ("http://127.0.0.1:8900", False, None),
        ("http://127.9.9.9", False, None),
        ("http://localhost:8900", False, None),
        ("http://[::1]:8900", False, None),
        ("http://10.0.0.1", False, UnsafeRequest),
        ("ftp://school.test", False, ConfigurationError),
        ("https://school.test/?x=1", False, ConfigurationError),
    ],
)
async def test_base_url_rules(
    url: str, allow_insecure: bool, refused: type[Exception] | None
) -> None:
    """http:// is refused unless the host is loopback or insecure is explicitly allowed."""
    async with httpx.AsyncClient() as http:
        if refused is None:
            CanvasClient(http, base_url=url, token="t", allow_insecure=allow_insecure)
        else:
            with pytest.raises(refused):
                CanvasClient(http, base_url=url, token="t", allow_insecure=allow_insecure)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.200.1.2", True),
        ("::1", True),
        ("[::1]", True),
        ("LOCALHOST", True),
        ("128.0.0.1", False),
        ("localhost.evil.test", False),
        ("0.0.0.0", False),  # noqa: S104
        ("10.1.2.3", False),
        ("canvas.example.edu", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    """Loopback is 127.0.0.0/8, ::1 and localhost, nothing that merely looks like it."""
    assert is_loopback(host) is loopback


async def test_token_never_in_logs_or_errors(
    canvas_on: Make, caplog: pytest.LogCaptureFixture
) -> None:
    """At DEBUG, no log line, error text or repr shows the token, even through faults."""
    token = "s3cr3t-T0KEN-value"
    app = create_app(FakeConfig(throttle=False, fault_rate=0.3, seed=5, admin_token=token))
    client = canvas_on(app)
    texts: list[str] = [repr(client)]
    caplog.set_level(logging.DEBUG)
    await client.get_self()
    for call in (
        client.get_user(4242),
        client.search_users("x"),
        canvas_on(app, token=token + "-bad").get_self(),
    ):
        try:
            await call
        except CanvasError as error:
            texts += [str(error), repr(error)]
    app.fake.config.lost_response_rate = 1.0
    app.fake.config.fault_rate = 0.0
    with pytest.raises(OutcomeUnknown) as caught:
        await client.create_user(name="Pat", login_id="pat@x.org")
    texts += [str(caught.value), repr(caught.value), str(client.counts.as_dict())]
    assert caplog.records, "DEBUG logging produced nothing to check"
    texts += [record.getMessage() for record in caplog.records]
    assert all(token not in text for text in texts)


async def test_counts_snapshot(quiet_app: FakeCanvasApp, canvas_on: Make) -> None:
    """counts is a frozen snapshot by operation and method, with as_dict for reports."""
    client = canvas_on(quiet_app)
    await client.get_self()
    with pytest.raises(NotFound):
        await client.get_user_by_sis_id("nobody")
    snapshot = client.counts
    await client.get_self()
    assert snapshot.as_dict() == {
        "by_operation": {"get_self": 1, "get_user_by_sis_id": 1},
        "by_method": {"GET": 2},
        "requests": 2,
        "throttled": 0,
        "retries": 0,
        "transport_errors": 0,
    }
    assert client.counts.requests == 3


async def test_pacing_2000_requests_at_default_throttle(canvas_on: Make) -> None:
    """2,000 GETs at the default throttle (5 ms latency) keep 11 in flight, <1% throttled."""
    app = create_app(FakeConfig(latency_ms=5))  # hwm 600, 50 up front, cost 0.05, 10/s
    ids = [app.fake.state.add_user(f"U{n}") for n in range(200)]
    client = canvas_on(app)  # default pacing: up to 11 in flight, as Canvas admits
    started = time.perf_counter()
    users = await asyncio.gather(*(client.get_user(ids[n % 200]) for n in range(2000)))
    seconds = time.perf_counter() - started
    counts = client.counts
    print(  # the figures the lead reports; not asserted on (no timed assertions)
        f"\n[pacing] 2000 GETs at default throttle, latency 5 ms: requests={counts.requests} "
        f"throttled={counts.throttled} ({100 * counts.throttled / counts.requests:.2f}%) "
        f"peak_in_flight={client.pacer.peak_in_flight} seconds={seconds:.2f}"
    )
    assert len(users) == 2000
    assert counts.throttled == app.fake.stats.throttled
    assert counts.throttled < 20  # under 1% of 2,000
    assert client.pacer.peak_in_flight == 11


SITE = "https://school.instructure.com"


def answering(
    handler: Callable[[httpx.Request], Any], **options: Any
) -> tuple[CanvasClient, httpx.AsyncClient]:
    """A client on SITE whose requests ``handler`` answers (httpx.MockTransport)."""
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return CanvasClient(http, base_url=SITE, token="t0ken", **options), http


async def test_every_request_carries_the_clients_timeout() -> None:
    """30 seconds for each phase of a request by default (connect, write, read, a pool slot),
    or the timeout given; a download's hops carry the same. httpx's own default (5 s) or none
    would be another client's behaviour."""
    seen: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={"id": 1, "name": "Site Admin"})

    for options, seconds in (({}, 30.0), ({"timeout": 7.5}, 7.5)):
        seen.clear()
        client, http = answering(answer, **options)
        async with http:
            await client.get_self()
            await client.download(f"{SITE}/files/9/download")
        every_phase = dict.fromkeys(("connect", "read", "write", "pool"), seconds)
        assert seen == [every_phase, every_phase]


async def in_flight_at_once(**options: Any) -> int:
    """How many of 20 requests sent at once the client lets run together: each answer waits
    until the test has seen the most the client lets through."""
    arrived = 0
    release = asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal arrived
        arrived += 1
        await release.wait()
        return httpx.Response(200, json={"id": 1, "name": "Site Admin"})

    client, http = answering(answer, **options)
    async with http:
        calls = [asyncio.create_task(client.get_self()) for _ in range(20)]
        while True:  # until the client lets no more through
            before = arrived
            for _ in range(50):  # each request it admits reaches the answer within these
                await asyncio.sleep(0)
            if arrived == before:
                break
        most = arrived
        release.set()
        await asyncio.gather(*calls)
    assert client.counts.requests == 20
    return most


async def test_at_most_11_requests_are_in_flight_by_default() -> None:
    """11 at once by default, as Canvas admits with an empty bucket; ``max_in_flight`` or a
    whole pacing policy sets another number. The default is PacingPolicy's own: the bucket's
    estimate alone holds the 12th back today, and a client default of its own would part from
    it once Canvas's bucket settings change there."""
    assert await in_flight_at_once() == 11
    client, http = answering(lambda request: httpx.Response(200))
    await http.aclose()
    assert client.pacer.policy == PacingPolicy()
    assert await in_flight_at_once(max_in_flight=3) == 3
    assert await in_flight_at_once(pacing=PacingPolicy(max_in_flight=2), max_in_flight=5) == 2


@pytest.mark.parametrize("path", ["/canvasX", "/canvasX/", "/X"])
async def test_a_canvas_under_a_path_keeps_the_whole_path(path: str) -> None:
    """A Canvas served under a path (``https://host/canvasX``) gets its requests under that
    path, whatever its last letter; only the trailing slash goes."""
    paths: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(200, json={"id": 1, "name": "Site Admin"})

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    async with http:
        client = CanvasClient(http, base_url=f"{SITE}{path}", token="t0ken")
        await client.get_self()
    assert paths == [f"{path.rstrip('/')}/api/v1/users/self"]


ECHOED = "7~ECHOtoken-Hq2Wn8Zr5Lk3"


def echoing_client(
    handler: Callable[[httpx.Request, str], httpx.Response],
) -> CanvasClient:
    """A client whose Canvas answers with ``handler(request, the request's token)``."""

    def answer(request: httpx.Request) -> httpx.Response:
        return handler(request, request.headers["authorization"].removeprefix("Bearer "))

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    return CanvasClient(
        http, base_url="https://canvas.test", token=ECHOED, retry=RetryPolicy.none()
    )


async def test_an_answer_that_echoes_the_token_is_redacted_where_it_enters() -> None:
    """Canvas's words that quote the token (a parsed answer's names, a refusal's message and
    error body, a 403's and a 5xx's message, a redirect's Location, also percent-encoded)
    come out of the client with `[REDACTED]` in its place."""
    encoded = ECHOED.replace("~", "%7E")  # as older encoders write it

    def user(_request: httpx.Request, token: str) -> httpx.Response:
        return httpx.Response(
            200, json={"id": 5, "name": f"Pat {token}", "login_id": f"{encoded}@x.test"}
        )

    got = await echoing_client(user).get_user(5)
    assert (got.name, got.login_id) == ("Pat [REDACTED]", "[REDACTED]@x.test")

    def rejected(_request: httpx.Request, token: str) -> httpx.Response:
        error = {"attribute": "name", "type": "invalid", "message": f"bad: Bearer {token}"}
        return httpx.Response(400, json={"errors": {"user": {"name": [error]}}})

    with pytest.raises(RequestRejected) as refused:
        await echoing_client(rejected).create_user(name="Pat", login_id="pat@x.test")
    assert refused.value.messages == ["bad: Bearer [REDACTED]"]
    assert refused.value.error_types("name") == {"invalid"}
    shown = [str(refused.value), repr(refused.value), repr(refused.value.errors)]

    failures = [
        (403, {"status": "unauthorized", "errors": [{"message": "no: {t}"}]}, NotAllowed),
        (401, {"errors": [{"message": "Invalid access token {t}"}]}, InvalidToken),
        (502, {"errors": [{"message": "upstream said {t}"}]}, ServerError),
        (302, None, ConfigurationError),
    ]
    for status, body, kind in failures:

        def failing(
            _request: httpx.Request, token: str, status: int = status, body: object = body
        ) -> httpx.Response:
            text = str(body).replace("'", '"').replace("{t}", token) if body else ""
            headers = {"Location": f"https://elsewhere.test/{token}/x"} if status == 302 else {}
            if status == 401:
                headers["WWW-Authenticate"] = 'Bearer realm="canvas-lms"'
            return httpx.Response(status, content=text.encode(), headers=headers)

        with pytest.raises(kind) as caught:
            await echoing_client(failing).get_self()
        shown += [str(caught.value), repr(caught.value)]
        assert "[REDACTED]" in str(caught.value), status
    for text in shown:
        assert ECHOED not in text and encoded not in text, text


@pytest.mark.parametrize(
    "token", ["tök€n-value", "two words", "tab\there", "nbsp\u00a0inside", "line\nbreak"]
)
def test_a_token_no_header_can_carry_is_refused_without_showing_it(token: str) -> None:
    """Non-ASCII, a space or a control character inside: a ConfigurationError that names the
    position and never the token (httpx would otherwise fail on the header with a traceback)."""
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda _r: httpx.Response(200)))
    with pytest.raises(ConfigurationError) as caught:
        CanvasClient(http, base_url="https://canvas.test", token=token)
    assert "cannot be sent (character" in str(caught.value)
    for part in token.split():
        assert part not in str(caught.value)
