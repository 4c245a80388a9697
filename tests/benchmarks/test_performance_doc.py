"""docs/performance.md's "Latest table" is the table of the results file the page names, as
`benchmarks/bench.py --markdown` renders it: a new benchmark run that is not written into the
page, or a figure edited by hand, fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.benchmarks.test_bench_smoke import _load

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "performance.md"


def _latest_table(page: str) -> str:
    section = page.split("## Latest table\n\n", 1)[1]
    return section.split("\n\n", 1)[0].strip()


def test_the_latest_table_is_the_named_results_file() -> None:
    page = PAGE.read_text(encoding="utf-8")
    named = re.search(r"the latest figures are in `([^`]+\.json)`", page)
    assert named is not None, "docs/performance.md no longer names its results file"
    data = json.loads((ROOT / named.group(1)).read_text(encoding="utf-8"))
    assert _latest_table(page) == _load("bench").markdown_table(data)


def test_the_markdown_marks_failed_rows_and_scaled_contenders() -> None:
    """The renderer itself: a contender with failed rows shows them in bold, a scaled one says
    from how many rows, and per-row figures keep their small values."""
    contender = {
        "label": "1. article", "scaled": True, "rows_measured": 100, "run_s": 251.06,
        "calls": 4580, "calls_per_row": 4.58, "writes": 2040, "throttled": 3,
        "throttled_pct": 0.4, "failed_rows": 2, "peak_rss_mb": 36.3, "requests_per_s": 18.2,
        "bound_s": 22.9, "bound_share_pct": 9.1, "report_wait_s": None,
        "by_kind_per_row": {"lookups": 0.002, "reports": 0.0, "creates": 0.41, "codes": 0.86,
                            "pairings": 0.77},
    }  # fmt: skip
    table = _load("bench").markdown_table({"contenders": [contender]}).splitlines()
    assert table[2] == (
        "| 1. article (scaled from 100 rows) | 251.1 | – | 4580 | 4.58 | 0.002 | 0 | 0.41 | "
        "0.86 | 0.77 | 2040 | 3 (0%) | **2** | 36 | 18 | 22.9 | 9% |"
    )
