"""`make bench`: the sync side by side with the article's process, against Canvas's throttle.

Every contender gets a fresh fake Canvas process (`canvas-observers fake-canvas --scenario
generated`, same rows and seed, so the same district) over real loopback HTTP, with
`--latency-ms`, the default throttle and `--report-seconds` (how long its provisioning report
runs); the fake's `GET /__fake__/stats` (diffed before and after) counts the calls. The sync
runs both ways of reading Canvas: `--canvas-state lookups` (row by row) and `--canvas-state
report` (one provisioning report, then only the writes). Contenders run as child processes,
so each one's peak RSS and CPU time are its own (wait4's rusage). See docs/performance.md for
the settings and the analysis; benchmarks/big_rerun.py measures a 100,000-row re-run.

    .venv/bin/python benchmarks/bench.py [--rows 1000] [--seed 7] [--latency-ms 50] ...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from harness import ADMIN_TOKEN, Calls, FakeServer, cli_command, fake_server, run_measured

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "latest.json"
# Canvas's default bucket (request_throttle.rb): a request may start while fewer than
# hwm / up_front = 12 reservations are held, i.e. 11 others in flight; 10 units/s leak.
MAX_IN_FLIGHT_MODEL = 11
OUTFLOW = 10.0
CONTENDERS = (
    "article", "gather", "sync-code", "sync-direct", "rerun",
    "report-code", "report-direct", "report-rerun",
)  # fmt: skip
LABELS = {
    "article": "1. article, one row at a time",
    "gather": "2. article, all rows at once",
    "sync-code": "3. sync --pairing code --canvas-state lookups",
    "sync-direct": "4. sync --pairing direct --canvas-state lookups",
    "rerun": "5. re-run of 3, unchanged (lookups)",
    "report-code": "6. sync --pairing code --canvas-state report",
    "report-direct": "7. sync --pairing direct --canvas-state report",
    "report-rerun": "8. re-run of 6, unchanged (report)",
}
# The sync contenders: (pairing, --canvas-state).
SYNCS = {
    "sync-code": ("code", "lookups"),
    "sync-direct": ("direct", "lookups"),
    "rerun": ("code", "lookups"),
    "report-code": ("code", "report"),
    "report-direct": ("direct", "report"),
    "report-rerun": ("code", "report"),
}
# Look-ups mode in docs/performance.md before the report mode (run s, same settings): the
# look-up contenders must not be slower than this.
PREVIOUS_LOOKUPS_S = {"sync-code": 18.8, "sync-direct": 15.1, "rerun": 3.7}
PREVIOUS_SETTINGS = {"rows": 1000, "seed": 7, "latency_ms": 50.0, "request_cost": 0.05}
# The fake's provisioning report takes report_seconds plus this per CSV row
# (fake_canvas/reports.py ROW_SECONDS).
REPORT_ROW_SECONDS = 20e-6
REPORT_READ = re.compile(r"provisioning report \d+ read in ([\d.]+) s")


def model_rate(latency_ms: float, cost: float) -> float:
    """Requests per second no client can beat under the fake's bucket and latency."""
    by_flight = MAX_IN_FLIGHT_MODEL / (latency_ms / 1000) if latency_ms > 0 else math.inf
    by_cost = OUTFLOW / cost if cost > 0 else math.inf
    return min(by_flight, by_cost)


def _row_count(roster: Path) -> int:
    with roster.open(encoding="utf-8") as f:
        return sum(1 for _ in f) - 1


