"""The escalation record, its CRM note, the archive and the export (R-NOTE-3), told as stories
against the real app and a real Redis: an escalation finishes, its record is archived, the live
keys go, and the export still has it; the export's days, formats, roles and spreadsheet safety."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from routes import create_app
from routes.openapi import EscalationRecord, RecordsExport
from sim.demo import main as demo
from telephony.config import ApiToken, ConfigError, Settings
from telephony.lifecycle import finished
from telephony.records.export import CSV_COLUMNS, neutralise
from tests.policies.seeds import SCENARIOS, played, policy_of, routed
from tests.support import Harness

STEPS = ["listened and repeated the problem back", "checked the last two bills with them"]


def hung_up_escalation(harness, *, at: datetime | None = None, **extra) -> str:
    """The call's agent escalates and the caller hangs up while the lead is rung: the escalation
    is abandoned, final."""
    if at is not None:
        harness.clock.set(at)
    caller_sid, agent_sid = harness.caller_with_agent()
    agent = harness.core.ctx.store.call(caller_sid)["agent_id"]
    response = harness.escalate(caller_sid, who=agent, deescalation_steps=STEPS, **extra)
    assert response.status_code == 201, response.json
    esc_id = response.json["id"]
    harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    harness.leg_status(f"/voice/agent/status?caller={caller_sid}", agent_sid, "completed")
    assert harness.escalation(esc_id)["state"] == "abandoned"
    return esc_id


def export(harness, query: str, who: str = "lead-lee"):
    return harness.api("GET", f"/api/records?{query}", who)


def drop_live_keys(conn) -> None:
    """What issue 8's expiry does to a finished escalation: every live key goes; the archive stays."""
    for key in conn.scan_iter(match="esc:*"):
        if not re.match(rb"esc:\{[a-z0-9-]+\}:records?(:|$)", key):
            conn.delete(key)


def test_a_finished_escalation_is_archived_with_its_record_and_crm_note__R_NOTE_3(harness, redis_conn):
    esc_id = hung_up_escalation(harness)
    archived = harness.core.records.history.record(esc_id)
    assert archived is not None, "archived the moment it was abandoned"
    assert harness.core.ctx.store.record(esc_id) is None, "issue 30: in the history database, not in Redis"
    assert redis_conn.zscore("esc:{example-support}:records", esc_id) is None
    [(created, archived_id, _)] = harness.core.records.history.records_between(
        datetime(2026, 11, 24, tzinfo=UTC), datetime(2026, 11, 25, tzinfo=UTC)
    )
    assert (created, archived_id) == (datetime(2026, 11, 24, 15, 0, tzinfo=UTC), esc_id)
    assert archived["caller_name"] == "Pat Doe" and archived["account"] == "448812"
    assert archived["contact_number"] == "+13125550142"
    assert archived["deescalation_steps"] == STEPS
    assert archived["state"] == "abandoned" and archived["finished"] is True
    assert archived["created_at"] == "2026-11-24T09:00:00-06:00", "in the organisation's time zone"
    happened = archived["what_happened"]
    assert happened[0] == "9:00 AM Avery escalated the call (manager request)"
    assert "9:00 AM Lee (lead) was rung" in " | ".join(happened) and happened[-1] == "9:00 AM the caller hung up"
    assert archived["crm_note"] == (
        "Pat Doe (account 448812) asked to speak to a manager: billed twice for equipment. "
        "Tried first: listened and repeated the problem back; checked the last two bills with them. "
        "Offered credit on next bill. Posted to cr-esc. Pat Doe hung up before anyone took the call."
    )
    assert "\n" not in archived["crm_note"]
    assert harness.api("GET", f"/api/escalations/{esc_id}/record", "lead-lee").json == archived
    EscalationRecord.model_validate(archived)
    RecordsExport.model_validate(export(harness, "from=2026-11-24&to=2026-11-24").json)


def test_a_live_escalation_has_a_record_but_no_archive_yet__R_NOTE_3(harness):
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    record = harness.api("GET", f"/api/escalations/{esc_id}/record", "lead-lee").json
    assert record["state"] == "dialing_lead" and record["finished"] is False
    assert harness.core.records.history.record(esc_id) is None
    assert record["deescalation_steps"] == [] and record["callback_number"] is None


