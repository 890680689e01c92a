"""The agents' and leads' console at /: sign-in with an API token into a cookie session, one page
that reads and changes everything through the JSON API, live updates by server-sent events, and
the browser softphone's access token."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import redis
from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    stream_with_context,
    url_for,
)
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import InputRequired

from routes import tenancy
from routes.openapi import SPEC, ChangeEvents, ConsoleState, EventsHeaders, VoiceToken, responses
from routes.security import auth_failures, client_address, roles_of, session_actor, sign_in, staff
from telephony.config import ROOT
from telephony.console.overview import console_state
from telephony.console.softphone import voice_token
from telephony.core import Core
from telephony.errors import DomainError
from telephony.policy.models import KINDS

bp = Blueprint(
    "console", __name__, template_folder="../templates", static_folder="../static", static_url_path="/console/static"
)

SDK_DIR = ROOT / "node_modules" / "@twilio" / "voice-sdk" / "dist"
CHART_DIR = ROOT / "node_modules" / "chart.js" / "dist"
STREAM_SECONDS = 15
# Event streams open at once in one web process (issue 34): each holds a gunicorn thread for up to
# STREAM_SECONDS, and longer when Redis is slow, so they get a budget of their own and can never
# take the threads Twilio's webhooks need: half of gunicorn.conf.py's 16 threads a process (a
# stream whose browser went away holds its slot until its next keep-alive, up to 5 s). One over
# the budget is told to come back in STREAM_FULL_RETRY_MS; the browser's EventSource does so by
# itself, replaying from Last-Event-ID.
STREAMS_PER_PROCESS = 8
STREAM_FULL_RETRY_MS = 5000
EVENT_ID = re.compile(r"\d{1,20}-\d{1,20}")
# Buttons the console shows only when the API has the endpoint (the procedures work adds them).
FEATURE_WORDS = {
    "early_warning": ("early-warning", "/flag"),
    "warning_protocol": ("warning-protocol", "/warning"),
    "tasks": ("/tasks",),
    "listen": ("/listen",),
    "coach": ("/coach",),
}


class SignInForm(FlaskForm):
    token = PasswordField("API token", validators=[InputRequired(message="Enter your API token.")])


def core() -> Core:
    return tenancy.core()


@bp.get("/")
def home():
    actor = session_actor()
    if actor is None:
        return redirect(url_for("console.sign_in_page"))
    return render_template("console.html", actor=actor, kinds=KINDS)


@bp.get("/reports")
def reports_page():
    """The Reports view (leads and up): charts and the numbers of GET /api/reports for some days."""
    actor = session_actor()
    if actor is None:
        return redirect(url_for("console.sign_in_page"))
    if actor.role not in ("lead", "supervisor", "manager"):
        return render_template("reports.html", actor=actor, today="", refused=True), 403
    today = core().ctx.clock.now().astimezone(core().policy.time_zone).date().isoformat()
    return render_template("reports.html", actor=actor, today=request.args.get("day") or today, refused=False)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in_page():
    form = SignInForm()
    error = None
    if request.method == "POST":
        wait = auth_failures().retry_after(client_address())
        if wait is not None:
            error = f"Too many wrong tokens from this address. Try again in {wait} seconds."
            page = render_template("sign_in.html", form=form, error=error)
            return page, 429, {"Retry-After": str(wait)}
    if form.validate_on_submit():
        if sign_in(form.token.data) is not None:
            return redirect(url_for("console.home"))
        auth_failures().failed(client_address())
        error = "That token is not known here. Check it against API_TOKENS and try again."
    elif request.method == "POST":
        error = next(iter(form.errors.get("token", [])), None) or "The form expired; please sign in again."
    return render_template("sign_in.html", form=form, error=error), (401 if error else 200)


@bp.post("/sign-out")
def sign_out():
    session.clear()
    return redirect(url_for("console.sign_in_page"))


@bp.get("/api/console")
@SPEC.validate(resp=responses(200, ConsoleState), tags=["console"], skip_validation=True)
@staff()
def state():
    settings = current_app.config["SETTINGS"]
    return jsonify(console_state(core().ctx, g.actor, features(), bool(settings.twilio_api_key_sid)))


@bp.post("/api/voice-token")
@SPEC.validate(resp=responses(200, VoiceToken, 409), tags=["console"], skip_validation=True)
@staff()
def token():
    return jsonify(voice_token(current_app.config["SETTINGS"], core().policy, g.actor))


def documented(**spec):
    """In the OpenAPI document, but run without spectree's response wrapper: it reads the whole
    body, and an event stream has no end (spectree finds the route through __wrapped__)."""

    def wrap(view):
        view.__wrapped__ = SPEC.validate(**spec)(view.__wrapped__)
        return view

    return wrap


@bp.get("/api/events")
@documented(headers=EventsHeaders, resp=responses(200, ChangeEvents), tags=["console"], skip_validation=True)
@staff()
def events():
    """Server-sent events (Accept: text/event-stream, as EventSource asks): what changed, replayed
    from Last-Event-ID after a reconnect. Each stream ends after STREAM_SECONDS so no web worker
    is held for ever; the browser reconnects. Any other Accept: what came after Last-Event-ID, as JSON."""
    last = request.headers.get("Last-Event-ID", "")
    store = core().ctx.store
    if not EVENT_ID.fullmatch(last):
        last = store.last_event_id()
    if "text/event-stream" not in request.headers.get("Accept", ""):
        missed = [{"event_id": entry, **change} for entry, change in store.events_after(last)]
        return jsonify(events=missed, last_event_id=missed[-1]["event_id"] if missed else last)

    streams = current_app.extensions.setdefault("event_streams", threading.BoundedSemaphore(STREAMS_PER_PROCESS))
    if not streams.acquire(blocking=False):
        return Response(
            f"retry: {STREAM_FULL_RETRY_MS}\n\n",
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Stream-Budget": "full"},
        )

    def stream(last_id: str):
        pubsub = store.listen()
        try:
            yield "retry: 1000\n\n"
            deadline = time.monotonic() + STREAM_SECONDS
            while time.monotonic() < deadline:
                for entry, change in store.events_after(last_id):
                    last_id = entry
                    yield f"id: {entry}\nevent: change\ndata: {json.dumps(change)}\n\n"
                if pubsub.get_message(timeout=5) is None:
                    yield ": still here\n\n"
        except redis.RedisError:
            return
        finally:
            pubsub.close()

    response = Response(
        stream_with_context(stream(last)),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    response.call_on_close(streams.release)
    return response


@bp.get("/vendor/twilio.min.js")
def voice_sdk():
    """The Voice SDK from node_modules (npm ci in make setup); absent, the page stays offline."""
    if not (SDK_DIR / "twilio.min.js").is_file():
        return Response("// the Voice SDK is not installed (run make setup)\n", mimetype="text/javascript")
    return send_from_directory(Path(SDK_DIR), "twilio.min.js", mimetype="text/javascript", max_age=3600)


@bp.get("/vendor/chart.umd.min.js")
def chart_js():
    """Chart.js from node_modules (pinned in package.json; npm ci in make setup), never a CDN."""
    if not (CHART_DIR / "chart.umd.min.js").is_file():
        return Response("// Chart.js is not installed (run make setup)\n", mimetype="text/javascript")
    return send_from_directory(Path(CHART_DIR), "chart.umd.min.js", mimetype="text/javascript", max_age=3600)


def features() -> list[dict[str, Any]]:
    found = []
    for rule in current_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for name, words in FEATURE_WORDS.items():
            if any(w in rule.rule for w in words):
                methods = sorted(m for m in rule.methods or () if m in ("GET", "POST", "PUT"))
                roles = roles_of(current_app.view_functions.get(rule.endpoint))
                found.append({"name": name, "path": rule.rule, "methods": methods, "roles": list(roles)})
    return found


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError):
    return jsonify(error=exc.code, message=exc.message, **exc.detail), exc.status
