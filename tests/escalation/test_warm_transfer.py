"""The core call path told as stories: caller in, agent escalates, lead briefed, warm transfer."""

from __future__ import annotations

from tests.support import BASE, CALLER_ID


def test_caller_greeted_asked_for_account_and_hears_wait_message_in_own_conference(harness):
    call_sid = harness.caller_calls()
    first = harness.twiml("/voice/incoming", {"CallSid": call_sid, "From": "+13125550142", "To": CALLER_ID})
    assert "Thank you for calling" in first.text()
    gather = first.find("Gather")
    assert gather is not None and gather.get("input") == "dtmf" and gather.get("finishOnKey") == "#"
    assert first.verbs()[-1] == "Redirect", "silence after the prompt must re-prompt, not hang up"

    joined = harness.twiml("/voice/account?attempt=1", {"CallSid": call_sid, "Digits": "448812"})
    assert "connect you to an agent" in joined.text()
    conference = joined.conference()
    assert conference.text == f"call-{call_sid}"
    assert conference.get("endConferenceOnExit") == "false"
    assert conference.get("startConferenceOnEnter") == "false", "the caller hears the wait URL until the agent joins"
    assert conference.get("waitUrl") == f"{BASE}/voice/wait"
    assert conference.get("participantLabel") == "caller"

    wait = harness.twiml("/voice/wait", {"CallSid": call_sid})
    assert set(wait.verbs()) <= {"Say", "Play", "Pause", "Redirect"}, (
        "a wait URL may hold only Say/Play/Pause/Redirect (13238)"
    )
    assert wait.said() and wait.verbs()[-1] == "Redirect"

    dialled = harness.rest.requests("CreateParticipant")
    assert len(dialled) == 1
    agent = dialled[0]
    assert agent.path_params["ConferenceSid"] == f"call-{call_sid}"
    assert agent.param("To") == "client:agent-avery"
    assert agent.param("Label") == "agent"
    assert agent.param("StartConferenceOnEnter") == "true"
    assert agent.param("EndConferenceOnExit") == "false"
    assert harness.core.ctx.store.call(call_sid)["account"] == "448812"


def test_bad_or_empty_account_is_reprompted_and_never_drops_the_caller(harness):
    call_sid = harness.caller_calls()
    again = harness.twiml("/voice/account?attempt=1", {"CallSid": call_sid, "Digits": "12"})
    assert "did not look like an account number" in again.text()
    assert again.find("Gather").get("action").endswith("attempt=2")
    empty = harness.twiml("/voice/account?attempt=2", {"CallSid": call_sid})
    assert empty.find("Gather").get("action").endswith("attempt=3")
    assert harness.rest.requests("CreateParticipant") == []
    last = harness.twiml("/voice/account?attempt=3", {"CallSid": call_sid, "Digits": "abc"})
    assert last.conference() is not None, "after the last attempt the caller still reaches an agent"
    assert len(harness.rest.requests("CreateParticipant")) == 1


def test_escalation_holds_the_caller_and_rings_the_lead_with_an_announcement__R_WARM_1_R_WARM_2_R_WARM_3(harness):
    caller_sid, _agent = harness.caller_with_agent()
    response = harness.escalate(caller_sid)
    assert response.status_code == 201, response.json
    esc = response.json
    assert esc["state"] == "dialing_lead" and esc["tier"] == "lead"
    assert esc["hold_started_at"] is not None

    hold = harness.rest.requests("UpdateParticipant")
    assert len(hold) == 1
    assert hold[0].path_params["CallSid"] == caller_sid, "only the caller is held, never the whole conference"
    assert hold[0].param("Hold") == "true"
    assert hold[0].param("HoldUrl") == f"{BASE}/voice/hold?escalation={esc['id']}"
    held = harness.twiml(hold[0].param("HoldUrl"), {"CallSid": caller_sid})
    assert "getting a lead on the line" in held.text()
    assert set(held.verbs()) <= {"Say", "Play", "Pause", "Redirect"}

    ring = harness.rest.requests("CreateCall")
    assert len(ring) == 1
    assert ring[0].param("To") == "+13125550111"
    assert ring[0].param("From") == CALLER_ID
    assert ring[0].param("Url") == f"{BASE}/voice/lead/answer?escalation={esc['id']}&replay=0"
    assert "Twiml" not in ring[0].params, "the lead gets our announcement, not a conference"
    assert harness.rest.requests("CreateParticipant")[-1].param("To") == "client:agent-avery", (
        "no lead was dialled into the conference"
    )

    note = harness.core.ctx.store.notifications()[0]
    assert note["to"] == "cr-esc" and note["escalation"] == esc["id"]
    for field in ("Pat Doe", "https://crm.example.test/c/448812", "billed twice for equipment", "@am-leads"):
        assert field in note["text"], "R-NOTE-1: the team channel gets every escalation"

    announcement = harness.lead_answers(esc["id"])
    said = announcement.said()
    assert said[0] == "I have an escalation in transfer.", "the lead hears it is an escalation before any detail"
    text = announcement.text()
    for detail in ("Pat Doe", "4 4 8 8 1 2", "billed twice for equipment", "credit on next bill", "Press 1"):
        assert detail in text
    assert announcement.conference() is None, "the announcement connects nobody (R-WARM-1)"
    gather = announcement.find("Gather")
    assert gather.get("numDigits") == "1"


