"""Security, idempotency and ordering: forged webhooks refused, duplicates harmless, the API's
errors clear."""

from __future__ import annotations

import logging
import re

import redis

from telephony.adapters.local_redis import free_port
from tests.support import BASE, CALLER_ID, Harness, new_call_sid


def test_forged_or_unsigned_webhook_is_refused(harness):
    call_sid = new_call_sid()
    params = {"CallSid": call_sid, "From": "+13125550142", "To": CALLER_ID}
    assert harness.webhook("/voice/incoming", params, signed=False).status_code == 403
    forged = harness.client.post("/voice/incoming", data=params, headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})
    assert forged.status_code == 403
    tampered_sig = harness.validator.compute_signature(BASE + "/voice/incoming", params)
    tampered = harness.client.post(
        "/voice/incoming", data={**params, "From": "+13125550199"}, headers={"X-Twilio-Signature": tampered_sig}
    )
    assert tampered.status_code == 403
    assert harness.core.ctx.store.call(call_sid) is None, "a refused webhook changes nothing"
    for path in ("/voice/status", "/voice/conference", "/voice/lead/answer?escalation=x", "/voice/fallback"):
        assert harness.webhook(path, {"CallSid": call_sid}, signed=False).status_code == 403


def test_signature_check_is_on_unless_explicitly_switched_off():
    from telephony.config import Settings

    env = {
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": "x" * 32,
        "TWILIO_CALLER_ID": "+13125550100",
        "PUBLIC_BASE_URL": "https://esc.example.test",
        "API_TOKENS": "tok-agent-avery-000000:agent-avery:agent",
    }
    assert Settings.from_env(env).validate_signatures is True
    local = {**env, "PUBLIC_BASE_URL": "http://127.0.0.1:5000"}
    off = Settings.from_env({**local, "TWILIO_SIGNATURE_CHECK": "off-for-local-development"})
    assert off.validate_signatures is False


def test_duplicate_and_reordered_status_callbacks_keep_state_true(harness):
    caller_sid, agent_sid = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    lead_sid = harness.lead_leg(esc_id)
    path = f"/voice/lead/status?escalation={esc_id}"
    harness.leg_status(path, lead_sid, "no-answer")
    harness.leg_status(path, lead_sid, "no-answer")
    harness.leg_status(path, lead_sid, "ringing")
    rings = [r.param("To") for r in harness.rest.requests("CreateCall")]
    assert rings == ["+13125550111", "sip:morgan@leads.example.com"], "a duplicate must not skip a lead"
    assert harness.core.ctx.store.leg(lead_sid)["status"] == "no-answer", "a late 'ringing' does not undo 'no-answer'"

    harness.lead_accepts_and_joins(esc_id)
    harness.api("POST", f"/api/escalations/{esc_id}/connect", json={})
    completed = {"CallSid": caller_sid, "CallStatus": "completed"}
    harness.webhook("/voice/status", completed)
    harness.webhook("/voice/status", completed)
    harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "in-progress"})
    esc = harness.escalation(esc_id)
    assert esc["state"] == "resolved"
    assert [e["event"] for e in esc["timeline"]].count("caller_left") == 1
    assert harness.core.ctx.store.call(caller_sid)["status"] == "completed"


def test_duplicate_lead_acceptance_and_conference_events_are_harmless(harness):
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    harness.lead_answers(esc_id)
    harness.lead_presses(esc_id, "1")
    second = harness.lead_presses(esc_id, "1")
    assert second.conference() is None, "the same press delivered twice joins the lead once"
    harness.conference_event("participant-join", harness.lead_leg(esc_id), label="lead", sequence=50)
    harness.conference_event("participant-join", harness.lead_leg(esc_id), label="lead", sequence=50)
    esc = harness.escalation(esc_id)
    assert esc["state"] == "briefing"
    assert [e["event"] for e in esc["timeline"]].count("lead_accepted") == 1


