"""The console's session, CSRF, server-sent events and softphone token, through the real app on a
real Redis (no browser needed for these)."""

from __future__ import annotations

import json
import re

import jwt
import pytest

from routes import create_app
from telephony.config import ConfigError, Settings
from telephony.core import build_core
from tests.support import BASE, ROOT, TOKENS

AGENT = TOKENS["agent-avery"]
LEAD = TOKENS["lead-lee"]
KEY_SID = "SK" + "2" * 32
APP_SID = "AP" + "3" * 32


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def signed_in(harness, token: str = AGENT.token):
    client = harness.app.test_client()
    client.environ_base["HTTP_REFERER"] = f"{BASE}/"
    page = client.get("/sign-in", base_url=BASE)
    response = client.post("/sign-in", data={"token": token, "csrf_token": csrf_from(page.text)}, base_url=BASE)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    console = client.get("/", base_url=BASE)
    assert console.status_code == 200
    return client, response, csrf_from(console.text)


def test_session_cookie_is_httponly_strict_secure_and_never_holds_the_token(harness):
    _, response, _ = signed_in(harness)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Strict" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    session = harness.app.session_interface.get_signing_serializer(harness.app).loads(value)
    assert AGENT.token not in json.dumps(session), "the session keeps a fingerprint, not the token"


def test_wrong_token_and_missing_csrf_are_refused(harness):
    client = harness.app.test_client()
    client.environ_base["HTTP_REFERER"] = f"{BASE}/sign-in"
    page = client.get("/sign-in", base_url=BASE)
    wrong = client.post("/sign-in", data={"token": "x" * 24, "csrf_token": csrf_from(page.text)}, base_url=BASE)
    assert wrong.status_code == 401 and "That token is not known here" in wrong.text
    forged = client.post("/sign-in", data={"token": AGENT.token}, base_url=BASE)
    assert forged.status_code == 400 and "CSRF token is missing" in forged.text
    assert client.get("/", base_url=BASE).headers["Location"] == "/sign-in"


def test_session_changes_need_the_csrf_token_bearer_calls_do_not(harness):
    client, _, csrf = signed_in(harness)
    path = "/api/people/agent-avery/presence"
    refused = client.put(path, json={"presence": "busy"}, base_url=BASE)
    assert refused.status_code == 400 and refused.json["error"] == "csrf_failed"
    assert harness.core.ctx.presence("agent-avery") == "available", "a refused change changes nothing"
    ok = client.put(path, json={"presence": "busy"}, headers={"X-CSRFToken": csrf}, base_url=BASE)
    assert ok.status_code == 200 and harness.core.ctx.presence("agent-avery") == "busy"
    bearer = harness.api("PUT", path, json={"presence": "available"})
    assert bearer.status_code == 200
    assert client.get("/api/calls", base_url=BASE).status_code == 200, "reads need no CSRF token"


def test_sign_out_ends_the_session(harness):
    client, _, csrf = signed_in(harness)
    assert client.post("/sign-out", base_url=BASE).status_code == 400, "sign-out is CSRF-checked too"
    assert client.post("/sign-out", data={"csrf_token": csrf}, base_url=BASE).status_code == 302
    assert client.get("/api/calls", base_url=BASE).status_code == 401


def test_console_state_tells_the_server_clock_hold_policy_and_people(harness):
    client, _, _ = signed_in(harness, LEAD.token)
    state = client.get("/api/console", base_url=BASE).json
    assert state["now"] == harness.core.ctx.now_iso()
    assert state["hold"] == {"check_in_seconds": 120, "limit_seconds": 300}
    assert state["me"] == {"id": "lead-lee", "name": "Lee", "role": "lead", "team": "escalations", "lead": True}
    assert {"id": "agent-avery", "name": "Avery", "role": "agent", "team": "front-line", "presence": "available"} in (
        state["people"]
    )
    assert state["softphone"] is False
    assert {f["name"] for f in state["features"]} == {
        "warning_protocol",
        "listen",
        "coach",
        "early_warning",
        "tasks",
    }, "the procedures' endpoints the console finds (R-ABUSE-1, R-WARM-7, R-NOTE-4, R-NOTE-6)"


def read_events(response, count: int) -> list[tuple[str, dict]]:
    events, buffer = [], ""
    for chunk in response.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and line[0] != ":")
            if fields.get("event") == "change":
                events.append((fields["id"], json.loads(fields["data"])))
        if len(events) >= count:
            response.close()
            return events
    return events


