"""Seed 001 (a software vendor's technical support) as Harborline Civic Software,
policies/seed-001-tech-support.toml, played through the simulator: an insisting client is told
someone in management will follow up; every kind goes to the technical support manager (managers
only, never "a lead"); the case starts with that manager, status escalated, and its tags route it
to Client Success or Project Management (R-ESC-8); red flags, in live speech too, reach the
managers at once (R-NOTE-5)."""

from __future__ import annotations

import json
import re

import pytest

from telephony.policy.models import KINDS
from tests.policies.seeds import CALLER_NAME, SCENARIOS, after_hours, played, policy_of, routed
from tests.simulator.test_sim_scenarios import play

POLICY = policy_of("seed-001-tech-support.toml")
LEAD = re.compile(r"\blead(s)?\b", re.I)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_goes_to_the_technical_support_manager__R_ESC_1_R_ESC_2_R_ESC_3_R_ESC_4_R_ESC_5(
    kind, tmp_path, redis_server
):
    sim = played(routed(POLICY, kind), POLICY, tmp_path, redis_server)
    [esc] = sim.escalations()
    assert esc["assignee"] == "manager-1"
    t = sim.transcript
    assert t.first("Launch Project Manager", "rings") is None and t.first("Client Success Manager", "rings") is None
    assert not [h for h in t.heard(CALLER_NAME) if LEAD.search(h)], "managers only: the client never hears of a lead"
    assert esc["case"] == {"department": "Technical Support", "owner": "manager-1", "status": "escalated"}


@pytest.mark.parametrize(
    "tag, department, owner",
    [
        ("aging_cms", "Client Success", "manager-2"),
        ("premium_dr", "Client Success", "manager-2"),
        ("live_video", "Client Success", "manager-2"),
        ("recent_launch", "Project Management", "pm-launch"),
        ("post_launch", "Project Management", "pm-post-launch"),
    ],
)
def test_tags_route_the_case_on__R_ESC_8(tag, department, owner, tmp_path, redis_server):
    sim = played(routed(POLICY, "manager_request", tags=[tag]), POLICY, tmp_path, redis_server)
    [esc] = sim.escalations()
    assert esc["case"] == {"department": department, "owner": owner, "status": "assigned"}
    assert esc["assignee"] == "manager-1", "the call itself still goes to the technical support manager"
    events = [e["event"] for e in esc["timeline"]]
    assert events.index("case_opened") < events.index("case_routed")


def test_harborlines_words_and_the_channel__R_HOLD_1_R_NOTE_1(tmp_path, redis_server):
    sim = played(routed(POLICY, "manager_request"), POLICY, tmp_path, redis_server)
    heard = sim.transcript.heard(CALLER_NAME)
    assert heard[0] == "Thank you for calling Harborline Civic Software technical support."
    assert (
        "Thank you for your patience. I am getting a manager on the line so that someone in management can help you. "
        "Please stay on hold." in heard
    )
    note = next(n for n in sim.core.ctx.store.notifications() if n.get("escalation"))
    assert note["to"] == "ts-escalations" and note["tag"] == "@technical-support-manager"


def test_hold_check_ins_name_the_manager__R_HOLD_2_R_HOLD_3(tmp_path, redis_server):
    sim = played(SCENARIOS["hold-limit"](POLICY), POLICY, tmp_path, redis_server)
    check_ins = [h for h in sim.transcript.heard(CALLER_NAME) if h.startswith("Thank you for holding.")]
    assert check_ins and all("a manager will be with you shortly" in h for h in check_ins)


def test_someone_in_management_follows_up_by_callback__R_CB_1_R_CB_4(tmp_path, redis_server):
    sim = played(SCENARIOS["callback"](POLICY), POLICY, tmp_path, redis_server)
    assert sim.callbacks()[0]["status"] == "completed"
    assert any(
        h.startswith("Someone in management will follow up with you.") for h in sim.transcript.heard(CALLER_NAME)
    )


def test_after_hours_a_follow_up_next_business_day__R_HOURS_1_R_CB_3(tmp_path, redis_server):
    scenario, _ = after_hours(POLICY)
    sim = played(scenario, POLICY, tmp_path, redis_server)
    assert sim.callbacks()[0]["window_start"].startswith("2026-11-25T16:00"), "8:00 Pacific the next morning"


def test_a_red_flag_in_live_speech_reaches_the_managers_while_the_caller_talks__R_NOTE_5(tmp_path, redis_server):
    """Proactive escalations: the caller says "unacceptable" to their account manager; the live
    transcription of their leg tells the managers at once, long before anyone escalates; the
    lawyer said twice is told once; the agent's note and the escalation's reason raise their own;
    all four are on the escalation's timeline."""
    sim = played(SCENARIOS["red-flag"](POLICY), POLICY, tmp_path, redis_server)
    t = sim.transcript
    said = t.first(CALLER_NAME, "says", "honestly this is unacceptable")
    told = t.first("notify", "posts", 'Red flag: "unacceptable" the caller said (live transcription)')
    escalated = t.first("Agent Account Manager", "softphone", "presses escalate")
    assert said.until <= told.at <= said.until + 1 < escalated.at, "told as the words end, mid-call"
    assert "honestly this is unacceptable." in told.text and "account 448812" in told.text
    assert [e.text.split('"')[1] for e in t.of("notify", "posts") if "Red flag" in e.text] == [
        "unacceptable",
        "lawyer",
        "going out to bid",
        "reconsidering",
    ], "each phrase told once, the lawyer said twice included"
    events = [(p, status) for url, p, status in sim.world.sent if url.endswith("/voice/transcription")]
    assert {p["TranscriptionEvent"] for p, _ in events} == {
        "transcription-started",
        "transcription-content",
        "transcription-stopped",
    }
    assert {status for _, status in events} == {204}
    finals = [json.loads(p["TranscriptionData"])["transcript"] for p, _ in events if p.get("Final") == "true"]
    assert "I mean it. You will hear from my lawyer." in finals
    [esc] = sim.escalations()
    flagged = [e["detail"] for e in esc["timeline"] if e["event"] == "red_flag"]
    assert [d.split('"')[1] for d in flagged] == ["unacceptable", "lawyer", "going out to bid", "reconsidering"]
    assert all("before the escalation" in d for d in flagged[:3]) and "before" not in flagged[3]
    assert esc["assignee"] == "manager-1" and esc["state"] in ("connected", "resolved")


def test_red_flags_survive_duplicated_and_reordered_transcription_events__R_NOTE_5(tmp_path, redis_server):
    scenario = SCENARIOS["red-flag"](POLICY)
    sim = play(scenario, tmp_path, redis_server, chaos=True)
    assert scenario.check(sim) == [] and sim.world.errors == []
    sent = [p for url, p, _ in sim.world.sent if url.endswith("/voice/transcription")]
    ids = [(p["TranscriptionSid"], p["SequenceId"]) for p in sent]
    assert len(ids) > len(set(ids)), "the simulator really sent duplicates"
    notices = [n for n in sim.core.ctx.store.notifications() if n["text"].startswith("Red flag")]
    assert len(notices) == 4
