"""`make mutate`: mutation testing of the safety core with mutmut, one module at a time.

For each module in ``TARGETS`` a folder ``.mutmut/<name>/`` is laid anew: ``src``, ``tests`` and
``docs`` are links to the checkout's, and its ``pyproject.toml`` is the project's with a
``[tool.mutmut]`` table that mutates that one file and selects that module's test files. mutmut
copies the package there (``mutants/``), changes one thing at a time in the copy (never in
``src/``), and, for each change, runs those of the selected tests that call the changed
function; the change is *killed* when one of them fails. Afterwards the folder keeps mutmut's
state, so ``cd .mutmut/<name> && ../../.venv/bin/mutmut show NAME`` shows any mutant again.

The run ends with a table per module (``.mutmut/summary.md``) and every mutant that was not
killed, with the file, the line and the change (``.mutmut/survivors.md``). It exits 1 when a
module kills fewer than ``--min-killed`` percent of the mutants that can be killed: its mutants
less those not killed that docs/testing.md's "Not killed" tables give a verdict starting with
``equivalent:`` (one that behaves exactly like the code, which no test can fail on). Both
shares are printed: killed of all mutants, and killed of those that can be killed.

    python tools/mutate.py                 # every module
    python tools/mutate.py rules files     # some of them
    python tools/mutate.py --list          # the modules, their files and their tests

docs/testing.md says what it covers and what it found. It is not part of ``make test``.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutmut"
PACKAGE = "canvas_observers"
LINKED = ("src", "tests", "docs")  # what each module's folder links to (tests read docs/)

# Flags for every pytest run mutmut makes: the soak variants are `make soak`'s, and the
# cache would be written into the copy.
PYTEST_FLAGS = ("-m", "not soak", "-p", "no:cacheprovider")


@dataclass(frozen=True)
class Part:
    """One file a module's run mutates, and, when only part of it is in scope, the functions
    (``name`` or ``Class.method``) whose mutants are run."""

    source: str  # relative to src/canvas_observers
    functions: tuple[str, ...] = ()  # empty: every function of the file

    @property
    def path(self) -> str:
        return f"src/{PACKAGE}/{self.source}"

    @property
    def module(self) -> str:
        return f"{PACKAGE}.{self.source.removesuffix('.py').replace('/', '.')}"

    def patterns(self) -> list[str]:
        """mutmut's names for the mutants in scope (globs)."""
        if not self.functions:
            return [f"{self.module}.*"]
        return [f"{self.module}.{_mangled(f)}__mutmut_*" for f in self.functions]


@dataclass(frozen=True)
class Target:
    """One module: the file mutated (and ``also`` others, for a rule that spans files), the
    test files run against it, and the functions in scope (see ``Part``)."""

    name: str
    source: str  # relative to src/canvas_observers
    tests: tuple[str, ...]  # relative to the repository root
    functions: tuple[str, ...] = ()  # empty: every function of the file
    deselect: tuple[str, ...] = ()  # test ids that cannot pass inside mutmut (say why)
    also: tuple[Part, ...] = ()  # more files mutated in the same run, with the same tests

    @property
    def parts(self) -> tuple[Part, ...]:
        return (Part(self.source, self.functions), *self.also)

    @property
    def path(self) -> str:
        return self.parts[0].path

    @property
    def paths(self) -> str:
        """The files mutated, as the summary and the survivor tables name them."""
        return ", ".join(part.path for part in self.parts)

    def patterns(self) -> list[str]:
        """mutmut's names for the mutants in scope (globs)."""
        return [pattern for part in self.parts for pattern in part.patterns()]

    def part_of(self, mutant: str) -> Part:
        """The file a mutant (``canvas_observers.x.y.x_name__mutmut_N``) is in."""
        for part in self.parts:
            if mutant.startswith(f"{part.module}."):
                return part
        return self.parts[0]


def _mangled(function: str) -> str:
    """mutmut's name of a function (``x_name``) or method (``xǁClassǁname``)."""
    owner, _, name = function.rpartition(".")
    return f"xǁ{owner}ǁ{name}" if owner else f"x_{name}"


