"""Whole calls through the local Twilio simulator: the real service on loopback with its
signature check on, a real Redis, RQ jobs on the shared virtual clock; assertions on the
transcript of what each person heard and did (times are virtual: mm:ss from the start)."""

from __future__ import annotations

import json
import socket

import pytest
from flask import Flask
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from sim.demo import main as demo
from sim.people import Person
from sim.runner import Simulation, serve
from sim.scenarios import CALLER_NAME, DEFAULT_POLICY, SCENARIOS, Cast, escalation
from telephony.adapters.local_redis import free_port
from telephony.adapters.twilio_gateway import make_client
from telephony.policy.loading import load_policy
from tests.support import ROOT
from tests.twilio_contract import TwilioSpec

POLICY = load_policy(DEFAULT_POLICY)


def play(scenario, tmp_path, redis_server, chaos=False) -> Simulation:
    sim = Simulation(
        scenario.people, scenario.policy_file, tmp_path, redis_url=redis_server.url, chaos=chaos, start=scenario.start
    )
    with sim:
        sim.world.incoming_call(scenario.caller, after=1)
        sim.run(scenario.seconds)
    return sim


def quiet_cast(tmp_path, redis_server) -> tuple[Simulation, list[Person]]:
    """The default cast with nobody scripted to escalate: for poking the simulator directly."""
    cast = Cast(POLICY)
    cast.agent.answer_after = 3
    people = cast.people(cast.caller())
    return Simulation(people, DEFAULT_POLICY, tmp_path, redis_url=redis_server.url), people


def test_escalation_end_to_end__R_WARM_1_R_WARM_2_R_WARM_3_R_WARM_4(tmp_path, redis_server):
    scenario = escalation()
    sim = play(scenario, tmp_path, redis_server)
    assert scenario.check(sim) == []
    assert sim.world.errors == []
    t = sim.transcript
    greeting, prompt = t.of(CALLER_NAME, "say")[:2]
    assert (greeting.text, greeting.at) == ("Thank you for calling Example Support.", 1)
    assert prompt.text == "Please enter your account number, then press pound." and prompt.at < 5
    escalated = t.first("Agent Avery", "softphone", "escalate:")
    assert "201 dialing_lead" in escalated.text
    hold_message = t.first(CALLER_NAME, "say", POLICY.hold.message.replace("{role}", "lead"))
    assert hold_message.at - escalated.at <= 1, "the caller hears the hold message as soon as the agent escalates"
    lee = t.heard("Lead Lee")
    assert lee[0] == "I have an escalation in transfer.", "an escalation is announced before any detail"
    assert "The caller is Pat Doe." in lee and "Account 4 4 8 8 1 2." in lee
    assert t.of("Lead Lee", "hears") == [], "a lead who declined never hears the caller"
    assert t.first("Lead Morgan", "say", "I have an escalation in transfer.").at < t.first("Lead Morgan", "joins").at
    assert t.of("Lead Morgan", "hears")[0].text == "Agent Avery", "the lead is briefed by the agent first"
    with_lead = t.first(CALLER_NAME, "hears", "Lead Morgan")
    assert with_lead.at >= t.first("Agent Avery", "softphone", "connect").at
    assert t.first("Agent Avery", "leaves").at <= with_lead.at + 1
    esc = sim.escalations()[0]
    assert esc["state"] == "resolved" and esc["assignee"] == "lead-morgan"


def test_caller_never_sits_in_silence_while_waiting__R_WARM_3(tmp_path, redis_server):
    sim = play(escalation(), tmp_path, redis_server)
    t = sim.transcript
    joined = t.first(CALLER_NAME, "joins").at
    with_lead = t.first(CALLER_NAME, "hears", "Lead Morgan").at
    assert with_lead - joined > 60
    assert t.longest_silence(CALLER_NAME, t.first(CALLER_NAME, "dials").at, with_lead) <= 3
    music = [e for e in t.of(CALLER_NAME, "play")]
    assert music and all(e.until <= with_lead for e in music), "hold music stops when the caller is taken off hold"


