"""The Twilio client reads the proxy and CA settings from the environment once per host, not on
every REST call (issue 19: a sixth of a check-in's CPU), and still honours them."""

from __future__ import annotations

import requests.sessions

from telephony.adapters.twilio_gateway import EnvironmentOnceSession, make_client


def test_proxies_and_no_proxy_from_the_environment_still_apply_read_once_per_host(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    reads = []
    real = requests.sessions.get_environ_proxies
    monkeypatch.setattr(requests.sessions, "get_environ_proxies", lambda *a, **k: reads.append(a[0]) or real(*a, **k))
    session = EnvironmentOnceSession()

    far = [
        session.merge_environment_settings("https://api.example.com/2010-04-01/x", {}, None, None, None)
        for _ in range(3)
    ]
    near = session.merge_environment_settings("https://127.0.0.1:8443/2010-04-01/x", {}, None, None, None)

    assert all(s["proxies"].get("https") == "http://127.0.0.1:3128" for s in far), "the proxy still applies"
    assert "https" not in near["proxies"], "NO_PROXY still applies"
    assert len(reads) == 2, "the environment read once for each host, not once a request"
    far[0]["proxies"]["https"] = "changed"
    again = session.merge_environment_settings("https://api.example.com/y", {}, None, None, None)
    assert again["proxies"]["https"] == "http://127.0.0.1:3128", "a caller changing its copy changes nothing kept"


def test_the_twilio_client_uses_it_with_the_same_connection_pools():
    client = make_client("AC" + "0" * 32, "token")
    session = client.http_client.session
    assert isinstance(session, EnvironmentOnceSession)
    assert session.adapters["https://"].poolmanager is not None


def test_the_lean_hold_and_redirect_send_what_the_sdk_sends_and_fail_as_it_fails():
    """Issue 19: a check-in's hold and a limit's redirect skip the SDK's layers; Twilio must see the
    same request (URL, form, basic auth, content type), and its errors must read the same."""
    import pytest
    import responses
    from twilio.base.exceptions import TwilioRestException

    from telephony.adapters.twilio_gateway import TwilioGateway
    from telephony.errors import TelephonyFailure

    sid = "AC" + "2" * 32
    client = make_client(sid, "secret-token")
    gateway = TwilioGateway(client, "+13125550100")
    base = f"https://api.twilio.com/2010-04-01/Accounts/{sid}"
    with responses.RequestsMock() as mock:
        participant = f"{base}/Conferences/CF1/Participants/CA1.json"
        mock.add(responses.POST, participant, json={"call_sid": "CA1"})
        mock.add(responses.POST, participant, json={"call_sid": "CA1"})
        mock.add(responses.POST, f"{base}/Calls/CA1.json", json={"sid": "CA1"})
        mock.add(
            responses.POST, f"{base}/Calls/CA2.json", status=400, json={"code": 21220, "message": "not in progress"}
        )
        mock.add(responses.POST, f"{base}/Calls/CA3.json", status=404, json={"code": 20404, "message": "not found"})
        gateway.hold("CF1", "CA1", "https://x.test/voice/hold?escalation=esc_1&check_in=1")
        client.conferences("CF1").participants("CA1").update(
            hold=True, hold_url="https://x.test/voice/hold?escalation=esc_1&check_in=1", hold_method="POST"
        )
        lean, sdk = mock.calls[0].request, mock.calls[1].request
        assert lean.url == sdk.url and lean.method == sdk.method == "POST"
        assert sorted(lean.body.split("&")) == sorted(sdk.body.split("&"))
        for header in ("Authorization", "Content-Type", "Accept"):
            assert lean.headers[header] == sdk.headers[header], header

        assert gateway.redirect("CA1", "https://x.test/voice/hold/offer") is True
        assert mock.calls[2].request.body == "Url=https%3A%2F%2Fx.test%2Fvoice%2Fhold%2Foffer&Method=POST"
        assert gateway.redirect("CA2", "https://x.test/y") is False, "21220 on a redirect: already gone"
        with pytest.raises(TelephonyFailure) as refused:
            gateway.redirect("CA3", "https://x.test/y")
        assert "HTTP 404, code 20404" in refused.value.message and not refused.value.transient
        assert isinstance(refused.value.__cause__, TwilioRestException)

        mock.add(responses.POST, f"{base}/Calls.json", json={"sid": "CA9"}, status=201)
        mock.add(responses.POST, f"{base}/Calls.json", json={"sid": "CA9"}, status=201)
        placed = gateway.call("client:lead-lee", url="https://x.test/a", status_callback="https://x.test/s", timeout=20)
        client.calls.create(
            to="client:lead-lee",
            from_="+13125550100",
            url="https://x.test/a",
            method="POST",
            timeout=20,
            status_callback="https://x.test/s",
            status_callback_event=["initiated", "ringing", "answered", "completed"],
            status_callback_method="POST",
        )
        lean, sdk = mock.calls[-2].request, mock.calls[-1].request
        assert placed == "CA9" and lean.url == sdk.url
        assert sorted(lean.body.split("&")) == sorted(sdk.body.split("&")), "the same form, events repeated"


def test_rest_calls_keep_one_connection_alive_against_an_http_1_1_server():
    """Issue 19: Twilio keeps connections alive, and so does the client: a worker's REST calls
    (the lean POSTs and the SDK's own requests) go over one connection, not one each. The bench's
    stand-in speaks HTTP/1.1 as Twilio does (with HTTP/1.0 every call opened a new one)."""
    from bench.twilio_stub import TwilioStub
    from telephony.adapters.twilio_gateway import TwilioGateway

    stub = TwilioStub()
    try:
        gateway = TwilioGateway(make_client("AC" + "3" * 32, "token", api_base_url=stub.url), "+13125550100")
        for _ in range(3):
            gateway.hold("CF" + "1" * 32, "CA" + "1" * 32, "https://service.example/voice/hold")
        sid = gateway.call(
            "client:lee", url="https://service.example/a", status_callback="https://service.example/s", timeout=20
        )
        gateway.hang_up(sid)
        gateway.unhold("CF" + "1" * 32, "CA" + "1" * 32)
        assert stub.requests == 6
        assert stub.connections == 1, "one connection kept alive for every request"
    finally:
        stub.close()
