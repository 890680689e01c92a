"""Twilio's voice webhooks for callbacks (R-CB-1..5): the caller taking one (offer, number,
window) and the callback call itself (the lead first, then the caller). Same blueprint and URLs as
`routes.voice` (/voice/callback/...); parse the form, call the core, render TwiML."""

from __future__ import annotations

from flask import request

from ivr import callback as callback_ivr
from ivr import hold as hold_ivr
from ivr import lead as lead_ivr
from routes.security import twilio_webhook
from routes.voice import UNCLEAR_TRIES, bp, callback_number_step, core, form, int_arg, twiml
from telephony.context import conference_name


@bp.post("/callback/offer")
@twilio_webhook
def callback_offer():
    c = core()
    busy = request.args.get("busy") == "1"
    esc_id = request.args.get("escalation", "")
    return twiml(callback_ivr.offer(c.policy, c.ctx.urls, esc_id, 0, busy=busy, role=c.hold.role_for(esc_id)))


@bp.post("/callback/offer-choice")
@twilio_webhook
def callback_offer_choice():
    c = core()
    esc_id, tries = request.args.get("escalation", ""), int_arg("tries", 0)
    busy = request.args.get("busy") == "1"
    choice = c.callback_capture.offer_choice(esc_id, form("Digits"), form("SpeechResult"), leads_busy=busy)
    if choice == "callback":
        return callback_number_step(esc_id, 0)
    if choice == "hold" or (choice == "unclear" and busy and tries >= UNCLEAR_TRIES):
        return twiml(hold_ivr.keep_holding(c.policy, c.ctx.urls, esc_id, 0, c.hold.role_for(esc_id)))
    if choice == "unclear" and tries < UNCLEAR_TRIES:
        return twiml(
            callback_ivr.offer(
                c.policy, c.ctx.urls, esc_id, tries + 1, unclear=True, busy=busy, role=c.hold.role_for(esc_id)
            )
        )
    if choice == "unclear":
        c.callback_capture.refused(esc_id)
    c.warm_transfer.back_to_agent(esc_id)
    caller_sid = c.warm_transfer.view(esc_id)["call_sid"]
    return twiml(hold_ivr.rejoin(c.policy, c.ctx.urls, conference_name(caller_sid), c.policy.callbacks.refused_message))


@bp.post("/callback/number")
@twilio_webhook
def callback_number():
    return callback_number_step(request.args.get("escalation", ""), int_arg("tries", 0))


@bp.post("/callback/number-choice")
@twilio_webhook
def callback_number_choice():
    c = core()
    esc_id, tries = request.args.get("escalation", ""), int_arg("tries", 0)
    digits = form("Digits")
    if digits == "1" and c.callback_capture.use_caller_id(esc_id):
        return twiml(callback_ivr.windows(c.policy, c.ctx.urls, esc_id, c.callback_capture.window_choices(esc_id), 0))
    if digits == "2":
        return twiml(callback_ivr.ask_number(c.policy, c.ctx.urls, esc_id, 0))
    return callback_number_step(esc_id, tries + 1)


@bp.post("/callback/number-keyed")
@twilio_webhook
def callback_number_keyed():
    c = core()
    esc_id, tries = request.args.get("escalation", ""), int_arg("tries", 0)
    number = c.callback_capture.number_entered(esc_id, form("Digits"))
    if number is None:
        return twiml(callback_ivr.ask_number(c.policy, c.ctx.urls, esc_id, tries + 1, invalid=bool(form("Digits"))))
    return twiml(callback_ivr.read_back(c.policy, c.ctx.urls, esc_id, number))


@bp.post("/callback/number-confirmed")
@twilio_webhook
def callback_number_confirmed():
    c = core()
    esc_id = request.args.get("escalation", "")
    if form("Digits") == "1" and c.callback_capture.pending_number(esc_id):
        return twiml(callback_ivr.windows(c.policy, c.ctx.urls, esc_id, c.callback_capture.window_choices(esc_id), 0))
    return twiml(callback_ivr.ask_number(c.policy, c.ctx.urls, esc_id, 0))


@bp.post("/callback/window")
@twilio_webhook
def callback_window():
    c = core()
    esc_id, tries = request.args.get("escalation", ""), int_arg("tries", 0)
    digits = form("Digits") or ("1" if tries >= UNCLEAR_TRIES else "")
    booked = c.callback_capture.window_chosen(esc_id, digits)
    if booked is None:
        return twiml(
            callback_ivr.windows(c.policy, c.ctx.urls, esc_id, c.callback_capture.window_choices(esc_id), tries + 1)
        )
    return twiml(callback_ivr.confirmed(c.policy, booked["number"], booked["requested"]))


@bp.post("/callback/lead/answer")
@twilio_webhook
def callback_lead_answer():
    c = core()
    cb_id = request.args.get("callback", "")
    lines = c.dialler.lead_answered(cb_id, form("CallSid"), request.args.get("attempt", ""))
    if lines is None:
        return twiml(lead_ivr.caller_gone(c.policy))
    return twiml(callback_ivr.lead_announcement(c.policy, c.ctx.urls, cb_id, lines))


@bp.post("/callback/lead/decision")
@twilio_webhook
def callback_lead_decision():
    c = core()
    cb_id, call_sid = request.args.get("callback", ""), form("CallSid")
    decision = c.dialler.lead_decided(cb_id, call_sid, form("Digits"))
    if decision == "accepted":
        return twiml(callback_ivr.lead_waits_for_caller(c.policy, c.ctx.urls, cb_id))
    if decision == "ask_again":
        lines = c.dialler.lead_answered(cb_id, call_sid) or ()
        return twiml(callback_ivr.lead_announcement(c.policy, c.ctx.urls, cb_id, lines[-1:]))
    if decision == "declined":
        return twiml(lead_ivr.declined(c.policy))
    return twiml(lead_ivr.caller_gone(c.policy))


@bp.post("/callback/lead/status")
@twilio_webhook
def callback_lead_status():
    core().callback_leg_status(request.args.get("callback", ""), "lead", request.form, request.args.get("attempt", ""))
    return "", 204


@bp.post("/callback/caller/answer")
@twilio_webhook
def callback_caller_answer():
    c = core()
    cb_id = request.args.get("callback", "")
    outcome = c.dialler.caller_answered(cb_id, form("CallSid"), form("AnsweredBy"))
    if outcome == "human":
        return twiml(callback_ivr.caller_joins(c.policy, cb_id))
    if outcome == "machine":
        return twiml(callback_ivr.machine_message(c.policy))
    return twiml(hold_ivr.goodbye(c.policy, "Sorry, this callback is no longer needed. Goodbye."))


@bp.post("/callback/caller/status")
@twilio_webhook
def callback_caller_status():
    core().callback_leg_status(request.args.get("callback", ""), "caller", request.form)
    return "", 204
