"""The reconciler (issue 34, probes 1 and 2): status callbacks Twilio sent while every web process
was down, or while Redis was, are lost, and nothing told the service that calls had ended: agents
and leads stayed busy, ghost live calls stayed, escalations stayed dialling a lead, callbacks
stayed dialling nobody. The reconciler asks Twilio (FetchCall) about every live call and leg it
keeps and applies what it hears through the same path as the lost status callback; a second run,
or the callback arriving late after all, changes nothing."""

from __future__ import annotations

from datetime import datetime

from telephony.commands import Reconcile
from tests.hold.test_hold_and_callbacks import book_callback, holding


def test_a_caller_who_hung_up_unheard_is_ended_by_the_reconciler_and_their_agent_freed(harness):
    caller_sid, agent_sid = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    lead_sid = harness.lead_leg(esc_id)
    assert harness.core.ctx.presence("agent-avery") == "busy"
    # The caller hangs up while the web is down: Twilio ends the caller's, the agent's and the
    # ringing lead's calls, and every status callback about them is lost.
    harness.rest.statuses.update({caller_sid: "completed", agent_sid: "completed", lead_sid: "canceled"})

    first = harness.core.reconcile()
    harness.run_jobs()

    assert first["ended"] == 3 and first["failed"] == 0, first
    assert harness.escalation(esc_id)["state"] == "abandoned"
    assert harness.api("GET", "/api/calls", who="lead-lee").json["calls"] == [], "no ghost live call"
    assert {harness.core.ctx.presence(p) for p in ("agent-avery", "lead-lee")} == {"available"}, "nobody busy"
    timeline = harness.escalation(esc_id)["timeline"]

    again = harness.core.reconcile()
    harness.run_jobs()
    late = harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    assert again["ended"] == 0, "nothing left unsettled: a second run changes nothing"
    assert late.status_code == 204 and harness.escalation(esc_id)["timeline"] == timeline, "the late callback either"


def test_a_callback_whose_lead_call_ended_unheard_rings_the_next_lead_once__R_CB_8(harness):
    caller_sid, esc_id = holding(harness)
    book_callback(harness, caller_sid, esc_id)
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    start = datetime.fromisoformat(harness.core.callbacks.view(cb_id)["window_start"])
    harness.advance((start - harness.clock.now()).total_seconds() + 61)
    lead_sid = harness.core.ctx.store.callback(cb_id)["lead_call_sid"]
    dialled = len(harness.rest.requests("CreateCall"))
    harness.rest.statuses[lead_sid] = "no-answer"  # its status callback lost with the web down

    harness.core.reconcile()
    harness.run_jobs()
    harness.core.reconcile()
    harness.run_jobs()

    new = [c.param("To") for c in harness.rest.requests("CreateCall")[dialled:]]
    assert new == ["sip:morgan@leads.example.com"], "the next lead, rung once"
    assert harness.core.ctx.presence("lead-lee") == "available", "the lead who did not answer is free"
    assert harness.core.ctx.store.callback(cb_id)["status"] == "dialing"


def test_the_reconciler_runs_once_a_period_whoever_asks(harness):
    harness.core.ensure_reconciler()
    harness.core.ensure_reconciler()
    queued = [j for q in harness.core.ctx.timers.queues() for j in q.jobs if Reconcile.name in str(j.args)]
    assert len(queued) == 1, queued
