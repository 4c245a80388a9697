"""What every command shares: logging set-up, reading the token safely, one-line errors."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import stat
import sys
from pathlib import Path
from typing import IO, Any, NamedTuple, TypeVar, overload

import click
import cloup
import httpx
import stamina
from rich.console import Console

from canvas_observers.canvas.client import token_problem
from canvas_observers.canvas.errors import ConfigurationError
from canvas_observers.canvas.net import canonical_url, check_base_url
from canvas_observers.cli.exits import EXIT_STOPPED, Stopped
from canvas_observers.core.errors import CanvasObserversError
from canvas_observers.core.files import open_no_link, private_folder
from canvas_observers.core.redact import redact, spellings

LOG_LEVELS = ("debug", "info", "warning", "error")

SETTINGS_REFUSAL = (
    "the token itself never goes in a settings file (it is copied and shown around with "
    "them): put it in a file only you can read and set token_file, or set CANVAS_TOKEN"
)
SETTINGS_VALUES = "canvas_observers.settings_values"
"""``ctx.meta`` key: (the ``--config`` file, its string values by key), set by config.py."""


class Redactor(logging.Filter):
    """Replaces secrets in every log record, whatever logger it came from (defence in depth:
    no code of ours logs the token, but a library might log a header at DEBUG)."""

    def __init__(self, *secrets: str) -> None:
        super().__init__()
        self.secrets = tuple(form for secret in secrets for form in spellings(secret))

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = redact(message, self.secrets)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class UrlQueryRedactor(logging.Filter):
    """Drop the query of every URL httpx logs: a report file's signed URL (on the file store)
    carries its signature there, a credential as good as the token for that file."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.copy_with(query=b"redacted")
                if isinstance(arg, httpx.URL) and arg.query
                else arg
                for arg in record.args
            )
        return True


class HeldLines(logging.Handler):
    """``--quiet``'s stderr: warnings and errors are held until the command's exit code is
    known, then printed when it is not 0 and dropped when it is (cron mails whatever a job
    prints, so a night that needs nobody prints nothing; the log file keeps every line).

    After ``settle`` the handler passes records straight on (or keeps dropping them), so a
    line logged after the summary, like a webhook that failed, still follows the rule. At
    most ``limit`` lines are held; the rest are counted and pointed to the log file."""

    def __init__(self, target: logging.Handler, *, limit: int = 200) -> None:
        super().__init__(target.level)
        self.target = target
        self.limit = limit
        self.held: list[logging.LogRecord] = []
        self.more = 0
        self.settled: bool | None = None  # None: held; True: printing; False: dropping

    def emit(self, record: logging.LogRecord) -> None:
        if self.settled is None:
            if len(self.held) < self.limit:
                self.held.append(record)
            else:
                self.more += 1
        elif self.settled:
            self.target.handle(record)

    def settle(self, show: bool) -> None:
        """Print the held lines (``show``) or drop them; later lines go the same way."""
        if self.settled is not None:
            return
        self.settled = show
        if show:
            for record in self.held:
                self.target.handle(record)
            if self.more:
                self.target.handle(
                    logging.makeLogRecord(
                        {
                            "name": "canvas_observers",
                            "levelno": logging.WARNING,
                            "levelname": "WARNING",
                            "msg": f"and {self.more} more warnings: see the log file",
                        }
                    )
                )
        self.held.clear()