def _result(
    name: str,
    *,
    rows: int,
    rows_run: int,
    run_s: float,
    calls: Calls,
    outcomes: dict[str, int],
    measured: Any,
    server_cpu_s: float,
    settings: argparse.Namespace,
    extra: dict[str, Any] | None = None,
    file_hops: int = 0,
    report_s: float = 0.0,
) -> dict[str, Any]:
    """One table line; counts measured on a sample are scaled by rows / rows_run.

    ``file_hops``: requests of a report's download, already in ``calls``; they are not under
    /api/, so never delayed or throttled, and not in the bound. ``report_s``: how long the
    fake's report ran (0: no report), added to the bound: no client gets the file sooner."""
    scale = rows / rows_run if rows_run else 1.0
    total = calls.total * scale
    requests = total + calls.throttled * scale
    rate = model_rate(settings.latency_ms, settings.request_cost)
    paced = total - file_hops
    bound_s = report_s + (paced / rate if math.isfinite(rate) else 0.0)
    run_scaled = run_s * scale
    return {
        "name": name,
        "label": LABELS[name],
        "rows": rows,
        "rows_measured": rows_run,
        "scaled": scale != 1.0,
        "run_s": round(run_scaled, 3),
        "process_s": round(measured.wall_s, 3),
        "calls": round(total),
        "calls_per_row": round(total / rows, 3),
        "by_kind_per_row": {k: round(v * scale / rows, 3) for k, v in calls.by_kind.items()},
        "by_kind": {k: round(v * scale) for k, v in calls.by_kind.items()},
        "writes": round(calls.writes * scale),
        "throttled": round(calls.throttled * scale),
        "throttled_pct": round(100 * calls.throttled * scale / requests, 2) if requests else 0.0,
        "failed_rows": round(outcomes.get("failed", 0) * scale),
        "outcomes": outcomes,
        "peak_rss_mb": round(measured.peak_rss_mb, 1),
        "client_cpu_s": round(measured.cpu_s, 2),
        "server_cpu_s": round(server_cpu_s, 2),
        "server_busy_pct": round(100 * server_cpu_s / measured.wall_s, 1),
        "requests_per_s": round(requests / run_scaled, 1) if run_scaled else 0.0,
        "bound_s": round(bound_s, 3),
        "report_bound_s": round(report_s, 3),
        "bound_share_pct": round(100 * bound_s / run_scaled, 1) if run_scaled else 0.0,
        "exit_code": measured.returncode,
        **(extra or {}),
    }


def _env(server: FakeServer) -> dict[str, str]:
    return {"CANVAS_URL": server.url, "CANVAS_TOKEN": ADMIN_TOKEN}


def run_article(
    server: FakeServer, work: Path, mode: str, limit: int, settings: argparse.Namespace, name: str
) -> dict[str, Any]:
    out = work / f"{name}.json"
    before, cpu0 = server.stats(), server.cpu_seconds()
    args = [sys.executable, str(HERE / "article.py"), str(server.roster), "--mode", mode]
    args += ["--url", server.url, "--out", str(out)]
    if limit:
        args += ["--limit", str(limit)]
    measured = run_measured(args, env=_env(server))
    if measured.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{measured.output}")
    calls = Calls.between(before, server.stats())
    data = json.loads(out.read_text())
    return _result(
        name,
        rows=_row_count(server.roster),
        rows_run=data["rows_run"],
        run_s=data["elapsed_s"],
        calls=calls,
        outcomes=data["outcomes"],
        measured=measured,
        server_cpu_s=server.cpu_seconds() - cpu0,
        settings=settings,
        extra={"errors": data["errors"], "client_throttled_seen": data["throttled"]},
    )


