"""Twilio's voice webhooks: parse the form, call the core, render TwiML."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from ivr import caller as caller_ivr
from ivr import lead as lead_ivr
from routes.security import twilio_webhook
from telephony.context import conference_name
from telephony.core import Core

bp = Blueprint("voice", __name__, url_prefix="/voice")

# Routes whose answer is what a caller hears next: if they fail the caller must not hear
# "an application error has occurred" and be hung up on.
CALLER_FACING = {"voice.incoming", "voice.account", "voice.wait", "voice.hold"}


def core() -> Core:
    return current_app.extensions["core"]


def twiml(response) -> Response:
    return Response(str(response), mimetype="text/xml")


def _int_arg(name: str, default: int) -> int:
    try:
        return max(0, int(request.args.get(name, default)))
    except ValueError:
        return default


def _form(name: str) -> str:
    return request.values.get(name, "").strip()


@bp.post("/incoming")
@twilio_webhook
def incoming():
    c = core()
    c.intake.caller_arrived(_form("CallSid"), _form("From"), _form("To"))
    return twiml(caller_ivr.ask_account(c.policy, c.ctx.urls, attempt=1, retry=False))


@bp.post("/account")
@twilio_webhook
def account():
    c = core()
    call_sid = _form("CallSid")
    outcome = c.intake.account_entered(call_sid, _form("Digits"), _int_arg("attempt", 1))
    if outcome.join_conference:
        return twiml(caller_ivr.join_own_conference(c.policy, c.ctx.urls, conference_name(call_sid)))
    return twiml(caller_ivr.ask_account(c.policy, c.ctx.urls, attempt=outcome.next_attempt, retry=True))


@bp.route("/wait", methods=["GET", "POST"])
@twilio_webhook
def wait():
    c = core()
    return twiml(caller_ivr.waiting_for_agent(c.policy, c.ctx.urls))


@bp.route("/hold", methods=["GET", "POST"])
@twilio_webhook
def hold():
    c = core()
    return twiml(caller_ivr.on_hold(c.policy, c.ctx.urls, request.args.get("escalation", "")))


@bp.post("/status")
@twilio_webhook
def status():
    core().call_status(request.form)
    return "", 204


@bp.post("/conference")
@twilio_webhook
def conference():
    core().conference_event(request.form)
    return "", 204


@bp.post("/agent/status")
@twilio_webhook
def agent_status():
    core().agent_status(request.args.get("caller", ""), request.form)
    return "", 204


@bp.post("/lead/answer")
@twilio_webhook
def lead_answer():
    c = core()
    esc_id = request.args.get("escalation", "")
    briefing = c.warm_transfer.lead_answered(esc_id, _form("CallSid"))
    return twiml(lead_ivr.announcement(c.policy, c.ctx.urls, esc_id, briefing, _int_arg("replay", 0)))


@bp.post("/lead/decision")
@twilio_webhook
def lead_decision():
    c = core()
    esc_id, call_sid, replay = request.args.get("escalation", ""), _form("CallSid"), _int_arg("replay", 0)
    decision = c.warm_transfer.lead_decided(esc_id, call_sid, _form("Digits"), replay, lead_ivr.REPLAYS)
    if decision == "accepted":
        caller_sid = c.warm_transfer.view(esc_id)["call_sid"]
        return twiml(lead_ivr.accepted(c.policy, c.ctx.urls, conference_name(caller_sid)))
    if decision in ("replay", "ask_again"):
        briefing = c.warm_transfer.lead_answered(esc_id, call_sid)
        if decision == "replay":
            return twiml(lead_ivr.announcement(c.policy, c.ctx.urls, esc_id, briefing, replay + 1))
        return twiml(lead_ivr.ask_again(c.policy, c.ctx.urls, esc_id, briefing, replay))
    if decision == "declined":
        return twiml(lead_ivr.declined(c.policy))
    return twiml(lead_ivr.caller_gone(c.policy))


@bp.post("/lead/status")
@twilio_webhook
def lead_status():
    core().lead_status(request.args.get("escalation", ""), request.form)
    return "", 204


@bp.route("/fallback", methods=["GET", "POST"])
@twilio_webhook
def fallback():
    return _fallback_twiml()


def _fallback_twiml() -> Response:
    """Never touches Redis: the policy is in memory and the conference name comes from the
    CallSid, so this works while the store is down."""
    policy = current_app.config["POLICY"]
    call_sid = _form("CallSid")
    return twiml(
        caller_ivr.fallback(
            policy.ivr.fallback_message,
            policy.ivr.fallback_endpoint,
            conference_name(call_sid) if call_sid else None,
            policy.ivr.wait_music_url or policy.hold.music_url,
        )
    )


@bp.errorhandler(Exception)
def failed(exc: Exception):
    current_app.logger.exception("voice webhook %s failed", request.path)
    if request.endpoint in CALLER_FACING:
        return _fallback_twiml()
    return "service error\n", 500, {"Content-Type": "text/plain"}