def test_agent_leg_dropping_leaves_the_caller_connected__R_WARM_5(tmp_path, redis_server):
    scenario = SCENARIOS["agent-drops"](POLICY)
    sim = play(scenario, tmp_path, redis_server)
    assert scenario.check(sim) == []
    t = sim.transcript
    dropped = t.first("Agent Avery", "hangs up")
    assert dropped.text == "agent's leg drops"
    assert t.first(CALLER_NAME, "hangs up") is None or t.first(CALLER_NAME, "hangs up").at > dropped.at + 30
    assert t.first(CALLER_NAME, "hears", "Lead Lee").at > dropped.at
    assert t.longest_silence(CALLER_NAME, dropped.at, t.first(CALLER_NAME, "hears", "Lead Lee").at) <= 3


def test_callback_rings_the_lead_then_the_caller__R_CB_4_R_ESC_7(tmp_path, redis_server):
    scenario = SCENARIOS["callback"](POLICY)
    sim = play(scenario, tmp_path, redis_server)
    assert scenario.check(sim) == []
    t = sim.transcript
    assert t.first(CALLER_NAME, "say", "For a callback, press 1") is not None
    confirmation = t.first(CALLER_NAME, "say", "We will call you at")
    assert "3 1 2, 5 5 5, 0 1 4 2" in confirmation.text
    cb = sim.callbacks()[0]
    assert cb["status"] == "completed" and cb["attempts"] == 1


def test_duplicated_and_reordered_callbacks_change_nothing(tmp_path, redis_server):
    scenario = escalation()
    sim = play(scenario, tmp_path, redis_server, chaos=True)
    assert scenario.check(sim) == []
    events = [e["event"] for e in sim.escalations()[0]["timeline"]]
    assert (
        events.count("lead_declined") == 1
        and events.count("lead_accepted") == 1
        and events.count("caller_connected") == 1
    )
    conference = [int(p["SequenceNumber"]) for url, p, _ in sim.world.sent if url.endswith("/voice/conference")]
    assert len(conference) > len(set(conference)), "the simulator really sent duplicates"
    assert conference != sorted(conference), "the simulator really sent them out of order"
    statuses = [(u, p["CallSid"], p["CallStatus"]) for u, p, _ in sim.world.sent if "CallStatus" in p and "status" in u]
    assert len(statuses) > len(set(statuses))


def test_every_request_the_service_sent_is_one_twilio_accepts_and_answered_as_twilio_does(tmp_path, redis_server):
    sim = play(SCENARIOS["callback"](POLICY), tmp_path, redis_server)
    spec = TwilioSpec.load()
    assert sim.world.rest_log
    problems = []
    for sent in sim.world.rest_log:
        op, path_params = spec.find(sent.method, sent.path)
        if op is None:
            problems.append(f"{sent.method} {sent.path}")
            continue
        problems += spec.check(op, path_params, sent.params)
        if sent.status != op.success:
            problems.append(f"{op.operation_id} answered {sent.status}, Twilio answers {op.success}")
        if sent.body:
            unknown = set(json.loads(sent.body)) - set(op.response_schema.get("properties", {}))
            if unknown:
                problems.append(f"{op.operation_id} answered fields Twilio does not have: {sorted(unknown)}")
    assert problems == []


def test_rest_errors_are_twilio_errors(tmp_path, redis_server):
    sim, _ = quiet_cast(tmp_path, redis_server)
    with sim:
        client = sim.core.ctx.twilio.client
        with pytest.raises(TwilioRestException) as missing:
            client.calls("CA" + "0" * 32).update(status="completed")
        with pytest.raises(TwilioRestException) as no_conference:
            client.conferences("CF" + "0" * 32).participants("CA" + "0" * 32).update(hold=True)
        forged = make_client(sim.settings.twilio_account_sid, "wrong-token", sim.settings.twilio_api_base_url)
        with pytest.raises(TwilioRestException) as unauthorised:
            forged.calls("CA" + "0" * 32).update(status="completed")
    assert (missing.value.status, missing.value.code) == (404, 20404)
    assert (no_conference.value.status, no_conference.value.code) == (404, 20404)
    assert (unauthorised.value.status, unauthorised.value.code) == (401, 20003)
    assert [r.status for r in sim.world.rest_log] == [404, 404, 401]
    assert [e.text.rsplit(" ", 1)[-1] for e in sim.transcript.of("service", "rest")] == ["404", "404", "401"]


