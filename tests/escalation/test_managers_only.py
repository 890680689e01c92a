"""Managers-only kinds (R-ESC-3, R-ESC-4; every kind of seed 001): the caller never hears "I am
getting a lead". Every hold and transfer prompt names the role being reached, on every policy."""

from __future__ import annotations

import re

import pytest

from telephony.config import ApiToken
from telephony.policy.loading import load_policy
from telephony.policy.models import KINDS
from tests.support import ROOT, Harness

POLICIES = sorted((ROOT / "policies").glob("*.toml"))
LEAD = re.compile(r"\blead(s)?\b", re.I)
CASES = [(p, kind) for p in POLICIES for kind in KINDS if load_policy(p).managers_only(kind)]


@pytest.mark.parametrize("policy_file, kind", CASES, ids=[f"{p.stem}-{k}" for p, k in CASES])
def test_every_prompt_of_a_managers_only_escalation_names_a_manager__R_ESC_3_R_ESC_4(
    redis_conn, twilio_rest, policy_file, kind
):
    policy = load_policy(policy_file)
    tokens = {"agent-avery": ApiToken("tok-words-agent-000000", policy.agents()[0].id, "agent")}
    harness = Harness(redis_conn, twilio_rest, policy_file=policy_file, tokens=tokens)
    caller_sid, _ = harness.caller_with_agent()
    response = harness.escalate(caller_sid, kind=kind, client={"name": "Pat Doe", "segment": "AM", "region": "east"})
    assert response.status_code == 201, response.json
    esc_id = response.json["id"]
    heard = {
        "hold": f"/voice/hold?escalation={esc_id}",
        "check-in": f"/voice/hold?escalation={esc_id}&check_in=1",
        "hold limit offer": f"/voice/hold/offer?escalation={esc_id}",
        "keep holding": f"/voice/hold/loop?escalation={esc_id}&round=0",
        "callback offer": f"/voice/callback/offer?escalation={esc_id}",
        "leads busy offer": f"/voice/callback/offer?escalation={esc_id}&busy=1",
        "voicemail": f"/voice/voicemail?escalation={esc_id}",
    }
    named = 0
    for where, url in heard.items():
        text = harness.twiml(url, {"CallSid": caller_sid}).text()
        assert not LEAD.search(text), f"{policy_file.name} {kind} {where}: {text!r}"
        assert "{" not in text, f"{policy_file.name} {kind} {where}: a placeholder was left unfilled: {text!r}"
        named += "manager" in text
    assert named >= 3, "the hold message, the check-in and the keep-holding loop name the manager being reached"
    for template in (policy.hold.message, policy.hold.check_in_message, policy.hold.keep_holding_message):
        assert "{role}" in template, f"{policy_file.name}: hold words must name the role reached: {template!r}"
