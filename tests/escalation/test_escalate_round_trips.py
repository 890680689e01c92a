"""Issue 29: the agent's escalate request (`POST /api/escalations`, the 201 path) does the state
change, the caller's hold and the first ring, and nothing else: the channel post, the managers'
email, the purge timer and the archive follow from its events, in the workers. Before issue 29 it
made 38 Redis round trips (51 commands) on this harness; the bound is half of that."""

from __future__ import annotations

from redis.commands.core import Script

from tests.support import Harness

ROUND_TRIPS_BEFORE = 38  # and 51 commands, measured here before issue 29
ROUND_TRIPS_AT_MOST = ROUND_TRIPS_BEFORE // 2


class Counted:
    """What one Redis client sends while counting: round trips (a command, a script call, or a
    pipeline) and commands (each command of a pipeline counted)."""

    def __init__(self, monkeypatch, conn):
        self.trips: list[str] = []
        self.commands = 0
        command, pipeline = conn.execute_command, conn.pipeline

        def counted_command(*args, **options):
            self.trips.append(str(args[0]))
            self.commands += 1
            return command(*args, **options)

        def counted_pipeline(*args, **kwargs):
            pipe = pipeline(*args, **kwargs)
            execute = pipe.execute

            def counted_execute(*a, **k):
                self.trips.append(f"pipeline({len(pipe.command_stack)})")
                self.commands += len(pipe.command_stack)
                return execute(*a, **k)

            pipe.execute = counted_execute
            return pipe

        monkeypatch.setattr(conn, "execute_command", counted_command)
        monkeypatch.setattr(conn, "pipeline", counted_pipeline)


def escalate_counted(harness: Harness, monkeypatch, **extra):
    """(the response, what Redis was sent, the Twilio operations asked for) of one escalate, its
    scripts loaded as in a process that has run them before, no worker running after it."""
    caller_sid, _ = harness.caller_with_agent()
    store = harness.core.ctx.store
    for script in [*vars(store).values(), *vars(harness.core.ctx.timers).values()]:
        if isinstance(script, Script):
            store.r.script_load(script.script)
    harness.work_after_requests = False
    before = len(harness.rest.recorded)
    counted = Counted(monkeypatch, store.r)
    response = harness.escalate(caller_sid, **extra)
    monkeypatch.undo()
    return response, counted, [r.operation_id for r in harness.rest.recorded[before:]]


def test_escalate_makes_at_most_half_the_round_trips_and_only_the_hold_and_the_first_ring(harness, monkeypatch):
    response, counted, twilio = escalate_counted(harness, monkeypatch)

    assert response.status_code == 201, response.json
    assert len(counted.trips) <= ROUND_TRIPS_AT_MOST, (len(counted.trips), counted.trips)
    assert twilio == ["UpdateParticipant", "CreateCall"], "the caller's hold and the first ring, nothing else"


def test_the_escalate_request_posts_emails_and_archives_nothing_its_events_do__R_NOTE_1_R_NOTE_2(harness, monkeypatch):
    response, _, _ = escalate_counted(harness, monkeypatch, kind="formal_complaint")
    esc_id = response.json["id"]
    store = harness.core.ctx.store

    assert store.notifications() == [] and store.email_ids() == [], "nothing told inside the request"
    assert [e["event"] for _, e in store.outbox()] == ["escalation_raised"], "its event, written with it"
    view = response.json
    assert [e["event"] for e in view["timeline"]][:3] == ["escalated", "caller_agreed_to_hold", "caller_on_hold"]

    harness.run_jobs()

    posts = [n for n in store.notifications() if n.get("escalation") == esc_id]
    assert [p["text"].splitlines()[0] for p in posts] == ["Escalation (formal complaint) from Avery"]
    assert len(store.email_ids()) == 1, "the managers' urgent email (seed 002's formal complaint)"
    assert store.outbox() == [], "drained"
