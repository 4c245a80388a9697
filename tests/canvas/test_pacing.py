"""The pacing rule: the bucket estimate (pure, driven clock) and the asyncio gate around it."""

from __future__ import annotations

import asyncio
import math

import pytest

from canvas_observers.canvas.pacing import BucketEstimate, Pacer, PacingPolicy

POLICY = PacingPolicy()  # Canvas defaults: hwm 600, 50 up front, 10/s outflow; margin 10


def test_empty_bucket_allows_max_in_flight() -> None:
    """With an empty bucket all `max_in_flight` requests may run at once, never more."""
    estimate = BucketEstimate(POLICY, now=0.0)
    assert estimate.allowance(0.0) == 11  # Canvas admits 11 at once and refuses the 12th
    assert BucketEstimate(PacingPolicy(max_in_flight=30), now=0.0).allowance(0.0) == 11
    assert BucketEstimate(PacingPolicy(max_in_flight=4), now=0.0).allowance(0.0) == 4


@pytest.mark.parametrize(
    ("remaining", "others", "base", "allowance"),
    [
        (600.0, 0, 0.0, 11),
        (500.0, 0, 100.0, 9),  # 100 + 50×9 + 10 = 560 < 600; a 10th would reach 610
        (450.0, 3, 0.0, 11),  # 150 remaining are our own three reservations
        (100.0, 0, 500.0, 1),  # 500 + 50 + 10 = 560: one more fits (Canvas: 550 < 600)
        (40.0, 0, 560.0, 0),  # another user of the token filled the bucket: wait
    ],
)
def test_remaining_header_sets_the_base(
    remaining: float, others: int, base: float, allowance: int
) -> None:
    """X-Rate-Limit-Remaining, minus our in-flight reservations, gives the bucket's base."""
    estimate = BucketEstimate(POLICY, now=0.0)
    estimate.on_answer(0.0, remaining=remaining, cost=None, others=others)
    assert estimate.level(0.0) == pytest.approx(base)
    assert estimate.allowance(0.0) == allowance


def test_costs_accumulate_and_leak() -> None:
    """Each answer's X-Request-Cost adds up; the estimate leaks at the outflow rate."""
    estimate = BucketEstimate(POLICY, now=0.0)
    for _ in range(100):
        estimate.on_answer(0.0, remaining=None, cost=2.0, others=0)
    assert estimate.level(0.0) == pytest.approx(200.0)
    assert estimate.level(5.0) == pytest.approx(150.0)
    assert estimate.level(100.0) == 0.0


def test_wait_time_counts_the_leak() -> None:
    """When the bucket has no room, the wait is the time the leak needs to make room."""
    estimate = BucketEstimate(POLICY, now=0.0)
    estimate.on_answer(0.0, remaining=0.0, cost=None, others=0)  # base 600: full
    wait = estimate.wait_time(0.0, in_flight=0)
    assert wait == pytest.approx(6.0, abs=0.01)  # 600 + 50 + 10 - 600 = 60 units at 10/s
    assert estimate.allowance(wait) == 1
    assert estimate.wait_time(wait, in_flight=0) == 0.0


def test_wait_is_unbounded_when_only_the_cap_limits() -> None:
    """At the in-flight cap only a finishing request opens a slot, not the clock."""
    estimate = BucketEstimate(PacingPolicy(max_in_flight=2), now=0.0)
    assert estimate.wait_time(0.0, in_flight=1) == 0.0
    assert math.isinf(estimate.wait_time(0.0, in_flight=2))


def test_throttled_halves_the_cap_and_clean_answers_restore_it() -> None:
    """A throttled answer halves the in-flight cap; each `recovery` clean answers add one back."""
    estimate = BucketEstimate(POLICY, now=0.0)
    estimate.on_throttled(0.0, in_flight=10)
    assert estimate.cap == 5
    assert estimate.level(0.0) >= 600 - 50 * 10
    estimate.on_throttled(0.0, in_flight=1)
    assert estimate.cap == 1
    for _ in range(POLICY.recovery * 3):
        estimate.on_answer(1000.0, remaining=600.0, cost=0.0, others=0)
    assert estimate.cap == 4
    assert estimate.allowance(1000.0) == 4


