"""Pairing-code letters: the PDF a school prints and sends home, and the mail-merge CSV.

A letter is one page from a jinja2 template of its language (``templates/letters/``,
``letter.en.html.j2`` and ``letter.es.html.j2``; a district may put its own edited copies in a
folder of its own, ``templates``), autoescaped like every page of the report package.
weasyprint lays the HTML out as a PDF with the fonts shipped next to the templates (DejaVu:
Latin, Greek and Cyrillic; its monospace face tells 0 from O and 1 from l and I), and it may
read only local files and ``data:`` URLs, so a template can never make the tool fetch
anything from the network. The QR code (segno) is inline SVG holding the Canvas address only.

Both files hold live pairing codes: each is written owner-only, at once (core.files).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import cache
from importlib import resources
from pathlib import Path

import segno
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, TemplateNotFound
from markupsafe import Markup
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from canvas_observers.core.errors import CanvasObserversError
from canvas_observers.core.files import csv_safe, write_private, write_private_bytes
from canvas_observers.report.pages import environment

LANGUAGES = ("en", "es")
# What an SIS's language column may say, lower-cased, for each shipped template: codes
# (ISO 639-1 and -2, with a region: "es-MX"), and the language's name in English and in itself.
_LANGUAGE_NAMES = {
    "en": "en", "eng": "en", "english": "en", "inglés": "en", "ingles": "en",
    "es": "es", "spa": "es", "spanish": "es", "español": "es", "espanol": "es",
    "castellano": "es",
}  # fmt: skip
CSV_HEADER = (
    "student_id",
    "student_name",
    "guardian_name",
    "school",
    "language",
    "code",
    "expires",
    "canvas_url",
)
# How each kind of character is named when the code is spelled out under it.
_KINDS = {
    "en": {"upper": "capital", "lower": "small", "digit": "number"},
    "es": {"upper": "mayúscula", "lower": "minúscula", "digit": "número"},
}
_DATE_FORMAT = {"en": "%B %-d, %Y at %-I:%M %p", "es": "%d/%m/%Y, %H:%M"}


class LetterTemplateError(CanvasObserversError):
    """A letter template is missing or cannot be rendered: nothing was written."""


@dataclass(frozen=True, slots=True)
class Letter:
    """One page: a code for one guardian of one student. ``student_id`` is the roster's."""

    student_id: str
    student_name: str
    guardian_name: str
    school: str
    language: str
    code: str
    expires_at: datetime
    canvas_url: str


def template_language(value: str) -> str | None:
    """The shipped template for a roster's language value (``es``, ``Spanish``, ``Español``,
    ``es-MX``), or None when none fits."""
    key = value.strip().casefold()
    if key in _LANGUAGE_NAMES:
        return _LANGUAGE_NAMES[key]
    head = key.replace("_", "-").split("-", 1)[0].strip()
    return _LANGUAGE_NAMES.get(head)


def spelled(code: str, language: str) -> str:
    """The code character by character, saying which are capitals, small letters or numbers:
    read aloud over the phone or copied by hand, ``l`` and ``I`` stay apart."""
    kinds = _KINDS.get(language, _KINDS["en"])
    parts = []
    for char in code:
        kind = "digit" if char.isdigit() else "upper" if char.isupper() else "lower"
        parts.append(f"{char} {kinds[kind]}")
    return " · ".join(parts)


def local_expiry(expires_at: datetime, zone: tzinfo, language: str) -> str:
    """The expiry in the district's time, as its families read dates, with the zone's name."""
    local = expires_at.astimezone(zone)
    return f"{local.strftime(_DATE_FORMAT.get(language, _DATE_FORMAT['en']))} {local.tzname()}"


@cache
def _qr(address: str) -> Markup:
    # segno writes the SVG itself from the address's modules: no markup from data.
    return Markup(segno.make(address, error="m").svg_inline(scale=4, border=2))  # noqa: S704


def _folder() -> resources.abc.Traversable:
    return resources.files("canvas_observers.report") / "templates" / "letters"


def _environment(templates: Path | None) -> Environment:
    """The report pages' environment (autoescape, strict placeholders), the district's own
    letter templates first when it has some."""
    base = environment()
    loaders = [FileSystemLoader(str(templates))] if templates is not None else []
    package = base.loader
    assert package is not None
    return base.overlay(loader=ChoiceLoader([*loaders, FileSystemLoader(str(_folder())), package]))


def letters_html(letters: Sequence[Letter], *, zone: tzinfo, templates: Path | None = None) -> str:
    """The HTML of every letter, one section (one page) each."""
    pages = [
        {
            "school": letter.school,
            "student_name": letter.student_name,
            "guardian_name": letter.guardian_name,
            "code": letter.code,
            "spelled": spelled(letter.code, letter.language),
            "expires": local_expiry(letter.expires_at, zone, letter.language),
            "canvas_url": letter.canvas_url,
            "qr": _qr(letter.canvas_url),
            "language": letter.language,
        }
        for letter in letters
    ]
    style = Markup((_folder() / "letters.css").read_text(encoding="utf-8"))  # noqa: S704 - ours
    try:
        template = _environment(templates).get_template("letters.html.j2")
        return template.render(letters=pages, style=style, title="Canvas pairing codes")
    except TemplateNotFound as error:
        raise LetterTemplateError(f"no letter template {error.name}") from error
    except Exception as error:  # a district's edited template: say which, write nothing
        raise LetterTemplateError(f"the letter template cannot be used: {error}") from error


def letters_pdf(letters: Sequence[Letter], *, zone: tzinfo, templates: Path | None = None) -> bytes:
    """The PDF, laid out from the templates' folder (the fonts' ``url()`` are relative to it)."""
    html = letters_html(letters, zone=zone, templates=templates)
    with resources.as_file(_folder()) as folder:
        document = HTML(
            string=html,
            base_url=f"{folder.as_uri()}/",
            url_fetcher=URLFetcher(allowed_protocols=("file", "data")),
        )
        data = document.write_pdf()
    assert isinstance(data, bytes)
    return data


def write_letters_pdf(
    path: Path, letters: Sequence[Letter], *, zone: tzinfo, templates: Path | None = None
) -> None:
    write_private_bytes(path, letters_pdf(letters, zone=zone, templates=templates))


def codes_csv(letters: Sequence[Letter], *, zone: tzinfo) -> str:
    """The mail-merge file: one row per letter, cells a spreadsheet would run made text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for letter in letters:
        row = (
            letter.student_id,
            letter.student_name,
            letter.guardian_name,
            letter.school,
            letter.language,
            letter.code,
            local_expiry(letter.expires_at, zone, letter.language),
            letter.canvas_url,
        )
        writer.writerow([csv_safe(value) for value in row])
    return out.getvalue()


def write_codes_csv(path: Path, letters: Sequence[Letter], *, zone: tzinfo) -> None:
    write_private(path, codes_csv(letters, zone=zone), encoding="utf-8-sig")