def test_the_record_follows_the_escalation_rules_and_masks_numbers_for_agents__R_NOTE_3(harness):
    esc_id = hung_up_escalation(harness)
    own = harness.api("GET", f"/api/escalations/{esc_id}/record", "agent-avery")
    assert own.status_code == 200
    assert own.json["contact_number"] == "***0142", "phone numbers in full for leads and up only"
    assert "+13125550142" not in json.dumps(own.json)
    other = harness.api("GET", f"/api/escalations/{esc_id}/record", "agent-blake")
    assert other.status_code == 403 and other.json["error"] == "not_your_call"
    assert harness.api("GET", "/api/escalations/esc_nope/record", "lead-lee").status_code == 404
    assert harness.api("GET", f"/api/escalations/{esc_id}/record", who="").status_code == 401


def test_a_record_is_still_exported_after_the_live_keys_were_deleted__R_NOTE_3(harness, redis_conn):
    esc_id = hung_up_escalation(harness)
    before = export(harness, "from=2026-11-24&to=2026-11-24").json["records"]
    drop_live_keys(redis_conn)
    assert harness.core.ctx.store.escalation(esc_id) is None
    after = export(harness, "from=2026-11-24&to=2026-11-24").json
    assert after["records"] == before and [r["id"] for r in after["records"]] == [esc_id]
    assert after["records"][0]["crm_note"].startswith("Pat Doe (account 448812)")
    record = harness.api("GET", f"/api/escalations/{esc_id}/record", "agent-avery")
    assert record.status_code == 200 and record.json["contact_number"] == "***0142", "same rules from the archive"


def test_a_record_is_exported_after_its_escalation_left_live_state__R_NOTE_3(redis_conn, twilio_rest):
    harness = Harness(redis_conn, twilio_rest, finished_keep_seconds=600)
    esc_id = hung_up_escalation(harness)
    harness.advance(600 + 180)
    assert harness.core.ctx.store.escalation(esc_id) is None, "purged after FINISHED_KEEP_SECONDS (issue 8)"
    assert harness.api("GET", f"/api/escalations/{esc_id}", "lead-lee").status_code == 404
    [record] = export(harness, "from=2026-11-24&to=2026-11-24").json["records"]
    assert (record["id"], record["contact_number"], record["state"]) == (esc_id, "+13125550142", "abandoned")
    assert harness.api("GET", f"/api/escalations/{esc_id}/record", "lead-lee").json == record


def test_a_finished_record_is_rewritten_when_it_changes_later__R_NOTE_3(harness):
    esc_id = hung_up_escalation(harness)
    harness.core.ctx.store.add_event(esc_id, harness.core.ctx.event("case_moved", "to Client Success"))
    harness.run_jobs()  # the archive hears of it from the outbox, in the workers (issue 29)
    assert harness.core.records.history.record(esc_id)["what_happened"][-1] == "9:00 AM case moved: to Client Success"
    harness.core.ctx.store.add_event(esc_id, harness.core.ctx.event("email_sent", "Pat Doe - Formal Complaint"))
    harness.run_jobs()
    rewritten = harness.core.records.history.record(esc_id)
    assert rewritten["what_happened"][-1] == "9:00 AM the managers were emailed: Pat Doe - Formal Complaint"
    assert "Posted to cr-esc. Emailed the managers." in rewritten["crm_note"]


def test_a_booked_callback_is_in_the_record_and_archived_once_cancelled__R_NOTE_3(harness):
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid, client={"name": "Pat Doe", "account": "448812"}).json["id"]
    harness.twiml(f"/voice/callback/number?escalation={esc_id}", {"CallSid": caller_sid})
    harness.twiml(f"/voice/callback/number-choice?escalation={esc_id}&tries=0", {"CallSid": caller_sid, "Digits": "1"})
    harness.twiml(f"/voice/callback/window?escalation={esc_id}&tries=0", {"CallSid": caller_sid, "Digits": "2"})
    booked = harness.api("GET", f"/api/escalations/{esc_id}/record", "lead-lee").json
    assert booked["state"] == "callback_scheduled" and booked["finished"] is False
    assert harness.core.records.history.record(esc_id) is None, "a callback still to be made is not final"
    assert booked["callback_number"] == "+13125550142" and booked["callback_status"] == "scheduled"
    assert booked["callback_time_frame"] == "today between 10 AM and 12 PM (Tue 24 Nov 2026, 10:00 AM to 12:00 PM CST)"
    assert booked["callback_window_start"] == "2026-11-24T10:00:00-06:00"
    assert booked["crm_note"].endswith(
        "Advised Pat Doe they will receive a callback today between 10 AM and 12 PM (Tue 24 Nov), within 24 hours."
    )
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    assert harness.api("POST", f"/api/callbacks/{cb_id}/cancel", "lead-lee").status_code == 200
    archived = harness.core.records.history.record(esc_id)
    assert archived["callback_status"] == "cancelled" and archived["finished"] is True
    assert archived["crm_note"].endswith("within 24 hours. The callback was cancelled.")
    assert archived["what_happened"][-1] == "9:00 AM callback cancelled by lead-lee"


