"""Listen-in and coach (R-WARM-7, seed 000): a lead joins a live call muted or as a coach heard
only by the agent, switches between the two and leaves; the caller hears none of it. The REST
requests are judged by Twilio's OpenAPI file; the simulator proves who hears whom."""

from __future__ import annotations

from sim.scenarios import CALLER_NAME, SCENARIOS
from telephony.policy.loading import load_policy
from tests.simulator.test_sim_scenarios import play
from tests.support import BASE, ROOT


def listen(harness, caller_sid, how="listen", who="lead-lee", method="POST"):
    return harness.api(method, f"/api/calls/{caller_sid}/{how}", who)


def test_monitor_coach_monitor_and_leave_are_one_request_each_without_a_beep__R_WARM_7(harness):
    caller_sid, agent_sid = harness.caller_with_agent()
    joined = listen(harness, caller_sid)
    assert joined.status_code == 200, joined.json
    assert joined.json["listener"] == "lead-lee" and joined.json["mode"] == "monitor"
    [dial] = [r for r in harness.rest.requests("CreateParticipant") if r.param("Label") == "listener"]
    assert dial.param("To") == "+13125550111" and dial.param("Muted") == "true"
    assert dial.param("Beep") == "false", "the caller hears no beep when the lead joins or leaves"
    assert dial.param("StartConferenceOnEnter") == "false" and dial.param("EndConferenceOnExit") == "false"
    assert dial.param("Coaching") is None
    assert dial.param("StatusCallback") == f"{BASE}/voice/listener/status?caller={caller_sid}"
    listener_sid = joined.json["listener_call_sid"]

    coaching = listen(harness, caller_sid, "coach")
    assert coaching.json["mode"] == "coach"
    switch = harness.rest.requests("UpdateParticipant")[-1]
    assert switch.path_params["CallSid"] == listener_sid
    assert (switch.param("Coaching"), switch.param("CallSidToCoach"), switch.param("Muted")) == (
        "true",
        agent_sid,
        "false",
    )
    assert listen(harness, caller_sid, "coach").json["mode"] == "coach"
    assert harness.rest.requests("UpdateParticipant")[-1] is switch, "asking again changes nothing"

    back = listen(harness, caller_sid)
    assert back.json["mode"] == "monitor"
    muted = harness.rest.requests("UpdateParticipant")[-1]
    assert (muted.param("Coaching"), muted.param("Muted")) == ("false", "true")

    left = listen(harness, caller_sid, method="DELETE")
    assert left.status_code == 200 and left.json["listener"] is None
    assert harness.rest.requests("DeleteParticipant")[-1].path_params["CallSid"] == listener_sid


def test_who_may_listen_and_when__R_WARM_7(harness):
    caller_sid, _ = harness.caller_with_agent()
    assert listen(harness, caller_sid, who="agent-avery").status_code == 403
    assert listen(harness, "CA" + "0" * 32).status_code == 404
    assert listen(harness, caller_sid, method="DELETE").json["error"] == "not_listening"
    assert listen(harness, caller_sid, "coach").status_code == 200
    other = listen(harness, caller_sid, who="manager-max")
    assert other.status_code == 409 and other.json["error"] == "already_listening" and "Lee" in other.json["message"]
    listener_sid = harness.core.ctx.store.call(caller_sid)["listener_call_sid"]
    harness.leg_status(f"/voice/listener/status?caller={caller_sid}", listener_sid, "completed")
    assert listen(harness, caller_sid, who="manager-max").json["listener"] == "manager-max", (
        "the lead's phone hanging up frees the call for the next listener"
    )


def test_a_caller_still_waiting_for_an_agent_cannot_be_coached__R_WARM_7(harness):
    caller_sid, _ = harness.caller_in_conference()
    refused = listen(harness, caller_sid, "coach")
    assert refused.status_code == 409 and refused.json["error"] == "no_agent"


def test_in_the_simulator_the_caller_never_hears_the_coach__R_WARM_7(tmp_path, redis_server):
    policy = load_policy(ROOT / "policies" / "seed-000-web-agency.toml")
    scenario = SCENARIOS["listen-in"](policy)
    sim = play(scenario, tmp_path, redis_server)
    assert scenario.check(sim) == [] and sim.world.errors == []
    t = sim.transcript
    lead, agent = scenario.roles["listener"], scenario.roles["agent"]
    coach_at = t.first(lead, "unmuted").at
    monitor_at = t.first(lead, "muted").at
    agent_heard = [e for e in t.of(agent, "hears") if lead in e.text]
    assert agent_heard and coach_at <= agent_heard[0].at < monitor_at, "the agent hears the coach, only while coaching"
    assert {e.text for e in t.of(CALLER_NAME, "hears")} == {agent}, "the caller only ever hears the agent"
    assert all(lead not in e.text for e in t.of(CALLER_NAME, "voices"))
    assert t.first(lead, "hears", CALLER_NAME).at < coach_at, "listening muted, the lead hears the caller"
    left = t.first(lead, "leaves").at
    assert not [e for e in t.of(CALLER_NAME) if left - 1 <= e.at <= left + 1], (
        "nothing reaches the caller as the lead goes"
    )
