"""The judge itself: the fake Twilio refuses what Twilio's OpenAPI description refuses."""

from __future__ import annotations

import pytest
import responses
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.twilio_contract import FakeTwilioRest, TwilioSpec, intercept

SID = "AC" + "0" * 32


@pytest.fixture
def judged():
    fake = FakeTwilioRest(TwilioSpec.load())
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        intercept(mock, fake)
        yield fake, Client(SID, "token")


def test_accepts_the_requests_the_twilio_library_makes(judged):
    fake, client = judged
    call = client.calls.create(
        to="+13125550111",
        from_="+13125550100",
        url="https://x.test/a",
        status_callback_event=["initiated", "completed"],
        machine_detection="DetectMessageEnd",
    )
    assert call.sid.startswith("CA") and len(call.sid) == 34
    joined = client.conferences("call-CA1").participants.create(
        from_="+13125550100",
        to="client:agent",
        label="agent",
        beep="false",
        conference_status_callback_event=["start", "join"],
    )
    again = client.conferences("call-CA1").participants.create(from_="+13125550100", to="client:other")
    assert joined.conference_sid == again.conference_sid and joined.conference_sid.startswith("CF")
    client.conferences(joined.conference_sid).participants(joined.call_sid).update(
        hold=True, hold_url="https://x.test/h"
    )
    assert client.conferences(joined.conference_sid).participants(joined.call_sid).delete() is True
    client.calls(call.sid).update(status="completed")
    assert fake.violations == []
    assert [r.operation_id for r in fake.requests()] == [
        "CreateCall",
        "CreateParticipant",
        "CreateParticipant",
        "UpdateParticipant",
        "DeleteParticipant",
        "UpdateCall",
    ]
    assert fake.requests("CreateCall")[0].params["StatusCallbackEvent"] == ["initiated", "completed"]


def test_refuses_unknown_parameters_bad_enums_and_unknown_paths(judged):
    fake, client = judged
    with pytest.raises(TwilioRestException):
        client.calls.create(
            to="+13125550111", from_="+13125550100", url="https://x.test/a", status_callback_event=["bogus"]
        )
    with pytest.raises(TwilioRestException):
        client.calls.create(
            to="+13125550111", from_="+13125550100", url="https://x.test/a", machine_detection="Sometimes"
        )
    with pytest.raises(TwilioRestException):
        client.calls("CA" + "1" * 32).update(status="on-fire")
    with pytest.raises(TwilioRestException):
        client.conferences("not-a-CF-sid").participants("CA" + "1" * 32).update(hold=True)
    shout = client.http_client.request(
        "POST",
        f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Calls.json",
        data={"To": "+1", "From": "+1", "Url": "u", "Shout": "yes"},
    )
    assert shout.status_code == 400
    with pytest.raises(TwilioRestException):
        client.calls.create(to="+13125550111", from_="+13125550100", url="https://x.test/a", timeout="soon")
    joined = "\n".join(fake.violations)
    for expected in (
        "StatusCallbackEvent='bogus'",
        "MachineDetection='Sometimes'",
        "Status='on-fire'",
        "ConferenceSid='not-a-CF-sid'",
        "unknown parameter Shout",
        "Timeout='soon'",
    ):
        assert expected in joined
    fake.violations.clear()


def test_a_path_twilio_does_not_have_is_a_violation(judged):
    fake, client = judged
    response = client.http_client.request(
        "POST", f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Teleport.json", data={"To": "x"}
    )
    assert response.status_code == 404
    assert fake.violations == [f"no Twilio operation POST /2010-04-01/Accounts/{SID}/Teleport.json"]
    fake.violations.clear()


def test_scripted_failures_answer_like_twilio(judged):
    fake, client = judged
    fake.fail_next("CreateCall", status=429, code=20429, message="Too Many Requests")
    with pytest.raises(TwilioRestException) as err:
        client.calls.create(to="+13125550111", from_="+13125550100", url="https://x.test/a")
    assert err.value.status == 429 and err.value.code == 20429
    assert client.calls.create(to="+13125550111", from_="+13125550100", url="https://x.test/a").sid
