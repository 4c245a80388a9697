"""Where a sync's seconds go: in-flight requests over time, pacer waits vs time on the wire.

Runs the real sync (`run_sync` with the real `CanvasClient` and pacer) in this process against
a fresh fake Canvas process, samples `pacer.in_flight` every 5 ms, and times every request's
wait for admission and its time inside the slot (sending, the fake's latency, answer parsing).

    .venv/bin/python benchmarks/profile_sync.py [--rows 1000] [--latency-ms 50] [--pairing code]
        [--canvas-state lookups|report] [--report-seconds 5]

With `--canvas-state report` the figures after "writes_" cover the writes only: from the moment
the provisioning report's file is read (the snapshot is in) to the end of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from canvas_observers.canvas.client import CanvasClient
from canvas_observers.canvas.pacing import Slot
from canvas_observers.roster.sources import read_source
from canvas_observers.sync.options import SyncOptions
from canvas_observers.sync.run import run_sync
from harness import ADMIN_TOKEN, fake_server

# The calls that read Canvas before the first write in report mode.
READING = frozenset(
    {"get_self", "account_permissions", "start_report", "poll_report", "report_file",
     "report_file_store"}
)  # fmt: skip


async def profile(url: str, roster: Path, pairing: str, canvas_state: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30.0) as http:
        client = CanvasClient(http, base_url=url, token=ADMIN_TOKEN)
        pacer = client.pacer
        waits: list[float] = []
        held: list[float] = []
        original = pacer.slot

        @asynccontextmanager
        async def timed_slot() -> AsyncIterator[Slot]:
            asked = time.perf_counter()
            async with original() as slot:
                admitted = time.perf_counter()
                waits.append(admitted - asked)
                try:
                    yield slot
                finally:
                    held.append(time.perf_counter() - admitted)

        pacer.slot = timed_slot  # type: ignore[method-assign]
        samples: Counter[int] = Counter()
        write_samples: Counter[int] = Counter()
        snapshot_at: list[float] = []  # when the report's file was read (report mode)
        done = False
        original_download = client.download

        async def timed_download(url: str) -> bytes:
            data = await original_download(url)
            snapshot_at.append(time.perf_counter())
            return data

        client.download = timed_download  # type: ignore[method-assign]

        async def sampler() -> None:
            while not done:
                samples[pacer.in_flight] += 1
                if snapshot_at:
                    write_samples[pacer.in_flight] += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(sampler())
        started = time.perf_counter()
        report = await run_sync(
            read_source(roster),
            client=client,
            options=SyncOptions(
                method="code" if pairing == "code" else "direct",
                canvas_state="report" if canvas_state == "report" else "lookups",
            ),
            canvas_url=url,
        )
        elapsed = time.perf_counter() - started
        done = True
        await task
    n = sum(samples.values())
    writes: dict[str, Any] = {}
    if snapshot_at:
        w, write_s = sum(write_samples.values()), time.perf_counter() - snapshot_at[0]
        calls = report.info.api_calls
        sent = sum(calls.values()) - sum(v for k, v in calls.items() if k in READING)
        writes = {
            "snapshot_read_s": round(snapshot_at[0] - started, 2),
            "writes_s": round(write_s, 2),
            "writes_requests": sent,
            "writes_requests_per_s": round(sent / write_s, 1) if write_s else None,
            "writes_mean_in_flight": round(sum(k * v for k, v in write_samples.items()) / w, 2)
            if w
            else None,
            "writes_in_flight_share_of_time": {
                k: round(v / w, 3) for k, v in sorted(write_samples.items())
            }
            if w
            else {},
        }
    return {
        "run_s": round(elapsed, 2),
        "canvas_state": report.info.canvas_state,
        "requests": len(held),
        "requests_per_s": round(len(held) / elapsed, 1),
        "throttled": report.info.throttled,
        "in_flight_share_of_time": {k: round(v / n, 3) for k, v in sorted(samples.items())},
        "mean_in_flight": round(sum(k * v for k, v in samples.items()) / n, 2),
        "peak_in_flight": pacer.peak_in_flight,
        "slot_ms_median": round(1000 * statistics.median(held), 1),
        "slot_ms_p90": round(1000 * statistics.quantiles(held, n=10)[-1], 1),
        "pacer_wait_s_total": round(sum(waits), 1),
        "pacer_wait_ms_median": round(1000 * statistics.median(waits), 1),
        "estimated_base_level_at_end": round(pacer.estimate.level(time.monotonic()), 1),
        **writes,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--request-cost", type=float, default=0.05)
    p.add_argument("--pairing", choices=("code", "direct"), default="code")
    p.add_argument("--canvas-state", choices=("lookups", "report"), default="lookups")
    p.add_argument("--report-seconds", type=float, default=5.0, help="the fake's report run")
    args = p.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="profile-") as tmp,
        fake_server(
            Path(tmp),
            rows=args.rows,
            seed=args.seed,
            latency_ms=args.latency_ms,
            request_cost=args.request_cost,
            report_seconds=args.report_seconds,
        ) as server,
    ):
        cpu0 = server.cpu_seconds()
        result = asyncio.run(profile(server.url, server.roster, args.pairing, args.canvas_state))
        result["server_cpu_s"] = round(server.cpu_seconds() - cpu0, 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
