"""Self-contained HTML pages from the package's jinja2 templates (``report/templates``).

Every page extends ``layout.html.j2`` and may use ``macros.html.j2`` (a person with their
Canvas link, an outcome chart as inline SVG, a table of facts): the run report, the coverage
audit, and any later page (letters) share them. Autoescape is on for every template, so a
value from the roster, the journal or Canvas is always text; ``| code`` shows a text's
backquoted words as code after escaping it.

Each page carries a Content-Security-Policy that allows nothing but its own inline style and
its own inline script, by their SHA-256: it loads nothing from the network (no external asset,
works offline), and a value that slipped through escaping could still not run as a script.
The inline SVG chart needs neither a script nor a style attribute.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

STYLE = "page.css"
FILTER_SCRIPT = "filter.js"


def code(text: str) -> Markup:
    """Escape ``text`` and show its backquoted words as code."""
    # Safe: the text is escaped first; only the <code> tags added here are markup.
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))  # noqa: S704


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("canvas_observers.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["code"] = code
    return env


@cache
def asset(name: str) -> str:
    """A stylesheet or script shipped next to the templates, as text."""
    folder = resources.files("canvas_observers.report") / "templates"
    return (folder / name).read_text(encoding="utf-8")


def sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def content_security_policy(style: str, script: str) -> str:
    """Nothing but this inline style and this inline script (none if ``script`` is empty)."""
    scripts = f"'sha256-{sha256(script)}'" if script else "'none'"
    return (
        "default-src 'none'; "
        f"style-src 'sha256-{sha256(style)}'; "
        f"script-src {scripts}; "
        "base-uri 'none'; form-action 'none'"
    )


def render_page(template: str, *, script: str = "", **context: Any) -> str:
    """The page ``template`` with ``context``, its style, its script (an asset's name) and
    the policy that allows exactly those two."""
    style = asset(STYLE)
    code_text = asset(script) if script else ""
    # The package's own stylesheet and script (their hashes are the CSP's), never data.
    own = {"style": Markup(style), "script": Markup(code_text)}  # noqa: S704
    page = environment().get_template(template)
    return page.render(**own, csp=content_security_policy(style, code_text), **context)
