"""Where one run's trail goes: the interface the sync writes to and the journal implements.

A recorder is bound to one run on one Canvas, so no caller passes a run id or a Canvas URL
with every call. ``NO_RECORDER`` stands in when there is no journal (a dry run with
``--state`` off, a test): it keeps nothing and remembers nothing.
"""

from __future__ import annotations

from typing import Literal, Protocol

from canvas_observers.core.outcomes import ActionRecord, RowResult

UserKind = Literal["student", "observer", "unenrolled"]
"""What a remembered Canvas id stands for: a roster student, a guardian's account, or a
student Canvas refused a pairing code for (not enrolled yet)."""


class RunRecorder(Protocol):
    """One run's audit trail and its Canvas's cache of ids learned (hints, never proof)."""

    def record_row(self, result: RowResult, *, at: str) -> None: ...
    def record_action(self, action: ActionRecord) -> None: ...
    def remember_user(self, *, kind: UserKind, key: str, canvas_id: int, at: str) -> None: ...
    def recall_user(self, *, kind: UserKind, key: str) -> int | None: ...
    def forget_user(self, *, kind: UserKind, key: str) -> None: ...
    def remember_guardian(self, *, guardian_id: str, canvas_id: int, at: str) -> None: ...


class _NoRecorder:
    """Records nothing and recalls nothing."""

    def record_row(self, result: RowResult, *, at: str) -> None:
        pass

    def record_action(self, action: ActionRecord) -> None:
        pass

    def remember_user(self, *, kind: UserKind, key: str, canvas_id: int, at: str) -> None:
        pass

    def recall_user(self, *, kind: UserKind, key: str) -> int | None:
        return None

    def forget_user(self, *, kind: UserKind, key: str) -> None:
        pass

    def remember_guardian(self, *, guardian_id: str, canvas_id: int, at: str) -> None:
        pass


NO_RECORDER: RunRecorder = _NoRecorder()
