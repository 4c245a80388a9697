"""When a OneRoster collection has been read to its end (pure; no I/O).

The REST bindings page with ``limit`` and ``offset``; a provider may send ``X-Total-Count``
(the collection's size) and a ``Link`` header with ``rel="next"`` (1EdTech OneRoster 1.1 REST
binding, its "Pagination" section; the 1.2 binding keeps the same parameters). The rules, in order:

* a ``next`` link is followed (the session refuses one to another origin);
* with ``X-Total-Count``, the collection ends when that many records were read; ending short
  of it, or getting records past it, is an error;
* otherwise it ends at an empty page only: a short page may just be a provider that caps
  ``limit`` below what was asked without saying so, and taking it for the end would give a
  partial roster (one request more per collection is the price);
* whatever the provider says, a page identical to the one before, a ``next`` link back to a
  page already read, or more than ``MAX_PAGES`` pages is an error, never an endless loop.

The next offset is the previous one plus the records received, so a provider that caps
``limit`` below what was asked loses nothing when it sends ``X-Total-Count`` or links.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from canvas_observers.sis_api.errors import ProviderError

MAX_PAGES = 10_000  # a million users at 100 a page: far past any district


def total_count(headers: httpx.Headers) -> int | None:
    """``X-Total-Count`` as a number; None when absent or unreadable."""
    value = headers.get("x-total-count", "").strip()
    return int(value) if value.isdigit() else None


@dataclass(slots=True)
class Pager:
    """The paging of one collection: where it is, and whether it is done."""

    collection: str
    limit: int
    offset: int = 0  # of the page being read
    fetched: int = 0
    pages: int = 0
    total: int | None = None
    links: bool = False  # the provider pages with Link headers
    last_ids: tuple[str, ...] | None = None
    seen: set[str] = field(default_factory=set)

    def _stop(self, why: str) -> ProviderError:
        return ProviderError(
            f"{self.collection}: {why}; the fetch stopped and nothing was written",
            path=self.collection,
        )

    def after(
        self,
        url: httpx.URL,
        ids: tuple[str, ...],
        total: int | None,
        next_link: str | None,
    ) -> httpx.URL | None:
        """The URL of the next page, or None when the collection is complete."""
        self.pages += 1
        self.seen.add(str(url))
        count = len(ids)
        if total is not None:
            self.total = total
        if count and self.total is not None and self.fetched >= self.total:
            raise self._stop(
                f"the provider kept sending records past its X-Total-Count of {self.total} "
                f"(page at offset {self.offset})"
            )
        if count and ids == self.last_ids:
            raise self._stop(
                f"the provider sent the same page again at offset {self.offset} (endless paging)"
            )
        self.last_ids = ids
        self.fetched += count
        if self.total is not None and self.fetched > self.total:
            raise self._stop(
                f"the provider sent {self.fetched} records, more than its X-Total-Count of "
                f"{self.total}"
            )
        if self.pages >= MAX_PAGES and (count or next_link):
            raise self._stop(f"still more pages after {MAX_PAGES} pages (endless paging?)")
        self.offset += count
        nxt = self._next(url, count, next_link)
        if nxt is None and self.total is not None and self.fetched < self.total:
            raise self._stop(
                f"the collection ended after {self.fetched} records, but the provider's "
                f"X-Total-Count said {self.total}"
            )
        return nxt

    def _next(self, url: httpx.URL, count: int, next_link: str | None) -> httpx.URL | None:
        if self.total is not None and self.fetched >= self.total:
            return None  # complete, whatever a next link says (some link the last page to itself)
        if next_link:
            self.links = True
            if count == 0:
                return None
            try:
                target = url.join(next_link)
            except httpx.InvalidURL:
                raise self._stop(f"unreadable next link {next_link!r}") from None
            if str(target) in self.seen:
                raise self._stop(
                    f"the next link after offset {self.offset - count} points back to a page "
                    "already read (endless paging)"
                )
            return target
        if count == 0 or self.links:
            return None
        return url.copy_merge_params({"limit": str(self.limit), "offset": str(self.offset)})
