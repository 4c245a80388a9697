"""Table tests of the pure protocol layer: saved Canvas answers in, values or errors out."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from canvas_observers.canvas import protocol, protocol_identity
from canvas_observers.canvas.errors import (
    CanvasError,
    ConfigurationError,
    InvalidToken,
    NotAllowed,
    NotFound,
    RequestRejected,
    ServerError,
    Throttled,
)

JSON = {"Content-Type": "application/json; charset=utf-8"}
WWW_AUTH = {**JSON, "WWW-Authenticate": 'Bearer realm="canvas-lms"'}
TEXT = {"Content-Type": "text/plain; charset=utf-8"}

# Saved answers, verbatim as docs/canvas-behaviour.md gives them.
TAKEN = (
    b'{"errors": {"user": {"pseudonyms": [{"attribute":"pseudonyms","type":"invalid",'
    b'"message":"invalid"}]}, "pseudonym": {"unique_id": [{"attribute":"unique_id",'
    b'"type":"taken","message":"ID already in use for this account and authentication '
    b'provider"}]}, "observee": {}, "pairing_code": {}, "recaptcha": null}}'
)
UNAUTHORIZED = (
    b'{"status":"unauthorized","errors":[{"message":"user not authorized to perform that action"}]}'
)
INVALID_TOKEN = b'{"errors":[{"message":"Invalid access token."}]}'
NOT_FOUND = b'{"errors":[{"message":"The specified resource does not exist."}]}'
SEARCH_SHORT = (
    b'{"errors":[{"field":"search_term","code":"invalid",'
    b'"message":"2 or more characters is required"}]}'
)
INTERNAL = (
    b'{"errors":[{"message":"An error occurred.","error_code":"internal_server_error"}],'
    b'"error_report_id":123}'
)
RATE_403 = b"403 Forbidden (Rate Limit Exceeded)\n"


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("S-1001", "S-1001"),
        ("ana.perez@example.org", "ana%2Eperez%40example%2Eorg"),
        ("CS/101.11é", "CS%2F101%2E11%C3%A9"),  # the object_ids doc example
        ("a+b c", "a%2Bb%20c"),
        ("..", "%2E%2E"),
        ("x:y?z#w", "x%3Ay%3Fz%23w"),
        ("Zoë_~", "Zo%C3%AB_~"),
    ],
)
def test_escape_id_value(value: str, escaped: str) -> None:
    """Id values are URI-escaped with `.`, `/`, `@`, `+` and non-ASCII all percent-encoded."""
    assert protocol.escape_id_value(value) == escaped


@pytest.mark.parametrize(
    ("value", "ref"),
    [
        (42, "42"),
        ("self", "self"),
        ("17", "17"),
        ("sis_login_id:x@y.org", "sis_login_id:x%40y%2Eorg"),
        ("sis_user_id:A/1", "sis_user_id:A%2F1"),
        ("sis_account_id:district.1", "sis_account_id:district%2E1"),
    ],
)
def test_object_ref(value: int | str, ref: str) -> None:
    """Ready id forms keep their prefix and get only their value escaped."""
    assert protocol.object_ref(value) == ref


@pytest.mark.parametrize("value", [0, -3, "", "bogus:x", "sis_user_id:", "x@y.org", "../admin"])
def test_object_ref_refuses_non_ids(value: int | str) -> None:
    """Anything that is not a Canvas id form is refused before it can reach a URL."""
    with pytest.raises(ValueError, match="Canvas id"):
        protocol.object_ref(value)


def test_flatten_form_nests_like_rails() -> None:
    """Nested mappings become `a[b]`, lists `a[]`, booleans true/false, None is dropped."""
    pairs = protocol.flatten_form(
        {
            "user": {"name": "Ana", "sortable_name": None},
            "ok": False,
            "ids": [1, 2],
            "a": {"b": {"c": True}},
        }
    )
    assert pairs == (
        ("user[name]", "Ana"),
        ("ok", "false"),
        ("ids[]", "1"),
        ("ids[]", "2"),
        ("a[b][c]", "true"),
    )


@pytest.mark.parametrize(
    ("request_", "method", "target", "replay_safe"),
    [
        (protocol.get_self(), "GET", "/api/v1/users/self", True),
        (protocol.get_user(5), "GET", "/api/v1/users/5", True),
        (protocol.get_user_by_sis_id("S.1/2"), "GET", "/api/v1/users/sis_user_id:S%2E1%2F2", True),
        (
            protocol.get_user_by_login(" Ana+1@X.org "),
            "GET",
            "/api/v1/users/sis_login_id:Ana%2B1%40X%2Eorg",
            True,
        ),
        (
            protocol.search_users("ana p"),
            "GET",
            "/api/v1/accounts/self/users?search_term=ana+p&include%5B%5D=email&per_page=100",
            True,
        ),
        (protocol.create_pairing_code(7), "POST", "/api/v1/users/7/observer_pairing_codes", True),
        (protocol.add_observee_with_code(3, "aB3xZ9"), "POST", "/api/v1/users/3/observees", False),
        (protocol.add_observee(3, 7), "PUT", "/api/v1/users/3/observees/7", True),
        (
            protocol.list_observees("sis_login_id:p@x.org"),
            "GET",
            "/api/v1/users/sis_login_id:p%40x%2Eorg/observees?include%5B%5D=email&per_page=100",
            True,
        ),
        (
            protocol.list_observers(7),
            "GET",
            "/api/v1/users/7/observers?include%5B%5D=email&per_page=100",
            True,
        ),
        (protocol.remove_observee(3, 7), "DELETE", "/api/v1/users/3/observees/7", True),
    ],
)
def test_request_builders(
    request_: protocol.Request, method: str, target: str, replay_safe: bool
) -> None:
    """Each operation has its Canvas method and escaped path; only the code POST is unsafe."""
    assert (request_.method, request_.target, request_.replay_safe) == (
        method,
        target,
        replay_safe,
    )


def test_add_observee_with_code_sends_the_code_in_the_form() -> None:
    """The pairing code travels as the `pairing_code` form field, case kept."""
    assert protocol.add_observee_with_code(3, "aB3xZ9").body() == b"pairing_code=aB3xZ9"


def test_create_user_with_registration_email() -> None:
    """A create asks Canvas for the self-registration email and never skips confirmation."""
    request = protocol.create_user(name="Pat Doe", login_id="pat@x.org", sortable_name="Doe, Pat")
    assert (request.method, request.target, request.replay_safe) == (
        "POST",
        "/api/v1/accounts/self/users",
        False,
    )
    assert dict(request.form) == {
        "user[name]": "Pat Doe",
        "user[sortable_name]": "Doe, Pat",
        "pseudonym[unique_id]": "pat@x.org",
        "pseudonym[force_self_registration]": "true",
        "communication_channel[type]": "email",
        "communication_channel[address]": "pat@x.org",
    }
    assert request.body() is not None and b"user%5Bname%5D=Pat+Doe" in (request.body() or b"")


def test_create_user_without_registration_email() -> None:
    """Without registration the channel is confirmed silently and no self-registration is set."""
    form = dict(
        protocol.create_user(name="Pat", login_id="pat@x.org", send_registration=False).form
    )
    assert form["communication_channel[skip_confirmation]"] == "true"
    assert "pseudonym[force_self_registration]" not in form
    assert "user[sortable_name]" not in form


def test_create_user_bound_to_a_provider_and_the_providers_list() -> None:
    """`pseudonym[authentication_provider_id]` carries the chosen provider (a type or an id),
    and is left out without one; the providers are read with one GET."""
    bound = dict(
        protocol.create_user(
            name="Pat", login_id="pat@x.org", authentication_provider="canvas"
        ).form
    )
    assert bound["pseudonym[authentication_provider_id]"] == "canvas"
    unbound = dict(protocol.create_user(name="Pat", login_id="pat@x.org").form)
    assert "pseudonym[authentication_provider_id]" not in unbound
    listing = protocol.list_authentication_providers()
    assert (listing.method, listing.target) == (
        "GET",
        "/api/v1/accounts/self/authentication_providers",
    )


@pytest.mark.parametrize("term", ["", "   "])
def test_a_blank_search_term_is_never_sent(term: str) -> None:
    """Canvas lists every user for a blank or spaces-only term, so none is built."""
    with pytest.raises(ValueError, match="blank"):
        protocol.search_users(term)


def test_decipher_success_returns_data_next_link_and_rate() -> None:
    """A 200 gives the JSON, the next page URL and the throttle headers."""
    headers = {
        **JSON,
        "Link": '<https://c.test/api/v1/x?page=1&per_page=10>; rel="current",'
        '<https://c.test/api/v1/x?page=2&per_page=10>; rel="next",'
        '<https://c.test/api/v1/x?page=1&per_page=10>; rel="first"',
        "X-Rate-Limit-Remaining": "599.95",
        "X-Request-Cost": "0.05",
    }
    answer = protocol.decipher("GET", "/api/v1/x", 200, headers, b'[{"id": 1, "name": "A"}]')
    assert answer.data == [{"id": 1, "name": "A"}]
    assert answer.next_url == "https://c.test/api/v1/x?page=2&per_page=10"
    assert answer.rate == protocol.RateInfo(remaining=599.95, cost=0.05)


def test_decipher_success_with_empty_body() -> None:
    """An empty 2xx body is None, not an error."""
    assert protocol.decipher("DELETE", "/p", 204, {}, b"").data is None


def test_decipher_success_that_is_not_json() -> None:
    """A 200 with HTML (a login page, a proxy) is an error, never silently empty data."""
    with pytest.raises(CanvasError, match="not JSON"):
        protocol.decipher("GET", "/p", 200, {"Content-Type": "text/html"}, b"<html>")


@pytest.mark.parametrize(
    ("status", "headers", "body", "error", "message"),
    [
        (401, WWW_AUTH, INVALID_TOKEN, InvalidToken, "Invalid access token."),
        (401, WWW_AUTH, b'{"errors":[{"message":"Expired access token."}]}', InvalidToken, None),
        (401, JSON, UNAUTHORIZED, NotAllowed, "user not authorized to perform that action"),
        (403, JSON, UNAUTHORIZED, NotAllowed, "user not authorized to perform that action"),
        (403, JSON, b"{}", NotAllowed, None),
        (
            401,
            JSON,
            b'{"errors":[{"message":"Insufficient scopes on access token."}]}',
            NotAllowed,
            "Insufficient scopes on access token.",
        ),
        (401, JSON, b'{"errors":"Invalid as_user_id"}', NotAllowed, "Invalid as_user_id"),
        (403, {**TEXT, "X-Rate-Limit-Remaining": "0.0"}, RATE_403, Throttled, None),
        (429, JSON, b'{"errors":[{"message":"Rate Limit Exceeded"}]}', Throttled, None),
        (429, {}, b"", Throttled, None),
        (404, JSON, NOT_FOUND, NotFound, "The specified resource does not exist."),
        (404, JSON, b'{"id": 9, "name": "Deleted"}', NotFound, None),
        (400, JSON, TAKEN, RequestRejected, None),
        (400, JSON, SEARCH_SHORT, RequestRejected, "2 or more characters is required"),
        (
            422,
            JSON,
            b'{"errors":[{"message":"Invalid pairing code."}]}',
            RequestRejected,
            "Invalid pairing code.",
        ),
        (500, JSON, INTERNAL, ServerError, "An error occurred."),
        (502, TEXT, b"502 Bad Gateway\n", ServerError, None),
        (503, {}, b"", ServerError, None),
        (302, {"Location": "https://c.test/login"}, b"", ConfigurationError, None),
    ],
)
def test_decipher_errors(
    status: int,
    headers: dict[str, str],
    body: bytes,
    error: type[CanvasError],
    message: str | None,
) -> None:
    """Each Canvas error answer maps to exactly one error type carrying method, path, status."""
    with pytest.raises(CanvasError) as caught:
        protocol.decipher("POST", "/api/v1/users/5/observees", status, headers, body)
    assert type(caught.value) is error
    assert (caught.value.method, caught.value.path, caught.value.status) == (
        "POST",
        "/api/v1/users/5/observees",
        status,
    )
    if message is not None:
        assert caught.value.message == message


def test_taken_login_is_readable() -> None:
    """The duplicate-login 400 exposes its `taken` type and message from the nested body."""
    with pytest.raises(RequestRejected) as caught:
        protocol.decipher("POST", "/api/v1/accounts/self/users", 400, JSON, TAKEN)
    assert "taken" in caught.value.error_types()
    assert "ID already in use for this account and authentication provider" in caught.value.messages


def test_permission_403_with_rate_words_in_json_is_not_throttled() -> None:
    """Only the plain-text body means throttled; a JSON 403 is a permission refusal."""
    body = b'{"errors":[{"message":"Rate Limit Exceeded on something else"}]}'
    with pytest.raises(NotAllowed):
        protocol.decipher("GET", "/p", 403, JSON, body)


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (None, None),
        ('<https://c.test/a?page=1>; rel="current", <https://c.test/a?page=1>; rel="first"', None),
        ('<https://c.test/a?page=2>; rel="next"', "https://c.test/a?page=2"),
        ("<https://c.test/a?page=2>; rel=next", "https://c.test/a?page=2"),
        (
            '<https://c.test/a?page=bookmark:WyJ4IiwxXQ>; REL="prev next"',
            "https://c.test/a?page=bookmark:WyJ4IiwxXQ",
        ),
        (
            '<https://c.test/a?p=1>; rel="prev",<https://c.test/a?p=3>; rel="next",'
            '<https://c.test/a?p=9>; rel="last"',
            "https://c.test/a?p=3",
        ),
    ],
)
def test_next_link(link: str | None, expected: str | None) -> None:
    """Only rel="next" is followed; its absence means the last page."""
    headers = {} if link is None else {"link": link}
    assert protocol.next_link(headers) == expected


@pytest.mark.parametrize(
    ("headers", "rate"),
    [
        ({}, protocol.RateInfo(None, None)),
        ({"X-Rate-Limit-Remaining": "600.0"}, protocol.RateInfo(600.0, None)),
        (
            {"x-rate-limit-remaining": "12.5", "x-request-cost": "0.31"},
            protocol.RateInfo(12.5, 0.31),
        ),
        ({"X-Rate-Limit-Remaining": "n/a", "X-Request-Cost": "nan"}, protocol.RateInfo(None, None)),
    ],
)
def test_rate_info(headers: dict[str, str], rate: protocol.RateInfo) -> None:
    """Throttle headers become numbers; missing or unreadable ones are None."""
    assert protocol.rate_info(headers) == rate


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("3", 3.0),
        ("-2", 0.0),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("soon", None),
    ],
)
def test_retry_after(value: str | None, seconds: float | None) -> None:
    """Retry-After is read as seconds or as an HTTP date relative to `now`."""
    headers = {} if value is None else {"Retry-After": value}
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert protocol.retry_after(headers, now=now) == seconds


def test_408_is_a_temporary_failure() -> None:
    """A proxy's 408 is retried like a 5xx (and is OutcomeUnknown for a POST), not a refusal."""
    with pytest.raises(ServerError):
        protocol.decipher("GET", "/api/v1/users/1", 408, {}, b"")


