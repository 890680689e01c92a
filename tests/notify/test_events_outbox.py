"""Issue 29: the domain events of a move are written with it (the outbox, in the script that makes
the move) and drained by the workers through one handler table (telephony/handlers.py). Nothing is
lost when a process dies between the change and its handlers, a drain run again does nothing
twice, and a store whose timers are elsewhere (a Redis Cluster) drains the same."""

from __future__ import annotations

import time

import pytest

import telephony.handlers


def escalated(harness, kind: str = "formal_complaint") -> str:
    """An escalation made with no worker running after the request: its events wait."""
    caller_sid, _ = harness.caller_with_agent()
    agent = harness.core.ctx.store.call(caller_sid)["agent_id"]
    harness.work_after_requests = False
    response = harness.escalate(caller_sid, kind=kind, who=agent)
    assert response.status_code == 201, response.json
    harness.work_after_requests = True
    return response.json["id"]


def posts(harness, esc_id: str) -> list[str]:
    """The first line of each team-channel note about this escalation."""
    return [n["text"].splitlines()[0] for n in harness.core.ctx.store.notifications() if n.get("escalation") == esc_id]


def emails(harness, esc_id: str) -> list[str]:
    return harness.core.ctx.store.escalation_emails(esc_id)


def outbox(harness) -> list[str]:
    return [e["event"] for _, e in harness.core.ctx.store.outbox()]


def died(*args, **kwargs):
    raise SystemExit("the worker died")


def test_a_worker_dead_between_the_change_and_its_handlers_loses_nothing__R_NOTE_1_R_NOTE_2(harness, monkeypatch):
    esc_id = escalated(harness)
    assert outbox(harness) == ["escalation_raised"] and posts(harness, esc_id) == []
    monkeypatch.setattr(telephony.handlers, "CLAIM_SECONDS", 1)
    monkeypatch.setattr(harness.core.notify, "urgent_email", died)

    with pytest.raises(SystemExit):  # the channel post made, then the worker killed in the email
        harness.core.events.drain()
    monkeypatch.undo()

    assert posts(harness, esc_id) == ["Escalation (formal complaint) from Avery"] and emails(harness, esc_id) == []
    assert outbox(harness) == ["escalation_raised"], "the event is still there"
    time.sleep(1.1)  # the dead drain's claim runs out
    harness.run_jobs()  # the drain timer the escalate script left

    assert posts(harness, esc_id) == ["Escalation (formal complaint) from Avery"], "posted once"
    assert len(emails(harness, esc_id)) == 1, "the email the dead worker did not write"
    assert outbox(harness) == []


def test_a_drain_run_again_after_its_handlers_ran_posts_and_emails_once__R_NOTE_1_R_NOTE_2(harness, monkeypatch):
    esc_id = escalated(harness)
    monkeypatch.setattr(telephony.handlers, "CLAIM_SECONDS", 1)
    monkeypatch.setattr(harness.core.ctx.store, "outbox_done", died)

    with pytest.raises(SystemExit):  # every handler ran; killed before the entry was cleared
        harness.core.events.drain()
    monkeypatch.undo()
    time.sleep(1.1)
    assert harness.core.events.drain() == 1
    assert harness.core.events.drain() == 0

    assert posts(harness, esc_id) == ["Escalation (formal complaint) from Avery"]
    assert len(emails(harness, esc_id)) == 1
    assert outbox(harness) == []


def test_two_drains_at_once_run_each_event_once__R_NOTE_1(harness):
    esc_id = escalated(harness, kind="manager_request")
    store = harness.core.ctx.store
    ((entry_id, _),) = store.outbox()
    assert store.claim_outbox_entry(entry_id, 60), "another worker's drain has it"

    assert harness.core.events.drain() == 0
    assert posts(harness, esc_id) == [] and outbox(harness) == ["escalation_raised"]

    store.release_outbox_entry(entry_id)
    harness.run_jobs()
    assert posts(harness, esc_id) == ["Escalation (manager request) from Avery"]


