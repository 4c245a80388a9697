"""A fixed set of one-line changes to the rules that protect families, each of which must make
the named tests fail: a regression check that those tests keep guarding those rules.

For each mutant the package's source is copied to a temporary folder, the one change is applied
as a text edit (its text must occur exactly once, so a moved or renamed rule fails here loudly
instead of silently testing nothing), and the named tests run in a subprocess against the copy
(it comes first on ``PYTHONPATH``; command-line tests inherit it). They must fail: pytest's exit
code 1, "tests failed", not a collection or usage error. The whole mutation run is
``make mutate`` (docs/testing.md); this is its small, fast part that runs with every
``make test``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "canvas_observers"


@dataclass(frozen=True)
class Mutant:
    """One change to one file, and the tests that must catch it."""

    name: str
    file: str  # relative to src/canvas_observers
    old: str
    new: str
    tests: tuple[str, ...]  # pytest node ids, relative to the repository root


MUTANTS = (
    Mutant(
        "names_match accepts any shared word",
        "sync/rules.py",
        "    return wanted in {_name_tokens(user.name), _name_tokens(user.sortable_name)}",
        "    return bool(wanted & (_name_tokens(user.name) | _name_tokens(user.sortable_name)))",
        ("tests/sync/test_names_match.py",),
    ),
    Mutant(
        "names_match accepts the last name only",
        "sync/rules.py",
        "    return wanted in {_name_tokens(user.name), _name_tokens(user.sortable_name)}",
        "    return _name_tokens(row.observer_last_name) <= _name_tokens(user.name)",
        ("tests/sync/test_names_match.py",),
    ),
    Mutant(
        "a link absent for one run is removed at once, whatever the grace",
        "sync/removals.py",
        "    return max(needed - absent, 0)",
        "    return 0",
        ("tests/sync/test_removals.py",),
    ),
    Mutant(
        "a link another source's roster lists is removed all the same",
        "sync/removals.py",
        "        if lister is not None:",
        "        if False:",
        ("tests/sync/test_removals.py",),
    ),
    Mutant(
        "another source's links count as this source's",
        "sync/removals.py",
        "    mine = [link for link in owned if link.source == source]",
        "    mine = list(owned)",
        ("tests/sync/test_removals.py",),
    ),
    Mutant(
        "a truncated roster is never held",
        "sync/removals.py",
        "    if valid_rows >= TRUNCATED_SHARE * median:",
        "    if True:",
        ("tests/sync/test_removals.py",),
    ),
    Mutant(
        "a held run counts toward the grace",
        "sync/removals.py",
        "        if run.held or run.listed is None:",
        "        if run.listed is None:",
        ("tests/sync/test_removals.py",),
    ),
    Mutant(
        "links are removed by a run that did not ask for removal",
        "sync/removals.py",
        "    if not remove_ended:\n        return RemovalPlan()",
        "    if False:\n        return RemovalPlan()",
        ("tests/sync/test_removals.py",),
    ),
    Mutant(
        "a row that does not resolve tonight no longer lists its link",
        "sync/listing.py",
        "            links = {old.link for old in earlier}",
        "            links = set()",
        ("tests/sync/test_listing.py",),
    ),
    Mutant(
        "a guardian's remembered account is not looked up first",
        "sync/engine.py",
        "        remembered = self.guardians.get(guardian_id) if guardian_id is not None else None",
        "        remembered = None",
        (
            "tests/cli/test_sources_cli.py::"
            "test_a_deleted_guardian_account_is_never_replaced_until_forgotten",
        ),
    ),
    Mutant(
        "undo puts back a do-not-pair removal",
        "sync/undo.py",
        '        return action.cause != "excluded"',
        "        return True",
        (
            "tests/cli/test_sources_cli.py::"
            "test_undo_never_restores_a_do_not_pair_removal_and_restored_links_stay_while_listed",
        ),
    ),
    Mutant(
        "a failed or lost pairing attempt counts as the tool's link",
        "store/history.py",
        "       AND a.result IN ('ok', 'recovered'))",
        "       AND a.result IN ('ok', 'recovered', 'failed', 'unknown'))",
        (
            "tests/store/test_ownership.py",
            "tests/sync/test_ownership_removals.py::"
            "test_a_link_the_tool_failed_to_make_is_never_removed",
        ),
    ),
    Mutant(
        "the links made on another Canvas count as this Canvas's",
        "store/history.py",
        '        " WHERE u.canvas_url = ? AND u.dry_run = 0"\n        " AND a.canvas_observer_id',
        '        " WHERE ? IS NOT NULL AND u.dry_run = 0"\n        " AND a.canvas_observer_id',
        ("tests/store/test_ownership.py",),
    ),
    Mutant(
        "the HTML report gives each outcome the advice of the one before it",
        "report/html.py",
        '"advice": WHAT_TO_DO[o],',
        '"advice": list(WHAT_TO_DO.values())[list(Outcome).index(o) - 1],',
        ("tests/report/test_html_counts.py",),
    ),
    Mutant(
        "the HTML report counts no rows for any outcome",
        "report/html.py",
        '"count": counts.get(o, 0),',
        '"count": 0,',
        ("tests/report/test_html_counts.py",),
    ),
    Mutant(
        "the links a run made belong to no source",
        "store/history.py",
        "            source=source,\n            legacy=",
        "            source=None,\n            legacy=",
        ("tests/store/test_sources.py",),
    ),
    Mutant(
        "a guardian with no email makes every night exit 1",
        "core/outcomes.py",
        "EXPECTED = frozenset({Outcome.NOT_ENROLLED, Outcome.NO_EMAIL})",
        "EXPECTED = frozenset({Outcome.NOT_ENROLLED})",
        ("tests/sync/test_names_in_results.py",),
    ),
    Mutant(
        "a removal names the guardian by Canvas's account, not as the roster named them",
        "sync/removals.py",
        "        link.guardian_name or _canvas_name(snapshot, link.observer_id),",
        "        _canvas_name(snapshot, link.observer_id),",
        ("tests/sync/test_removals.py",),
    ),
)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the package's source, from which each mutant's copy is made."""
    where = tmp_path_factory.mktemp("pristine") / "canvas_observers"
    shutil.copytree(PACKAGE, where, ignore=shutil.ignore_patterns("__pycache__"))
    return where


def test_every_mutant_names_existing_tests() -> None:
    for mutant in MUTANTS:
        for node in mutant.tests:
            assert (ROOT / node.split("::")[0]).is_file(), f"{mutant.name}: no {node}"


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_the_tests_catch_the_mutant(mutant: Mutant, pristine: Path, tmp_path: Path) -> None:
    copy = tmp_path / "src" / "canvas_observers"
    shutil.copytree(pristine, copy)
    target = copy / mutant.file
    text = target.read_text(encoding="utf-8")
    assert text.count(mutant.old) == 1, f"{mutant.file}: the mutated text is not there once"
    target.write_text(text.replace(mutant.old, mutant.new), encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(copy.parent), str(ROOT)]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    probe = subprocess.run(
        [sys.executable, "-c", "import canvas_observers; print(canvas_observers.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    assert Path(probe.stdout.strip()).is_relative_to(copy), "the copy is not what is imported"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *mutant.tests],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert run.returncode == 1, (
        f"mutant survived ({mutant.name}): pytest exit {run.returncode}\n{run.stdout[-2000:]}"
    )
