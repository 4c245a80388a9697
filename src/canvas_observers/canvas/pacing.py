"""Pacing: how many requests may be in flight, from a running estimate of Canvas's bucket.

Canvas throttles each token with a leaky bucket (app/middleware/request_throttle.rb;
docs/canvas-behaviour.md, "Throttling"): a request reserves 50 units when it arrives and is
refused when the level is then >= the high-water mark (600); when it ends the 50 are refunded
and its real cost added; the bucket leaks 10 units a second. So in-flight requests cost far
more than finished ones: with an empty bucket the 12th simultaneous request is already refused.

The rule here: a new request may start only while

    estimated base level + up_front × (in flight + 1) + margin  <  high-water mark

where the *base* level is what finished requests left behind. It is estimated between answers
by the same arithmetic Canvas does (add each answer's `X-Request-Cost`, leak at `outflow`), and
corrected upwards by each answer's `X-Rate-Limit-Remaining` (which also reveals other users of
the token, or a smaller bucket than assumed): remaining = hwm − base − up_front × others.
`others` is every other request of ours that may have been in flight at Canvas when it answered:
those running when the request started plus those started since. Counting only those still
running when the answer is read (an earlier rule) missed requests that finished in between,
read their refunded reservations as base level, and so held the client one request below its
allowance about a fifth of the time (benchmarks/profile_sync.py).
A throttled answer sets the estimate to "full" and halves an extra in-flight cap, which grows
back by one per `recovery` clean answers (additive increase, multiplicative decrease).

`BucketEstimate` is pure (the caller passes `now`); `Pacer` is the asyncio gate around it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

Clock = Callable[[], float]
_POLL = 0.25  # seconds between looks at the estimate while waiting


@dataclass(frozen=True, slots=True)
class PacingPolicy:
    """Canvas's default bucket (request_throttle.rb settings) and our safety margin."""

    # 11: with an empty bucket Canvas admits 11 requests at once and refuses the 12th
    # (12 x 50 = 600, request_throttle.rb). Canvas never sees more of ours in flight than we
    # count (ours include the time on the wire), so the margin only has to absorb errors in
    # the estimated level, not whole requests.
    max_in_flight: int = 11
    hwm: float = 600.0
    up_front: float = 50.0
    outflow: float = 10.0
    margin: float = 10.0
    recovery: int = 10  # clean answers that earn back one slot of the throttle cap

    def __post_init__(self) -> None:
        if self.max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        if self.up_front <= 0 or self.outflow <= 0 or self.hwm <= self.up_front:
            raise ValueError("the bucket needs up_front > 0, outflow > 0 and hwm > up_front")


