"""The sync's options: how a run behaves (SyncOptions), how Canvas is read (CanvasStateMode)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from canvas_observers.sync.rules import PairingMethod

CanvasStateMode = Literal["auto", "report", "lookups"]


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """How the sync behaves (built by the CLI from flags)."""

    method: PairingMethod = "code"
    dry_run: bool = False
    concurrency: int = 16
    send_registration: bool = True
    # Pair a guardian found only through an account's contact email whatever its name (the
    # rule before names were checked); off by default: a login is identity, an email is not.
    trust_contact_email: bool = False
    # How Canvas is read: a provisioning report ("report"), row-by-row look-ups ("lookups"),
    # or "auto": a report for a roster of at least AUTO_REPORT_ROWS rows, look-ups when the
    # report is refused or late. report_timeout: seconds to wait for the report.
    canvas_state: CanvasStateMode = "auto"
    report_timeout: float = 1800.0
    # Removing links the SIS has ended (sync/removals.py): opt-in, with safety stops.
    remove_ended: bool = False
    grace_runs: int = 2
    max_removals: int | None = None  # None: the larger of 10 and 5% of the owned links
    force_removals: bool = False
    # A new guardian login's SIS id, from the guardian id (export-sis's template), and
    # whether an account found by it takes the roster's email and names.
    observer_id_template: str = "{email}"
    update_guardians: bool = False
    # The authentication provider a new guardian login is bound to: "canvas" (Canvas's own
    # sign-in, so a login with an SIS id keeps a password the guardian can set on an SSO
    # account), a provider id, or None for no provider (Canvas then treats an SIS login on an
    # account with single sign-on as managed: its owner can never set a password).
    login_provider: str | None = "canvas"


AUTO_REPORT_ROWS = 300
"""From this many roster rows a report costs fewer calls than the look-ups: a report is about
ten calls whatever the size, look-ups are one or more per guardian (more than 0.6 per row)."""
