"""Seed 002 (a customer loyalty group's escalated-client SOP) as Evergreen Member Care,
policies/seed-002-customer-loyalty.toml, played through the simulator: warm transfer to the
escalations lead of the client's line (AM or COA), a check-in every 2 minutes and at most 5 on
hold, a callback in a 2-hour window, formal complaints and abusive callers to managers only,
never a hang-up (R-ESC-4, R-ABUSE-1), the CR Esc channel tagged per line (R-NOTE-1)."""

from __future__ import annotations

import pytest

from tests.policies.seeds import CALLER_NAME, SCENARIOS, after_hours, played, policy_of, routed

POLICY = policy_of("seed-002-customer-loyalty.toml")
FIRST = {
    ("manager_request", "AM"): "lead-am",
    ("manager_request", "COA"): "lead-coa",
    ("no_authority", "AM"): "lead-am",
    ("no_authority", "COA"): "lead-coa",
    ("supervisor_demanded", "AM"): "manager-am",
    ("supervisor_demanded", "COA"): "manager-coa",
    ("formal_complaint", "COA"): "manager-coa",
    ("abusive", "AM"): "manager-am",
}


@pytest.mark.parametrize("kind, segment", sorted(FIRST))
def test_every_kind_reaches_the_line_of_the_client__R_ESC_1_R_ESC_2_R_ESC_3_R_ESC_4_R_ESC_5_R_ESC_6(
    kind, segment, tmp_path, redis_server
):
    sim = played(routed(POLICY, kind, segment=segment), POLICY, tmp_path, redis_server)
    [esc] = sim.escalations()
    assert esc["assignee"] == FIRST[(kind, segment)]
    note = next(n for n in sim.core.ctx.store.notifications() if n.get("escalation"))
    assert note["to"] == "cr-esc-pks"
    assert note["tag"] == {"AM": "@am-escalations-managers", "COA": "@coa-escalations-managers"}[segment]


def test_a_formal_complaint_goes_to_managers_not_the_escalations_team__R_ESC_3(tmp_path, redis_server):
    sim = played(SCENARIOS["formal-complaint"](POLICY), POLICY, tmp_path, redis_server)
    t = sim.transcript
    assert t.first("AM Escalations Lead", "rings") is None and t.first("COA Escalations Lead", "rings") is None
    assert sim.escalations()[0]["tier"] == "manager"


def test_an_abusive_client_is_warned_twice_then_transferred_never_hung_up_on__R_ABUSE_1_R_ESC_4(tmp_path, redis_server):
    sim = played(SCENARIOS["abusive"](POLICY), POLICY, tmp_path, redis_server)
    t = sim.transcript
    said = [e.text for e in t.of("Agent", "says")]
    assert said == [POLICY.warnings.first, POLICY.warnings.second]
    refused = t.first("Agent", "softphone", "act_on_warnings: 403")
    assert refused is not None and "never hangs up" in refused.text
    assert t.first(CALLER_NAME, "hangs up", "the service hangs up") is None
    [esc] = sim.escalations()
    assert esc["kind"] == "abusive" and esc["tier"] == "manager"
    steps = next(e["detail"] for e in esc["timeline"] if e["event"] == "warning_protocol")
    assert "warning 1 at" in steps and "warning 2 at" in steps and steps.endswith("transfer")


def test_check_in_every_2_minutes_at_most_5_on_hold__R_HOLD_2_R_HOLD_3_R_HOLD_4(tmp_path, redis_server):
    sim = played(SCENARIOS["hold-limit"](POLICY), POLICY, tmp_path, redis_server)
    t = sim.transcript
    held = next(e for e in t.of(CALLER_NAME, "say") if e.text.startswith("Thank you for your patience."))
    check_ins = [e for e in t.of(CALLER_NAME, "say") if e.text.startswith("Thank you for holding. I am still here")]
    assert [round(e.at - held.at) for e in check_ins] == [120, 240]
    offer = t.first(CALLER_NAME, "say", "You have been holding for five minutes.")
    assert round(offer.at - held.at) in range(300, 303)


def test_a_callback_in_a_two_hour_window__R_CB_1_R_CB_2_R_CB_4(tmp_path, redis_server):
    sim = played(SCENARIOS["callback"](POLICY), POLICY, tmp_path, redis_server)
    [callback] = sim.callbacks()
    assert callback["status"] == "completed"
    assert any("a two-hour window of your choice" in h for h in sim.transcript.heard(CALLER_NAME))


def test_after_cr_hours_a_callback_the_next_business_day__R_HOURS_1_R_CB_3(tmp_path, redis_server):
    scenario, _ = after_hours(POLICY)
    sim = played(scenario, POLICY, tmp_path, redis_server)
    rung = {e.who for e in sim.transcript.entries if e.kind == "rings"} - {"Agent"}
    assert rung == {"AM Escalations Lead", "AM Manager"}, "after hours, the people on call"


def test_formal_complaints_and_abusive_callers_callbacks_email_the_managers_urgently__R_NOTE_2(tmp_path, redis_server):
    """Seed 002: "Send an email to the Manager with the subject line the client's name with a note
    of formal complaint" and, for an abusive caller's callback, the client's name with "Excessively
    Escalated Client Call Back"; "Mark the email as urgent"."""
    managers = ["manager-am@evergreen.example.org", "manager-coa@evergreen.example.org"]
    sim = played(SCENARIOS["formal-complaint"](POLICY), POLICY, tmp_path / "complaint", redis_server)
    [mail] = sim.emails()
    assert mail.message["Subject"] == "Pat Doe - Formal Complaint" and sorted(mail.rcpt_tos) == managers
    assert mail.message["Importance"] == "High" and "Client page: https://crm.example.com/clients/" in (
        mail.message.get_body(("plain",)).get_content()
    )

    sim = played(SCENARIOS["callback"](POLICY, kind="abusive"), POLICY, tmp_path / "abusive", redis_server)
    [mail] = sim.emails()
    assert mail.message["Subject"] == "Pat Doe - Excessively Escalated Client Call Back"
    assert sorted(mail.rcpt_tos) == managers and mail.message["X-Priority"].startswith("1")
    text = mail.message.get_body(("plain",)).get_content()
    assert "Callback number: +1" in text and "Callback window: " in text
    [esc] = sim.escalations()
    assert [e["event"] for e in esc["timeline"]].count("email_sent") == 1
