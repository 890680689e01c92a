"""The warning protocol for abusive callers (R-ABUSE-1): warning 1, warning 2 with its
consequence, and only then the action the policy allows. Seed 003 may disconnect; seed 002 (and
the default policy) never hangs up (R-ESC-4): the disconnect is refused."""

from __future__ import annotations

from telephony.config import ApiToken
from tests.support import BASE, ROOT, Harness

SEED_002 = ROOT / "policies" / "seed-002-customer-loyalty.toml"
SEED_003 = ROOT / "policies" / "seed-003-call-center.toml"


def seed(redis_conn, twilio_rest, policy_file) -> Harness:
    tokens = {
        "agent-avery": ApiToken("tok-warn-agent-0000000", "agent-1", "agent"),
        "manager-max": ApiToken(
            "tok-warn-manager-00000", "manager-1" if policy_file == SEED_003 else "manager-am", "manager"
        ),
    }
    return Harness(redis_conn, twilio_rest, policy_file=policy_file, tokens=tokens)


def warn(harness, caller_sid, number=None, who="agent-avery"):
    return harness.api(
        "POST", f"/api/calls/{caller_sid}/warnings", who, json={} if number is None else {"warning": number}
    )


def act(harness, caller_sid, action, who="agent-avery", **extra):
    return harness.api("POST", f"/api/calls/{caller_sid}/warnings/action", who, json={"action": action, **extra})


def test_warning_1_then_2_then_the_transfer_to_a_manager__R_ABUSE_1(harness):
    caller_sid, _ = harness.caller_with_agent()
    early = act(harness, caller_sid, "transfer")
    assert early.status_code == 409 and early.json["error"] == "warnings_not_given"
    assert warn(harness, caller_sid, 2).json["error"] == "warning_out_of_order", "warning 2 never comes first"

    first = warn(harness, caller_sid)
    assert first.status_code == 200, first.json
    assert first.json["next"] == "warning 2" and first.json["allowed_actions"] == []
    assert first.json["warnings"][0]["words"].startswith("Please refrain from using that kind of language")
    harness.jump(20)
    second = warn(harness, caller_sid, 2)
    assert second.json["next"] == "action" and second.json["allowed_actions"] == ["transfer"]
    assert second.json["consequence"] == "transfer to a manager"
    assert warn(harness, caller_sid).status_code == 409, "there is no warning 3"
    assert harness.rest.requests("CreateCall") == [], "nothing happened to the call yet"

    transferred = act(harness, caller_sid, "transfer", reason="slurs after two warnings")
    assert transferred.status_code == 201, transferred.json
    esc = transferred.json
    assert esc["kind"] == "abusive" and esc["tier"] == "manager"
    assert [r.param("To") for r in harness.rest.requests("CreateCall")] == ["+13125550131"], "managers only"
    steps = next(e for e in esc["timeline"] if e["event"] == "warning_protocol")["detail"]
    at1, at2 = first.json["warnings"][0]["at"], second.json["warnings"][1]["at"]
    assert at1 != at2 and f"warning 1 at {at1} by Avery" in steps and f"warning 2 at {at2} by Avery" in steps
    assert steps.endswith("(consequence: transfer to a manager); transfer")
    record = harness.api("GET", f"/api/calls/{caller_sid}/warnings").json
    assert record["action"]["action"] == "transfer" and record["action"]["escalation_id"] == esc["id"]
    assert record["next"] is None
    again = act(harness, caller_sid, "transfer")
    assert again.json["error"] == "already_acted" and len(harness.core.warm_transfer.list(None)) == 1


def test_a_policy_that_never_hangs_up_refuses_the_disconnect__R_ABUSE_1_R_ESC_4(redis_conn, twilio_rest):
    harness = seed(redis_conn, twilio_rest, SEED_002)
    caller_sid, _ = harness.caller_with_agent()
    warn(harness, caller_sid)
    second = warn(harness, caller_sid)
    assert "supervisor" in second.json["warnings"][1]["words"] and "hang up" not in second.json["warnings"][1]["words"]
    refused = act(harness, caller_sid, "disconnect")
    assert refused.status_code == 403 and refused.json["error"] == "action_not_allowed"
    assert "never hangs up" in refused.json["message"] and refused.json["allowed"] == ["transfer"]
    assert harness.rest.requests("UpdateCall") == [], "the caller's call was not touched"
    assert act(harness, caller_sid, "transfer").status_code == 201


def test_where_the_policy_allows_it_the_caller_is_told_then_disconnected__R_ABUSE_1(redis_conn, twilio_rest):
    harness = seed(redis_conn, twilio_rest, SEED_003)
    caller_sid, _ = harness.caller_with_agent()
    assert act(harness, caller_sid, "disconnect").json["error"] == "warnings_not_given"
    warn(harness, caller_sid)
    second = warn(harness, caller_sid)
    assert second.json["allowed_actions"] == ["transfer", "disconnect"]
    assert second.json["consequence"] == "transfer to a manager or disconnect the call"
    done = act(harness, caller_sid, "disconnect")
    assert done.status_code == 200 and done.json["action"]["action"] == "disconnect"
    [redirect] = harness.rest.requests("UpdateCall")
    assert redirect.path_params["Sid"] == caller_sid and redirect.param("Url") == f"{BASE}/voice/warnings/disconnect"
    last_words = harness.twiml(redirect.param("Url"), {"CallSid": caller_sid})
    assert (
        last_words.said() == ["As I said, I am ending this call now. Goodbye."] and last_words.verbs()[-1] == "Hangup"
    )
    told = [n for n in harness.core.ctx.store.notifications() if n.get("to") == "managers"]
    assert told and "disconnected an abusive caller" in told[0]["text"] and "warning 1 at" in told[0]["text"]
    assert act(harness, caller_sid, "transfer").json["error"] == "already_acted"


def test_only_the_agent_on_the_call_or_a_lead_records_warnings__R_ABUSE_1(harness):
    caller_sid, _ = harness.caller_with_agent()
    assert warn(harness, caller_sid, who="agent-blake").json["error"] == "not_your_call"
    assert warn(harness, caller_sid, who="manager-max").status_code == 403
    assert warn(harness, caller_sid, who="lead-lee").status_code == 200
    assert warn(harness, "CA" + "0" * 32).status_code == 404
    assert warn(harness, caller_sid, 3).json["field"] == "warning"
    assert harness.api("GET", f"/api/calls/{caller_sid}/warnings", who="agent-blake").status_code == 403
