"""The paging rules, without HTTP: when a collection is complete, and when it never ends."""

from __future__ import annotations

import httpx
import pytest

from canvas_observers.sis_api import ProviderError, paging
from canvas_observers.sis_api.paging import Pager

URL = httpx.URL("https://sis.example/ims/oneroster/v1p1/users?limit=3&offset=0")


def ids(start: int, count: int) -> tuple[str, ...]:
    return tuple(f"u{n}" for n in range(start, start + count))


def test_only_an_empty_page_ends_without_total_or_links() -> None:
    """No X-Total-Count, no Link: a short page is read past (the provider may cap limit
    silently); the empty page after it is the end."""
    pager = Pager("users", limit=3)
    nxt = pager.after(URL, ids(0, 3), None, None)
    assert nxt is not None and nxt.params["offset"] == "3"
    nxt = pager.after(nxt, ids(3, 1), None, None)
    assert nxt is not None and nxt.params["offset"] == "4"
    assert pager.after(nxt, (), None, None) is None
    assert pager.fetched == 4 and pager.pages == 3


def test_a_silently_capped_provider_is_read_whole() -> None:
    """A provider that serves 2 records a page when asked for 3, with no total and no links,
    is read to its empty page: every record, never a partial roster."""
    pager = Pager("users", limit=3)
    url: httpx.URL | None = URL
    start = 0
    while url is not None:
        page = ids(start, min(2, 7 - start))
        start += len(page)
        url = pager.after(url, page, None, None)
    assert pager.fetched == 7


def test_total_count_decides_over_short_pages() -> None:
    """With X-Total-Count, a provider capping the page below limit is read to the end."""
    pager = Pager("users", limit=3)
    nxt = pager.after(URL, ids(0, 2), 5, None)
    assert nxt is not None and nxt.params["offset"] == "2"
    nxt = pager.after(nxt, ids(2, 2), 5, None)
    assert nxt is not None
    assert pager.after(nxt, ids(4, 1), 5, None) is None


def test_next_link_is_followed_and_its_absence_ends() -> None:
    """A provider paging with Link rel=next: follow it; no next link means the end."""
    pager = Pager("users", limit=3)
    nxt = pager.after(URL, ids(0, 3), None, "/ims/oneroster/v1p1/users?cursor=abc")
    assert str(nxt) == "https://sis.example/ims/oneroster/v1p1/users?cursor=abc"
    assert nxt is not None
    assert pager.after(nxt, ids(3, 3), None, None) is None


def test_link_back_to_a_read_page_is_an_error() -> None:
    """A next link pointing at a page already read would loop: an error."""
    pager = Pager("users", limit=3)
    with pytest.raises(ProviderError, match="points back"):
        pager.after(URL, ids(0, 3), None, str(URL))


def test_records_past_total_count_are_an_error() -> None:
    """More records than X-Total-Count allows: an error, not a longer roster."""
    pager = Pager("users", limit=3)
    nxt = pager.after(URL, ids(0, 3), 3, None)
    assert nxt is None
    pager = Pager("users", limit=3)
    with pytest.raises(ProviderError, match="more than its X-Total-Count"):
        pager.after(URL, ids(0, 3), 2, None)


def test_page_cap_stops_a_provider_that_never_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    """New records on every page forever: stopped at MAX_PAGES."""
    monkeypatch.setattr(paging, "MAX_PAGES", 5)
    pager = Pager("users", limit=3)
    url: httpx.URL | None = URL
    with pytest.raises(ProviderError, match="after 5 pages"):
        for n in range(10):
            assert url is not None
            url = pager.after(url, ids(3 * n, 3), None, None)
    assert pager.pages == 5


def test_a_last_page_linking_to_itself_ends_at_the_total() -> None:
    """With X-Total-Count reached, a next link back to the same page is not followed."""
    pager = Pager("users", limit=3)
    assert pager.after(URL, ids(0, 3), 3, str(URL)) is None
    assert pager.fetched == 3
