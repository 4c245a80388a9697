"""The HTML pages in a real browser: Debian's chromium, headless, driven by selenium through
Debian's chromedriver (no browser download).

The run report is opened from disk with ``#outcome=failed``; the test reads which rows the page
shows (rows with a layout box), changes the "Show rows" menu as a person would, reads them
again, and checks that the page asked for nothing but its own file, ran no roster value, and
that its Content-Security-Policy refuses a script the page did not bring. At a desktop's 1280
px and a phone's 390 px, both the run report and the audit page are measured from the DOM:
no horizontal scrolling, the what-to-do text at least 30 characters wide, the names and the
first sentence there.

Skipped only when chromium or chromedriver is missing outside CI; in CI (``CI`` set) a missing
one fails the test, and ``.ci/run`` installs both.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from canvas_observers.audit.findings import Audit, Finding
from canvas_observers.audit.render import write_audit
from canvas_observers.core.outcomes import Outcome, RowResult
from canvas_observers.core.timezone import FROM_CANVAS, chosen
from canvas_observers.report import RunInfo, totals, write_report
from canvas_observers.report.words import coverage_sentence, lead_sentence
from canvas_observers.roster.model import RemovalCandidate

webdriver = pytest.importorskip("selenium.webdriver")

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
HOSTILE = "<script>window.pwned = 1</script>"
LONG_EMAIL = "guardian." + "verylongname" * 8 + "@district-with-a-long-domain.example.org"
INFO = RunInfo(
    run_id=3,
    started_at="2024-09-01T02:00:00+00:00",
    ended_at="2024-09-01T02:01:30+00:00",
    canvas_url="https://school.instructure.com",
    dry_run=False,
    pairing="code",
    duration_s=90.0,
    api_calls={"get_user": 9},
    roster="roster.csv",
    rows_read=7,
    rows_rejected=0,
    duplicates=0,
)
RESULTS = [
    RowResult(2, HOSTILE, "pat@home.test", Outcome.CREATED, "", 101, 201, "Pat Kim", "Lee Kim"),
    RowResult(3, "S3", "sam@home.test", Outcome.FAILED, "502 Bad Gateway", 103, None, "Sam Ode"),
    RowResult(4, "S4-" + "9" * 60, LONG_EMAIL, Outcome.STUDENT_NOT_FOUND, "no exact match"),
    RowResult(5, "S5", "lee@home.test", Outcome.FAILED, "<b>timeout</b>", 105, None, "", "Ann Lee"),
    RowResult(6, "S6", "ann@home.test", Outcome.ALREADY_PAIRED, "", 106, 206),
    RowResult(7, "S7", "bo@home.test", Outcome.NOT_ENROLLED, "no live enrollment", 107),
    RowResult(8, "S10", "", Outcome.NO_EMAIL, "", 110, None, "Ida Moe", "Rita Moe"),
    RowResult(0, "S8", "old@home.test", Outcome.REMOVED, "the SIS ended it", 108, 208),
]
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VISIBLE = (
    "return Array.from(document.querySelectorAll('tr[data-outcome]'))"
    ".filter(row => row.getClientRects().length > 0).map(row => row.dataset.outcome)"
)
# How wide each visible element is, against 30 characters of ordinary text in its own font.
WIDTHS_IN_CHARACTERS = """
const found = [];
for (const cell of document.querySelectorAll(arguments[0])) {
  if (!cell.getClientRects().length) continue;
  const probe = document.createElement("span");
  probe.textContent = "what to do: check the id in t";  // 30 characters
  probe.style.whiteSpace = "nowrap";
  probe.style.position = "absolute";
  cell.appendChild(probe);
  const thirty = probe.getBoundingClientRect().width;
  probe.remove();
  found.push(cell.getBoundingClientRect().width / (thirty / 30));
}
return found;
"""


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A headless chromium with a fresh profile, its console and network logged."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"{', '.join(missing)} missing in CI (.ci/run installs chromium-driver)")
        pytest.skip("chromium / chromedriver not installed (apt-get install chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def at_width(driver: Any, width: int) -> None:
    """Make the page's viewport ``width`` CSS pixels wide (the window has its own frame)."""
    driver.set_window_size(width, 900)
    inner = driver.execute_script("return window.innerWidth")
    if inner != width:
        driver.set_window_size(width + (width - inner), 900)
    assert driver.execute_script("return window.innerWidth") == width


