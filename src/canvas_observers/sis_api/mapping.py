"""JSON users of the OneRoster REST bindings -> rows of the OneRoster CSV bundle (pure).

The columns are those of the 1.1 and 1.2 CSV bindings that ``roster/oneroster.py`` reads, in
their value formats: lists of GUID references (``agents``, ``orgs``) become comma-separated
sourcedIds, ``userIds`` ({type, identifier} objects) become ``{type:identifier}`` cells,
``grades`` a comma-separated list. A 1.2 user's ``roles`` ({roleType, role, org}) become rows
of ``roles.csv``. 1.2 names the preferred names ``preferredFirstName``/``preferredLastName``
in JSON; ``preferredGivenName``/``preferredFamilyName`` are taken as well.

A record that is not such an object (not a JSON object, no sourcedId, a field of the wrong
type) raises ``MalformedRecord`` naming the collection, the page offset, the record's index
and its sourcedId: the fetch stops, and nothing is written. Row-level data problems (a bad
email, a blank name) are left to the bundle reader, which reports them per row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from canvas_observers.sis_api.errors import MalformedRecord

USERS_11 = (
    "sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role",
    "username", "userIds", "givenName", "familyName", "middleName", "identifier", "email",
    "sms", "phone", "agentSourcedIds", "grades", "password",
)  # fmt: skip
USERS_12 = (
    "sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds",
    "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone",
    "agentSourcedIds", "grades", "password", "userMasterIdentifier", "preferredGivenName",
    "preferredMiddleName", "preferredFamilyName", "primaryOrgSourcedId",
)  # fmt: skip
ROLES_12 = (
    "sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role",
    "beginDate", "endDate", "orgSourcedId", "userProfileSourcedId",
)  # fmt: skip

_PLAIN = (
    "status", "dateLastModified", "username", "givenName", "familyName", "middleName",
    "identifier", "email", "sms", "phone", "password",
)  # fmt: skip
_PREFERRED = (
    ("preferredGivenName", ("preferredFirstName", "preferredGivenName")),
    ("preferredMiddleName", ("preferredMiddleName",)),
    ("preferredFamilyName", ("preferredLastName", "preferredFamilyName")),
)


@dataclass(frozen=True, slots=True)
class Where:
    """Where a record was found, for the message of a malformed one."""

    collection: str
    offset: int
    index: int  # within its page


@dataclass(frozen=True, slots=True)
class MappedUser:
    """One user as a users.csv row and (1.2) its roles.csv rows."""

    user: dict[str, str]
    roles: tuple[dict[str, str], ...] = ()


class _Fields:
    def __init__(self, record: Mapping[str, Any], where: Where) -> None:
        self.record = record
        self.where = where
        sid = record.get("sourcedId")
        self.sid = sid if isinstance(sid, str) else ""

    def bad(self, why: str) -> MalformedRecord:
        w = self.where
        who = f"sourcedId {self.sid!r}" if self.sid else "no sourcedId"
        return MalformedRecord(
            f"malformed record in {w.collection}: record {w.index} of the page at offset "
            f"{w.offset} ({who}) {why}; the fetch stopped and nothing was written",
            path=w.collection,
        )

    def text(self, name: str) -> str:
        value = self.record.get(name)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return value
        if isinstance(value, int | float):
            return str(value)
        raise self.bad(f"has a {type(value).__name__} for {name}, not a string")

    def refs(self, name: str, value: Any = None) -> list[str]:
        """sourcedIds of a list of GUID references ({sourcedId, type, href})."""
        value = self.record.get(name) if value is None else value
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        ids: list[str] = []
        for item in items:
            sid = item.get("sourcedId") if isinstance(item, dict) else None
            if not isinstance(sid, str) or not sid.strip():
                raise self.bad(f"has a {name} entry without a sourcedId")
            if "," in sid:
                raise self.bad(f"has a {name} sourcedId with a comma, which a CSV list cannot hold")
            ids.append(sid.strip())
        return ids

    def user_ids(self) -> str:
        value = self.record.get("userIds")
        if value is None:
            return ""
        if not isinstance(value, list):
            raise self.bad("has userIds that are not a list")
        cells: list[str] = []
        for item in value:
            if not isinstance(item, dict):
                raise self.bad("has a userIds entry that is not an object")
            kind, ident = item.get("type"), item.get("identifier")
            if not isinstance(kind, str) or not isinstance(ident, str | int):
                raise self.bad("has a userIds entry without a type and identifier")
            if any(c in kind + str(ident) for c in "{}") or ":" in kind:
                raise self.bad("has a userIds entry with { } or : in it")
            cells.append(f"{{{kind}:{ident}}}")
        return ",".join(cells)

    def grades(self) -> str:
        value = self.record.get("grades")
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if not isinstance(value, list) or not all(isinstance(g, str) for g in value):
            raise self.bad("has grades that are not a list of strings")
        return ",".join(value)


def map_user(record: Any, version: str, where: Where) -> MappedUser:
    """One JSON user as CSV rows; MalformedRecord when it is not a OneRoster user."""
    if not isinstance(record, dict):
        w = where
        raise MalformedRecord(
            f"malformed record in {w.collection}: record {w.index} of the page at offset "
            f"{w.offset} is a {type(record).__name__}, not an object; the fetch stopped and "
            "nothing was written",
            path=w.collection,
        )
    f = _Fields(record, where)
    if not f.sid.strip():
        raise f.bad("has no sourcedId")
    row = {name: f.text(name) for name in _PLAIN}
    row["sourcedId"] = f.sid
    row["enabledUser"] = f.text("enabledUser")
    row["userIds"] = f.user_ids()
    row["agentSourcedIds"] = ",".join(f.refs("agents"))
    row["grades"] = f.grades()
    if version == "1.1":
        row["orgSourcedIds"] = ",".join(f.refs("orgs"))
        row["role"] = f.text("role")
        return MappedUser({c: row.get(c, "") for c in USERS_11})
    row["userMasterIdentifier"] = f.text("userMasterIdentifier")
    for column, names in _PREFERRED:
        row[column] = next((v for n in names if (v := f.text(n))), "")
    primary = record.get("primaryOrg")
    row["primaryOrgSourcedId"] = ",".join(f.refs("primaryOrg", primary)) if primary else ""
    roles = record.get("roles")
    if roles is None:
        roles = []
    if not isinstance(roles, list):
        raise f.bad("has roles that are not a list")
    role_rows: list[dict[str, str]] = []
    for n, role in enumerate(roles):
        if not isinstance(role, dict) or not isinstance(role.get("role"), str):
            raise f.bad(f"has a roles entry {n} without a role")
        entry = _Fields(role, where)
        entry.sid = f.sid
        org = role.get("org")
        profile = role.get("userProfile")
        role_rows.append(
            {
                "sourcedId": "",
                "status": "",
                "dateLastModified": "",
                "userSourcedId": f.sid,
                "roleType": entry.text("roleType"),
                "role": entry.text("role"),
                "beginDate": entry.text("beginDate"),
                "endDate": entry.text("endDate"),
                "orgSourcedId": ",".join(entry.refs("org", org)) if org else "",
                "userProfileSourcedId": entry.text("userProfile")
                if isinstance(profile, str)
                else "",
            }
        )
    return MappedUser({c: row.get(c, "") for c in USERS_12}, tuple(role_rows))