def run_sync(
    server: FakeServer, work: Path, settings: argparse.Namespace, name: str, journal: Path
) -> dict[str, Any]:
    """One sync run (pairing and --canvas-state from SYNCS) against ``server``.

    Report mode logs at info, for the one line that says how long the report took to read
    (httpx's request lines stay off at info; look-up contenders log at warning, as before)."""
    pairing, canvas_state = SYNCS[name]
    report = work / f"{name}.json"
    before, cpu0 = server.stats(), server.cpu_seconds()
    args = cli_command(
        "sync",
        str(server.roster),
        *("--pairing", pairing, "--canvas-state", canvas_state),
        *("--report", str(report), "--state", str(journal)),
        *("--log-level", "info" if canvas_state == "report" else "warning"),
    )
    measured = run_measured(args, env=_env(server))
    if measured.returncode not in (0, 1) or not report.exists():
        raise RuntimeError(f"{name} failed (exit {measured.returncode}):\n{measured.output}")
    after = server.stats()
    calls = Calls.between(before, after)
    data = json.loads(report.read_text())
    run = data["run"]
    if run.get("canvas_state", canvas_state) != canvas_state:
        raise RuntimeError(f"{name} read Canvas by {run['canvas_state']}, not {canvas_state}")
    # The download's two hops (Canvas's 302, then the files store) are not /api/ requests, so
    # the fake's method counts miss them: they come from the sync's own count, and the fake's
    # file_downloads checks the store's hop.
    hops = {k: run["api_calls"].get(k, 0) for k in ("report_file", "report_file_store")}
    calls = calls.with_file_hops(sum(hops.values()))
    outcomes = dict(Counter(r["outcome"] for r in data["rows"]))
    reported = sum(run["api_calls"].values())
    waited = REPORT_READ.search(measured.output)
    report_s = 0.0
    if canvas_state == "report":
        report_s = settings.report_seconds + REPORT_ROW_SECONDS * _report_rows(server, pairing)
    return _result(
        name,
        rows=_row_count(server.roster),
        rows_run=_row_count(server.roster),
        run_s=run["duration_s"],
        calls=calls,
        outcomes=outcomes,
        measured=measured,
        server_cpu_s=server.cpu_seconds() - cpu0,
        settings=settings,
        file_hops=sum(hops.values()),
        report_s=report_s,
        extra={
            "pairing": pairing,
            "canvas_state": run.get("canvas_state", canvas_state),
            "report_api_calls": run["api_calls"],
            "report_requests": reported,
            "report_throttled": run.get("throttled", 0),
            "report_retries": run.get("retries", 0),
            "report_wait_s": float(waited.group(1)) if waited else None,
            "file_downloads_seen_by_fake": after.get("file_downloads", 0)
            - before.get("file_downloads", 0),
        },
    )


def _report_rows(server: FakeServer, pairing: str) -> int:
    """CSV rows of the report the sync asks for, from the fake's state (approximate: one row
    per user, link and, for pairing codes, enrollment), for the report's share of the bound."""
    state = server.state()
    rows = len(state["users"]) + len(state["observer_links"])
    return rows + (len(state["enrollments"]) if pairing == "code" else 0)


def probe_server(work: Path, settings: argparse.Namespace) -> dict[str, Any]:
    """The fake's own capacity at latency 0, no throttle: requests/s and CPU per request."""
    n, concurrency = settings.probe_requests, 16
    with fake_server(
        work,
        rows=100,
        seed=settings.seed,
        latency_ms=0,
        request_cost=0,
        throttle=False,
        name="p",
    ) as server:
        cpu0 = server.cpu_seconds()

        async def load() -> float:
            headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
                queue = iter(range(n))

                async def worker() -> None:
                    for i in queue:
                        sis = 100001 + i % 100
                        (await http.get(f"/api/v1/users/sis_user_id:{sis}")).raise_for_status()

                started = time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(concurrency)))
                return time.perf_counter() - started

        elapsed = asyncio.run(load())
        cpu = server.cpu_seconds() - cpu0
    return {
        "requests": n,
        "concurrency": concurrency,
        "requests_per_s": round(n / elapsed, 1),
        "server_cpu_ms_per_request": round(1000 * cpu / n, 3),
        "server_max_requests_per_s": round(n / cpu, 1) if cpu else None,
    }


def run_all(settings: argparse.Namespace, console: Console) -> dict[str, Any]:
    wanted = settings.contenders
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        fake = {
            "rows": settings.rows,
            "seed": settings.seed,
            "latency_ms": settings.latency_ms,
            "request_cost": settings.request_cost,
            "report_seconds": settings.report_seconds,
        }

        def fresh(name: str) -> Any:
            console.print(f"[dim]{LABELS.get(name, name)}: starting a fresh fake Canvas...")
            return fake_server(work, name=name, **fake)

        probe = probe_server(work, settings) if settings.probe_requests else None
        district: dict[str, Any] = {}
        if "article" in wanted:
            with fresh("article") as server:
                district = _district(server)
                results["article"] = run_article(
                    server, work, "serial", settings.sample, settings, "article"
                )
        if "gather" in wanted:
            with fresh("gather") as server:
                district = district or _district(server)
                results["gather"] = run_article(server, work, "gather", 0, settings, "gather")
        # A first run and its re-run share a fake and a journal; every first run starts on a
        # fresh fake with a fresh journal.
        for first, again in (
            ("sync-code", "rerun"),
            ("sync-direct", None),
            ("report-code", "report-rerun"),
            ("report-direct", None),
        ):
            if first not in wanted and again not in wanted:
                continue
            journal = work / f"journal-{first}.db"
            with fresh(first) as server:
                district = district or _district(server)
                results[first] = run_sync(server, work, settings, first, journal)
                if again is not None and again in wanted:
                    results[again] = run_sync(server, work, settings, again, journal)
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {
            **{k: v for k, v in vars(settings).items() if k not in ("out", "contenders")},
            "model_rate_per_s": round(model_rate(settings.latency_ms, settings.request_cost), 1),
            "throttle": "Canvas defaults: hwm 600, 50 units up front, 10 units/s outflow",
            "report_row_seconds": REPORT_ROW_SECONDS,
            "source": source_version(),
        },
        "district": district,
        "server_probe": probe,
        "contenders": [results[n] for n in CONTENDERS if n in results],
        "targets": targets(results, settings),
    }


