"""The tables commands print: a rich table on a terminal, plain lines everywhere else.

On a terminal a listing is a table that fits the terminal's width, an 80-column one too: a
rule under the headings and none around the edges (the width goes to the values), long values
folded inside their column, never cut. Anywhere else (a pipe, a file, cron's mail) there is no
box drawing at all: the title on a line of its own, then one line per row of labelled fields
separated by `` · `` (``line 4 · student S1 · outcome failed · detail …``), wrapped at the
console's width (the CLI's ``output_console`` makes it COLUMNS, else 80) with continuation
lines indented, so a mail client shows it as written and ``grep`` finds a row by any of its
values. ``--json`` outputs are documents, not listings, and never come here.

A command builds a ``Listing`` (its columns, then a row at a time) and calls ``print_listing``;
a key/value block (``show``'s header) is ``print_facts``. Cells are ``Text`` or plain strings,
never read as rich markup: roster names and emails are whatever the SIS exported.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

SEPARATOR = " · "
_KEEP = "\u00a0"  # a space a wrap never breaks: a label and its value, " ·" and its field
_INDENT = "    "


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its ``heading`` on a terminal (a line break allowed), its ``label`` in plain
    lines (default: the heading on one line). ``wrap=False`` keeps a short value (an id, a
    time, an outcome name) on one line on a terminal; the others fold to fit."""

    heading: str
    label: str = ""
    justify: Literal["left", "right"] = "left"
    wrap: bool = True

    @property
    def plain_label(self) -> str:
        return self.label or " ".join(self.heading.split())


@dataclass(slots=True)
class Listing:
    """A titled list of rows, printed by ``print_listing`` as a table or as plain lines.

    ``labelled=False`` prints a plain row as its values alone (``created 3``), for a
    two-column list of names and counts. ``footer`` is a last row set apart (a total).
    """

    title: str | Text | None
    columns: Sequence[Column]
    caption: str | Text | None = None
    labelled: bool = True
    footer: Sequence[str] | None = None
    rows: list[tuple[tuple[Text, ...], str]] = field(default_factory=list)

    def add_row(self, *cells: str | Text | None, style: str = "") -> None:
        """A row, a cell per column (None: empty); ``style`` colours it on a terminal."""
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append((tuple(_text(cell) for cell in cells), style))

    def table(self) -> Table:
        """The terminal's table (its caption is printed below it by ``print_listing``)."""
        table = Table(
            title=self.title,
            box=box.SIMPLE,
            show_edge=False,
            pad_edge=False,
            padding=(0, 1, 0, 0),  # two spaces between columns: a space and the divider
            show_footer=self.footer is not None,
            title_justify="left",
        )
        footer = list(self.footer or [""] * len(self.columns))
        for column, foot in zip(self.columns, footer, strict=True):
            table.add_column(
                column.heading,
                justify=column.justify,
                no_wrap=not column.wrap,
                overflow="fold",
                footer=foot,
            )
        for cells, style in self.rows:
            table.add_row(*cells, style=style or None)
        return table

    def plain_lines(self, width: int) -> list[str]:
        """The listing as plain lines no longer than ``width`` (a single word longer than that,
        a long path, stands whole on its own line)."""
        lines: list[str] = []
        if self.title is not None:
            lines.extend(_wrap(_plain(self.title), width))
        for cells, _style in self.rows:
            lines.extend(self._plain_row([cell.plain for cell in cells], width))
        if self.footer is not None:
            lines.extend(self._plain_row(list(self.footer), width))
        if self.caption is not None:
            lines.extend(_wrap(_plain(self.caption), width))
        return lines

    def _plain_row(self, values: list[str], width: int) -> list[str]:
        values = [" ".join(value.split()) for value in values]
        if not self.labelled:  # a name and its count: ``created 3``
            return _wrap(" ".join(value for value in values if value), width)
        fields = [
            f"{column.plain_label.replace(' ', _KEEP)}{_KEEP}{value}"
            for column, value in zip(self.columns, values, strict=True)
            if value
        ]
        return _wrap((_KEEP + SEPARATOR.lstrip()).join(fields), width)


def print_listing(console: Console, listing: Listing) -> None:
    """A table on a terminal, plain lines (after a blank line) anywhere else."""
    if console.is_terminal:
        console.print(listing.table())
        if listing.caption is not None:  # the console's width, not the table's
            console.print(_text(listing.caption), style="dim")
        return
    console.print()
    for line in listing.plain_lines(console.width):
        console.print(Text(line), soft_wrap=True)


def print_heading(console: Console, title: str) -> None:
    """A section's heading: a rule across a terminal, the title between blank lines elsewhere."""
    if console.is_terminal:
        console.rule(Text(title, style="bold"))
        return
    console.print()
    console.print(Text(title), soft_wrap=True)


def print_facts(console: Console, facts: Sequence[tuple[str, str | Text]]) -> None:
    """Labelled values, one a line: a two-column grid on a terminal (a long value folds in its
    column), ``label: value`` lines wrapped at the console's width anywhere else."""
    if console.is_terminal:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        for label, value in facts:
            grid.add_row(Text(label), _text(value))
        console.print(grid)
        return
    for label, value in facts:
        for line in _wrap(f"{label}: {_plain(value)}", console.width):
            console.print(Text(line), soft_wrap=True)


def _text(cell: str | Text | None) -> Text:
    return cell if isinstance(cell, Text) else Text(cell or "")


def _plain(value: str | Text) -> str:
    return " ".join((value.plain if isinstance(value, Text) else value).split())


def _wrap(text: str, width: int) -> list[str]:
    lines = textwrap.wrap(
        text,
        width=width,
        subsequent_indent=_INDENT,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return [line.replace(_KEEP, " ") for line in lines] or [""]
