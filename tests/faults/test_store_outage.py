"""Redis going away (issue 11): callers still get TwiML that keeps them connected, the API answers
503 store_unavailable (not a 500 with a traceback per request), one log line marks the outage and
one its end, and what was stored before is there after Redis returns (append-only file)."""

from __future__ import annotations

import logging

import redis

from telephony.adapters.local_redis import LocalRedis
from tests.support import Harness, new_call_sid


def test_redis_down_then_back__api_503_callers_kept_nothing_lost(twilio_rest, tmp_path, caplog):
    server = LocalRedis.start(tmp_path / "redis", appendonly=True)
    conn = redis.Redis.from_url(server.url, socket_timeout=1, socket_connect_timeout=1)
    try:
        harness = Harness(conn, twilio_rest)
        caller_sid, _ = harness.caller_with_agent()
        esc_id = harness.escalate(caller_sid).json["id"]
        server.stop()

        with caplog.at_level(logging.WARNING):
            for _ in range(3):
                down = harness.escalate(caller_sid)
                assert down.status_code == 503 and down.json["error"] == "store_unavailable", down.data
                assert "nothing was changed" in down.json["message"]
            read = harness.api("GET", f"/api/escalations/{esc_id}", who="lead-lee")
            assert read.status_code == 503
            heard = harness.twiml("/voice/incoming", {"CallSid": new_call_sid(), "From": "+13125550142"})
            assert heard.find("Number").text == "+13125550190", "a new caller reaches the staffed line"
            status = harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
            assert status.status_code == 503
        outage_lines = [r for r in caplog.records if "store unavailable" in r.getMessage()]
        assert len(outage_lines) == 1, [r.getMessage() for r in caplog.records]
        assert not any(r.exc_info for r in caplog.records), "no traceback per request"

        server = LocalRedis.start(server.data_dir, port=server.port, appendonly=True)
        with caplog.at_level(logging.WARNING):
            back = harness.api("GET", f"/api/escalations/{esc_id}", who="lead-lee")
        assert back.status_code == 200 and back.json["state"] == "dialing_lead", "stored before, there after"
        assert any("reachable again after 6 failed requests" in r.getMessage() for r in caplog.records)
    finally:
        conn.close()
        server.stop()