def test_the_hold_and_its_check_ins_are_in_what_happened__R_NOTE_3(harness):
    caller_sid, agent_sid = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    harness.lead_answers(esc_id)
    harness.lead_presses(esc_id, "2")
    harness.advance(300)
    harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    happened = harness.core.records.history.record(esc_id)["what_happened"]
    for line in (
        "9:00 AM the caller was placed on hold",
        "9:00 AM Lee declined the call",
        "9:02 AM check-in with the caller on hold, 2 min",
        "9:04 AM check-in with the caller on hold, 4 min",
        "9:05 AM the caller reached the hold limit and was offered to keep holding or a callback",
        "9:05 AM the caller hung up",
    ):
        assert line in happened, happened


def test_an_abusive_callers_warnings_are_on_the_record__R_NOTE_3_R_ABUSE_1(harness):
    caller_sid, _ = harness.caller_with_agent()
    for number in (1, 2):
        assert harness.api("POST", f"/api/calls/{caller_sid}/warnings", json={"warning": number}).status_code == 200
        harness.jump(30)
    body = {"action": "transfer", "reason": "swore at the agent", "client": {"name": "Pat Doe", "account": "448812"}}
    esc_id = harness.api("POST", f"/api/calls/{caller_sid}/warnings/action", json=body).json["id"]
    record = harness.api("GET", f"/api/escalations/{esc_id}/record", "manager-max").json
    [protocol] = [line for line in record["what_happened"] if "warning protocol" in line]
    assert "warning 1 at 2026-11-24T15:00:00+00:00 by Avery; warning 2 at 2026-11-24T15:00:30+00:00" in protocol
    assert record["crm_note"].startswith(
        "Pat Doe (account 448812) was abusive: swore at the agent. Warned twice first."
    )


def test_an_early_warning_and_the_managers_email_are_on_the_record__R_NOTE_3_R_NOTE_4(harness):
    caller_sid, _ = harness.caller_with_agent()
    flagged = harness.api("POST", f"/api/calls/{caller_sid}/early-warning", json={"note": "raising their voice"})
    assert flagged.status_code in (200, 201), flagged.json
    esc_id = harness.escalate(caller_sid, kind="formal_complaint").json["id"]
    harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    record = harness.core.records.history.record(esc_id)
    assert record["early_warning"]["by"] == "agent-avery" and record["early_warning"]["note"] == "raising their voice"
    assert "Flagged early by Avery." in record["crm_note"]
    happened = " | ".join(record["what_happened"])
    assert "the call had been flagged as likely to escalate, flagged at" in happened
    text = export(harness, "from=2026-11-24&to=2026-11-24&format=csv").get_data(as_text=True)
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert "by: agent-avery" in row["early_warning"] and "note: raising their voice" in row["early_warning"]


@pytest.mark.parametrize(
    "state, callback_status, final",
    [
        ("resolved", "", True),
        ("abandoned", "", True),
        ("failed", "", True),
        ("connected", "", False),
        ("dialing_lead", "", False),
        ("callback_scheduled", "scheduled", False),
        ("callback_scheduled", "rescheduled", False),
        ("callback_scheduled", "overdue", False),
        ("callback_scheduled", "completed", True),
        ("callback_scheduled", "cancelled", True),
        ("callback_scheduled", "no_answer", True),
    ],
)
def test_which_escalations_are_finished__R_NOTE_3(state, callback_status, final):
    assert finished(state, callback_status) is final


