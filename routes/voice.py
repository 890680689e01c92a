"""Twilio's voice webhooks: parse the form, call the core, render TwiML."""

from __future__ import annotations

import redis
from flask import Blueprint, Response, current_app, request

from ivr import callback as callback_ivr
from ivr import caller as caller_ivr
from ivr import hold as hold_ivr
from ivr import lead as lead_ivr
from ivr.cached import kept
from routes import tenancy
from routes.security import not_from_twilio, twilio_webhook
from telephony.context import conference_name, is_call_sid
from telephony.core import Core
from telephony.errors import DomainError, InvalidRequest
from telephony.hold.wording import with_role
from telephony.lifecycle import HOLDING_STATES

bp = Blueprint("voice", __name__, url_prefix="/voice")

# Routes whose answer is what a caller hears next: if they fail the caller must not hear
# "an application error has occurred" and be hung up on.
CALLER_FACING = {
    "voice.incoming",
    "voice.account",
    "voice.wait",
    "voice.hold",
    "voice.hold_offer",
    "voice.hold_choice",
    "voice.hold_loop",
    "voice.hold_loop_choice",
    "voice.rejoin",
    "voice.voicemail",
    "voice.voicemail_done",
    "voice.callback_offer",
    "voice.callback_offer_choice",
    "voice.callback_number",
    "voice.callback_number_choice",
    "voice.callback_number_keyed",
    "voice.callback_number_confirmed",
    "voice.callback_window",
    "voice.warning_disconnect",
}
# A conference's wait and hold URLs: Twilio runs only Say, Play, Pause and Redirect from them
# (error 13238), and has no fallback URL for them, so their fallback keeps the music playing and
# fetches the same URL again.
HOLD_MUSIC = {"voice.wait", "voice.hold"}
UNCLEAR_TRIES = 2


def core() -> Core:
    return tenancy.core()


def twiml(response) -> Response:
    """TwiML (a VoiceResponse, or its text kept by ivr.cached) as the answer."""
    return Response(str(response), mimetype="text/xml")


def int_arg(name: str, default: int) -> int:
    try:
        return max(0, int(request.args.get(name, default)))
    except ValueError:
        return default


def form(name: str) -> str:
    return request.values.get(name, "").strip()


@bp.post("/incoming")
@twilio_webhook
def incoming():
    c = core()
    c.intake.caller_arrived(form("CallSid"), form("From"), form("To"))
    return twiml(
        kept(
            c.policy,
            c.ctx.urls,
            ("ask_account", 1, False),
            lambda _: caller_ivr.ask_account(c.policy, c.ctx.urls, attempt=1, retry=False),
        )
    )


@bp.post("/account")
@twilio_webhook
def account():
    c = core()
    call_sid = form("CallSid")
    if not is_call_sid(call_sid):
        # Never Twilio's: the caller-facing error path answers with the fallback (no conference
        # named after it, no state saved under it).
        raise InvalidRequest("CallSid is not a Twilio call SID.", code="invalid_call_sid")
    outcome = c.intake.account_entered(call_sid, form("Digits"), int_arg("attempt", 1))
    if outcome.join_conference:
        return twiml(
            kept(
                c.policy,
                c.ctx.urls,
                "join_own_conference",
                lambda conference: caller_ivr.join_own_conference(c.policy, c.ctx.urls, conference),
                conference_name(call_sid),
            )
        )
    attempt = outcome.next_attempt
    return twiml(
        kept(
            c.policy,
            c.ctx.urls,
            ("ask_account", attempt, True),
            lambda _: caller_ivr.ask_account(c.policy, c.ctx.urls, attempt=attempt, retry=True),
        )
    )


@bp.route("/wait", methods=["GET", "POST"])
@twilio_webhook
def wait():
    c = core()
    return twiml(caller_ivr.waiting_for_agent(c.policy, c.ctx.urls, c.intake.words_while_waiting(form("CallSid"))))


@bp.route("/hold", methods=["GET", "POST"])
@twilio_webhook
def hold():
    c = core()
    esc_id = request.args.get("escalation", "")
    words = c.hold.words_on_hold(esc_id, int_arg("check_in", 0))
    return twiml(
        kept(
            c.policy,
            c.ctx.urls,
            ("on_hold", words),
            lambda ident: hold_ivr.on_hold(c.policy, c.ctx.urls, ident, words),
            esc_id,
        )
    )


@bp.post("/hold/offer")
@twilio_webhook
def hold_offer():
    c = core()
    return twiml(hold_ivr.offer(c.policy, c.ctx.urls, request.args.get("escalation", ""), 0))


