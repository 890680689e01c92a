"""What a caller hears when hold runs long (R-HOLD-2, R-HOLD-3): check-ins, the offer to keep
holding or take a callback (keypad and speech), the keep-holding loop, voicemail."""

from __future__ import annotations

from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.common import join_conference
from ivr.common import say as _say
from telephony.hold.wording import with_role
from telephony.policy.loading import Policy
from telephony.urls import Urls


def _music(node, policy: Policy, seconds: int) -> None:
    if policy.hold.music_url:
        node.play(policy.hold.music_url)
    else:
        node.pause(length=seconds)


def on_hold(policy: Policy, urls: Urls, escalation_id: str, words: str | None) -> VoiceResponse:
    """The conference hold URL: Say/Play/Pause/Redirect only (Twilio error 13238). The words
    (or none: music only) are the core's to choose (Hold.words_on_hold)."""
    response = VoiceResponse()
    if words:
        _say(response, policy, words)
    _music(response, policy, 10)
    response.redirect(urls.hold(escalation_id), method="POST")
    return response


def offer(policy: Policy, urls: Urls, escalation_id: str, tries: int, unclear: bool = False) -> VoiceResponse:
    """R-HOLD-3: keep holding (1, "hold") or a callback (2, "callback")."""
    response = VoiceResponse()
    gather = Gather(
        input="dtmf speech",
        num_digits=1,
        timeout=6,
        speech_timeout="auto",
        hints="hold, keep holding, callback, call me back",
        action=urls.hold_choice(escalation_id, tries),
        method="POST",
    )
    _say(gather, policy, (policy.hold.offer_unclear + " " if unclear else "") + policy.hold.offer_prompt)
    response.append(gather)
    response.redirect(urls.hold_choice(escalation_id, tries), method="POST")
    return response


def keep_holding(policy: Policy, urls: Urls, escalation_id: str, round_: int, role: str) -> VoiceResponse:
    """Holding outside the conference after the first limit: a loop that checks in every
    interval and lets the caller ask for a callback at any time (2 or "callback")."""
    response = VoiceResponse()
    gather = Gather(
        input="dtmf speech",
        num_digits=1,
        timeout=1,
        speech_timeout="auto",
        hints="callback, call me back",
        action=urls.hold_loop_choice(escalation_id),
        method="POST",
    )
    text = policy.hold.keep_holding_message if round_ == 0 else policy.hold.check_in_message
    _say(gather, policy, with_role(text, role))
    _music(gather, policy, policy.hold.check_in_seconds)
    response.append(gather)
    response.redirect(urls.hold_loop(escalation_id, round_ + 1), method="POST")
    return response


def rejoin(policy: Policy, urls: Urls, conference: str, message: str = "") -> VoiceResponse:
    """Back into the conference, unheld: with the lead (R-WARM-4) or the agent."""
    response = VoiceResponse()
    if message:
        _say(response, policy, message)
    return join_conference(
        response, conference, "caller", urls, start_on_enter=True, end_on_exit=False, wait_url=urls.wait()
    )


def voicemail(policy: Policy, urls: Urls, escalation_id: str, role: str) -> VoiceResponse:
    response = VoiceResponse()
    _say(response, policy, with_role(policy.hold.voicemail_prompt, role))
    response.record(max_length=180, play_beep=True, action=urls.voicemail_done(escalation_id), method="POST")
    _say(response, policy, with_role(policy.hold.voicemail_thanks, role))
    response.hangup()
    return response


def goodbye(policy: Policy, text: str) -> VoiceResponse:
    response = VoiceResponse()
    _say(response, policy, text)
    response.hangup()
    return response