def test_a_forged_webhook_from_the_simulator_is_refused(tmp_path, redis_server):
    sim, people = quiet_cast(tmp_path, redis_server)
    with sim:
        sim.world.validator = RequestValidator("not-the-auth-token")
        sim.world.incoming_call(people[0], after=1)
        sim.run(30)
    assert sim.escalations() == []
    assert any("-> 403" in e.text for e in sim.transcript.of("twilio", "webhook"))
    assert sim.transcript.first(CALLER_NAME, "say", "Thank you for calling") is None


def test_make_demo_fast_plays_the_escalation_and_exits_0(capsys, redis_server):
    assert demo(["--fast", "--exit-after-scenario", "--port", "0"]) == 0
    out = capsys.readouterr().out
    assert "I have an escalation in transfer." in out
    assert "The scenario went as the procedure says." in out


def test_make_demo_ends_when_the_last_call_ends_not_at_the_scenarios_length(capsys, redis_server):
    """Issue 35 item 3: the call ended at [03:03] and the demo sat silent until the hold limit's
    old timer at [05:30]. It ends with the last call, and says so; while nobody is on the phone but
    a callback is still to be made, it says what it waits for."""
    assert demo(["--fast", "--exit-after-scenario", "--port", "0"]) == 0
    out = capsys.readouterr().out
    hung_up = [line[1:6] for line in out.splitlines() if " hangs up " in line]
    assert f"[{hung_up[-1]}] The scenario is over: every call has ended and nothing of it is waiting." in out

    assert demo(["--fast", "--exit-after-scenario", "--port", "0", "--scenario", "callback"]) == 0
    lines = capsys.readouterr().out.splitlines()
    waits = next(n for n, line in enumerate(lines) if " waits " in line)
    assert lines[waits - 1][:7] <= lines[waits][:7] < lines[waits + 1][:7], (
        "said when the calls end, before the callback"
    )
    assert "the callback to +13125550142 is scheduled (0 attempts so far)" in lines[waits]
    assert "window from 60:00 to 180:00" in lines[waits], "the window the caller chose, 11 AM to 1 PM"
    hung_up = [line[1:6] for line in lines if " hangs up " in line]
    assert f"[{hung_up[-1]}] The scenario is over" in "\n".join(lines)


