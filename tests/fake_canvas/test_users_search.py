"""GET /api/v1/accounts/:id/users: search, include[]=email, paging (docs/canvas-behaviour.md)."""

from __future__ import annotations

import re

import httpx
import pytest

from canvas_observers.fake_canvas import FakeCanvas

USERS = "/api/v1/accounts/self/users"


def links(response: httpx.Response) -> dict[str, str]:
    """Parse a Link header into {rel: url}."""
    return {
        rel: url for url, rel in re.findall(r'<([^>]+)>; rel="([a-z]+)"', response.headers["link"])
    }


async def test_numeric_search_is_a_substring_trap(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """Searching "100" returns the student with SIS id 100 and the one with 1001 alike."""
    a = fake.state.add_user("Ana Uno", login_id="ana", sis_user_id="100")
    b = fake.state.add_user("Ben Dos", login_id="ben", sis_user_id="1001")
    fake.state.add_user("Cy Tres", login_id="cy", sis_user_id="200")
    response = await api.get(USERS, params={"search_term": "100"})
    assert response.status_code == 200
    assert sorted(u["id"] for u in response.json()) == sorted([a, b])
    assert {u["sis_user_id"] for u in response.json()} == {"100", "1001"}


async def test_all_digit_term_also_matches_the_canvas_id(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """An all-digit term is unioned with the exact Canvas id, whatever the name says."""
    ids = [fake.state.add_user(f"Student {chr(65 + i)}") for i in range(12)]
    assert 12 in ids
    response = await api.get(USERS, params={"search_term": "12"})
    assert [u["id"] for u in response.json()] == [12]


@pytest.mark.parametrize("term", ["a", "7", " b "])
async def test_one_character_term_is_a_400(api: httpx.AsyncClient, term: str) -> None:
    """Terms shorter than 2 characters (after strip, digits too) get the documented 400 body."""
    response = await api.get(USERS, params={"search_term": term})
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "field": "search_term",
                "code": "invalid",
                "message": "2 or more characters is required",
            }
        ]
    }


