"""The agent and lead API (docs/api.md): JSON in, JSON out, errors a person can act on."""

from __future__ import annotations

import functools

import redis
from flask import Blueprint, current_app, g, jsonify, request, stream_with_context
from flask import Response as FlaskResponse
from spectree import Response
from werkzeug.exceptions import HTTPException

from routes import tenancy
from routes.openapi import (
    SPEC,
    Callback,
    Callbacks,
    CallNotesView,
    Calls,
    EarlyWarningState,
    Escalation,
    EscalationRecord,
    Escalations,
    Listening,
    ManagerEmails,
    NoteAdded,
    PolicyReload,
    Presence,
    Queues,
    RecordsQuery,
    StateQuery,
    StatusQuery,
    Task,
    TaskQuery,
    Tasks,
    WarningState,
    export_responses,
    responses,
)
from routes.openapi import Error as ErrorBody
from routes.openapi_reports import Report, ReportsQuery
from routes.security import staff
from telephony.console.queues import queue_view
from telephony.core import Core
from telephony.errors import DomainError, InvalidRequest
from telephony.escalation.case_routing import CaseUpdate
from telephony.escalation.warning_protocol import WarningAction, WarningRequest
from telephony.escalation_request import ConnectRequest, EscalationRequest, PresenceRequest, RescheduleRequest
from telephony.lifecycle import CallbackStatus, EscalationState
from telephony.notify.early_warning import EarlyWarningRequest
from telephony.notify.follow_through import TASK_STATUSES, TaskRequest
from telephony.records.call_notes import NoteRequest

bp = Blueprint("api", __name__, url_prefix="/api")

STATES = tuple(state.value for state in EscalationState)


def core() -> Core:
    return tenancy.core()


MAX_JSON_DEPTH = 32


def json_body():
    """The JSON body ({} when there is none); a body of another type is 415, not a puzzle.

    No body of this API nests deeper than a few levels: one nested past MAX_JSON_DEPTH is a 400
    (issue 35), whether the parser ran out of stack on it (a RecursionError is not a ValueError,
    so `silent` let it through as a 500 with a traceback) or it parsed and would reach the models."""
    if not request.content_length and not request.data:
        return {}
    if not request.is_json:
        raise UnsupportedMediaType()
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        raise TooDeep() from None
    if body is None:
        raise InvalidRequest("The body is not valid JSON.", code="invalid_json")
    if depth_over(body, MAX_JSON_DEPTH):
        raise TooDeep()
    return body


