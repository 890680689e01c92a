"""Hold limits and callbacks told as stories on the virtual clock, with a real RQ worker running
the timers (R-HOLD-1..4, R-CB-1..8, R-HOURS-1..2)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import redis

from telephony.core import build_core
from tests.support import BASE, Harness

CHICAGO_TUESDAY_9AM = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def holding(harness) -> tuple[str, str]:
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    return caller_sid, esc_id


def hold_urls(harness, caller_sid):
    return [
        r.param("HoldUrl")
        for r in harness.rest.requests("UpdateParticipant")
        if r.path_params["CallSid"] == caller_sid and r.param("Hold") == "true"
    ]


def redirects(harness, call_sid):
    return [
        r.param("Url")
        for r in harness.rest.requests("UpdateCall")
        if r.path_params["Sid"] == call_sid and r.param("Url")
    ]


def test_check_ins_at_2_and_4_minutes_and_offer_at_5__R_HOLD_2_R_HOLD_3(harness):
    caller_sid, esc_id = holding(harness)
    harness.advance(119)
    assert len(hold_urls(harness, caller_sid)) == 1, "no check-in before 2 minutes"
    harness.advance(1)
    urls = hold_urls(harness, caller_sid)
    assert urls[-1] == f"{BASE}/voice/hold?escalation={esc_id}&check_in=1"
    heard = harness.twiml(urls[-1], {"CallSid": caller_sid})
    assert heard.said()[0].startswith("Thank you for holding. We have not forgotten you")
    assert set(heard.verbs()) <= {"Say", "Play", "Pause", "Redirect"}
    events = [e["event"] for e in harness.escalation(esc_id)["timeline"]]
    assert events.count("check_in") == 1, "the agent's console is prompted too"

    harness.advance(120)
    assert hold_urls(harness, caller_sid)[-1].endswith("check_in=2")
    assert redirects(harness, caller_sid) == []
    harness.advance(59)
    assert redirects(harness, caller_sid) == [], "the limit is 5 minutes, not less"
    harness.advance(1)
    assert redirects(harness, caller_sid) == [f"{BASE}/voice/hold/offer?escalation={esc_id}"]
    offer = harness.twiml(f"/voice/hold/offer?escalation={esc_id}", {"CallSid": caller_sid})
    gather = offer.find("Gather")
    assert gather.get("input") == "dtmf speech", "by keypad and by speech"
    assert "To keep holding, press 1" in offer.text() and "callback" in offer.text()
    assert harness.escalation(esc_id)["timeline"][-1]["event"] == "hold_limit"


def test_timers_stop_the_moment_the_lead_is_connected__R_HOLD_4(harness):
    caller_sid, esc_id = holding(harness)
    harness.advance(60)
    harness.lead_accepts_and_joins(esc_id)
    harness.api("POST", f"/api/escalations/{esc_id}/connect", json={})
    harness.advance(600)
    assert len(hold_urls(harness, caller_sid)) == 1
    assert redirects(harness, caller_sid) == []
    assert "check_in" not in [e["event"] for e in harness.escalation(esc_id)["timeline"]]


def test_keep_holding_resets_the_clock_once_then_the_callback_offer__R_HOLD_3(harness):
    caller_sid, esc_id = holding(harness)
    harness.advance(300)
    loop = harness.twiml(f"/voice/hold/choice?escalation={esc_id}&tries=0", {"CallSid": caller_sid, "Digits": "1"})
    assert "still in line" in loop.text()
    assert loop.find("Gather") is not None, "outside the conference the caller can still ask for a callback"
    assert loop.verbs()[-1] == "Redirect"
    harness.advance(120)
    events = [e["event"] for e in harness.escalation(esc_id)["timeline"]]
    assert events.count("check_in") == 3
    harness.advance(180)
    assert redirects(harness, caller_sid)[-1] == f"{BASE}/voice/callback/number?escalation={esc_id}&tries=0"

    harness.lead_accepts_and_joins(esc_id)
    assert harness.api("POST", f"/api/escalations/{esc_id}/connect", json={}).status_code == 200
    assert redirects(harness, caller_sid)[-1] == f"{BASE}/voice/rejoin?escalation={esc_id}", (
        "a caller outside the conference is brought back in"
    )
    rejoin = harness.twiml(f"/voice/rejoin?escalation={esc_id}", {"CallSid": caller_sid})
    assert rejoin.conference().text == f"call-{caller_sid}"


def test_caller_asks_for_a_callback_by_speech__R_HOLD_3_R_CB_1(harness):
    caller_sid, esc_id = holding(harness)
    harness.advance(300)
    heard = harness.twiml(
        f"/voice/hold/choice?escalation={esc_id}&tries=0", {"CallSid": caller_sid, "SpeechResult": "just call me back"}
    )
    assert "We can call you back at 3 1 2, 5 5 5, 0 1 4 2" in heard.text()
    unclear = harness.twiml(
        f"/voice/hold/choice?escalation={esc_id}&tries=0", {"CallSid": caller_sid, "SpeechResult": "banana"}
    )
    assert unclear.said()[0].startswith("Sorry, I did not catch that")


def book_callback(harness, caller_sid, esc_id, window_digit="2"):
    harness.twiml(f"/voice/callback/number?escalation={esc_id}", {"CallSid": caller_sid})
    windows = harness.twiml(
        f"/voice/callback/number-choice?escalation={esc_id}&tries=0", {"CallSid": caller_sid, "Digits": "1"}
    )
    confirmed = harness.twiml(
        f"/voice/callback/window?escalation={esc_id}&tries=0", {"CallSid": caller_sid, "Digits": window_digit}
    )
    return windows, confirmed


def test_callback_booked_in_a_two_hour_window_and_stored_before_the_confirmation__R_CB_2_R_CB_8_R_NOTE_1(harness):
    caller_sid, esc_id = holding(harness)
    windows, confirmed = book_callback(harness, caller_sid, esc_id)
    text = windows.text()
    assert "For as soon as someone is available, press 1." in text
    assert "For today between 10 AM and 12 PM, press 2." in text
    assert "For today between 12 PM and 2 PM, press 3." in text
    assert "We will call you at 3 1 2, 5 5 5, 0 1 4 2, today between 10 AM and 12 PM." in confirmed.text()
    assert confirmed.verbs()[-1] == "Hangup"

    listed = harness.api("GET", "/api/callbacks?status=scheduled", who="lead-lee").json["callbacks"]
    assert len(listed) == 1
    cb = listed[0]
    assert cb["number"] == "+13125550142"
    assert cb["window_start"] == "2026-11-24T16:00:00+00:00" and cb["window_end"] == "2026-11-24T18:00:00+00:00"
    assert cb["status"] == "scheduled" and cb["attempts"] == 0
    esc = harness.escalation(esc_id)
    assert esc["state"] == "callback_scheduled" and esc["callback"]["id"] == cb["id"]
    note = harness.core.ctx.store.notifications()[-1]
    for field in (
        "Pat Doe",
        "https://crm.example.test/c/448812",
        "billed twice for equipment",
        "today between 10 AM and 12 PM",
        "@am-leads",
    ):
        assert field in note["text"]
    assert any(key.startswith("dial-") for key, _ in harness.core.ctx.timers.scheduled())


def test_bad_numbers_are_reprompted_never_stored__R_CB_2(harness):
    caller_sid, esc_id = holding(harness)
    asked = harness.twiml(
        f"/voice/callback/number-choice?escalation={esc_id}&tries=0", {"CallSid": caller_sid, "Digits": "2"}
    )
    assert "enter the number" in asked.text()
    for bad in ("123", "9005550123", "5550123"):
        again = harness.twiml(
            f"/voice/callback/number-keyed?escalation={esc_id}&tries=0", {"CallSid": caller_sid, "Digits": bad}
        )
        assert "cannot call that number" in again.text(), bad
        assert harness.core.callback_capture.pending_number(esc_id) == ""
    good = harness.twiml(
        f"/voice/callback/number-keyed?escalation={esc_id}&tries=1", {"CallSid": caller_sid, "Digits": "3125550199"}
    )
    assert "You entered 3 1 2, 5 5 5, 0 1 9 9" in good.text()
    assert harness.core.callback_capture.pending_number(esc_id) == "+13125550199"


def test_after_hours_callback_slots_start_next_business_day__R_CB_3_R_HOURS_1(harness):
    harness.clock.set(datetime(2026, 11, 24, 23, 30, tzinfo=UTC))
    caller_sid, esc_id = holding(harness)
    windows, _ = book_callback(harness, caller_sid, esc_id, window_digit="1")
    assert "For tomorrow between 8 AM and 10 AM, press 2." in windows.text()
    cb = harness.api("GET", "/api/callbacks", who="lead-lee").json["callbacks"][0]
    assert cb["window_start"] == "2026-11-25T14:00:00+00:00", "as soon as someone is available means the next opening"


def test_holiday_is_skipped_for_callback_windows__R_CB_3(harness):
    harness.clock.set(datetime(2026, 11, 25, 23, 30, tzinfo=UTC))
    caller_sid, esc_id = holding(harness)
    windows, _ = book_callback(harness, caller_sid, esc_id)
    assert "Thursday" not in windows.text() and "tomorrow" not in windows.text()
    assert "on Friday, November 27, between 8 AM and 10 AM" in windows.text()


def dial_due(harness, cb_id):
    cb = harness.core.callbacks.view(cb_id)
    harness.clock.set(max(datetime.fromisoformat(cb["window_start"]), harness.clock.now()))
    harness.run_jobs()


def test_callback_rings_the_lead_first_then_the_caller_with_machine_detection__R_CB_4(harness):
    caller_sid, esc_id = holding(harness)
    book_callback(harness, caller_sid, esc_id)
    harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    before = len(harness.rest.requests("CreateCall"))
    harness.advance(59 * 60)
    assert len(harness.rest.requests("CreateCall")) == before, "nothing is dialled before the window"
    dial_due(harness, cb_id)
    calls = harness.rest.requests("CreateCall")[before:]
    assert [c.param("To") for c in calls] == ["+13125550111"], "the lead first, never the caller first"
    lead_sid = harness.core.ctx.store.callback(cb_id)["lead_call_sid"]
    heard = harness.twiml(f"/voice/callback/lead/answer?callback={cb_id}", {"CallSid": lead_sid})
    assert heard.said()[0] == "This is a scheduled callback for an escalation."
    assert "in transfer" not in heard.text(), "nobody is being transferred: the lead is about to call the caller"
    assert "billed twice" in heard.text()
    joined = harness.twiml(f"/voice/callback/lead/decision?callback={cb_id}", {"CallSid": lead_sid, "Digits": "1"})
    assert joined.conference().text == f"callback-{cb_id}"
    caller_leg = harness.rest.requests("CreateCall")[-1]
    assert caller_leg.param("To") == "+13125550142"
    assert caller_leg.param("MachineDetection") == "DetectMessageEnd"
    assert caller_leg.param("From") == "+13125550100"
    caller_leg_sid = harness.core.ctx.store.callback(cb_id)["caller_call_sid"]
    hello = harness.twiml(
        f"/voice/callback/caller/answer?callback={cb_id}", {"CallSid": caller_leg_sid, "AnsweredBy": "human"}
    )
    assert hello.conference().text == f"callback-{cb_id}"
    assert harness.core.callbacks.view(cb_id)["status"] == "completed"
    assert harness.escalation(esc_id)["state"] == "connected"


def test_caller_not_answering_is_retried_then_rescheduled_and_team_told__R_CB_5(harness):
    caller_sid, esc_id = holding(harness)
    book_callback(harness, caller_sid, esc_id)
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    dial_due(harness, cb_id)
    for attempt in range(1, 4):
        if attempt > 1:
            harness.advance(600)
        lead_sid = harness.core.ctx.store.callback(cb_id)["lead_call_sid"]
        harness.twiml(f"/voice/callback/lead/answer?callback={cb_id}", {"CallSid": lead_sid})
        harness.twiml(f"/voice/callback/lead/decision?callback={cb_id}", {"CallSid": lead_sid, "Digits": "1"})
        caller_leg = harness.core.ctx.store.callback(cb_id)["caller_call_sid"]
        harness.leg_status(f"/voice/callback/caller/status?callback={cb_id}", caller_leg, "no-answer")
        harness.leg_status(f"/voice/callback/lead/status?callback={cb_id}", lead_sid, "completed")
        cb = harness.core.callbacks.view(cb_id)
        assert cb["attempts"] == attempt
        if attempt < 3:
            assert cb["status"] == "scheduled"
            assert cb["window_start"] == "2026-11-24T16:00:00+00:00"
    assert cb["status"] == "rescheduled"
    assert cb["window_start"] == "2026-11-25T16:00:00+00:00", "the same time of day on the next business day"
    assert "rescheduled" in harness.core.ctx.store.notifications()[-1]["text"]
    hang_ups = [r for r in harness.rest.requests("UpdateCall") if r.param("Status") == "completed"]
    assert len(hang_ups) == 3, "the waiting lead is released each time"


def test_answering_machine_gets_the_message_and_a_retry__R_CB_5(harness):
    caller_sid, esc_id = holding(harness)
    book_callback(harness, caller_sid, esc_id)
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    dial_due(harness, cb_id)
    lead_sid = harness.core.ctx.store.callback(cb_id)["lead_call_sid"]
    harness.twiml(f"/voice/callback/lead/answer?callback={cb_id}", {"CallSid": lead_sid})
    harness.twiml(f"/voice/callback/lead/decision?callback={cb_id}", {"CallSid": lead_sid, "Digits": "1"})
    caller_leg = harness.core.ctx.store.callback(cb_id)["caller_call_sid"]
    machine = harness.twiml(
        f"/voice/callback/caller/answer?callback={cb_id}", {"CallSid": caller_leg, "AnsweredBy": "machine_end_beep"}
    )
    assert "returning your call" in machine.text() and machine.verbs()[-1] == "Hangup"
    assert machine.conference() is None
    cb = harness.core.callbacks.view(cb_id)
    assert cb["status"] == "scheduled" and cb["attempts"] == 1
    harness.advance(600)
    assert harness.core.callbacks.view(cb_id)["status"] == "dialing"


def test_lead_not_answering_a_callback_rings_the_next_lead__R_CB_4(harness):
    caller_sid, esc_id = holding(harness)
    book_callback(harness, caller_sid, esc_id)
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    dial_due(harness, cb_id)
    first = harness.core.ctx.store.callback(cb_id)["lead_call_sid"]
    harness.leg_status(f"/voice/callback/lead/status?callback={cb_id}", first, "no-answer")
    harness.leg_status(f"/voice/callback/lead/status?callback={cb_id}", first, "no-answer")
    assert [r.param("To") for r in harness.rest.requests("CreateCall")][-2:] == [
        "+13125550111",
        "sip:morgan@leads.example.com",
    ]


def test_a_lead_busy_when_the_attempt_began_is_rung_once_free_when_the_next_declines__R_CB_4(harness):
    caller_sid, esc_id = holding(harness)
    book_callback(harness, caller_sid, esc_id)
    harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    harness.core.ctx.store.set_presence("lead-lee", "busy")
    dial_due(harness, cb_id)
    assert harness.rest.requests("CreateCall")[-1].param("To") == "sip:morgan@leads.example.com", "Lee is busy"
    morgan = harness.core.ctx.store.callback(cb_id)["lead_call_sid"]
    harness.core.ctx.store.set_presence("lead-lee", "available")
    harness.twiml(f"/voice/callback/lead/answer?callback={cb_id}", {"CallSid": morgan})
    harness.twiml(f"/voice/callback/lead/decision?callback={cb_id}", {"CallSid": morgan, "Digits": "2"})
    assert harness.rest.requests("CreateCall")[-1].param("To") == "+13125550111", "Lee was never tried, and is free now"
    assert harness.core.callbacks.view(cb_id)["status"] == "dialing"


def test_two_workers_racing_dial_one_callback_once__R_CB_8(harness, redis_conn):
    caller_sid, esc_id = holding(harness)
    book_callback(harness, caller_sid, esc_id)
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    before = len(harness.rest.requests("CreateCall"))
    other = build_core(harness.settings, redis.Redis(connection_pool=redis_conn.connection_pool), clock=harness.clock)
    results = []
    barrier = threading.Barrier(2)

    def worker(core):
        barrier.wait()
        results.append(core.dialler.dial(cb_id, 1))

    threads = [threading.Thread(target=worker, args=(c,)) for c in (harness.core, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["dialing", "skipped"]
    assert len(harness.rest.requests("CreateCall")) == before + 1
    assert harness.core.dialler.dial(cb_id, 1) == "skipped", "a retried job does not dial again"


def test_callback_not_made_by_its_deadline_is_overdue_and_managers_told__R_CB_7(harness):
    caller_sid, esc_id = holding(harness)
    book_callback(harness, caller_sid, esc_id)
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    assert harness.core.callbacks.view(cb_id)["deadline"] == "2026-11-25T15:00:00+00:00"
    for person in ("lead-lee", "lead-morgan", "supervisor-sam"):
        harness.core.ctx.store.set_presence(person, "offline")
    harness.advance(24 * 3600)
    cb = harness.core.callbacks.view(cb_id)
    assert cb["overdue"] is True
    managers = [n for n in harness.core.ctx.store.notifications() if n["to"] == "managers"]
    assert managers and "overdue" in managers[-1]["text"] and managers[-1]["urgent"] is True


def test_caller_refusing_a_callback_tells_the_agents_direct_leader__R_CB_6(harness):
    caller_sid, esc_id = holding(harness)
    for _ in range(3):
        harness.leg_status(f"/voice/lead/status?escalation={esc_id}", harness.lead_leg(esc_id), "no-answer")
    back = harness.twiml(
        f"/voice/callback/offer-choice?escalation={esc_id}&tries=0", {"CallSid": caller_sid, "Digits": "2"}
    )
    assert back.conference().text == f"call-{caller_sid}", "the caller goes back to their agent, not dropped"
    assert "letting a team leader know" in back.text()
    note = harness.core.ctx.store.notifications()[-1]
    assert note["to"] == "@lead-lee" and "refused a callback" in note["text"]
    assert harness.escalation(esc_id)["state"] == "failed"


def test_callbacks_api_lists_cancels_and_reschedules_for_leads_only(harness):
    caller_sid, esc_id = holding(harness)
    book_callback(harness, caller_sid, esc_id)
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    assert harness.api("POST", f"/api/callbacks/{cb_id}/cancel", who="agent-avery").status_code == 403
    bad = harness.api("POST", f"/api/callbacks/{cb_id}/reschedule", who="lead-lee", json={"window_start": "tomorrow"})
    assert bad.status_code == 400 and bad.json["field"] == "window_start"
    moved = harness.api(
        "POST",
        f"/api/callbacks/{cb_id}/reschedule",
        who="lead-lee",
        json={"window_start": "2026-11-25T10:00:00-06:00", "window_end": "2026-11-25T12:00:00-06:00"},
    )
    assert moved.status_code == 200 and moved.json["status"] == "rescheduled"
    assert moved.json["window_start"] == "2026-11-25T10:00:00-06:00"
    cancelled = harness.api("POST", f"/api/callbacks/{cb_id}/cancel", who="lead-lee")
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    harness.advance(26 * 3600)
    assert harness.core.callbacks.view(cb_id)["status"] == "cancelled", "a cancelled callback is never dialled"
    assert harness.api("GET", "/api/callbacks?status=cancelled", who="lead-lee").json["callbacks"][0]["id"] == cb_id
    assert harness.api("GET", "/api/callbacks?status=nope", who="lead-lee").status_code == 400


def test_outbound_calls_respect_calls_per_second(redis_conn):
    from telephony.adapters.throttle import OutboundThrottle

    now = [1000.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    throttle = OutboundThrottle(redis_conn, 1, now=lambda: now[0], sleep=sleep)
    starts = []
    for _ in range(3):
        throttle()
        starts.append(int(now[0]))
    assert starts == [1000, 1001, 1002], "one call per second, the rest wait their turn"
    assert len(slept) == 2


def test_voicemail_after_last_limit_when_policy_says_so__R_HOLD_3(redis_conn, twilio_rest, tmp_path):
    from tests.support import ROOT

    text = (
        (ROOT / "policies" / "default.toml")
        .read_text()
        .replace('after_last_limit = "callback"', 'after_last_limit = "voicemail"')
        .replace("keep_holding_resets = 1", "keep_holding_resets = 0")
    )
    policy = tmp_path / "voicemail.toml"
    policy.write_text(text)
    harness = Harness(redis_conn, twilio_rest, policy_file=policy)
    caller_sid, esc_id = holding(harness)
    harness.advance(300)
    assert redirects(harness, caller_sid) == [f"{BASE}/voice/voicemail?escalation={esc_id}"]
    vm = harness.twiml(f"/voice/voicemail?escalation={esc_id}", {"CallSid": caller_sid})
    assert vm.find("Record") is not None
    harness.twiml(
        f"/voice/voicemail/done?escalation={esc_id}",
        {"CallSid": caller_sid, "RecordingUrl": "https://api.twilio.com/rec/RE1"},
    )
    esc = harness.escalation(esc_id)
    assert esc["state"] == "callback_scheduled" and esc["callback"]["number"] == "+13125550142"


def test_after_hours_only_the_on_call_people_are_rung_then_callback_next_day__R_HOURS_1(harness):
    harness.clock.set(datetime(2026, 11, 24, 23, 30, tzinfo=UTC))
    caller_sid, esc_id = holding(harness)
    assert [r.param("To") for r in harness.rest.requests("CreateCall")] == ["+13125550111"], "only the on-call lead"
    harness.leg_status(f"/voice/lead/status?escalation={esc_id}", harness.lead_leg(esc_id), "no-answer")
    assert redirects(harness, caller_sid)[-1] == f"{BASE}/voice/callback/offer?escalation={esc_id}"
    windows, confirmed = book_callback(harness, caller_sid, esc_id)
    assert "tomorrow between 8 AM and 10 AM" in confirmed.text()


def test_leads_busy_caller_keeps_holding_until_one_is_free__R_HOURS_2(harness):
    for person in ("lead-lee", "lead-morgan", "supervisor-sam"):
        assert (
            harness.api("PUT", f"/api/people/{person}/presence", who="lead-lee", json={"presence": "busy"}).status_code
            == 200
        )
    caller_sid, esc_id = holding(harness)
    assert harness.rest.requests("CreateCall") == []
    offer_url = redirects(harness, caller_sid)[-1]
    assert offer_url == f"{BASE}/voice/callback/offer?escalation={esc_id}&busy=1"
    offer = harness.twiml(offer_url, {"CallSid": caller_sid})
    assert "currently assisting other customers" in offer.text() and "end of business today" in offer.text()
    loop = harness.twiml(
        f"/voice/callback/offer-choice?escalation={esc_id}&tries=0&busy=1", {"CallSid": caller_sid, "Digits": "2"}
    )
    assert "still in line" in loop.text()
    assert (
        harness.api(
            "PUT", "/api/people/lead-morgan/presence", who="lead-lee", json={"presence": "available"}
        ).status_code
        == 200
    )
    assert [r.param("To") for r in harness.rest.requests("CreateCall")] == ["sip:morgan@leads.example.com"]
    harness.lead_accepts_and_joins(esc_id)
    harness.api("POST", f"/api/escalations/{esc_id}/connect", json={})
    assert redirects(harness, caller_sid)[-1] == f"{BASE}/voice/rejoin?escalation={esc_id}"


def test_leads_busy_callback_is_due_by_end_of_business_day__R_HOURS_2_R_CB_7(harness):
    for person in ("lead-lee", "lead-morgan", "supervisor-sam"):
        harness.core.ctx.store.set_presence(person, "busy")
    caller_sid, esc_id = holding(harness)
    heard = harness.twiml(
        f"/voice/callback/offer-choice?escalation={esc_id}&tries=0&busy=1",
        {"CallSid": caller_sid, "SpeechResult": "call me back"},
    )
    assert "We can call you back" in heard.text()
    book_callback(harness, caller_sid, esc_id)
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    assert harness.core.callbacks.view(cb_id)["deadline"] == "2026-11-24T23:00:00+00:00"


def test_windows_are_spoken_in_the_callers_time_zone__R_CB_2(harness):
    caller_sid, esc_id = holding(harness)
    harness.twiml(f"/voice/callback/number-choice?escalation={esc_id}&tries=0", {"CallSid": caller_sid, "Digits": "2"})
    harness.twiml(
        f"/voice/callback/number-keyed?escalation={esc_id}&tries=0", {"CallSid": caller_sid, "Digits": "2125550123"}
    )
    windows = harness.twiml(
        f"/voice/callback/number-confirmed?escalation={esc_id}", {"CallSid": caller_sid, "Digits": "1"}
    )
    assert "For today between 11 AM and 1 PM, press 2." in windows.text(), "10 AM Chicago is 11 AM in New York"
    confirmed = harness.twiml(
        f"/voice/callback/window?escalation={esc_id}&tries=0", {"CallSid": caller_sid, "Digits": "2"}
    )
    assert "today between 11 AM and 1 PM" in confirmed.text()
    cb = harness.api("GET", "/api/callbacks", who="lead-lee").json["callbacks"][0]
    assert cb["number"] == "+12125550123" and cb["window_start"] == "2026-11-24T16:00:00+00:00"


def test_the_callback_number_is_read_back_one_way_everywhere__R_CB_2(harness):
    caller_sid, esc_id = holding(harness)
    harness.advance(300)
    offered = harness.twiml(f"/voice/hold/choice?escalation={esc_id}", {"CallSid": caller_sid, "Digits": "2"})
    windows = harness.twiml(
        f"/voice/callback/number-choice?escalation={esc_id}", {"CallSid": caller_sid, "Digits": "1"}
    )
    booked = harness.twiml(f"/voice/callback/window?escalation={esc_id}", {"CallSid": caller_sid, "Digits": "1"})
    spoken = "3 1 2, 5 5 5, 0 1 4 2"
    assert f"We can call you back at {spoken}." in offered.said()
    assert windows.said(), "the windows follow"
    assert any(line.startswith(f"We will call you at {spoken},") for line in booked.said()), booked.said()
    assert "1 3 1 2" not in booked.text() and "3 1 2 5" not in offered.text()


def test_a_busy_lead_skipped_is_rung_when_free_after_the_next_tier_does_not_answer__R_CB_4_R_CB_5(harness):
    """Issue 35 item 5: both leads were busy when the attempt began, so the supervisor is rung;
    a lead comes free meanwhile; the supervisor does not answer. The lead is rung within this
    attempt, not after the retry spacing: a lead who was busy is not a lead who was tried."""
    caller_sid, esc_id = holding(harness)
    book_callback(harness, caller_sid, esc_id)
    harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    for lead in ("lead-lee", "lead-morgan"):
        harness.core.ctx.store.set_presence(lead, "busy")
    before = len(harness.rest.requests("CreateCall"))
    dial_due(harness, cb_id)
    assert harness.rest.requests("CreateCall")[-1].param("To") == "+13125550121", "both leads busy: Sam"
    sam = harness.core.ctx.store.callback(cb_id)["lead_call_sid"]
    harness.core.ctx.store.set_presence("lead-morgan", "available")
    harness.leg_status(f"/voice/callback/lead/status?callback={cb_id}", sam, "no-answer")
    assert harness.rest.requests("CreateCall")[-1].param("To") == "sip:morgan@leads.example.com", "free now"
    cb = harness.core.callbacks.view(cb_id)
    assert cb["status"] == "dialing" and cb["attempts"] == 1, "the same attempt, no retry spacing waited"
    timeline = [e["event"] for e in harness.escalation(esc_id)["timeline"]]
    assert "callback_retry" not in timeline

    morgan = harness.core.ctx.store.callback(cb_id)["lead_call_sid"]
    harness.leg_status(f"/voice/callback/lead/status?callback={cb_id}", morgan, "no-answer")
    assert harness.core.callbacks.view(cb_id)["status"] == "scheduled", "Lee still busy, all others tried: a retry"
    rung = [r.param("To") for r in harness.rest.requests("CreateCall")[before:]]
    assert rung == ["+13125550121", "sip:morgan@leads.example.com"], "Lee, busy throughout, never rung"