@bp.post("/hold/choice")
@twilio_webhook
def hold_choice():
    c = core()
    esc_id, tries = request.args.get("escalation", ""), int_arg("tries", 0)
    choice = c.hold.choice(esc_id, form("Digits"), form("SpeechResult"))
    if choice == "callback":
        return callback_number_step(esc_id, 0)
    if choice == "unclear" and tries < UNCLEAR_TRIES:
        return twiml(hold_ivr.offer(c.policy, c.ctx.urls, esc_id, tries + 1, unclear=True))
    if choice == "unclear":
        choice = c.hold.choice(esc_id, "1", "")
    if choice == "keep":
        return twiml(hold_ivr.keep_holding(c.policy, c.ctx.urls, esc_id, 0, c.hold.role_for(esc_id)))
    return _rejoin(esc_id)


@bp.post("/hold/loop")
@twilio_webhook
def hold_loop():
    c = core()
    esc_id = request.args.get("escalation", "")
    if c.warm_transfer.view(esc_id)["state"] not in HOLDING_STATES:
        return _rejoin(esc_id)
    return twiml(hold_ivr.keep_holding(c.policy, c.ctx.urls, esc_id, int_arg("round", 1), c.hold.role_for(esc_id)))


@bp.post("/hold/loop/choice")
@twilio_webhook
def hold_loop_choice():
    c = core()
    esc_id = request.args.get("escalation", "")
    if (
        c.callback_capture.offer_choice(esc_id, "1" if form("Digits") == "2" else "", form("SpeechResult"))
        == "callback"
    ):
        return callback_number_step(esc_id, 0)
    return twiml(hold_ivr.keep_holding(c.policy, c.ctx.urls, esc_id, 1, c.hold.role_for(esc_id)))


def callback_number_step(esc_id: str, tries: int) -> Response:
    """Offer the caller ID read back first; without a usable one, ask for a number."""
    c = core()
    number = c.callback_capture.caller_id(esc_id)
    if number and tries < UNCLEAR_TRIES:
        return twiml(callback_ivr.confirm_caller_id(c.policy, c.ctx.urls, esc_id, number, tries))
    return twiml(callback_ivr.ask_number(c.policy, c.ctx.urls, esc_id, 0))


@bp.route("/rejoin", methods=["GET", "POST"])
@twilio_webhook
def rejoin():
    return _rejoin(request.args.get("escalation", ""))


def _rejoin(esc_id: str) -> Response:
    c = core()
    caller_sid = c.warm_transfer.view(esc_id)["call_sid"]
    return twiml(hold_ivr.rejoin(c.policy, c.ctx.urls, conference_name(caller_sid)))


@bp.post("/voicemail")
@twilio_webhook
def voicemail():
    c = core()
    esc_id = request.args.get("escalation", "")
    return twiml(hold_ivr.voicemail(c.policy, c.ctx.urls, esc_id, c.hold.role_for(esc_id)))


@bp.post("/voicemail/done")
@twilio_webhook
def voicemail_done():
    c = core()
    esc_id = request.args.get("escalation", "")
    c.callback_capture.voicemail_left(esc_id, form("RecordingUrl"))
    return twiml(hold_ivr.goodbye(c.policy, with_role(c.policy.hold.voicemail_thanks, c.hold.role_for(esc_id))))


@bp.post("/warnings/disconnect")
@twilio_webhook
def warning_disconnect():
    """R-ABUSE-1, where the policy allows it: the caller hears the policy's last words, then the
    call ends. Only the policy in memory: nothing here can fail half-way."""
    policy = core().policy
    return twiml(hold_ivr.goodbye(policy, policy.warnings.disconnect_message))


@bp.post("/transcription")
@twilio_webhook
def transcription():
    """R-NOTE-5: Twilio real-time transcription events for the caller's leg (statusCallbackUrl of
    <Start><Transcription>); each final utterance goes through the red-flag matcher."""
    core().red_flags.transcription_event(request.form)
    return "", 204


@bp.post("/listener/status")
@twilio_webhook
def listener_status():
    core().listen_in.leg_status(request.args.get("caller", ""), form("CallSid"), form("CallStatus"))
    return "", 204


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
    briefing = c.lead_hunt.lead_answered(esc_id, form("CallSid"))
    return twiml(lead_ivr.announcement(c.policy, c.ctx.urls, esc_id, briefing, int_arg("replay", 0)))