def _district(server: FakeServer) -> dict[str, Any]:
    state = server.state()
    lines = server.roster.read_text(encoding="utf-8").splitlines()
    return {
        "roster_rows": len(lines) - 1,
        "guardians_in_roster": len({line.split(",")[1].lower() for line in lines[1:]}),
        "users": len(state["users"]),
        "courses": len(state["courses"]),
        "enrollments": len(state["enrollments"]),
        "observer_links": len(state["observer_links"]),
        "roster_head": lines[:4],
    }


def targets(
    results: dict[str, dict[str, Any]], settings: argparse.Namespace
) -> list[dict[str, Any]]:
    """The targets, each with the measured figure and whether it is met. The comparison with
    the previous table's look-ups times holds only at that table's settings (the defaults)."""
    out: list[dict[str, Any]] = []
    same_as_before = all(
        getattr(settings, key) == value for key, value in PREVIOUS_SETTINGS.items()
    )

    def add(target: str, value: str, met: bool) -> None:
        out.append({"target": target, "measured": value, "met": met})

    def faster(name: str, times: float) -> None:
        art, mine = results.get("article"), results.get(name)
        if art and mine:
            speedup = art["run_s"] / mine["run_s"] if mine["run_s"] else math.inf
            measured = f"{speedup:.1f}x ({art['run_s']:.1f} s -> {mine['run_s']:.1f} s)"
            target = f"{LABELS[name][3:]} >= {times}x faster than contender 1"
            add(target, measured, speedup >= times)

    art, code = results.get("article"), results.get("sync-code")
    faster("sync-code", 10)
    if art and code:
        add(
            "fewer calls per row than contender 1 (first run, lookups)",
            f"{code['calls_per_row']} vs {art['calls_per_row']}",
            code["calls_per_row"] < art["calls_per_row"],
        )
    for name in ("sync-code", "report-code"):
        if name in results:
            c = results[name]
            add(f"{name}: 0 failed rows", str(c["failed_rows"]), c["failed_rows"] == 0)
            add(f"{name}: throttled < 1%", f"{c['throttled_pct']}%", c["throttled_pct"] < 1)
    for name in ("sync-code", "sync-direct"):
        if name in results:
            share = results[name]["bound_share_pct"]
            add(f"{name}: >= 80% of the throttle-model bound", f"{share}%", share >= 80)
    rerun = results.get("rerun")
    if rerun:
        add(
            "re-run (lookups): <= 1 call per roster row",
            str(rerun["calls_per_row"]),
            rerun["calls_per_row"] <= 1,
        )
        add("re-run (lookups): 0 writes", str(rerun["writes"]), rerun["writes"] == 0)
    for name, before in PREVIOUS_LOOKUPS_S.items():
        if name in results and same_as_before:
            now = results[name]["run_s"]
            add(
                f"{name}: not slower than the previous table ({before} s)",
                f"{now:.2f} s",
                now <= before,
            )
    for name in ("report-code", "report-direct"):
        if name in results:
            c = results[name]
            add(
                f"{name}: calls <= writes + 25",
                f"{c['calls']} calls, {c['writes']} writes (+{c['calls'] - c['writes']})",
                c["calls"] <= c["writes"] + 25,
            )
    faster("report-code", 20)
    faster("report-direct", 30)
    again = results.get("report-rerun")
    if again:
        add("report re-run: <= 25 calls", str(again["calls"]), again["calls"] <= 25)
        add("report re-run: 0 writes", str(again["writes"]), again["writes"] == 0)
    return out


