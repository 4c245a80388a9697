"""The flags several commands share, declared once: the Canvas and its token, the journal,
the report, the roster source, the outcome lists and the guardian-id template.

Each is a decorator; one that takes a ``help`` lets a command say what the flag means for it
(``--state`` is written by ``sync`` and only read by ``audit``). ``source_options`` hands the
command one ``source: SourceOptions`` value instead of seven flags.
"""

from __future__ import annotations

import codecs
import functools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar, cast

import click
from click.core import ParameterSource
from cloup import OptionGroup

from canvas_observers.canvas.net import is_loopback
from canvas_observers.cli.exits import Stopped
from canvas_observers.core.outcomes import Outcome
from canvas_observers.core.timezone import zone_named
from canvas_observers.roster.columns import parse_delimiter, parse_mapping
from canvas_observers.roster.sources import FORMATS, SourceOptions
from canvas_observers.sis_export import ExportError, check_template
from canvas_observers.store.journal import Journal

F = TypeVar("F", bound=Callable[..., Any])
OUTCOME_NAMES = [o.value for o in Outcome]


def apply_flags(command: F, flags: Iterable[Callable[[Any], Any]]) -> F:
    """Decorate ``command`` with ``flags``, the first flag first in ``--help``."""
    decorated: Any = command
    for flag in reversed(list(flags)):
        decorated = flag(decorated)
    return decorated  # type: ignore[no-any-return]


# -- --help's groups --------------------------------------------------------------------------


def help_groups(*groups: tuple[str, tuple[str, ...]]) -> Callable[[F], F]:
    """Show a command's options in ``--help`` under titled groups (cloup's option groups), each
    ``(title, (long flag, ...))``, groups and options in the order given; ``--config`` and
    ``--help`` stay last, under "Other options".

    The groups are a view of each command's own: a shared flag (``--state``) may sit under
    "Journal" for one command and "Reports and journal" for another, and a flag keeps its
    declaration where it is. Put this decorator right under ``@click.command``; a flag named
    here that the command lacks, or named twice, is an error when the module is imported.
    """

    def decorate(command: F) -> F:
        params: list[click.Parameter] = getattr(command, "__click_params__", [])
        declared = list(reversed(params))  # click keeps them last-decorator-first
        by_flag = {opt: p for p in declared if isinstance(p, click.Option) for opt in p.opts}
        grouped: list[click.Parameter] = []
        for title, flags in groups:
            group = OptionGroup(title)
            for flag in flags:
                option = by_flag.get(flag)
                if option is None or option in grouped:
                    why = "twice" if option is not None else "but the command has no such flag"
                    raise ValueError(f"help_groups: {flag} named under {title!r} {why}")
                option.group = group  # type: ignore[attr-defined]  # as cloup.option(group=) sets
                grouped.append(option)
        arguments = [p for p in declared if not isinstance(p, click.Option)]
        rest = [p for p in declared if isinstance(p, click.Option) and p not in grouped]
        params[:] = list(reversed([*arguments, *grouped, *rest]))
        return command

    return decorate


# The groups several commands show their shared flags in.
CANVAS_GROUP = ("--canvas-url", "--token-file", "--allow-insecure-http")
ROSTER_FILE_GROUP = ("--format", "--encoding", "--delimiter", "--column", "--sheet")
ONEROSTER_SDS_GROUP = ("--guardian-roles", "--student-id-field", "--legal-names")
ROSTER_GROUPS = (
    ("Roster file (ROSTER)", ROSTER_FILE_GROUP),
    ("OneRoster and SDS rosters, files or API", ONEROSTER_SDS_GROUP),
    (
        "OneRoster API, instead of a ROSTER file",
        (
            "--oneroster-api",
            "--client-id",
            "--client-secret-file",
            "--token-url",
            "--client-auth",
            "--scope",
            "--oneroster-version",
        ),
    ),
)
"""The groups of ``source_options`` and ``roster_input.api_options``, in that order."""


# -- Canvas -----------------------------------------------------------------------------------


def canvas_url_option(
    help: str = "Your Canvas, e.g. https://school.instructure.com (or set CANVAS_URL).",
) -> Callable[[F], F]:
    """``--canvas-url URL`` (or ``CANVAS_URL``)."""
    return click.option("--canvas-url", envvar="CANVAS_URL", metavar="URL", help=help)


