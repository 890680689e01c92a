"""The caller's script: greeting, account number, the wait for an agent, hold (R-HOLD-1)."""

from __future__ import annotations

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from ivr.common import join_conference
from ivr.common import say as _say
from telephony.policy.loading import Policy
from telephony.urls import Urls

HINTS_LIMIT = 500


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
    then the wait URL plays, and their leaving never ends it for the others. Where the policy
    listens for red flags in live speech (R-NOTE-5), the caller's leg starts Twilio real-time
    transcription first: it runs beside the call until the call ends."""
    response = VoiceResponse()
    if policy.red_flags.live_transcription:
        start_live_transcription(response, policy, urls)
    _say(response, policy, policy.ivr.wait_message)
    return join_conference(
        response, conference, "caller", urls, start_on_enter=False, end_on_exit=False, wait_url=urls.wait()
    )


def start_live_transcription(response: VoiceResponse, policy: Policy, urls: Urls) -> None:
    """<Start><Transcription>: the caller's own voice only (the inbound track: what Twilio
    receives from the caller, never the prompts or the agent), final results only, with the
    lexicon as recognition hints, each utterance posted to /voice/transcription."""
    response.start().transcription(
        name="red-flags",
        status_callback_url=urls.transcription(),
        status_callback_method="POST",
        track="inbound_track",
        partial_results=False,
        language_code=policy.language,
        hints=hints(policy.red_flags.phrases),
    )


def hints(phrases: tuple[str, ...], limit: int = HINTS_LIMIT) -> str | None:
    """The lexicon as hints for the speech engine, whole phrases only, within the limit."""
    kept: list[str] = []
    for phrase in phrases:
        if len(", ".join([*kept, phrase])) > limit:
            break
        kept.append(phrase)
    return ", ".join(kept) or None


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


# The only verbs Twilio runs from a conference's wait or hold URL; anything else is error 13238
# and the caller hears nothing until the next fetch.
WAIT_HOLD_VERBS = frozenset({"Say", "Play", "Pause", "Redirect"})
KEEP_HOLDING = "Thank you for holding. Please stay on the line."
RETRY_PAUSE_SECONDS = 2


def keep_music_playing(music_url: str, retry_url: str) -> VoiceResponse:
    """The fallback on a wait or hold URL (Say, Play, Pause, Redirect only): the service failed
    (Redis slow or gone, an organisation no longer served), so the caller keeps hearing the music
    and the same URL is fetched again after it. Without music, words that are true on hold and a
    short pause, so the caller never sits in silence for long."""
    response = VoiceResponse()
    if music_url:
        response.play(music_url)
    else:
        response.say(KEEP_HOLDING)
        response.pause(length=RETRY_PAUSE_SECONDS)
    response.redirect(retry_url, method="POST")
    return response


UNSERVED = "We're sorry, this number is not set up to take calls."


def unserved(endpoint: str) -> VoiceResponse:
    """A number no organisation's policy claims (issue 17): the truth, then the deployment's own
    staffed line if it has one; every word true whether or not that line answers."""
    response = VoiceResponse()
    if not endpoint:
        response.say(f"{UNSERVED} Please check the number you dialled. Goodbye.")
        response.hangup()
        return response
    response.say(
        f"{UNSERVED} Please hold while we put you through to someone who can help. "
        "If nobody answers, please call again later."
    )
    dial = Dial(timeout=30)
    _endpoint_noun(dial, endpoint)
    response.append(dial)
    response.hangup()
    return response


def _endpoint_noun(dial: Dial, endpoint: str) -> None:
    if endpoint.startswith("client:"):
        dial.client(endpoint.removeprefix("client:"))
    elif endpoint.startswith("sip:"):
        dial.sip(endpoint)
    else:
        dial.number(endpoint)
