"""The simulator's `<Start><Transcription>` (Twilio real-time transcription, R-NOTE-5), held to
Twilio's terms like its other TwiML and REST: the attributes are the ones Twilio's OpenAPI
description gives the same resource, an unknown one or a bad track is refused, `<Start>` has no
place in a hold URL (error 13238), and the events are signed and numbered like Twilio's."""

from __future__ import annotations

import json
import re

import pytest
from flask import Flask, request
from twilio.request_validator import RequestValidator

from sim.people import Person, Talk
from sim.runner import AUTH_TOKEN, Simulation, serve
from sim.scenarios import CALLER_NAME, DEFAULT_POLICY, SCENARIOS
from sim.world import TRANSCRIPTION_ATTRIBUTES, TRANSCRIPTION_TRACKS
from telephony.adapters.local_redis import free_port
from telephony.policy.loading import load_policy
from tests.support import ROOT
from tests.twilio_contract import TwilioSpec


def lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def test_transcription_attributes_are_the_ones_twilio_has__R_NOTE_5():
    """The TwiML noun and the REST resource (CreateRealtimeTranscription) take the same settings."""
    spec = TwilioSpec.load()
    op = next(o for o in spec.operations if o.operation_id == "CreateRealtimeTranscription")
    assert TRANSCRIPTION_ATTRIBUTES == {lower_camel(name) for name in op.body}
    assert list(TRANSCRIPTION_TRACKS) == spec.allowed_values(op.body["Track"])


class Twiml:
    """A TwiML server on loopback that also records the transcription events it is sent."""

    def __init__(self, documents: dict[str, str]):
        self.app = Flask("twiml")
        self.events: list[tuple[dict[str, str], bool]] = []
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        validator = RequestValidator(AUTH_TOKEN)
        for path, body in documents.items():
            self.app.add_url_rule(path, path, lambda body=body: body.replace("{base}", self.base), methods=["POST"])

        @self.app.post("/events")
        def events():
            signed = validator.validate(request.url, request.form, request.headers.get("X-Twilio-Signature", ""))
            self.events.append((request.form.to_dict(), signed))
            return "", 204

    def __enter__(self):
        self.served = serve(self.app, self.port)
        return self

    def __exit__(self, *exc):
        self.served.stop()


def caller(*lines: str, hang_up_after: float = 40) -> Person:
    return Person(
        CALLER_NAME,
        "caller",
        "+13125550142",
        answer_after=3,
        hang_up_after=hang_up_after,
        talk=[Talk(line, after=3 + 6 * i) for i, line in enumerate(lines)],
    )


def call_through(twiml: Twiml, path: str, person: Person, tmp_path, redis_server, seconds: float = 60) -> Simulation:
    """The person calls a number whose TwiML is `path`, and once in, starts talking."""
    sim = Simulation([person], DEFAULT_POLICY, tmp_path, redis_url=redis_server.url)
    with sim:
        sim.world.incoming_url = f"{twiml.base}{path}"
        call = sim.world.incoming_call(person, after=1)
        sim.run(5)
        sim.world.talk(call)
        sim.run(seconds)
    return sim


TALKING = (
    '<Response><Start><Transcription statusCallbackUrl="{base}/events" track="inbound_track" {extra}/></Start>'
    '<Dial><Conference startConferenceOnEnter="true">talk</Conference></Dial></Response>'
)


def test_transcription_events_are_signed_numbered_and_final__R_NOTE_5(tmp_path, redis_server):
    documents = {"/talk": TALKING.replace("{extra}", 'partialResults="true"')}
    with Twiml(documents) as twiml:
        sim = call_through(
            twiml, "/talk", caller("Please fix our site today.", "We are disappointed."), tmp_path, redis_server
        )
        events = list(twiml.events)
    assert sim.world.errors == []
    assert all(signed for _, signed in events), "every event carries Twilio's signature"
    kinds = [e["TranscriptionEvent"] for e, _ in events]
    assert kinds[0] == "transcription-started" and kinds[-1] == "transcription-stopped"
    assert [int(e["SequenceId"]) for e, _ in events] == list(range(1, len(events) + 1))
    content = [e for e, _ in events if e["TranscriptionEvent"] == "transcription-content"]
    finals = [json.loads(e["TranscriptionData"])["transcript"] for e in content if e["Final"] == "true"]
    partials = [e for e in content if e["Final"] == "false"]
    assert finals == ["Please fix our site today.", "We are disappointed."]
    assert len(partials) == 2, "partialResults=true: a partial before each final"
    for event in content:
        assert event["Track"] == "inbound_track" and event["LanguageCode"] == "en-US"
        assert re.fullmatch(r"GT[0-9a-f]{32}", event["TranscriptionSid"])
        assert set(json.loads(event["TranscriptionData"])) == {"transcript", "confidence"}
    assert {e["CallSid"] for e, _ in events} == {next(iter(sim.world.calls))}


