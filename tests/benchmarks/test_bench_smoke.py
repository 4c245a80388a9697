"""The benchmark machinery (benchmarks/) on a tiny district, so it does not rot.

It runs `benchmarks/bench.py` for real (fake Canvas processes, the article scripts, the sync
CLI, the memory check) on 20 rows with no latency, and checks the bookkeeping, never timings.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SYNCS = ("sync-code", "sync-direct", "rerun", "report-code", "report-direct", "report-rerun")


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCHMARKS))  # bench.py imports its sibling harness.py
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One small benchmark run, shared by the tests of this module."""
    out = tmp_path_factory.mktemp("bench") / "latest.json"
    args = ["--rows", "20", "--latency-ms", "0", "--sample", "5", "--seed", "3"]
    args += ["--report-seconds", "0"]
    args += ["--probe-requests", "20", "--memory-rows", "200", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "canvas-observers benchmark" in done.stdout
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


def _by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in data["contenders"]}


def test_every_contender_runs_on_the_same_district(result: dict[str, Any]) -> None:
    """All eight contenders report, on the 20-row district the settings name."""
    assert [c["name"] for c in result["contenders"]] == [
        "article",
        "gather",
        "sync-code",
        "sync-direct",
        "rerun",
        "report-code",
        "report-direct",
        "report-rerun",
    ]
    assert result["district"]["roster_rows"] == 20
    assert result["settings"]["rows"] == 20 and result["settings"]["seed"] == 3
    assert all(c["rows"] == 20 for c in result["contenders"])


def test_article_sample_is_scaled_to_the_roster(result: dict[str, Any]) -> None:
    """Contender 1 runs the first 5 rows and its counts are scaled to 20 rows, and says so."""
    article = _by_name(result)["article"]
    assert article["rows_measured"] == 5 and article["scaled"] is True
    assert sum(article["outcomes"].values()) == 5
    assert article["calls"] == sum(article["by_kind"].values())


def test_article_writes_are_its_samples_writes_scaled(result: dict[str, Any]) -> None:
    """The article's scaled writes are what its 5 sample rows wrote x 20 / 5: each sample row's
    outcome says which writes it sent (article.py: a code for every row that got that far, an
    account for a created one, a pairing for a paired or created one), and the scaled
    creates, codes and pairings add up to the scaled writes."""
    article = _by_name(result)["article"]
    measured = article["outcomes"]
    scale = article["rows"] / article["rows_measured"]
    assert scale == 4 and "failed" not in measured
    created, paired = measured.get("created", 0), measured.get("paired", 0)
    codes = created + paired + measured.get("not_enrolled", 0)
    assert created + paired > 0, "the sample wrote nothing: the relation would be vacuous"
    kinds = article["by_kind"]
    assert kinds["creates"] == created * scale
    assert kinds["codes"] == codes * scale
    assert kinds["pairings"] == (created + paired) * scale
    assert kinds["other"] == 0
    assert article["writes"] == (codes + created + (created + paired)) * scale
    assert article["writes"] == kinds["creates"] + kinds["codes"] + kinds["pairings"]
    assert article["calls"] == sum(kinds.values())
    # The sample's own run time is part of its process's: scaled, at most 4 times that.
    assert 0 < article["run_s"] <= article["process_s"] * scale


class _Server:
    """What run_article asks of a fake Canvas process: its URL, roster, stats and CPU."""

    url = "http://127.0.0.1:9"

    def __init__(self, roster: Path, stats: Sequence[dict[str, Any]]) -> None:
        self.roster = roster
        self._stats: Iterator[dict[str, Any]] = iter(stats)

    def stats(self) -> dict[str, Any]:
        return next(self._stats)

    def cpu_seconds(self) -> float:
        return 1.5