async def test_two_characters_are_enough(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """A 2-character term is accepted."""
    uid = fake.state.add_user("Bo Li")
    response = await api.get(USERS, params={"search_term": "li"})
    assert response.status_code == 200
    assert [u["id"] for u in response.json()] == [uid]


@pytest.mark.parametrize("term", ["", "   "])
async def test_blank_or_spaces_only_term_lists_users_unfiltered(
    fake: FakeCanvas, api: httpx.AsyncClient, term: str
) -> None:
    """A blank or spaces-only term is no search (`search_term.present?` is false): the users
    are listed as without the parameter, not [] and not a 400."""
    uid = fake.state.add_user("Someone Here")
    response = await api.get(USERS, params={"search_term": term})
    assert response.status_code == 200
    assert [u["id"] for u in response.json()] == [fake.state.admin_id, uid]


@pytest.mark.parametrize("term", ["MARÍA", "m.lopez", "x-77", "@HOME.example"])
async def test_search_is_case_insensitive_over_name_login_sis_and_email(
    fake: FakeCanvas, api: httpx.AsyncClient, term: str
) -> None:
    """Name, login id, SIS id and email are matched as case-insensitive substrings."""
    uid = fake.state.add_user(
        "María López", login_id="m.lopez", sis_user_id="X-77", email="maria@home.example.org"
    )
    fake.state.add_user("Other Person", login_id="other", sis_user_id="Y-1", email="o@x.org")
    response = await api.get(USERS, params={"search_term": term})
    assert [u["id"] for u in response.json()] == [uid]


async def test_like_wildcards_match_literally(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """`%` and `_` in a term are escaped by Canvas, so they only match themselves."""
    fake.state.add_user("axb person")
    literal = fake.state.add_user("a_b person")
    response = await api.get(USERS, params={"search_term": "a_b"})
    assert [u["id"] for u in response.json()] == [literal]


async def test_email_only_with_include(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """The email field appears only with include[]=email; SIS and login fields always do."""
    fake.state.add_user("Eve Mail", login_id="eve", sis_user_id="E1", email="eve@x.org")
    plain = (await api.get(USERS, params={"search_term": "eve"})).json()[0]
    assert "email" not in plain
    assert plain["login_id"] == "eve"
    assert plain["sis_user_id"] == "E1"
    assert set(plain) >= {"id", "name", "created_at", "sortable_name", "short_name"}
    assert plain["integration_id"] is None
    with_email = (await api.get(USERS, params={"search_term": "eve", "include[]": "email"})).json()[
        0
    ]
    assert with_email["email"] == "eve@x.org"


async def test_results_sorted_by_sortable_name_then_id(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """Results come in sortable-name order, ties broken by id."""
    c = fake.state.add_user("Zed Adams")
    d = fake.state.add_user("Zed Adams")
    a = fake.state.add_user("Amy Adams")
    b = fake.state.add_user("Bob Adamson")
    fake.state.add_user("Zed Other")
    response = await api.get(USERS, params={"search_term": "adams"})
    assert [u["id"] for u in response.json()] == [a, c, d, b]
    assert response.json()[0]["sortable_name"] == "Adams, Amy"


async def test_link_header_on_first_middle_and_last_page(
    fake: FakeCanvas, api: httpx.AsyncClient
) -> None:
    """Pages carry current/next/prev/first as absolute URLs keeping params, never rel="last"."""
    for i in range(25):
        fake.state.add_user(f"Pupil {i:02d}", login_id=f"pupil{i}")
    params = {"search_term": "pupil", "include[]": "email"}
    first = await api.get(USERS, params=params)
    assert len(first.json()) == 10
    rels = links(first)
    assert set(rels) == {"current", "next", "first"}
    assert rels["next"].startswith("http://127.0.0.1/api/v1/accounts/self/users?")
    assert "search_term=pupil" in rels["next"]
    assert "include%5B%5D=email" in rels["next"]
    assert "page=2" in rels["next"]
    assert "per_page=10" in rels["next"]

    middle = await api.get(rels["next"])
    assert len(middle.json()) == 10
    assert set(links(middle)) == {"current", "next", "prev", "first"}

    last = await api.get(links(middle)["next"])
    assert len(last.json()) == 5
    assert set(links(last)) == {"current", "prev", "first"}
    seen = [u["id"] for page in (first, middle, last) for u in page.json()]
    assert len(set(seen)) == 25


async def test_link_drops_access_token(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """Link URLs strip access_token, as Api.build_links_hash does."""
    for i in range(3):
        fake.state.add_user(f"Tok {i}")
    token = fake.config.admin_token
    response = await api.get(
        USERS, params={"search_term": "tok", "per_page": "1", "access_token": token}
    )
    assert "access_token" not in response.headers["link"]


@pytest.mark.parametrize(("asked", "got"), [("500", 100), ("0", 1), ("junk", 1), ("3", 3)])
async def test_per_page_is_clamped(
    fake: FakeCanvas, api: httpx.AsyncClient, asked: str, got: int
) -> None:
    """per_page is clamped to 1..100 silently."""
    for i in range(120):
        fake.state.add_user(f"Many {i}")
    response = await api.get(USERS, params={"search_term": "many", "per_page": asked})
    assert response.status_code == 200
    assert len(response.json()) == got


async def test_past_the_end_is_an_empty_page(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """A page beyond the end answers 200 with []."""
    fake.state.add_user("Only One")
    response = await api.get(USERS, params={"search_term": "only", "page": "9"})
    assert response.status_code == 200
    assert response.json() == []


async def test_no_search_lists_active_users(fake: FakeCanvas, api: httpx.AsyncClient) -> None:
    """Without a term every active user is listed (the admin too), deleted ones are not."""
    keep = fake.state.add_user("Kept User")
    gone = fake.state.add_user("Gone User")
    fake.state.delete_user(gone)
    ids = [u["id"] for u in (await api.get(USERS)).json()]
    assert keep in ids
    assert fake.state.admin_id in ids
    assert gone not in ids


async def test_unknown_account_is_404(api: httpx.AsyncClient) -> None:
    """An account other than self/1 is not found."""
    response = await api.get("/api/v1/accounts/99/users")
    assert response.status_code == 404
    assert response.json() == {"errors": [{"message": "The specified resource does not exist."}]}


@pytest.mark.parametrize("account", ["self", "1"])
async def test_show_account(api: httpx.AsyncClient, account: str) -> None:
    """GET /accounts/:id answers the root account for self and its numeric id."""
    response = await api.get(f"/api/v1/accounts/{account}")
    assert response.status_code == 200
    assert response.json()["id"] == 1
    assert response.json()["root_account_id"] is None
