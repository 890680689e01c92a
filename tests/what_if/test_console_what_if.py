"""The Reports view's What-if panel in a real headless chromium (Playwright): the real service on
loopback and a real Redis, the replay run by a real `rq worker` process on the `what-if` queue.
The table and the chart are read back from the page and checked against GET /api/what-if/<id>.
Screenshot: docs/screenshots/report-what-if.png with SCREENSHOTS=1 (make screenshots)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from playwright.sync_api import expect

from sim.runner import serve
from telephony.adapters.local_redis import free_port
from telephony.clock import VirtualClock
from telephony.core import build_core
from tests.console.test_console import SHOTS, browser, page  # noqa: F401 (fixtures)
from tests.console.test_console_reports import chart
from tests.processes import BIN, service_env, spawn
from tests.support import ROOT, TOKENS, settings_for

SHORTER_HOLD = ROOT / "policies" / "what-if" / "shorter-hold.toml"
DAY = "2026-12-01"  # a Tuesday, no records: a generated day at 0.5 calls an hour


@pytest.fixture
def console(redis_conn, redis_server):
    """The service (default policy, one organisation) on a loopback port; its base URL."""
    from routes import create_app

    port = free_port()
    settings = settings_for(public_base_url=f"http://127.0.0.1:{port}")
    core = build_core(settings, redis_conn, clock=VirtualClock(datetime(2026, 12, 1, 16, 0, tzinfo=UTC)))
    served = serve(create_app(settings, core=core), port)
    yield settings.public_base_url
    served.stop()


def sign_in(tab, base: str, who: str) -> None:
    tab.goto(f"{base}/")
    tab.get_by_label("API token").fill(TOKENS[who].token)
    tab.get_by_role("button", name="Sign in").click()
    tab.get_by_role("link", name="Reports").click()
    # The view's own page load, not the 5 s an expect waits: under the suite's three processes
    # the reports page once took longer than that to arrive (the console still showing).
    tab.wait_for_url("**/reports")


def test_a_manager_runs_a_what_if_in_the_reports_view__R_HOLD_3_R_CB_1(console, redis_server, page, tmp_path):  # noqa: F811
    sign_in(page, console, "manager-max")
    policy = page.locator("#what-if-policy")
    expect(policy).to_have_value((ROOT / "policies" / "default.toml").read_text())
    panel, form = page.locator("#what-if"), page.locator("#what-if-form")

    policy.fill(SHORTER_HOLD.read_text().replace("limit_seconds = 240", 'limit_seconds = "soon"'))
    form.get_by_role("button", name="Run").click()
    expect(page.locator("#what-if-error")).to_contain_text(
        "line 34, hold.limit_seconds: input should be a valid integer"
    )
    expect(panel).to_have_attribute("data-status", "refused")

    policy.fill(SHORTER_HOLD.read_text())
    form.get_by_label("From", exact=True).fill(DAY)
    form.get_by_label("To", exact=True).fill(DAY)
    form.get_by_label("Calls per hour").fill("0.5")
    form.get_by_role("button", name="Run").click()
    expect(panel).to_have_attribute("data-status", "queued")
    log = tmp_path / "worker.log"
    worker = spawn(
        [str(BIN / "rq"), "worker", "-w", "workers.worker.Worker", "--burst", "--url", redis_server.url, "what-if"],
        service_env(redis_server.url, LOG_LEVEL="WARNING"),
        log,
    )
    assert worker.wait(timeout=240) == 0, log.read_text()[-3000:]
    expect(panel).to_have_attribute("data-status", "done", timeout=15_000)

    ident = panel.get_attribute("data-id")
    answer = requests.get(
        f"{console}/api/what-if/{ident}",
        headers={"Authorization": f"Bearer {TOKENS['manager-max'].token}"},
        timeout=10,
    ).json()
    assert answer["source"] == "generated" and answer["calls"] > 0 and not answer["problems"], answer
    expect(page.locator("#what-if-status")).to_contain_text(f"a generated day instead, {answer['calls']} calls")

    def shown(value) -> str:
        if value is None:
            return "–"
        return str(int(value)) if float(value).is_integer() else str(value)

    rows = page.locator("#what-if-table tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    assert rows == [
        [
            r["figure"],
            r["key"],
            shown(r["current"]),
            shown(r["changed"]),
            ("+" if (r["difference"] or 0) > 0 else "") + shown(r["difference"]),
        ]
        for r in answer["rows"]
    ]
    assert ["hold", "limit_seconds", "300", "240", "-60"] in rows
    counts = chart(page, "chart-what-if")
    assert [d["label"] for d in counts["datasets"]] == ["current", "changed"]
    current, changed = answer["figures"]["current"], answer["figures"]["changed"]
    assert counts["labels"][:3] == ["escalations", "holds over limit", "callbacks booked"]
    assert counts["datasets"][0]["data"][:3] == [
        current["escalations"]["count"],
        current["hold"]["over_limit"],
        current["callbacks"]["booked"],
    ]
    assert counts["datasets"][1]["data"][2] == changed["callbacks"]["booked"]
    page.screenshot(path=SHOTS / "report-what-if.png", full_page=True)


def test_a_lead_sees_the_reports_but_no_what_if(console, page):  # noqa: F811
    sign_in(page, console, "lead-lee")
    expect(page.locator("#reports")).to_be_visible()
    expect(page.locator("#what-if")).to_have_count(0)