TARGETS = (
    Target(
        "rules",
        "sync/rules.py",
        (
            "tests/sync/test_rules.py",
            "tests/sync/test_identity.py",
            "tests/sync/test_snapshot.py",
            "tests/sync/test_steps.py",
            "tests/sync/test_names_match.py",
            "tests/sync/test_login_providers.py",  # only_suspended, suspended_account
        ),
    ),
    Target(
        "snapshot",
        "sync/snapshot.py",
        (
            "tests/sync/test_snapshot.py",
            "tests/sync/test_removals.py",
            "tests/audit/test_findings.py",
        ),
    ),
    Target("identity", "sync/identity.py", ("tests/sync/test_identity.py",)),
    Target("removals", "sync/removals.py", ("tests/sync/test_removals.py",)),
    Target("listing", "sync/listing.py", ("tests/sync/test_listing.py",)),
    Target(
        "history",
        "store/history.py",
        (
            "tests/store/test_sources.py",
            "tests/store/test_journal.py",  # created_accounts and undone_by, through Journal
            "tests/sync/test_removals.py",
            "tests/audit/test_findings.py",
            "tests/store/test_ownership.py",  # owned_links: what the tool owns, and until when
            "tests/sync/test_ownership_removals.py",
        ),
    ),
    # client.py's functions that check where a request goes and what it carries: the token
    # check, the origin, pagination that must stay on it, the download's hops (the token only on
    # the Canvas origin) and what errors show. Left out for the time budget (docs/testing.md):
    # the operations (one Canvas call each), and _attempt, _fetch and _log_retry, which also
    # pace, retry and count, and whose surviving mutants cost the whole client test set each.
    Target(
        "client",
        "canvas/client.py",
        (
            "tests/canvas/test_client.py",
            "tests/canvas/test_canvas_url.py",
            "tests/canvas/test_pagination.py",
            "tests/canvas/test_files.py",
            "tests/canvas/test_client_loopback.py",
            "tests/reliability/test_security.py",
        ),
        functions=(
            "CanvasClient.__init__",
            "CanvasClient.__repr__",
            "CanvasClient.download",
            "CanvasClient._url",
            "CanvasClient._pages",
            "CanvasClient._next",
            "CanvasClient._hop_request",
            "CanvasClient._judge_hop",
            "_target",
        ),
        # It checks that httpcore's own DEBUG lines are there and carry no token; mutmut runs
        # every test in one process first, and a test that configures logging disables the
        # loggers that exist by then, so httpcore's lines are gone (not the client's doing).
        # The two pacing tests (throttle storms, 2,000 requests) exercise no origin or token
        # rule and would run for every surviving mutant: left out for the time budget.
        deselect=(
            "tests/canvas/test_client_loopback.py::test_token_not_in_http_debug_logs",
            "tests/canvas/test_client.py::test_throttle_storm_completes",
            "tests/canvas/test_client.py::test_pacing_2000_requests_at_default_throttle",
        ),
    ),
    Target(
        "files", "canvas/files.py", ("tests/canvas/test_files.py", "tests/canvas/test_client.py")
    ),
    # report/advice.py (WHAT_TO_DO) and report/words.py's OUTCOME_WORDS are constants, and
    # mutmut changes code inside functions only; the page's text is jinja2 templates, which it
    # does not read at all. What is mutated is the Python that puts each outcome's advice,
    # count and words on the page: html_report and the groups it builds (html.py), the filter
    # that shows `code` in advice (pages.py), and the counts said in words (words.py).
    Target(
        "advice",
        "report/html.py",
        (
            "tests/report/test_html.py",
            "tests/report/test_html_counts.py",
            "tests/report/test_words.py",
        ),
        functions=("html_report", "_groups", "_tone", "_attention_order"),
        also=(
            Part("report/pages.py", ("code",)),
            Part("report/words.py", ("plural", "_count", "lead_sentence", "waiting_clause")),
        ),
    ),
)


# -- one module ----------------------------------------------------------------------------


def mutmut_table(target: Target) -> str:
    """The ``[tool.mutmut]`` table of one module's folder."""
    deselected = [f"--deselect={test}" for test in target.deselect]
    lines = [
        "",
        "[tool.mutmut]",
        'source_paths = ["src"]',
        'also_copy = ["docs"]',
        f"only_mutate = {json.dumps([part.path for part in target.parts])}",
        f"pytest_add_cli_args = {json.dumps([*PYTEST_FLAGS, *deselected])}",
        f"pytest_add_cli_args_test_selection = {json.dumps(list(target.tests))}",
        "use_git_change_detection = false",
        # mutmut stops a mutant after 2 x multiplier x (its tests' time + 1) CPU seconds; its
        # default 15 lets a mutant that loops forever (a page count that never grows) hold a
        # worker for an hour on a busy 2-core machine. 3 still leaves a survivor 6 times its
        # tests' time.
        "timeout_multiplier = 3.0",
        "",
    ]
    return "\n".join(lines)


