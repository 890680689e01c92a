"""The callback script (R-CB-2): the number (caller ID read back, or keyed), the window, the
confirmation; and what the lead and the caller hear when the callback is made (R-CB-4)."""

from __future__ import annotations

from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.common import join_conference
from ivr.common import say as _say
from telephony.hold.wording import with_role
from telephony.numbers import spoken_number
from telephony.policy.loading import Policy
from telephony.urls import Urls


def _menu(
    policy: Policy,
    action: str,
    lines: list[str],
    *,
    speech: bool = False,
    num_digits: int | None = 1,
    finish_on_key: str | None = None,
) -> VoiceResponse:
    response = VoiceResponse()
    gather = Gather(
        input="dtmf speech" if speech else "dtmf",
        num_digits=num_digits,
        finish_on_key=finish_on_key,
        timeout=8,
        action=action,
        method="POST",
        **({"speech_timeout": "auto", "hints": "callback, call me back, hold"} if speech else {}),
    )
    for line in lines:
        _say(gather, policy, line)
    response.append(gather)
    response.redirect(action, method="POST")
    return response


def offer(
    policy: Policy,
    urls: Urls,
    escalation_id: str,
    tries: int,
    unclear: bool = False,
    busy: bool = False,
    role: str = "lead",
) -> VoiceResponse:
    """R-ESC-7 (nobody answered) or R-HOURS-2 (leads busy: hold or a callback by end of day). The
    words name the role being reached, so a managers-only escalation never hears of leads."""
    prompt = with_role(policy.callbacks.busy_offer_prompt if busy else policy.callbacks.offer_prompt, role)
    lines = ([policy.hold.offer_unclear] if unclear else []) + [prompt]
    return _menu(policy, urls.callback_step("offer-choice", escalation_id, tries, busy=busy), lines, speech=True)


def confirm_caller_id(policy: Policy, urls: Urls, escalation_id: str, number: str, tries: int) -> VoiceResponse:
    digits = spoken_number(number, policy.number_region)
    return _menu(
        policy,
        urls.callback_step("number-choice", escalation_id, tries),
        [f"We can call you back at {digits}.", "Press 1 to use this number, or 2 to enter another."],
    )


def ask_number(policy: Policy, urls: Urls, escalation_id: str, tries: int, invalid: bool = False) -> VoiceResponse:
    lines = ([policy.callbacks.number_invalid] if invalid else []) + [policy.callbacks.number_prompt]
    return _menu(
        policy, urls.callback_step("number-keyed", escalation_id, tries), lines, num_digits=None, finish_on_key="#"
    )


def read_back(policy: Policy, urls: Urls, escalation_id: str, number: str) -> VoiceResponse:
    return _menu(
        policy,
        urls.callback_step("number-confirmed", escalation_id),
        [
            f"You entered {spoken_number(number, policy.number_region)}.",
            "Press 1 if that is right, or 2 to enter it again.",
        ],
    )


def windows(policy: Policy, urls: Urls, escalation_id: str, choices, tries: int) -> VoiceResponse:
    lines = ["When should we call you back?"]
    lines += [f"For {c.spoken}, press {c.digit}." for c in choices]
    return _menu(policy, urls.callback_step("window", escalation_id, tries), lines)


def confirmed(policy: Policy, number: str, spoken: str) -> VoiceResponse:
    response = VoiceResponse()
    _say(response, policy, policy.callbacks.confirmation)
    _say(response, policy, f"We will call you at {spoken_number(number, policy.number_region)}, {spoken}.")
    _say(response, policy, "Goodbye.")
    response.hangup()
    return response


def lead_announcement(policy: Policy, urls: Urls, callback_id: str, lines: tuple[str, ...]) -> VoiceResponse:
    response = VoiceResponse()
    gather = Gather(
        input="dtmf", num_digits=1, timeout=8, action=urls.callback_lead_decision(callback_id), method="POST"
    )
    for line in lines:
        _say(gather, policy, line)
    response.append(gather)
    response.redirect(urls.callback_lead_decision(callback_id), method="POST")
    return response


def lead_waits_for_caller(policy: Policy, urls: Urls, callback_id: str) -> VoiceResponse:
    """The lead is in the callback conference first; the caller is rung only now (R-CB-4)."""
    response = VoiceResponse()
    _say(response, policy, "Calling the caller now. Please stay on the line.")
    return join_conference(response, f"callback-{callback_id}", "lead", None, start_on_enter=True, end_on_exit=True)


def caller_joins(policy: Policy, callback_id: str) -> VoiceResponse:
    response = VoiceResponse()
    _say(response, policy, policy.callbacks.caller_greeting)
    return join_conference(response, f"callback-{callback_id}", "caller", None, start_on_enter=True, end_on_exit=True)


def machine_message(policy: Policy) -> VoiceResponse:
    response = VoiceResponse()
    _say(response, policy, policy.callbacks.machine_message)
    response.hangup()
    return response