def test_only_the_inbound_track_hears_the_caller__R_NOTE_5(tmp_path, redis_server):
    documents = {"/talk": TALKING.replace('track="inbound_track"', 'track="outbound_track"').replace("{extra}", "")}
    with Twiml(documents) as twiml:
        call_through(twiml, "/talk", caller("We are disappointed."), tmp_path, redis_server)
        kinds = [e["TranscriptionEvent"] for e, _ in twiml.events]
    assert kinds == ["transcription-started", "transcription-stopped"]


def test_an_unknown_attribute_or_track_and_start_in_a_hold_url_are_refused__R_NOTE_5(tmp_path, redis_server):
    documents = {
        "/bad-attribute": TALKING.replace("{extra}", 'transcribeEverything="true"'),
        "/bad-track": TALKING.replace('track="inbound_track"', 'track="caller"').replace("{extra}", ""),
        "/hold": '<Response><Start><Transcription statusCallbackUrl="{base}/events"/></Start><Say>Hold.</Say></Response>',
    }
    with Twiml(documents) as twiml:
        first = call_through(twiml, "/bad-attribute", caller("hello"), tmp_path / "a", redis_server, 20)
        second = call_through(twiml, "/bad-track", caller("hello"), tmp_path / "b", redis_server, 20)
        sim = Simulation([caller()], DEFAULT_POLICY, tmp_path / "c", redis_url=redis_server.url)
        with sim:
            call = sim.world.incoming_call(sim.people[0], after=0)
            sim.run(0.5)
            sim.world.fetch(call, f"{twiml.base}/hold", kind="hold")
        assert twiml.events == [], "nothing was transcribed"
    assert first.world.errors == ["<Transcription> with unknown attributes ['transcribeEverything']"]
    assert second.world.errors == ["<Transcription> with track 'caller'"]
    assert any(e.startswith("13238") and "Start" in e for e in sim.world.errors)


def test_the_services_transcription_plays_in_the_simulator_and_forged_events_are_refused__R_NOTE_5(
    tmp_path, redis_server
):
    """Seed 001's caller leg, through the simulator: the service's <Start><Transcription> is one
    the simulator (and Twilio) accepts; events signed with the wrong token are refused with 403
    and raise nothing."""
    scenario = SCENARIOS["red-flag"](load_policy(ROOT / "policies" / "seed-001-tech-support.toml"))
    sim = Simulation(scenario.people, scenario.policy_file, tmp_path, redis_url=redis_server.url, start=scenario.start)
    with sim:
        sim.world.incoming_call(scenario.caller, after=1)
        sim.run(17)
        assert sim.world.errors == [] and sim.transcript.first(CALLER_NAME, "transcribed") is not None
        sim.world.validator = RequestValidator("not-the-auth-token")
        sim.run(30)
    content = [
        status
        for url, params, status in sim.world.sent
        if url.endswith("/voice/transcription") and params["TranscriptionEvent"] == "transcription-content"
    ]
    assert content and set(content) == {403}
    assert not [n for n in sim.core.ctx.store.notifications() if n["text"].startswith("Red flag")]


def test_the_red_flag_scenario_needs_a_policy_listening_to_live_speech__R_NOTE_5():
    for name in ("default.toml", "seed-002-customer-loyalty.toml"):
        with pytest.raises(ValueError, match=r"set \[red_flags\] live_transcription = true"):
            SCENARIOS["red-flag"](load_policy(ROOT / "policies" / name))
