"""Twilio failing in the middle of an escalation (issue 12, items 1, 5, 6): a hung or failing
REST request never strands a caller on hold, never leaves an escalation stuck open, and never
leaves a lead marked busy. Twilio is a real server on loopback that can hang (TwilioStandIn)."""

from __future__ import annotations

from tests.hold.test_hold_and_callbacks import holding, redirects
from tests.support import Harness


def hanging_harness(redis_conn, twilio_rest, twilio_stand_in) -> Harness:
    """The service talking to Twilio over a real socket: the stand-in answers as Twilio, hangs, or
    fails (fail_next), as each test asks."""
    return Harness(
        redis_conn,
        twilio_rest,
        twilio_api_base_url=twilio_stand_in.url,
        twilio_rest_timeout_seconds=0.5,
    )


def events(harness, esc_id) -> list[str]:
    return [e["event"] for e in harness.escalation(esc_id)["timeline"]]


def test_hung_hold_request_fails_the_escalation_cleanly_and_escalate_works_again__R_WARM_5(
    redis_conn, twilio_rest, twilio_stand_in
):
    harness = hanging_harness(redis_conn, twilio_rest, twilio_stand_in)
    caller_sid, _ = harness.caller_with_agent()
    twilio_stand_in.hang = {"UpdateParticipant"}

    response = harness.escalate(caller_sid)

    assert twilio_stand_in.hung == ["UpdateParticipant"], "the hold request reached Twilio and hung"
    assert response.status_code == 502 and response.json["error"] == "telephony_failure", response.data
    assert "could not be reached to hold" in response.json["message"]
    [failed] = harness.core.warm_transfer.list("failed")
    assert failed["call_sid"] == caller_sid and "hold_failed" in [e["event"] for e in failed["timeline"]]

    twilio_stand_in.hang = set()
    again = harness.escalate(caller_sid)
    assert again.status_code == 201, "nothing is left open: the agent can escalate again"
    assert again.json["state"] == "dialing_lead"


def test_hung_lead_call_frees_the_lead_and_rings_again_when_twilio_answers__R_ESC_7(
    redis_conn, twilio_rest, twilio_stand_in
):
    harness = hanging_harness(redis_conn, twilio_rest, twilio_stand_in)
    caller_sid, _ = harness.caller_with_agent()
    twilio_stand_in.hang = {"CreateCall"}

    response = harness.escalate(caller_sid)

    assert response.status_code == 201, "the caller is on hold; the hunt goes on"
    esc_id = response.json["id"]
    assert twilio_stand_in.hung == ["CreateCall"]
    assert "ring_lead_failed" in events(harness, esc_id)
    assert harness.core.ctx.presence("lead-lee") == "available", "the lead is not left busy"
    assert harness.core.ctx.store.escalation(esc_id).get("attempt_call_sid", "") == ""

    twilio_stand_in.hang = set()
    harness.advance(5)
    [ring] = harness.rest.requests("CreateCall")
    assert ring.param("To") == "+13125550111", "the same first lead is rung once Twilio answers"
    assert harness.core.ctx.presence("lead-lee") == "busy"
    harness.lead_accepts_and_joins(esc_id)
    assert harness.escalation(esc_id)["state"] == "briefing"


def test_twilio_failing_for_a_while_tells_the_team_and_keeps_trying__R_ESC_7(harness):
    caller_sid, _ = harness.caller_with_agent()
    for _ in range(3):
        harness.rest.fail_next("CreateCall", status=503, code=20503, message="Service Unavailable")
    esc_id = harness.escalate(caller_sid).json["id"]
    harness.advance(5 + 15)
    assert events(harness, esc_id).count("ring_lead_failed") == 3
    assert any("Twilio failed 3 times" in n["text"] for n in harness.core.ctx.store.notifications())
    harness.advance(30)
    assert [c.param("To") for c in harness.rest.requests("CreateCall")] == ["+13125550111"]


