"""The caller's script: greeting, account number, the wait for an agent, hold (R-HOLD-1)."""

from __future__ import annotations

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from ivr.common import join_conference
from ivr.common import say as _say
from telephony.policy import Policy
from telephony.urls import Urls


def ask_account(policy: Policy, urls: Urls, attempt: int, retry: bool) -> VoiceResponse:
    """Greet, ask for the account number; no input falls through to a re-prompt."""
    response = VoiceResponse()
    if attempt == 1 and not retry:
        _say(response, policy, policy.ivr.greeting)
    gather = Gather(input="dtmf", finish_on_key="#", timeout=8, action=urls.account(attempt), method="POST")
    _say(
        gather,
        policy,
        policy.ivr.account_retry + " " + policy.ivr.account_prompt if retry else policy.ivr.account_prompt,
    )
    response.append(gather)
    response.redirect(urls.account(attempt), method="POST")
    return response


def join_own_conference(policy: Policy, urls: Urls, conference: str) -> VoiceResponse:
    """The caller waits in a conference of their own; it starts when the agent joins, so until
    then the wait URL plays, and their leaving never ends it for the others."""
    response = VoiceResponse()
    _say(response, policy, policy.ivr.wait_message)
    return join_conference(
        response, conference, "caller", urls, start_on_enter=False, end_on_exit=False, wait_url=urls.wait()
    )


def waiting_for_agent(policy: Policy, urls: Urls, words: str) -> VoiceResponse:
    """A wait URL: only Say, Play, Pause and Redirect are allowed here (Twilio error 13238)."""
    response = VoiceResponse()
    _say(response, policy, words)
    if policy.ivr.wait_music_url:
        response.play(policy.ivr.wait_music_url)
    else:
        response.pause(length=10)
    response.redirect(urls.wait(), method="POST")
    return response


def fallback(message: str, endpoint: str, conference: str | None, music_url: str) -> VoiceResponse:
    """The service failed: apologise and put the caller through to a staffed line or, with none,
    back into their own conference. Built without Redis or the policy store. The caller rejoins
    without starting the conference: alone there they hear the wait music, not silence; with
    their agent still in it, they are simply back with them."""
    response = VoiceResponse()
    response.say(message)
    dial = Dial(timeout=30)
    if endpoint:
        _endpoint_noun(dial, endpoint)
        response.append(dial)
        response.say(message)
    if conference:
        again = Dial()
        again.conference(
            conference,
            start_conference_on_enter=False,
            end_conference_on_exit=False,
            wait_url=music_url or None,
            beep=False,
        )
        response.append(again)
    return response


def _endpoint_noun(dial: Dial, endpoint: str) -> None:
    if endpoint.startswith("client:"):
        dial.client(endpoint.removeprefix("client:"))
    elif endpoint.startswith("sip:"):
        dial.sip(endpoint)
    else:
        dial.number(endpoint)
