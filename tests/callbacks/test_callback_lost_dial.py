"""R-CB-8, issue 12 item 4: a real `rq worker` is killed after Twilio accepted the lead's call but
before the answer (the call's SID) came back. The call is placed once, found again (by its own
webhooks, or by the sweeper asking Twilio's call list), and the lead is never left busy."""

from __future__ import annotations

from datetime import datetime

import pytest

from telephony.adapters.redis_clock import RedisClock
from tests.hold.test_hold_and_callbacks import book_callback, holding
from tests.processes import kill_worker_and_horse, rq_worker, service_env, wait_for

LEAD_LEE = "+13125550111"


@pytest.fixture
def lost_dial(harness, redis_server, twilio_stand_in, tmp_path):
    """A callback whose worker died with the lead's call placed but its SID never saved."""
    caller_sid, esc_id = holding(harness)
    book_callback(harness, caller_sid, esc_id)
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    harness.clock.set(datetime.fromisoformat(harness.core.callbacks.view(cb_id)["window_start"]))
    RedisClock(harness.core.ctx.store.r).set(harness.clock.now())
    assert harness.core.ctx.timers.release_due() >= 1, "the dial job is queued for a worker"
    before = len(harness.rest.requests("CreateCall"))

    twilio_stand_in.hang_after_accepting = {"CreateCall"}
    env = service_env(
        redis_server.url, TWILIO_API_BASE_URL=twilio_stand_in.url, TWILIO_REST_TIMEOUT_SECONDS="30", CLOCK="virtual"
    )
    log = tmp_path / "worker.log"
    worker = rq_worker(env, log, burst=True)
    try:
        wait_for(lambda: twilio_stand_in.hung == ["CreateCall"], "Twilio to accept the lead's call", log)
    finally:
        kill_worker_and_horse(worker)
    twilio_stand_in.hang_after_accepting = set()

    placed = harness.rest.requests("CreateCall")[before:]
    assert [c.param("To") for c in placed] == [LEAD_LEE], "Twilio placed the lead's call"
    cb = harness.core.ctx.store.callback(cb_id)
    assert cb["status"] == "dialing" and not cb["lead_call_sid"], "the worker died before saving the leg"
    assert harness.core.ctx.presence("lead-lee") == "busy"
    return harness, esc_id, cb_id, before, harness.rest.calls[-1]["sid"]


def timeline(harness, esc_id) -> list[str]:
    return [e["event"] for e in harness.escalation(esc_id)["timeline"]]


def test_the_lead_answering_the_lost_call_is_briefed_and_it_is_not_dialled_again__R_CB_8(lost_dial):
    harness, esc_id, cb_id, before, lead_sid = lost_dial
    attempt = harness.core.ctx.store.callback(cb_id)["attempts"]

    heard = harness.twiml(
        f"/voice/callback/lead/answer?callback={cb_id}&attempt={attempt}",
        {"CallSid": lead_sid, "CallStatus": "in-progress"},
    )

    assert "escalation" in heard.text().lower(), "the lead hears the announcement, not 'no longer needed'"
    assert "callback_lead_found" in timeline(harness, esc_id)
    harness.advance(900)
    assert [c.param("To") for c in harness.rest.requests("CreateCall")[before:]] == [LEAD_LEE], "dialled once"
    harness.twiml(f"/voice/callback/lead/decision?callback={cb_id}", {"CallSid": lead_sid, "Digits": "1"})
    assert [c.param("To") for c in harness.rest.requests("CreateCall")[before:]] == [LEAD_LEE, "+13125550142"]


def test_the_sweeper_finds_the_lost_call_in_twilios_list_and_frees_the_lead_when_it_ended__R_CB_8(lost_dial):
    harness, esc_id, cb_id, before, lead_sid = lost_dial
    harness.rest.calls[-1]["status"] = "no-answer"

    harness.advance(600)

    events = timeline(harness, esc_id)
    assert "callback_lead_found" in events and "callback_recovered" not in events
    assert "callback_lead_no_answer" in events, "the found call had ended unanswered: the next lead is rung"
    dialled = [c.param("To") for c in harness.rest.requests("CreateCall")[before:]]
    assert dialled[0] == LEAD_LEE and LEAD_LEE not in dialled[1:], "Lee's call was never placed twice"
    assert len(dialled) == 2, "the next lead, once"
    assert harness.core.ctx.presence("lead-lee") == "available", "the lead is not left busy"