def test_the_export_takes_the_organisations_days_and_includes_live_escalations__R_NOTE_3(harness):
    # Chicago days: 23:30 on the 23rd is 05:30 UTC on the 24th; 23:30 on the 24th is 05:30 on the 25th.
    late_23rd = hung_up_escalation(harness, at=datetime(2026, 11, 24, 5, 30, tzinfo=UTC))
    on_24th = hung_up_escalation(harness, at=datetime(2026, 11, 24, 16, 0, tzinfo=UTC))
    late_24th = hung_up_escalation(harness, at=datetime(2026, 11, 25, 5, 30, tzinfo=UTC))
    harness.clock.set(datetime(2026, 11, 24, 17, 0, tzinfo=UTC))
    caller_sid, _ = harness.caller_with_agent()
    live = harness.escalate(caller_sid).json["id"]

    day = export(harness, "from=2026-11-24&to=2026-11-24").json
    assert day["time_zone"] == "America/Chicago" and (day["from"], day["to"]) == ("2026-11-24", "2026-11-24")
    assert [r["id"] for r in day["records"]] == [on_24th, live, late_24th]
    assert [r["finished"] for r in day["records"]] == [True, False, True], "live ones from their live state"
    both = export(harness, "from=2026-11-23&to=2026-11-24").json["records"]
    assert [r["id"] for r in both] == [late_23rd, on_24th, live, late_24th]
    assert export(harness, "from=2026-11-26&to=2026-12-31").json["records"] == []


