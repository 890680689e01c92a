"""Pieces every script uses: speaking in the policy's voice, and joining a conference."""

from __future__ import annotations

from twilio.twiml.voice_response import Dial, VoiceResponse

from telephony.policy.loading import Policy
from telephony.urls import Urls

CONFERENCE_EVENTS = "start end join leave hold announcement"


def say(node, policy: Policy, text: str) -> None:
    node.say(text, voice=policy.voice, language=policy.language)


def join_conference(
    response: VoiceResponse,
    conference: str,
    label: str,
    urls: Urls | None,
    *,
    start_on_enter: bool,
    end_on_exit: bool,
    wait_url: str | None = None,
) -> VoiceResponse:
    """<Dial><Conference>: no beep, labelled, with conference events reported when `urls` is
    given (callback conferences need none)."""
    dial = Dial()
    events = (
        {
            "status_callback": urls.conference_events(),
            "status_callback_event": CONFERENCE_EVENTS,
            "status_callback_method": "POST",
        }
        if urls
        else {}
    )
    dial.conference(
        conference,
        start_conference_on_enter=start_on_enter,
        end_conference_on_exit=end_on_exit,
        beep=False,
        wait_url=wait_url,
        wait_method="POST" if wait_url else None,
        participant_label=label,
        **events,
    )
    response.append(dial)
    return response
