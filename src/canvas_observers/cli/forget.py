"""`canvas-observers forget-guardian ID`: let the sync make a new account for a guardian whose
remembered account is gone, once a person has decided it should."""

from __future__ import annotations

from pathlib import Path

import click

from canvas_observers.cli.common import Command, canvas_url_or_exit
from canvas_observers.cli.config import config_option
from canvas_observers.cli.exits import Stopped
from canvas_observers.cli.lock import run_lock
from canvas_observers.cli.options import canvas_url_option, state_option
from canvas_observers.cli.wiring import open_journal
from canvas_observers.store.journal import default_state_path


@click.command("forget-guardian", cls=Command)
@click.argument("guardian_id", metavar="ID")
@config_option
@canvas_url_option("Canvas base URL whose journal to change (env: CANVAS_URL).")
@state_option("The SQLite journal. Default: the one of this Canvas.")
@click.option(
    "--source",
    "source_name",
    default=None,
    metavar="NAME",
    help="The roster source whose guardian this is (as `show` prints it); needed only when "
    "several sources know this guardian id.",
)
@click.option(
    "--allow-insecure-http",
    is_flag=True,
    help="Allow http:// to a Canvas that is not on this machine (test servers only).",
)
def forget_guardian(
    guardian_id: str,
    canvas_url: str | None,
    state_path: Path | None,
    source_name: str | None,
    allow_insecure_http: bool,
) -> None:
    """Forget the Canvas account remembered for the SIS's guardian ID.

    The sync follows a guardian by their guardian id to the account it first found or made,
    and never makes a second one: when that account was deleted in Canvas, the guardian's rows
    end guardian_account_deleted. Once you have decided the guardian should get a new account
    (or be matched by email again), forget the old one; the next sync looks them up afresh.
    """
    if not canvas_url:
        raise click.UsageError("no Canvas: pass --canvas-url URL or set CANVAS_URL")
    canvas_url = canvas_url_or_exit(canvas_url, allow_insecure=allow_insecure_http)
    state = state_path or default_state_path(canvas_url)
    if not state.exists():
        raise Stopped(f"no journal at {state}: no guardian is remembered")
    with run_lock(canvas_url, state, "forget-guardian"), open_journal(state) as journal:
        known = journal.guardian_sources(canvas_url=canvas_url, guardian_id=guardian_id)
        if source_name is not None:
            sources = [source_name] if source_name in known else []
        else:
            sources = sorted(known)
        if not sources:
            where = f" for source {source_name}" if source_name is not None else ""
            raise Stopped(f"no Canvas account is remembered for guardian {guardian_id}{where}")
        if len(sources) > 1:
            raise Stopped(
                f"guardian id {guardian_id} is known to {len(sources)} roster sources ("
                + "; ".join(f"{s}: Canvas user {known[s]}" for s in sources)
                + "): name one with --source"
            )
        journal.forget_guardian(canvas_url=canvas_url, guardian_id=guardian_id, source=sources[0])
    click.echo(
        f"Forgot Canvas user {known[sources[0]]} for guardian {guardian_id} of source "
        f"{sources[0]}: the next sync looks this guardian up by the template's SIS id, login "
        "and email, and makes an account only if it finds none (Canvas refuses a new account "
        "whose SIS id a deleted login still holds: give the guardian an account first, or "
        "use another --observer-id-template)."
    )
