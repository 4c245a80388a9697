"""A 100,000-row district, already synced: an unchanged re-run in report mode, and a dry run.

    .venv/bin/python benchmarks/big_rerun.py [--rows 100000] [--seed 7] [--report-seconds 5]

1. Build: a fresh fake Canvas (`--scenario generated --rows 100000`, started like the
   benchmark's) with fast knobs (latency 0, `--no-throttle`, `--report-seconds 0`),
   and one real `sync --pairing direct --canvas-state report` to pair every row that can be.
   That is the sync itself making the district "already synced", not a shortcut; its figures
   are printed as setup, not measured against a target.
2. The fake is switched to the benchmark's knobs (`POST /__fake__/config`: latency 50 ms, the
   default throttle, request cost 0.05, the report's seconds), then the measured runs, each a
   child process (peak RSS and CPU from wait4's rusage), the calls counted by the fake:
   * the unchanged re-run: `sync --pairing direct --canvas-state report`, same journal, with
     `--report rerun.json` as a cron job would write it;
   * the dry run: `sync --pairing direct --canvas-state report --dry-run`: reading the snapshot
     and planning every row at once, with nothing to write, and no `--report` file (rendering
     100,000 rows as JSON is not reading or planning: ~70 MB more); its figures come from the
     journal (`Journal.list_runs`) and the fake.

Results go to benchmarks/results/big_rerun.json. Takes ~15 minutes on 2 shared cores, mostly
the build. `--save-report FILE` also keeps the synced district's provisioning report file (to
profile the snapshot's parse on its own).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import source_version
from canvas_observers.store.journal import Journal
from harness import ADMIN_TOKEN, Calls, FakeServer, Measured, cli_command, fake_server, run_measured

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "big_rerun.json"
REPORT_READ = re.compile(r"provisioning report \d+ read in ([\d.]+) s: (\d+) users")
TARGET_CALLS = 60
TARGET_PLAN_MB = 400


def sync(
    server: FakeServer,
    work: Path,
    name: str,
    *extra: str,
    log_level: str = "info",
    report_file: bool = True,
) -> tuple[Measured, dict[str, Any], Calls]:
    """One `sync --pairing direct --canvas-state report` child process against ``server``;
    the run's figures from its `--report` JSON, or without one from the journal."""
    report = work / f"{name}.json"
    journal = work / "journal.db"
    args = cli_command(
        "sync",
        str(server.roster),
        *("--pairing", "direct", "--canvas-state", "report", "--state", str(journal)),
        *(("--report", str(report)) if report_file else ()),
        *("--log-level", log_level),
        *extra,
    )
    before = server.stats()
    env = {"CANVAS_URL": server.url, "CANVAS_TOKEN": ADMIN_TOKEN}
    measured = run_measured(args, env=env)
    if measured.returncode not in (0, 1) or (report_file and not report.exists()):
        raise RuntimeError(f"{name} failed (exit {measured.returncode}):\n{measured.output}")
    calls = Calls.between(before, server.stats())
    run = json.loads(report.read_text("utf-8"))["run"] if report_file else last_run(journal)
    if "start_report" not in run["api_calls"] or run.get("canvas_state", "report") != "report":
        raise RuntimeError(f"{name} did not read Canvas by a report: {run}")
    hops = run["api_calls"].get("report_file", 0) + run["api_calls"].get("report_file_store", 0)
    return measured, run, calls.with_file_hops(hops)


def last_run(path: Path) -> dict[str, Any]:
    """The journal's newest run, shaped like the `run` of a JSON report (the parts used)."""
    with Journal.open(path) as journal:
        (record,) = journal.list_runs(limit=1)
    started = datetime.fromisoformat(record.started_at)
    ended = datetime.fromisoformat(record.ended_at or record.started_at)
    skip = {"throttled", "retries"}  # finish_run stores them beside the calls
    return {
        "duration_s": round((ended - started).total_seconds(), 3),
        "api_calls": {k: v for k, v in record.api_calls.items() if k not in skip},
        "totals": record.totals,
        "dry_run": record.dry_run,
    }


