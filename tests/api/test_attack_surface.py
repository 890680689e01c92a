"""Issue 11, bad input and attack: signatures checked against PUBLIC_BASE_URL whatever a proxy or
a forger says, signature checking off only on loopback, failed sign-ins and tokens rate-limited
per client address, tokens compared in constant time, numbers masked in an agent's list views."""

from __future__ import annotations

import hmac
import re

import pytest

from routes import security
from telephony.config import ConfigError, Settings
from tests.support import BASE, CALLER_ID, TOKENS, Harness, new_call_sid

ENV = {
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": "x" * 32,
    "TWILIO_CALLER_ID": "+13125550100",
    "API_TOKENS": "tok-agent-avery-000000:agent-avery:agent",
}


@pytest.mark.parametrize("base", ["http://127.0.0.1:5000", "http://localhost:8000", "http://[::1]:5000"])
def test_signature_check_may_be_off_on_a_loopback_base_url_CONTRACT_webhooks(base):
    env = {**ENV, "PUBLIC_BASE_URL": base, "TWILIO_SIGNATURE_CHECK": "off-for-local-development"}
    assert Settings.from_env(env).validate_signatures is False


@pytest.mark.parametrize("base", ["https://esc.example.com", "http://10.0.0.5:8000", "http://127.0.0.1.example.com"])
def test_signature_check_off_is_refused_on_a_reachable_base_url_in_one_line_CONTRACT_webhooks(base):
    env = {**ENV, "PUBLIC_BASE_URL": base, "TWILIO_SIGNATURE_CHECK": "off-for-local-development"}
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    message = str(refused.value)
    assert "\n" not in message and message.startswith("TWILIO_SIGNATURE_CHECK may be off only when PUBLIC_BASE_URL")


def incoming(call_sid: str) -> dict[str, str]:
    return {"CallSid": call_sid, "From": "+13125550142", "To": CALLER_ID, "CallStatus": "ringing"}


def test_missing_forged_other_url_and_altered_query_signatures_are_refused_CONTRACT_webhooks(harness):
    call_sid = new_call_sid()
    params = incoming(call_sid)
    sign = harness.validator.compute_signature
    client = harness.client
    cases = {
        "missing": ("/voice/incoming", {}),
        "forged": ("/voice/incoming", {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}),
        "signed with another token": ("/voice/incoming", {"X-Twilio-Signature": _signed_with("other-token", params)}),
        "for another path": ("/voice/incoming", {"X-Twilio-Signature": sign(BASE + "/voice/status", params)}),
        "for another host": (
            "/voice/incoming",
            {"X-Twilio-Signature": sign("https://attacker.example/voice/incoming", params)},
        ),
        "query string altered": (
            "/voice/account?attempt=2",
            {"X-Twilio-Signature": sign(BASE + "/voice/account?attempt=1", params)},
        ),
        "query string added": (
            "/voice/account?attempt=1&escalation=esc_x",
            {"X-Twilio-Signature": sign(BASE + "/voice/account?attempt=1", params)},
        ),
        "form altered": ("/voice/incoming", {"X-Twilio-Signature": sign(BASE + "/voice/incoming", incoming("CA1"))}),
    }
    for why, (path, headers) in cases.items():
        response = client.post(path, data=params, headers=headers)
        assert response.status_code == 403, (why, response.status_code)
        assert "Traceback" not in response.get_data(as_text=True)
    assert harness.core.ctx.store.call(call_sid) is None, "a refused webhook changes nothing"
    good = client.post(
        "/voice/incoming", data=params, headers={"X-Twilio-Signature": sign(BASE + "/voice/incoming", params)}
    )
    assert good.status_code == 200, "the same request, signed for PUBLIC_BASE_URL, is taken"


def _signed_with(token: str, params: dict[str, str]) -> str:
    from twilio.request_validator import RequestValidator

    return RequestValidator(token).compute_signature(BASE + "/voice/incoming", params)


def test_behind_a_proxy_the_signature_is_checked_against_public_base_url_not_forwarded_headers_CONTRACT_webhooks(
    harness,
):
    """A proxy (or a forger) may send any Host and X-Forwarded-*: the URL Twilio signed is always
    PUBLIC_BASE_URL + path + query, so those headers can neither make a good signature fail nor a
    signature for another address pass."""
    sign = harness.validator.compute_signature
    proxy_headers = {
        "Host": "10.0.0.7:8000",
        "X-Forwarded-Proto": "http",
        "X-Forwarded-Host": "internal.example",
        "X-Forwarded-Port": "8000",
        "X-Forwarded-For": "203.0.113.9",
    }
    params = incoming(new_call_sid())
    taken = harness.client.post(
        "/voice/incoming",
        data=params,
        headers={**proxy_headers, "X-Twilio-Signature": sign(BASE + "/voice/incoming", params)},
        base_url="http://10.0.0.7:8000",
    )
    assert taken.status_code == 200
    params = incoming(new_call_sid())
    as_forwarded = sign("http://internal.example/voice/incoming", params)
    refused = harness.client.post(
        "/voice/incoming",
        data=params,
        headers={**proxy_headers, "X-Twilio-Signature": as_forwarded},
        base_url="http://internal.example",
    )
    assert refused.status_code == 403


def wrong_token(harness, address: str = "198.51.100.7"):
    return harness.client.get(
        "/api/escalations",
        headers={"Authorization": "Bearer not-a-token-0000000000"},
        environ_base={"REMOTE_ADDR": address},
    )


