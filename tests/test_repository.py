"""The repository stands alone: no tracked file cites a folder beside it, reference documents
kept outside it, an issue tracker's numbers, or a path on someone's machine.

Every tracked text file is read (code, docs, configuration, the CI script, the Makefile),
except the third-party samples under tests/fixtures/, which are quoted as published.
Example paths under /tmp, /etc, /srv, /var, /opt, /usr and /data are fine: they show where a
school might put things, on no one machine in particular.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = "tests/fixtures/"  # third-party samples, byte for byte as published

# Reference documents that live outside the repository, cited by bare name. A name stops
# being an outside citation once the repository has a file of that name.
OUTSIDE_DOCS = tuple(f"{stem}.md" for stem in ("canvas-api", "design", "style"))

_NOT_PATH = r"(?<![\w.~%$-])"  # not the tail of a longer path, URL or variable

SIBLING = re.compile(r"\.\.[/\\]shared\b|(?<![\w./-])shared/[\w.-]+\.md\b")
ISSUE = re.compile(
    r"\bissues?\s*(?:#|no\.?\s*|number\s*)?\d+\b"  # "issue", "issue no." and a number
    r"|\bGH-\d+\b"
    r"|\((?:#\d+[,\s]*)+\)"  # a changelog's trailing (#N)
    r"|\b(?:fix(?:e[sd])?|close[sd]?|resolve[sd]?|see|refs?)\s+#\d+\b"
    r"|github\.com/[\w.-]+/[\w.-]+/(?:issues|pull)/\d+",
    re.IGNORECASE,
)
MACHINE_PATH = re.compile(
    _NOT_PATH + r"/(?:work|root)/"
    r"|" + _NOT_PATH + r"/(?:home|Users)/[^/\s<>{}*]+/"
    r"|\b[A-Za-z]:\\{1,2}Users\\{1,2}",
)


def _outside_doc_pattern(tracked: list[str]) -> re.Pattern[str] | None:
    in_repo = {Path(name).name for name in tracked}
    names = [re.escape(name) for name in OUTSIDE_DOCS if name not in in_repo]
    if not names:
        return None
    return re.compile(r"(?<![\w./-])(?:" + "|".join(names) + r")\b")


@cache
def _tracked() -> list[str]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed: cannot list the tracked files")
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if listing.returncode != 0:
        pytest.skip("not a git checkout: no tracked files to list")
    return [name for name in listing.stdout.decode().split("\0") if name]


@cache
def _text_lines() -> tuple[tuple[str, int, str], ...]:
    """(path, line number, line) of every tracked text file outside the samples."""
    return tuple(_read_text_lines())


def _read_text_lines() -> Iterator[tuple[str, int, str]]:
    for name in _tracked():
        path = ROOT / name
        if name.startswith(SAMPLES) or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue  # binary
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue  # binary
        for number, line in enumerate(text.splitlines(), start=1):
            yield name, number, line


def _hits(*patterns: re.Pattern[str] | None) -> list[str]:
    found = []
    for name, number, line in _text_lines():
        for pattern in patterns:
            if pattern is not None and (match := pattern.search(line)):
                found.append(f"{name}:{number}: {match.group(0)!r}")
    return found


def test_the_scan_reads_every_tracked_text_file_but_the_samples() -> None:
    """The CI script, the Makefile, configuration, docs and this file are scanned; samples not."""
    scanned = {name for name, _, _ in _text_lines()}
    expected = {".ci/run", "Makefile", "pyproject.toml", "README.md", "tests/test_repository.py"}
    assert expected <= scanned
    assert not any(name.startswith(SAMPLES) for name in scanned)


def test_no_sibling_folder_or_outside_document_is_cited() -> None:
    """No tracked file points at a folder beside the repository or a document kept outside."""
    hits = _hits(SIBLING, _outside_doc_pattern(_tracked()))
    assert not hits, "cites something outside the repository:\n" + "\n".join(hits)


def test_no_issue_reference() -> None:
    """No tracked file names an issue or pull request by number: say what the change is."""
    hits = _hits(ISSUE)
    assert not hits, "refers to an issue by number:\n" + "\n".join(hits)


def test_no_absolute_path_of_a_machine() -> None:
    """No tracked file holds a path that exists only on someone's machine (home folders...)."""
    hits = _hits(MACHINE_PATH)
    assert not hits, "holds a machine's absolute path:\n" + "\n".join(hits)


# A '|' splits the examples below, so that this file does not itself hold what it forbids
# (nor what a stricter check would take for it); the tests join them again.
CAUGHT = [
    (SIBLING, "see ../sha|red/canvas-|api.md"),
    (SIBLING, "as in ../sha|red/one|roster.md"),
    (ISSUE, "fixes the bug from iss|ue #12"),
    (ISSUE, "iss|ue 12: retries"),
    (ISSUE, "* Retry on 502 (|#34)"),
    (ISSUE, "see GH|-7"),
    (ISSUE, "clo|ses #8"),
    (ISSUE, "https://github.com/o/r/iss|ues/9"),
    (MACHINE_PATH, "written to /ho|me/alice/roster.csv"),
    (MACHINE_PATH, "cd /wo|rk/main && make"),
    (MACHINE_PATH, "/Us|ers/bob/canvas"),
    (MACHINE_PATH, "/ro|ot/.cache"),
    (MACHINE_PATH, r"C:\\Us|ers\\carol\\roster.csv"),
]
SPARED = [
    "docs/oneroster.md, the import guide",
    "color:#fff; border: 1px solid #222",
    "the row on line #3 is invalid",
    "6 issues found, 2 need a human",
    "--roster /tmp/roster.csv --state /var/lib/canvas-observers/journal.sqlite3",
    "/usr/bin/chromium, /etc/canvas-observers/sync.toml, /srv/sis/nightly.zip",
    "GET /api/v1/users/self and /api/v1/accounts/ro|ot/users",
    "https://example.edu/home/page/ and ~/home/x/",
]


@pytest.mark.parametrize(("pattern", "example"), CAUGHT)
def test_the_checks_catch_each_kind_of_citation(pattern: re.Pattern[str], example: str) -> None:
    """Each kind of outside citation the checks look for is caught."""
    assert pattern.search(example.replace("|", ""))


@pytest.mark.parametrize("example", SPARED)
def test_the_checks_spare_look_alikes(example: str) -> None:
    """Colours, line numbers, API paths and the example system paths of the docs pass."""
    outside_docs = _outside_doc_pattern([])
    assert outside_docs is not None
    text = example.replace("|", "")
    for pattern in (SIBLING, ISSUE, MACHINE_PATH, outside_docs):
        assert not pattern.search(text), (pattern.pattern, text)


SAMPLE_FILES = (
    "oneroster-mocker/users.csv",
    "sds-v2.1-guardians/users.csv",
    "sds-v2.1-guardians/relationships.csv",
    "sds-v2.1-guardians/enrollments.csv",
    "sds-v2.1-guardians/orgs.csv",
    "sds-v2.1-guardians/roles.csv",
)


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_the_published_samples_the_reader_tests_read_are_here(name: str) -> None:
    """The OneRoster and SDS reader tests read these published exports; they never skip when
    one is missing, and this names the file that went."""
    assert (ROOT / SAMPLES / "samples" / name).is_file(), f"{SAMPLES}samples/{name} is missing"