def download_report(server: FakeServer) -> bytes:
    """The newest provisioning report's file, as the sync downloaded it (the verifier URL)."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    path = "/api/v1/accounts/1/reports/provisioning_csv"
    (newest, *_) = server.http.get(f"{server.url}{path}", headers=headers).json()
    url = newest["attachment"]["url"]
    return server.http.get(url, follow_redirects=True, timeout=120).content


def figures(measured: Measured, run: dict[str, Any], calls: Calls) -> dict[str, Any]:
    read = REPORT_READ.search(measured.output)
    report_read_s = float(read.group(1)) if read else None
    return {
        "process_s": round(measured.wall_s, 2),
        "run_s": run["duration_s"],
        "report_read_s": report_read_s,
        "after_report_s": round(run["duration_s"] - report_read_s, 2) if read else None,
        "snapshot_users": int(read.group(2)) if read else None,
        "calls": calls.total,
        "calls_by_kind": {k: v for k, v in calls.by_kind.items() if v},
        "sync_api_calls": run["api_calls"],
        "writes": calls.writes,
        "throttled": calls.throttled,
        "totals": {k: v for k, v in run.get("totals", {}).items() if v},
        "peak_rss_mb": round(measured.peak_rss_mb, 1),
        "cpu_s": round(measured.cpu_s, 2),
        "exit_code": measured.returncode,
    }


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description="100,000-row re-run and dry run in report mode")
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--request-cost", type=float, default=0.05)
    p.add_argument("--report-seconds", type=float, default=5.0)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--save-report", type=Path, help="keep the synced district's report file")
    args = p.parse_args()
    data: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "save_report")},
        "source": source_version(),
    }
    with tempfile.TemporaryDirectory(prefix="big-") as tmp:
        work = Path(tmp)
        say(f"starting a fake Canvas with {args.rows} rows...")
        started = time.perf_counter()
        with fake_server(
            work,
            rows=args.rows,
            seed=args.seed,
            latency_ms=0,
            request_cost=0,
            throttle=False,
            report_seconds=0,
            name="big",
        ) as server:
            data["fake_start_s"] = round(time.perf_counter() - started, 1)
            state = server.state()
            data["district"] = {
                "roster_rows": sum(1 for _ in server.roster.open(encoding="utf-8")) - 1,
                "users": len(state["users"]),
                "observer_links_before": len(state["observer_links"]),
                "enrollments": len(state["enrollments"]),
            }
            del state
            say("build: the first sync (direct, report mode, no latency, no throttle)...")
            build = figures(*sync(server, work, "build", log_level="warning"))
            data["build"] = build
            data["district"]["observer_links_after"] = len(server.state()["observer_links"])
            say(f"build done in {build['process_s']} s; switching to the benchmark's knobs")
            server.configure(
                latency_ms=args.latency_ms,
                throttle=True,
                request_cost=args.request_cost,
                report_seconds=args.report_seconds,
            )
            say("the unchanged re-run...")
            data["rerun"] = figures(*sync(server, work, "rerun"))
            say("the dry run (read the snapshot, plan every row)...")
            dry = sync(server, work, "dry-run", "--dry-run", report_file=False)
            data["dry_run"] = figures(*dry)
            if args.save_report:
                args.save_report.write_bytes(download_report(server))
    rerun, dry = data["rerun"], data["dry_run"]
    data["targets"] = [
        {
            "target": f"re-run: <= {TARGET_CALLS} calls",
            "measured": rerun["calls"],
            "met": rerun["calls"] <= TARGET_CALLS,
        },
        {"target": "re-run: 0 writes", "measured": rerun["writes"], "met": rerun["writes"] == 0},
        {
            "target": f"snapshot read and plan (dry run): peak RSS < {TARGET_PLAN_MB} MB",
            "measured": dry["peak_rss_mb"],
            "met": dry["peak_rss_mb"] < TARGET_PLAN_MB,
        },
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    d = data["district"]
    print(
        f"District: {d['roster_rows']} roster rows, {d['users']} Canvas users, "
        f"{d['observer_links_before']} links before the build, {d['observer_links_after']} after"
    )
    print(
        f"Settings: latency {args.latency_ms} ms, request cost {args.request_cost}, default "
        f"throttle, report {args.report_seconds} s + 20 µs per CSV row"
    )
    b = data["build"]
    print(
        f"Build (setup, fast knobs): {b['process_s']} s, {b['calls']} calls, "
        f"{b['writes']} writes, outcomes {b['totals']}"
    )
    for label, r in (("Re-run", rerun), ("Dry run", dry)):
        print(
            f"{label}: {r['process_s']} s wall ({r['run_s']} s in the run: report read "
            f"{r['report_read_s']} s, then {r['after_report_s']} s), {r['calls']} calls "
            f"{r['calls_by_kind']}, {r['writes']} writes, {r['throttled']} throttled, "
            f"peak RSS {r['peak_rss_mb']} MB, CPU {r['cpu_s']} s"
        )
    for t in data["targets"]:
        print(f"  {'met' if t['met'] else 'NOT MET'}  {t['target']}: {t['measured']}")
    print(f"Written to {args.out}")


if __name__ == "__main__":
    main()
