"""Red flags on a call (R-NOTE-5, seed 001): found in an escalation's reason, an agent's note,
what the caller says at a menu (Gather SpeechResult) and the caller's live speech (Twilio
real-time transcription, `<Start><Transcription>` on the caller's leg, events signed to
/voice/transcription). A hit tells the managers at once through an RQ job, with the phrase, the
sentence and the call; it goes on the escalation's timeline, or the call's record until one is
created; one notice per phrase per call."""

from __future__ import annotations

import json

from telephony.adapters.store import LEG_TTL_SECONDS
from telephony.config import ApiToken
from tests.support import ACCOUNT_SID, BASE, ROOT, Harness

SEED_001 = ROOT / "policies" / "seed-001-tech-support.toml"
TOKENS = {
    "agent-avery": ApiToken("tok-flags-agent-000000", "agent-1", "agent"),
    "manager-max": ApiToken("tok-flags-manager-0000", "manager-1", "manager"),
}


def seed_001(redis_conn, twilio_rest) -> Harness:
    return Harness(redis_conn, twilio_rest, policy_file=SEED_001, tokens=TOKENS)


def utterance(harness, caller_sid, text, sequence, final="true", track="inbound_track", signed=True, **extra):
    """One real-time transcription event as Twilio posts it to the statusCallbackUrl."""
    form = {
        "AccountSid": ACCOUNT_SID,
        "CallSid": caller_sid,
        "TranscriptionSid": "GT" + "7" * 32,
        "Timestamp": "2026-11-24T18:00:00.000000Z",
        "SequenceId": str(sequence),
        "TranscriptionEvent": "transcription-content",
        "LanguageCode": "en-US",
        "Track": track,
        "TranscriptionData": json.dumps({"transcript": text, "confidence": 0.93}),
        "Final": final,
        **extra,
    }
    return harness.webhook("/voice/transcription", form, signed=signed)


def red_flag_notices(harness) -> list[dict]:
    return [n for n in harness.core.ctx.store.notifications() if n["text"].startswith("Red flag")]


def flags(harness, caller_sid, who="agent-avery") -> list[dict]:
    return harness.api("GET", f"/api/calls/{caller_sid}/notes", who).json["red_flags"]


def timeline_flags(harness, esc_id) -> list[str]:
    return [e["detail"] for e in harness.escalation(esc_id)["timeline"] if e["event"] == "red_flag"]


def test_the_callers_leg_starts_live_transcription_before_joining_the_conference__R_NOTE_5(redis_conn, twilio_rest):
    harness = seed_001(redis_conn, twilio_rest)
    caller_sid = harness.caller_calls()
    heard = harness.twiml("/voice/account?attempt=1", {"CallSid": caller_sid, "Digits": "448812"})
    assert heard.verbs() == ["Start", "Say", "Dial"], "transcription starts before the caller joins"
    transcription = heard.find("Start").find("Transcription")
    assert transcription.attrib["statusCallbackUrl"] == f"{BASE}/voice/transcription"
    assert transcription.attrib["track"] == "inbound_track", "the caller's own voice, never the prompts"
    assert transcription.attrib["partialResults"] == "false"
    assert transcription.attrib["languageCode"] == "en-US"
    assert "lawyer" in transcription.attrib["hints"] and "going out to bid" in transcription.attrib["hints"]
    assert len(transcription.attrib["hints"]) <= 500


def test_without_live_transcription_in_the_policy_no_transcription_starts__R_NOTE_5(harness):
    caller_sid = harness.caller_calls()
    heard = harness.twiml("/voice/account?attempt=1", {"CallSid": caller_sid, "Digits": "448812"})
    assert heard.find("Start") is None and heard.find("Transcription") is None


def test_a_final_utterance_of_the_caller_tells_the_managers_at_once__R_NOTE_5(redis_conn, twilio_rest):
    harness = seed_001(redis_conn, twilio_rest)
    caller_sid, _ = harness.caller_with_agent()
    said = "Fix it by Monday morning. Otherwise my lawyer will contact you."
    response = utterance(harness, caller_sid, said, 1)
    assert response.status_code == 204
    [flag] = flags(harness, caller_sid)
    assert flag["phrase"] == "lawyer" and flag["source"] == "live_speech"
    assert flag["sentence"] == "Otherwise my lawyer will contact you."
    [notice] = red_flag_notices(harness)
    assert notice["to"] == "managers" and notice["urgent"] is True
    assert set(notice["people"]) == {"manager-1", "manager-2", "pm-launch", "pm-post-launch"}
    assert '"lawyer"' in notice["text"] and "Otherwise my lawyer will contact you." in notice["text"]
    assert caller_sid in notice["text"] and "account 448812" in notice["text"] and "Account Manager" in notice["text"]


