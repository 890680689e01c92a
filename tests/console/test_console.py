"""The console in a real headless chromium (Debian's, driven by Playwright) against the simulator:
the real service on loopback, a real Redis, the simulated Twilio and its virtual clock. The page
learns "now" from the service, so the hold timer follows the virtual clock (R-HOLD-2, R-HOLD-3)."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from sim.people import AgentStep, Reply
from sim.runner import Simulation
from sim.scenarios import CALLER, DEFAULT_POLICY, Cast
from telephony.config import ApiToken
from telephony.policy.loading import load_policy
from tests.support import ROOT

POLICY = load_policy(DEFAULT_POLICY)
# The console's screenshots (docs/console.md) are refreshed with SCREENSHOTS=1 (make screenshots); otherwise they go to
# a scratch folder, so a test run leaves the checkout as it was.
SHOTS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("SCREENSHOTS") == "1"
    else Path(tempfile.mkdtemp(prefix="console-shots-"))
)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    yield page
    context.close()


def sign_in(page, sim: Simulation, token: str) -> None:
    page.goto(f"{sim.base}/")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def play_until(sim: Simulation, done, limit: float = 600) -> None:
    """Play the simulated call in 5 s steps of virtual time until done() (at most `limit`)."""
    played = 0.0
    while not done():
        assert played < limit, "\n".join(str(e) for e in sim.transcript.entries[-15:])
        sim.run(5)
        played += 5


def cast_actor(cast: Cast) -> ApiToken:
    return ApiToken(cast.agent.token, cast.agent.id, "agent")


def caught_up(page, sim: Simulation) -> None:
    """Wait until the page shows the service's clock as it is now (it asks every second)."""
    now_ms = int(sim.clock.now().timestamp()) * 1000
    page.wait_for_function("ms => Number(document.getElementById('clock').dataset.now || 0) >= ms", arg=now_ms)


def test_wrong_token_is_refused(tmp_path, redis_server, page):
    cast = Cast(POLICY)
    with Simulation(cast.people(cast.caller()), DEFAULT_POLICY, tmp_path, redis_url=redis_server.url) as sim:
        sign_in(page, sim, "not-a-token-anybody-has")
        expect(page.get_by_role("alert")).to_contain_text("That token is not known here")
        assert "not-a-token" not in page.url
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SHOTS / "sign-in-refused.png")
        page.goto(f"{sim.base}/")
        assert page.url.endswith("/sign-in"), "no console without signing in"


def test_agent_escalates_sees_the_lead_accept_and_connects__R_WARM_1_R_WARM_4(tmp_path, redis_server, page):
    cast = Cast(POLICY)
    cast.agent.answer_after = 3
    cast.accepts(cast.hunt[0], hang_up_after=600)
    with Simulation(cast.people(cast.caller()), DEFAULT_POLICY, tmp_path, redis_url=redis_server.url) as sim:
        sim.world.incoming_call(sim.people[0], after=1)
        sim.run(20)
        sign_in(page, sim, cast.agent.token)
        expect(page.locator("#me")).to_contain_text(f"{cast.agent.id} (agent)")
        caller = page.locator("#my-call .caller")
        expect(caller).to_have_text("••• ••• " + CALLER[-4:])
        assert CALLER[2:8] not in page.locator("#my-call").inner_text(), "the number is masked"
        expect(page.locator("#softphone-status")).to_have_text("softphone offline (no Twilio)")

        page.screenshot(path=SHOTS / "agent-live-call.png")
        page.get_by_role("button", name="Escalate…").click()
        expect(page.get_by_label("Client account")).to_have_value(sim.core.live_calls(cast_actor(cast))[0]["account"])
        page.get_by_role("button", name="Escalate", exact=True).click()
        expect(page.locator('.field-error[data-field="reason"]')).to_contain_text("'reason'")
        page.screenshot(path=SHOTS / "agent-escalate-dialog.png")
        page.get_by_label("Reason").fill("billed twice <b>and</b> wants a manager")
        page.get_by_label("Client name").fill("Pat <script>Doe</script>")
        page.get_by_label("Caller agreed to hold").check()
        page.get_by_role("button", name="Escalate", exact=True).click()
        expect(page.locator("#my-escalation-state")).to_have_text("dialing lead")
        expect(page.locator("#board tbody td").first).to_have_text("Pat <script>Doe</script>")
        assert page.locator("#board script").count() == 0, "user text is shown as text, never as HTML"
        connect = page.get_by_role("button", name="Connect caller")
        expect(connect).to_be_disabled()

        play_until(sim, lambda: sim.escalations()[0]["state"] != "dialing_lead")
        expect(page.locator("#my-escalation-state")).to_have_text("briefing")
        expect(connect).to_be_enabled()
        page.screenshot(path=SHOTS / "agent-lead-accepted.png")
        connect.click()
        sim.run(10)
        expect(page.locator("#my-escalation-state")).to_have_text("connected")
        esc = sim.escalations()[0]
        assert esc["state"] == "connected" and esc["assignee"] == cast.hunt[0].id
        assert esc["client"]["name"] == "Pat <script>Doe</script>", "stored as typed"


