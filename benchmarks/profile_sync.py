"""Where a sync's seconds go: in-flight requests over time, pacer waits vs time on the wire.

Runs the real sync (`run_sync` with the real `CanvasClient` and pacer) in this process against
a fresh fake Canvas process, samples `pacer.in_flight` every 5 ms, and times every request's
wait for admission and its time inside the slot (sending, the fake's latency, answer parsing).

    .venv/bin/python benchmarks/profile_sync.py [--rows 1000] [--latency-ms 50] [--pairing code]
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
from canvas_observers.sync.engine import SyncOptions
from canvas_observers.sync.run import run_sync
from harness import ADMIN_TOKEN, fake_server


async def profile(url: str, roster: Path, pairing: str) -> dict[str, Any]:
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
        done = False

        async def sampler() -> None:
            while not done:
                samples[pacer.in_flight] += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(sampler())
        started = time.perf_counter()
        report = await run_sync(
            read_source(roster),
            client=client,
            options=SyncOptions(method="code" if pairing == "code" else "direct"),
            canvas_url=url,
        )
        elapsed = time.perf_counter() - started
        done = True
        await task
    n = sum(samples.values())
    return {
        "run_s": round(elapsed, 2),
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
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--request-cost", type=float, default=0.05)
    p.add_argument("--pairing", choices=("code", "direct"), default="code")
    args = p.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="profile-") as tmp,
        fake_server(
            Path(tmp),
            rows=args.rows,
            seed=args.seed,
            latency_ms=args.latency_ms,
            request_cost=args.request_cost,
        ) as server,
    ):
        cpu0 = server.cpu_seconds()
        result = asyncio.run(profile(server.url, server.roster, args.pairing))
        result["server_cpu_s"] = round(server.cpu_seconds() - cpu0, 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
