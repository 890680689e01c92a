"""Seed 000 (a web agency's escalation protocol) as Brightpath Web Studio,
policies/seed-000-web-agency.toml, played through the simulator: the team lead takes escalations
and listens in or coaches (R-WARM-7), the client is prepped for a brief hold (R-WARM-6), office
hours 8:00-17:00 Central, the team lead's chat is told of every escalation (R-NOTE-1)."""

from __future__ import annotations

import pytest

from tests.policies.seeds import CALLER_NAME, SCENARIOS, after_hours, played, policy_of, routed

POLICY = policy_of("seed-000-web-agency.toml")
FIRST = {
    "manager_request": "lead-1",
    "supervisor_demanded": "manager-1",
    "formal_complaint": "manager-1",
    "abusive": "manager-1",
    "no_authority": "lead-1",
}


@pytest.mark.parametrize("kind", sorted(FIRST))
def test_every_kind_reaches_the_tier_this_policy_names__R_ESC_1_R_ESC_2_R_ESC_3_R_ESC_4_R_ESC_5(
    kind, tmp_path, redis_server
):
    sim = played(routed(POLICY, kind), POLICY, tmp_path, redis_server)
    [esc] = sim.escalations()
    assert esc["kind"] == kind and esc["assignee"] == FIRST[kind]


def test_brightpaths_words_and_the_team_lead_chat__R_HOLD_1_R_NOTE_1(tmp_path, redis_server):
    sim = played(routed(POLICY, "manager_request"), POLICY, tmp_path, redis_server)
    heard = sim.transcript.heard(CALLER_NAME)
    assert heard[0] == "Thank you for calling Brightpath Web Studio, website support for medical practices."
    assert heard[1] == "Please enter your Web ID, then press pound."
    assert any("I know it is busy at your practice. I am getting a lead on the call" in h for h in heard)
    [note] = [n for n in sim.core.ctx.store.notifications() if n.get("escalation")][:1]
    assert note["to"] == "tl-chat" and note["tag"] == "@team-leads" and "Pat Doe" in note["text"]


def test_the_team_lead_listens_in_then_coaches_and_the_client_never_hears__R_WARM_7(tmp_path, redis_server):
    scenario = SCENARIOS["listen-in"](POLICY)
    sim = played(scenario, POLICY, tmp_path, redis_server)
    assert scenario.roles["listener"] == "Team Lead"
    assert {e.text for e in sim.transcript.of(CALLER_NAME, "hears")} == {scenario.roles["agent"]}


def test_a_brief_hold_with_check_ins_then_the_way_out__R_HOLD_2_R_HOLD_3(tmp_path, redis_server):
    sim = played(SCENARIOS["hold-limit"](POLICY), POLICY, tmp_path, redis_server)
    check_ins = [h for h in sim.transcript.heard(CALLER_NAME) if h.startswith("Thank you for holding. We have not")]
    assert check_ins and all("your lead will be with you shortly" in h for h in check_ins)
    assert sim.callbacks(), "the client asked for a callback at the limit"


def test_the_callback_rings_the_team_lead_first__R_CB_1_R_CB_4(tmp_path, redis_server):
    sim = played(SCENARIOS["callback"](POLICY), POLICY, tmp_path, redis_server)
    [callback] = sim.callbacks()
    assert callback["status"] == "completed"
    assert "Hello, this is Brightpath Web Studio returning your call. Connecting you now." in sim.transcript.heard(
        CALLER_NAME
    )


def test_after_office_hours_the_on_call_people_then_a_callback_next_business_day__R_HOURS_1_R_CB_3(
    tmp_path, redis_server
):
    scenario, _ = after_hours(POLICY)
    sim = played(scenario, POLICY, tmp_path, redis_server)
    assert sim.callbacks()[0]["window_start"].startswith("2026-11-25T14:00"), "8:00 Central the next morning"