def test_lead_board_hold_timer_turns_amber_at_check_in_and_red_at_the_limit__R_HOLD_2_R_HOLD_3(
    tmp_path, redis_server, page
):
    """The caller holds (the lead accepted, the agent never connects); the lead watches the board
    minute by minute on the virtual clock; at the limit the caller asks for a callback, which
    appears on the board and is cancelled there."""
    hold = POLICY.hold
    cast = Cast(POLICY)
    cast.agent.answer_after = 3
    cast.agent.steps = [AgentStep("escalate", "joined", 20, cast.escalate_body())]
    cast.accepts(cast.hunt[0], hang_up_after=3600)
    caller = cast.caller(
        Reply(speech="call me back please", heard=hold.offer_prompt[:40]),
        Reply("1", heard="Press 1 to use this number"),
        Reply("2", heard="When should we call"),
    )
    lead = cast.staff["lead-lee"]
    with Simulation(cast.people(caller), DEFAULT_POLICY, tmp_path, redis_url=redis_server.url) as sim:
        sim.world.incoming_call(caller, after=1)
        sim.run(40)
        sign_in(page, sim, lead.token)
        row = page.locator("#board tbody tr").first
        expect(row).to_have_attribute("data-state", "dialing_lead")
        timer = row.locator("td.hold")
        held_since = datetime.fromisoformat(sim.escalations()[0]["hold_started_at"])
        offset = (held_since - sim.start).total_seconds()
        seen = {}
        for second in (60, 119, 120, 180, 240, 299, 300):
            sim.run_to(offset + second)
            caught_up(page, sim)
            seen[second] = (timer.inner_text(), timer.get_attribute("data-level"))
            if second in (120, 300):
                page.screenshot(path=SHOTS / f"lead-board-hold-{second // 60}min.png")
        print("\nthe lead's board during the hold:", seen)
        assert seen[60] == ("1:00", "ok") and seen[119][1] == "ok"
        assert seen[120] == ("2:00 check in", "amber") and seen[299][1] == "amber"
        assert seen[300] == ("5:00 past limit", "red")

        with page.expect_response(lambda r: r.url.endswith("/api/people/lead-morgan/presence")) as answer:
            page.get_by_label("Presence of Morgan").select_option("busy")
        assert answer.value.ok and sim.core.ctx.presence("lead-morgan") == "busy", "a lead sets the team's presence"
        sim.run(120)
        callback = page.locator("#callbacks tbody tr").first
        expect(callback).to_have_attribute("data-status", "scheduled")
        expect(row).not_to_have_attribute("data-state", "briefing")
        page.screenshot(path=SHOTS / "lead-callbacks.png")
        callback.get_by_role("button", name="Reschedule…").click()
        window_end = page.get_by_label("Window end (ISO time)")
        window_end.fill(page.get_by_label("Window start (ISO time)").input_value())
        page.get_by_role("button", name="Reschedule", exact=True).click()
        refused = page.locator("#reschedule-form .field-error:not(:empty), #reschedule-error:not(:empty)")
        expect(refused).to_have_count(1)
        assert "end" in refused.inner_text(), "the API's message, beside its field"
        page.keyboard.press("Escape")
        expect(page.locator("#reschedule-dialog")).not_to_be_visible()
        callback.get_by_role("button", name="Cancel").click()
        expect(callback).to_have_attribute("data-status", "cancelled")
        assert sim.callbacks()[0]["status"] == "cancelled"