def test_partials_other_tracks_and_other_events_raise_nothing__R_NOTE_5(redis_conn, twilio_rest):
    harness = seed_001(redis_conn, twilio_rest)
    caller_sid, _ = harness.caller_with_agent()
    assert utterance(harness, caller_sid, "my lawyer", 1, final="false").status_code == 204
    assert utterance(harness, caller_sid, "this is unacceptable", 2, track="outbound_track").status_code == 204
    started = {"AccountSid": ACCOUNT_SID, "CallSid": caller_sid, "TranscriptionEvent": "transcription-started"}
    assert harness.webhook("/voice/transcription", started).status_code == 204
    garbled = {"TranscriptionData": "{not json", "CallSid": caller_sid}
    assert utterance(harness, caller_sid, "", 3, **garbled).status_code == 204
    unknown_call = "CA" + "9" * 32
    assert utterance(harness, unknown_call, "my lawyer", 4).status_code == 204
    assert flags(harness, caller_sid) == [] and red_flag_notices(harness) == []


def test_an_unsigned_transcription_event_is_refused__R_NOTE_5(redis_conn, twilio_rest):
    harness = seed_001(redis_conn, twilio_rest)
    caller_sid, _ = harness.caller_with_agent()
    assert utterance(harness, caller_sid, "my lawyer", 1, signed=False).status_code == 403
    assert flags(harness, caller_sid) == [] and red_flag_notices(harness) == []


def test_one_notice_per_phrase_per_call_through_duplicates_and_reordering__R_NOTE_5(redis_conn, twilio_rest):
    harness = seed_001(redis_conn, twilio_rest)
    caller_sid, _ = harness.caller_with_agent()
    utterance(harness, caller_sid, "We are reconsidering. Our lawyers say so.", 3)
    utterance(harness, caller_sid, "This is unacceptable.", 2)
    utterance(harness, caller_sid, "This is unacceptable.", 2)
    utterance(harness, caller_sid, "My lawyer again: totally unacceptable.", 4)
    utterance(harness, caller_sid, "We are reconsidering. Our lawyers say so.", 3)
    assert [f["phrase"] for f in flags(harness, caller_sid)] == ["reconsidering", "lawyer", "unacceptable"]
    notices = red_flag_notices(harness)
    assert len(notices) == 3 and sorted(n["text"].split('"')[1] for n in notices) == [
        "lawyer",
        "reconsidering",
        "unacceptable",
    ]
    assert harness.core.red_flags.tell_managers(caller_sid, "lawyer") is False, "a rerun job tells no one again"
    assert len(red_flag_notices(harness)) == 3


def test_a_flag_before_the_escalation_is_carried_onto_its_timeline__R_NOTE_5(redis_conn, twilio_rest):
    harness = seed_001(redis_conn, twilio_rest)
    caller_sid, _ = harness.caller_with_agent()
    utterance(harness, caller_sid, "We have been talking to Brightgov Web.", 1)
    esc = harness.escalate(caller_sid, reason="site down on election night").json
    [carried] = timeline_flags(harness, esc["id"])
    assert carried.startswith('"Brightgov Web" the caller said (live transcription)')
    assert "We have been talking to Brightgov Web." in carried and "before the escalation" in carried
    utterance(harness, caller_sid, "And the media called us about it.", 2)
    assert len(timeline_flags(harness, esc["id"])) == 2, "a flag during the escalation goes straight on it"
    assert len(red_flag_notices(harness)) == 2
    assert red_flag_notices(harness)[1]["escalation"] == esc["id"]


def test_an_escalation_reason_is_matched__R_NOTE_5(redis_conn, twilio_rest):
    harness = seed_001(redis_conn, twilio_rest)
    caller_sid, _ = harness.caller_with_agent()
    esc = harness.escalate(caller_sid, reason="Client says they are going out to bid next month").json
    [detail] = timeline_flags(harness, esc["id"])
    assert detail.startswith('"going out to bid" in the escalation\'s reason (Account Manager)')
    [notice] = red_flag_notices(harness)
    assert notice["escalation"] == esc["id"] and "client Pat Doe" in notice["text"]


def test_what_the_caller_says_at_a_menu_is_matched__R_NOTE_5(redis_conn, twilio_rest):
    harness = seed_001(redis_conn, twilio_rest)
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    heard = harness.twiml(
        f"/voice/hold/choice?escalation={esc_id}&tries=0",
        {"CallSid": caller_sid, "SpeechResult": "Just call me back or my attorney will"},
    )
    assert "Press 1 to use this number, or 2 to enter another." in heard.said(), "the menu still does its work"
    [detail] = timeline_flags(harness, esc_id)
    assert detail.startswith('"attorney" the caller said at a menu')
    assert len(red_flag_notices(harness)) == 1


