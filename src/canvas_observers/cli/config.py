"""``--config FILE``: a command's options from a TOML file; ``canvas-observers config check``.

A key is an option's long flag without the dashes (``pairing = "direct"``, ``remove-ended =
true``, ``report = "/var/log/canvas-observers/last.json"``); ``_`` and ``-`` are the same, so
``canvas_url`` and ``token_file`` read as ``--canvas-url`` and ``--token-file``. A repeatable
flag takes a list (``fail-on = ["failed", "conflict"]``), and ``column`` also a table
(``[column]`` then ``student_id = "Student ID"``). Relative paths are relative to the file's
folder. The token itself is refused: a settings file is copied and shown around far more than
a token file. So is any key that names a token, key or secret (``canvas_token``, ``api_key``,
``access_token``, ``password``...), and any value that holds the Canvas token (that of
``CANVAS_TOKEN`` or of the token file, or anything shaped like a Canvas token), whatever its
key: each is one error naming the file and the key, never the value. The token from a
``--token-file`` given on the command line is known only once the options are read, so
``read_token`` checks the file's values against it then (``common.SETTINGS_VALUES``).

The file fills click's ``default_map`` from an eager ``--config`` option, so what is given
wins in this order: the command line, then the environment (``CANVAS_URL``), then the file,
then the defaults. Every key is checked when the file is read, by the option's own type and
callback, and an unknown key, a wrong type or a bad value is a usage error (exit 2) naming
the file and the key.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from canvas_observers.cli.common import SETTINGS_REFUSAL, SETTINGS_VALUES, Command, holds_token
from canvas_observers.core.errors import CanvasObserversError

F = TypeVar("F", bound=Callable[..., Any])
CONFIGURABLE = ("sync", "export-sis", "audit")  # the commands that take --config
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


def read_config(path: Path, ctx: click.Context) -> dict[str, Any]:
    """The ``default_map`` a settings file gives ``ctx.command``; ConfigError if it is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    options = _options(ctx.command)
    folder = path.resolve().parent
    tokens = _known_tokens(data, folder)
    settings: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for key, value in data.items():
        name = key.replace("_", "-")
        try:
            _refuse_token(name)
            _refuse_token_value(value, tokens)
            option = options.get(name)
            if option is None:
                raise ConfigError(_unknown(ctx, options, name))
            if name in seen:
                raise ConfigError(f"set twice (also as {seen[name]!r})")
            seen[name] = key
            typed = _typed(option, name, value, folder)
            option.process_value(ctx, typed)  # the option's own type and callback
        except click.BadParameter as error:
            raise ConfigError(f"{path}: {key}: {error.message}") from None
        except ConfigError as error:
            raise ConfigError(f"{path}: {key}: {error}") from None
        assert option.name is not None  # every option here has a long flag
        settings[option.name] = typed
    # For read_token, which knows the token a --token-file flag names only later.
    ctx.meta[SETTINGS_VALUES] = (path, {key: list(_strings(v)) for key, v in data.items()})
    return settings


def _unknown(ctx: click.Context, options: dict[str, click.Option], name: str) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    root = ctx.find_root().command
    if not close and isinstance(root, click.Group):
        owners = [c for c in CONFIGURABLE if c in root.commands]
        elsewhere = [c for c in owners if name in _options(root.commands[c])]
        if elsewhere:
            hint = f" (it is one of `canvas-observers {elsewhere[0]}`)"
    return f"not an option of `canvas-observers {ctx.command.name}`{hint}"


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
        help="Read options from this TOML file: a key per long option, e.g. pairing = "
        '"direct", remove-ended = true, canvas_url, token_file (never the token). Flags '
        "given on the command line win. Check one with `canvas-observers config check`.",
    )(command)


@click.group("config")
def config() -> None:
    """Settings files for --config."""


@config.command("check", cls=Command)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--command",
    "command_name",
    type=click.Choice(CONFIGURABLE),
    default="sync",
    show_default=True,
    help="The command the file is for.",
)
@click.pass_context
def check(ctx: click.Context, file: Path, command_name: str) -> None:
    """Check a settings file and say what it sets (exit 0), or what is wrong (exit 2)."""
    root = ctx.find_root()
    assert isinstance(root.command, click.Group)
    command = root.command.commands[command_name]
    settings = read_config(file, click.Context(command, root, info_name=command_name))
    if not settings:
        click.echo(f"{file} is valid and sets nothing for `canvas-observers {command_name}`")
        return
    click.echo(f"{file} is valid; it sets, for `canvas-observers {command_name}`:")
    flags = {param.name: param.opts[0] for param in command.params}
    for name, value in settings.items():
        if isinstance(value, bool):
            click.echo(f"  {flags[name]}" if value else f"  {flags[name]}: off")
        else:
            click.echo(f"  {flags[name]} {', '.join(value) if isinstance(value, list) else value}")
