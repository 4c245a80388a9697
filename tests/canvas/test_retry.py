"""The retry rule's waits: a server-given wait is honoured only within the request's budget."""

from __future__ import annotations

from canvas_observers.canvas.errors import Throttled
from canvas_observers.canvas.retry import RetryLater, RetryPolicy, backoff_hook


def test_a_server_wait_past_the_budget_is_not_waited_for() -> None:
    """Retry-After longer than the request's remaining time budget: give up now, not later."""
    policy = RetryPolicy(timeout=10.0, retry_after_max=60.0)
    now = [100.0]
    hook = backoff_hook(policy, deadline=105.0, clock=lambda: now[0])
    assert hook(RetryLater(Throttled("slow down"), wait=3.0)) == 3.0
    assert hook(RetryLater(Throttled("slow down"), wait=30.0)) is False
    assert hook(RetryLater(Throttled("slow down"), wait=None)) is True  # stamina's backoff
    assert hook(ValueError("not ours")) is False