def test_lead_accepts_and_joins_the_agent_while_the_caller_stays_on_hold__R_WARM_3(harness):
    caller_sid, _agent = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    harness.lead_answers(esc_id)
    joined = harness.lead_presses(esc_id, "1")
    conference = joined.conference()
    assert conference.text == f"call-{caller_sid}"
    assert conference.get("participantLabel") == "lead"
    assert "cannot hear you" in joined.text()
    esc = harness.escalation(esc_id)
    assert esc["state"] == "briefing" and esc["assignee"] == "lead-lee"
    unholds = [r for r in harness.rest.requests("UpdateParticipant") if r.param("Hold") == "false"]
    assert unholds == [], "the caller stays on hold while the agent briefs the lead"


def test_agent_connects_caller_and_leaves__R_WARM_4(harness):
    caller_sid, agent_sid = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    harness.lead_accepts_and_joins(esc_id)
    response = harness.api("POST", f"/api/escalations/{esc_id}/connect", json={})
    assert response.status_code == 200, response.json
    assert response.json["state"] == "connected"
    conference_sid = harness.conference_sid(caller_sid)
    unhold = harness.rest.requests("UpdateParticipant")[-1]
    assert unhold.path_params == {**unhold.path_params, "ConferenceSid": conference_sid, "CallSid": caller_sid}
    assert unhold.param("Hold") == "false"
    removed = harness.rest.requests("DeleteParticipant")
    assert [r.path_params["CallSid"] for r in removed] == [agent_sid], "the agent disconnects themself"
    events = [e["event"] for e in harness.escalation(esc_id)["timeline"]]
    assert events.index("lead_accepted") < events.index("caller_connected")

    again = harness.api("POST", f"/api/escalations/{esc_id}/connect", json={})
    assert again.status_code == 409 and again.json["error"] == "not_briefing"


def test_connect_before_the_lead_accepted_is_refused__R_WARM_1(harness):
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    response = harness.api("POST", f"/api/escalations/{esc_id}/connect", json={})
    assert response.status_code == 409
    assert "accepted" in response.json["message"]
    assert [r for r in harness.rest.requests("UpdateParticipant") if r.param("Hold") == "false"] == []


def test_declined_lead_hands_over_to_the_next_in_the_tier__R_ESC_7(harness):
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    harness.lead_answers(esc_id)
    goodbye = harness.lead_presses(esc_id, "2")
    assert goodbye.verbs()[-1] == "Hangup"
    rings = harness.rest.requests("CreateCall")
    assert [r.param("To") for r in rings] == ["+13125550111", "sip:morgan@leads.example.com"]
    esc = harness.escalation(esc_id)
    assert esc["state"] == "dialing_lead"
    assert [e["event"] for e in esc["timeline"]].count("lead_declined") == 1


def test_lead_not_answering_moves_on_then_next_tier_then_callback_offer__R_ESC_7(harness):
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    for _ in range(2):
        harness.leg_status(f"/voice/lead/status?escalation={esc_id}", harness.lead_leg(esc_id), "no-answer")
    assert harness.escalation(esc_id)["tier"] == "supervisor"
    harness.leg_status(f"/voice/lead/status?escalation={esc_id}", harness.lead_leg(esc_id), "busy")
    rings = [r.param("To") for r in harness.rest.requests("CreateCall")]
    assert rings == ["+13125550111", "sip:morgan@leads.example.com", "+13125550121"]
    esc = harness.escalation(esc_id)
    assert "tiers_exhausted" in [e["event"] for e in esc["timeline"]]
    redirect = harness.rest.requests("UpdateCall")[-1]
    assert redirect.path_params["Sid"] == caller_sid
    assert redirect.param("Url") == f"{BASE}/voice/callback/offer?escalation={esc_id}", (
        "the caller is offered a callback, not left on hold"
    )
    offer = harness.twiml(redirect.param("Url"), {"CallSid": caller_sid})
    assert "For a callback, press 1" in offer.text()
    assert offer.find("Gather").get("input") == "dtmf speech"