def depth_over(value: object, limit: int) -> bool:
    """Whether a parsed JSON value nests deeper than `limit` (walked without recursion)."""
    level = [value]
    for _ in range(limit):
        level = [
            child
            for item in level
            if isinstance(item, (dict, list))
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return False
    return any(isinstance(item, (dict, list)) for item in level)


class TooDeep(InvalidRequest):
    def __init__(self):
        super().__init__(f"The body nests deeper than {MAX_JSON_DEPTH} levels.", code="invalid_json")


@bp.post("/escalations")
@SPEC.validate(
    json=EscalationRequest,
    resp=responses(201, Escalation, 403, 404, 409, 502),
    tags=["escalations"],
    skip_validation=True,
)
@staff()
def escalate():
    body = json_body()
    view, created = core().warm_transfer.escalate(g.actor, body)
    return jsonify(view), 201, ({} if created else {"Idempotent-Replayed": "true"})


@bp.get("/escalations/<esc_id>")
@SPEC.validate(resp=responses(200, Escalation, 403, 404), tags=["escalations"], skip_validation=True)
@staff()
def escalation(esc_id: str):
    return jsonify(core().warm_transfer.read(g.actor, esc_id))


@bp.get("/escalations/<esc_id>/record")
@SPEC.validate(resp=responses(200, EscalationRecord, 403, 404), tags=["records"], skip_validation=True)
@staff()
def escalation_record(esc_id: str):
    """R-NOTE-3: the escalation record and its CRM note; agents see their own calls', numbers masked."""
    return jsonify(core().records.read(g.actor, esc_id))


def unbuffered(documented):
    """Serve a streamed body as it is made: spectree's wrapper reads a response's whole body
    (`get_data()`) even with skip_validation, so the first byte of a year's export came after its
    last record and the worker held it all (issue 30). The route keeps spectree's documentation
    (its attributes, copied) and is served by the view spectree wrapped."""
    inner = documented.__wrapped__

    @functools.wraps(documented)
    def view(*args, **kwargs):
        return inner(*args, **kwargs)

    return view


@bp.get("/records")
@unbuffered
@SPEC.validate(query=RecordsQuery, resp=export_responses(), tags=["records"], skip_validation=True)
@staff("lead", "supervisor", "manager")
def records():
    """R-NOTE-3: every escalation created on these days, as JSON or CSV, streamed."""
    fmt, body, name = core().records.export(g.actor, request.args.to_dict())
    mimetype = "text/csv" if fmt == "csv" else "application/json"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return FlaskResponse(stream_with_context(body), mimetype=mimetype, headers=headers)


@bp.get("/reports")
@SPEC.validate(query=ReportsQuery, resp=export_responses(Report), tags=["records"], skip_validation=True)
@staff("lead", "supervisor", "manager")
def reports():
    """Managers' numbers for these days, from the records archive, as JSON or CSV."""
    fmt, body, text, name = core().reports.report(g.actor, request.args.to_dict())
    if fmt == "csv":
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return FlaskResponse(text, mimetype="text/csv", headers=headers)
    return jsonify(body)


@bp.get("/escalations")
@SPEC.validate(query=StateQuery, resp=responses(200, Escalations), tags=["escalations"], skip_validation=True)
@staff()
def escalations():
    state = request.args.get("state") or None
    if state and state not in STATES:
        raise InvalidRequest(f"'state' must be one of {', '.join(STATES)}.", code="invalid_query", field="state")
    return jsonify(escalations=core().warm_transfer.list(state, g.actor))


@bp.post("/escalations/<esc_id>/connect")
@SPEC.validate(
    json=ConnectRequest, resp=responses(200, Escalation, 403, 404, 409, 502), tags=["escalations"], skip_validation=True
)
@staff()
def connect(esc_id: str):
    return jsonify(core().warm_transfer.connect(g.actor, esc_id, json_body()))


@bp.post("/escalations/<esc_id>/case")
@SPEC.validate(
    json=CaseUpdate, resp=responses(200, Escalation, 403, 404, 409), tags=["escalations"], skip_validation=True
)
@staff()
def move_case(esc_id: str):
    """R-ESC-8: the case's owner (or a manager) moves its status, owner or department."""
    return jsonify(core().warm_transfer.move_case(g.actor, esc_id, json_body()))


@bp.get("/escalations/<esc_id>/emails")
@SPEC.validate(resp=responses(200, ManagerEmails, 403, 404), tags=["notifications"], skip_validation=True)
@staff()
def escalation_emails(esc_id: str):
    """R-NOTE-2: the urgent emails of this escalation, sent or still waiting to be."""
    core().warm_transfer.read(g.actor, esc_id)
    return jsonify(emails=core().notify.emails.of_escalation(esc_id))


@bp.post("/calls/<call_sid>/early-warning")
@SPEC.validate(
    json=EarlyWarningRequest,
    resp=responses(201, EarlyWarningState, 403, 404, 409),
    tags=["notifications"],
    skip_validation=True,
)
@staff("agent")
def early_warning(call_sid: str):
    """R-NOTE-4: the call's agent flags "this call may escalate"; the team lead is told at once."""
    return jsonify(core().early_warning.flag(g.actor, call_sid, json_body())), 201


@bp.post("/tasks")
@SPEC.validate(json=TaskRequest, resp=responses(201, Task, 403, 404), tags=["follow-through"], skip_validation=True)
@staff()
def create_task():
    """R-NOTE-6: a promise made on the call becomes a task with an owner and a due time."""
    return jsonify(core().follow_through.create(g.actor, json_body())), 201


@bp.get("/tasks")
@SPEC.validate(query=TaskQuery, resp=responses(200, Tasks), tags=["follow-through"], skip_validation=True)
@staff()
def tasks():
    """R-NOTE-6: my tasks; a lead's also those of the people they lead; a manager's all."""
    status = request.args.get("status") or None
    if status and status not in TASK_STATUSES:
        raise InvalidRequest(
            f"'status' must be one of {', '.join(TASK_STATUSES)}.", code="invalid_query", field="status"
        )
    return jsonify(tasks=core().follow_through.list(g.actor, status))


@bp.post("/tasks/<task_id>/done")
@SPEC.validate(resp=responses(200, Task, 403, 404, 409), tags=["follow-through"], skip_validation=True)
@staff()
def task_done(task_id: str):
    """R-NOTE-6: the promise is kept."""
    return jsonify(core().follow_through.done(g.actor, task_id))


CALLBACK_STATUSES = tuple(status.value for status in CallbackStatus)


@bp.get("/callbacks")
@SPEC.validate(query=StatusQuery, resp=responses(200, Callbacks), tags=["callbacks"], skip_validation=True)
@staff()
def callbacks():
    status = request.args.get("status") or None
    if status and status not in CALLBACK_STATUSES:
        raise InvalidRequest(
            f"'status' must be one of {', '.join(CALLBACK_STATUSES)}.", code="invalid_query", field="status"
        )
    return jsonify(callbacks=core().callbacks.list(status, g.actor))


@bp.post("/callbacks/<cb_id>/cancel")
@SPEC.validate(resp=responses(200, Callback, 403, 404, 409), tags=["callbacks"], skip_validation=True)
@staff()
def cancel_callback(cb_id: str):
    return jsonify(core().callbacks.cancel(g.actor, cb_id))


@bp.post("/callbacks/<cb_id>/reschedule")
@SPEC.validate(
    json=RescheduleRequest, resp=responses(200, Callback, 403, 404, 409), tags=["callbacks"], skip_validation=True
)
@staff()
def reschedule_callback(cb_id: str):
    return jsonify(core().callbacks.reschedule(g.actor, cb_id, json_body()))


@bp.get("/calls")
@SPEC.validate(resp=responses(200, Calls), tags=["calls"], skip_validation=True)
@staff()
def calls():
    return jsonify(calls=core().live_calls(g.actor))


@bp.get("/calls/<call_sid>/warnings")
@SPEC.validate(resp=responses(200, WarningState, 403, 404), tags=["warning protocol"], skip_validation=True)
@staff()
def warnings(call_sid: str):
    """R-ABUSE-1: the warnings given on this call, with their times, and what may follow."""
    return jsonify(core().warnings.view(g.actor, call_sid))


@bp.post("/calls/<call_sid>/warnings")
@SPEC.validate(
    json=WarningRequest,
    resp=responses(200, WarningState, 403, 404, 409),
    tags=["warning protocol"],
    skip_validation=True,
)
@staff()
def warn(call_sid: str):
    """R-ABUSE-1: the agent has given warning 1, or warning 2 with its consequence."""
    return jsonify(core().warnings.warn(g.actor, call_sid, json_body()))


@bp.post("/calls/<call_sid>/warnings/action")
@SPEC.validate(
    json=WarningAction,
    resp=Response(
        HTTP_200=WarningState,
        HTTP_201=Escalation,
        **{f"HTTP_{code}": ErrorBody for code in (400, 401, 403, 404, 409, 429, 502)},
    ),
    tags=["warning protocol"],
    skip_validation=True,
)
@staff()
def act_on_warnings(call_sid: str):
    """R-ABUSE-1: after warning 2, transfer to a manager (201, the abusive escalation) or, where
    the policy allows it, disconnect (200); 403 where the policy forbids the action."""
    view, status = core().warnings.act(g.actor, call_sid, json_body())
    return jsonify(view), status


@bp.get("/calls/<call_sid>/notes")
@SPEC.validate(resp=responses(200, CallNotesView, 403, 404), tags=["notes and red flags"], skip_validation=True)
@staff()
def notes(call_sid: str):
    """The agent's notes on the call and every red flag it raised (R-NOTE-5)."""
    return jsonify(core().notes.view(g.actor, call_sid))


@bp.post("/calls/<call_sid>/notes")
@SPEC.validate(
    json=NoteRequest, resp=responses(201, NoteAdded, 403, 404), tags=["notes and red flags"], skip_validation=True
)
@staff()
def add_note(call_sid: str):
    """An agent's note, kept on the call and matched against the red-flag lexicon (R-NOTE-5)."""
    return jsonify(core().notes.add(g.actor, call_sid, json_body())), 201


@bp.post("/calls/<call_sid>/listen")
@SPEC.validate(resp=responses(200, Listening, 403, 404, 409, 502), tags=["listen-in"], skip_validation=True)
@staff("lead", "supervisor", "manager")
def listen(call_sid: str):
    """R-WARM-7: join the call muted (monitor), or switch to monitor from coaching."""
    return jsonify(core().listen_in.listen(g.actor, call_sid, "monitor"))


@bp.post("/calls/<call_sid>/coach")
@SPEC.validate(resp=responses(200, Listening, 403, 404, 409, 502), tags=["listen-in"], skip_validation=True)
@staff("lead", "supervisor", "manager")
def coach(call_sid: str):
    """R-WARM-7: join the call as a coach heard only by the agent, or switch to coaching."""
    return jsonify(core().listen_in.listen(g.actor, call_sid, "coach"))


@bp.delete("/calls/<call_sid>/listen")
@SPEC.validate(resp=responses(200, Listening, 403, 404, 502), tags=["listen-in"], skip_validation=True)
@staff("lead", "supervisor", "manager")
def stop_listening(call_sid: str):
    """R-WARM-7: leave the call; nobody on it hears the lead go."""
    return jsonify(core().listen_in.leave(g.actor, call_sid))


@bp.put("/people/<person_id>/presence")
@SPEC.validate(json=PresenceRequest, resp=responses(200, Presence, 403, 404), tags=["people"], skip_validation=True)
@staff()
def presence(person_id: str):
    return jsonify(core().set_presence(g.actor, person_id, json_body()))


@bp.post("/policies/reload")
@SPEC.validate(resp=responses(200, PolicyReload, 400, 403), tags=["operations"], skip_validation=True)
@staff("manager")
def reload_policies():
    """Issue 17: the manager's own organisation's changed policy file, checked first, serves from
    now on; a bad one is refused with its error and the old one keeps serving (issue 35: no other
    organisation's file is read)."""
    return jsonify(tenancy.organisations().reload_for(g.actor))


@bp.get("/queues")
@SPEC.validate(resp=responses(200, Queues, 403), tags=["operations"], skip_validation=True)
@staff("lead", "supervisor", "manager")
def queues():
    """Issue 11: the queues, workers and scheduler a lead watches (the console's rq-dashboard)."""
    return jsonify(queue_view(core().ctx))


@bp.get("/openapi.json")
def openapi():
    """Generated from the models in code (routes/openapi.py)."""
    return jsonify(SPEC.spec)


@bp.errorhandler(redis.RedisError)
def store_unavailable(exc: redis.RedisError):
    current_app.extensions["store_outage"].failed(exc)
    return jsonify(
        error="store_unavailable",
        message="The call store is not reachable right now; nothing was changed. Try again in a moment.",
    ), 503


@bp.after_request
def store_answered(response):
    if response.status_code != 503:
        current_app.extensions["store_outage"].answered()
    return response


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"

    def __init__(self):
        super().__init__("Send the body as JSON, with the header Content-Type: application/json.")


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError):
    return jsonify(error=exc.code, message=exc.message, **exc.detail), exc.status


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    return jsonify(error=exc.name.lower().replace(" ", "_"), message=exc.description), exc.code
