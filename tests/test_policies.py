"""Each organisation's procedure is a policy file; each one shipped runs a warm transfer, and a
bad one is refused at start-up with the file, the key and the reason."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from telephony.config import ApiToken
from telephony.policy import PolicyError, load_policy, parse_policy
from tests.support import ROOT, Harness

POLICIES = sorted((ROOT / "policies").glob("*.toml"))


@pytest.mark.parametrize("policy_file", POLICIES, ids=lambda p: p.stem)
def test_every_shipped_policy_runs_a_warm_transfer__R_ESC_6_R_WARM_4(redis_conn, twilio_rest, policy_file):
    policy = load_policy(policy_file)
    agent = policy.agents()[0]
    tokens = {"agent-avery": ApiToken("tok-policy-agent-00000", agent.id, "agent")}
    harness = Harness(redis_conn, twilio_rest, policy_file=policy_file, tokens=tokens)
    caller_sid, _ = harness.caller_with_agent()
    assert harness.rest.requests("CreateParticipant")[0].param("To") == agent.endpoint
    client = {"segment": "AM", "region": "east"}
    response = harness.escalate(caller_sid, client={"name": "Pat Doe", "account": "448812", **client})
    assert response.status_code == 201, response.json
    first_tier = policy.kinds["manager_request"].tiers[0]
    expected = policy.tier_people("manager_request", first_tier, "AM", "east")[0]
    assert harness.rest.requests("CreateCall")[0].param("To") == expected.endpoint
    esc_id = response.json["id"]
    harness.lead_accepts_and_joins(esc_id)
    assert harness.api("POST", f"/api/escalations/{esc_id}/connect", json={}).json["state"] == "connected"


@pytest.mark.parametrize("policy_file", POLICIES, ids=lambda p: p.stem)
def test_formal_complaints_and_abusive_callers_reach_managers_only__R_ESC_3_R_ESC_4(
    redis_conn, twilio_rest, policy_file
):
    policy = load_policy(policy_file)
    managers = {p.endpoint for p in policy.people if p.role == "manager"}
    for kind in ("formal_complaint", "abusive"):
        redis_conn.flushall()
        agent = policy.agents()[0]
        tokens = {"agent-avery": ApiToken("tok-policy-agent-00000", agent.id, "agent")}
        harness = Harness(redis_conn, twilio_rest, policy_file=policy_file, tokens=tokens)
        caller_sid, _ = harness.caller_with_agent()
        before = len(harness.rest.requests("CreateCall"))
        assert (
            harness.escalate(
                caller_sid, kind=kind, client={"name": "Pat Doe", "segment": "AM", "region": "east"}
            ).status_code
            == 201
        )
        rung = [r.param("To") for r in harness.rest.requests("CreateCall")[before:]]
        assert rung and set(rung) <= managers


def test_supervisor_demanded_never_rings_a_lead__R_ESC_2(harness):
    caller_sid, _ = harness.caller_with_agent()
    harness.escalate(caller_sid, kind="supervisor_demanded")
    assert [r.param("To") for r in harness.rest.requests("CreateCall")] == ["+13125550121"]


def test_routing_by_segment_and_region__R_ESC_6(redis_conn, twilio_rest):
    policy_file = ROOT / "policies" / "seed-002-customer-loyalty.toml"
    tokens = {"agent-avery": ApiToken("tok-policy-agent-00000", "agent-1", "agent")}
    harness = Harness(redis_conn, twilio_rest, policy_file=policy_file, tokens=tokens)
    caller_sid, _ = harness.caller_with_agent()
    harness.escalate(caller_sid, client={"name": "Pat Doe", "segment": "COA"})
    assert harness.rest.requests("CreateCall")[0].param("To") == "+13125550112", "the COA line's lead"


def _policy(**changes):
    data = load_policy(ROOT / "policies" / "default.toml").raw
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for path, value in changes.items():
        table, key = path.split("__")
        data[table] = {**data[table], key: value}
    return data


def test_bad_policies_name_the_file_key_and_reason():
    cases = {
        "kinds.formal_complaint.tiers": {
            "kinds": {**_policy()["kinds"], "formal_complaint": {"tiers": ["lead", "manager"]}}
        },
        "organisation.time_zone": _policy(organisation__time_zone="Mars/Olympus"),
        "hold.check_in_seconds": _policy(hold__check_in_seconds=400),
        "callbacks.deadline": _policy(callbacks__deadline="whenever"),
    }
    for key, data in cases.items():
        base = _policy()
        base.update(data)
        with pytest.raises(PolicyError) as err:
            parse_policy(base, "policies/broken.toml")
        assert err.value.key == key and err.value.file == "policies/broken.toml", (key, str(err.value))
        assert err.value.reason
    people = _policy()
    people["people"] = [dict(p) for p in people["people"]]
    people["people"][2]["endpoint"] = "not-a-number"
    with pytest.raises(PolicyError) as err:
        parse_policy(people, "p.toml")
    assert err.value.key == "people[2].endpoint"


def test_bad_setting_stops_start_up_with_one_line():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "API_TOKENS", "PUBLIC_BASE_URL"))}
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["cannot start: TWILIO_ACCOUNT_SID is not set (see .env.example)"]


def test_a_misspelt_key_is_refused_with_the_closest_known_one():
    """Issue 9: `check_in_secnds = 30` used to be ignored and the default left in force."""
    data = _policy(hold__check_in_secnds=30)
    with pytest.raises(PolicyError) as err:
        parse_policy(data, "policies/typo.toml")
    assert err.value.key == "hold.check_in_secnds" and err.value.file == "policies/typo.toml"
    assert "did you mean 'check_in_seconds'" in err.value.reason
    people = _policy()
    people["people"] = [dict(p) for p in people["people"]]
    people["people"][0]["lead"] = "lead-lee"
    with pytest.raises(PolicyError) as err:
        parse_policy(people, "p.toml")
    assert err.value.key == "people[0].lead" and "'leader'" in err.value.reason


@pytest.mark.parametrize("policy_file", sorted((ROOT / "policies").glob("*.toml")), ids=lambda p: p.stem)
def test_each_organisation_greets_and_calls_back_in_its_own_name(policy_file):
    """Issue 9: every policy used to greet callers as "Example Support"."""
    policy = load_policy(policy_file)
    for words in (policy.ivr.greeting, policy.callbacks.caller_greeting, policy.callbacks.machine_message):
        assert policy.name.lower() in words.lower(), (policy.name, words)
    if policy_file.stem != "default":
        assert "Example Support" not in policy_file.read_text()
