"""Redis going away (issue 11): callers still get TwiML that keeps them connected, the API answers
503 store_unavailable (not a 500 with a traceback per request), one log line marks the outage and
one its end, and what was stored before is there after Redis returns (append-only file)."""

from __future__ import annotations

import logging
import signal
import time

import pytest
import redis

from telephony.adapters.local_redis import LocalRedis
from telephony.adapters.store.connection import FAIL_FAST_PAUSE_SECONDS, WEB_SOCKET_TIMEOUT_SECONDS, connect
from tests.support import Harness, new_call_sid, settings_for


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


def test_a_frozen_redis_costs_the_web_one_timeout_then_fails_at_once_until_it_answers(tmp_path):
    """Issue 34, probe 3: with Redis frozen (SIGSTOP) each command waited redis-py's 5 s and a
    retry. The web's client waits one socket timeout, is not retried, and for the pause after it
    every command fails at once; once Redis answers again, so does the client."""
    server = LocalRedis.start(tmp_path / "redis", appendonly=True)
    settings = settings_for(redis_url=server.url)
    conn = connect(settings, fail_fast=True)
    try:
        conn.set("k", "before")
        server.process.send_signal(signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            conn.get("k")
        waited = time.monotonic() - started
        assert waited < 2 * WEB_SOCKET_TIMEOUT_SECONDS, "one socket timeout, no retry"
        started = time.monotonic()
        for _ in range(20):
            with pytest.raises(redis.ConnectionError, match="not asked again"):
                conn.get("k")
        assert time.monotonic() - started < WEB_SOCKET_TIMEOUT_SECONDS, "the others fail at once"
        server.process.send_signal(signal.SIGCONT)
        time.sleep(FAIL_FAST_PAUSE_SECONDS)
        assert conn.get("k") == b"before", "the first command after the pause asks Redis again"
        assert conn.get("k") == b"before"
    finally:
        server.process.send_signal(signal.SIGCONT)
        conn.close()
        server.stop()


def test_the_workers_client_keeps_waiting_for_a_slow_redis(tmp_path):
    """The workers' client is not the web's: a job may wait out a slow Redis (no webhook waits on it)."""
    server = LocalRedis.start(tmp_path / "redis", appendonly=True)
    conn = connect(settings_for(redis_url=server.url))
    try:
        assert conn.fail_fast is None
        assert conn.connection_pool.connection_kwargs.get("socket_timeout", 5) >= 5
    finally:
        conn.close()
        server.stop()
