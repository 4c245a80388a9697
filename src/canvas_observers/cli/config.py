"""``--config FILE``: a command's options from a TOML file; ``canvas-observers config check``.

One file serves every command (``sync``, ``audit``, ``runs``, ``show``, ``undo``,
``export-sis``, ``forget-guardian``): each takes the keys it has an option for and ignores
the others, so the nightly sync's file also tells ``runs`` and ``audit`` where the journal
and the Canvas are. A key no command knows is an error naming the closest known key. A key
is an option's long flag without the dashes (``pairing = "direct"``, ``remove-ended =
true``); ``_`` and ``-`` are the same, so ``canvas_url`` and ``token_file`` read as
``--canvas-url`` and ``--token-file``. A repeatable flag takes a list (``fail-on =
["failed", "conflict"]``), and ``column`` also a table (``[column]`` then ``student_id =
"Student ID"``). A table named for a command (``[audit]``) holds keys for that command only,
and wins over the same key above the tables; a top-level ``report`` is the sync's (the
audit writes a different report: its own goes under ``[audit]``). Relative paths are
relative to the file's folder.

The token itself is refused: a settings file is copied and shown around far more than a
token file. So is any key that names a token, key or secret (``canvas_token``, ``api_key``,
``access_token``, ``password``...), and any value that holds the Canvas token (that of
``CANVAS_TOKEN`` or of the token file, or anything shaped like a Canvas token), whatever its
key: each is one error naming the file and the key, never the value. The token from a
``--token-file`` given on the command line is known only once the options are read, so
``read_token`` checks the file's values against it then (``common.SETTINGS_VALUES``).

The file fills click's ``default_map`` from an eager ``--config`` option, so what is given
wins in this order: the command line, then the environment (``CANVAS_URL``, and
``CANVAS_TOKEN`` over ``token_file``), then the file, then the defaults; a Canvas URL and a
token from the environment and the file, one each, are refused (``common.canvas_split``).
Every key is checked when the file is read, by the option's own type and callback, and a
wrong type or a bad value is a usage error (exit 2) naming the file and the key.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tomllib
from collections.abc import Callable, Iterable, Iterator
from copy import copy as shallow_copy
from pathlib import Path
from typing import Any, TypeVar

import click

from canvas_observers.canvas.client import token_problem
from canvas_observers.cli.common import (
    SETTINGS_REFUSAL,
    SETTINGS_VALUES,
    Command,
    Origin,
    canvas_origins,
    canvas_split,
    echo_error,
    holds_token,
    origin,
)
from canvas_observers.cli.exits import EXIT_STOPPED
from canvas_observers.core.errors import CanvasObserversError

F = TypeVar("F", bound=Callable[..., Any])
# The commands that take --config, all from one file.
CONFIGURABLE = ("sync", "audit", "runs", "show", "letters", "undo", "export-sis", "forget-guardian")
# Top-level keys only one command takes, though another has the option: the audit's report
# is not the sync's (it goes under [audit]).
_ONE_COMMAND = {"report": "sync"}
SETTINGS_KEYS = "canvas_observers.settings_keys"
"""``ctx.meta`` key: option name -> the key that set it (``report``, ``[audit] report``)."""
_NOT_KEYS = frozenset({"config", "help", "version"})
_TOML_TYPES = {bool: "true or false", int: "a number", float: "a number", str: "a string"}


class ConfigError(CanvasObserversError):
    """A settings file that cannot be used; the message names the file and, if any, the key."""


def _options(command: click.Command) -> dict[str, click.Option]:
    """Long flag (without dashes) -> option, for every option a file may set."""
    found: dict[str, click.Option] = {}
    for param in command.params:
        if isinstance(param, click.Option):
            for opt in param.opts:
                if opt.startswith("--") and opt[2:] not in _NOT_KEYS:
                    found[opt[2:]] = param
    return found


def _shown(value: object) -> str:
    kind = {bool: "true/false", int: "number", float: "number", str: "string"}
    return f"{kind.get(type(value), 'table' if isinstance(value, dict) else 'list')} {value!r}"


def _typed(option: click.Option, key: str, value: Any, folder: Path) -> Any:
    """``value`` as the TOML type the option takes (paths made relative to ``folder``)."""
    if option.multiple:
        if key == "column" and isinstance(value, dict):
            value = [f"{name}={header}" for name, header in value.items()]
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in values):
            raise ConfigError(f"expected a string or a list of strings, got {_shown(value)}")
        return [_path(option, v, folder) for v in values]
    if option.is_flag:
        wanted: tuple[type, ...] = (bool,)
    elif isinstance(option.type, click.types.IntParamType):
        wanted = (int,)
    elif isinstance(option.type, click.types.FloatParamType):
        wanted = (int, float)
    else:
        wanted = (str,)
    if not isinstance(value, wanted) or (isinstance(value, bool) and bool not in wanted):
        raise ConfigError(f"expected {_TOML_TYPES[wanted[0]]}, got {_shown(value)}")
    return _path(option, value, folder) if isinstance(value, str) else value


def _path(option: click.Option, value: str, folder: Path) -> str:
    if not isinstance(option.type, click.Path) or not value:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else folder / path)


# Keys that name the token, or another secret (whole words of the key, or these anywhere in
# it): never an option, so refused with the words that say where the value goes instead.
_TOKEN_WORDS = frozenset({"key", "apikey", "bearer"})
_SECRET_WORDS = frozenset({"pass", "passwd", "pwd", "credential", "credentials"})
_NOT_SECRETS = frozenset({"token-file", "token-url", "client-secret-file"})
_OTHER_REFUSAL = (
    "a secret never goes in a settings file (it is copied and shown around with them): put "
    "it in a file only you can read and name the file (token_file for the Canvas token, "
    "client-secret-file for the SIS's client secret)"
)
# A Canvas access token: the shard's number, a tilde, then 64 letters and digits (older ones
# are shorter); anything this shape in a settings file is taken for one.
_CANVAS_TOKEN_SHAPE = re.compile(r"(?<![A-Za-z0-9])\d{1,6}~[A-Za-z0-9]{24,}")


def _refuse_token(name: str) -> None:
    """A key that names a token, key or secret: the value is refused unseen, whatever it is."""
    if name in _NOT_SECRETS:
        return
    words = set(name.split("-"))
    if "token" in name or words & _TOKEN_WORDS:
        raise ConfigError(SETTINGS_REFUSAL)
    if "secret" in name or "password" in name or words & _SECRET_WORDS:
        raise ConfigError(_OTHER_REFUSAL)


def _strings(value: Any) -> Iterator[str]:
    """Every string in a TOML value (lists and tables included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def _known_tokens(data: dict[str, Any], folder: Path) -> list[str]:
    """The Canvas token as far as it is known while the file is read: ``CANVAS_TOKEN``, and
    the token file the settings name (a file that cannot be read is said later, by the run)."""
    tokens = [os.environ.get("CANVAS_TOKEN", "").strip()]
    for key, value in data.items():
        if key.replace("_", "-") == "token-file" and isinstance(value, str) and value:
            path = Path(value).expanduser()
            try:
                text = (path if path.is_absolute() else folder / path).read_text("utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            tokens.append(text.strip())
    return [token for token in tokens if token]


def _refuse_token_value(value: Any, tokens: list[str]) -> None:
    """A value holding the token (or shaped like one) is refused before any check that would
    repeat it in a message (a wrong choice, a path that does not exist)."""
    for text in _strings(value):
        if any(holds_token(text, token) for token in tokens) or _CANVAS_TOKEN_SHAPE.search(text):
            raise ConfigError(f"holds the Canvas token; {SETTINGS_REFUSAL}")


def _commands(ctx: click.Context) -> dict[str, click.Command]:
    """The commands a settings file serves, by name; ``ctx.command`` stands for its own."""
    root = ctx.find_root().command
    found = {}
    if isinstance(root, click.Group):
        found = {name: root.commands[name] for name in CONFIGURABLE if name in root.commands}
    if ctx.command.name is not None:
        found[ctx.command.name] = ctx.command
    return found


def read_config(path: Path, ctx: click.Context) -> dict[str, Any]:
    """The ``default_map`` a settings file gives ``ctx.command``; ConfigError if it is wrong.

    Every key is checked, whichever command it is for (one file serves them all, and a
    wrong value should show on the first command run with it, not on the night the one
    command that uses it runs); the command takes the keys it has and ignores the others.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    commands = _commands(ctx)
    this = ctx.command.name or ""
    folder = path.resolve().parent
    tokens = _known_tokens(data, folder)
    contexts = {name: ctx if name == this else click.Context(command, parent=ctx.find_root(),
                info_name=name) for name, command in commands.items()}  # fmt: skip
    settings: dict[str, Any] = {}
    keys: dict[str, str] = {}  # option name -> the key as the file writes it, for config check

    def take(key: str, value: Any, table: str | None, seen: dict[str, str]) -> None:
        name = key.replace("_", "-")
        where = f"[{table}] {key}" if table else key
        try:
            _refuse_token(name)
            _refuse_token_value(value, tokens)
            owners = [c for c in ([table] if table else commands) if name in _options(commands[c])]
            if not owners:
                raise ConfigError(_unknown(commands, name, table))
            if name in seen:
                raise ConfigError(f"set twice (also as {seen[name]!r})")
            seen[name] = key
            target = this if this in owners else owners[0]
            option = _options(commands[target])[name]
            typed = _typed(option, name, value, folder)
            option.process_value(contexts[target], typed)  # the option's own type and callback
        except click.BadParameter as error:
            raise ConfigError(f"{path}: {where}: {error.message}") from None
        except ConfigError as error:
            raise ConfigError(f"{path}: {where}: {error}") from None
        if target == this and (table or _ONE_COMMAND.get(name, this) == this):
            assert option.name is not None  # every option here has a long flag
            settings[option.name] = typed
            keys[option.name] = where

    top: dict[str, str] = {}
    tables = {}
    for key, value in data.items():
        if key.replace("_", "-") in commands and isinstance(value, dict):
            tables[key.replace("_", "-")] = value
        else:
            take(key, value, None, top)
    for table, values in tables.items():  # after the top level: a command's own table wins
        seen: dict[str, str] = {}
        for key, value in values.items():
            take(key, value, table, seen)
    # For read_token, which knows the token a --token-file flag names only later.
    ctx.meta[SETTINGS_VALUES] = (path, {key: list(_strings(v)) for key, v in data.items()})
    ctx.meta[SETTINGS_KEYS] = keys
    return settings


def _unknown(commands: dict[str, click.Command], name: str, table: str | None) -> str:
    """An unknown key: the known key (or command table) closest to it, or the command that has
    it when it is in another command's table."""
    if table is not None:
        known: Iterable[str] = _options(commands[table])
    else:
        known = {key for command in commands.values() for key in _options(command)} | set(commands)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    if table is None:
        return f"no command has this option{hint}"
    elsewhere = [c for c, command in commands.items() if name in _options(command)]
    if not close and elsewhere:
        hint = f" (it is one of `canvas-observers {elsewhere[0]}`: put it above the tables)"
    return f"not an option of `canvas-observers {table}`{hint}"


def _load(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is None:
        return
    try:
        settings = read_config(value, ctx)
    except ConfigError as error:
        raise click.UsageError(f"--config {error}", ctx=ctx) from None
    ctx.default_map = {**(ctx.default_map or {}), **settings}


def config_option(command: F) -> F:
    """Add ``--config FILE`` to a command: the file's settings become its defaults."""
    return click.option(
        "--config",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="FILE",
        is_eager=True,
        expose_value=False,
        callback=_load,
        help="Read options from this TOML file (one file serves every command; each takes the "
        'keys it has): a key per long option, e.g. pairing = "direct", canvas_url, token_file '
        "(never the token). Flags given on the command line win. Check one with "
        "`canvas-observers config check FILE`.",
    )(command)


@click.group("config")
def config() -> None:
    """Settings files for --config."""


@config.command("check", cls=Command, context_settings={"ignore_unknown_options": True})
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--command",
    "command_name",
    type=click.Choice(CONFIGURABLE),
    default="sync",
    show_default=True,
    help="The command whose settings to show.",
)
@click.argument("flags", nargs=-1, type=click.UNPROCESSED, metavar="[FLAGS]...")
@click.pass_context
def check(ctx: click.Context, file: Path, command_name: str, flags: tuple[str, ...]) -> int:
    """Check a settings file and show every setting of a command with it, and where each comes
    from: a flag, the environment, the file, or the default. FLAGS are the command's own, as
    you would give them (`config check sync.toml -- --pairing code`). The token is shown
    only as set or not; its file is checked.

    Exit codes: 0 all is well; 1 a warning (no Canvas URL or token here, a token file others
    can read); 2 the file or the settings are wrong (said in one line each).
    """
    commands = _commands(ctx)
    command = commands[command_name]
    # Every key checked first: a wrong file is one error line naming the file and the key.
    read_config(file, click.Context(command, parent=ctx.find_root(), info_name=command_name))
    # The command's options as a run would resolve them, none required (`export-sis --out`
    # may come later), nothing run.
    probe = click.Command(command_name, params=[_optional(param) for param in command.params])
    resolved = probe.make_context(command_name, ["--config", str(file), *flags], parent=ctx)
    keys: dict[str, str] = ctx.meta.get(SETTINGS_KEYS, {})
    click.echo(f"{file} is valid. The settings of `canvas-observers {command_name}` with it:")
    problems: list[str] = []
    warnings: list[str] = []
    for param in command.params:
        if not isinstance(param, click.Option) or param.name in (None, "token_file"):
            continue
        if param.opts[0] == "--config":
            continue
        assert param.name is not None
        envvar = param.envvar if isinstance(param.envvar, str) else ""
        where = origin(resolved, param.name, "", keys.get(param.name, ""), envvar)
        click.echo(
            f"  {param.opts[0]:<24} {_value(resolved.params[param.name])}  ({where.short()})"
        )
    if "token_file" in resolved.params:
        url, token = canvas_origins(resolved)
        click.echo(f"  {'token':<24} {_token_line(resolved, token, problems, warnings)}")
        if not resolved.params.get("canvas_url"):
            warnings.append("no Canvas: set canvas_url in the file, or CANVAS_URL, or --canvas-url")
        split = canvas_split(url, token)
        if split:
            problems.append(split)
    ignored = sorted(set(_file_keys(file)) - set(keys.values()) - set(commands))
    if ignored:
        click.echo(f"Not used by `canvas-observers {command_name}`: {', '.join(ignored)}")
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    for problem in problems:
        echo_error(problem)
    return EXIT_STOPPED if problems else int(bool(warnings))


def _optional(param: click.Parameter) -> click.Parameter:
    copy = shallow_copy(param)
    copy.required = False
    return copy


def _file_keys(file: Path) -> list[str]:
    """The top-level keys of a file read already."""
    return list(tomllib.loads(file.read_text(encoding="utf-8")))


def _value(value: object) -> str:
    """A resolved option as `config check` shows it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "not set"
    if isinstance(value, tuple | list):
        if not value:
            return "none"
        return ", ".join("=".join(v) if isinstance(v, tuple) else str(v) for v in value)
    return str(value)


def _token_line(ctx: click.Context, token: Origin, problems: list[str], warnings: list[str]) -> str:
    """``set (from …)`` or ``not set``; the token file checked as a run would read it (never
    the token: only whether it is there and who may read it)."""
    if token.kind == "environment":
        return f"set (from {token})"
    if token.kind == "default":  # CANVAS_TOKEN may be set where the command runs
        warnings.append(
            "no Canvas token: set token_file in the file, or CANVAS_TOKEN, or pass --token-file"
        )
        return "not set"
    path: Path = ctx.params["token_file"]
    try:
        info = path.stat()
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        problems.append(f"the token file {path} ({token}) does not exist")
        return f"not set ({token}: {path} does not exist)"
    except OSError as error:
        problems.append(f"cannot read the token file {path} ({token}): {error.strerror}")
        return f"not set ({token}: {path} cannot be read)"
    except UnicodeDecodeError:
        problems.append(f"the token file {path} is not text (not UTF-8)")
        return f"not set ({token}: {path} is not text)"
    if not text:
        problems.append(f"the token file {path} ({token}) is empty")
        return f"not set ({token}: {path} is empty)"
    problem = token_problem(text)
    if problem:
        problems.append(f"the token file {path} {problem}")
    if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.append(
            f"the token file {path} can be read by other users of this machine; "
            f"run: chmod 600 {path}"
        )
    return f"set (from {token}: {path})"