def settle_held_lines(exit_code: int) -> None:
    """Once a command's exit code is known: print ``--quiet``'s held warnings if it is not
    0, drop them if it is (HeldLines). Nothing to do without ``--quiet``."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, HeldLines):
            handler.settle(exit_code != 0)


RUN_LOG = "canvas_observers.run"
"""The logger of the run log: what a morning-after admin reads in ``--log-file``."""


def setup_logging(
    level: str,
    log_file: Path | None,
    *,
    secrets: tuple[str, ...] = (),
    console: bool = True,
    quiet: bool = False,
) -> None:
    """Log to stderr and to a file for cron; the token is redacted from every record.
    ``quiet``: stderr gets only warnings and errors, held until the exit code is known
    (HeldLines: none at all on exit 0)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.DEBUG if level == "debug" else logging.INFO)
    redactor = Redactor(*secrets)
    # Local time with its offset from UTC (``2026-09-01 02:14:05-0400``): the person reading a
    # night's log thinks in the school's time, and a log moved to another machine stays exact.
    fmt = logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%d %H:%M:%S%z"
    )
    handlers: list[logging.Handler] = []
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(max(getattr(logging, level.upper()), logging.WARNING * quiet))
        stream.setFormatter(fmt)
        # The run log's lines (start, rows needing a human, totals, end) are for the log file:
        # the terminal gets the same as the summary table.
        stream.addFilter(lambda record: not record.name.startswith(RUN_LOG))
        handlers.append(HeldLines(stream) if quiet else stream)
    if log_file is not None:
        file_handler = _log_file_handler(log_file)
        file_handler.setLevel(getattr(logging, level.upper()))
        file_handler.setFormatter(fmt)
        handlers.append(file_handler)
    for handler in handlers:
        handler.addFilter(redactor)
        handler.addFilter(UrlQueryRedactor())
        root.addHandler(handler)
    # stamina logs a bare "stamina.retry_scheduled" per retry; the client logs its own line
    # with the request, the cause and the wait instead (canvas/client.py).
    stamina.instrumentation.set_on_retry_hooks([])
    # httpx/httpcore narrate every request at INFO/DEBUG; keep them for --log-level debug only.
    noisy = logging.DEBUG if level == "debug" else logging.WARNING
    # weasyprint and fontTools (the letters' PDF) narrate each step at INFO.
    for name in (
        "httpx",
        "httpcore",
        "hpack",
        "uvicorn",
        "uvicorn.access",
        "weasyprint",
        "fontTools",
    ):
        logging.getLogger(name).setLevel(noisy)


class _PrivateLogFile(logging.FileHandler):
    """A FileHandler whose file is opened as ``open_no_link`` opens it: appended to, created
    0600, never through a symbolic link (a link planted at the log's path would have the run
    append to whatever file it names)."""

    def _open(self) -> io.TextIOWrapper:
        fd = open_no_link(
            Path(self.baseFilename),
            os.O_WRONLY | os.O_CREAT | os.O_APPEND,
            what="--log-file",
            fix="give the real file's path, or remove the link",
        )
        return open(fd, "a", encoding=self.encoding, errors=self.errors)


def _log_file_handler(log_file: Path) -> logging.FileHandler:
    """The log file's handler, its folder made owner-only if the tool makes it; a folder or
    file that cannot be used is one usage error naming the flag."""
    try:
        private_folder(log_file.parent if str(log_file.parent) else Path("."))
        return _PrivateLogFile(log_file, encoding="utf-8")
    except OSError as error:
        raise click.UsageError(
            f"cannot write --log-file {log_file}: {error.strerror or error}"
        ) from None


def read_token(token_file: Path | None) -> str:
    """The Canvas token from --token-file or CANVAS_TOKEN; never from a flag value."""
    if token_file is not None:
        try:
            info = token_file.stat()
            text = token_file.read_text(encoding="utf-8")
        except OSError as error:
            raise click.UsageError(
                f"cannot read --token-file {token_file}: {error.strerror}"
            ) from None
        except UnicodeDecodeError:
            raise click.UsageError(
                f"--token-file {token_file} is not text (not UTF-8): a Canvas token is letters, "
                "digits and ~; copy it again from Canvas"
            ) from None
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            click.echo(
                f"warning: {token_file} can be read by other users of this machine; "
                f"run: chmod 600 {token_file}",
                err=True,
            )
        token = text.strip()
        if not token:
            raise click.UsageError(f"--token-file {token_file} is empty")
        return _usable(token, f"--token-file {token_file}")
    token = os.environ.get("CANVAS_TOKEN", "").strip()
    if not token:
        raise click.UsageError(
            "no Canvas token: set CANVAS_TOKEN or pass --token-file PATH "
            "(a file readable only by you, holding the token)"
        )
    return _usable(token, "CANVAS_TOKEN")


def _not_in_settings(token: str) -> None:
    """The token must not be a value of the ``--config`` file, under whatever key (config.py
    refuses the ones it can know while reading the file: this catches the token a
    ``--token-file`` flag names)."""
    ctx = click.get_current_context(silent=True)
    found = ctx.meta.get(SETTINGS_VALUES) if ctx is not None else None
    if found is None:
        return
    path, values = found
    for key, texts in values.items():
        if any(holds_token(text, token) for text in texts):
            raise click.UsageError(
                f"--config {path}: {key}: holds the Canvas token; {SETTINGS_REFUSAL}"
            )


def holds_token(text: str, token: str) -> bool:
    """Whether a settings value holds the token: anywhere in it, or, for a token too short to
    be a real one (a test's ``abc``), as the whole value, so no word is taken for a token."""
    return token in text if len(token) >= 16 else text == token