def test_a_finished_entry_leaves_no_marks_and_a_stale_drain_cannot_claim_it__R_NOTE_1(harness):
    """A drained entry takes its claim and its handlers' marks with it (none left for a day per
    escalation), and a drain that read the entry before it was finished cannot run it again."""
    esc_id = escalated(harness, kind="formal_complaint")
    store = harness.core.ctx.store
    ((entry_id, _),) = store.outbox()

    assert harness.core.events.drain() == 1
    assert posts(harness, esc_id) == ["Escalation (formal complaint) from Avery"]
    assert not store.r.keys(store.k.seen(f"outbox:{entry_id}*")), "no claim or mark left"
    assert not store.claim_outbox_entry(entry_id, 60), "a stale drain finds it gone"
    assert posts(harness, esc_id) == ["Escalation (formal complaint) from Avery"] and len(emails(harness, esc_id)) == 1


def test_the_archive_follows_escalation_finished_and_later_changes__R_NOTE_3(harness):
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    store, history = harness.core.ctx.store, harness.core.records.history
    harness.work_after_requests = False
    harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    assert outbox(harness) == ["escalation_finished"] and history.record(esc_id) is None, "not yet: in the workers"

    harness.run_jobs()
    assert history.record(esc_id)["state"] == "abandoned" and store.record(esc_id) is None

    store.add_event(esc_id, harness.core.ctx.event("case_moved", "to Client Success"))
    assert outbox(harness) == ["record_changed"], "a finished escalation's change, written with it"
    harness.run_jobs()
    assert history.record(esc_id)["what_happened"][-1] == "9:00 AM case moved: to Client Success"


def test_a_store_whose_timers_are_elsewhere_asks_for_the_drain_and_the_sweep_finds_what_is_left__R_NOTE_1(
    harness, monkeypatch
):
    """A Redis Cluster: the state's scripts cannot reach the timers' Redis, so the store asks for
    the drain after the script; a process dying in between leaves the entry for the sweep."""
    store = harness.core.ctx.store
    store.timers_beside = False
    esc_id = escalated(harness, kind="manager_request")
    assert ("drain-events", harness.clock.now()) in harness.core.ctx.timers.scheduled(), "asked for, one more call"
    harness.run_jobs()
    assert posts(harness, esc_id) == ["Escalation (manager request) from Avery"] and outbox(harness) == []

    ask = store.ask_drain
    store.ask_drain = None  # the process died after the script, before asking
    second = escalated(harness, kind="manager_request")
    store.ask_drain = ask
    harness.run_jobs()
    assert posts(harness, second) == [] and outbox(harness) == ["escalation_raised"], "left behind"

    assert harness.core.events.sweep() is False, "too fresh to be left behind"
    monkeypatch.setattr(telephony.handlers, "SWEEP_AFTER_SECONDS", 0)
    assert harness.core.events.sweep() is True
    harness.run_jobs()
    assert posts(harness, second) == ["Escalation (manager request) from Blake"] and outbox(harness) == []


def test_a_handler_that_fails_holds_back_only_its_own_event_and_runs_again_later__R_NOTE_1(harness, monkeypatch):
    store = harness.core.ctx.store
    store.drain_entry = store.ask_drain = None  # no drain asked for: this test drains by hand
    first = escalated(harness, kind="manager_request")
    second = escalated(harness, kind="manager_request")
    assert outbox(harness) == ["escalation_raised", "escalation_raised"]
    team = harness.core.notify.team

    def channel_down_for_the_first(esc_id, *args, **kwargs):
        if esc_id == first:
            raise ConnectionError("the first one's post failed")
        return team(esc_id, *args, **kwargs)

    monkeypatch.setattr(harness.core.notify, "team", channel_down_for_the_first)
    with pytest.raises(RuntimeError, match="1 outbox entries"):
        harness.core.events.drain(count=1)  # one entry a read: past the failed one to the next
    monkeypatch.undo()

    assert posts(harness, first) == [] and posts(harness, second) == ["Escalation (manager request) from Blake"]
    assert outbox(harness) == ["escalation_raised"], "the failed one waits"
    assert harness.core.events.drain() == 1
    assert posts(harness, first) == ["Escalation (manager request) from Avery"]
    assert posts(harness, second) == ["Escalation (manager request) from Blake"], "not twice"
