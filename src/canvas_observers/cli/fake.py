"""`canvas-observers fake-canvas`: serve the fake Canvas over HTTP for trying the tool, for
tests and for benchmarks. A thin shell: flags -> FakeConfig -> create_app -> serve."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import click

from canvas_observers.cli.common import Command
from canvas_observers.cli.options import listen_options
from canvas_observers.fake_canvas.app import create_app
from canvas_observers.fake_canvas.config import DEFAULT_ADMIN_TOKEN, FakeConfig
from canvas_observers.fake_canvas.roles import ACCOUNT_ADMIN, parse_permissions
from canvas_observers.fake_canvas.scenarios import generate_district
from canvas_observers.fake_canvas.server import bind_pair, port_of, serve_on, url_of
from canvas_observers.fake_canvas.state import FakeState

MAX_GENERATED_ROWS = 100_000  # the benchmark's largest district
LISTENING_PREFIX = "listening: "
"""Starts the line that gives the ports as JSON: {"url", "files_url", "port", "files_port"}."""


@click.command(
    "fake-canvas",
    cls=Command,
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
)
@listen_options(
    port=8900,
    lowest=0,
    risk="the fake Canvas has a well-known admin token and an unauthenticated side door "
    "(/__fake__/) that can rewrite its whole district, so anyone who can reach it owns it",
)
@click.option(
    "--files-port",
    default=None,
    type=click.IntRange(0, 65535),
    metavar="N",
    help="Port of the files origin that report downloads redirect to (Canvas's file store "
    "is another host); default: a free port, printed at start.",
)
@click.option(
    "--admin-token",
    default=DEFAULT_ADMIN_TOKEN,
    metavar="TOKEN",
    help="Bearer token of the account admin (it has every permission an admin token has).",
)
@click.option(
    "--latency-ms",
    default=0.0,
    type=click.FloatRange(min=0),
    metavar="MS",
    help="Delay added to every API request while it is in flight.",
)
@click.option(
    "--throttle/--no-throttle",
    default=True,
    help="Canvas's leaky-bucket throttle per token (600 high-water mark, 50 units reserved "
    "per request in flight, 10 units/s outflow).",
)
@click.option(
    "--throttle-status",
    default="429",
    type=click.Choice(["429", "403"]),
    help="Answer to a throttled request: 429 (hosted Canvas since 2025-10) or the plain-text "
    "'403 Forbidden (Rate Limit Exceeded)' of older Canvas.",
)
@click.option(
    "--request-cost",
    default=0.05,
    type=click.FloatRange(min=0),
    metavar="UNITS",
    help="Throttle units each finished request adds to its token's bucket.",
)
@click.option(
    "--fault-rate",
    default=0.0,
    type=click.FloatRange(0, 1),
    metavar="R",
    help="Share of API requests answered 500/502/503 before doing anything.",
)
@click.option(
    "--lost-response-rate",
    default=0.0,
    type=click.FloatRange(0, 1),
    metavar="R",
    help="Share of writes (POST/PUT/DELETE) that commit, then answer 502 or drop the "
    "connection, as a proxy timeout would.",
)
@click.option(
    "--seed",
    default=0,
    type=int,
    metavar="N",
    help="Seed of the injected faults and of the report rows' order, and of the district "
    "with --scenario generated.",
)
@click.option(
    "--forbidden-status",
    default="401",
    type=click.Choice(["401", "403"]),
    help="Status for 'authenticated but not allowed': 401 (Canvas default) or 403 (Canvas's "
    "api_auth_error_updates flag).",
)
@click.option(
    "--report-seconds",
    default=2.0,
    type=click.FloatRange(min=0),
    metavar="S",
    help="How long an account report (the provisioning report) runs before it is complete, "
    "plus 20 microseconds per CSV row.",
)
@click.option(
    "--admin-permissions",
    default=None,
    metavar="LIST",
    help="Give the admin token a custom admin role with only these comma-separated Canvas "
    f"permissions (default: all of {', '.join(sorted(ACCOUNT_ADMIN))}), to see what a "
    "limited role sees: no login_id without view_user_logins, no sis_user_id without "
    "read_sis or manage_sis, no email without read_email_addresses.",
)
@click.option(
    "--sso/--no-sso",
    default=False,
    help="Give the account single sign-on (a SAML provider next to Canvas's own): an "
    "unbound login with an SIS id then has a password Canvas manages, which its owner cannot "
    "set or reset.",
)
@click.option(
    "--scenario",
    default="empty",
    type=click.Choice(["demo", "empty", "generated"]),
    help="Start empty, with the demo district, or with a generated benchmark district of "
    "--rows roster rows (seeded by --seed); the roster is written to --roster-out.",
)
@click.option(
    "--rows",
    default=1000,
    type=click.IntRange(1, MAX_GENERATED_ROWS),
    metavar="N",
    help="Roster rows of the district made by --scenario generated.",
)
@click.option(
    "--roster-out",
    default=Path("demo-roster.csv"),
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    metavar="PATH",
    help="Where --scenario demo or generated writes the matching roster CSV.",
)
def fake_canvas(
    *,
    host: str,
    port: int,
    files_port: int | None,
    admin_token: str,
    latency_ms: float,
    throttle: bool,
    throttle_status: str,
    request_cost: float,
    fault_rate: float,
    lost_response_rate: float,
    seed: int,
    forbidden_status: str,
    report_seconds: float,
    admin_permissions: str | None,
    sso: bool,
    scenario: str,
    rows: int,
    roster_out: Path,
) -> None:
    """Serve the fake Canvas (a Canvas-faithful in-memory server) until Ctrl-C."""
    if not admin_token:
        raise click.UsageError("--admin-token must not be empty.")
    if files_port and files_port == port:
        raise click.UsageError("--files-port must differ from --port.")
    permissions = None
    if admin_permissions is not None:
        try:
            permissions = parse_permissions(admin_permissions.split(","))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--admin-permissions") from None
    try:
        canvas_sock, files_sock = bind_pair(host.strip("[]"), port, files_port)
    except OSError as exc:
        raise click.ClickException(str(exc)) from None
    port, files_port = port_of(canvas_sock), port_of(files_sock)
    config = FakeConfig(
        admin_token=admin_token,
        latency_ms=latency_ms,
        throttle=throttle,
        throttle_status=int(throttle_status),
        request_cost=request_cost,
        fault_rate=fault_rate,
        lost_response_rate=lost_response_rate,
        seed=seed,
        forbidden_status=int(forbidden_status),
        report_seconds=report_seconds,
        admin_permissions=permissions,
        sso=sso,
    )
    roster_text: str | None = None
    if scenario == "generated":
        state = FakeState(admin_token)
        roster_text = generate_district(state, rows=rows, seed=seed)
        app = create_app(config, state)
    else:
        app = create_app(config, scenario=scenario)
        roster_text = app.fake.demo_roster if scenario == "demo" else None
    url = url_of(host, port)
    click.echo(f"Fake Canvas at {url}")
    click.echo(f"Files origin (report downloads) at {url_of(host, files_port)}")
    click.echo(f"Admin token: {admin_token}")
    if roster_text is not None:
        try:
            roster_out.write_text(roster_text, encoding="utf-8")
        except OSError as exc:
            canvas_sock.close()
            files_sock.close()
            raise click.ClickException(
                f"cannot write --roster-out {roster_out}: {exc.strerror or exc}"
            ) from None
        label = "Demo" if scenario == "demo" else f"Generated ({rows} rows, seed {seed})"
        click.echo(f"{label} roster written to {roster_out.resolve()}")
        click.echo("Try:")
        click.echo(
            f"  CANVAS_URL={url} CANVAS_TOKEN={shlex.quote(admin_token)} "
            f"canvas-observers sync {shlex.quote(str(roster_out))}"
        )
    # One line for scripts and tests that start the fake on --port 0: the ports it got.
    files_url = url_of(host, files_port)
    listening = {"url": url, "files_url": files_url, "port": port, "files_port": files_port}
    click.echo(f"{LISTENING_PREFIX}{json.dumps(listening)}")
    click.echo("Press Ctrl-C to stop.")
    serve_on(app, host.strip("[]"), canvas_sock, files_sock)
