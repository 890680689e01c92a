"""Issue 8: no Twilio REST round trip inside any webhook a caller is waiting on. Twilio here answers
only after 2 s (a real server on loopback); while each caller-facing webhook is answered, no
request reaches it at all, so its answer cannot wait on Twilio, however slow. The work is done
by a worker right after, and the call goes on."""

from __future__ import annotations

from routes.voice import CALLER_FACING
from tests.support import Harness


def test_caller_facing_webhooks_never_wait_on_twilio_and_the_call_goes_on(redis_conn, twilio_rest, twilio_stand_in):
    harness = Harness(redis_conn, twilio_rest, twilio_api_base_url=twilio_stand_in.url, twilio_rest_timeout_seconds=5)
    harness.work_after_requests = False
    twilio_stand_in.delay_seconds = 2.0
    exercised: set[str] = set()

    def caller_hears(path: str, params: dict[str, str]):
        before = twilio_stand_in.arrived
        heard = harness.twiml(path, params)
        endpoint = harness.app.url_map.bind("x").match(path.split("?")[0], method="POST")[0]
        assert endpoint in CALLER_FACING, endpoint
        assert twilio_stand_in.arrived == before, f"{path} made a Twilio request while the caller waited"
        exercised.add(endpoint)
        return heard

    caller = harness.caller_calls()
    caller_hears("/voice/incoming", {"CallSid": caller, "From": "+13125550142"})
    joined = caller_hears("/voice/account?attempt=1", {"CallSid": caller, "Digits": "448812"})
    assert joined.conference() is not None, "the caller is in their conference at once"
    caller_hears("/voice/wait", {"CallSid": caller})
    assert twilio_stand_in.arrived == 0 and not redis_conn.hget(f"esc:{{example-support}}:call:{caller}", "agent_call_sid")

    harness.run_urgent()
    agent = harness.core.ctx.store.call(caller)["agent_call_sid"]
    assert agent, "then the worker rang the agent (through the slow Twilio)"
    harness.conference_event("participant-join", caller, label="caller", conference=f"call-{caller}")
    harness.agent_answers(caller, agent)
    esc_id = harness.escalate(caller).json["id"]
    caller_hears(f"/voice/hold?escalation={esc_id}", {"CallSid": caller})
    harness.lead_accepts_and_joins(esc_id)

    harness.advance(300)
    caller_hears(f"/voice/hold/offer?escalation={esc_id}", {"CallSid": caller})
    caller_hears(f"/voice/hold/choice?escalation={esc_id}", {"CallSid": caller, "Digits": "1"})
    caller_hears(f"/voice/hold/loop?escalation={esc_id}&round=1", {"CallSid": caller})
    caller_hears(f"/voice/hold/loop/choice?escalation={esc_id}", {"CallSid": caller, "Digits": "2"})
    caller_hears(f"/voice/callback/number-choice?escalation={esc_id}", {"CallSid": caller, "Digits": "2"})
    caller_hears(f"/voice/callback/number-keyed?escalation={esc_id}", {"CallSid": caller, "Digits": "3125550199"})
    caller_hears(f"/voice/callback/number-confirmed?escalation={esc_id}", {"CallSid": caller, "Digits": "1"})
    booked = caller_hears(f"/voice/callback/window?escalation={esc_id}", {"CallSid": caller, "Digits": "1"})
    assert "Your callback is booked" in booked.text()

    before = twilio_stand_in.arrived
    harness.run_urgent()
    assert twilio_stand_in.arrived > before, "the lead who accepted is told by a worker, right after"
    assert harness.escalation(esc_id)["state"] == "callback_scheduled"
    assert len(exercised) >= 12, sorted(exercised)