def test_silent_lead_hears_announcement_again_then_counts_as_declined__R_WARM_2(harness):
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    harness.lead_answers(esc_id)
    replay = harness.lead_presses(esc_id, "", replay=0)
    assert replay.said()[0] == "I have an escalation in transfer."
    wrong = harness.lead_presses(esc_id, "7", replay=1)
    assert "Press 1" in wrong.text()
    gone = harness.lead_presses(esc_id, "", replay=1)
    assert gone.verbs()[-1] == "Hangup"
    assert len(harness.rest.requests("CreateCall")) == 2


def test_agent_dropping_during_dialing_leaves_caller_on_hold_and_transfer_goes_on__R_WARM_5(harness):
    caller_sid, agent_sid = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    harness.leg_status(f"/voice/agent/status?caller={caller_sid}", agent_sid, "completed")
    esc = harness.escalation(esc_id)
    assert esc["state"] == "dialing_lead"
    assert "agent_left" in [e["event"] for e in esc["timeline"]]
    assert harness.rest.requests("UpdateConference") == [], "the conference is not ended"
    assert harness.rest.requests("UpdateCall") == [], "the caller is not hung up"
    harness.lead_accepts_and_joins(esc_id)
    esc = harness.escalation(esc_id)
    assert esc["state"] == "connected", "with no agent to brief, the announced lead gets the caller"
    assert harness.rest.requests("UpdateParticipant")[-1].param("Hold") == "false"


def test_agent_dropping_during_briefing_connects_caller_to_the_briefed_lead__R_WARM_5(harness):
    """The lead is told the agent's line dropped before the caller is with them, and the caller
    hears who they are put through to (issue 7, item 1)."""
    caller_sid, agent_sid = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    harness.lead_accepts_and_joins(esc_id)
    lead_sid = harness.lead_leg(esc_id)
    harness.leg_status(f"/voice/agent/status?caller={caller_sid}", agent_sid, "completed")

    assert harness.escalation(esc_id)["state"] == "briefing", "not yet: the lead is told first"
    [told] = [r for r in harness.rest.requests("UpdateParticipant") if r.param("AnnounceUrl")]
    assert told.path_params["CallSid"] == lead_sid
    notice = harness.twiml(told.param("AnnounceUrl"), {"CallSid": lead_sid})
    assert notice.said() == ["The agent's line dropped. The caller is with you now."]
    assert not [r for r in harness.rest.requests("UpdateParticipant") if r.param("Hold") == "false"]

    harness.conference_event("announcement-end", lead_sid, label="lead")
    assert harness.escalation(esc_id)["state"] == "connected"
    [unhold] = [r for r in harness.rest.requests("UpdateParticipant") if r.param("Hold") == "false"]
    assert unhold.path_params["CallSid"] == caller_sid
    introduced = harness.twiml(unhold.param("AnnounceUrl"), {"CallSid": caller_sid})
    assert introduced.said() == ["You are now connected with Lee, a lead."]
    assert harness.rest.requests("DeleteParticipant") == []


def test_the_caller_is_put_through_even_if_the_leads_announcement_never_ends__R_WARM_5(harness):
    caller_sid, agent_sid = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    harness.lead_accepts_and_joins(esc_id)
    harness.leg_status(f"/voice/agent/status?caller={caller_sid}", agent_sid, "completed")
    harness.advance(14)
    assert harness.escalation(esc_id)["state"] == "briefing"
    harness.advance(1)
    assert harness.escalation(esc_id)["state"] == "connected", "no caller waits on a lost event"


def test_a_lead_accepting_after_the_agent_dropped_is_told_so_not_that_the_agent_waits__R_WARM_5(harness):
    caller_sid, agent_sid = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    harness.leg_status(f"/voice/agent/status?caller={caller_sid}", agent_sid, "completed")
    harness.lead_answers(esc_id)
    heard = harness.lead_presses(esc_id, "1")
    assert heard.said()[0].startswith("Thank you. The agent's line dropped, so you are being put through")
    harness.conference_event("participant-join", harness.lead_leg(esc_id), label="lead")
    assert harness.escalation(esc_id)["state"] == "connected"


