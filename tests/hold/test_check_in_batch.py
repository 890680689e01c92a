"""Issue 19: the hold check-ins one timer job runs take one Redis round trip together (the checks,
the once-only markers, the timeline entries), then each caller still holding hears theirs; a
caller who is no longer holding (or whose escalation is gone) is skipped and the others go on; run again, nothing twice."""

from __future__ import annotations

from tests.callbacks.test_dial_round_trips import RoundTrips
from tests.hold.test_hold_and_callbacks import hold_urls
from workers.jobs import CHECK_IN, run_timers


def holding(harness) -> tuple[str, str]:
    """A caller on hold for a lead, escalated by whichever agent took them."""
    caller_sid, _ = harness.caller_with_agent()
    escalated = harness.escalate(caller_sid, who=harness.core.ctx.store.call(caller_sid)["agent_id"])
    assert escalated.status_code == 201, escalated.json
    return caller_sid, escalated.json["id"]


def check_ins_heard(harness, caller_sid: str) -> list[str]:
    return [url for url in hold_urls(harness, caller_sid) if "check_in=" in url]


def test_a_batch_of_check_ins_is_one_round_trip_and_each_caller_hears_theirs__R_HOLD_2(harness, monkeypatch):
    store = harness.core.ctx.store
    held = [holding(harness) for _ in range(2)]  # both agents' callers
    (_, gone_esc) = held[1]
    store.update_escalation(gone_esc, state="connected")  # a lead took this caller a moment ago
    batch = [
        {
            "key": f"check-in-{esc_id}",
            "func": CHECK_IN,
            "args": [esc_id, int(store.escalation(esc_id)["hold_round"]), 1],
            "tries": 0,
        }
        for _, esc_id in held
    ] + [{"key": "check-in-esc_gone", "func": CHECK_IN, "args": ["esc_0123456789abcdef", 1, 1], "tries": 0}]
    store.take_check_ins([("esc_warm", 1, "check_in:esc_warm:1:1", {})], ("dialing_lead",))  # the script loaded
    counted = RoundTrips(monkeypatch, store.r)

    assert run_timers(batch) == 3
    assert counted.sent.count("EVALSHA") == 1, f"one script for the three takes: {counted.sent}"
    caller_sid, esc_id = held[0]
    assert check_ins_heard(harness, caller_sid) == [harness.core.ctx.urls.hold_check_in(esc_id, 1)]
    assert [e["event"] for e in harness.escalation(esc_id)["timeline"]].count("check_in") == 1
    assert check_ins_heard(harness, held[1][0]) == [], "no check-in for a caller already with a lead"
    assert "check_in" not in [e["event"] for e in harness.escalation(gone_esc)["timeline"]]

    before = len(harness.rest.requests("UpdateParticipant"))
    run_timers(batch)
    assert len(harness.rest.requests("UpdateParticipant")) == before, "a batch run twice checks in once"
