"""Issue 19: a callback dial in five Redis round trips where thirteen were (the claim with its
timeline entry, the lead claimed and noted as ringing, the CPS slot, the leg saved with its
timeline entry, the records archive asked once), with every write it made before still made: the
story on the timeline, the consoles told, the lead busy, and what R-CB-8 needs to find a dial
whose worker died."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from redis.commands.core import Script

from tests.hold.test_hold_and_callbacks import book_callback, holding


class RoundTrips:
    """Counts what one Redis client sends: a command (a script call among them) or a pipeline,
    each one round trip."""

    def __init__(self, monkeypatch, conn):
        self.sent: list[str] = []
        command, pipeline = conn.execute_command, conn.pipeline

        def counted_command(*args, **options):
            self.sent.append(str(args[0]))
            return command(*args, **options)

        def counted_pipeline(*args, **kwargs):
            pipe = pipeline(*args, **kwargs)
            execute = pipe.execute

            def counted_execute(*a, **k):
                self.sent.append("pipeline")
                return execute(*a, **k)

            pipe.execute = counted_execute
            return pipe

        monkeypatch.setattr(conn, "execute_command", counted_command)
        monkeypatch.setattr(conn, "pipeline", counted_pipeline)


@pytest.fixture
def due_callback(harness):
    caller_sid, esc_id = holding(harness)
    book_callback(harness, caller_sid, esc_id)
    harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    harness.clock.set(datetime.fromisoformat(harness.core.callbacks.view(cb_id)["window_start"]))
    return harness, esc_id, cb_id


def timeline(harness, esc_id) -> list[str]:
    return [e["event"] for e in harness.escalation(esc_id)["timeline"]]


def test_a_callback_dial_is_five_round_trips_and_makes_every_write__R_CB_4_R_CB_8(due_callback, monkeypatch):
    harness, esc_id, cb_id = due_callback
    store = harness.core.ctx.store
    before_events = store.last_event_id()
    before_calls = len(harness.rest.requests("CreateCall"))
    for script in [*vars(store).values(), *vars(harness.core.ctx.twilio.throttle).values()]:
        if isinstance(script, Script):  # loaded, as in a worker that has run one before
            store.r.script_load(script.script)
    trips = RoundTrips(monkeypatch, store.r)

    assert harness.core.dialler.dial(cb_id, 1) == "dialing"

    assert len(trips.sent) == 5, trips.sent
    monkeypatch.undo()
    placed = harness.rest.requests("CreateCall")[before_calls:]
    assert [c.param("To") for c in placed] == ["+13125550111"], "the first lead rung, once"
    cb = store.callback(cb_id)
    lead_sid = harness.rest.calls[-1]["sid"]
    assert cb["status"] == "dialing" and cb["attempts"] == "1" and cb["window_attempts"] == "1"
    assert cb["lead_call_sid"] == lead_sid and cb["lead"] == "lead-lee" and cb["ringing"] == ""
    assert json.loads(cb["tried"]) == ["lead-lee"] and cb["ringing_since"], "R-CB-8: whom it rang, and since when"
    assert store.leg(lead_sid) == {"role": "callback_lead", "person": "lead-lee", "callback": cb_id}
    assert harness.core.ctx.presence("lead-lee") == "busy"
    events = timeline(harness, esc_id)
    assert events[-2:] == ["callback_attempt", "callback_dialing_lead"], "the story in order"
    told = [(e["kind"], e["id"]) for _, e in store.events_after(before_events)]
    assert told == [
        ("callback", cb_id),
        ("escalation", esc_id),
        ("presence", "lead-lee"),
        ("callback", cb_id),
        ("callback", cb_id),
        ("escalation", esc_id),
    ], "every write the consoles heard of before"


def test_a_lead_not_available_is_skipped_not_tried_and_the_next_one_rung__R_CB_4(due_callback):
    harness, esc_id, cb_id = due_callback
    store = harness.core.ctx.store
    store.set_presence("lead-lee", "offline")
    before_calls = len(harness.rest.requests("CreateCall"))

    assert harness.core.dialler.dial(cb_id, 1) == "dialing"

    placed = harness.rest.requests("CreateCall")[before_calls:]
    assert [c.param("To") for c in placed] == ["sip:morgan@leads.example.com"], "Lee is offline: Morgan rung"
    cb = store.callback(cb_id)
    assert json.loads(cb["tried"]) == ["lead-morgan"] and cb["lead"] == "lead-morgan", "Lee can be rung once back"
    assert harness.core.ctx.presence("lead-lee") == "offline", "an offline lead is not made busy"


def test_no_lead_available_fails_the_attempt_with_nobody_left_ringing__R_CB_5(due_callback):
    harness, esc_id, cb_id = due_callback
    store = harness.core.ctx.store
    for person in ("lead-lee", "lead-morgan", "supervisor-sam"):
        store.set_presence(person, "offline")
    before_calls = len(harness.rest.requests("CreateCall"))

    assert harness.core.dialler.dial(cb_id, 1) == "failed"

    assert len(harness.rest.requests("CreateCall")) == before_calls, "nobody rung"
    cb = store.callback(cb_id)
    assert cb["status"] == "scheduled" and cb["ringing"] == "", "retried later, nobody noted as ringing"
    assert timeline(harness, esc_id)[-2:] == ["callback_attempt", "callback_retry"]


def test_a_worker_dead_after_the_lead_claim_frees_the_lead_and_dials_once__R_CB_8(due_callback, monkeypatch):
    """The lead claimed and noted as ringing, then the worker gone before Twilio was asked: the
    sweeper finds no call to that lead, frees them and dials the attempt again, once."""
    harness, esc_id, cb_id = due_callback
    core = harness.core
    before_calls = len(harness.rest.requests("CreateCall"))

    def killed(*args, **kwargs):
        raise SystemExit("the worker died")

    monkeypatch.setattr(core.ctx.twilio, "call", killed)
    with pytest.raises(SystemExit):
        core.dialler.dial(cb_id, 1)
    monkeypatch.undo()
    stuck = core.ctx.store.callback(cb_id)
    assert stuck["status"] == "dialing" and stuck["ringing"] == "lead-lee" and not stuck["lead_call_sid"]
    assert core.ctx.presence("lead-lee") == "busy"

    harness.advance(600)

    placed = harness.rest.requests("CreateCall")[before_calls:]
    assert [c.param("To") for c in placed] == ["+13125550111"], "dialled once, after the sweep"
    assert core.ctx.store.callback(cb_id)["lead_call_sid"]
    assert "callback_recovered" in timeline(harness, esc_id)
