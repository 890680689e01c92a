"""Seed 004 (a regional provider's escalation process) as Prairie Line Communications,
policies/seed-004-regional-utility.toml, played through the simulator: "May I place you on hold
while I locate a Lead?", a warm transfer to a lead of the caller's region ("I have an escalation in
transfer"), never a cold one; a caller who demands a supervisor is never forced on a lead; a
supervisor calls back within 24 hours."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.policies.seeds import CALLER_NAME, SCENARIOS, after_hours, played, policy_of, routed

POLICY = policy_of("seed-004-regional-utility.toml")
FIRST = {
    ("manager_request", "east"): "lead-east",
    ("manager_request", "west"): "lead-west",
    ("no_authority", "west"): "lead-west",
    ("supervisor_demanded", "east"): "supervisor-east",
    ("supervisor_demanded", "west"): "supervisor-west",
    ("formal_complaint", "east"): "manager-1",
    ("abusive", "west"): "manager-1",
}


@pytest.mark.parametrize("kind, region", sorted(FIRST))
def test_every_kind_reaches_the_callers_region__R_ESC_1_R_ESC_2_R_ESC_3_R_ESC_4_R_ESC_5_R_ESC_6(
    kind, region, tmp_path, redis_server
):
    sim = played(routed(POLICY, kind, region=region), POLICY, tmp_path, redis_server)
    [esc] = sim.escalations()
    assert esc["assignee"] == FIRST[(kind, region)]
    if kind == "supervisor_demanded":
        assert sim.transcript.first("East Lead", "rings") is None and sim.transcript.first("West Lead", "rings") is None


def test_the_lead_hears_it_is_an_escalation_before_anything_else__R_WARM_1_R_WARM_2(tmp_path, redis_server):
    sim = played(routed(POLICY, "manager_request", region="east"), POLICY, tmp_path, redis_server)
    t = sim.transcript
    heard = t.heard("East Lead")
    assert heard[0] == "I have an escalation in transfer."
    assert "Account 4 4 8 8 1 2." in heard and "Resolution already offered: a credit on the next bill." in heard
    assert t.first("East Lead", "say", "I have an escalation").at < t.first(CALLER_NAME, "hears", "East Lead").at
    assert t.heard(CALLER_NAME)[0] == "Thank you for calling Prairie Line Communications."
    note = next(n for n in sim.core.ctx.store.notifications() if n.get("escalation"))
    assert note["to"] == "residential-management" and note["tag"] == "@leads"


def test_holding_while_the_lead_is_located__R_HOLD_2_R_HOLD_3(tmp_path, redis_server):
    sim = played(SCENARIOS["hold-limit"](POLICY), POLICY, tmp_path, redis_server)
    heard = sim.transcript.heard(CALLER_NAME)
    assert "Thank you for your patience. I am locating a lead for you now. Please stay on hold." in heard


def test_a_supervisor_calls_back_within_24_hours__R_CB_1_R_CB_4_R_CB_7(tmp_path, redis_server):
    sim = played(SCENARIOS["callback"](POLICY), POLICY, tmp_path, redis_server)
    [callback] = sim.callbacks()
    assert callback["status"] == "completed"
    esc = sim.escalations()[0]
    asked = datetime.fromisoformat(next(e["at"] for e in esc["timeline"] if e["event"] == "callback_scheduled"))
    assert datetime.fromisoformat(callback["deadline"]) == asked + timedelta(hours=24)
    assert any("it can take up to 24 hours" in h for h in sim.transcript.heard(CALLER_NAME))


def test_after_hours_the_on_call_lead_then_a_callback__R_HOURS_1_R_CB_3(tmp_path, redis_server):
    scenario, _ = after_hours(POLICY)
    sim = played(scenario, POLICY, tmp_path, redis_server)
    rung = {e.who for e in sim.transcript.entries if e.kind == "rings"} - {"Agent Rep East"}
    assert rung <= {"East Lead", "Residential Manager"}
