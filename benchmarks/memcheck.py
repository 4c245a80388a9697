"""Memory check: read, validate and plan a 100,000-row roster; print peak RSS.

A dry run against a fake district of that size would take ~250,000 requests, which the fake on
this 2-core machine serves at a few hundred a second: far too slow for `make bench`. So the
check runs what the sync holds in memory for such a roster without the network: the roster
reader and validator, then the engine's per-guardian grouping and the pure planner fed with
*recorded answers* (the users Canvas would return, parsed from their JSON with
`CanvasUser.from_json`, one per student as the engine's look-up cache keeps them), keeping
every row's result as the engine does.

    python benchmarks/memcheck.py --rows 100000 --seed 7   # prints one JSON line

It runs in three processes: this one; a generator (builds the district with
`generate_district`, writes the roster CSV and the recorded answers); and the measured planner,
whose own peak RSS (getrusage RUSAGE_SELF) is reported. The generator's memory (the fake's
whole district) is not counted.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def generate(folder: Path, rows: int, seed: int) -> None:
    from canvas_observers.fake_canvas.scenarios import generate_district
    from canvas_observers.fake_canvas.state import FakeState

    state = FakeState()
    (folder / "roster.csv").write_text(generate_district(state, rows=rows, seed=seed), "utf-8")

    def user_json(user_id: int) -> dict[str, Any]:
        user, login = state.users[user_id], state.users[user_id].login
        return {
            "id": user.id,
            "name": user.name,
            "sortable_name": user.sortable_name,
            "sis_user_id": login.sis_user_id if login else None,
            "login_id": login.unique_id if login else None,
            "email": user.email,
        }

    with (folder / "answers.jsonl").open("w", encoding="utf-8") as out:
        for sis_id, login in state.logins_by_sis_id.items():
            out.write(json.dumps({"student": sis_id, "user": user_json(login.user_id)}) + "\n")
        live = [login for held in state.logins_by_key.values() for login in held]
        for login in sorted(live, key=lambda p: p.id):
            unique_id = login.unique_id.lower()
            observees = state.observees_of.get(login.user_id, set())
            if "@" in unique_id and not unique_id.endswith("students.springfield.example.edu"):
                links = [user_json(s) for s in sorted(observees)]
                record = {"guardian": unique_id, "user": user_json(login.user_id)}
                out.write(json.dumps({**record, "observees": links}) + "\n")


def plan(folder: Path) -> dict[str, Any]:
    from canvas_observers.canvas.models import CanvasUser
    from canvas_observers.core.outcomes import Outcome, RowResult
    from canvas_observers.roster.sources import read_source
    from canvas_observers.sync.rules import (
        AlreadyPaired,
        Found,
        Missing,
        ObserverState,
        Pair,
        Resolution,
        Skip,
        dry_run_outcome,
        linked_student,
        plan_row,
        resolve_observer,
        resolve_student,
        roster_conflicts,
    )

    started = time.perf_counter()
    roster = read_source(folder / "roster.csv")
    students: dict[str, list[CanvasUser]] = {}
    guardians: dict[str, tuple[CanvasUser, tuple[CanvasUser, ...]]] = {}
    with (folder / "answers.jsonl").open(encoding="utf-8") as f:
        for line in f:
            item = json.loads(line)
            if "student" in item:
                students[item["student"]] = [CanvasUser.from_json(item["user"])]
            else:
                links = tuple(CanvasUser.from_json(u) for u in item["observees"])
                guardians[item["guardian"]] = (CanvasUser.from_json(item["user"]), links)
    conflicts = roster_conflicts(roster.rows)
    groups: dict[str, list[Any]] = {}
    for row in sorted(roster.rows, key=lambda r: r.line):
        if row.line not in conflicts:
            groups.setdefault(row.email_key, []).append(row)
    cache: dict[str, Resolution] = {}  # the engine's per-run student look-ups
    results: list[RowResult] = []
    for email, group in groups.items():
        known = guardians.get(email)
        candidates = [known[0]] if known else []
        state = ObserverState(resolve_observer(candidates, email), known[1] if known else ())
        for row in group:
            linked = linked_student(state.observees, row)
            if linked is not None:
                results.append(_result(row, Outcome.ALREADY_PAIRED, linked.id))
                continue
            if row.student_id not in cache:
                cache[row.student_id] = resolve_student(
                    students.get(row.student_id, []), row.student_id
                )
            student = cache[row.student_id]
            match plan_row(row, student, state, method="code"):
                case Skip(outcome, _):
                    results.append(_result(row, outcome, None))
                case AlreadyPaired(user):
                    results.append(_result(row, Outcome.ALREADY_PAIRED, user.id))
                case Pair() as action:
                    results.append(_result(row, dry_run_outcome(action), action.student.id))
                    state = ObserverState(
                        state.resolution, (*state.observees, action.student), login_exists=True
                    )
    assert all(isinstance(r, Found | Missing) for r in cache.values())
    outcomes: dict[str, int] = {}
    for r in results:
        outcomes[r.outcome.value] = outcomes.get(r.outcome.value, 0) + 1
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "rows": len(roster.rows) + len(roster.problems),
        "valid_rows": len(roster.rows),
        "invalid_rows": len(roster.problems),
        "guardians": len(groups),
        "outcomes": outcomes,
        "plan_s": round(time.perf_counter() - started, 2),
        "peak_rss_mb": round(peak_kb / 1024, 1),
    }


def _result(row: Any, outcome: Any, student_id: int | None) -> Any:
    from canvas_observers.core.outcomes import RowResult

    return RowResult(
        line=row.line,
        student_id=row.student_id,
        observer_email=row.observer_email,
        outcome=outcome,
        canvas_student_id=student_id,
    )


def main() -> None:
    p = argparse.ArgumentParser(description="read, validate and plan a big roster; peak RSS")
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--plan", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.generate:
        generate(args.generate, args.rows, args.seed)
        return
    if args.plan:
        print(json.dumps(plan(args.plan)))
        return
    with tempfile.TemporaryDirectory(prefix="memcheck-") as tmp:
        me = [sys.executable, __file__]
        subprocess.run(
            [*me, "--generate", tmp, "--rows", str(args.rows), "--seed", str(args.seed)], check=True
        )
        done = subprocess.run([*me, "--plan", tmp], check=True, capture_output=True, text=True)
    print(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
