"""Whole calls through the local Twilio simulator: the real service on loopback with its
signature check on, a real Redis, RQ jobs on the shared virtual clock; assertions on the
transcript of what each person heard and did."""

from __future__ import annotations

from twilio.request_validator import RequestValidator

from sim.demo import main as demo
from sim.runner import Simulation
from sim.scenarios import SCENARIOS, agent, caller, escalation, others
from tests.support import ROOT
from tests.twilio_contract import TwilioSpec

POLICY = ROOT / "policies" / "default.toml"


def play(scenario, tmp_path, redis_server, chaos=False) -> Simulation:
    sim = Simulation(scenario.people, POLICY, tmp_path, redis_url=redis_server.url, chaos=chaos)
    with sim:
        person = next(p for p in scenario.people if p.role == "caller")
        sim.world.incoming_call(person, after=1)
        sim.run(scenario.seconds)
    return sim


def test_escalation_end_to_end__R_WARM_1_R_WARM_2_R_WARM_3_R_WARM_4(tmp_path, redis_server):
    sim = play(escalation(), tmp_path, redis_server)
    assert escalation().check(sim) == []
    assert sim.world.errors == []
    t = sim.transcript
    heard = t.heard("Caller (Pat)")
    assert heard[:2] == [
        "Thank you for calling Example Support.",
        "Please enter your account number, then press pound.",
    ]
    assert "Thank you for your patience. I am getting a lead on the line for you now. Please stay on hold." in heard
    lee = t.heard("Lead Lee")
    assert lee[0] == "I have an escalation in transfer.", "an escalation is announced before any detail"
    assert t.of("Lead Lee", "hears") == [], "a lead who declined never hears the caller"
    morgan_first_voice = t.of("Lead Morgan", "hears")[0]
    assert morgan_first_voice.text == "Agent Avery", "the lead is briefed by the agent first"
    assert t.first("Caller (Pat)", "hears", "Lead Morgan").at >= t.first("Agent Avery", "softphone", "connect").at
    assert t.first("Agent Avery", "leaves").at <= t.first("Caller (Pat)", "hears", "Lead Morgan").at + 1
    esc = sim.escalations()[0]
    assert esc["state"] == "resolved" and esc["assignee"] == "lead-morgan"


def test_caller_never_sits_in_silence_while_waiting(tmp_path, redis_server):
    sim = play(escalation(), tmp_path, redis_server)
    t = sim.transcript
    joined = t.first("Caller (Pat)", "joins").at
    with_lead = t.first("Caller (Pat)", "hears", "Lead Morgan").at
    assert with_lead - joined > 60
    assert t.longest_silence("Caller (Pat)", t.first("Caller (Pat)", "dials").at, with_lead) <= 3


def test_agent_leg_dropping_leaves_the_caller_connected__R_WARM_5(tmp_path, redis_server):
    scenario = SCENARIOS["agent-drops"]()
    sim = play(scenario, tmp_path, redis_server)
    assert scenario.check(sim) == []
    t = sim.transcript
    dropped = t.first("Agent Avery", "hangs up")
    assert dropped.text == "agent's leg drops"
    assert t.first("Caller (Pat)", "hangs up") is None or t.first("Caller (Pat)", "hangs up").at > dropped.at + 30
    assert t.first("Caller (Pat)", "hears", "Lead Lee").at > dropped.at


def test_callback_rings_the_lead_then_the_caller__R_CB_4_R_ESC_7(tmp_path, redis_server):
    scenario = SCENARIOS["callback"]()
    sim = play(scenario, tmp_path, redis_server)
    assert scenario.check(sim) == []
    t = sim.transcript
    assert t.first("Caller (Pat)", "say", "For a callback, press 1") is not None
    confirmation = t.first("Caller (Pat)", "say", "We will call you at")
    assert "1 3 1 2 5 5 5 0 1 4 2" in confirmation.text
    cb = sim.callbacks()[0]
    assert cb["status"] == "completed" and cb["attempts"] == 1


def test_duplicated_and_reordered_callbacks_change_nothing(tmp_path, redis_server):
    sim = play(escalation(), tmp_path, redis_server, chaos=True)
    assert escalation().check(sim) == []
    events = [e["event"] for e in sim.escalations()[0]["timeline"]]
    assert (
        events.count("lead_declined") == 1
        and events.count("lead_accepted") == 1
        and events.count("caller_connected") == 1
    )
    webhooks = [
        e.text for e in sim.transcript.of("twilio", "webhook") if "/voice/status" in e.text or "/lead/status" in e.text
    ]
    assert len(webhooks) > len(set(webhooks)), "the simulator really did send duplicates"


def test_every_request_the_service_sent_is_one_twilio_accepts(tmp_path, redis_server):
    sim = play(SCENARIOS["callback"](), tmp_path, redis_server)
    spec = TwilioSpec.load()
    assert sim.world.rest_log
    problems = []
    for method, path, params in sim.world.rest_log:
        op, path_params = spec.find(method, path)
        if op is None:
            problems.append(f"{method} {path}")
            continue
        problems += spec.check(op, path_params, params)
    assert problems == []