def test_a_500_on_the_redirect_at_the_hold_limit_is_tried_again__R_HOLD_3(redis_conn, twilio_rest, twilio_stand_in):
    harness = hanging_harness(redis_conn, twilio_rest, twilio_stand_in)
    caller_sid, esc_id = holding(harness)
    harness.advance(299)
    harness.rest.fail_next("UpdateCall", status=500, code=20500, message="Internal Server Error")
    harness.advance(1)
    assert redirects(harness, caller_sid) == [], "Twilio refused the first redirect"
    assert "hold_limit_failed" in events(harness, esc_id)

    harness.advance(5)
    assert len(redirects(harness, caller_sid)) == 1, "the limit was tried again and the caller taken off hold"
    assert redirects(harness, caller_sid)[0].endswith(f"/voice/hold/offer?escalation={esc_id}")
    assert events(harness, esc_id).count("hold_limit") == 1
    assert harness.core.ctx.store.escalation(esc_id)["caller_placement"] == "menu"


def test_a_500_on_the_callback_offer_after_every_tier_declined_is_tried_again__R_ESC_7(
    redis_conn, twilio_rest, twilio_stand_in
):
    harness = hanging_harness(redis_conn, twilio_rest, twilio_stand_in)
    caller_sid, esc_id = holding(harness)
    harness.rest.fail_next("UpdateCall", status=500, code=20500, message="Internal Server Error")
    for _ in range(10):
        if harness.escalation(esc_id)["state"] != "dialing_lead" or not harness.core.ctx.store.escalation(esc_id).get(
            "attempt_call_sid"
        ):
            break
        leg = harness.lead_leg(esc_id)
        if harness.core.ctx.store.leg(leg).get("outcome"):
            break
        harness.lead_answers(esc_id)
        harness.lead_presses(esc_id, "2")
    assert "callback_offer_failed" in events(harness, esc_id), "every tier declined, then Twilio failed"
    assert redirects(harness, caller_sid) == []
    assert harness.escalation(esc_id)["state"] == "dialing_lead"

    harness.advance(5)
    assert redirects(harness, caller_sid) == [f"https://esc.example.test/voice/callback/offer?escalation={esc_id}"]
    assert "tiers_exhausted" in events(harness, esc_id)
    harness.advance(400)
    assert len(redirects(harness, caller_sid)) == 1, "hold timers stopped once the caller was at the offer"


def test_a_429_is_retried_no_sooner_than_retry_after_and_each_try_takes_a_cps_slot__R_ESC_7(redis_conn):
    """Found by tests/chaos/test_twilio_failing.py: the retry after a 429 came after 0.5 s whatever
    Retry-After said, and without a slot of OUTBOUND_CALLS_PER_SECOND."""
    from twilio.base.exceptions import TwilioRestException

    from telephony.adapters.throttle import OutboundThrottle
    from telephony.adapters.twilio_gateway import HttpClient, TwilioGateway, make_client

    client = make_client("AC" + "1" * 32, "token")
    assert isinstance(client.http_client, HttpClient)
    now, slept, taken = [1000.0], [], []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    throttle = OutboundThrottle(redis_conn, 1, now=lambda: now[0], sleep=sleep)
    gateway = TwilioGateway(client, "+13125550100", throttle=lambda: (taken.append(now[0]), throttle()), sleep=sleep)
    tries = []

    def create():
        tries.append(now[0])
        if len(tries) == 1:
            client.http_client._last.retry_after = 2.0
            raise TwilioRestException(429, "/Calls.json", "Too Many Requests", 20429)
        return "CA-placed"

    assert gateway._do("place call", create, outbound=True) == "CA-placed"
    assert tries[1] - tries[0] >= 2.0, "Retry-After: 2 was waited out"
    assert len(taken) == 2 and int(tries[1]) != int(tries[0]), "the retry took a slot of its own"

    now[0] = 2000.95
    throttle()
    assert now[0] == 2001.0, "no slot in the last 0.1 s of a second: the request would land in the next"
