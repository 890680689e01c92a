"""Seed 003 (a call centre's guide to escalating calls) as Summit Contact Center,
policies/seed-003-call-center.toml, played through the simulator: management (a senior person,
then a manager) takes escalations; the caller is given options, a manager now or a call later at
their convenience, and is not left on hold too long; an abusive caller is warned, warned again
with the repercussion, then disconnected (or transferred), and the manager is told (R-ABUSE-1)."""

from __future__ import annotations

import pytest

from tests.policies.seeds import CALLER_NAME, SCENARIOS, after_hours, played, policy_of, routed

POLICY = policy_of("seed-003-call-center.toml")
FIRST = {
    "manager_request": "supervisor-1",
    "supervisor_demanded": "supervisor-1",
    "formal_complaint": "manager-1",
    "abusive": "manager-1",
    "no_authority": "supervisor-1",
}


@pytest.mark.parametrize("kind", sorted(FIRST))
def test_every_kind_goes_to_a_senior_person_or_a_manager__R_ESC_1_R_ESC_2_R_ESC_3_R_ESC_4_R_ESC_5(
    kind, tmp_path, redis_server
):
    sim = played(routed(POLICY, kind), POLICY, tmp_path, redis_server)
    [esc] = sim.escalations()
    assert esc["assignee"] == FIRST[kind]
    role = POLICY.person(FIRST[kind]).role
    assert any(f"it is best for you to speak to a {role}" in h for h in sim.transcript.heard(CALLER_NAME)), (
        "the benefit of passing the caller on, naming who they will reach"
    )


def test_warning_warning_with_the_repercussion_then_disconnect__R_ABUSE_1(tmp_path, redis_server):
    sim = played(SCENARIOS["abusive"](POLICY), POLICY, tmp_path, redis_server)
    t = sim.transcript
    warned = [e for e in t.of("Agent Rep", "says")]
    assert [e.text for e in warned] == [
        "Please refrain from using that kind of language. It is not called for and I am trying to help you.",
        "I want to help you with this, but if you persist in speaking to me that way, I will have no choice but "
        "to transfer you to a manager or to hang up.",
    ]
    last_words = t.first(CALLER_NAME, "say", "As I said, I am ending this call now. Goodbye.")
    ended = t.first(CALLER_NAME, "hangs up")
    assert warned[1].at < last_words.at <= ended.at and ended.text == "the service hangs up"
    told = [n for n in sim.core.ctx.store.notifications() if n.get("to") == "managers"]
    assert told and "after two warnings" in told[0]["text"], "the manager is informed of the disconnect"
    assert sim.escalations() == []


def test_a_formal_complaint_reaches_the_manager__R_ESC_3(tmp_path, redis_server):
    sim = played(SCENARIOS["formal-complaint"](POLICY), POLICY, tmp_path, redis_server)
    assert sim.escalations()[0]["assignee"] == "manager-1"
    assert sim.transcript.first("Senior Rep", "rings") is None


def test_not_on_hold_for_too_long__R_HOLD_2_R_HOLD_3(tmp_path, redis_server):
    sim = played(SCENARIOS["hold-limit"](POLICY), POLICY, tmp_path, redis_server)
    heard = sim.transcript.heard(CALLER_NAME)
    assert any(h.startswith("We do not want to keep you on hold for too long.") for h in heard)
    assert sum(h.startswith("Thank you for holding. Your call matters to us") for h in heard) == 2


def test_contact_later_at_the_callers_convenience__R_CB_1_R_CB_2(tmp_path, redis_server):
    sim = played(SCENARIOS["callback"](POLICY), POLICY, tmp_path, redis_server)
    assert sim.callbacks()[0]["status"] == "completed"
    assert any("contact you later at your convenience" in h for h in sim.transcript.heard(CALLER_NAME))


def test_after_hours_the_on_call_people_then_a_callback__R_HOURS_1_R_CB_3(tmp_path, redis_server):
    scenario, _ = after_hours(POLICY)
    sim = played(scenario, POLICY, tmp_path, redis_server)
    note = next(n for n in sim.core.ctx.store.notifications() if n.get("escalation"))
    assert note["to"] == "management-escalations" and note["tag"] == "@managers"
