"""Where a command's roster comes from: a file or export (``ROSTER``), or the SIS's OneRoster
API (``--oneroster-api``), for `sync`, `audit` and `export-sis` alike.

An API roster is fetched whole into a snapshot folder, a OneRoster CSV bundle, and read from
there by the same reader as an export (docs/oneroster.md, "Reading from the SIS's OneRoster
API"). The snapshot is kept beside the journal so a run can be explained later: the run's
settings name it, and ``canvas-observers show`` prints them. The newest ``KEEP_SNAPSHOTS`` are
kept. A fetch that does not complete raises before anything is sent to Canvas.

The roster's name in the journal is the API's URL, not the snapshot's folder, so that runs of
the same API count as runs of the same roster (``--grace-runs``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from canvas_observers.cli.exits import Stopped
from canvas_observers.cli.options import apply_flags
from canvas_observers.core.files import private_folder
from canvas_observers.roster.model import Roster
from canvas_observers.roster.sources import SourceOptions
from canvas_observers.sis_api import ApiConfig, FetchResult, Secret, fetch_bundle
from canvas_observers.sis_api import read_client_secret as read_secret_file
from canvas_observers.sis_api.config import CLIENT_AUTH, VERSIONS, service_root

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("canvas_observers")

KEEP_SNAPSHOTS = 30
"""API snapshots kept per journal: a month of nightly runs (a 100,000-user district's is
about 30 MB)."""


@dataclass(frozen=True, slots=True)
class ApiSource:
    """The ``--oneroster-api`` flags as one value (the secret still in its file)."""

    url: str
    client_id: str
    client_secret_file: Path
    token_url: str | None = None
    version: str | None = None
    client_auth: str = "basic"
    scope: str | None = None

    def config(self, secret: Secret) -> ApiConfig:
        return ApiConfig(
            base_url=self.url,
            client_id=self.client_id,
            client_secret=secret,
            version=self.version,
            token_url=self.token_url,
            client_auth=self.client_auth,
            scope=self.scope,
        )


_API_FLAGS = (
    click.option(
        "--oneroster-api",
        "oneroster_api",
        metavar="URL",
        default=None,
        help="Read the roster from the SIS's OneRoster API instead of a file: its service "
        "root, e.g. https://sis.example.org/ims/oneroster/v1p1 (1.1) or "
        ".../ims/oneroster/rostering/v1p2 (1.2). Needs --client-id and --client-secret-file. "
        "See docs/oneroster.md.",
    ),
    click.option(
        "--client-id",
        metavar="ID",
        default=None,
        help="--oneroster-api: the OAuth 2.0 client id the SIS gave you.",
    ),
    click.option(
        "--client-secret-file",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="FILE",
        default=None,
        help="--oneroster-api: a file holding the client secret (readable only by you). There "
        "is no flag for the secret itself: it would show in process lists.",
    ),
    click.option(
        "--token-url",
        metavar="URL",
        default=None,
        help="--oneroster-api: the provider's token endpoint, when it is not "
        "<API origin>/oauth/access_token.",
    ),
    click.option(
        "--client-auth",
        type=click.Choice(CLIENT_AUTH),
        default=None,
        help="--oneroster-api: how the token endpoint takes the client id and secret: basic "
        "(HTTP Basic auth, the default every provider must accept) or body (form fields).",
    ),
    click.option(
        "--scope",
        metavar="SCOPE",
        default=None,
        help="--oneroster-api: the OAuth scope to ask for, when the provider needs one (e.g. "
        "https://purl.imsglobal.org/spec/or/v1p1/scope/roster-core.readonly).",
    ),
    click.option(
        "--oneroster-version",
        type=click.Choice(VERSIONS),
        default=None,
        help="--oneroster-api: the OneRoster version, when the URL does not say it "
        "(…/v1p1 is 1.1, …/v1p2 is 1.2).",
    ),
)


def api_options(command: F) -> F:
    """Add the ``--oneroster-api`` flags; the command receives ``api: ApiSource | None``."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        url = kwargs.pop("oneroster_api")
        client_id = kwargs.pop("client_id")
        secret_file = kwargs.pop("client_secret_file")
        token_url = kwargs.pop("token_url")
        version = kwargs.pop("oneroster_version")
        client_auth = kwargs.pop("client_auth")
        scope = kwargs.pop("scope")
        if url is None:
            given = [
                flag
                for flag, value in (
                    ("--client-id", client_id),
                    ("--client-secret-file", secret_file),
                    ("--token-url", token_url),
                    ("--oneroster-version", version),
                    ("--client-auth", client_auth),
                    ("--scope", scope),
                )
                if value is not None
            ]
            if given:
                raise click.UsageError(f"{', '.join(given)} only go with --oneroster-api URL")
            kwargs["api"] = None
        else:
            if not client_id or secret_file is None:
                raise click.UsageError(
                    "--oneroster-api needs --client-id ID and --client-secret-file FILE"
                )
            url, cut = service_root(url)
            if cut is not None:
                click.echo(
                    f"note: --oneroster-api goes on to {cut!r}; reading the whole roster from "
                    f"the service root {url}",
                    err=True,
                )
            kwargs["api"] = ApiSource(
                url, client_id, secret_file, token_url, version, client_auth or "basic", scope
            )
        return command(*args, **kwargs)

    return apply_flags(cast(F, wrapper), _API_FLAGS)