def source_version() -> dict[str, Any]:
    """Which canvas_observers the children run (its folder, and that checkout's commit)."""
    done = subprocess.run(
        [sys.executable, "-c", "import canvas_observers; print(canvas_observers.__file__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    folder = Path(done.stdout.strip()).parent if done.returncode == 0 else None
    ours = HERE.parent / "src" / "canvas_observers"
    where = "this checkout's src" if folder == ours else "another checkout (PYTHONPATH)"
    out: dict[str, Any] = {"package": where if folder else None}
    if folder is not None:
        git = ["git", "-C", str(folder)]
        head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "."], capture_output=True, text=True
        )
        if head.returncode == 0:
            out["commit"] = head.stdout.strip()
            out["uncommitted_changes"] = bool(dirty.stdout.strip())
    return out


def print_table(data: dict[str, Any], console: Console) -> None:
    s, d = data["settings"], data["district"]
    console.print(
        f"[bold]District[/]: {d.get('roster_rows')} roster rows, "
        f"{d.get('guardians_in_roster')} guardians, {d.get('users')} Canvas users, "
        f"{d.get('observer_links')} links already; seed {s['seed']}"
    )
    console.print(
        f"[bold]Settings[/]: latency {s['latency_ms']} ms, request cost {s['request_cost']} "
        f"units, {s['throttle']}; model bound {s['model_rate_per_s']} requests/s; the fake's "
        f"provisioning report runs {s['report_seconds']} s + {s['report_row_seconds'] * 1e6:.0f}"
        " µs per CSV row"
    )
    table = Table(title="canvas-observers benchmark")
    for col in (
        "contender", "run s", "report wait s", "calls", "/row", "lookups", "reports", "creates",
        "codes", "pairings", "writes", "throttled", "failed", "RSS MB", "req/s", "bound s",
        "of bound",
    ):  # fmt: skip
        table.add_column(col, justify="left" if col == "contender" else "right")
    for c in data["contenders"]:
        k = c["by_kind_per_row"]
        label = c["label"] + (f" *scaled from {c['rows_measured']} rows" if c["scaled"] else "")
        wait = c.get("report_wait_s")
        table.add_row(
            label, f"{c['run_s']:.1f}", "-" if wait is None else f"{wait:.1f}", str(c["calls"]),
            f"{c['calls_per_row']:.2f}", f"{k['lookups']:.2f}", f"{k.get('reports', 0):.3f}",
            f"{k['creates']:.2f}", f"{k['codes']:.2f}", f"{k['pairings']:.2f}", str(c["writes"]),
            f"{c['throttled']} ({c['throttled_pct']}%)", str(c["failed_rows"]),
            f"{c['peak_rss_mb']:.0f}", f"{c['requests_per_s']:.0f}", f"{c['bound_s']:.1f}",
            f"{c['bound_share_pct']:.0f}%",
        )  # fmt: skip
    console.print(table)
    console.print(
        "Per-row figures are per roster row (all kinds: lookups/reports/creates/codes/pairings). "
        "reports: starting, polling and downloading the provisioning report (its two download "
        "hops, not /api/, counted by the sync). writes: POST/PUT/DELETE that change Canvas (a "
        "report's start is not one). report-mode bound: the report's run + the paced calls."
    )
    if data.get("server_probe"):
        p = data["server_probe"]
        console.print(
            f"[bold]Fake server capacity[/] (latency 0, no throttle): {p['requests_per_s']} "
            f"requests/s from one client; server CPU {p['server_cpu_ms_per_request']} ms/request "
            f"(at most ~{p['server_max_requests_per_s']} requests/s on one core)"
        )
    for t in data["targets"]:
        mark = "[green]met[/]" if t["met"] else "[red]MISSED[/]"
        console.print(f"  {mark}  {t['target']}: {t['measured']}")


MARKDOWN_COLUMNS = (
    "contender", "run s", "report wait s", "calls", "/row", "lookups", "reports", "creates",
    "codes", "pairings", "writes", "throttled", "failed rows", "RSS MB", "req/s", "bound s",
    "of bound",
)  # fmt: skip


