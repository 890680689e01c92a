"""The console's Reports view in a real headless chromium (Playwright) on a day the simulator
played: the real service on loopback, a real Redis, the simulated Twilio. The charts' data is read
back from the page (Chart.getChart) and checked against the simulator's transcript and against
GET /api/reports; the numbers table against the CSV export. Screenshots: docs/screenshots/report-*.png
with SCREENSHOTS=1 (make screenshots)."""

from __future__ import annotations

import csv
import io

from playwright.sync_api import expect

from sim.runner import Simulation
from sim.scenarios import callback, escalation
from tests.console.test_console import SHOTS, browser, page, sign_in  # noqa: F401 (fixtures)

CHART_DATA = """id => {
  const chart = Chart.getChart(id);
  return chart && {
    labels: chart.data.labels,
    datasets: chart.data.datasets.map(d => ({label: d.label, data: d.data})),
    limit: (chart.options.plugins.limitLine || {}).seconds ?? null,
  };
}"""


def chart(tab, chart_id: str) -> dict:
    return tab.evaluate(CHART_DATA, chart_id)


def open_reports(tab, sim: Simulation, token: str) -> dict:
    """Sign in, follow the console's Reports link, wait for the day's report; returns the API's body."""
    sign_in(tab, sim, token)
    tab.get_by_role("link", name="Reports").click()
    tab.wait_for_url("**/reports")  # the page's load, not an expect's 5 s (test_console_what_if)
    day = sim.clock.now().astimezone(sim.core.policy.time_zone).date().isoformat()
    expect(tab.locator("#reports")).to_have_attribute("data-loaded", f"{day}/{day}")
    return tab.evaluate("window.report")


def same_numbers(rows: list[list[str]]) -> list[tuple]:
    """Rows in one order with numbers as numbers (JSON's 76.0 is JavaScript's "76", the CSV's "76.0")."""

    def value(text: str):
        try:
            return float(text)
        except ValueError:
            return text

    return sorted((*row[:3], value(row[3])) for row in rows)


def table_rows(tab) -> list[list[str]]:
    return tab.locator("#numbers tbody tr").evaluate_all("rows => rows.map(r => [...r.cells].map(c => c.textContent))")


def csv_rows(sim: Simulation, token: str, day: str) -> list[list[str]]:
    import requests

    response = requests.get(
        f"{sim.base}/api/reports?from={day}&to={day}&format=csv",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return list(csv.reader(io.StringIO(response.text)))[1:]


def test_reports_view_charts_a_simulated_escalation__R_WARM_1_R_HOLD_3(tmp_path, redis_server, page):  # noqa: F811
    scenario = escalation()
    with Simulation(
        scenario.people, scenario.policy_file, tmp_path, redis_url=redis_server.url, start=scenario.start
    ) as sim:
        sim.world.incoming_call(scenario.caller, after=1)
        sim.run(scenario.seconds)
        assert scenario.check(sim) == []
        t = sim.transcript
        escalated = t.first(scenario.roles["agent"], "softphone", "escalate:").at
        connected = t.first(scenario.roles["agent"], "softphone", "connect:").at
        to_lead = round(connected - escalated)  # the agent escalated, then put the caller through
        lead = next(p for p in scenario.people if p.role == "lead")

        body = open_reports(page, sim, lead.token)
        assert abs(body["escalate_to_lead_seconds"]["max"] - to_lead) <= 1, (body, to_lead)
        held = body["hold"]["longest_seconds"]
        assert abs(held - to_lead) <= 1, "the caller was held from the escalation until put through"

        hold = chart(page, "chart-hold")
        bins = [0] * 21
        bins[int(held // 30)] = 1
        assert hold["datasets"] == [{"label": "holds", "data": bins}] and hold["limit"] == 300
        assert hold["labels"][0] == "0–30 s" and hold["labels"][-1] == "600+ s"
        per_tier = chart(page, "chart-to-lead")
        assert per_tier["labels"] == ["lead"]
        assert [d["label"] for d in per_tier["datasets"]] == ["p50", "p90", "max"]
        assert all(abs(d["data"][0] - to_lead) <= 1 for d in per_tier["datasets"])
        assert chart(page, "chart-callbacks")["labels"] == [], "no callback that day"

        day = body["from"]
        shown = table_rows(page)
        assert len(shown) > 60 and same_numbers(shown) == same_numbers(csv_rows(sim, lead.token, day)), "the CSV's rows"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SHOTS / "report-escalation-day.png", full_page=True)


def test_reports_view_charts_a_callback_made_inside_its_window__R_CB_2(tmp_path, redis_server, page):  # noqa: F811
    scenario = callback()
    with Simulation(
        scenario.people, scenario.policy_file, tmp_path, redis_url=redis_server.url, start=scenario.start
    ) as sim:
        sim.world.incoming_call(scenario.caller, after=1)
        sim.run(scenario.seconds)
        assert scenario.check(sim) == []
        manager = next(p for p in scenario.people if p.role == "manager")
        body = open_reports(page, sim, manager.token)
        day = body["from"]
        callbacks = chart(page, "chart-callbacks")
        assert callbacks["labels"] == [day]
        assert {d["label"]: d["data"] for d in callbacks["datasets"]} == {
            "in window": [1],
            "late": [0],
            "given up": [0],
            "not yet": [0],
        }
        expect(page.locator('#numbers tr[data-figure="callbacks"][data-key="reached_in_window"] td').last).to_have_text(
            "1"
        )
        page.screenshot(path=SHOTS / "report-callback-day.png", full_page=True)


def test_agents_see_no_reports(tmp_path, redis_server, page):  # noqa: F811
    scenario = escalation()
    with Simulation(
        scenario.people, scenario.policy_file, tmp_path, redis_url=redis_server.url, start=scenario.start
    ) as sim:
        agent = next(p for p in scenario.people if p.role == "agent")
        sign_in(page, sim, agent.token)
        expect(page.locator("#me")).to_contain_text("(agent)")
        assert page.get_by_role("link", name="Reports").count() == 0
        response = page.goto(f"{sim.base}/reports")
        assert response is not None and response.status == 403
        expect(page.get_by_role("alert")).to_have_text("Reports are for leads, supervisors and managers.")
