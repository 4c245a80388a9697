"""tools/mutate.py's bar: ``--min-killed`` applies to the mutants a test could kill, that is
all of a module's mutants less those not killed that docs/testing.md calls equivalent (a verdict
starting ``equivalent:``). Any other verdict ("not yet killed", a timeout "detected", none at
all) stays in the count, and a killed mutant the doc still lists never lowers the bar."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "mutate.py"

DOC = """\
## Not killed

### history (src/canvas_observers/store/history.py): 4 not killed

| line | mutant | change | verdict |
|---|---|---|---|
| 1 | `x_a__mutmut_1` | `` - A → + a `` | equivalent: SQLite reads keywords in any case |
| 2 | `x_a__mutmut_2` | `` - B → + b `` | not yet killed: a test of B would |
| 3 | `x_a__mutmut_3` | `` - C → + c `` | (timeout) detected: it loops |
| 4 | `x_a__mutmut_4` | `` - D → + d `` | equivalent: stale, it is killed now |
| 5 | `x_a__mutmut_5` | `` - E → + e `` | Not equivalent: said otherwise |

### rules (src/canvas_observers/sync/rules.py): 1 not killed

| line | mutant | change | verdict |
|---|---|---|---|
| 6 | `x_a__mutmut_6` | `` - F → + f `` | equivalent: in rules, not in history |
"""


@pytest.fixture
def mutate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutate_tool", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "mutate_tool", module)  # dataclasses look it up
    spec.loader.exec_module(module)
    doc = tmp_path / "testing.md"
    doc.write_text(DOC, encoding="utf-8")
    monkeypatch.setattr(module, "DOC", doc)
    return module


def test_only_mutants_the_doc_calls_equivalent_leave_the_count(mutate: ModuleType) -> None:
    history = next(t for t in mutate.TARGETS if t.name == "history")
    prefix = "canvas_observers.store.history."
    verdicts = {f"{prefix}x_a__mutmut_{n}": "survived" for n in (1, 2, 5, 6, 7)}
    verdicts |= {f"{prefix}x_a__mutmut_3": "timeout", f"{prefix}x_a__mutmut_4": "killed"}
    verdicts |= {f"{prefix}x_b__mutmut_{n}": "killed" for n in range(13)}  # 14 killed in all
    outcome = mutate.Outcome(history, verdicts, 60.0, mutate.equivalent(history, verdicts))
    assert outcome.equivalent == {f"{prefix}x_a__mutmut_1"}
    assert (len(verdicts), outcome.killable) == (20, 19)
    assert outcome.killed_share == pytest.approx(100 * 14 / 20)
    assert outcome.bar_share == pytest.approx(100 * 14 / 19)
    row = mutate.summary([outcome]).splitlines()[-1]
    assert row == "| history | store/history.py | 20 | 14 | 5 | 1 | 0 | 1 | 70.0 | 73.7 | 1.0 min |"


def test_a_module_whose_every_survivor_is_equivalent_meets_any_bar(mutate: ModuleType) -> None:
    history = next(t for t in mutate.TARGETS if t.name == "history")
    verdicts = {
        "canvas_observers.store.history.x_a__mutmut_1": "survived",
        "canvas_observers.store.history.x_a__mutmut_9": "killed",
    }
    outcome = mutate.Outcome(history, verdicts, 1.0, mutate.equivalent(history, verdicts))
    assert (outcome.killed_share, outcome.bar_share) == (50.0, 100.0)
