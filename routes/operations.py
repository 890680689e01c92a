"""What an operator sees: every request timed per route and logged with its call and escalation,
/metrics (Prometheus), /ready (Redis, policy, workers)."""

from __future__ import annotations

import time
from typing import Any

import redis
from flask import Blueprint, Flask, Response, current_app, has_request_context, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST
from rq import Worker

from telephony.logs import add_source
from telephony.metrics import WEBHOOK_SECONDS
from telephony.store_gauges import exposition

bp = Blueprint("operations", __name__)
WORKER_HEARTBEAT_SECONDS = 120


class TimedFlask(Flask):
    """The service's Flask: every request timed per route (escalations_webhook_seconds) around
    Flask's whole dispatch, its before/after hooks and error handlers included. A method, not a
    pair of request hooks: Flask looks each hook up and calls it on every request, and that,
    with the g attributes they shared, was a tenth of a webhook's own CPU (docs/benchmarks.md)."""

    def full_dispatch_request(self) -> Response:
        started = time.perf_counter()
        try:
            return super().full_dispatch_request()
        finally:
            rule = request.url_rule
            route = rule.rule if rule is not None else "unmatched"
            timer = _TIMERS.get(route)
            if timer is None:
                timer = _TIMERS[route] = WEBHOOK_SECONDS.labels(route=route)
            timer.observe(time.perf_counter() - started)


_TIMERS: dict[str, Any] = {}  # each route's histogram child, looked up once (labels() costs per request)


def request_ids() -> dict[str, str]:
    """The call, escalation and callback the request being answered is about, for every line it
    logs (telephony.logs asks only when a line is logged: most requests log none)."""
    if not has_request_context():
        return {}
    args = request.args
    try:
        values = request.values if request.method == "POST" and request.mimetype != "application/json" else args
    except Exception:  # a body it cannot read (the request's own answer says so): never lose the line
        values = args
    path = request.view_args or {}
    ids = {
        "call_sid": values.get("CallSid") or path.get("call_sid"),
        "escalation_id": args.get("escalation") or path.get("esc_id"),
        "callback_id": args.get("callback") or path.get("cb_id"),
    }
    return {k: v for k, v in ids.items() if v}


add_source(request_ids)


@bp.get("/metrics")
def metrics():
    return Response(exposition(current_app.extensions["organisations"].all()), mimetype=CONTENT_TYPE_LATEST)


@bp.get("/ready")
def ready():
    """Ready for traffic: Redis answers, the policy is loaded, and an RQ worker has sent a
    heartbeat lately (without one no check-in, hold limit or callback would ever run)."""
    served = current_app.extensions["organisations"].all()
    core = served[0]
    problems = []
    try:
        core.ctx.store.ping()
        workers = Worker.all(connection=core.ctx.timers.conn)
        now = time.time()
        alive = [
            w for w in workers if w.last_heartbeat and now - w.last_heartbeat.timestamp() < WORKER_HEARTBEAT_SECONDS
        ]
        if not alive:
            problems.append("no RQ worker has sent a heartbeat in the last 2 minutes")
    except redis.RedisError:
        problems.append("Redis does not answer")
    if core.policy is None:
        problems.append("no policy loaded")
    history = history_state(served)
    if problems:
        return jsonify(status="not_ready", problems=problems, history=history), 503
    if len(served) > 1:
        return jsonify(status="ready", organisations=len(served), workers=len(alive), history=history)
    return jsonify(status="ready", policy=core.policy.name, workers=len(alive), history=history)


def history_state(served) -> dict:
    """Issue 30: the history database and the events waiting to be written to it. The database
    down is not a reason to refuse traffic (calls never read it); the events wait in Redis and
    are written when it returns, so the backlog is shown, not a 503."""
    up = served[0].records.history.ping()
    try:
        waiting = sum(c.ctx.store.outbox_length() for c in served)
    except redis.RedisError:
        waiting = None
    return {"database": "up" if up else "down", "events_waiting": waiting}
