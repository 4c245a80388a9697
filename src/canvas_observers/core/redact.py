"""Secrets taken out of text the tool did not write itself: one marker, one rule.

A server may echo what it was sent: an error page or a proxy that repeats the request's
``Authorization`` header, a validation message that quotes a parameter. Whatever such an
answer says flows on into error messages, row details, the journal, the reports, the webhook
and the log, so a secret is replaced where the answer enters (the Canvas client) and every
later output inherits the cleaned text. The log's filter (``cli/common.Redactor``) applies
the same rule to every log record, as a second line of defence.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

REDACTED = "[REDACTED]"


def spellings(secret: str) -> tuple[str, ...]:
    """The forms of ``secret`` an echo may carry: as sent, and percent-encoded (a URL or a
    form body repeats it so). A Canvas token holds a ``~``, which encoders disagree on: it is
    unreserved (RFC 3986), yet older ones write ``%7E`` or ``%7e``; all three are covered."""
    if not secret:
        return ()
    encoded = quote(secret, safe="")
    forms = (secret, encoded, encoded.replace("~", "%7E"), encoded.replace("~", "%7e"))
    return tuple(dict.fromkeys(forms))


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``[REDACTED]``."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact_json(value: Any, secrets: tuple[str, ...]) -> Any:
    """A parsed JSON value with every string in it (keys too) redacted; numbers, booleans and
    null are left as they are. Parsed, not raw: JSON may spell a secret with ``\\u`` escapes,
    which only the decoded string shows."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact(str(k), secrets): redact_json(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_json(item, secrets) for item in value]
    return value