def test_events_replay_what_a_reconnect_missed_from_any_worker(harness, redis_conn):
    """Two app instances on one Redis stand for two gunicorn workers: a change made through one is
    replayed by the other's stream from Last-Event-ID."""
    other = create_app(harness.settings, core=build_core(harness.settings, redis_conn, clock=harness.clock))
    client, _, _ = signed_in(harness, LEAD.token)
    seen = harness.core.ctx.store.last_event_id()
    assert (
        harness.api("PUT", "/api/people/agent-blake/presence", who="lead-lee", json={"presence": "busy"}).status_code
        == 200
    )
    assert (
        harness.api("PUT", "/api/people/lead-lee/presence", who="lead-lee", json={"presence": "offline"}).status_code
        == 200
    )
    stream = other.test_client().get(
        "/api/events",
        headers={"Authorization": f"Bearer {LEAD.token}", "Last-Event-ID": seen, "Accept": "text/event-stream"},
        buffered=False,
    )
    assert stream.mimetype == "text/event-stream"
    events = read_events(stream, 2)
    assert [e for _, e in events] == [{"kind": "presence", "id": "agent-blake"}, {"kind": "presence", "id": "lead-lee"}]
    after_first = client.get(
        "/api/events",
        headers={"Last-Event-ID": events[0][0], "Accept": "text/event-stream"},
        base_url=BASE,
        buffered=False,
    )
    assert [e for _, e in read_events(after_first, 1)] == [{"kind": "presence", "id": "lead-lee"}]
    catch_up = client.get("/api/events", headers={"Last-Event-ID": seen}, base_url=BASE).json
    assert [(e["event_id"], e["kind"], e["id"]) for e in catch_up["events"]] == [
        (entry, change["kind"], change["id"]) for entry, change in events
    ], "without Accept: text/event-stream, the same changes as JSON"
    assert catch_up["last_event_id"] == events[-1][0]


def test_voice_token_is_a_short_lived_voice_grant_for_the_client_identity(redis_conn, twilio_rest):
    from tests.support import Harness

    harness = Harness(
        redis_conn,
        twilio_rest,
        twilio_api_key_sid=KEY_SID,
        twilio_api_key_secret="s" * 32,
        twilio_twiml_app_sid=APP_SID,
    )
    issued = harness.api("POST", "/api/voice-token")
    assert issued.status_code == 200 and issued.json["identity"] == "agent-avery"
    claims = jwt.decode(issued.json["token"], "s" * 32, algorithms=["HS256"])
    assert claims["iss"] == KEY_SID and claims["sub"] == harness.settings.twilio_account_sid
    assert claims["exp"] - claims["nbf"] == 3600, "short-lived: the page refreshes it on tokenWillExpire"
    grant = claims["grants"]
    assert grant["identity"] == "agent-avery"
    assert grant["voice"]["incoming"] == {"allow": True}
    assert grant["voice"]["outgoing"]["application_sid"] == APP_SID
    no_client = harness.api("POST", "/api/voice-token", who="lead-lee")
    assert no_client.status_code == 409 and no_client.json["error"] == "no_client_endpoint"


def test_without_twilio_keys_the_softphone_is_offline(harness):
    offline = harness.api("POST", "/api/voice-token")
    assert offline.status_code == 409 and offline.json["error"] == "softphone_offline"
    assert "softphone offline (no Twilio)" in offline.json["message"]


def test_softphone_settings_are_validated_at_start_up():
    env = {
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": "x" * 32,
        "TWILIO_CALLER_ID": "+13125550100",
        "PUBLIC_BASE_URL": "https://esc.example.test",
        "API_TOKENS": "tok-agent-avery-000000:agent-avery:agent",
    }
    good = Settings.from_env({**env, "TWILIO_API_KEY_SID": KEY_SID, "TWILIO_API_KEY_SECRET": "s" * 32})
    assert good.twilio_api_key_sid == KEY_SID
    for bad, named in (
        ({"TWILIO_API_KEY_SID": KEY_SID}, "TWILIO_API_KEY_SECRET"),
        ({"TWILIO_API_KEY_SID": "SK123", "TWILIO_API_KEY_SECRET": "s"}, "TWILIO_API_KEY_SID"),
        ({"TWILIO_TWIML_APP_SID": APP_SID}, "TWILIO_TWIML_APP_SID"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
    ):
        with pytest.raises(ConfigError, match=named):
            Settings.from_env({**env, **bad})


def test_the_voice_sdk_is_served_from_node_modules(harness):
    sdk = harness.app.test_client().get("/vendor/twilio.min.js")
    assert sdk.status_code == 200 and sdk.mimetype == "text/javascript"
    assert (ROOT / "node_modules" / "@twilio" / "voice-sdk" / "dist" / "twilio.min.js").is_file()
    assert b"Device" in sdk.data