def test_a_lead_in_the_briefing_hears_that_the_caller_hung_up__issue_7(harness):
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    harness.lead_accepts_and_joins(esc_id)
    lead_sid = harness.lead_leg(esc_id)
    harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    [told] = [r for r in harness.rest.requests("UpdateCall") if r.path_params["Sid"] == lead_sid and r.param("Url")]
    heard = harness.twiml(told.param("Url"), {"CallSid": lead_sid})
    assert heard.said() == [harness.core.policy.announcement.caller_left] and heard.find("Hangup") is not None
    assert harness.escalation(esc_id)["state"] == "abandoned"


def test_agent_dropping_before_escalation_holds_caller_on_wait_message_and_rings_another_agent__R_WARM_5(harness):
    caller_sid, agent_sid = harness.caller_with_agent()
    harness.leg_status(f"/voice/agent/status?caller={caller_sid}", agent_sid, "completed")
    hold = harness.rest.requests("UpdateParticipant")[-1]
    assert hold.path_params["CallSid"] == caller_sid and hold.param("Hold") == "true"
    assert hold.param("HoldUrl") == f"{BASE}/voice/wait"
    agents = [r.param("To") for r in harness.rest.requests("CreateParticipant")]
    assert agents == ["client:agent-avery", "client:agent-blake"]


def test_caller_hanging_up_while_lead_rings_stops_the_ringing_and_abandons(harness):
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    lead_sid = harness.lead_leg(esc_id)
    response = harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    assert response.status_code == 204
    assert harness.escalation(esc_id)["state"] == "abandoned"
    cancel = [r for r in harness.rest.requests("UpdateCall") if r.path_params["Sid"] == lead_sid]
    assert cancel and cancel[0].param("Status") == "canceled"
    late = harness.lead_answers(esc_id)
    assert late.verbs()[-1] == "Hangup" and late.conference() is None
    assert harness.core.ctx.presence("lead-lee") == "available"


def test_lead_ending_the_connected_call_resolves_it(harness):
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    harness.lead_accepts_and_joins(esc_id)
    harness.api("POST", f"/api/escalations/{esc_id}/connect", json={})
    harness.leg_status(f"/voice/lead/status?escalation={esc_id}", harness.lead_leg(esc_id), "completed")
    assert harness.escalation(esc_id)["state"] == "resolved"
    assert harness.rest.requests("UpdateConference")[-1].param("Status") == "completed"
    assert harness.core.ctx.presence("lead-lee") == "available"


def test_no_hold_without_the_callers_agreement__R_WARM_6(harness):
    caller_sid, _ = harness.caller_with_agent()
    response = harness.escalate(caller_sid, caller_agreed_to_hold=False)
    assert response.status_code == 409 and response.json["error"] == "hold_not_agreed"
    assert "R-WARM-6" in response.json["message"]
    assert harness.rest.requests("UpdateParticipant") == [] and harness.rest.requests("CreateCall") == []
    agreed = harness.escalate(caller_sid)
    assert agreed.status_code == 201
    assert "caller_agreed_to_hold" in [e["event"] for e in agreed.json["timeline"]]


def test_escalating_while_the_agents_phone_still_rings_is_409_and_records_nothing__R_WARM_1(harness):
    """Issue 35 item 11: the caller waits in their conference and the agent's phone rings; the
    caller is not with an agent yet (docs/api.md), so nobody is held and nothing is recorded."""
    caller_sid, agent_sid = harness.caller_in_conference()
    harness.leg_status(f"/voice/agent/status?caller={caller_sid}", agent_sid, "ringing")
    for who in ("agent-avery", "lead-lee"):
        early = harness.escalate(caller_sid, who=who)
        assert early.status_code == 409, early.json
        assert early.json["error"] == "call_not_ready" and "ringing" in early.json["message"]
    store = harness.core.ctx.store
    assert store.escalation_ids() == [] and store.open_escalation_id(caller_sid) is None
    assert harness.rest.requests("UpdateParticipant") == [] and harness.rest.requests("CreateCall") == []

    harness.agent_answers(caller_sid, agent_sid)
    assert harness.escalate(caller_sid).status_code == 201


def test_an_agent_in_the_conference_may_escalate_before_their_answered_status_arrives__R_WARM_1(harness):
    """The agent's join is as good as their leg's `in-progress`: Twilio's webhooks come in any order."""
    caller_sid, agent_sid = harness.caller_in_conference()
    harness.conference_event("participant-join", agent_sid, label="agent")
    assert harness.escalate(caller_sid).status_code == 201
