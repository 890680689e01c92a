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