def test_escalate_twice_creates_one_escalation(harness):
    caller_sid, _ = harness.caller_with_agent()
    first = harness.escalate(caller_sid, idempotency_key="press-1")
    replay = harness.escalate(caller_sid, idempotency_key="press-1")
    assert first.status_code == 201 and replay.status_code == 201
    assert replay.json["id"] == first.json["id"]
    assert replay.headers.get("Idempotent-Replayed") == "true"
    other = harness.escalate(caller_sid)
    assert other.status_code == 409
    assert other.json["error"] == "escalation_open" and other.json["escalation_id"] == first.json["id"]
    assert len(harness.rest.requests("CreateCall")) == 1
    assert len([r for r in harness.rest.requests("UpdateParticipant") if r.param("Hold") == "true"]) == 1


def test_api_needs_a_token_and_the_right_role(harness):
    caller_sid, _ = harness.caller_with_agent()
    assert harness.api("POST", "/api/escalations", who=None, json={}).status_code == 401
    bad = harness.client.get("/api/escalations", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json["error"] == "unauthorized"
    manager = harness.escalate(caller_sid, who="manager-max")
    assert manager.status_code == 403 and manager.json["message"]
    other_agent = harness.escalate(caller_sid, who="agent-blake")
    assert other_agent.status_code == 403 and other_agent.json["error"] == "not_your_call"


def test_bad_bodies_get_400_naming_the_field(harness):
    caller_sid, _ = harness.caller_with_agent()
    broken = harness.api("POST", "/api/escalations", raw=b"{not json")
    assert broken.status_code == 400 and broken.json["error"] == "invalid_json"
    missing = harness.api("POST", "/api/escalations", json={"call_sid": caller_sid, "kind": "manager_request"})
    assert missing.status_code == 400 and missing.json["field"] == "reason"
    kind = harness.escalate(caller_sid, kind="shouting")
    assert kind.status_code == 400 and kind.json["field"] == "kind" and "manager_request" in kind.json["message"]
    not_list = harness.api("POST", "/api/escalations", json=["x"])
    assert not_list.status_code == 400
    assert harness.rest.requests("CreateCall") == []


def test_json_nested_200000_deep_is_a_400_json_error_and_no_crash_logged(harness, caplog):
    """Issue 35 item 10: the parser running out of stack is the sender's fault, not the service's."""
    caplog.set_level(logging.INFO)
    caller_sid, _ = harness.caller_with_agent()
    deep = b"[" * 200_000 + b"]" * 200_000
    for path, who in (
        ("/api/escalations", "agent-avery"),
        ("/api/tasks", "agent-avery"),
        ("/api/what-if", "manager-max"),
    ):
        answer = harness.api("POST", path, who=who, raw=deep)
        assert answer.status_code == 400, (path, answer.data[:200])
        assert answer.json["error"] == "invalid_json" and "nests deeper than" in answer.json["message"]
    inside = harness.api(
        "POST",
        "/api/escalations",
        raw=b'{"call_sid": "' + caller_sid.encode() + b'", "client": ' + b"[" * 500 + b"]" * 500 + b"}",
    )
    assert inside.status_code == 400 and inside.json["error"] == "invalid_json", "parsed, yet too deep for any body"
    crashes = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert crashes == [], [r.getMessage() for r in crashes]
    assert harness.rest.requests("CreateCall") == [] and harness.core.ctx.store.open_escalation_id(caller_sid) is None


def test_unknown_or_finished_call_is_404(harness):
    assert harness.escalate(new_call_sid()).status_code == 404
    caller_sid, _ = harness.caller_with_agent()
    harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    gone = harness.escalate(caller_sid)
    assert gone.status_code == 404 and gone.json["error"] == "call_not_found"
    assert harness.api("GET", "/api/escalations/esc_nope").status_code == 404


def test_escalation_read_back_and_listed_by_state(harness):
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    one = harness.api("GET", f"/api/escalations/{esc_id}", who="lead-lee").json
    for key in (
        "id",
        "call_sid",
        "kind",
        "state",
        "tier",
        "assignee",
        "created_at",
        "hold_started_at",
        "callback",
        "timeline",
    ):
        assert key in one
    assert one["created_at"].endswith("+00:00")
    assert [e["event"] for e in one["timeline"]][:3] == ["escalated", "caller_agreed_to_hold", "caller_on_hold"]
    listed = harness.api("GET", "/api/escalations?state=dialing_lead").json["escalations"]
    assert [e["id"] for e in listed] == [esc_id]
    assert harness.api("GET", "/api/escalations?state=briefing").json["escalations"] == []
    assert harness.api("GET", "/api/escalations?state=bogus").status_code == 400


def test_twilio_refusing_the_hold_leaves_nothing_half_done(harness):
    caller_sid, _ = harness.caller_with_agent()
    harness.rest.fail_next("UpdateParticipant", status=400, code=21220, message="Participant is not in-progress")
    response = harness.escalate(caller_sid)
    assert response.status_code == 502 and response.json["error"] == "telephony_failure"
    assert harness.rest.requests("CreateCall") == [], "no lead is rung for a caller who is not on hold"
    retry = harness.escalate(caller_sid)
    assert retry.status_code == 201, "the failed attempt does not block a new one"


def test_fallback_keeps_the_caller_connected_without_redis(twilio_rest):
    call_sid = new_call_sid()
    harness = Harness(redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1), twilio_rest)
    heard = harness.twiml("/voice/fallback", {"CallSid": call_sid, "ErrorCode": "11200"})
    assert "trouble" in heard.text()
    assert heard.find("Number").text == "+13125550190"
    assert heard.conference().text == f"call-{call_sid}"
    assert "Hangup" not in heard.verbs()
    broken = harness.twiml("/voice/account?attempt=1", {"CallSid": call_sid, "Digits": "448812"})
    assert broken.find("Number") is not None, "a failing caller-facing webhook answers with the fallback, not an error"