def _usable(token: str, where: str) -> str:
    """A token copied with its header's ``Bearer `` would be sent as ``Bearer Bearer …``; one
    that an HTTP header cannot carry (a smart quote, a non-breaking space) is refused here, by
    where it came from, rather than by httpx with a traceback; so is one the settings file
    holds. No message repeats it."""
    if token[:7].lower() == "bearer ":
        raise click.UsageError(
            f"{where} starts with 'Bearer ': give the token alone, without 'Bearer ' "
            "(canvas-observers adds it)"
        )
    problem = token_problem(token)
    if problem:
        raise click.UsageError(f"{where} {problem}")
    _not_in_settings(token)
    return token


class Origin(NamedTuple):
    """Where a setting came from: ``kind`` is flag, environment, file or default; ``name``
    the flag, variable or key; ``path`` the settings file for ``file``."""

    kind: str
    name: str
    path: Path | None = None

    def __str__(self) -> str:
        if self.kind == "flag":
            return f"{self.name} on the command line"
        if self.kind == "environment":
            return f"the environment variable {self.name}"
        if self.kind == "file":
            return f"{self.name} in the settings file {self.path}"
        return "the default"

    def short(self) -> str:
        """For `config check`'s list: ``settings file /etc/x.toml`` and the like."""
        if self.kind == "flag":
            return "command line"
        if self.kind == "environment":
            return f"environment variable {self.name}"
        if self.kind == "file":
            key = f", {self.name}" if self.name.startswith("[") else ""
            return f"settings file {self.path}{key}"
        return "default"


def settings_file(ctx: click.Context) -> Path | None:
    """The ``--config`` file of this command, if it has one."""
    found = ctx.meta.get(SETTINGS_VALUES)
    return found[0] if found is not None else None


def origin(ctx: click.Context, name: str, flag: str, key: str, envvar: str = "") -> Origin:
    """Where parameter ``name`` (``flag`` on the command line, ``key`` in a settings file,
    ``envvar`` in the environment) got its value."""
    source = ctx.get_parameter_source(name)
    if source is click.core.ParameterSource.COMMANDLINE:
        return Origin("flag", flag)
    if source is click.core.ParameterSource.ENVIRONMENT:
        return Origin("environment", envvar)
    if source is click.core.ParameterSource.DEFAULT_MAP:
        return Origin("file", key, settings_file(ctx))
    return Origin("default", "")


def canvas_origins(ctx: click.Context) -> tuple[Origin, Origin]:
    """Where the Canvas URL and the token come from. Each is taken from the command line
    first, then the environment, then the settings file: ``CANVAS_TOKEN`` wins over a
    ``token_file`` of the settings file as ``CANVAS_URL`` wins over its ``canvas_url``."""
    url = origin(ctx, "canvas_url", "--canvas-url", "canvas_url", "CANVAS_URL")
    token = origin(ctx, "token_file", "--token-file", "token_file")
    if token.kind != "flag" and os.environ.get("CANVAS_TOKEN", "").strip():
        token = Origin("environment", "CANVAS_TOKEN")
    return url, token


def canvas_split(url: Origin, token: Origin) -> str | None:
    """Why a Canvas URL and a token from two places must not be used together, or None.

    Flags are deliberate and combine with either source; but a URL from the environment with
    a token from a settings file (or the other way round) is most often a leftover ``export``
    that would send the file's token to another Canvas, or a stale token sent in place of the
    file's. The message names both sources, never the token.
    """
    if {url.kind, token.kind} != {"environment", "file"}:
        return None
    from_env, other_env = (
        ("CANVAS_URL", "CANVAS_TOKEN")
        if url.kind == "environment"
        else ("CANVAS_TOKEN", "CANVAS_URL")
    )
    return (
        f"the Canvas URL comes from {url} but its token from {token}: nothing was sent. "
        f"Give both from one place: unset {from_env} so that the settings file gives both "
        f"(canvas_url and token_file), or set {other_env} too so that the environment gives "
        "both, or name one on the command line (--canvas-url URL or --token-file PATH)"
    )