def choose(driver: Any, value: str) -> None:
    """Pick an entry of the "Show rows" menu as a person would (the change event fires)."""
    driver.execute_script(
        "const s = document.getElementById('outcome-filter');"
        f" s.value = {json.dumps(value)}; s.dispatchEvent(new Event('change'));"
    )


def requested(driver: Any) -> list[str]:
    """Every URL our file: page asked for since the last look (the DevTools performance log);
    nothing at all, the browser's own pages included, may have gone to the network."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            url, page = message["params"]["request"]["url"], message["params"]["documentURL"]
            assert not url.startswith(("http:", "https:", "ws:", "wss:", "ftp:")), url
            if page.startswith("file:"):
                urls.append(url)
    return urls


def open_page(driver: Any, url: str) -> None:
    """Load ``url``, the log of what was requested before (the browser's own start page)
    drained first, so ``requested`` tells what this page asked for."""
    driver.get_log("performance")
    driver.get(url)


def run_page(tmp_path: Path) -> Path:
    path = tmp_path / "run.html"
    candidates = [RemovalCandidate("S9", "end@home.test", "tobedeleted", "users.csv", 9)]
    zone = chosen("America/Chicago", FROM_CANVAS)
    write_report(path, INFO, RESULTS, removal_candidates=candidates, time_zone=zone)
    return path


def test_the_outcome_filter_shows_only_the_chosen_rows(browser: Any, tmp_path: Path) -> None:
    """Preset by #outcome=failed, then changed in the menu: the page shows exactly the rows of
    the chosen outcome (opening the folded done rows when they are chosen); it loads nothing but
    its own file; a <script> student id stays text; a script the page did not bring is refused
    by its Content-Security-Policy."""
    path = run_page(tmp_path)
    open_page(browser, path.as_uri() + "#outcome=failed")

    assert browser.execute_script(VISIBLE) == ["failed", "failed"]
    shown = "return document.getElementById('shown').textContent"
    assert browser.execute_script(shown) == "2 of 8 rows shown"
    choose(browser, "student_not_found")
    assert browser.execute_script(VISIBLE) == ["student_not_found"]
    choose(browser, "attention")  # what the run's --fail-on counted, as its exit code
    assert browser.execute_script(VISIBLE) == ["student_not_found", "failed", "failed"]
    choose(browser, "waiting")
    assert browser.execute_script(VISIBLE) == ["not_enrolled", "no_email"]
    choose(browser, "removed")
    assert browser.execute_script(VISIBLE) == ["removed"]
    choose(browser, "created")
    assert browser.execute_script(VISIBLE) == ["created"]  # the folded part opened
    choose(browser, "")
    assert sorted(browser.execute_script(VISIBLE)) == sorted(r.outcome.value for r in RESULTS)

    assert browser.execute_script("return typeof window.pwned") == "undefined"
    assert HOSTILE in browser.execute_script("return document.body.innerText")
    assert browser.execute_script("return document.scripts.length") == 1
    # A script element added to the page (as injected markup would be) is refused.
    browser.execute_script(
        "const s = document.createElement('script'); s.textContent = 'window.injected = 1';"
        " document.body.appendChild(s);"
    )
    assert browser.execute_script("return typeof window.injected") == "undefined"
    console = " ".join(entry["message"] for entry in browser.get_log("browser"))
    assert "Content Security Policy" in console

    urls = requested(browser)
    assert urls and all(url.startswith("file:") for url in urls), urls


@pytest.mark.parametrize("width", [1280, 390])
def test_the_run_report_reads_at_desktop_and_phone_width(
    browser: Any, tmp_path: Path, width: int
) -> None:
    """No horizontal scrolling (long ids and emails wrap), every what-to-do at least 30
    characters wide, the first sentence and the people's names on the page."""
    path = run_page(tmp_path)
    at_width(browser, width)
    open_page(browser, path.as_uri())
    choose(browser, "")  # everything shown, the done rows unfolded: the widest the page gets
    scroll = "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    scroll_width, client_width = browser.execute_script(scroll)
    assert scroll_width <= client_width, (scroll_width, client_width)
    widths = browser.execute_script(WIDTHS_IN_CHARACTERS, ".todo")
    assert len(widths) == 7  # 2 outcomes needing attention, 2 waiting, 2 done, 1 removal
    assert min(widths) >= 30, widths
    text = browser.execute_script("return document.body.innerText")
    lead = browser.execute_script("return document.getElementById('lead').textContent")
    assert lead == lead_sentence(totals(RESULTS))
    for name in ("Pat Kim", "Lee Kim", "Sam Ode", "Ann Lee", "Ida Moe", "Rita Moe"):
        assert name in text
    assert "Rita Moe\nno email" in text
    assert "Saturday 31 August 2024, 9:00 PM CDT" in text
    urls = requested(browser)
    assert urls and all(url.startswith("file:") for url in urls), urls


@pytest.mark.parametrize("width", [1280, 390])
def test_the_audit_page_reads_at_desktop_and_phone_width(
    browser: Any, tmp_path: Path, width: int
) -> None:
    """The audit page: no horizontal scrolling, what each finding means at least 30
    characters wide, its sentence, names and chart on the page."""
    long_id = "S-" + "1234567890" * 6
    found = Audit(
        students_not_found=(Finding("student_not_found", long_id, observer=LONG_EMAIL),),
        unobserved_with_guardian=(
            Finding(
                "unobserved_with_guardian",
                "S2",
                12,
                "g2@home.test",
                detail="no Canvas account for the guardian yet: run sync",
                student_name="Rosa Diaz",
            ),
        ),
        guardians_without_email=(
            Finding(
                "guardian_without_email",
                "S4",
                14,
                detail="the SIS has no email for Rita Moe, so no sync can pair them",
                student_name="Ida Moe",
                observer_name="Rita Moe",
            ),
        ),
        unlisted_observers=(
            Finding(
                "unlisted_observer",
                "S3",
                13,
                "x@home.test",
                23,
                "a person or the parent",
                "the SIS lists g3@home.test for this student, not this observer",
                student_name="Tom Ode",
                observer_name="Xavier Ode",
            ),
        ),
        counts={"students": 3, "students_observed": 2},
    )
    path = tmp_path / "audit.html"
    about = {
        "canvas_url": "https://school.instructure.com",
        "roster": "roster.csv",
        "generated_at": "2024-09-01T02:00:00.000Z",
    }
    write_audit(path, found, about, time_zone=chosen("America/Chicago", FROM_CANVAS))
    at_width(browser, width)
    open_page(browser, path.as_uri())
    scroll = "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    scroll_width, client_width = browser.execute_script(scroll)
    assert scroll_width <= client_width, (scroll_width, client_width)
    widths = browser.execute_script(WIDTHS_IN_CHARACTERS, 'td[data-label="What it means"]')
    assert len(widths) == 4 and min(widths) >= 30, widths
    lead = browser.execute_script("return document.getElementById('lead').textContent")
    assert lead == coverage_sentence(3, 2, 1, 0)
    text = browser.execute_script("return document.body.innerText")
    for name in ("Rosa Diaz", "Tom Ode", "Xavier Ode", LONG_EMAIL, "Ida Moe", "Rita Moe"):
        assert name in text
    assert "Rita Moe\nno email" in text
    assert browser.execute_script("return document.querySelector('svg[role=img] title') !== null")
    assert browser.execute_script("return document.scripts.length") == 0
    urls = requested(browser)
    assert urls and all(url.startswith("file:") for url in urls), urls