def test_a_forged_webhook_from_the_simulator_is_refused(tmp_path, redis_server):
    people = [caller(), agent(), *others()]
    sim = Simulation(people, POLICY, tmp_path, redis_url=redis_server.url)
    with sim:
        sim.world.validator = RequestValidator("not-the-auth-token")
        sim.world.incoming_call(people[0], after=1)
        sim.run(30)
    assert sim.escalations() == []
    assert any("-> 403" in e.text for e in sim.transcript.of("twilio", "webhook"))
    assert sim.transcript.first("Caller (Pat)", "say", "Thank you for calling") is None


def test_make_demo_fast_plays_the_escalation_and_exits_0(capsys, redis_server):
    assert demo(["--fast", "--exit-after-scenario", "--port", "0"]) == 0
    out = capsys.readouterr().out
    assert "I have an escalation in transfer." in out
    assert "The scenario went as the procedure says." in out


def test_hold_check_ins_and_the_five_minute_offer_by_speech__R_HOLD_2_R_HOLD_3(tmp_path, redis_server):
    scenario = SCENARIOS["hold-limit"]()
    sim = play(scenario, tmp_path, redis_server)
    assert scenario.check(sim) == []
    t = sim.transcript
    said = t.first("Caller (Pat)", "says")
    assert said.text == "call me back please"
    assert t.first("Caller (Pat)", "say", "We can call you back at").at >= said.at
    events = [e["event"] for e in sim.escalations()[0]["timeline"]]
    assert events.count("check_in") == 2 and "hold_limit" in events


def test_a_webhook_that_does_not_answer_in_time_falls_back_and_keeps_the_caller(tmp_path, redis_server):
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    people = [caller(), agent(), *others()]
    sim = Simulation(people, POLICY, tmp_path, redis_url=redis_server.url)
    with sim:
        sim.world.incoming_url = f"http://127.0.0.1:{silent.getsockname()[1]}/voice/incoming"
        sim.world.webhook_timeout = 1.0
        sim.world.incoming_call(people[0], after=1)
        sim.run(40)
    silent.close()
    t = sim.transcript
    assert t.first("Caller (Pat)", "error", "fallback URL") is not None
    assert "We are sorry, we are having trouble with our phone system. Please hold while we connect you." in t.heard(
        "Caller (Pat)"
    )
    assert t.first("Caller (Pat)", "dials", "+13125550100") is not None, "put through to the staffed line"


def test_gather_in_a_hold_url_is_refused_like_twilio_error_13238(tmp_path, redis_server):
    people = [caller(), agent(), *others()]
    sim = Simulation(people, POLICY, tmp_path, redis_url=redis_server.url)
    with sim:
        call = sim.world.incoming_call(people[0], after=0)
        sim.run(0.5)
        sim.world.fetch(call, f"{sim.base}/voice/callback/offer?escalation=esc_x", kind="hold")
    assert any(e.startswith("13238") for e in sim.world.errors)


def test_simulated_conferences_mute_coach_and_announce_like_twilio(tmp_path, redis_server):
    from sim.people import Person

    listener = Person("Lead Lee (listening)", "lead", "+13125550111", answer_after=2)
    people = [caller(), agent(), listener, *[p for p in others() if p.endpoint != "+13125550111"]]
    sim = Simulation(people, POLICY, tmp_path, redis_url=redis_server.url)
    with sim:
        sim.world.incoming_call(people[0], after=1)
        sim.run(20)
        call = sim.core.ctx.store.call(next(iter(c for c in sim.world.calls.values() if c.direction == "inbound")).sid)
        client = sim.core.ctx.twilio.client
        conference = client.conferences(call["conference_sid"])
        coach = conference.participants.create(
            from_="+13125550100",
            to="+13125550111",
            label="coach",
            coaching=True,
            call_sid_to_coach=call["agent_call_sid"],
        )
        sim.run(10)
        conference.participants(call["agent_call_sid"]).update(muted=True)
        sim.run(2)
        conference.update(announce_url=f"{sim.base}/voice/wait")
        sim.run(2)
    t = sim.transcript
    assert t.first("Agent Avery", "hears", "Lead Lee (listening)") is not None, "the coach is heard by the agent"
    assert all("Lead Lee" not in e.text for e in t.of("Caller (Pat)", "hears")), "the caller never hears the coach"
    assert t.of("Caller (Pat)", "hears")[-1].text == "Agent Avery"
    assert t.first("Caller (Pat)", "muted") is None and t.first("Agent Avery", "muted") is not None
    muted_at = t.first("Agent Avery", "muted").at
    caller_voices = t.of("Caller (Pat)", "voices")
    assert abs(caller_voices[-1].until - muted_at) < 0.01, "once the agent is muted the caller hears nobody"
    assert all(e.at <= muted_at for e in t.of("Caller (Pat)", "hears"))
    assert "All of our agents are helping other callers" in t.heard("Lead Lee (listening)")[-2], (
        "an announcement reaches everyone"
    )
    assert coach.call_sid
