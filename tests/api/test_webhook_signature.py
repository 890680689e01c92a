"""Issue 19: the webhook signature check tries the URL without its port first (one HMAC for a
genuine webhook). It must pass and refuse exactly what Twilio's RequestValidator.validate does."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from routes.security import TwilioSignature

TOKEN = "12345678901234567890123456789012"
FORM = MultiDict([("CallSid", "CA" + "1" * 32), ("Digits", "448812"), ("Digits", "1"), ("From", "+13125550142")])
URLS = (
    "https://svc.example.test/voice/account?attempt=1",
    "https://svc.example.test:443/voice/account?attempt=1",
    "http://svc.example.test:8080/voice/hold?escalation=esc_1",
)


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("signed_url", ("same", "other port", "without port", "other path"))
@pytest.mark.parametrize("form", ("same", "changed"))
def test_passes_and_refuses_what_twilios_validator_does(url, signed_url, form):
    twilio = RequestValidator(TOKEN)
    signed = {
        "same": url,
        "other port": url.replace("svc.example.test", "svc.example.test:9999", 1).replace(":443:9999", ":9999"),
        "without port": url.replace(":443", "").replace(":8080", ""),
        "other path": url.replace("/voice/", "/voice/x/"),
    }[signed_url]
    signature = twilio.compute_signature(signed, FORM)
    params = FORM if form == "same" else MultiDict([*FORM.items(multi=True), ("To", "+1")])
    expected = twilio.validate(url, params, signature)
    assert TwilioSignature(TOKEN).validate(url, params, signature) is expected
    if signed_url in ("same", "without port") and form == "same":
        assert expected, "a genuine webhook passes"


def test_forged_and_odd_signatures_are_refused():
    check = TwilioSignature(TOKEN)
    url = URLS[0]
    good = RequestValidator(TOKEN).compute_signature(url, FORM)
    assert check.validate(url, FORM, good)
    for bad in ("", good[:-2] + "AA", "é" * len(good), RequestValidator("x" * 32).compute_signature(url, FORM)):
        assert not check.validate(url, FORM, bad)