def test_a_bigger_bucket_is_learned() -> None:
    """A Canvas with a larger high-water mark shows it in its headers, and we use the room."""
    estimate = BucketEstimate(PacingPolicy(max_in_flight=20), now=0.0)
    estimate.on_answer(0.0, remaining=1200.0, cost=None, others=0)
    assert estimate.hwm == 1200.0
    assert estimate.allowance(0.0) == 20


def test_a_smaller_bucket_reads_as_a_fuller_one() -> None:
    """A bucket smaller than assumed (hwm 120) leaves room for two requests, as Canvas would."""
    estimate = BucketEstimate(POLICY, now=0.0)
    estimate.on_answer(0.0, remaining=120.0, cost=0.05, others=0)
    assert estimate.allowance(0.0) == 2  # Canvas: 2 × 50 = 100 < 120, a third reaches 150


@pytest.mark.parametrize(
    "policy",
    [
        {"max_in_flight": 0},
        {"up_front": 0.0},
        {"outflow": 0.0},
        {"hwm": 40.0},
    ],
)
def test_policy_refuses_nonsense(policy: dict[str, float]) -> None:
    """A pacing policy that could never admit or never leak is refused."""
    with pytest.raises(ValueError, match=r"must|needs"):
        PacingPolicy(**policy)  # type: ignore[arg-type]


async def test_pacer_never_exceeds_the_allowance() -> None:
    """Many concurrent callers go through the gate at most `max_in_flight` at a time."""
    pacer = Pacer(PacingPolicy(max_in_flight=3))
    running = 0
    peak = 0

    async def call() -> None:
        nonlocal running, peak
        async with pacer.slot() as slot:
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0)
            running -= 1
            slot.answered(remaining=600.0, cost=0.05)

    await asyncio.gather(*(call() for _ in range(40)))
    assert peak == 3
    assert pacer.peak_in_flight == 3
    assert pacer.in_flight == 0


async def test_pacer_waits_for_the_leak_when_full() -> None:
    """After a full-bucket answer the next request waits for the (driven) clock to leak."""
    now = [0.0]
    pacer = Pacer(PacingPolicy(), clock=lambda: now[0])
    async with pacer.slot() as slot:
        slot.answered(remaining=0.0, cost=None)
    admitted = asyncio.Event()

    async def next_call() -> None:
        async with pacer.slot():
            admitted.set()

    task = asyncio.create_task(next_call())
    await asyncio.sleep(0.02)
    assert not admitted.is_set()
    now[0] = 10.5  # 105 units leaked: room for one
    await asyncio.wait_for(task, timeout=10)
    assert admitted.is_set()


async def test_answer_read_after_a_sibling_finished_is_not_base_level() -> None:
    """A reservation refunded between Canvas's answer and our reading it is not base level."""
    pacer = Pacer(PacingPolicy(), clock=lambda: 0.0)
    first, second = pacer.slot(), pacer.slot()
    slot_b = await first.__aenter__()
    slot_a = await second.__aenter__()  # A starts while B runs
    slot_b.answered(remaining=550.0, cost=None)  # B ended at Canvas while A held 50
    await first.__aexit__(None, None, None)
    # Canvas answered A while B was still in flight (remaining 550), but we read it only now.
    slot_a.answered(remaining=550.0, cost=None)
    await second.__aexit__(None, None, None)
    assert pacer.estimate.level(0.0) == 0.0
    assert pacer.estimate.allowance(0.0) == 11


async def test_requests_started_later_count_as_sharing_the_bucket() -> None:
    """A request started after this one may have held a reservation when Canvas answered."""
    pacer = Pacer(PacingPolicy(), clock=lambda: 0.0)
    outer = pacer.slot()
    slot_a = await outer.__aenter__()
    async with pacer.slot() as slot_c:  # C starts and ends while A runs
        slot_c.answered(remaining=550.0, cost=None)
    slot_a.answered(remaining=550.0, cost=None)  # Canvas saw C's 50 when it answered A
    await outer.__aexit__(None, None, None)
    assert pacer.estimate.level(0.0) == 0.0
    # Foreign load still shows: remaining below what our own requests explain raises the base.
    async with pacer.slot() as slot_d:
        slot_d.answered(remaining=300.0, cost=None)
    assert pacer.estimate.level(0.0) == 300.0
