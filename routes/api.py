"""The agent and lead API (CONTRACT.md): JSON in, JSON out, errors a person can act on."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from routes.openapi import OPENAPI
from routes.security import staff
from telephony.core import Core
from telephony.errors import DomainError, InvalidRequest

bp = Blueprint("api", __name__, url_prefix="/api")

STATES = ("dialing_lead", "briefing", "connected", "callback_scheduled", "resolved", "abandoned", "failed")


def core() -> Core:
    return current_app.extensions["core"]


def json_body():
    if not request.data:
        return {}
    body = request.get_json(silent=True)
    if body is None:
        raise InvalidRequest("The body is not valid JSON.", code="invalid_json")
    return body


@bp.post("/escalations")
@staff()
def escalate():
    body = json_body()
    view, created = core().warm_transfer.escalate(g.actor, body)
    return jsonify(view), 201, ({} if created else {"Idempotent-Replayed": "true"})


@bp.get("/escalations/<esc_id>")
@staff()
def escalation(esc_id: str):
    return jsonify(core().warm_transfer.read(g.actor, esc_id))


@bp.get("/escalations")
@staff()
def escalations():
    state = request.args.get("state") or None
    if state and state not in STATES:
        raise InvalidRequest(f"'state' must be one of {', '.join(STATES)}.", code="invalid_query", field="state")
    return jsonify(escalations=core().warm_transfer.list(state, g.actor))


@bp.post("/escalations/<esc_id>/connect")
@staff()
def connect(esc_id: str):
    return jsonify(core().warm_transfer.connect(g.actor, esc_id, json_body()))


CALLBACK_STATUSES = ("scheduled", "dialing", "completed", "no_answer", "rescheduled", "overdue", "cancelled")


@bp.get("/callbacks")
@staff()
def callbacks():
    status = request.args.get("status") or None
    if status and status not in CALLBACK_STATUSES:
        raise InvalidRequest(
            f"'status' must be one of {', '.join(CALLBACK_STATUSES)}.", code="invalid_query", field="status"
        )
    return jsonify(callbacks=core().callbacks.list(status, g.actor))


@bp.post("/callbacks/<cb_id>/cancel")
@staff()
def cancel_callback(cb_id: str):
    return jsonify(core().callbacks.cancel(g.actor, cb_id))


@bp.post("/callbacks/<cb_id>/reschedule")
@staff()
def reschedule_callback(cb_id: str):
    return jsonify(core().callbacks.reschedule(g.actor, cb_id, json_body()))


@bp.get("/calls")
@staff()
def calls():
    return jsonify(calls=core().live_calls(g.actor))


@bp.put("/people/<person_id>/presence")
@staff()
def presence(person_id: str):
    body = json_body()
    if not isinstance(body, dict) or "presence" not in body:
        raise InvalidRequest('Send {"presence": "available"|"busy"|"offline"}.', code="missing_field", field="presence")
    return jsonify(core().set_presence(g.actor, person_id, body["presence"]))


@bp.get("/openapi.json")
def openapi():
    return jsonify(OPENAPI)


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError):
    return jsonify(error=exc.code, message=exc.message, **exc.detail), exc.status


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    return jsonify(error=exc.name.lower().replace(" ", "_"), message=exc.description), exc.code