@bp.post("/lead/decision")
@twilio_webhook
def lead_decision():
    c = core()
    esc_id, call_sid, replay = request.args.get("escalation", ""), form("CallSid"), int_arg("replay", 0)
    decision = c.lead_hunt.lead_decided(esc_id, call_sid, form("Digits"), replay, lead_ivr.REPLAYS)
    if decision in ("accepted", "accepted_agent_gone"):
        caller_sid = c.warm_transfer.view(esc_id)["call_sid"]
        words = c.policy.announcement.accepted if decision == "accepted" else c.policy.announcement.accepted_agent_gone
        return twiml(lead_ivr.accepted(c.policy, c.ctx.urls, conference_name(caller_sid), words))
    if decision in ("replay", "ask_again"):
        briefing = c.lead_hunt.lead_answered(esc_id, call_sid)
        if decision == "replay":
            return twiml(lead_ivr.announcement(c.policy, c.ctx.urls, esc_id, briefing, replay + 1))
        return twiml(lead_ivr.ask_again(c.policy, c.ctx.urls, esc_id, briefing, replay))
    if decision == "declined":
        return twiml(lead_ivr.declined(c.policy))
    return twiml(lead_ivr.caller_gone(c.policy))


@bp.route("/lead/notice", methods=["GET", "POST"])
@twilio_webhook
def lead_notice():
    """What a lead who accepted is told (an announcement, or as their call leaves)."""
    c = core()
    words = c.hold.lead_notice.words(request.args.get("notice", ""))
    return twiml(lead_ivr.notice(c.policy, words, leave=request.args.get("leave") == "1"))


@bp.route("/caller/connected", methods=["GET", "POST"])
@twilio_webhook
def caller_connected():
    c = core()
    return twiml(lead_ivr.notice(c.policy, c.hold.lead_notice.caller_hears(request.args.get("escalation", ""))))


@bp.post("/lead/status")
@twilio_webhook
def lead_status():
    core().lead_status(request.args.get("escalation", ""), request.form)
    return "", 204


@bp.route("/fallback", methods=["GET", "POST"])
@twilio_webhook
def fallback():
    return _fallback_twiml()


@bp.before_request
def organisation_known():
    """A call to a number no organisation's policy claims (or a URL naming none we serve): once
    Twilio's signature is checked, an apology and the deployment's fallback line, never a 500."""
    if tenancy.voice_core(follow=request.endpoint != "voice.fallback") is not None:
        return None  # the fallback never waits on Redis, not even to follow a reload
    refused = not_from_twilio()
    if refused is not None:
        return refused
    current_app.logger.error(
        "voice webhook %s for %s (org %r): no policy claims this number",
        request.path,
        form("To") or "no number",
        request.args.get("org", ""),
    )
    if request.endpoint in HOLD_MUSIC:
        return _keep_music_playing()
    if request.endpoint in CALLER_FACING or request.endpoint == "voice.fallback":
        return _fallback_twiml()
    return "", 204


def _keep_music_playing() -> Response:
    """The fallback on a wait or hold URL: music from the policy in memory (none for a number no
    policy claims), then the same URL again. Never touches Redis."""
    policy = tenancy.policy()
    music = ""
    if policy is not None:
        music = policy.hold.music_url
        if request.endpoint == "voice.wait":
            music = policy.ivr.wait_music_url or music
    base = current_app.config["SETTINGS"].public_base_url.rstrip("/")
    return twiml(caller_ivr.keep_music_playing(music, base + request.full_path.rstrip("?")))


def _fallback_twiml() -> Response:
    """Never touches Redis: the policy is in memory and the conference name comes from the
    CallSid, so this works while the store is down."""
    policy = tenancy.policy()
    if policy is None:
        settings = current_app.config["SETTINGS"]
        return twiml(caller_ivr.unserved(settings.unserved_fallback))
    call_sid = form("CallSid") if is_call_sid(form("CallSid")) else ""
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
    if isinstance(exc, DomainError):
        current_app.logger.warning("voice webhook %s: %s", request.path, exc.message)
    elif isinstance(exc, redis.RedisError):
        current_app.extensions["store_outage"].failed(exc)
    else:
        current_app.logger.exception("voice webhook %s failed", request.path)
    if request.endpoint in HOLD_MUSIC:
        return _keep_music_playing()
    if request.endpoint in CALLER_FACING:
        return _fallback_twiml()
    if isinstance(exc, redis.RedisError):
        return "store unavailable\n", 503, {"Content-Type": "text/plain"}
    return "service error\n", 500, {"Content-Type": "text/plain"}
