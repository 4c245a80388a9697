"""A OneRoster CSV bundle as the JSON users of the REST bindings (what the fake serves).

The bundle is read with the bundle reader's own helpers (``Bundle``, ``read_table``), so the
fake serves exactly the rows the reader reads: a row the reader skips (a cell count that
differs from the header's) is not served either. Cell values become JSON the other way round
from ``sis_api.mapping``: sourcedId lists become GUID references, ``{type:id}`` cells become
``userIds`` objects (a bare value, which is not in that form, is left out), 1.2 ``roles.csv``
rows become each user's ``roles``. A ``roles.csv`` row whose status is ``tobedeleted`` has no
place in the JSON (a role there has no status) and is left out.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from canvas_observers.roster.bundle import Bundle, Record, read_table
from canvas_observers.roster.links import parse_user_ids

_STRINGS = (
    "sourcedId", "status", "dateLastModified", "enabledUser", "username", "givenName",
    "familyName", "middleName", "identifier", "email", "sms", "phone", "password",
)  # fmt: skip
_STRINGS_12 = ("userMasterIdentifier",)
_PREFERRED_12 = (
    ("preferredFirstName", "preferredGivenName"),
    ("preferredMiddleName", "preferredMiddleName"),
    ("preferredLastName", "preferredFamilyName"),
)


def _refs(cell: str, kind: str, base: str, collection: str) -> list[dict[str, str]]:
    ids = [part.strip() for part in cell.split(",") if part.strip()]
    return [{"sourcedId": i, "type": kind, "href": f"{base}/{collection}/{i}"} for i in ids]


def _roles_by_user(bundle: Bundle) -> dict[str, list[Record]]:
    by_user: dict[str, list[Record]] = defaultdict(list)
    if bundle.has("roles.csv"):
        table = read_table(
            bundle, "roles.csv", encoding="utf-8", required=("userSourcedId", "role")
        )
        for rec in table.records:
            if rec.get("status").lower() != "tobedeleted":
                by_user[rec.get("userSourcedId")].append(rec)
    return by_user


def load_users(bundle_path: Path, version: str, base: str) -> list[dict[str, Any]]:
    """The users of the bundle as JSON objects of OneRoster ``version`` ("1.1" or "1.2")."""
    bundle = Bundle(bundle_path)
    users = read_table(bundle, "users.csv", encoding="utf-8", required=("sourcedId",))
    roles = _roles_by_user(bundle)
    out: list[dict[str, Any]] = []
    for rec in users.records:
        user: dict[str, Any] = {name: rec.get(name) for name in _STRINGS}
        user["userIds"] = [
            {"type": kind, "identifier": value}
            for kind, value in parse_user_ids(rec.get("userIds"))
        ]
        user["agents"] = _refs(rec.get("agentSourcedIds"), "user", base, "users")
        user["grades"] = [g.strip() for g in rec.get("grades").split(",") if g.strip()]
        own_roles = roles.get(rec.get("sourcedId"), [])
        if version == "1.1":
            user["role"] = rec.get("role") or next(
                (r.get("role") for r in own_roles if r.get("roleType").lower() == "primary"),
                own_roles[0].get("role") if own_roles else "",
            )
            user["orgs"] = _refs(rec.get("orgSourcedIds"), "org", base, "orgs")
        else:
            for name in _STRINGS_12:
                user[name] = rec.get(name)
            for json_name, column in _PREFERRED_12:
                user[json_name] = rec.get(column)
            primary = rec.get("primaryOrgSourcedId")
            user["primaryOrg"] = _refs(primary, "org", base, "orgs")[0] if primary else None
            entries = [
                {
                    "roleType": r.get("roleType") or "primary",
                    "role": r.get("role"),
                    "org": _refs(r.get("orgSourcedId"), "org", base, "orgs")[0]
                    if r.get("orgSourcedId")
                    else None,
                    "beginDate": r.get("beginDate") or None,
                    "endDate": r.get("endDate") or None,
                }
                for r in own_roles
            ]
            if not entries and rec.get("role"):
                entries = [{"roleType": "primary", "role": rec.get("role"), "org": None}]
            user["roles"] = entries
        out.append(user)
    return out
