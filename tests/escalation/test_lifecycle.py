"""The escalation's transition table, every (state, trigger) pair, legal and illegal: no Redis,
no Twilio, milliseconds (R-WARM-1..5, R-ESC-1, R-CB-1, R-CB-6)."""

from __future__ import annotations

import itertools

import pytest

from telephony.lifecycle import (
    FINAL_STATES,
    HOLDING_STATES,
    TABLE,
    CallbackBooked,
    CallerConnected,
    Escalation,
    EscalationFinished,
    EscalationRaised,
    EscalationState,
    IllegalTransition,
    LeadAccepted,
    LeadLeft,
    Trigger,
    event_from,
    fire,
    moves,
    sources,
)

S, T = EscalationState, Trigger

# What the procedures say, written out pair by pair (the table must say the same).
EXPECTED = {
    (None, T.ESCALATE): S.DIALING_LEAD,  # R-ESC-1: the agent escalates, the caller holds
    (S.DIALING_LEAD, T.HOLD_FAILED): S.FAILED,
    (S.DIALING_LEAD, T.LEAD_ACCEPTED): S.BRIEFING,  # R-WARM-1: accepted before anyone is connected
    (S.DIALING_LEAD, T.CALLER_LEFT): S.ABANDONED,
    (S.DIALING_LEAD, T.CALLBACK_BOOKED): S.CALLBACK_SCHEDULED,  # R-CB-1
    (S.DIALING_LEAD, T.CALLBACK_REFUSED): S.FAILED,  # R-CB-6
    (S.BRIEFING, T.CONNECT): S.CONNECTED,  # R-WARM-4
    (S.BRIEFING, T.LEAD_LEFT): S.DIALING_LEAD,  # the hunt goes on
    (S.BRIEFING, T.CALLER_LEFT): S.ABANDONED,
    (S.BRIEFING, T.CALLBACK_BOOKED): S.CALLBACK_SCHEDULED,
    (S.BRIEFING, T.CALLBACK_REFUSED): S.FAILED,
    (S.CONNECTED, T.CONNECT_FAILED): S.BRIEFING,  # still held: connect again
    (S.CONNECTED, T.LEAD_LEFT): S.RESOLVED,
    (S.CONNECTED, T.CALLER_LEFT): S.RESOLVED,
    (S.CONNECTED, T.CALLBACK_ENDED): S.RESOLVED,
    (S.CALLBACK_SCHEDULED, T.CALLBACK_CONNECTED): S.CONNECTED,  # R-CB-4: lead first, then the caller
}
EVERY_PAIR = list(itertools.product([None, *S], T))


def test_the_table_is_the_procedure__R_WARM_1_R_ESC_1_R_CB_1():
    assert dict(TABLE) == EXPECTED


@pytest.mark.parametrize(("state", "trigger"), EVERY_PAIR, ids=lambda v: str(v))
def test_every_state_and_trigger_legal_or_refused_with_a_clear_error__R_WARM_5(state, trigger):
    if (state, trigger) in EXPECTED:
        move = fire(state, trigger)
        assert (move.source, move.trigger, move.target) == (state, trigger, EXPECTED[(state, trigger)])
        assert move.finishes == (move.target in FINAL_STATES)
    else:
        with pytest.raises(IllegalTransition) as refused:
            fire(state, trigger)
        assert str(trigger) in str(refused.value) and (state is None or str(state) in str(refused.value))


def test_final_states_move_nowhere():
    for state in FINAL_STATES:
        assert not [t for t in T if (state, t) in TABLE]


def test_fire_reads_the_state_of_a_stored_escalation():
    esc = Escalation.from_hash(
        {"id": "esc-1", "call_sid": "CA1", "state": "briefing", "agent_present": "true", "lead_in_conference": "false"}
    )
    assert esc.holding and esc.agent_present and not esc.lead_in_conference
    assert fire(esc, T.CONNECT).target is S.CONNECTED
    assert fire("briefing", T.CONNECT) == fire(S.BRIEFING, T.CONNECT)


def test_sources_and_moves_agree_with_the_table():
    for trigger in T:
        assert moves(trigger) == {s: t for (s, tr), t in TABLE.items() if tr is trigger and s is not None}
        assert set(sources(trigger)) == set(moves(trigger))
    assert set(sources(T.CALLBACK_BOOKED)) == set(HOLDING_STATES)


@pytest.mark.parametrize(
    ("state", "trigger", "events"),
    [
        (None, T.ESCALATE, [EscalationRaised("e")]),
        (S.DIALING_LEAD, T.LEAD_ACCEPTED, [LeadAccepted("e")]),
        (S.BRIEFING, T.CONNECT, [CallerConnected("e")]),
        (S.BRIEFING, T.LEAD_LEFT, [LeadLeft("e")]),
        (S.CONNECTED, T.LEAD_LEFT, [LeadLeft("e"), EscalationFinished("e", S.RESOLVED)]),
        (S.BRIEFING, T.CALLBACK_BOOKED, [CallbackBooked("e")]),
        (S.CALLBACK_SCHEDULED, T.CALLBACK_CONNECTED, [CallerConnected("e")]),
        (S.DIALING_LEAD, T.CALLER_LEFT, [EscalationFinished("e", S.ABANDONED)]),
        (S.CONNECTED, T.CALLBACK_ENDED, [EscalationFinished("e", S.RESOLVED)]),
        (S.DIALING_LEAD, T.HOLD_FAILED, [EscalationFinished("e", S.FAILED)]),
        (S.CONNECTED, T.CONNECT_FAILED, []),
    ],
)
def test_each_move_causes_its_domain_events(state, trigger, events):
    made = fire(state, trigger).events("e")
    assert list(made) == events
    assert [event_from(e.as_dict()) for e in made] == events  # as written to the outbox and read back
