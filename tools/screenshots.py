"""Regenerate docs/images/: the demo's first-run report and its coverage audit, as a browser
shows them at 1280 px and at a phone's 390 px (Debian's chromium, headless, via selenium).

    python tools/screenshots.py [--out docs/images]

The pages come from the demo's own data: the demo's fake district, synced once (the run
`canvas-observers demo` makes first), then audited; nothing leaves this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from canvas_observers.audit.findings import audit
from canvas_observers.audit.render import write_audit
from canvas_observers.cli.wiring import time_zone_for
from canvas_observers.fake_canvas import FakeConfig, create_app
from canvas_observers.report.render import write_report
from canvas_observers.roster.sources import SourceOptions
from canvas_observers.sync.options import SyncOptions
from canvas_observers.sync.run import read_canvas, run_sync

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
WIDTHS = (1280, 390)


async def _pages(folder: Path) -> tuple[Path, Path]:
    """The demo district synced once (its report page), then audited (its audit page)."""
    app = create_app(
        FakeConfig(throttle=False, time_zone="America/Chicago", report_seconds=0.0), scenario="demo"
    )
    roster_path = folder / "demo-roster.csv"
    roster_path.write_text(app.fake.demo_roster or "", encoding="utf-8")
    roster = SourceOptions().read(roster_path)
    base = "http://127.0.0.1"
    token = app.fake.config.admin_token
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as http:
        from canvas_observers.canvas.client import CanvasClient

        client = CanvasClient(http, base_url=base, token=token)
        zone = await time_zone_for(None, client)
        result = await run_sync(
            roster, client=client, options=SyncOptions(), canvas_url=base, journal=None
        )
        report = folder / "report.html"
        write_report(report, result.info, result.results, time_zone=zone)
        snapshot = await read_canvas(
            CanvasClient(http, base_url=base, token=token), wait_at_most=600
        )
    page = folder / "audit.html"
    no_email = [p for p in roster.problems if p.no_email]
    about = {
        "canvas_url": base,
        "roster": roster_path.name,
        "generated_at": result.info.ended_at,
        "rows_rejected": len(roster.problems) - len(no_email),
    }
    found = audit(roster.rows, snapshot, no_email=no_email)
    write_audit(page, found, about, time_zone=zone)
    return report, page


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        report, page = asyncio.run(_pages(folder))
        options = Options()
        options.binary_location = "/usr/bin/chromium"
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={folder / 'profile'}")
        driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
        try:
            for name, path in (("report", report), ("audit", page)):
                for width in WIDTHS:
                    driver.set_window_size(width, 900)
                    driver.get(path.as_uri())
                    inner = driver.execute_script("return window.innerWidth")
                    driver.set_window_size(width + (width - inner), 900)
                    height = driver.execute_script("return document.body.scrollHeight")
                    driver.set_window_size(width + (width - inner), min(height, 2400))
                    target = out / f"{name}-{width}.png"
                    driver.save_screenshot(str(target))
                    print(target)
        finally:
            driver.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