def test_a_redirect_is_a_configuration_error_naming_where() -> None:
    """A 301 is never followed: the user is told to use the URL it points to (query dropped)."""
    headers = {"Location": "https://new.example.edu/api/v1/users/self?access_token=x"}
    with pytest.raises(
        ConfigurationError, match=re.escape("https://new.example.edu/api/v1/users/self;")
    ):
        protocol.decipher("GET", "/api/v1/users/self", 301, headers, b"")


def test_a_login_edit_sends_the_sis_id_only_when_given() -> None:
    """login[sis_user_id] goes in the same form as login[unique_id] when given, and an empty
    one is refused before sending (Canvas would take it as "remove the SIS id")."""
    plain = protocol_identity.update_login(5, "new@home.test")
    assert plain.form == (("login[unique_id]", "new@home.test"),)
    both = protocol_identity.update_login(5, "new@home.test", sis_user_id="new@home.test")
    assert both.form == (
        ("login[unique_id]", "new@home.test"),
        ("login[sis_user_id]", "new@home.test"),
    )
    assert (both.method, both.path) == ("PUT", "/api/v1/accounts/self/logins/5")
    with pytest.raises(ValueError, match="SIS id"):
        protocol_identity.update_login(5, "new@home.test", sis_user_id=" ")


def test_a_refused_field_is_told_by_its_attribute() -> None:
    """error_types(attribute) keeps the errors on that attribute only: a taken SIS id is not
    a taken login."""
    body = (
        b'{"errors": {"sis_user_id": [{"attribute": "sis_user_id", "type": "taken", '
        b'"message": "SIS ID \\"x\\" is already in use"}]}}'
    )
    with pytest.raises(RequestRejected) as caught:
        protocol.decipher("PUT", "/api/v1/accounts/self/logins/5", 400, JSON, body)
    assert caught.value.error_types() == {"taken"}
    assert caught.value.error_types("sis_user_id") == {"taken"}
    assert caught.value.error_types("unique_id") == set()