def test_failed_bearer_tokens_are_limited_per_address_and_a_success_is_not_counted(redis_conn, twilio_rest):
    harness = Harness(redis_conn, twilio_rest, auth_failure_limit=3, auth_failure_window_seconds=120)
    good = {"Authorization": f"Bearer {TOKENS['lead-lee'].token}"}
    for _ in range(20):
        ok = harness.client.get("/api/escalations", headers=good, environ_base={"REMOTE_ADDR": "198.51.100.7"})
        assert ok.status_code == 200, "a right token is never counted"
    for _ in range(3):
        assert wrong_token(harness).status_code == 401
    refused = wrong_token(harness)
    assert refused.status_code == 429
    assert refused.json["error"] == "too_many_failed_sign_ins"
    assert re.fullmatch(r"Too many wrong tokens from this address; try again in \d+ seconds\.", refused.json["message"])
    assert 1 <= int(refused.headers["Retry-After"]) <= 120
    blocked = harness.client.get("/api/escalations", headers=good, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert blocked.status_code == 429, "guessing right after the limit gains nothing"
    other = harness.client.get("/api/escalations", headers=good, environ_base={"REMOTE_ADDR": "198.51.100.8"})
    assert other.status_code == 200, "another address is not punished"
    assert wrong_token(harness, "198.51.100.8").status_code == 401


def test_the_limit_ends_with_its_window(redis_conn, twilio_rest):
    harness = Harness(redis_conn, twilio_rest, auth_failure_limit=2, auth_failure_window_seconds=60)
    wrong_token(harness)
    wrong_token(harness)
    assert wrong_token(harness).status_code == 429
    for key in redis_conn.scan_iter("esc:auth-failures:*"):
        redis_conn.expire(key, 0)  # the window has passed (Redis's own clock, so expire it)
    assert wrong_token(harness).status_code == 401


def test_behind_trusted_proxies_the_limit_counts_the_forwarded_client_not_the_proxy(redis_conn, twilio_rest):
    harness = Harness(redis_conn, twilio_rest, auth_failure_limit=2, trusted_proxy_hops=1)

    def via_proxy(client: str, spoofed: str = ""):
        chain = ", ".join(filter(None, (spoofed, client)))
        return harness.client.get(
            "/api/escalations",
            headers={"Authorization": "Bearer wrong-token-0000000000", "X-Forwarded-For": chain},
            environ_base={"REMOTE_ADDR": "10.0.0.2"},
        )

    via_proxy("203.0.113.1")
    via_proxy("203.0.113.1", spoofed="192.0.2.55")
    assert via_proxy("203.0.113.1", spoofed="192.0.2.66").status_code == 429, "a made-up X-Forwarded-For does not help"
    assert via_proxy("203.0.113.2").status_code == 401, "the proxy's other clients are not locked out"


def test_failed_console_sign_ins_are_limited_with_a_clear_page(redis_conn, twilio_rest):
    harness = Harness(redis_conn, twilio_rest, auth_failure_limit=2)
    harness.app.config["WTF_CSRF_ENABLED"] = False
    client = harness.app.test_client()
    for _ in range(2):
        assert client.post("/sign-in", data={"token": "wrong-token-0000000000"}).status_code == 401
    refused = client.post("/sign-in", data={"token": TOKENS["lead-lee"].token})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "Too many wrong tokens from this address. Try again in" in refused.get_data(as_text=True)


def test_tokens_are_compared_in_constant_time(harness, monkeypatch):
    """hmac.compare_digest for every bearer token and session fingerprint: the time a wrong token
    takes does not tell how much of it was right."""
    compared = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    presented = TOKENS["agent-avery"].token[:-1] + "X"
    response = harness.client.get("/api/escalations", headers={"Authorization": f"Bearer {presented}"})
    assert response.status_code == 401
    assert {a for a, _ in compared} == {t.token.encode() for t in TOKENS.values()}
    assert all(b == presented.encode() for _, b in compared)
    compared.clear()
    assert harness.api("GET", "/api/escalations", who="agent-avery").status_code == 200
    assert (TOKENS["agent-avery"].token.encode(), TOKENS["agent-avery"].token.encode()) in compared


def test_numbers_are_masked_to_the_last_four_in_an_agents_list_views_but_not_a_leads(harness):
    from tests.hold.test_hold_and_callbacks import book_callback

    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    calls = harness.api("GET", "/api/calls", who="agent-avery").json["calls"]
    assert [c["from"] for c in calls] == ["***0142"]
    assert harness.api("GET", "/api/calls", who="lead-lee").json["calls"][0]["from"] == "+13125550142"
    book_callback(harness, caller_sid, esc_id)

    agent_callbacks = harness.api("GET", "/api/callbacks", who="agent-avery").json["callbacks"]
    assert [c["number"] for c in agent_callbacks] == ["***0142"]
    assert harness.api("GET", "/api/callbacks", who="lead-lee").json["callbacks"][0]["number"] == "+13125550142"

    agent_list = harness.api("GET", "/api/escalations", who="agent-avery")
    assert agent_list.json["escalations"][0]["callback"]["number"] == "***0142"
    assert "3125550142" not in agent_list.get_data(as_text=True).replace("-", "")
    lead_list = harness.api("GET", "/api/escalations", who="lead-lee").json["escalations"]
    assert lead_list[0]["callback"]["number"] == "+13125550142"
