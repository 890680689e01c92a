"""Who takes which kind of escalation (R-ESC-1, R-ESC-5) and where the case goes after it
(R-ESC-8): told through the API and what Twilio was asked to ring."""

from __future__ import annotations

from telephony.config import ApiToken
from tests.support import ROOT, Harness

SEED_001 = ROOT / "policies" / "seed-001-tech-support.toml"
SEED_001_TOKENS = {
    "agent-avery": ApiToken("tok-seed1-agent-000000", "agent-1", "agent"),
    "ts-manager": ApiToken("tok-seed1-ts-manager-00", "manager-1", "manager"),
    "cs-manager": ApiToken("tok-seed1-cs-manager-00", "manager-2", "manager"),
    "pm-launch": ApiToken("tok-seed1-pm-launch-000", "pm-launch", "manager"),
}


def rung(harness) -> list[str]:
    return [r.param("To") for r in harness.rest.requests("CreateCall")]


def declines(harness, esc_id: str) -> None:
    harness.lead_answers(esc_id)
    harness.lead_presses(esc_id, "2")


def test_manager_request_goes_to_the_lead_tier_first__R_ESC_1(harness):
    """The caller asks for a manager: a lead is rung first, then the next lead, and only when
    the lead tier is exhausted a supervisor (default policy: lead, supervisor)."""
    caller_sid, _ = harness.caller_with_agent()
    esc = harness.escalate(caller_sid, kind="manager_request").json
    assert esc["tier"] == "lead" and rung(harness) == ["+13125550111"], "Lead Lee first"
    declines(harness, esc["id"])
    assert rung(harness)[-1] == "sip:morgan@leads.example.com", "then the next lead"
    declines(harness, esc["id"])
    assert rung(harness)[-1] == "+13125550121", "then the supervisor tier"
    view = harness.escalation(esc["id"])
    assert view["tier"] == "supervisor"
    assert [e["detail"] for e in view["timeline"] if e["event"] == "next_tier"] == ["supervisor"]


def test_no_authority_climbs_lead_supervisor_manager__R_ESC_5(harness):
    """The agent has no authority for the request: the policy's tiers for no_authority, in order
    (default: lead, supervisor, manager)."""
    caller_sid, _ = harness.caller_with_agent()
    esc = harness.escalate(caller_sid, kind="no_authority", reason="refund above my limit").json
    assert esc["kind"] == "no_authority" and esc["tier"] == "lead"
    for _ in range(3):
        declines(harness, esc["id"])
    assert rung(harness) == ["+13125550111", "sip:morgan@leads.example.com", "+13125550121", "+13125550131"]
    assert harness.escalation(esc["id"])["tier"] == "manager"


def test_no_authority_skips_tiers_the_policy_does_not_name__R_ESC_5(redis_conn, twilio_rest):
    """Seed 003: the rep with no authority goes to a senior person (supervisor), never a lead."""
    tokens = {"agent-avery": ApiToken("tok-seed3-agent-000000", "agent-1", "agent")}
    harness = Harness(
        redis_conn, twilio_rest, policy_file=ROOT / "policies" / "seed-003-call-center.toml", tokens=tokens
    )
    caller_sid, _ = harness.caller_with_agent()
    esc = harness.escalate(caller_sid, kind="no_authority").json
    assert esc["tier"] == "supervisor" and rung(harness) == ["+13125550121"]


def seed_001(redis_conn, twilio_rest) -> Harness:
    return Harness(redis_conn, twilio_rest, policy_file=SEED_001, tokens=SEED_001_TOKENS)


def test_tags_route_the_case_to_a_department_and_an_owner__R_ESC_8(redis_conn, twilio_rest):
    """Seed 001: the case starts with the technical support manager, status escalated; the tag
    aging_cms sends it to Client Success, assigned, and the API shows it."""
    harness = seed_001(redis_conn, twilio_rest)
    caller_sid, _ = harness.caller_with_agent()
    response = harness.escalate(caller_sid, tags=["aging_cms", "billing"])
    assert response.status_code == 201, response.json
    esc_id = response.json["id"]
    view = harness.api("GET", f"/api/escalations/{esc_id}", who="ts-manager").json
    assert view["tags"] == ["aging_cms", "billing"]
    assert view["case"] == {"department": "Client Success", "owner": "manager-2", "status": "assigned"}
    events = {e["event"]: e["detail"] for e in view["timeline"]}
    assert events["case_opened"] == "Technical Support, Technical Support Manager, escalated"
    assert events["case_routed"] == "aging_cms: to Client Success, Client Success Manager, assigned"


