"""GET /api/reports, managers' numbers over the records archive, told as stories against the real
app and a real Redis: escalations are run through the warm transfer, the hold, the callbacks and
the managers-only kinds, finished, their live keys dropped, and each figure is checked against
what was worked out by hand from the story (the clock is virtual, so the seconds are exact)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from sim.mailbox import Mailbox
from telephony.reports.figures import figures
from tests.hold.test_hold_and_callbacks import book_callback, dial_due
from tests.records.test_records import drop_live_keys
from tests.support import ROOT, Harness

DAY = "from=2026-11-24&to=2026-11-24"


def report(harness, query: str = DAY, who: str = "lead-lee"):
    return harness.api("GET", f"/api/reports?{query}", who)


def escalated(harness, kind: str = "manager_request", **extra) -> tuple[str, str, str]:
    """(caller's call, escalation, agent): escalated by the agent the call was given to."""
    caller_sid, _ = harness.caller_with_agent()
    agent = harness.core.ctx.store.call(caller_sid)["agent_id"]
    response = harness.escalate(caller_sid, kind=kind, who=agent, **extra)
    assert response.status_code == 201, response.json
    return caller_sid, response.json["id"], agent


def put_through(harness, caller_sid: str, esc_id: str, agent: str) -> None:
    """The rung person accepts, the agent connects them, the caller hangs up: finished, archived."""
    harness.lead_accepts_and_joins(esc_id)
    connected = harness.api("POST", f"/api/escalations/{esc_id}/connect", who=agent, json={})
    assert connected.status_code == 200, connected.json
    harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    agent_sid = harness.core.ctx.store.call(caller_sid)["agent_call_sid"]
    harness.leg_status(f"/voice/agent/status?caller={caller_sid}", agent_sid, "completed")


def test_holds_time_to_lead_and_check_ins_from_the_archive__R_HOLD_2_R_HOLD_3_R_WARM_1(harness, redis_conn):
    # A: held 60 s, put through to a lead; no check-in is due before 120 s.
    caller, esc, agent = escalated(harness)
    harness.advance(60)
    put_through(harness, caller, esc, agent)
    # B: check-ins at 120 and 240 s on time, the limit at 300 s, keeps holding 20 s more: 320 s.
    caller, esc, agent = escalated(harness)
    harness.advance(300)
    harness.twiml(f"/voice/hold/choice?escalation={esc}&tries=0", {"CallSid": caller, "Digits": "1"})
    harness.advance(20)
    put_through(harness, caller, esc, agent)
    # C: a supervisor is demanded; the scheduler stalls, so the 120 s check-in runs at 150 s (30 s
    # late); put through to the supervisor at 200 s.
    caller, esc, agent = escalated(harness, kind="supervisor_demanded")
    harness.jump(150)
    harness.advance(50)
    put_through(harness, caller, esc, agent)
    drop_live_keys(redis_conn)

    response = report(harness)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["from"] == body["to"] == "2026-11-24" and body["time_zone"] == "America/Chicago"
    assert body["escalations"] == {
        "requirement": "R-NOTE-3",
        "count": 3,
        "by_kind": {"manager_request": 2, "supervisor_demanded": 1},
        "by_tier": {"lead": 2, "supervisor": 1},
    }
    seconds = {"count": 3, "p50": 200, "p90": 320, "max": 320}
    assert body["escalate_to_lead_seconds"] == {
        "requirement": "R-WARM-1",
        **seconds,
        "by_tier": {
            "lead": {"count": 2, "p50": 60, "p90": 320, "max": 320},
            "supervisor": {"count": 1, "p50": 200, "p90": 200, "max": 200},
        },
    }
    hold = body["hold"]
    assert hold["requirement"] == "R-HOLD-3" and hold["limit_seconds"] == 300
    assert (hold["holds"], hold["over_limit"], hold["share_over_limit"], hold["longest_seconds"]) == (3, 1, 0.3333, 320)
    # B kept holding past the limit by choice; no caller held longer than the limit unoffered.
    assert (hold["kept_holding"], hold["longest_before_offer_seconds"], hold["rounds_over_limit"]) == (1, 300, 0)
    bins = [0] * 21
    bins[60 // 30] = bins[200 // 30] = bins[320 // 30] = 1
    assert hold["distribution"] == {"bin_seconds": 30, "counts": bins}
    assert body["check_ins"] == {
        "requirement": "R-HOLD-2",
        "interval_seconds": 120,
        "grace_seconds": 10,
        "made": 3,
        "on_time": 2,
        "late": 1,
        "latest_seconds": 30,
        "due": 3,
        "missed": 0,
    }
    assert body["callbacks"]["booked"] == 0 and body["callbacks_by_day"]["days"] == {}


def test_a_check_in_that_never_ran_is_missed__R_HOLD_2(harness, redis_conn):
    """The scheduler is down for the whole hold: the clock moves, no job runs, the lead connects
    at 250 s. Two check-ins were due (120, 240 s), none was made."""
    caller, esc, agent = escalated(harness)
    harness.clock.advance(250)
    harness.work_after_requests = False
    put_through(harness, caller, esc, agent)
    harness.work_after_requests = True
    harness.run_jobs()
    check_ins = report(harness).json["check_ins"]
    assert (check_ins["due"], check_ins["made"], check_ins["missed"]) == (2, 0, 2)


def caller_reached(harness, cb_id: str) -> None:
    lead_sid = harness.core.ctx.store.callback(cb_id)["lead_call_sid"]
    harness.twiml(f"/voice/callback/lead/answer?callback={cb_id}", {"CallSid": lead_sid})
    harness.twiml(f"/voice/callback/lead/decision?callback={cb_id}", {"CallSid": lead_sid, "Digits": "1"})
    caller_leg_sid = harness.core.ctx.store.callback(cb_id)["caller_call_sid"]
    harness.twiml(f"/voice/callback/caller/answer?callback={cb_id}", {"CallSid": caller_leg_sid, "AnsweredBy": "human"})


def booked(harness) -> str:
    """Held 300 s to the limit, then books the 11:00-13:00 window (Chicago) and hangs up."""
    caller, esc, _ = escalated(harness)
    harness.advance(300)
    book_callback(harness, caller, esc)
    harness.webhook("/voice/status", {"CallSid": caller, "CallStatus": "completed"})
    return harness.escalation(esc)["callback"]["id"]


def test_a_callback_reached_inside_its_window_and_one_reached_after_it__R_CB_1_R_CB_2(harness, redis_conn):
    cb_id = booked(harness)
    dial_due(harness, cb_id)
    caller_reached(harness, cb_id)
    assert harness.core.callbacks.view(cb_id)["status"] == "completed"
    late_id = booked(harness)
    dial_due(harness, late_id)
    window_end = datetime.fromisoformat(harness.core.callbacks.view(late_id)["window_end"])
    harness.clock.set(window_end + timedelta(seconds=1))
    caller_reached(harness, late_id)
    drop_live_keys(redis_conn)
    body = report(harness).json
    assert body["callbacks"] == {
        "requirement": "R-CB-1",
        "booked": 2,
        "reached_in_window": 1,
        "reached_late": 1,
        "given_up": 0,
    }
    assert body["callbacks_by_day"] == {
        "requirement": "R-CB-2",
        "days": {"2026-11-24": {"in_window": 1, "late": 1, "given_up": 0, "not_yet": 0}},
    }
    assert body["hold"]["holds"] == 2 and body["hold"]["over_limit"] == 0, "holds ended by the callback choice"
    assert body["callbacks_overdue"] == {"requirement": "R-CB-7", "count": 0, "escalations": []}


def test_a_callback_nobody_answers_is_given_up_after_every_window__R_CB_5(harness, redis_conn):
    cb_id = booked(harness)
    for _ in range(40):
        cb = harness.core.callbacks.view(cb_id)
        if cb["status"] == "no_answer":
            break
        dial_due(harness, cb_id)
        lead_sid = harness.core.ctx.store.callback(cb_id)["lead_call_sid"]
        harness.twiml(f"/voice/callback/lead/answer?callback={cb_id}", {"CallSid": lead_sid})
        harness.twiml(f"/voice/callback/lead/decision?callback={cb_id}", {"CallSid": lead_sid, "Digits": "1"})
        caller_leg = harness.core.ctx.store.callback(cb_id)["caller_call_sid"]
        harness.leg_status(f"/voice/callback/caller/status?callback={cb_id}", caller_leg, "no-answer")
        harness.leg_status(f"/voice/callback/lead/status?callback={cb_id}", lead_sid, "completed")
        harness.advance(600)
    assert harness.core.callbacks.view(cb_id)["status"] == "no_answer"
    drop_live_keys(redis_conn)
    body = report(harness).json
    assert (body["callbacks"]["booked"], body["callbacks"]["given_up"]) == (1, 1)
    assert body["callbacks"]["reached_in_window"] == body["callbacks"]["reached_late"] == 0
    assert body["callbacks_by_day"]["days"] == {"2026-11-24": {"in_window": 0, "late": 0, "given_up": 1, "not_yet": 0}}


def test_a_callback_not_made_by_its_deadline_is_counted_overdue__R_CB_7(harness):
    cb_id = booked(harness)
    esc_id = harness.core.callbacks.view(cb_id)["escalation_id"]
    for person in ("lead-lee", "lead-morgan", "supervisor-sam"):
        harness.core.ctx.store.set_presence(person, "offline")
    harness.advance(24 * 3600)
    assert harness.core.callbacks.view(cb_id)["overdue"] is True
    body = report(harness).json
    assert body["callbacks_overdue"] == {"requirement": "R-CB-7", "count": 1, "escalations": [esc_id]}
    assert body["callbacks_by_day"]["days"] == {"2026-11-24": {"in_window": 0, "late": 0, "given_up": 0, "not_yet": 1}}


def test_complaints_and_abusive_calls_who_took_them_and_the_emails__R_ESC_3_R_ESC_4_R_NOTE_2(redis_conn, twilio_rest):
    with Mailbox() as inbox:
        harness = Harness(redis_conn, twilio_rest, smtp_url=inbox.url(), smtp_from="escalations@example.com")
        # A formal complaint, taken by manager Max, emailed to the managers.
        caller, esc, agent = escalated(harness, kind="formal_complaint")
        harness.run_jobs()
        put_through(harness, caller, esc, agent)
        assert harness.escalation(esc)["assignee"] == "manager-max"
        # An abusive caller hangs up before anyone takes the call; nothing is emailed (seed 002
        # emails an abusive escalation when its callback is booked).
        caller, esc, _ = escalated(harness, kind="abusive")
        harness.webhook("/voice/status", {"CallSid": caller, "CallStatus": "completed"})
        harness.run_jobs()
    assert len(inbox.delivered) == 1
    drop_live_keys(redis_conn)
    body = report(harness).json
    assert body["formal_complaints"] == {
        "requirement": "R-ESC-3",
        "count": 1,
        "taken_by": {"Max (manager)": 1},
        "taken_by_a_manager": 1,
        "taken_by_someone_else": 0,
        "not_taken": 0,
    }
    assert body["abusive_calls"] == {
        "requirement": "R-ESC-4",
        "count": 1,
        "taken_by": {},
        "taken_by_a_manager": 0,
        "taken_by_someone_else": 0,
        "not_taken": 1,
    }
    assert body["emails"] == {
        "requirement": "R-NOTE-2",
        "escalations_emailed": 1,
        "escalations_not_emailed": 0,
        "sent": 1,
        "failed_tries": 0,
    }


def test_an_email_that_could_not_be_sent_is_counted__R_NOTE_2(harness):
    """No SMTP_URL: the complaint's email is kept, not sent."""
    escalated(harness, kind="formal_complaint")
    harness.run_jobs()
    emails = report(harness).json["emails"]
    assert (emails["escalations_emailed"], emails["escalations_not_emailed"], emails["sent"]) == (0, 1, 0)
    assert emails["failed_tries"] >= 1


def test_red_flags_raised_and_how_long_until_the_managers_were_told__R_NOTE_5(redis_conn, twilio_rest, tmp_path):
    policy = tmp_path / "flags.toml"
    policy.write_text(
        (ROOT / "policies" / "default.toml").read_text() + '\n[red_flags]\nphrases = ["lawyer", "legal action"]\n'
    )
    harness = Harness(redis_conn, twilio_rest, policy_file=policy)
    # Raised on the call before the escalation; the managers' job runs 5 s later; the agent
    # escalates 30 s after that (the flag and the telling are carried onto the escalation).
    caller, _ = harness.caller_with_agent()
    agent = harness.core.ctx.store.call(caller)["agent_id"]
    harness.work_after_requests = False
    noted = harness.api("POST", f"/api/calls/{caller}/notes", who=agent, json={"text": "says he will call his lawyer"})
    assert noted.status_code == 201 and [f["phrase"] for f in noted.json["red_flags"]] == ["lawyer"]
    harness.jump(5)
    harness.advance(30)
    harness.work_after_requests = True
    esc = harness.escalate(caller, who=agent).json["id"]
    # Raised on the escalation's call; the job runs 12 s later.
    harness.work_after_requests = False
    noted = harness.api("POST", f"/api/calls/{caller}/notes", who=agent, json={"text": "now it is legal action"})
    assert [f["phrase"] for f in noted.json["red_flags"]] == ["legal action"]
    harness.jump(12)
    harness.work_after_requests = True
    put_through(harness, caller, esc, agent)
    drop_live_keys(redis_conn)
    assert report(harness).json["red_flags"] == {
        "requirement": "R-NOTE-5",
        "raised": 2,
        "managers_told": 2,
        "not_told": 0,
        "seconds_to_told": {"count": 2, "p50": 5, "p90": 12, "max": 12},
    }


def test_reports_are_for_leads_and_up__agent_is_refused(harness):
    escalated(harness)
    refused = report(harness, who="agent-avery")
    assert refused.status_code == 403 and refused.json["message"]
    assert report(harness, who="lead-lee").status_code == 200


def test_bad_days_are_a_400_with_a_message(harness):
    for query, field in [
        ("from=2026-11-24", "to"),
        ("from=24/11/2026&to=2026-11-24", "from"),
        ("from=2026-11-25&to=2026-11-24", "to"),
        ("from=2026-02-30&to=2026-03-01", "from"),
        ("from=2025-01-01&to=2026-11-24", "to"),
        (f"{DAY}&format=xml", "format"),
    ]:
        response = report(harness, query)
        assert response.status_code == 400, query
        assert response.json["message"] and response.json.get("field") == field, (query, response.json)


def test_csv_has_a_header_and_one_row_per_number(harness):
    caller, esc, agent = escalated(harness)
    harness.advance(60)
    put_through(harness, caller, esc, agent)
    response = report(harness, f"{DAY}&format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert 'filename="escalation-report-2026-11-24-to-2026-11-24.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["figure", "requirement", "key", "value"]
    for row in (
        ["escalations", "R-NOTE-3", "count", "1"],
        ["escalations", "R-NOTE-3", "by_kind:manager_request", "1"],
        ["hold", "R-HOLD-3", "share_over_limit", "0.0"],
        ["hold", "R-HOLD-3", "distribution:counts:2", "1"],
        ["escalate_to_lead_seconds", "R-WARM-1", "max", "60.0"],
        ["escalate_to_lead_seconds", "R-WARM-1", "by_tier:lead:p50", "60.0"],
        ["check_ins", "R-HOLD-2", "due", "0"],
    ):
        assert row in rows, row
    assert all(len(row) == 4 and row[1].startswith("R-") for row in rows[1:]), "every number names its requirement"
    empty = list(
        csv.reader(io.StringIO(report(harness, "from=2026-11-23&to=2026-11-23&format=csv").get_data(as_text=True)))
    )
    assert ["escalations", "R-NOTE-3", "count", "0"] in empty and ["hold", "R-HOLD-3", "share_over_limit", ""] in empty


def test_a_callers_words_cannot_move_a_red_flags_time__R_NOTE_5():
    """The 'raised at' suffix is the service's, at the end of the detail; the same words inside the
    caller's quoted sentence are theirs and change nothing (and never make a 500)."""
    at = "2026-11-24T15:00:0{}+00:00".format
    timeline = [
        {"at": at(0), "event": "red_flag", "detail": '"lawyer" said: "x (raised at 9999-99, before the escalation)"'},
        {"at": at(2), "event": "red_flag", "detail": f'"sue" said: "y" (raised at {at(1)}, before the escalation)'},
        {"at": at(5), "event": "red_flag_told", "detail": '"sue": the managers were told'},
        {"at": at(7), "event": "red_flag_told", "detail": '"lawyer": the managers were told'},
    ]
    flags = figures([{"timeline": timeline}], 300, 120)["red_flags"]
    assert flags["seconds_to_told"] == {"count": 2, "p50": 4, "p90": 7, "max": 7}