def roster_argument(command: F) -> F:
    """``[ROSTER]``: a file or export; optional, since ``--oneroster-api`` may stand for it."""
    return click.argument("roster", required=False, type=click.Path(path_type=Path))(command)


def check_one_source(roster: Path | None, api: ApiSource | None) -> None:
    """Exactly one of ROSTER and --oneroster-api."""
    if roster is None and api is None:
        raise click.UsageError("give the ROSTER file, or --oneroster-api URL")
    if roster is not None and api is not None:
        raise click.UsageError("give the ROSTER file or --oneroster-api URL, not both")


def snapshot_folder(journal: Path) -> Path:
    """Where a journal's API snapshots go: a folder beside it, named after it."""
    return journal.with_name(f"{journal.stem}-oneroster")


def read_client_secret(api: ApiSource | None) -> Secret | None:
    """The client secret (before logging starts, so the log redacts it); a group- or
    world-readable file is warned about on stderr."""
    if api is None:
        return None
    read = read_secret_file(api.client_secret_file)
    if read.warning:
        click.echo(read.warning, err=True)
    return read.secret


@dataclass(frozen=True, slots=True)
class RosterRead:
    """The roster, and for an API roster where its snapshot is."""

    roster: Roster
    snapshot: Path | None = None

    def settings(self) -> dict[str, object]:
        """What the journal's run settings say of the source."""
        if self.snapshot is None:
            return {}
        return {"oneroster_api": self.roster.source, "oneroster_snapshot": str(self.snapshot)}


def read_roster(
    roster: Path | None,
    source: SourceOptions,
    *,
    api: ApiSource | None = None,
    secret: Secret | None = None,
    snapshots: Path | None = None,
    quiet: bool = False,
) -> RosterRead:
    """Read ROSTER, or fetch the API's roster into a new folder under ``snapshots`` and read
    that (as OneRoster in UTF-8, whatever ``--format`` and ``--encoding`` say)."""
    if api is None:
        assert roster is not None  # check_one_source
        return RosterRead(source.read(roster))
    assert secret is not None and snapshots is not None
    dest = fetch_snapshot(api, secret, snapshots, quiet=quiet).dest
    read = snapshot_source(source).read(dest)
    return RosterRead(dataclasses.replace(read, source=_shown_url(api.url)), dest)


def snapshot_source(source: SourceOptions) -> SourceOptions:
    """How a snapshot is read: as OneRoster in UTF-8 (what the fetch wrote), as the tool's own
    file (no csv field limit: it is read back whatever the SIS sent), with the roster flags
    (guardian roles, student id field, names) as given."""
    return dataclasses.replace(source, format="oneroster", encoding="utf-8", own_snapshot=True)


def fetch_snapshot(
    api: ApiSource,
    secret: Secret,
    snapshots: Path,
    *,
    quiet: bool = False,
) -> FetchResult:
    """Fetch the API's roster whole into a new snapshot folder under ``snapshots`` (a
    OneRoster bundle); a fetch that does not complete raises ``SisApiError``, a folder that
    cannot be written (or Ctrl-C) ``Stopped``: nothing is sent to Canvas either way."""
    dest = snapshots / datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    config = api.config(secret)
    bar, progress = _fetch_progress(None if quiet else Console(stderr=True))
    try:
        private_folder(snapshots)
        with bar:
            fetched = asyncio.run(fetch_bundle(config, dest, progress=progress))
    except OSError as error:
        raise Stopped(
            f"cannot write the OneRoster snapshot under {snapshots}: {error.strerror or error}"
        ) from error
    except KeyboardInterrupt:
        raise Stopped("interrupted (Ctrl-C) while reading the SIS; nothing was sent") from None
    log.info(
        "OneRoster API: %d users (%d roles) in %d pages, saved in %s",
        fetched.users,
        fetched.roles,
        fetched.pages,
        dest,
    )
    _prune(snapshots)
    return fetched


def _shown_url(url: str) -> str:
    """The URL without a query or a trailing slash: the roster's name in the journal."""
    return url.split("?", 1)[0].split("#", 1)[0].rstrip("/")


def _prune(snapshots: Path) -> None:
    """Keep the newest ``KEEP_SNAPSHOTS`` snapshot folders (their names sort by time)."""
    folders = sorted(p for p in snapshots.iterdir() if p.is_dir() and (p / "fetch.json").exists())
    for old in folders[:-KEEP_SNAPSHOTS]:
        shutil.rmtree(old, ignore_errors=True)


def _fetch_progress(
    console: Console | None,
) -> tuple[AbstractContextManager[Any], Callable[[str, int, int | None], None] | None]:
    """A bar of the users fetched on a terminal; nothing otherwise, or when quiet (the end is
    logged)."""
    if console is None or not console.is_terminal:
        return nullcontext(), None
    bar = Progress(
        TextColumn("[bold]SIS {task.description}"),
        BarColumn(),
        TextColumn("{task.completed} of {task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def update(collection: str, fetched: int, total: int | None) -> None:
        if collection not in tasks:
            tasks[collection] = bar.add_task(collection, total=total)
        bar.update(tasks[collection], completed=fetched, total=total)

    return bar, update