def canvas_options(command: F) -> F:
    """``--canvas-url``, ``--token-file`` and ``--allow-insecure-http``: how to reach Canvas."""
    return apply_flags(
        command,
        (
            canvas_url_option(),
            click.option(
                "--token-file",
                type=click.Path(path_type=Path),
                metavar="PATH",
                help="File holding the API token (readable only by you). Default: the "
                "CANVAS_TOKEN environment variable. There is no flag for the token itself: "
                "it would show in process lists and shell history.",
            ),
            click.option(
                "--allow-insecure-http",
                is_flag=True,
                help="Allow http:// to a Canvas that is not on this machine (sends the token "
                "in clear text; for test servers only).",
            ),
        ),
    )


def state_option(help: str) -> Callable[[F], F]:
    """``--state PATH``: the SQLite journal (what it is for, in ``help``)."""
    return click.option(
        "--state",
        "state_path",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="PATH",
        help=help,
    )


def report_option(help: str) -> Callable[[F], F]:
    """``--report PATH``: a report file, its format chosen by the extension."""
    return click.option(
        "--report",
        "report_path",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="PATH",
        help=help,
    )


report_timeout_option = click.option(
    "--report-timeout",
    default=1800.0,
    show_default=True,
    type=click.FloatRange(min=1),
    metavar="SECONDS",
    help="How long to wait for Canvas's provisioning report (a queued job) before giving up on it.",
)


