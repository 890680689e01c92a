"""Issue 19: when everyone on a call hangs up at once, a staff member's call that has already
ended is not redirected (the store knows the leg's status), and Twilio's 21220 ("call is not
in-progress") for one that ended a moment before is "already gone": no failure, no retry."""

from __future__ import annotations

import logging

from telephony.metrics import TWILIO_ERRORS


def lead_redirects(harness, lead_sid) -> list[str]:
    return [r.param("Url") for r in harness.rest.requests("UpdateCall") if r.path_params["Sid"] == lead_sid]


def briefing(harness) -> tuple[str, str, str]:
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    harness.lead_accepts_and_joins(esc_id)
    return caller_sid, esc_id, harness.lead_leg(esc_id)


def refused_redirects(operation: str = "redirect") -> float:
    return sum(
        sample.value
        for metric in TWILIO_ERRORS.collect()
        for sample in metric.samples
        if sample.labels.get("operation") == operation and sample.name.endswith("_total")
    )


def test_a_lead_whose_call_has_ended_is_not_redirected_when_the_caller_leaves__R_WARM_5(harness):
    caller_sid, esc_id, lead_sid = briefing(harness)
    # The lead's "completed" is being handled by one web process while the caller's arrives at another.
    harness.core.ctx.store.advance_call_status_leg(lead_sid, "completed")
    harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    assert lead_redirects(harness, lead_sid) == [], "an ended call is not redirected"
    assert harness.escalation(esc_id)["state"] == "abandoned"
    assert "lead_told" not in [e["event"] for e in harness.escalation(esc_id)["timeline"]]


def test_twilio_21220_on_the_lead_s_redirect_is_already_gone_not_a_failure__R_WARM_5(harness, caplog):
    caller_sid, esc_id, lead_sid = briefing(harness)
    harness.rest.fail_next("UpdateCall", status=400, code=21220, message="Call is not in-progress. Cannot redirect.")
    refused_before = refused_redirects()
    with caplog.at_level(logging.INFO, logger="telephony"):
        response = harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    assert response.status_code == 204
    assert harness.rest.failures["UpdateCall"] == [], "Twilio was asked once"
    assert lead_redirects(harness, lead_sid) == [], "and not again: the call is gone"
    assert refused_redirects() == refused_before, "not counted as a Twilio error"
    gone = [r for r in caplog.records if "already gone" in r.getMessage()]
    assert gone and all(r.levelno == logging.INFO for r in gone)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "lead" in r.getMessage()]
    esc = harness.escalation(esc_id)
    assert esc["state"] == "abandoned" and "lead_told" not in [e["event"] for e in esc["timeline"]]
    harness.advance(60)
    assert lead_redirects(harness, lead_sid) == [], "no retry later either"


def test_twilio_21220_on_a_redirect_returns_false_at_the_gateway(harness):
    harness.rest.fail_next("UpdateCall", status=400, code=21220, message="Call is not in-progress. Cannot redirect.")
    assert harness.core.ctx.twilio.redirect("CA" + "0" * 32, "https://example.test/voice/x") is False
    assert harness.core.ctx.twilio.redirect("CA" + "0" * 32, "https://example.test/voice/x") is True


def hung_up(harness, call_sid: str, label: str) -> None:
    """Twilio's participant-leave of a participant who hung up (it says the call's status and why)."""
    harness.conference_event(
        "participant-leave",
        call_sid,
        label=label,
        ParticipantCallStatus="completed",
        ReasonParticipantLeft="participant_hung_up",
    )


def announced_to(harness, call_sid) -> list[str]:
    return [
        r.param("AnnounceUrl")
        for r in harness.rest.requests("UpdateParticipant")
        if r.path_params["CallSid"] == call_sid and r.param("AnnounceUrl")
    ]