def test_each_rule_of_seed_001_and_no_tag_at_all__R_ESC_8(redis_conn, twilio_rest):
    expected = {
        "premium_dr": ("Client Success", "manager-2"),
        "live_video": ("Client Success", "manager-2"),
        "recent_launch": ("Project Management", "pm-launch"),
        "post_launch": ("Project Management", "pm-post-launch"),
        None: ("Technical Support", "manager-1"),
    }
    for tag, (department, owner) in expected.items():
        redis_conn.flushall()
        harness = seed_001(redis_conn, twilio_rest)
        caller_sid, _ = harness.caller_with_agent()
        case = harness.escalate(caller_sid, tags=[tag] if tag else []).json["case"]
        assert (case["department"], case["owner"]) == (department, owner), tag
        assert case["status"] == ("assigned" if tag else "escalated")


def test_the_owner_moves_the_case_and_others_may_not__R_ESC_8(redis_conn, twilio_rest):
    harness = seed_001(redis_conn, twilio_rest)
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid, tags=["recent_launch"]).json["id"]
    path = f"/api/escalations/{esc_id}/case"

    refused = harness.api("POST", path, who="agent-avery", json={"status": "resolved"})
    assert refused.status_code == 403 and refused.json["error"] == "not_case_owner"
    assert "Launch Project Manager" in refused.json["message"]

    done = harness.api("POST", path, who="pm-launch", json={"status": "resolved", "note": "QA fixed"})
    assert done.status_code == 200, done.json
    assert done.json["case"] == {"department": "Project Management", "owner": "pm-launch", "status": "resolved"}
    moved = [e for e in done.json["timeline"] if e["event"] == "case_moved"]
    assert moved and moved[0]["detail"].startswith("assigned -> resolved") and moved[0]["detail"].endswith("QA fixed")

    again = harness.api("POST", path, who="pm-launch", json={"status": "resolved"})
    assert again.status_code == 409 and again.json["error"] == "case_unchanged"
    reopened = harness.api(
        "POST",
        path,
        who="ts-manager",
        json={"status": "escalated", "owner": "manager-1", "department": "Technical Support"},
    )
    assert reopened.status_code == 200 and reopened.json["case"]["owner"] == "manager-1", "a manager may move any case"
    bad = harness.api("POST", path, who="ts-manager", json={"status": "closed"})
    assert bad.status_code == 400 and bad.json["field"] == "status"
    nobody = harness.api("POST", path, who="ts-manager", json={"status": "assigned", "owner": "someone"})
    assert nobody.status_code == 400 and nobody.json["field"] == "owner"


def test_tags_are_validated_before_anything_happens_to_the_call__R_ESC_8(redis_conn, twilio_rest):
    harness = seed_001(redis_conn, twilio_rest)
    caller_sid, _ = harness.caller_with_agent()
    misspelt = harness.escalate(caller_sid, tags=["billing", "aging_cm"])
    assert misspelt.status_code == 400 and misspelt.json["field"] == "tags.1"
    assert "did you mean 'aging_cms'?" in misspelt.json["message"]
    for tags, field in ((["Aging CMS"], "tags.0"), ("aging_cms", "tags"), ([1], "tags.0"), (["x"] * 21, "tags")):
        response = harness.escalate(caller_sid, tags=tags)
        assert response.status_code == 400 and response.json["field"] == field, (tags, response.json)
    assert harness.rest.requests("UpdateParticipant") == [], "a refused escalation never holds the caller"


def test_without_case_routing_there_is_no_case__R_ESC_8(harness):
    caller_sid, _ = harness.caller_with_agent()
    esc = harness.escalate(caller_sid, tags=["anything_goes"]).json
    assert esc["case"] is None and esc["tags"] == ["anything_goes"]
    refused = harness.api("POST", f"/api/escalations/{esc['id']}/case", who="manager-max", json={"status": "resolved"})
    assert refused.status_code == 409 and refused.json["error"] == "no_case"