def _time_zone(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """``--time-zone``: an IANA or Rails zone name, checked here; None when not given."""
    if value is None or not value.strip():
        return None
    try:
        zone_named(value)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--time-zone") from None
    return value.strip()


def time_zone_option(help: str) -> Callable[[F], F]:
    """``--time-zone ZONE`` (settings key ``time_zone``): the zone a page gives times in."""
    return click.option("--time-zone", metavar="ZONE", callback=_time_zone, default=None, help=help)


# -- outcomes and guardian ids ----------------------------------------------------------------


def outcome_list(values: Iterable[str], *, param_hint: str) -> tuple[str, ...]:
    """Outcome names given repeatedly or comma-separated; a bad one is a usage error (exit 2)."""
    names = [v.strip() for value in values for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in OUTCOME_NAMES]
    if unknown:
        raise click.BadParameter(
            f"unknown outcome {', '.join(unknown)} (known: {', '.join(OUTCOME_NAMES)})",
            param_hint=param_hint,
        )
    return tuple(dict.fromkeys(names))


def outcomes_option(flag: str, dest: str, help: str) -> Callable[[F], F]:
    """A repeatable flag of outcome names (``OUTCOME[,OUTCOME...]``), checked as given."""
    return click.option(
        flag,
        dest,
        multiple=True,
        metavar="OUTCOME[,OUTCOME...]",
        callback=lambda _ctx, _param, values: outcome_list(values, param_hint=flag),
        help=help,
    )


def _template(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        check_template(value)
    except ExportError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


def observer_id_template_option(help: str) -> Callable[[F], F]:
    """``--observer-id-template``: ``{email}`` and/or ``{sourcedId}``, checked as given."""
    return click.option(
        "--observer-id-template",
        default="{email}",
        show_default=True,
        callback=_template,
        help=help,
    )


# -- the roster source ------------------------------------------------------------------------


def _roles(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    roles = tuple(r.strip().lower() for r in value.split(",") if r.strip())
    if not roles:
        raise click.BadParameter("name at least one role, e.g. parent,guardian")
    return roles


def _encoding(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        codecs.lookup(value)
    except LookupError:
        raise click.BadParameter(f"unknown encoding {value!r} (try utf-8, cp1252)") from None
    return value


def _column(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """``--column`` flags add to the settings file's ``[column]`` table rather than replace it
    (a flag for a column the file maps wins): a one-off header fix keeps the file's others."""
    try:
        mapping = parse_mapping(values)
        from_file = (ctx.default_map or {}).get(param.name or "")
        if from_file and ctx.get_parameter_source(param.name or "") is ParameterSource.COMMANDLINE:
            mapping = {**parse_mapping(from_file), **mapping}
        return tuple(mapping.items())
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _delimiter(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        return parse_delimiter(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


_SOURCE_FLAGS = (
    click.option(
        "--format",
        "source_format",
        type=click.Choice(FORMATS),
        default=None,
        help="Roster format: csv (four columns), oneroster (1.1/1.2 folder, zip or "
        "users.csv) or sds (School Data Sync v2.1). Default: detected. See docs/oneroster.md.",
    ),
    click.option(
        "--guardian-roles",
        default="parent,guardian",
        show_default=True,
        callback=_roles,
        help="OneRoster/SDS roles that count as guardians, comma-separated "
        "(add relative only if relatives should see grades).",
    ),
    click.option(
        "--student-id-field",
        default="identifier",
        show_default=True,
        help="OneRoster/SDS field used as the student's Canvas SIS id: identifier (falls "
        "back to username), username, sourcedId, email, or a userIds type like {SIS}.",
    ),
    click.option(
        "--legal-names",
        is_flag=True,
        help="OneRoster 1.2: use givenName/familyName even where "
        "preferredGivenName/preferredFamilyName are given.",
    ),
    click.option(
        "--encoding",
        default="utf-8",
        show_default=True,
        callback=_encoding,
        help="Text encoding of the roster files (e.g. cp1252, utf-16).",
    ),
    click.option(
        "--column",
        "columns",
        multiple=True,
        metavar="NAME=HEADER",
        callback=_column,
        help="Four-column CSV: the file's own header for a roster column, e.g. "
        "--column 'student_id=Student ID' --column 'observer_email=Parent Email' (repeat "
        "per column; guardian_id too). Adds to a settings file's [column] table. OneRoster "
        "and SDS ignore it.",
    ),
    click.option(
        "--delimiter",
        default=",",
        show_default=True,
        callback=_delimiter,
        help="Four-column CSV: the separator, ',' or ';' or a tab ('\\t' or tab). OneRoster "
        "and SDS ignore it.",
    ),
    click.option(
        "--sheet",
        metavar="NAME",
        default=None,
        help="Excel roster (.xlsx): the sheet to read. Default: the first sheet.",
    ),
)


def source_options(command: F) -> F:
    """Add the roster-source flags to a click command; it receives ``source: SourceOptions``."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["source"] = SourceOptions(
            format=kwargs.pop("source_format"),
            guardian_roles=kwargs.pop("guardian_roles"),
            student_id_field=kwargs.pop("student_id_field"),
            prefer_preferred_names=not kwargs.pop("legal_names"),
            encoding=kwargs.pop("encoding"),
            columns=kwargs.pop("columns"),
            delimiter=kwargs.pop("delimiter"),
            sheet=kwargs.pop("sheet"),
        )
        return command(*args, **kwargs)

    return apply_flags(cast(F, wrapper), _SOURCE_FLAGS)


# -- a run of the journal ------------------------------------------------------------------------

LAST_RUN = "last"


class RunParam(click.ParamType[int | str, Any]):
    """``RUN``: a run's id from `canvas-observers runs`, or ``last`` for the latest run."""

    name = "run"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> int | str:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if text.lower() == LAST_RUN:
            return LAST_RUN
        try:
            return int(text)
        except ValueError:
            self.fail(
                f"{value!r} is not a run: give its number from `canvas-observers runs`, or last",
                param,
                ctx,
            )


def run_argument(command: F) -> F:
    """The ``RUN`` argument (``run_id``: an int, or ``LAST_RUN``); ``run_number`` resolves it."""
    return click.argument("run_id", metavar="RUN", type=RunParam())(command)


def run_number(journal: Journal, run: int | str, path: Path) -> int:
    """The id ``RUN`` names: itself, or for ``last`` the journal's latest run; ``Stopped`` when
    the journal has no run at all."""
    if isinstance(run, int):
        return run
    latest = journal.list_runs(limit=1)
    if not latest:
        raise Stopped(f"no run recorded yet in {path}, so there is no last run")
    return latest[0].id


# -- the fakes' listening address ---------------------------------------------------------------


def listen_options(*, port: int, risk: str, lowest: int = 1) -> Callable[[F], F]:
    """``--host``, ``--allow-remote`` and ``--port`` for a fake server. A host that is not
    loopback is refused unless ``--allow-remote`` is given, saying ``risk`` (why exposing the
    fake is dangerous); the command receives ``host`` and ``port`` only. ``lowest=0`` lets
    ``--port 0`` ask for a free port."""

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            host, allow_remote = kwargs["host"], kwargs.pop("allow_remote")
            if not is_loopback(host) and not allow_remote:
                raise click.UsageError(
                    f"--host {host} is not a loopback address; {risk}, so it binds loopback "
                    "only unless you also pass --allow-remote."
                )
            return command(*args, **kwargs)

        flags = (
            click.option(
                "--host", default="127.0.0.1", help="Address to listen on (loopback only)."
            ),
            click.option(
                "--allow-remote",
                is_flag=True,
                help=f"Allow a non-loopback --host: {risk}; expose it only on a network you trust.",
            ),
            click.option(
                "--port",
                default=port,
                type=click.IntRange(lowest, 65535),
                help="Port to listen on" + (" (0: a free one)." if lowest == 0 else "."),
            ),
        )
        return apply_flags(cast(F, wrapper), flags)

    return decorate
