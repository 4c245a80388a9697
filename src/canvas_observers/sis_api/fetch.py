"""`fetch_bundle`: read the users of a OneRoster 1.1/1.2 API into a CSV bundle folder.

The folder is the run's snapshot of what was fetched; ``roster.sources.read_source(dest,
format="oneroster")`` reads it like any export, so the API gives the same rows as the
equivalent bundle. A fetch that did not complete raises ``SisApiError`` and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from canvas_observers.sis_api.config import ApiConfig, Endpoints, resolve
from canvas_observers.sis_api.errors import ProviderError
from canvas_observers.sis_api.mapping import (
    ROLES_12,
    USERS_11,
    USERS_12,
    MappedUser,
    Where,
    map_user,
)
from canvas_observers.sis_api.paging import Pager, total_count
from canvas_observers.sis_api.session import ApiSession
from canvas_observers.sis_api.snapshot import (
    CsvFile,
    check_destination,
    manifest_rows,
    write_snapshot,
)

Progress = Callable[[str, int, int | None], None]
"""Called after each page: (collection, records fetched so far, X-Total-Count or None)."""


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What a completed fetch wrote: the bundle folder and its counts."""

    dest: Path
    version: str
    users: int
    roles: int
    pages: int
    requests: int
    started: str
    finished: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def fetch_collection(
    session: ApiSession,
    endpoints: Endpoints,
    name: str,
    *,
    limit: int,
    progress: Progress | None = None,
) -> tuple[list[MappedUser], Pager]:
    """Every record of a users collection, mapped; SisApiError when it did not complete."""
    pager = Pager(collection=name, limit=limit)
    url: httpx.URL | None = endpoints.collection(name).copy_merge_params(
        {"limit": str(limit), "offset": "0"}
    )
    records: list[MappedUser] = []
    seen: set[str] = set()
    while url is not None:
        session.check_origin(url)
        page = await session.get(url)
        offset = pager.offset
        items = page.data.get(name) if isinstance(page.data, dict) else None
        if not isinstance(items, list):
            raise ProviderError(
                f"{name}: the page at offset {offset} has no {name!r} list; the fetch stopped "
                "and nothing was written",
                path=page.url.path,
            )
        mapped = [
            map_user(item, endpoints.version, Where(name, offset, i))
            for i, item in enumerate(items)
        ]
        ids = tuple(m.user["sourcedId"] for m in mapped)
        again = seen.intersection(ids)
        if again and ids != pager.last_ids:  # the same page twice is the pager's error
            raise ProviderError(
                f"{name}: the record {sorted(again)[0]!r} came again at offset {offset}: the "
                "collection changed while it was read, so a record may have been skipped; "
                "the fetch stopped and nothing was written (run again)",
                path=page.url.path,
            )
        seen.update(ids)
        url = pager.after(page.url, ids, total_count(page.headers), page.next_link)
        records.extend(mapped)
        if progress is not None:
            progress(name, pager.fetched, pager.total)
    return records, pager


async def fetch_bundle(
    config: ApiConfig,
    dest: Path,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    progress: Progress | None = None,
) -> FetchResult:
    """Fetch the users (and, for 1.2, their roles) and write them as the bundle ``dest``.

    Raises ``SisApiError`` (ConfigError, CredentialsRefused, UnsafeUrl, MalformedRecord,
    ProviderError) before anything is written when the fetch does not complete.
    """
    endpoints = resolve(config)
    check_destination(dest)
    started = _now()
    async with httpx.AsyncClient(transport=transport, follow_redirects=False) as http:
        session = ApiSession(http, config, endpoints)
        users, pager = await fetch_collection(
            session, endpoints, "users", limit=config.page_size, progress=progress
        )
    finished = _now()
    roles = [role for user in users for role in user.roles]
    files: dict[str, CsvFile] = {}
    if endpoints.version == "1.1":
        files["users.csv"] = CsvFile(USERS_11, (u.user for u in users))
    else:
        files["users.csv"] = CsvFile(USERS_12, (u.user for u in users))
        files["roles.csv"] = CsvFile(ROLES_12, roles)
    files["manifest.csv"] = CsvFile(
        ("propertyName", "value"), manifest_rows(endpoints.version, files)
    )
    info: dict[str, Any] = {
        "url": str(endpoints.base.copy_with(query=None)),
        "token_url": str(endpoints.token_url.copy_with(query=None)),
        "client_id": config.client_id,
        "version": endpoints.version,
        "counts": {"users": len(users), "roles": len(roles)},
        "total_count": pager.total,
        "pages": pager.pages,
        "requests": session.requests,
        "retries": session.retries,
        "started": started,
        "finished": finished,
    }
    write_snapshot(dest, files, info)
    return FetchResult(
        dest=dest,
        version=endpoints.version,
        users=len(users),
        roles=len(roles),
        pages=pager.pages,
        requests=session.requests,
        started=started,
        finished=finished,
    )
