"""Issue 12, items 7-16 and the rules that breaking the code on purpose showed no test caught:
bad text, borrowed idempotency keys, agents reading others' calls, ids that reach other keys,
replayed keep-holding, impossible reschedule windows, a fallback that rings back into the service."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from routes import create_app
from telephony.config import ApiToken, ConfigError
from telephony.policy.errors import PolicyError
from telephony.policy.loading import parse_policy
from tests.hold.test_hold_and_callbacks import book_callback, holding, redirects
from tests.policies.test_policies import _policy
from tests.support import ROOT, Harness, settings_for

# -- item 7: text fields ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("reason", "billed\x00twice"),
        ("reason", "\x1b[31mred"),
        ("resolution_offered", "credit\x0bnext bill"),
        ("reason", "lone \ud800 surrogate"),
        ("client.name", "Pat\x00Doe"),
        ("client.name", "P" * 5_000_000),
        ("reason", "r" * 501),
    ],
)
def test_control_characters_broken_unicode_and_huge_text_are_refused_with_the_field(harness, field, value):
    caller_sid, _ = harness.caller_with_agent()
    client = {"name": "Pat Doe"}
    extra = {}
    if field.startswith("client."):
        client[field.removeprefix("client.")] = value
    else:
        extra[field] = value
    body = json.dumps(
        {
            "call_sid": caller_sid,
            "kind": "manager_request",
            "reason": "billed twice",
            "client": client,
            "caller_agreed_to_hold": True,
            **extra,
        },
        ensure_ascii=True,
    ).encode()
    response = harness.api("POST", "/api/escalations", raw=body)
    assert response.status_code == 400, response.data[:200]
    assert response.json["field"] == field and response.json["message"]
    assert harness.rest.requests("UpdateParticipant") == [], "nothing happened to the call"


def test_what_the_lead_hears_is_well_formed_xml_for_any_accepted_text__R_WARM_2(harness):
    caller_sid, _ = harness.caller_with_agent()
    esc = harness.escalate(caller_sid, reason='billed <twice> & "angry" \u00e9\u4e2d\U0001f600\ttab\nline')
    assert esc.status_code == 201
    heard = harness.lead_answers(esc.json["id"])
    assert 'billed <twice> & "angry"' in heard.text()


# -- item 8: idempotency keys belong to one person's one call --------------------------------


def test_an_idempotency_key_reused_by_another_agent_on_another_call_escalates_their_own_call(harness):
    caller_a, _ = harness.caller_with_agent()
    first = harness.escalate(caller_a, idempotency_key="press-1")
    assert first.status_code == 201
    replay = harness.escalate(caller_a, idempotency_key="press-1")
    assert replay.status_code == 201 and replay.json["id"] == first.json["id"]
    assert replay.headers.get("Idempotent-Replayed") == "true"

    caller_b, _ = harness.caller_with_agent()
    harness.core.ctx.store.update_call(caller_b, agent_id="agent-blake")
    other = harness.escalate(caller_b, who="agent-blake", idempotency_key="press-1")
    assert other.status_code == 201 and other.json["id"] != first.json["id"]
    assert other.json["call_sid"] == caller_b, "their own caller is escalated"


# -- item 9: agents read only their own calls' escalations and callbacks -----------------------


def test_an_agent_cannot_read_another_agents_escalations_or_callbacks(harness):
    caller_sid, esc_id = holding(harness)
    book_callback(harness, caller_sid, esc_id)
    own = harness.api("GET", f"/api/escalations/{esc_id}", who="agent-avery")
    assert own.status_code == 200
    other = harness.api("GET", f"/api/escalations/{esc_id}", who="agent-blake")
    assert other.status_code == 403 and other.json["error"] == "not_your_call"
    assert harness.api("GET", "/api/escalations", who="agent-blake").json["escalations"] == []
    assert harness.api("GET", "/api/callbacks", who="agent-blake").json["callbacks"] == []
    assert len(harness.api("GET", "/api/callbacks", who="agent-avery").json["callbacks"]) == 1
    assert len(harness.api("GET", "/api/escalations", who="lead-lee").json["escalations"]) == 1
    assert len(harness.api("GET", "/api/callbacks", who="lead-lee").json["callbacks"]) == 1


# -- item 13: ids never reach another key -------------------------------------------------------


def test_ids_that_name_other_keys_are_not_found_not_500(harness):
    _, esc_id = holding(harness)
    for path in (f"/api/escalations/{esc_id}:timeline", f"/api/escalations/{esc_id}%3Atimeline"):
        response = harness.api("GET", path, who="lead-lee")
        assert response.status_code == 404 and response.json["error"] == "escalation_not_found", path
    response = harness.api("POST", "/api/callbacks/cb_x:y/cancel", who="lead-lee")
    assert response.status_code == 404


# -- item 15: a replayed "keep holding" resets the clock once -------------------------------------


def test_a_replayed_keep_holding_request_resets_the_clock_only_once__R_HOLD_3(harness):
    caller_sid, esc_id = holding(harness)
    harness.advance(300)
    for _ in range(3):
        harness.twiml(f"/voice/hold/choice?escalation={esc_id}", {"CallSid": caller_sid, "Digits": "1"})
    esc = harness.core.ctx.store.escalation(esc_id)
    assert esc["hold_resets"] == "1", "the policy allows one reset, and one was asked for"
    assert [e["event"] for e in harness.escalation(esc_id)["timeline"]].count("keep_holding") == 1
    harness.advance(300)
    assert redirects(harness, caller_sid)[-1].endswith(f"/voice/callback/number?escalation={esc_id}&tries=0"), (
        "after the one allowed reset, the limit goes to the callback offer"
    )


# -- item 16: reschedule windows a person can be rung in ------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("2026-11-25T03:00:00-06:00", "2026-11-25T05:00:00-06:00", "window_start"),
        ("2026-11-28T10:00:00-06:00", "2026-11-28T12:00:00-06:00", "window_start"),
        ("2026-11-25T16:00:00-06:00", "2026-11-25T18:00:00-06:00", "window_end"),
        ("0001-01-01T10:00:00+14:00", "0001-01-01T12:00:00+14:00", "window_end"),
        ("9999-12-30T10:00:00-06:00", "9999-12-30T12:00:00-06:00", "window_start"),
    ],
)
def test_reschedule_refuses_nights_weekends_and_far_years__R_CB_3(harness, start, end, field):
    caller_sid, esc_id = holding(harness)
    book_callback(harness, caller_sid, esc_id)
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    response = harness.api(
        "POST", f"/api/callbacks/{cb_id}/reschedule", who="lead-lee", json={"window_start": start, "window_end": end}
    )
    assert response.status_code == 400 and response.json["field"] == field, response.json
    ok = harness.api(
        "POST",
        f"/api/callbacks/{cb_id}/reschedule",
        who="lead-lee",
        json={"window_start": "2026-11-25T10:00:00-06:00", "window_end": "2026-11-25T12:00:00-06:00"},
    )
    assert ok.status_code == 200 and ok.json["status"] == "rescheduled"


# -- item 12: the fallback reaches people and is never silent ----------------------------------------


def test_a_fallback_endpoint_that_is_the_services_own_number_stops_start_up(redis_conn, twilio_rest, tmp_path):
    text = (ROOT / "policies" / "default.toml").read_text().replace("+13125550190", "+13125550100")
    policy = tmp_path / "loop.toml"
    policy.write_text(text)
    with pytest.raises(ConfigError, match="fallback_endpoint .* own number"):
        Harness(redis_conn, twilio_rest, policy_file=policy)
    settings = settings_for(service_numbers=("+13125550190",))
    with pytest.raises(ConfigError, match="SERVICE_NUMBERS"):
        create_app(settings, core=Harness(redis_conn, twilio_rest).core)


def test_after_the_fallback_line_the_caller_hears_wait_music_not_silence(harness):
    heard = harness.twiml("/voice/fallback", {"CallSid": "CA" + "b" * 32, "ErrorCode": "11200"})
    conference = heard.conference()
    assert conference.get("startConferenceOnEnter") == "false", "alone in it, they hear the wait music"
    assert conference.get("waitUrl"), "a wait URL plays until someone joins"


# -- what breaking the code on purpose showed untested -----------------------------------------------


def test_caller_agreed_to_hold_must_be_said_explicitly__R_WARM_6(harness):
    caller_sid, _ = harness.caller_with_agent()
    body = {"call_sid": caller_sid, "kind": "manager_request", "reason": "wants a manager"}
    response = harness.api("POST", "/api/escalations", json=body)
    assert response.status_code == 400 and response.json["field"] == "caller_agreed_to_hold"
    assert harness.rest.requests("UpdateParticipant") == [], "nobody is held without being asked"


def test_a_policy_that_puts_leads_on_supervisor_demanded_is_refused__R_ESC_2():
    data = _policy()
    data["kinds"] = {**data["kinds"], "supervisor_demanded": {"tiers": ["lead", "supervisor"]}}
    with pytest.raises(PolicyError) as err:
        parse_policy(data, "policies/broken.toml")
    assert err.value.key == "kinds.supervisor_demanded.tiers"


def test_region_routes_to_that_regions_lead__R_ESC_6(redis_conn, twilio_rest):
    tokens = {"agent-avery": ApiToken("tok-policy-agent-00000", "agent-1", "agent")}
    rung = []
    for region in ("east", "west"):
        redis_conn.flushall()
        harness = Harness(
            redis_conn, twilio_rest, policy_file=ROOT / "policies" / "seed-004-regional-utility.toml", tokens=tokens
        )
        before = len(twilio_rest.requests("CreateCall"))
        caller_sid, _ = harness.caller_with_agent()
        harness.escalate(caller_sid, client={"name": "Pat Doe", "region": region})
        rung.append(twilio_rest.requests("CreateCall")[before].param("To"))
    assert rung == ["+13125550111", "+13125550112"], "each region's own lead first"


def test_no_authority_goes_to_its_own_tiers__R_ESC_5(redis_conn, twilio_rest, tmp_path):
    text = (ROOT / "policies" / "default.toml").read_text()
    text = text.replace(
        '[kinds.no_authority]\ntiers = ["lead", "supervisor", "manager"]',
        '[kinds.no_authority]\ntiers = ["supervisor", "lead"]',
    )
    assert 'tiers = ["supervisor", "lead"]' in text
    policy = tmp_path / "no-authority.toml"
    policy.write_text(text)
    harness = Harness(redis_conn, twilio_rest, policy_file=policy)
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid, kind="no_authority").json["id"]
    harness.lead_answers(esc_id)
    harness.lead_presses(esc_id, "2")
    assert [r.param("To") for r in harness.rest.requests("CreateCall")] == ["+13125550121", "+13125550111"], (
        "the supervisor, then the lead tier: no other kind hunts in this order"
    )


def test_the_team_channel_post_reaches_the_webhook__R_NOTE_1(redis_conn, twilio_rest):
    received: list[dict] = []

    class Channel(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Channel)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        harness = Harness(redis_conn, twilio_rest, chat_webhook_url=f"http://127.0.0.1:{server.server_address[1]}/hook")
        twilio_rest.mock.add_passthru(f"http://127.0.0.1:{server.server_address[1]}")
        caller_sid, _ = harness.caller_with_agent()
        harness.escalate(caller_sid)
        harness.run_jobs()
    finally:
        server.shutdown()
        server.server_close()
    assert len(received) == 1
    assert "Pat Doe" in received[0]["text"] and "https://crm.example.test/c/448812" in received[0]["text"]


def test_a_callback_lead_pressing_1_twice_rings_the_caller_once__R_CB_8(harness):
    caller_sid, esc_id = holding(harness)
    book_callback(harness, caller_sid, esc_id)
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    harness.clock.set(datetime.fromisoformat(harness.core.callbacks.view(cb_id)["window_start"]) + timedelta(seconds=1))
    harness.run_jobs()
    lead_sid = harness.core.ctx.store.callback(cb_id)["lead_call_sid"]
    assert lead_sid
    before = len(harness.rest.requests("CreateCall"))
    for _ in range(2):
        harness.twiml(f"/voice/callback/lead/decision?callback={cb_id}", {"CallSid": lead_sid, "Digits": "1"})
    assert [r.param("To") for r in harness.rest.requests("CreateCall")[before:]] == ["+13125550142"]


def test_an_empty_or_blank_reason_is_required_in_plain_words(harness):
    caller_sid, _ = harness.caller_with_agent()
    for reason in ("", "   "):
        response = harness.escalate(caller_sid, reason=reason)
        assert response.status_code == 400 and response.json == {
            "error": "missing_field",
            "message": "'reason' is required.",
            "field": "reason",
        }