def test_agent_notes_are_kept_and_matched__R_NOTE_5(redis_conn, twilio_rest):
    harness = seed_001(redis_conn, twilio_rest)
    caller_sid, _ = harness.caller_with_agent()
    path = f"/api/calls/{caller_sid}/notes"
    first = harness.api("POST", path, json={"text": "Client is disappointed; they mentioned an RFP."})
    assert first.status_code == 201, first.json
    assert first.json["note"]["by"] == "agent-1"
    assert [f["phrase"] for f in first.json["red_flags"]] == ["disappointed", "RFP"]
    assert {f["source"] for f in first.json["red_flags"]} == {"agent_note"}
    again = harness.api("POST", path, json={"text": "Still disappointed. Wants the RFP answered."})
    assert again.status_code == 201 and again.json["red_flags"] == [], "each phrase once per call"
    read = harness.api("GET", path, "manager-max").json
    assert [n["text"] for n in read["notes"]] == [
        "Client is disappointed; they mentioned an RFP.",
        "Still disappointed. Wants the RFP answered.",
    ]
    assert [f["phrase"] for f in read["red_flags"]] == ["disappointed", "RFP"]
    notices = red_flag_notices(harness)
    assert len(notices) == 2 and "in an agent's note (Account Manager)" in notices[0]["text"]


def test_notes_refuse_bad_bodies_other_agents_and_unknown_calls__R_NOTE_5(harness):
    caller_sid, _ = harness.caller_with_agent()
    path = f"/api/calls/{caller_sid}/notes"
    empty = harness.api("POST", path, json={"text": "   "})
    assert (empty.status_code, empty.json["field"]) == (400, "text")
    extra = harness.api("POST", path, json={"text": "ok", "urgent": True})
    assert (extra.status_code, extra.json["field"]) == (400, "urgent")
    long = harness.api("POST", path, json={"text": "x" * 2001})
    assert (long.status_code, long.json["field"]) == (400, "text")
    other = harness.api("POST", path, "agent-blake", json={"text": "my lawyer"})
    assert (other.status_code, other.json["error"]) == (403, "not_your_call")
    missing = harness.api("POST", "/api/calls/CA" + "0" * 32 + "/notes", json={"text": "hello"})
    assert (missing.status_code, missing.json["error"]) == (404, "call_not_found")
    assert harness.api("GET", path, "agent-blake").status_code == 403
    assert harness.api("GET", path, None).status_code == 401
    assert harness.core.ctx.store.notes(caller_sid) == [] and red_flag_notices(harness) == []


def test_a_policy_without_a_lexicon_raises_nothing__R_NOTE_5(harness):
    caller_sid, _ = harness.caller_with_agent()
    note = harness.api("POST", f"/api/calls/{caller_sid}/notes", json={"text": "They will sue us, says the lawyer."})
    assert note.status_code == 201 and note.json["red_flags"] == []
    esc = harness.escalate(caller_sid, reason="threatens to sue").json
    assert timeline_flags(harness, esc["id"]) == [] and red_flag_notices(harness) == []


KEEP = 3600


def test_notes_and_red_flags_leave_with_the_finished_call__R_NOTE_5(redis_conn, twilio_rest):
    """Issue 8: live state of a finished escalation is purged after the keep time (and a call
    that was never escalated expires once it ended); its notes and red flags go with it."""
    harness = Harness(redis_conn, twilio_rest, policy_file=SEED_001, tokens=TOKENS, finished_keep_seconds=KEEP)
    caller_sid, _ = harness.caller_with_agent()
    harness.api("POST", f"/api/calls/{caller_sid}/notes", json={"text": "They are disappointed."})
    esc_id = harness.escalate(caller_sid, reason="reconsidering the contract").json["id"]
    harness.lead_accepts_and_joins(esc_id)
    assert harness.api("POST", f"/api/escalations/{esc_id}/connect", json={}).status_code == 200
    harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    side = [harness.core.ctx.store.k.call_part(caller_sid, part) for part in ("notes", "red_flags", "red_flag_order")]
    assert all(redis_conn.exists(k) for k in side), "kept while the escalation is live"
    harness.advance(KEEP + 180)
    assert not any(redis_conn.exists(k) for k in side), "purged with the escalation"


def test_notes_on_a_call_never_escalated_expire_with_it__R_NOTE_5(redis_conn, twilio_rest):
    harness = Harness(redis_conn, twilio_rest, policy_file=SEED_001, tokens=TOKENS, finished_keep_seconds=KEEP)
    quiet_sid, _ = harness.caller_with_agent()
    harness.api("POST", f"/api/calls/{quiet_sid}/notes", json={"text": "Mentioned an RFP."})
    harness.webhook("/voice/status", {"CallSid": quiet_sid, "CallStatus": "completed"})
    wrap_up = harness.api("POST", f"/api/calls/{quiet_sid}/notes", json={"text": "Wrap-up: unacceptable delays."})
    assert wrap_up.status_code == 201 and [f["phrase"] for f in wrap_up.json["red_flags"]] == ["unacceptable"]
    call_ttl = redis_conn.ttl(harness.core.ctx.store.k.call(quiet_sid))
    assert 0 < call_ttl <= LEG_TTL_SECONDS, "the call's record expires on its own"
    for part in ("notes", "red_flags", "red_flag_order"):
        assert 0 < redis_conn.ttl(harness.core.ctx.store.k.call_part(quiet_sid, part)) <= call_ttl, f"{part} expires with the ended call"