def test_csv_export_round_trips_with_a_header_row__R_NOTE_3(harness):
    esc_id = hung_up_escalation(harness, tags=[])
    response = export(harness, "from=2026-11-24&to=2026-11-24&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="escalation-records-2026-11-24-to-2026-11-24.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 1 and tuple(rows[0]) == CSV_COLUMNS
    row, record = rows[0], harness.core.records.history.record(esc_id)
    assert row["id"] == esc_id and row["account"] == "448812" and row["finished"] == "yes"
    assert row["contact_number"] == "'+13125550142", "a leading + is neutralised like any formula start"
    assert row["deescalation_steps"].split("\n") == STEPS
    assert row["what_happened"].split("\n") == record["what_happened"]
    assert row["crm_note"] == record["crm_note"] and row["callback_number"] == ""


def test_csv_cells_that_would_run_as_formulas_are_neutralised__R_NOTE_3(harness):
    evil = {
        "name": '=HYPERLINK("https://evil.example/","click")',
        "account": "448812",
        "contact_name": "@SUM(A1:A9)",
    }
    hung_up_escalation(harness, client=evil, reason="-2+3 cmd|' /C calc'!A0", resolution_offered="+1 credit")
    text = export(harness, "from=2026-11-24&to=2026-11-24&format=csv").get_data(as_text=True)
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["caller_name"] == '\'=HYPERLINK("https://evil.example/","click")'
    assert row["contact_name"] == "'@SUM(A1:A9)"
    assert row["reason"] == "'-2+3 cmd|' /C calc'!A0"
    assert row["resolution_offered"] == "'+1 credit"
    assert not [v for v in row.values() if v[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert [neutralise(c) for c in ("=1", "\t=1", "\r=1", "plain", "")] == ["'=1", "'\t=1", "'\r=1", "plain", ""]


def test_only_leads_and_up_export__R_NOTE_3(harness):
    hung_up_escalation(harness)
    refused = export(harness, "from=2026-11-24&to=2026-11-24", who="agent-avery")
    assert refused.status_code == 403 and refused.json["error"] == "forbidden"
    for who in ("lead-lee", "manager-max"):
        answer = export(harness, "from=2026-11-24&to=2026-11-24&format=csv", who=who)
        assert answer.status_code == 200 and "+13125550142" in answer.get_data(as_text=True), "in full"


@pytest.mark.parametrize(
    "query, status, field",
    [
        ("to=2026-11-24", 400, "from"),
        ("from=2026-11-24", 400, "to"),
        ("from=24/11/2026&to=2026-11-24", 400, "from"),
        ("from=2026-02-30&to=2026-03-01", 400, "from"),
        ("from=2026-11-25&to=2026-11-24", 400, "to"),
        ("from=2025-01-01&to=2026-01-02", 400, "to"),
        ("from=2026-11-24&to=2026-11-24&format=xlsx", 400, "format"),
        ("from=9999-12-31&to=9999-12-31", 400, "to"),
    ],
)
def test_a_bad_export_query_is_a_clear_400__R_NOTE_3(harness, query, status, field):
    response = export(harness, query)
    assert response.status_code == status
    assert response.json["field"] == field and response.json["message"]


def test_a_year_is_the_longest_export__R_NOTE_3(harness):
    assert export(harness, "from=2024-01-01&to=2024-12-31").status_code == 200, "366 days, a leap year"
    assert export(harness, "from=2025-01-01&to=2025-12-31&format=csv").get_data(as_text=True).strip() == ",".join(
        CSV_COLUMNS
    )


def test_deescalation_steps_are_checked_like_every_field__R_NOTE_3(harness):
    caller_sid, _ = harness.caller_with_agent()
    too_many = harness.escalate(caller_sid, deescalation_steps=[f"step {n}" for n in range(11)])
    assert too_many.status_code == 400 and too_many.json["field"] == "deescalation_steps"
    blank = harness.escalate(caller_sid, deescalation_steps=["  "])
    assert blank.status_code == 400 and blank.json["field"] == "deescalation_steps.0"
    ok = harness.escalate(caller_sid, deescalation_steps=STEPS)
    assert ok.status_code == 201 and ok.json["deescalation_steps"] == STEPS


def test_records_retention_days_is_a_setting__R_NOTE_3(redis_conn, twilio_rest):
    env = {
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": "x" * 32,
        "TWILIO_CALLER_ID": "+13125550100",
        "PUBLIC_BASE_URL": "https://esc.example.test",
        "API_TOKENS": "tok-lead-lee-0000000000:lead-lee:lead",
    }
    assert Settings.from_env(env).records_retention_days == 400
    assert Settings.from_env({**env, "RECORDS_RETENTION_DAYS": "30"}).records_retention_days == 30
    with pytest.raises(ConfigError, match="RECORDS_RETENTION_DAYS"):
        Settings.from_env({**env, "RECORDS_RETENTION_DAYS": "forever"})
    short = Harness(redis_conn, twilio_rest, records_retention_days=30)
    esc_id = hung_up_escalation(short)
    history = short.core.records.history
    assert history.record(esc_id) is not None
    short.clock.advance(29 * 86400)
    assert short.core.records.prune() == 0, "kept 30 days after it was written"
    short.clock.advance(86400 + 1)
    assert short.core.records.prune() == 1 and history.record(esc_id) is None, "then deleted from the database"


# -- after real calls through the simulator: seed 004's SharePoint escalation, seed 001's form ----------


def record_after(sim, esc_id: str, reader: str) -> dict:
    """GET /api/escalations/<id>/record on the simulated service, as this person of its policy."""
    person = sim.core.policy.person(reader)
    token = ApiToken(f"sim-token-{reader}", reader, person.role)
    app = create_app(replace(sim.settings, api_tokens={token.token: token}), core=sim.core)
    response = app.test_client().get(
        f"/api/escalations/{esc_id}/record", headers={"Authorization": f"Bearer {token.token}"}
    )
    assert response.status_code == 200, response.json
    return response.json


def with_form(scenario, **fields) -> None:
    """The agent fills in the escalation form's extra fields when pressing escalate."""
    agent = next(p for p in scenario.people if any(s.do == "escalate" for s in p.steps))
    step = next(s for s in agent.steps if s.do == "escalate")
    client = {**step.body["client"], **fields.pop("client", {})}
    step.body = {**step.body, **fields, "client": client}


def test_seed_004_sharepoint_escalation_after_a_callback_through_the_simulator__R_NOTE_3(tmp_path, redis_server):
    policy = policy_of("seed-004-regional-utility.toml")
    scenario = SCENARIOS["callback"](policy)
    with_form(scenario, client={"contact_name": "Pat Doe"}, deescalation_steps=["reviewed the equipment charges"])
    sim = played(scenario, policy, tmp_path, redis_server)
    [esc] = sim.escalations()
    record = record_after(sim, esc["id"], "lead-east")
    # "Who called? Account number and good contact number ... the name of the caller, their call
    # back number and their preferred time frame to receive a call back."
    assert (record["caller_name"], record["contact_name"], record["account"]) == ("Pat Doe", "Pat Doe", "448812")
    assert record["contact_number"] == "+13125550142" and record["callback_number"] == "+13125550142"
    assert record["callback_time_frame"] == "today between 11 AM and 1 PM (Tue 24 Nov 2026, 11:00 AM to 1:00 PM CST)"
    assert record["callback_status"] == "completed" and record["finished"] is True
    assert record["reason"] == "billed twice for equipment and wants a manager"
    assert record["deescalation_steps"] == ["reviewed the equipment charges"]
    assert record["resolution_offered"] == "a credit on the next bill"
    happened = "\n".join(record["what_happened"])
    for line in (
        "10:00 AM East Lead (lead) was rung",
        "10:00 AM East Lead did not answer",
        "10:00 AM East Supervisor (supervisor) was rung",
        "10:01 AM nobody in the tiers answered or accepted; the caller was offered a callback",
        "10:02 AM callback booked: +13125550142, today between 11 AM and 1 PM",
        "11:00 AM callback: East Lead was rung first",
        "11:00 AM callback: the caller reached at +13125550142",
    ):
        assert line in happened, happened
    assert record["crm_note"] == (
        "Pat Doe (account 448812) asked to speak to a manager: billed twice for equipment and wants a manager. "
        "Tried first: reviewed the equipment charges. Offered a credit on the next bill. "
        "No lead or supervisor was free to take the call. Posted to residential-management. "
        "Advised Pat Doe they will receive a callback today between 11 AM and 1 PM (Tue 24 Nov), within 24 hours. "
        "Called back Tue 24 Nov 11:00 AM by East Lead."
    )
    assert sim.core.records.history.record(esc["id"]) == record, "archived once the callback was made"


def test_seed_001_escalation_form_after_a_routed_case_through_the_simulator__R_NOTE_3(tmp_path, redis_server):
    policy = policy_of("seed-001-tech-support.toml")
    scenario = routed(policy, "manager_request", tags=["aging_cms"])
    with_form(
        scenario,
        client={"name": "City of Prescott Valley", "contact_name": "Casey Danner"},
        reason="site editor keeps losing changes; reconsidering the relationship",
        deescalation_steps=["empathised", "offered to look into it and call back"],
    )
    sim = played(scenario, policy, tmp_path, redis_server)
    [esc] = sim.escalations()
    record = record_after(sim, esc["id"], "manager-1")
    assert (record["caller_name"], record["contact_name"]) == ("City of Prescott Valley", "Casey Danner")
    assert record["state"] == "resolved" and record["taken_by"] == "Technical Support Manager"
    assert (record["case_department"], record["case_owner"], record["case_status"]) == (
        "Client Success",
        "manager-2",
        "assigned",
    ), "assigned to the manager with its department, as step 5 of the form says"
    assert record["tags"] == ["aging_cms"] and record["callback_number"] is None
    happened = "\n".join(record["what_happened"])
    assert "Technical Support Manager (manager) was rung" in happened
    assert "Technical Support Manager accepted the call" in happened
    assert "the caller was put through to Technical Support Manager, by agent-1" in happened
    assert "case routed: " in happened
    assert record["crm_note"] == (
        "Casey Danner (account 448812) asked to speak to a manager: site editor keeps losing changes; reconsidering "
        "the relationship. Tried first: empathised; offered to look into it and call back. Offered a credit on the "
        "next bill. Posted to ts-escalations. Put through to Technical Support Manager (manager)."
    )
    drop_live_keys(sim.conn)
    token = ApiToken("sim-token-manager-1", "manager-1", "manager")
    _, body, _ = sim.core.records.export(token, {"from": "2026-11-24", "to": "2026-11-24", "format": "csv"})
    [row] = list(csv.DictReader(io.StringIO("".join(body))))
    assert (row["contact_name"], row["case_department"], row["crm_note"]) == (
        "Casey Danner",
        "Client Success",
        record["crm_note"],
    ), "the form is in the export from the archive alone"


def test_make_demo_prints_the_crm_note__R_NOTE_3(capsys, redis_server):
    assert demo(["--fast", "--exit-after-scenario", "--port", "0"]) == 0
    out = capsys.readouterr().out
    assert (
        "/record): Pat Doe (account 448812) asked to speak to a manager: billed twice for equipment and wants a "
        "manager. Offered a credit on the next bill. Posted to cr-esc. Put through to Morgan (lead).\n" in out
    )