def lay_folder(target: Target) -> Path:
    """``.mutmut/<name>/`` anew: links to the checkout, and its own pyproject.toml."""
    folder = WORK / target.name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name in LINKED:
        (folder / name).symlink_to(ROOT / name, target_is_directory=True)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    if "[tool.mutmut]" in pyproject:
        raise SystemExit("pyproject.toml has a [tool.mutmut] table: tools/mutate.py writes its own")
    (folder / "pyproject.toml").write_text(pyproject + mutmut_table(target), encoding="utf-8")
    return folder


def mutmut(folder: Path, *args: str, log: Path | None = None) -> str:
    """Run ``mutmut ARGS`` in a module's folder; its output (or, with ``log``, write it there)."""
    command = [sys.executable, "-m", "mutmut", *args]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if log is None:
        done = subprocess.run(
            command, cwd=folder, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise SystemExit(f"mutmut {' '.join(args)} failed in {folder}:\n{done.stderr}")
        return done.stdout
    with log.open("w", encoding="utf-8") as out:
        ran = subprocess.run(command, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT)
    if ran.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(f"mutmut run failed for {folder.name} (see {log}):\n{tail}")
    return ""


def results(folder: Path, target: Target) -> dict[str, str]:
    """Mutant name -> mutmut's verdict, for the mutants in the target's scope."""
    verdicts: dict[str, str] = {}
    for line in mutmut(folder, "results", "--all", "true").splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and any(fnmatch.fnmatchcase(name, p) for p in target.patterns()):
            verdicts[name] = status
    return verdicts


EQUIVALENT = "equivalent:"  # how a verdict in docs/testing.md starts when no test can kill it


@dataclass(frozen=True)
class Outcome:
    target: Target
    verdicts: dict[str, str]
    seconds: float
    # The mutants not killed that docs/testing.md calls equivalent (``EQUIVALENT``); a killed
    # mutant the doc still lists is not among them, so a stale verdict never lowers the bar.
    equivalent: frozenset[str] = frozenset()

    @property
    def counts(self) -> Counter[str]:
        return Counter(self.verdicts.values())

    @property
    def killed_share(self) -> float:
        """Killed of all mutants, percent: mutmut's own score."""
        total = len(self.verdicts)
        return 100.0 * self.counts["killed"] / total if total else 100.0

    @property
    def killable(self) -> int:
        """The mutants a test could kill: all of them but the equivalent ones."""
        return len(self.verdicts) - len(self.equivalent)

    @property
    def bar_share(self) -> float:
        """Killed of the mutants a test could kill, percent: what ``--min-killed`` applies to."""
        return 100.0 * self.counts["killed"] / self.killable if self.killable else 100.0


def equivalent(target: Target, verdicts: dict[str, str]) -> frozenset[str]:
    """The target's mutants not killed whose verdict in docs/testing.md starts ``equivalent:``
    (a timeout's "(timeout) " prefix aside); "not yet killed", "detected" and the rest count."""
    notes = reviewed()
    return frozenset(
        name
        for name, verdict in verdicts.items()
        if verdict != "killed"
        and notes.get((target.name, name.rpartition(".")[2]), "").startswith(EQUIVALENT)
    )


def outcome_of(target: Target, folder: Path, seconds: float) -> Outcome:
    verdicts = results(folder, target)
    return Outcome(target, verdicts, seconds, equivalent(target, verdicts))


def run_target(target: Target) -> Outcome:
    folder = lay_folder(target)
    started = time.monotonic()
    mutmut(folder, "run", *target.patterns(), log=folder / "run.log")
    seconds = time.monotonic() - started
    (folder / "seconds").write_text(f"{seconds:.0f}\n", encoding="utf-8")
    return outcome_of(target, folder, seconds)


def last_outcome(target: Target) -> Outcome:
    """The outcome of the module's last run, from its folder."""
    folder = WORK / target.name
    if not (folder / "seconds").is_file():
        raise SystemExit(f"mutate: {target.name} has no finished run in {folder}")
    seconds = float((folder / "seconds").read_text(encoding="utf-8"))
    return outcome_of(target, folder, seconds)


# -- where a mutant is ---------------------------------------------------------------------


def _function_lines(source: str) -> dict[str, tuple[int, int]]:
    """``name`` / ``Class.method`` -> (first line, last line), decorators included."""
    spans: dict[str, tuple[int, int]] = {}
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            spans[node.name] = (_first_line(node), node.end_lineno or node.lineno)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    first, last = _first_line(item), item.end_lineno or item.lineno
                    spans[f"{node.name}.{item.name}"] = (first, last)
    return spans


def _first_line(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    return min([node.lineno, *(d.lineno for d in node.decorator_list)])


MANGLED = re.compile(r"\.x(?:ǁ(?P<owner>[^ǁ]+)ǁ|_)(?P<name>.+)__mutmut_\d+$")


# The diffs of many mutants in one process (``mutmut show`` is one process per mutant).
SHOW_ALL = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
print(json.dumps({name: get_diff_for_mutant(name) for name in json.load(sys.stdin)}))
"""


def diffs(folder: Path, names: list[str]) -> dict[str, str]:
    """Mutant name -> its diff (``mutmut show``'s), for many at once."""
    if not names:
        return {}
    done = subprocess.run(
        [sys.executable, "-c", SHOW_ALL],
        cwd=folder,
        input=json.dumps(names),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0:
        shown: dict[str, str] = json.loads(done.stdout)
        return shown
    return {name: mutmut(folder, "show", name) for name in names}  # mutmut changed inside


def describe(target: Target, name: str, diff: str) -> tuple[int | None, str]:
    """(line in the file, the change as ``- old`` / ``+ new`` lines) of one mutant."""
    lines = diff.splitlines()
    removed = [line[1:] for line in lines if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in lines if line.startswith("+") and not line.startswith("+++")]
    change = "\n".join([*(f"- {r.strip()}" for r in removed), *(f"+ {a.strip()}" for a in added)])
    match = MANGLED.search(name)
    if match is None or not removed:
        return None, change
    function = f"{match['owner']}.{match['name']}" if match["owner"] else match["name"]
    text = (ROOT / target.part_of(name).path).read_text(encoding="utf-8")
    span = _function_lines(text).get(function)
    if span is None:
        return None, change
    source = text.splitlines()
    hits = [n for n in range(span[0], span[1] + 1) if source[n - 1].strip() == removed[0].strip()]
    if len(hits) < 2:
        return (hits[0] if hits else None), change
    guess = span[0] + _offset(lines)  # the diff counts from the function's first line
    return min(hits, key=lambda n: abs(n - guess)), change


HUNK = re.compile(r"^@@ -(?P<start>\d+)")


def _offset(diff: list[str]) -> int:
    """Lines from the function's first line to the first removed one, by the diff's hunk."""
    offset = 0
    for line in diff:
        if hunk := HUNK.match(line):
            offset = int(hunk["start"]) - 1
        elif line.startswith("-") and not line.startswith("---"):
            return offset
        elif line.startswith(" "):
            offset += 1
    return offset


# -- the summary ---------------------------------------------------------------------------

NOT_KILLED = ("survived", "timeout", "no tests", "suspicious", "skipped", "not checked")


def summary(outcomes: list[Outcome]) -> str:
    """One row per module: mutmut's counts, the equivalent mutants docs/testing.md names, and
    the two shares (killed of all; killed of all but the equivalent, which the bar applies to)."""
    head = (
        "| module | file | mutants | killed | survived | timeout | other | equivalent "
        "| killed % | killed % of killable | time |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = []
    for o in outcomes:
        c = o.counts
        other = len(o.verdicts) - c["killed"] - c["survived"] - c["timeout"]
        rows.append(
            f"| {o.target.name} | {', '.join(p.source for p in o.target.parts)} "
            f"| {len(o.verdicts)} | {c['killed']} "
            f"| {c['survived']} | {c['timeout']} | {other} | {len(o.equivalent)} "
            f"| {o.killed_share:.1f} | {o.bar_share:.1f} | {o.seconds / 60:.1f} min |"
        )
    return "\n".join([head, *rows]) + "\n"


DOC = ROOT / "docs" / "testing.md"
DOC_MODULE = re.compile(r"^#{2,4} (?P<name>\w+) \(")
DOC_ROW = re.compile(r"^\| [^|]* \| `(?P<name>x[^`]+)` \| .* \| (?P<verdict>[^|]*[^|\s]) *\|$")


STATUS = re.compile(r"^\((?:no tests|timeout|suspicious|skipped|not checked|segfault)\) ")


def reviewed() -> dict[tuple[str, str], str]:
    """(module, mutant) -> the verdict docs/testing.md gives it (its survivor tables)."""
    verdicts: dict[tuple[str, str], str] = {}
    module = ""
    if not DOC.is_file():
        return verdicts
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if heading := DOC_MODULE.match(line):
            module = heading["name"]
        elif row := DOC_ROW.match(line):
            verdicts[(module, row["name"])] = STATUS.sub("", row["verdict"])
    return verdicts


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def survivors(outcomes: list[Outcome]) -> str:
    """Every mutant not killed, as docs/testing.md lists them: the line, the mutant, the change
    and the verdict the doc gives it (``NOT REVIEWED`` when it gives none)."""
    notes = reviewed()
    parts = []
    for o in outcomes:
        left = sorted(
            (n for n, v in o.verdicts.items() if v != "killed"),
            key=lambda n: (n.rpartition("__mutmut_")[0], int(n.rpartition("_")[2])),
        )
        shown = diffs(WORK / o.target.name, left)
        parts += [
            f"### {o.target.name} ({o.target.paths}): {len(left)} not killed\n",
            "| line | mutant | change | verdict |",
            "|---|---|---|---|",
        ]
        for name in left:
            line, change = describe(o.target, name, shown.get(name, ""))
            short = name.rpartition(".")[2]
            status = "" if o.verdicts[name] == "survived" else f"({o.verdicts[name]}) "
            verdict = notes.get((o.target.name, short), "NOT REVIEWED")
            changed = " → ".join(part for part in change.split("\n") if part)
            parts.append(
                f"| {line or ''} | `{short}` | `` {_cell(changed)} `` | {status}{_cell(verdict)} |"
            )
        parts.append("")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("modules", nargs="*", help="module names (default: all)")
    parser.add_argument("--list", action="store_true", help="list the modules and stop")
    parser.add_argument(
        "--min-killed",
        type=float,
        default=90.0,
        help="percent of the mutants not marked equivalent in docs/testing.md (default 90)",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="summarise the last run's folders, run nothing"
    )
    args = parser.parse_args(argv)
    by_name = {t.name: t for t in TARGETS}
    if args.list:
        for t in TARGETS:
            files = "; ".join(
                f"{p.path} ({', '.join(p.functions) if p.functions else 'every function'})"
                for p in t.parts
            )
            print(f"{t.name}: {files}\n  " + "\n  ".join(t.tests))
        return 0
    unknown = [m for m in args.modules if m not in by_name]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(by_name)}")
    chosen = [by_name[m] for m in args.modules] if args.modules else list(TARGETS)
    outcomes = []
    started = time.monotonic()
    for target in chosen:
        if args.report_only:
            outcomes.append(last_outcome(target))
            continue
        print(f"mutate: {target.name} ({target.paths}) ...", flush=True)
        outcome = run_target(target)
        c = outcome.counts
        print(
            f"mutate: {target.name}: {len(outcome.verdicts)} mutants, {c['killed']} killed, "
            f"{c['survived']} survived, {c['timeout']} timeout "
            f"({outcome.killed_share:.1f}% killed; {outcome.bar_share:.1f}% of the "
            f"{outcome.killable} not marked equivalent) in {outcome.seconds / 60:.1f} min",
            flush=True,
        )
        outcomes.append(outcome)
    table = summary(outcomes)
    total = (time.monotonic() - started) / 60
    (WORK / "summary.md").write_text(f"{table}\nTotal: {total:.1f} min\n", encoding="utf-8")
    (WORK / "survivors.md").write_text(survivors(outcomes), encoding="utf-8")
    print(f"\n{table}\nTotal: {total:.1f} min; not killed: .mutmut/survivors.md")
    notes = (WORK / "survivors.md").read_text(encoding="utf-8").count("NOT REVIEWED")
    if notes:
        print(f"mutate: {notes} mutant(s) not killed and not reviewed in docs/testing.md")
    low = [o.target.name for o in outcomes if o.bar_share < args.min_killed]
    if low:
        print(
            f"mutate: below {args.min_killed:g}% killed of the mutants not marked equivalent: "
            f"{', '.join(low)}"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
