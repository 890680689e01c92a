"""The store's compare-and-set applies the lifecycle's table: whichever legal state the escalation
is in when the script runs, it moves as the table says; anything else is refused and changes
nothing (R-WARM-5: a late or duplicate webhook never moves a call backwards)."""

from __future__ import annotations

from telephony.adapters.store import Store
from telephony.lifecycle import EscalationState, Trigger

S, T = EscalationState, Trigger


def _escalation(store: Store, state: EscalationState) -> str:
    store.create_escalation("esc-t1", "CA-t1", {"state": state, "kind": "manager_request"}, None, 1.0)
    return "esc-t1"


def test_a_trigger_moves_from_whichever_legal_state_it_finds__R_WARM_4(redis_conn):
    store = Store(redis_conn)
    esc_id = _escalation(store, S.CONNECTED)
    made = store.transition(esc_id, T.CALLER_LEFT, {"name": "caller_left", "at": "2026-12-08T10:00:00+00:00"})
    assert made is not None and (made.source, made.target) == (S.CONNECTED, S.RESOLVED) and made.finishes
    assert store.escalation(esc_id)["state"] == "resolved"
    assert esc_id in store.escalation_ids("resolved") and esc_id not in store.escalation_ids("connected")
    assert [e["name"] for e in store.timeline(esc_id)] == ["caller_left"]
    assert esc_id in store.finished_before(2e9)


def test_an_illegal_trigger_changes_nothing__R_WARM_5(redis_conn):
    store = Store(redis_conn)
    esc_id = _escalation(store, S.DIALING_LEAD)
    assert store.transition(esc_id, T.CONNECT, {"name": "caller_connected"}, connected_at="now") is None
    esc = store.escalation(esc_id)
    assert esc["state"] == "dialing_lead" and "connected_at" not in esc
    assert store.timeline(esc_id) == []


def test_a_move_only_from_the_state_read_loses_to_a_move_in_between(redis_conn):
    store = Store(redis_conn)
    esc_id = _escalation(store, S.BRIEFING)
    assert store.transition(esc_id, T.CONNECT) is not None  # someone connected the caller meanwhile
    assert store.transition(esc_id, T.LEAD_LEFT, source=S.BRIEFING, assignee=None) is None
    assert store.escalation(esc_id)["state"] == "connected"
    made = store.transition(esc_id, T.LEAD_LEFT, source=S.CONNECTED)
    assert made is not None and made.target is S.RESOLVED