def test_a_lead_who_left_the_conference_is_not_redirected_before_their_status_arrives__R_WARM_5(harness, caplog):
    """Issue 35 item 4: the lead's participant-leave came, their `completed` has not yet: the
    caller hanging up then does not redirect a call that has ended (Twilio's 21220)."""
    caller_sid, esc_id, lead_sid = briefing(harness)
    hung_up(harness, lead_sid, "lead")
    with caplog.at_level(logging.INFO, logger="telephony"):
        harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    assert lead_redirects(harness, lead_sid) == [], "a lead who left is not redirected"
    esc = harness.escalation(esc_id)
    assert esc["state"] == "abandoned" and "lead_told" not in [e["event"] for e in esc["timeline"]]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_agent_dropping_after_the_lead_left_tells_nobody_and_connects_the_caller_to_nobody__R_WARM_5(
    harness, caplog
):
    """Everyone hangs up at once, the lead's leave first: the agent's `completed` then finds no
    lead in the conference to tell "the agent dropped", nor to put the caller through to."""
    caller_sid, esc_id, lead_sid = briefing(harness)
    agent_sid = harness.core.ctx.store.call(caller_sid)["agent_call_sid"]
    hung_up(harness, lead_sid, "lead")
    with caplog.at_level(logging.INFO, logger="telephony"):
        harness.leg_status(f"/voice/agent/status?caller={caller_sid}", agent_sid, "completed")
    assert announced_to(harness, lead_sid) == [], "nobody to tell"
    unheld = [r for r in harness.rest.requests("UpdateParticipant") if r.param("Hold") == "false"]
    assert unheld == [], "the caller stays on hold: nobody is there to take them"
    assert "caller_connected" not in [e["event"] for e in harness.escalation(esc_id)["timeline"]]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_callers_own_hang_up_in_the_conference_ends_it_before_their_status_arrives__R_WARM_5(harness, caplog):
    """The caller's participant-leave says they hung up (ParticipantCallStatus): the agent's
    `completed` arriving next is no agent dropping from a call in progress, so the lead is not told
    that and the caller, gone, is not taken off hold; the lead hears that the caller hung up."""
    caller_sid, esc_id, lead_sid = briefing(harness)
    agent_sid = harness.core.ctx.store.call(caller_sid)["agent_call_sid"]
    hung_up(harness, caller_sid, "caller")
    assert harness.escalation(esc_id)["state"] == "abandoned"
    assert [u for u in lead_redirects(harness, lead_sid) if "notice=caller_left" in u], "told the caller hung up"
    with caplog.at_level(logging.INFO, logger="telephony"):
        harness.leg_status(f"/voice/agent/status?caller={caller_sid}", agent_sid, "completed")
        harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    assert announced_to(harness, lead_sid) == [] and len(lead_redirects(harness, lead_sid)) == 1
    assert [r for r in harness.rest.requests("UpdateParticipant") if r.param("Hold") == "false"] == []
    timeline = [e["event"] for e in harness.escalation(esc_id)["timeline"]]
    assert timeline.count("caller_left") == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_caller_taken_out_of_the_conference_alive_has_not_hung_up__R_HOLD_3(harness):
    """A participant-leave with the call still in progress (the hold limit's redirect to the
    callback offer) is no hang-up."""
    caller_sid, esc_id, _ = briefing(harness)
    harness.conference_event(
        "participant-leave",
        caller_sid,
        label="caller",
        ParticipantCallStatus="in-progress",
        ReasonParticipantLeft="participant_updated_via_api",
    )
    assert harness.escalation(esc_id)["state"] == "briefing"
    assert harness.core.ctx.store.call(caller_sid).get("status") != "completed"


def test_twilio_saying_the_lead_is_gone_when_told_is_already_gone_not_a_failure__R_WARM_5(harness, caplog):
    """A lead's leg that ended a moment before the announcement: 21220 (or no such participant)
    is "already gone", logged at info, not counted as Twilio failing."""
    caller_sid, esc_id, lead_sid = briefing(harness)
    agent_sid = harness.core.ctx.store.call(caller_sid)["agent_call_sid"]
    harness.rest.fail_next("UpdateParticipant", status=404, code=20404, message="Participant was not found")
    before = refused_redirects("announce")
    with caplog.at_level(logging.INFO, logger="telephony"):
        harness.leg_status(f"/voice/agent/status?caller={caller_sid}", agent_sid, "completed")
    assert refused_redirects("announce") == before, "not counted as Twilio failing"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], [r.getMessage() for r in caplog.records]
