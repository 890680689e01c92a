"""What an operator sees (issue 11): JSON log lines carrying the call and escalation with phone
numbers masked, Prometheus metrics, and readiness that knows when no worker is running."""

from __future__ import annotations

import io
import json
import logging

from rq import Worker

from telephony.logs import bound, configure_logging, mask_numbers
from tests.support import Harness


def json_lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_log_lines_are_json_with_the_call_and_escalation_and_numbers_masked(redis_conn, twilio_rest):
    buffer = io.StringIO()
    harness = Harness(redis_conn, twilio_rest)
    configure_logging("json", stream=buffer)
    try:
        caller_sid, _ = harness.caller_with_agent()
        harness.webhook("/voice/hold/choice?escalation=esc_0000000000000000", {"CallSid": caller_sid, "Digits": "1"})
        with bound(call_sid=caller_sid, escalation_id="esc_1"):
            logging.getLogger("telephony.test").warning("calling the caller back on %s", "+13125550142")
    finally:
        configure_logging("text")
    lines = json_lines(buffer)
    webhook = next(line for line in lines if "voice webhook /voice/hold/choice" in line["message"])
    assert webhook["call_sid"] == caller_sid and webhook["escalation_id"] == "esc_0000000000000000"
    assert webhook["level"] == "WARNING" and webhook["logger"] and webhook["time"]
    callback = next(line for line in lines if line["message"].startswith("calling the caller back"))
    assert callback["message"] == "calling the caller back on ***0142"
    assert callback["call_sid"] == caller_sid and callback["escalation_id"] == "esc_1"
    assert "+13125550142" not in buffer.getvalue()


def test_numbers_are_masked_but_dates_and_ids_are_not():
    assert mask_numbers("from +13125550142 and (312) 555-0142") == "from ***0142 and ***0142"
    kept = "at 2026-11-24T15:00:00+00:00 call CA0123456789abcdef0123456789abcdef esc_a1234567890b"
    assert mask_numbers(kept) == kept


def test_metrics_show_webhook_latency_escalations_by_state_and_twilio_errors(harness):
    caller_sid, _ = harness.caller_with_agent()
    harness.rest.fail_next("CreateCall", status=503, code=20503, message="Service Unavailable")
    harness.escalate(caller_sid)
    text = harness.client.get("/metrics").get_data(as_text=True)
    assert 'escalations_webhook_seconds_count{route="/voice/account"}' in text
    assert 'escalations_webhook_seconds_count{route="/api/escalations"}' in text
    assert 'escalations_by_state{organisation="example-support",state="dialing_lead"} 1.0' in text
    assert 'escalations_twilio_rest_errors_total{operation="place call",status="503"}' in text
    assert 'escalations_callbacks_due{organisation="example-support"} 0.0' in text
    assert 'escalations_callbacks_overdue{organisation="example-support"} 0.0' in text


def test_hold_timer_lateness_is_measured(harness):
    caller_sid, _ = harness.caller_with_agent()
    harness.escalate(caller_sid)
    before = harness.client.get("/metrics").get_data(as_text=True)
    harness.advance(125)
    after = harness.client.get("/metrics").get_data(as_text=True)

    def count(text):
        line = next(
            (
                x
                for x in text.splitlines()
                if x.startswith('escalations_timer_lateness_seconds_count{timer="check_in"}')
            ),
            "",
        )
        return float(line.split()[-1]) if line else 0.0

    assert count(after) == count(before) + 1


def test_ready_only_with_a_worker_heartbeat(harness):
    not_ready = harness.client.get("/ready")
    assert not_ready.status_code == 503
    assert "no RQ worker" in not_ready.json["problems"][0]
    worker = Worker(harness.core.ctx.timers.queues(), connection=harness.core.ctx.store.r)
    worker.register_birth()
    worker.heartbeat()
    try:
        ready = harness.client.get("/ready")
        assert ready.status_code == 200 and ready.json["status"] == "ready" and ready.json["workers"] == 1
    finally:
        worker.register_death()
