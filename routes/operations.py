"""What an operator sees: every request timed per route and logged with its call and escalation,
/metrics (Prometheus), /ready (Redis, policy, workers)."""

from __future__ import annotations

import time
from typing import Any

import redis
from flask import Blueprint, Response, current_app, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST
from rq import Worker

from telephony.logs import bind, unbind
from telephony.metrics import WEBHOOK_SECONDS, exposition

bp = Blueprint("operations", __name__)
WORKER_HEARTBEAT_SECONDS = 120


@bp.before_app_request
def start() -> None:
    g.started = time.perf_counter()
    values = request.values if request.method == "POST" and request.mimetype != "application/json" else request.args
    g.log_token = bind(
        call_sid=values.get("CallSid") or (request.view_args or {}).get("call_sid"),
        escalation_id=request.args.get("escalation") or (request.view_args or {}).get("esc_id"),
        callback_id=request.args.get("callback") or (request.view_args or {}).get("cb_id"),
    )


_TIMERS: dict[str, Any] = {}  # each route's histogram child, looked up once (labels() costs per request)


@bp.after_app_request
def timed(response):
    if "started" in g:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        timer = _TIMERS.get(route)
        if timer is None:
            timer = _TIMERS[route] = WEBHOOK_SECONDS.labels(route=route)
        timer.observe(time.perf_counter() - g.started)
    return response


@bp.teardown_app_request
def done(_exc) -> None:
    token = g.pop("log_token", None)
    if token is not None:
        unbind(token)


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
    if problems:
        return jsonify(status="not_ready", problems=problems), 503
    if len(served) > 1:
        return jsonify(status="ready", organisations=len(served), workers=len(alive))
    return jsonify(status="ready", policy=core.policy.name, workers=len(alive))