def test_agent_flags_early_warning_and_keeps_tasks_while_only_leads_see_listen_and_coach__R_NOTE_4_R_NOTE_6_R_WARM_7(
    tmp_path, redis_server, page, browser
):
    cast = Cast(POLICY)
    cast.agent.answer_after = 3
    with Simulation(cast.people(cast.caller()), DEFAULT_POLICY, tmp_path, redis_url=redis_server.url) as sim:
        sim.world.incoming_call(sim.people[0], after=1)
        sim.run(20)
        sign_in(page, sim, cast.agent.token)
        call = page.locator("#my-call")
        expect(call.get_by_role("button", name="Early warning")).to_be_visible()
        expect(call.get_by_role("button", name="Escalate…")).to_be_visible()
        assert call.get_by_role("button", name="Listen").count() == 0, "an agent never sees Listen (R-WARM-7)"
        assert call.get_by_role("button", name="Coach").count() == 0, "nor Coach"

        call.get_by_role("button", name="Early warning").click()
        expect(page.locator("#early-warning-sent")).to_contain_text("Early warning sent at")
        expect(call.get_by_role("button", name="Early warning")).to_have_count(0)
        [live] = sim.core.live_calls(cast_actor(cast))
        assert live["early_warning"]["by"] == cast.agent.id, "the flag is on the call's record (R-NOTE-4)"
        leader = POLICY.leaders_of(cast.agent.id)[0]
        assert any(n["to"] == f"@{leader.id}" for n in sim.core.ctx.store.notifications()), "the lead was told"

        tasks = page.get_by_role("form", name="New follow-through task")
        tasks.get_by_role("button", name="Add task").click()
        expect(tasks.locator('.field-error[data-field="title"]')).to_contain_text("'title' is required")
        tasks.get_by_label("Promised").select_option("ticket")
        tasks.get_by_label("Task").fill("open a <b>ticket</b> for the outage")
        tasks.get_by_role("button", name="Add task").click()
        item = page.locator("#task-list li").first
        expect(item.locator(".task-title")).to_have_text("open a <b>ticket</b> for the outage")
        expect(item).to_have_attribute("data-status", "open")
        page.screenshot(path=SHOTS / "agent-early-warning-and-tasks.png")

        lead_page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
        try:
            sign_in(lead_page, sim, cast.staff[leader.id].token)
            row = lead_page.locator(f'#live-calls tr[data-call="{live["call_sid"]}"]')
            expect(row.get_by_role("button", name="Listen")).to_be_visible()
            expect(row.get_by_role("button", name="Coach")).to_be_visible()
            expect(row.locator("td.early-warning")).to_contain_text("flagged")
            assert lead_page.get_by_role("button", name="Early warning").count() == 0, "only the agent flags"
            expect(lead_page.locator("#task-list li .task-title")).to_have_text(["open a <b>ticket</b> for the outage"])
            lead_page.screenshot(path=SHOTS / "lead-live-calls.png")
        finally:
            lead_page.context.close()

        item.get_by_role("button", name="Done: open a <b>ticket</b> for the outage").click()
        expect(item).to_have_attribute("data-status", "done")
        [task] = sim.core.follow_through.list(cast_actor(cast))
        assert task["status"] == "done" and task["kind"] == "ticket" and task["owner"] == cast.agent.id
