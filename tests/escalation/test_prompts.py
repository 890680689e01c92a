"""Every prompt true when it is spoken (issue 7): the hold message follows the escalation and is
not repeated more often than the policy says, a check-in takes its place, the role being reached
is named, and "all agents are busy" is said only when it is so."""

from __future__ import annotations

from tests.hold.test_hold_and_callbacks import holding


def hold_words(harness, esc_id, caller_sid, check_in: int = 0) -> list[str]:
    url = f"/voice/hold?escalation={esc_id}" + (f"&check_in={check_in}" if check_in else "")
    heard = harness.twiml(url, {"CallSid": caller_sid})
    assert heard.find("Redirect") is not None and set(heard.verbs()) <= {"Say", "Play", "Pause", "Redirect"}
    return heard.said()


def test_the_hold_message_follows_the_escalation_and_check_ins_take_its_place__R_HOLD_1_R_HOLD_2(harness):
    caller_sid, esc_id = holding(harness)
    policy = harness.core.policy
    assert hold_words(harness, esc_id, caller_sid) == [policy.hold.message.replace("{role}", "lead")]
    harness.jump(28)
    assert hold_words(harness, esc_id, caller_sid) == [], "music only: not again within the repeat interval"

    harness.lead_accepts_and_joins(esc_id)
    harness.jump(40)
    [said] = hold_words(harness, esc_id, caller_sid)
    assert "reviewing your call" in said and "getting a lead" not in said, "a lead has accepted: say so"

    harness.advance(120 - 68)
    [check_in] = hold_words(harness, esc_id, caller_sid, check_in=1)
    assert check_in.startswith("Thank you for holding. We have not forgotten you")
    harness.jump(30)
    assert hold_words(harness, esc_id, caller_sid) == [], "the check-in was the message: nothing on top of it"
    harness.jump(31)
    assert "reviewing your call" in hold_words(harness, esc_id, caller_sid)[0]


def test_a_managers_only_escalation_names_the_manager_not_a_lead__R_ESC_3(harness):
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid, kind="formal_complaint").json["id"]
    [said] = hold_words(harness, esc_id, caller_sid)
    assert "manager" in said and "lead" not in said


def test_agents_are_busy_only_when_nobody_is_being_rung_for_the_caller(harness):
    caller_sid, _ = harness.caller_in_conference()
    ringing = harness.twiml("/voice/wait", {"CallSid": caller_sid})
    assert ringing.said() == [harness.core.policy.ivr.agent_ringing_message]
    for agent in ("agent-avery", "agent-blake"):
        harness.core.ctx.store.set_presence(agent, "offline")
    waiting = harness.caller_calls()
    harness.twiml("/voice/account?attempt=1", {"CallSid": waiting, "Digits": "448812"})
    busy = harness.twiml("/voice/wait", {"CallSid": waiting})
    assert busy.said() == [harness.core.policy.ivr.agent_busy_message], "nobody free: now it is true"


def test_a_free_agent_about_to_be_rung_is_announced_not_all_agents_busy__R_WARM_3(harness):
    """Issue 19: the ring is a worker's job, so the caller's first wait prompt comes before any
    agent's leg exists; the intake saw an agent free, so the caller hears they are being connected."""
    harness.work_after_requests = False  # the worker has not rung yet
    caller_sid = harness.caller_calls()
    harness.twiml("/voice/account?attempt=1", {"CallSid": caller_sid, "Digits": "448812"})
    assert harness.core.ctx.store.call(caller_sid).get("agent_call_sid") is None, "nobody rung yet"
    policy = harness.core.policy.ivr
    before_the_ring = harness.twiml("/voice/wait", {"CallSid": caller_sid})
    assert before_the_ring.said() == [policy.agent_ringing_message]
    assert policy.agent_busy_message not in before_the_ring.text()
    harness.run_urgent()
    assert harness.core.ctx.store.call(caller_sid).get("agent_call_sid"), "the worker rang the free agent"
    assert harness.twiml("/voice/wait", {"CallSid": caller_sid}).said() == [policy.agent_ringing_message]


def test_nobody_free_at_the_intake_is_said_before_the_worker_looks_again(harness):
    harness.work_after_requests = False
    for agent in ("agent-avery", "agent-blake"):
        harness.core.ctx.store.set_presence(agent, "offline")
    caller_sid = harness.caller_calls()
    harness.twiml("/voice/account?attempt=1", {"CallSid": caller_sid, "Digits": "448812"})
    busy = harness.core.policy.ivr.agent_busy_message
    assert harness.twiml("/voice/wait", {"CallSid": caller_sid}).said() == [busy]
    harness.run_urgent()
    assert harness.twiml("/voice/wait", {"CallSid": caller_sid}).said() == [busy]


def announcements_to(harness, call_sid) -> list[str]:
    return [
        harness.twiml(r.param("AnnounceUrl"), {"CallSid": call_sid}).text()
        for r in harness.rest.requests("UpdateParticipant")
        if r.path_params["CallSid"] == call_sid and r.param("AnnounceUrl")
    ]


def test_a_lead_in_the_briefing_is_told_about_the_hold_limit_and_the_callers_choice__R_HOLD_3(harness):
    caller_sid, esc_id = holding(harness)
    harness.lead_accepts_and_joins(esc_id)
    lead_sid = harness.lead_leg(esc_id)
    harness.advance(300)
    assert announcements_to(harness, lead_sid) == [harness.core.policy.announcement.hold_limit]

    harness.twiml(f"/voice/hold/choice?escalation={esc_id}", {"CallSid": caller_sid, "Digits": "1"})
    assert announcements_to(harness, lead_sid)[-1] == "The caller is still holding. Please stay on the line."


def test_a_lead_whose_caller_chose_a_callback_is_told_and_not_rung_again_for_it__R_CB_1(harness):
    caller_sid, esc_id = holding(harness)
    harness.lead_accepts_and_joins(esc_id)
    lead_sid = harness.lead_leg(esc_id)
    harness.advance(300)
    harness.twiml(f"/voice/hold/choice?escalation={esc_id}", {"CallSid": caller_sid, "Digits": "2"})
    harness.twiml(f"/voice/callback/number-choice?escalation={esc_id}", {"CallSid": caller_sid, "Digits": "1"})
    harness.twiml(f"/voice/callback/window?escalation={esc_id}", {"CallSid": caller_sid, "Digits": "1"})
    [dismissed] = [r for r in harness.rest.requests("UpdateCall") if r.path_params["Sid"] == lead_sid]
    heard = harness.twiml(dismissed.param("Url"), {"CallSid": lead_sid})
    assert heard.said() == [harness.core.policy.announcement.callback_chosen] and heard.find("Hangup") is not None
    harness.leg_status(f"/voice/lead/status?escalation={esc_id}", lead_sid, "completed")

    before = len(harness.rest.requests("CreateCall"))
    harness.advance(120)
    rung = [r.param("To") for r in harness.rest.requests("CreateCall")[before:]]
    assert rung and "+13125550111" not in rung, "Lee accepted this escalation: another lead makes the callback"
