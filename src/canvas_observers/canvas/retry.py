"""Retry settings and the rule for which failures may be sent again (stamina underneath).

The rule (the Canvas facts are in docs/canvas-behaviour.md, "Throttling" and "Observer links"):

* a **throttled** answer is retried for every method: Canvas refused it before doing anything;
* **5xx, timeouts and dropped connections** are retried only for replay-safe requests (GET, PUT,
  DELETE, and the pairing-code POST, whose spare code is harmless);
* a **connection that was never made** (refused, connect timeout, no pool slot) is retried for
  every method, since nothing was sent;
* any other POST that fails without an answer raises `OutcomeUnknown` and is never re-sent.
  This includes a POST answered 500: Canvas's own 500 means the action failed, but a proxy in
  front of Canvas can also say 500 after the app ran, and the client cannot tell the two apart.

Backoff is stamina's jittered exponential one, bounded by attempts *and* total time; a
`Retry-After` header (seconds or a date) replaces it for that wait, capped by
`retry_after_max`. Test mode: `stamina.set_testing(True, attempts=..., cap=True)` turns every
retry sleep off while keeping the attempt limit; `RetryPolicy.none()` turns retries off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import httpx

E = TypeVar("E", bound=Exception)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try: total attempts per request, total seconds, and the backoff curve."""

    attempts: int = 8
    timeout: float = 120.0  # seconds for all attempts of one request together
    wait_initial: float = 0.2
    wait_max: float = 10.0
    wait_jitter: float = 1.0
    retry_after_max: float = 60.0  # the longest server-asked wait we honour

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")

    @classmethod
    def none(cls) -> RetryPolicy:
        """One attempt only: every failure is raised at once."""
        return cls(attempts=1)


class RetryLater(Exception, Generic[E]):
    """Internal: the wrapped error may be retried, after `wait` seconds if the server said so.
    Generic in the error, so the OneRoster API reader retries its own errors the same way."""

    def __init__(self, error: E, wait: float | None) -> None:
        super().__init__(error, wait)
        self.error = error
        self.wait = wait


def backoff_hook(
    policy: RetryPolicy,
    *,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[Exception], bool | float]:
    """A stamina backoff hook: retry `RetryLater`, honouring its server-given wait.

    A server-given wait that would end past ``deadline`` (the request's total time budget) is
    not waited for: the error is raised now rather than after the budget is gone.
    """

    def hook(exc: Exception) -> bool | float:
        if not isinstance(exc, RetryLater):
            return False
        if exc.wait is None:
            return True
        wait = min(exc.wait, policy.retry_after_max)
        if deadline is not None and clock() + wait > deadline:
            return False
        return wait

    return hook


def never_sent(exc: httpx.TransportError) -> bool:
    """True when the request surely never left: the connection was not made at all."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
