"""Stopping a run: the stop signal (RunAborted), the stop a person or a service asks for
(StopRequest), and the words for errors no row can get past."""

from __future__ import annotations

import asyncio

from canvas_observers.canvas.errors import (
    CanvasError,
    ConfigurationError,
    InvalidToken,
    NotAllowed,
)
from canvas_observers.core.errors import CanvasObserversError


class RunAborted(CanvasObserversError):
    """The run cannot go on (token rejected, permission missing, Canvas unreachable, or the
    user asked it to stop: then ``cause`` is None)."""

    def __init__(self, reason: str, cause: CanvasError | None = None) -> None:
        self.reason = reason
        self.cause = cause
        super().__init__(reason)


class StopRequest(asyncio.Event):
    """The event the CLI's stop signals set, and what set it ("Ctrl-C", "SIGTERM"), so the
    run's stop reason says which it was."""

    def __init__(self) -> None:
        super().__init__()
        self.cause = "Ctrl-C"

    def stop(self, cause: str) -> None:
        """Ask the run to stop; the first cause is kept."""
        if not self.is_set():
            self.cause = cause
            self.set()


def stop_cause(interrupt: asyncio.Event) -> str:
    """What set ``interrupt``: its cause when it is a StopRequest, else Ctrl-C."""
    return interrupt.cause if isinstance(interrupt, StopRequest) else "Ctrl-C"


def abort_reason(error: ConfigurationError) -> str:
    """Why a token or permission error stops the run, in the words of the check at the start."""
    if isinstance(error, InvalidToken):
        # Revoked or expired mid-run: say so in the same words as the check at the start
        # (run._check_token), not just Canvas's bare "Invalid access token.".
        return f"Canvas refused the token: {error}"
    if isinstance(error, NotAllowed):
        return (
            f"the token is not allowed to do this ({error}); it needs an account admin's "
            "rights: manage users, logins and observers"
        )
    return str(error)