def _per_row(value: float) -> str:
    """A per-row figure as docs/performance.md prints it: 0, else 2 decimals, else 3."""
    if value == 0:
        return "0"
    return f"{value:.2f}" if value >= 0.1 else f"{value:.3f}"


def markdown_table(data: dict[str, Any]) -> str:
    """The contenders of a results file as the Markdown table of docs/performance.md, so the
    page's "Latest table" is made from the file it names, never copied by hand."""
    lines = [
        "| " + " | ".join(MARKDOWN_COLUMNS) + " |",
        "|" + "---|" * len(MARKDOWN_COLUMNS),
    ]
    for c in data["contenders"]:
        k = c["by_kind_per_row"]
        label = c["label"] + (f" (scaled from {c['rows_measured']} rows)" if c["scaled"] else "")
        wait = c.get("report_wait_s")
        failed = str(c["failed_rows"])
        cells = (
            label, f"{c['run_s']:.1f}", "–" if wait is None else f"{wait:.1f}", str(c["calls"]),
            _per_row(c["calls_per_row"]), _per_row(k["lookups"]), _per_row(k.get("reports", 0)),
            _per_row(k["creates"]), _per_row(k["codes"]), _per_row(k["pairings"]),
            str(c["writes"]), f"{c['throttled']} ({c['throttled_pct']:.0f}%)",
            f"**{failed}**" if c["failed_rows"] else failed, f"{c['peak_rss_mb']:.0f}",
            f"{c['requests_per_s']:.0f}", f"{c['bound_s']:.1f}", f"{c['bound_share_pct']:.0f}%",
        )  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="canvas-observers benchmark")
    p.add_argument("--rows", type=int, default=1000, help="roster rows (up to 100,000)")
    p.add_argument("--seed", type=int, default=7, help="district seed")
    p.add_argument("--latency-ms", type=float, default=50.0, help="fake latency per request")
    p.add_argument(
        "--request-cost",
        type=float,
        default=0.05,
        help="throttle units per finished request (Canvas charges CPU+DB seconds; a light API "
        "call costs a few hundredths)",
    )
    p.add_argument(
        "--report-seconds",
        type=float,
        default=5.0,
        help="the fake's --report-seconds: how long its provisioning report runs (plus 20 µs "
        "per CSV row); part of the report contenders' time",
    )
    p.add_argument("--sample", type=int, default=100, help="rows timed for contender 1")
    p.add_argument("--contenders", default=",".join(CONTENDERS), help="comma-separated subset")
    p.add_argument("--probe-requests", type=int, default=2000, help="0: skip the server probe")
    p.add_argument("--memory-rows", type=int, default=100_000, help="0: skip the memory check")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument(
        "--markdown",
        type=Path,
        metavar="RESULTS",
        help="print a results file's table as docs/performance.md shows it, and run nothing",
    )
    args = p.parse_args(argv)
    if not 1 <= args.rows <= 100_000:
        p.error("--rows must be 1..100000")
    args.contenders = [c for c in args.contenders.split(",") if c]
    unknown = set(args.contenders) - set(CONTENDERS)
    if unknown:
        p.error(f"unknown contenders: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> None:
    settings = parse_args(argv)
    if settings.markdown is not None:
        print(markdown_table(json.loads(settings.markdown.read_text(encoding="utf-8"))))
        return
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # the table is wide; logs and CI are not 80 columns
    data = run_all(settings, console)
    if settings.memory_rows:
        console.print(f"[dim]memory check: {settings.memory_rows} rows...")
        args = [sys.executable, str(HERE / "memcheck.py"), "--rows", str(settings.memory_rows)]
        measured = run_measured([*args, "--seed", str(settings.seed)])
        if measured.returncode != 0:
            raise RuntimeError(f"memory check failed:\n{measured.output}")
        data["memory_check"] = json.loads(measured.output.strip().splitlines()[-1])
    print_table(data, console)
    if "memory_check" in data:
        m = data["memory_check"]
        console.print(
            f"[bold]Memory check[/]: read, validate and plan {m['rows']} rows: "
            f"peak RSS {m['peak_rss_mb']} MB (target < 300 MB) in {m['plan_s']} s"
        )
    settings.out.parent.mkdir(parents=True, exist_ok=True)
    settings.out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    console.print(f"Written to {settings.out}")


if __name__ == "__main__":
    main()