def token_file_to_use(token_file: Path | None) -> Path | None:
    """The token file to read (None: ``CANVAS_TOKEN``), after refusing a Canvas URL and token
    from two places (``canvas_split``). When the environment overrides the settings file's
    Canvas URL or token file, one line on stderr says so."""
    ctx = click.get_current_context()
    url, token = canvas_origins(ctx)
    problem = canvas_split(url, token)
    if problem:
        raise click.UsageError(problem)
    path = settings_file(ctx)
    if path is not None:
        overridden = [
            f"{env} instead of {key}"
            for env, key, used in (
                ("CANVAS_URL", "canvas_url", url),
                ("CANVAS_TOKEN", "token_file", token),
            )
            if used.kind == "environment" and _sets(ctx, key)
        ]
        if overridden:
            click.echo(
                f"note: using {' and '.join(overridden)} of the settings file {path} "
                "(the environment wins over the settings file)",
                err=True,
            )
    return None if token.kind == "environment" else token_file


def _sets(ctx: click.Context, name: str) -> bool:
    """Whether the settings file sets parameter ``name`` for this command."""
    return name in (ctx.default_map or {})


def canvas_url_or_exit(canvas_url: str | None, *, allow_insecure: bool) -> str:
    """The Canvas URL, checked and in its one spelling, before anything is created or sent."""
    if not canvas_url:
        raise click.UsageError("no Canvas: pass --canvas-url URL or set CANVAS_URL")
    try:
        return canonical_url(check_base_url(canvas_url, allow_insecure=allow_insecure))
    except ConfigurationError as error:
        raise Stopped(error.message) from error


def ensure_folder(flag: str, path: Path) -> None:
    """Create the folder of an output file (owner-only, its new parents too) before anything is
    sent to Canvas, or refuse the run then: a journal or report must never fail to be written
    after the writes."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        private_folder(folder)
    except OSError as error:
        raise click.UsageError(
            f"{flag} {path}: cannot create the folder {folder}: {error.strerror}"
        ) from None
    if not os.access(folder, os.W_OK):
        raise click.UsageError(f"{flag} {path}: the folder {folder} is not writable")


def echo_error(message: str) -> None:
    """``error: MESSAGE`` on stderr; a reader that has gone (``2>&1 | head``) loses the line,
    never the exit code (click would turn the broken pipe into exit 1)."""
    try:
        click.echo(f"error: {message}", err=True)
    except BrokenPipeError:
        silence_broken_pipe(sys.stderr)


def silence_broken_pipe(stream: IO[str]) -> None:
    """Point a stream whose reader has gone at /dev/null, so neither later writes nor the
    flush at exit fail again (the way Python's documentation on SIGPIPE recommends)."""
    with contextlib.suppress(OSError, ValueError):  # no descriptor: a test's captured stream
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


class PipeConsole(Console):
    """A rich Console that goes quiet when its reader has gone (``sync ... | head``) instead of
    exiting 1 as rich does: the run's exit code is what cron and scripts read."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        silence_broken_pipe(self.file)


PLAIN_WIDTH = 80
"""The width of plain lines off a terminal when COLUMNS does not say: what a mail client shows
unwrapped (report/tables.py)."""

C = TypeVar("C", bound=Console)


@overload
def output_console() -> Console: ...
@overload
def output_console(cls: type[C]) -> C: ...
def output_console(cls: type[Console] = Console) -> Console:
    """A console for stdout, for tables (``report.tables``). Off a terminal its width is
    COLUMNS, else ``PLAIN_WIDTH``: rich would take the width of a terminal that stdin or stderr
    is on (``runs | mail`` typed in a wide window), and a mail is read at 80 columns."""
    console = cls()
    if not console.is_terminal:
        columns = os.environ.get("COLUMNS", "")
        console.width = int(columns) if columns.isdigit() and int(columns) > 0 else PLAIN_WIDTH
    return console


class Command(cloup.Command):
    """Every command's class (``@click.command(cls=Command)``), and the one place a command's
    outcome becomes an exit code (a cloup command, so ``--help`` can show its options in
    groups: ``options.help_groups``): an ``int`` the command returns is the exit code; a known
    failure (any ``CanvasObserversError``) is printed as one ``error:`` line (and said in the
    log file, once there is one) and exits 2 (exits.py)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
        except CanvasObserversError as error:
            if logging.getLogger().handlers:
                logging.getLogger(RUN_LOG).error("stopped: %s", error)
            settle_held_lines(EXIT_STOPPED)
            echo_error(str(error))
            ctx.exit(EXIT_STOPPED)
        except click.ClickException:
            settle_held_lines(EXIT_STOPPED)  # a usage error found while running: exit 2
            raise
        settle_held_lines(result if isinstance(result, int) else 0)
        if isinstance(result, int):
            ctx.exit(result)
        return result
