"""The reference "article" process school admins already use, as a school admin's script does it.

For each roster row, one call after another, with plain httpx:

1. search the student (``GET /accounts/self/users?search_term=<id>``, every page) and keep only
   the exact match (SIS id, or login/email when the id has an ``@``): Canvas search is a
   substring search [docs/canvas-behaviour.md, "Listing users and search"];
2. search the guardian by email the same way (exact login or email only);
3. if the guardian exists, list their observees; the row is done if the student is there;
4. ask a pairing code for the student (401/403: not enrolled, the row is skipped) ["Pairing
   codes"];
5. if the guardian has no account, create it with ``pseudonym[force_self_registration]``
   ["Creating users"];
6. pair with the code (``POST /users/:observer/observees``) ["Observer links"].

It is deliberately the naive process, not a strawman: per_page=100, exact matching, and rows
with an empty field or an email without ``@`` are skipped rather than sent. A throttled or any
other unexpected answer fails the row (such scripts do not retry).

``--mode serial`` runs the rows one at a time (optionally only the first ``--limit`` rows);
``--mode gather`` starts every row at once with ``asyncio.gather`` and no limit. The result is
written as JSON to ``--out`` for ``bench.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

FIELDS = ("student_id", "observer_email", "observer_first_name", "observer_last_name")


class RowFailed(Exception):
    """An answer the script did not expect (throttled, 5xx, ...): the row fails."""


class Article:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.throttled = 0
        self.requests = 0

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; `path` is under /api/v1, or a full URL (a pagination link)."""
        self.requests += 1
        url = path if path.startswith("http") else f"/api/v1{path}"
        response = await self.http.request(method, url, **kwargs)
        if response.status_code == 429 or b"Rate Limit Exceeded" in response.content[:200]:
            self.throttled += 1
        return response

    async def get_all(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        response = await self.call("GET", path, params={**params, "per_page": 100})
        while True:
            if response.status_code != 200:
                raise RowFailed(f"GET {path} -> {response.status_code}")
            items.extend(response.json())
            link = response.links.get("next", {}).get("url")
            if not link:
                return items
            response = await self.call("GET", link)

    async def search(self, term: str) -> list[dict[str, Any]]:
        return await self.get_all(
            "/accounts/self/users", {"search_term": term, "include[]": "email"}
        )

    async def row(self, row: dict[str, str]) -> str:
        sid, email = row["student_id"].strip(), row["observer_email"].strip()
        first, last = row["observer_first_name"].strip(), row["observer_last_name"].strip()
        if not (sid and email and first and last) or "@" not in email or " " in email:
            return "invalid_row"
        # 1. the student, exact match only
        if "@" in sid:
            students = [
                u for u in await self.search(sid) if sid.lower() in _logins(u)
            ]  # login or email
        else:
            students = [u for u in await self.search(sid) if u.get("sis_user_id") == sid]
        if len(students) != 1:
            return "student_not_found" if not students else "student_ambiguous"
        student = students[0]
        # 2. the guardian, exact match only
        guardians = [u for u in await self.search(email) if email.lower() in _logins(u)]
        if len(guardians) > 1:
            return "observer_ambiguous"
        guardian = guardians[0] if guardians else None
        # 3. already paired?
        if guardian is not None:
            observees = await self.get_all(f"/users/{guardian['id']}/observees", {})
            if any(o["id"] == student["id"] for o in observees):
                return "already_paired"
        # 4. a pairing code
        r = await self.call("POST", f"/users/{student['id']}/observer_pairing_codes")
        if r.status_code in (401, 403) and b"Rate Limit" not in r.content[:200]:
            return "not_enrolled"
        if r.status_code != 200:
            raise RowFailed(f"pairing code -> {r.status_code}")
        code = r.json()["code"]
        # 5. create the guardian's account
        outcome = "paired"
        if guardian is None:
            form = {
                "user[name]": f"{first} {last}",
                "pseudonym[unique_id]": email,
                "pseudonym[force_self_registration]": "true",
            }
            r = await self.call("POST", "/accounts/self/users", data=form)
            if r.status_code != 200:
                raise RowFailed(f"create user -> {r.status_code}")
            guardian, outcome = r.json(), "created"
        # 6. pair with the code
        r = await self.call(
            "POST", f"/users/{guardian['id']}/observees", data={"pairing_code": code}
        )
        if r.status_code != 200:
            raise RowFailed(f"pair -> {r.status_code}")
        return outcome


def _logins(user: dict[str, Any]) -> set[str]:
    return {str(user[k]).lower() for k in ("login_id", "email") if user.get(k)}


async def run(url: str, token: str, rows: list[dict[str, str]], mode: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30.0) as http:
        article = Article(http)
        errors: Counter[str] = Counter()

        async def one(row: dict[str, str]) -> str:
            try:
                return await article.row(row)
            except (RowFailed, httpx.HTTPError) as error:
                errors[str(error) or type(error).__name__] += 1
                return "failed"

        started = time.perf_counter()
        if mode == "serial":
            outcomes = [await one(row) for row in rows]
        else:
            outcomes = list(await asyncio.gather(*(one(row) for row in rows)))
        elapsed = time.perf_counter() - started
    return {
        "mode": mode,
        "rows_run": len(rows),
        "elapsed_s": elapsed,
        "outcomes": dict(Counter(outcomes)),
        "failed": outcomes.count("failed"),
        "throttled": article.throttled,
        "requests": article.requests,
        "errors": dict(errors.most_common(5)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roster", type=Path)
    parser.add_argument("--url", default=os.environ.get("CANVAS_URL", "http://127.0.0.1:8900"))
    parser.add_argument("--mode", choices=("serial", "gather"), default="serial")
    parser.add_argument("--limit", type=int, default=0, help="serial: only the first N rows")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    with args.roster.open(encoding="utf-8-sig", newline="") as f:
        rows = [{k: r.get(k) or "" for k in FIELDS} for r in csv.DictReader(f)]
    if args.limit:
        rows = rows[: args.limit]
    token = os.environ.get("CANVAS_TOKEN", "")
    result = asyncio.run(run(args.url, token, rows, args.mode))
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
