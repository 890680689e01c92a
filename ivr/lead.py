"""The lead's script: the announcement before anyone is connected (R-WARM-1, R-WARM-2)."""

from __future__ import annotations

from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.common import join_conference
from telephony.escalation.briefing import Briefing
from telephony.policy.loading import Policy
from telephony.urls import Urls

REPLAYS = 1


def announcement(policy: Policy, urls: Urls, escalation_id: str, briefing: Briefing, replay: int) -> VoiceResponse:
    """ "I have an escalation in transfer" first, then the details, then accept (1) or decline (2).
    Silence after the prompt replays it once, then counts as a decline."""
    response = VoiceResponse()
    if not briefing.live:
        return caller_gone(policy)
    gather = Gather(
        input="dtmf", num_digits=1, timeout=8, action=urls.lead_decision(escalation_id, replay), method="POST"
    )
    for line in (briefing.intro, *briefing.details, briefing.prompt):
        gather.say(line, voice=policy.voice, language=policy.language)
    response.append(gather)
    response.redirect(urls.lead_decision(escalation_id, replay), method="POST")
    return response


def ask_again(policy: Policy, urls: Urls, escalation_id: str, briefing: Briefing, replay: int) -> VoiceResponse:
    response = VoiceResponse()
    gather = Gather(
        input="dtmf", num_digits=1, timeout=8, action=urls.lead_decision(escalation_id, replay), method="POST"
    )
    gather.say(briefing.prompt, voice=policy.voice, language=policy.language)
    response.append(gather)
    response.redirect(urls.lead_decision(escalation_id, replay), method="POST")
    return response


def accepted(policy: Policy, urls: Urls, conference: str, words: str) -> VoiceResponse:
    """The lead joins the agent while the caller is still on hold and cannot hear them (R-WARM-3);
    or, if the agent has gone, is told they are being put through to the caller."""
    response = VoiceResponse()
    response.say(words, voice=policy.voice, language=policy.language)
    return join_conference(response, conference, "lead", urls, start_on_enter=True, end_on_exit=False)


def notice(policy: Policy, words: str, leave: bool = False) -> VoiceResponse:
    """Said as an announcement (Say only, Twilio error 13238), or before the call ends."""
    response = VoiceResponse()
    response.say(words, voice=policy.voice, language=policy.language)
    if leave:
        response.hangup()
    return response


def declined(policy: Policy) -> VoiceResponse:
    response = VoiceResponse()
    response.say(policy.announcement.declined, voice=policy.voice, language=policy.language)
    response.hangup()
    return response


def caller_gone(policy: Policy) -> VoiceResponse:
    response = VoiceResponse()
    response.say(policy.announcement.caller_left, voice=policy.voice, language=policy.language)
    response.hangup()
    return response