def test_make_demo_with_a_bad_policy_says_so_in_one_line(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[organisation]\nname = 1\n")
    assert demo(["--fast", "--exit-after-scenario", "--policy", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cannot start the demo:") and str(bad) in err and "\n" not in err


@pytest.mark.parametrize("policy", sorted(p.name for p in (ROOT / "policies").glob("seed-*.toml")))
def test_every_seed_policy_plays_the_escalation__R_WARM_1_R_WARM_2_R_ESC_6(policy, tmp_path, redis_server):
    scenario = escalation(load_policy(ROOT / "policies" / policy))
    sim = play(scenario, tmp_path, redis_server)
    assert scenario.check(sim) == []
    assert sim.world.errors == []


def test_hold_check_ins_and_the_five_minute_offer_by_speech__R_HOLD_2_R_HOLD_3(tmp_path, redis_server):
    scenario = SCENARIOS["hold-limit"](POLICY)
    sim = play(scenario, tmp_path, redis_server)
    assert scenario.check(sim) == []
    t = sim.transcript
    said = t.first(CALLER_NAME, "says")
    assert said.text == "call me back please"
    assert t.first(CALLER_NAME, "say", "We can call you back at").at >= said.at
    events = [e["event"] for e in sim.escalations()[0]["timeline"]]
    assert events.count("check_in") == 2 and "hold_limit" in events


def test_a_webhook_that_does_not_answer_in_time_falls_back_and_keeps_the_caller(tmp_path, redis_server):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    sim, people = quiet_cast(tmp_path, redis_server)
    with sim:
        sim.world.incoming_url = f"http://127.0.0.1:{silent.getsockname()[1]}/voice/incoming"
        sim.world.webhook_timeout = 0.5
        sim.world.incoming_call(people[0], after=1)
        sim.run(40)
    silent.close()
    t = sim.transcript
    assert t.first(CALLER_NAME, "error", "fallback URL") is not None
    assert POLICY.ivr.fallback_message in t.heard(CALLER_NAME)
    assert t.first(CALLER_NAME, "dials", "+13125550190") is not None, "put through to the staffed line"


def test_gather_in_a_hold_url_is_refused_like_twilio_error_13238(tmp_path, redis_server):
    sim, people = quiet_cast(tmp_path, redis_server)
    with sim:
        call = sim.world.incoming_call(people[0], after=0)
        sim.run(0.5)
        sim.world.fetch(call, f"{sim.base}/voice/callback/offer?escalation=esc_x", kind="hold")
    assert any(e.startswith("13238") for e in sim.world.errors)
    assert sim.transcript.first(CALLER_NAME, "error", "13238") is not None


def test_conference_events_are_the_ones_subscribed_with_twilio_fields(tmp_path, redis_server):
    sim = play(escalation(), tmp_path, redis_server)
    events = [p for url, p, _ in sim.world.sent if url.endswith("/voice/conference")]
    kinds = {p["StatusCallbackEvent"] for p in events}
    assert {"conference-start", "participant-join", "participant-leave", "participant-hold"} <= kinds
    assert "participant-unhold" in kinds, "'hold' subscribes to unhold too"
    held = next(p for p in events if p["StatusCallbackEvent"] == "participant-hold")
    assert held["ParticipantLabel"] == "caller" and held["Hold"] == "true"
    assert held["FriendlyName"].startswith("call-") and held["ConferenceSid"].startswith("CF")
    statuses = [p for url, p, _ in sim.world.sent if "CallStatus" in p and "CallbackSource" in p]
    assert {p["CallStatus"] for p in statuses} <= {"initiated", "ringing", "in-progress", "completed", "no-answer"}
    incoming = next(p for url, p, _ in sim.world.sent if url.endswith("/voice/incoming"))
    assert incoming["CallStatus"] == "ringing" and incoming["Direction"] == "inbound"


def test_simulated_conferences_mute_coach_and_announce_like_twilio(tmp_path, redis_server):
    sim, people = quiet_cast(tmp_path, redis_server)
    lee = next(p for p in people if p.id == "lead-lee")
    lee.name, lee.answer_after = "Lead Lee (listening)", 2
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
    assert all("Lead Lee" not in e.text for e in t.of(CALLER_NAME, "hears")), "the caller never hears the coach"
    assert t.of(CALLER_NAME, "hears")[-1].text == "Agent Avery"
    assert t.first(CALLER_NAME, "muted") is None and t.first("Agent Avery", "muted") is not None
    muted_at = t.first("Agent Avery", "muted").at
    caller_voices = t.of(CALLER_NAME, "voices")
    assert abs(caller_voices[-1].until - muted_at) < 0.01, "once the agent is muted the caller hears nobody"
    assert all(e.at <= muted_at for e in t.of(CALLER_NAME, "hears"))
    assert POLICY.ivr.agent_ringing_message in t.heard("Lead Lee (listening)")[-2], "an announcement reaches everyone"
    assert coach.call_sid


def test_a_hold_url_without_redirect_plays_on_a_loop_until_unhold(tmp_path, redis_server):
    music = Flask("music")
    music.post("/music")(lambda: "<Response><Say>Please hold.</Say></Response>")
    port = free_port()
    served = serve(music, port)
    sim, people = quiet_cast(tmp_path, redis_server)
    try:
        with sim:
            call = sim.world.incoming_call(people[0], after=0)
            sim.run(20)
            conference = sim.world.conferences[call.conference]
            sim.world.set_hold(conference, call.sid, True, f"http://127.0.0.1:{port}/music")
            held = sim.world.now
            sim.run(10)
            sim.world.set_hold(conference, call.sid, False)
            unheld = sim.world.now
            sim.run(5)
    finally:
        served.stop()
    t = sim.transcript
    loops = [e for e in t.of(CALLER_NAME, "say") if e.text == "Please hold."]
    assert len(loops) >= 9 and all(held <= e.at <= unheld for e in loops)
    assert t.of(CALLER_NAME, "hears")[-1].at == unheld, "off hold, the caller hears the agent again"
    events = [p["StatusCallbackEvent"] for url, p, _ in sim.world.sent if url.endswith("/voice/conference")]
    assert "participant-hold" in events and "participant-unhold" in events