def test_article_figures_are_the_measured_ones_times_rows_over_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sample of 5 rows of a 20-row roster, with known measurements (the sample's run time
    from article.py, the calls from the fake's stats): every scaled figure is exactly the
    measured one x 20 / 5, per-row figures divide that by 20, and what is not scaled (the
    sample's outcomes, the process's own wall time) is as measured."""
    bench = _load("bench")
    roster = tmp_path / "roster.csv"
    roster.write_text("header\n" + "".join(f"row {i}\n" for i in range(20)), encoding="utf-8")
    before = {"by_method": {"GET": 10}, "by_route": {"GET /api/v1/users/:id": 10}, "throttled": 1}
    after = {
        "by_method": {"GET": 40, "POST": 9},
        "by_route": {
            "GET /api/v1/users/:id": 40,
            "POST /api/v1/accounts/:account_id/users": 2,
            "POST /api/v1/users/:user_id/observer_pairing_codes": 4,
            "POST /api/v1/users/:user_id/observees": 3,
        },
        "throttled": 3,
    }
    sample = {"rows_run": 5, "elapsed_s": 0.8, "outcomes": {"created": 2, "paired": 1,
              "not_enrolled": 1, "failed": 1}, "errors": {}, "throttled": 2}  # fmt: skip

    def measured_run(args: list[str], **_: Any) -> SimpleNamespace:
        out = Path(args[args.index("--out") + 1])
        out.write_text(json.dumps(sample), encoding="utf-8")
        return SimpleNamespace(returncode=0, wall_s=2.5, peak_rss_mb=40.0, cpu_s=0.7, output="")

    monkeypatch.setattr(bench, "run_measured", measured_run)
    settings = argparse.Namespace(latency_ms=50.0, request_cost=0.05)
    figures = bench.run_article(
        _Server(roster, [before, after]), tmp_path, "serial", 5, settings, "article"
    )
    scale = 20 / 5
    lookups, creates, codes, pairings, throttled = 30, 2, 4, 3, 2  # after - before
    calls = lookups + creates + codes + pairings
    assert (figures["rows"], figures["rows_measured"], figures["scaled"]) == (20, 5, True)
    assert figures["run_s"] == pytest.approx(0.8 * scale)
    assert figures["calls"] == calls * scale
    assert figures["writes"] == (creates + codes + pairings) * scale
    assert figures["throttled"] == throttled * scale
    assert figures["failed_rows"] == 1 * scale
    assert figures["by_kind"] == {
        "lookups": lookups * scale,
        "reports": 0,
        "creates": creates * scale,
        "codes": codes * scale,
        "pairings": pairings * scale,
        "other": 0,
    }
    assert figures["by_kind_per_row"]["lookups"] == pytest.approx(lookups * scale / 20)
    assert figures["calls_per_row"] == pytest.approx(calls * scale / 20)
    assert figures["requests_per_s"] == pytest.approx(
        (calls + throttled) * scale / (0.8 * scale), abs=0.05
    )
    assert figures["outcomes"] == sample["outcomes"]  # the sample's own rows, not scaled
    assert figures["process_s"] == 2.5


def test_sync_calls_agree_with_the_sync_report(result: dict[str, Any]) -> None:
    """The fake's count of a sync's requests equals what the sync's own report counted."""
    for name in SYNCS:
        c = _by_name(result)[name]
        assert c["calls"] + c["throttled"] == c["report_requests"], name
        assert c["calls"] == sum(c["by_kind"].values())
        assert sum(c["outcomes"].values()) == 20
        assert c["exit_code"] in (0, 1)


def test_each_sync_reads_canvas_the_way_its_label_says(result: dict[str, Any]) -> None:
    """Look-up contenders make no report call; report contenders start one report, poll it,
    fetch its file through the redirect (the fake's store saw the download) and look nothing up
    row by row."""
    for name in SYNCS:
        c = _by_name(result)[name]
        mode = "report" if name.startswith("report-") else "lookups"
        assert c["canvas_state"] == mode and mode in c["label"], name
        calls = c["report_api_calls"]
        if mode == "lookups":
            assert c["by_kind"]["reports"] == 0 and c["report_wait_s"] is None
            assert "start_report" not in calls
        else:
            assert calls["start_report"] == 1 and calls["report_file_store"] == 1
            assert c["by_kind"]["reports"] == 1 + calls["poll_report"] + 2
            assert c["file_downloads_seen_by_fake"] == 1
            assert c["report_wait_s"] is not None
            # the token, rights and provider checks, and the account (its time zone) only
            assert c["by_kind"]["lookups"] == 4


def test_rerun_writes_nothing_and_direct_needs_no_codes(result: dict[str, Any]) -> None:
    """The re-run of an unchanged district sends no writes; direct pairing asks no codes."""
    contenders = _by_name(result)
    for name in ("rerun", "report-rerun"):
        assert contenders[name]["writes"] == 0
    for name in ("sync-direct", "report-direct"):
        assert contenders[name]["by_kind"]["codes"] == 0
    for name in ("sync-code", "report-code"):
        assert contenders[name]["by_kind"]["codes"] > 0


def test_targets_and_memory_check_are_reported(result: dict[str, Any]) -> None:
    """The JSON holds the target verdicts, the server probe and the memory check."""
    names = {t["target"] for t in result["targets"]}
    assert {"re-run (lookups): 0 writes", "report re-run: 0 writes"} <= names
    assert "report-code: calls <= writes + 25" in names
    assert not any("previous table" in n for n in names)  # other settings than that table's
    assert result["settings"]["report_seconds"] == 0
    assert all(isinstance(t["met"], bool) for t in result["targets"])
    assert result["server_probe"]["requests"] == 20
    memory = result["memory_check"]
    assert memory["rows"] == 200 and memory["peak_rss_mb"] > 0
    assert sum(memory["outcomes"].values()) == memory["valid_rows"]


def test_calls_between_diffs_stats_by_kind() -> None:
    """Two /__fake__/stats snapshots become calls by kind, writes and throttled answers."""
    harness = _load("harness")
    before = {"by_method": {"GET": 2}, "by_route": {"GET /api/v1/users/:id": 2}, "throttled": 1}
    after = {
        "by_method": {"GET": 5, "POST": 3, "PUT": 1},
        "by_route": {
            "GET /api/v1/users/:id": 4,
            "GET /api/v1/accounts/:account_id/users": 1,
            "POST /api/v1/accounts/:account_id/users": 1,
            "POST /api/v1/users/:user_id/observer_pairing_codes": 1,
            "POST /api/v1/users/:user_id/observees": 1,
            "PUT /api/v1/users/:user_id/observees/:observee_id": 1,
        },
        "throttled": 4,
    }
    calls = harness.Calls.between(before, after)
    assert calls.by_kind == {
        "lookups": 3,
        "reports": 0,
        "creates": 1,
        "codes": 1,
        "pairings": 2,
        "other": 0,
    }
    assert (calls.total, calls.writes, calls.throttled) == (7, 4, 3)


def test_a_report_start_is_not_a_write_and_its_download_counts() -> None:
    """Starting and polling a report are "reports" calls; the start's POST is no write; the
    download's two hops (outside /api/) are added as GETs of that kind."""
    harness = _load("harness")
    start = "POST /api/v1/accounts/:account_id/reports/:report"
    poll = "GET /api/v1/accounts/:account_id/reports/:report/:id"
    before = {"by_method": {}, "by_route": {}, "throttled": 0, "file_downloads": 0}
    after = {
        "by_method": {"GET": 3, "POST": 2},
        "by_route": {start: 1, poll: 3, "POST /api/v1/users/:user_id/observees": 1},
        "throttled": 0,
        "file_downloads": 1,
    }
    calls = harness.Calls.between(before, after)
    assert (calls.by_kind["reports"], calls.writes, calls.file_downloads) == (4, 1, 1)
    both = calls.with_file_hops(2)
    assert (both.by_kind["reports"], both.total, both.writes) == (6, 7, 1)


def test_model_rate_takes_the_tighter_limit() -> None:
    """The bound is min(11 in flight / latency, 10 units/s / cost), unbounded when both are 0."""
    bench = _load("bench")
    assert bench.model_rate(50, 0.05) == pytest.approx(200.0)
    assert bench.model_rate(100, 0.01) == pytest.approx(110.0)
    assert math.isinf(bench.model_rate(0, 0))