def test_presence_and_live_calls(harness):
    caller_sid, _ = harness.caller_with_agent()
    mine = harness.api("GET", "/api/calls").json["calls"]
    assert [c["call_sid"] for c in mine] == [caller_sid]
    assert harness.api("GET", "/api/calls", who="agent-blake").json["calls"] == []
    assert harness.api("PUT", "/api/people/agent-blake/presence", json={"presence": "offline"}).status_code == 403
    ok = harness.api("PUT", "/api/people/agent-blake/presence", who="agent-blake", json={"presence": "offline"})
    assert ok.status_code == 200 and ok.json["presence"] == "offline"
    assert (
        harness.api("PUT", "/api/people/agent-blake/presence", who="agent-blake", json={"presence": "away"}).status_code
        == 400
    )


def test_openapi_lists_every_endpoint(harness):
    """The document is generated from the route decorators and models: every /api route is in it."""
    doc = harness.client.get("/api/openapi.json").json
    rules = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule)
        for r in harness.app.url_map.iter_rules()
        if r.rule.startswith("/api/") and r.rule != "/api/openapi.json"
    }
    assert rules == set(doc["paths"])
    body = doc["components"]["schemas"]["EscalationRequest"]
    assert "caller_agreed_to_hold" in body["required"] and body["additionalProperties"] is False


def test_twilio_too_many_requests_is_retried_with_back_off(harness):
    caller_sid, _ = harness.caller_with_agent()
    slept = []
    harness.core.ctx.twilio.sleep = slept.append
    harness.rest.fail_next("CreateCall", status=429, code=20429, message="Too Many Requests")
    harness.rest.fail_next("CreateCall", status=429, code=20429, message="Too Many Requests")
    response = harness.escalate(caller_sid)
    assert response.status_code == 201
    assert slept == [0.5, 1.0]
    assert [r.param("To") for r in harness.rest.requests("CreateCall")] == ["+13125550111"]


def test_a_body_that_is_not_json_is_415_not_a_missing_field(harness):
    caller_sid, _ = harness.caller_with_agent()
    form = harness.client.post(
        "/api/escalations",
        data={"call_sid": caller_sid, "kind": "manager_request", "reason": "x", "caller_agreed_to_hold": "true"},
        headers={"Authorization": f"Bearer {harness.tokens['agent-avery'].token}"},
    )
    assert form.status_code == 415 and form.json["error"] == "unsupported_media_type"
    assert "Content-Type: application/json" in form.json["message"]
    assert harness.rest.requests("UpdateParticipant") == []