class BucketEstimate:
    """The client's estimate of its Canvas bucket; every method takes the time as `now`."""

    def __init__(self, policy: PacingPolicy, now: float) -> None:
        self.policy = policy
        self.hwm = policy.hwm
        self.base = 0.0
        self.cap = policy.max_in_flight
        self._touched = now
        self._clean = 0

    def _leak(self, now: float) -> None:
        elapsed = max(0.0, now - self._touched)
        self.base = max(0.0, self.base - elapsed * self.policy.outflow)
        self._touched = max(self._touched, now)

    def level(self, now: float) -> float:
        """The estimated base level (finished requests' cost, leaked to `now`)."""
        self._leak(now)
        return self.base

    def allowance(self, now: float) -> int:
        """How many requests may be in flight at `now` (0 means: wait for the leak)."""
        self._leak(now)
        room = self.hwm - self.policy.margin - self.base
        by_bucket = max(0, math.ceil(room / self.policy.up_front) - 1)
        return min(self.policy.max_in_flight, self.cap, by_bucket)

    def wait_time(self, now: float, in_flight: int) -> float:
        """Seconds until one more request may start with `in_flight` running (0 if now).

        Only the leak is counted: a finishing request may open a slot sooner.
        """
        if in_flight < self.allowance(now):
            return 0.0
        if in_flight >= min(self.policy.max_in_flight, self.cap):
            return math.inf  # limited by the cap, not the bucket: wait for a release
        need = self.base + self.policy.up_front * (in_flight + 1) + self.policy.margin
        return max((need - self.hwm) / self.policy.outflow, 0.0) + 1e-3

    def on_answer(
        self, now: float, *, remaining: float | None, cost: float | None, others: int
    ) -> None:
        """Account for an answer; `others` = this client's other requests still in flight."""
        self._leak(now)
        if cost is not None and cost > 0:
            self.base += cost
        if remaining is not None:
            # A bucket bigger than assumed shows as more remaining than the assumed mark.
            # (Not remaining + our reservations: some of ours may not have reached Canvas
            # yet, or already left it, so that sum can overshoot the real mark.)
            self.hwm = max(self.hwm, remaining)
            reserved = self.policy.up_front * max(0, others)
            self.base = max(self.base, self.hwm - remaining - reserved)
        self._clean += 1
        if self._clean >= self.policy.recovery and self.cap < self.policy.max_in_flight:
            self.cap += 1
            self._clean = 0

    def on_throttled(self, now: float, *, in_flight: int) -> None:
        """A throttled answer: the bucket was full with `in_flight` (ours) running."""
        self._leak(now)
        others = max(0, in_flight - 1)
        self.base = max(self.base, self.hwm - self.policy.up_front * (others + 1))
        self.cap = max(1, min(self.cap, in_flight) // 2)
        self._clean = 0


class Slot:
    """One admitted request; report its answer's headers, or that it was throttled."""

    def __init__(self, pacer: Pacer) -> None:
        self._pacer = pacer
        self._reported = False
        # Ours that may share Canvas with this request: those running when it started, and
        # (via the start counter) every one started before its answer is read.
        self._others_at_start = pacer.in_flight - 1
        self._starts_at_start = pacer.starts

    def others(self) -> int:
        """Our other requests that may have been in flight at Canvas when this one ended."""
        return self._others_at_start + (self._pacer.starts - self._starts_at_start)

    def answered(self, *, remaining: float | None, cost: float | None) -> None:
        if not self._reported:
            self._reported = True
            self._pacer._answered(remaining=remaining, cost=cost, others=self.others())

    def throttled(self) -> None:
        if not self._reported:
            self._reported = True
            self._pacer._throttled()


class Pacer:
    """The asyncio gate: `async with pacer.slot() as slot:` around each HTTP request."""

    def __init__(self, policy: PacingPolicy | None = None, *, clock: Clock = time.monotonic):
        self.policy = policy or PacingPolicy()
        self._clock = clock
        self.estimate = BucketEstimate(self.policy, clock())
        self.in_flight = 0
        self.peak_in_flight = 0
        self.starts = 0  # requests admitted so far
        self._queue = asyncio.Lock()
        self._freed = asyncio.Event()

    async def _admit(self) -> None:
        # Callers queue on a FIFO lock and only the head of the queue watches the estimate,
        # so thousands of waiting callers cost nothing (no thundering herd on each release).
        async with self._queue:
            while True:
                wait = self.estimate.wait_time(self._clock(), self.in_flight)
                if wait <= 0:
                    break
                # Woken by a finishing request, or when the leak has made room; looked at
                # again at least every _POLL seconds, so a changed estimate is seen soon.
                self._freed.clear()
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._freed.wait(), min(wait, _POLL))
            self.in_flight += 1
            self.starts += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def _release(self) -> None:
        self.in_flight -= 1
        self._freed.set()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        await self._admit()
        slot = Slot(self)
        try:
            yield slot
        finally:
            self._release()

    def _answered(self, *, remaining: float | None, cost: float | None, others: int) -> None:
        self.estimate.on_answer(self._clock(), remaining=remaining, cost=cost, others=others)

    def _throttled(self) -> None:
        self.estimate.on_throttled(self._clock(), in_flight=self.in_flight)
