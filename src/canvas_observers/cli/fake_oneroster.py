"""`canvas-observers fake-oneroster`: serve a OneRoster CSV bundle as a fake OneRoster 1.1 or
1.2 REST API (client-credentials tokens, paging, faults) on loopback. A thin shell: flags ->
FakeOneRosterConfig -> create_app -> serve."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click

from canvas_observers.cli.common import Command
from canvas_observers.cli.options import listen_options
from canvas_observers.fake_canvas.server import url_of
from canvas_observers.fake_oneroster.app import create_app
from canvas_observers.fake_oneroster.config import MALFORMED_KINDS, FakeOneRosterConfig
from canvas_observers.fake_oneroster.sample import write_sample
from canvas_observers.fake_oneroster.server import serve
from canvas_observers.roster.model import RosterError
from canvas_observers.sis_api.config import SecretRead, read_client_secret
from canvas_observers.sis_api.errors import ConfigError


def _secret(secret_file: Path | None, secret_out: Path) -> tuple[str, str]:
    """(the secret, what to print) from --client-secret-file, or a new one in --secret-out."""
    if secret_file is not None:
        try:
            got: SecretRead = read_client_secret(secret_file)
        except ConfigError as error:
            raise click.UsageError(error.message) from None
        if got.warning:
            click.echo(got.warning, err=True)
        return got.secret.reveal(), f"in {secret_file}"
    secret = secrets.token_urlsafe(18)
    fd = os.open(secret_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(secret + "\n")
    os.chmod(secret_out, 0o600)
    return secret, f"{secret} (also in {secret_out})"


@click.command(
    "fake-oneroster",
    cls=Command,
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
)
@click.option(
    "--bundle",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    metavar="PATH",
    help="The OneRoster CSV bundle to serve (folder, .zip or users.csv); default: the demo "
    "district, written to --sample-out.",
)
@click.option(
    "--sample-out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("fake-oneroster-sample"),
    metavar="DIR",
    help="Where the demo district's bundle is written when no --bundle is given.",
)
@click.option(
    "--version",
    "version",
    type=click.Choice(["1.1", "1.2"]),
    default="1.1",
    help="The OneRoster REST binding to serve (/ims/oneroster/v1p1 or "
    "/ims/oneroster/rostering/v1p2).",
)
@listen_options(
    port=8910,
    risk="the fake serves a whole roster to whoever holds its client secret",
)
@click.option("--client-id", default="demo-client", metavar="ID", help="The OAuth client id.")
@click.option(
    "--client-secret-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="File holding the OAuth client secret; default: a new random secret, written to "
    "--secret-out (0600) and printed.",
)
@click.option(
    "--secret-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("fake-oneroster-secret"),
    metavar="FILE",
    help="Where a generated client secret is written.",
)
@click.option(
    "--client-auth",
    type=click.Choice(["any", "basic", "body"]),
    default="any",
    help="How the token endpoint takes the client id and secret: HTTP Basic, form fields, "
    "or either.",
)
@click.option(
    "--token-seconds",
    default=3600.0,
    type=click.FloatRange(min=1),
    metavar="S",
    help="Lifetime of an access token (the expires_in of the token answer).",
)
@click.option(
    "--max-limit",
    default=1000,
    type=click.IntRange(min=1),
    metavar="N",
    help="The largest page served, whatever limit is asked for.",
)
@click.option(
    "--total-count/--no-total-count",
    default=True,
    help="Send X-Total-Count with each page.",
)
@click.option("--links/--no-links", default=True, help='Send Link rel="next"/"last" headers.')
@click.option(
    "--fault-rate",
    default=0.0,
    type=click.FloatRange(0, 1),
    metavar="R",
    help="Share of API requests answered 500/502/503.",
)
@click.option(
    "--rate-limit-every",
    default=0,
    type=click.IntRange(min=0),
    metavar="N",
    help="Answer every Nth API request 429 with Retry-After (0: never).",
)
@click.option(
    "--retry-after",
    default=1.0,
    type=click.FloatRange(min=0),
    metavar="S",
    help="The Retry-After seconds of a 429.",
)
@click.option(
    "--expire-tokens-after",
    default=0,
    type=click.IntRange(min=0),
    metavar="N",
    help="Refuse a token (401) after it served N API requests, as an early expiry (0: never).",
)
@click.option(
    "--endless-paging",
    is_flag=True,
    help="Answer every offset with the first page and a next link (a broken provider).",
)
@click.option(
    "--malformed-record",
    type=click.Choice(MALFORMED_KINDS),
    default=None,
    help="Spoil the first user record: drop its sourcedId, make it a list, or make its "
    "agents a string.",
)
@click.option("--seed", default=0, type=int, metavar="N", help="Seed of the injected faults.")
def fake_oneroster(
    *,
    bundle: Path | None,
    sample_out: Path,
    version: str,
    host: str,
    port: int,
    client_id: str,
    client_secret_file: Path | None,
    secret_out: Path,
    client_auth: str,
    token_seconds: float,
    max_limit: int,
    total_count: bool,
    links: bool,
    fault_rate: float,
    rate_limit_every: int,
    retry_after: float,
    expire_tokens_after: int,
    endless_paging: bool,
    malformed_record: str | None,
    seed: int,
) -> None:
    """Serve a OneRoster bundle as a fake OneRoster 1.1/1.2 REST API until Ctrl-C."""
    if not client_id.strip() or ":" in client_id:
        raise click.UsageError("--client-id must not be empty or hold a colon.")
    secret, secret_where = _secret(client_secret_file, secret_out)
    if bundle is None:
        bundle = write_sample(sample_out, version)
        click.echo(f"Demo district (OneRoster {version} bundle) written to {bundle.resolve()}")
    config = FakeOneRosterConfig(
        version=version,
        client_id=client_id,
        client_secret=secret,
        client_auth=client_auth,
        token_seconds=token_seconds,
        max_limit=max_limit,
        total_count=total_count,
        links=links,
        rate_limit_every=rate_limit_every,
        retry_after=retry_after,
        fault_rate=fault_rate,
        seed=seed,
        expire_tokens_after=expire_tokens_after,
        endless_paging=endless_paging,
        malformed=malformed_record or "",
    )
    url = url_of(host, port)
    try:
        app = create_app(config, bundle, base_url=url)
    except RosterError as error:
        raise click.UsageError(f"--bundle {bundle}: {error}") from None
    click.echo(f"Fake OneRoster {version} API at {url}{config.prefix}")
    click.echo(f"Token URL: {url}/oauth/access_token")
    click.echo(f"Client id: {client_id}")
    click.echo(f"Client secret: {secret_where}")
    click.echo("Press Ctrl-C to stop.")
    try:
        serve(app, host=host.strip("[]"), port=port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host} port {port}: {exc}") from None
