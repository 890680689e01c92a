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


def refused_redirects() -> float:
    return sum(
        sample.value
        for metric in TWILIO_ERRORS.collect()
        for sample in metric.samples
        if sample.labels.get("operation") == "redirect" and sample.name.endswith("_total")
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
