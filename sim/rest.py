"""The part of Twilio's REST API (2010-04-01) the service uses, served on loopback with Twilio's
request and response shapes, so the service's Twilio client only needs TWILIO_API_BASE_URL."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import Flask, jsonify, request

from sim.world import TERMINAL, Call, Conference, World

PREFIX = "/2010-04-01/Accounts/<account>"


@dataclass(frozen=True)
class RestRequest:
    """One request the service sent to the simulated REST API, and how it was answered."""

    method: str
    path: str
    params: dict[str, list[str]]
    status: int
    body: str = ""
    wall: float = field(default_factory=time.time)  # when it came, on the wall clock (CPS is per real second)


@dataclass
class RestFaults:
    """Twilio failing, on purpose (issue 11): a `fraction` of the requests for the operations in
    `operations` (all when empty), or every one while `active` is set, is answered with one of
    `kinds`: "500" (Twilio's 20500), "429" (20429 with Retry-After: `retry_after` seconds) or
    "timeout" (held for `hang_seconds`, longer than the client waits, then a 503). A faulted
    request changes nothing, as when Twilio failed before acting; except "late" (issue 34):
    Twilio acts (the call is placed) and its answer comes after `hang_seconds`, past the
    client's timeout. `times`: at most that many faults in all (0: no limit)."""

    fraction: float = 0.0
    kinds: tuple[str, ...] = ("500", "429", "timeout")
    retry_after: int = 1
    hang_seconds: float = 2.0
    operations: tuple[str, ...] = ()  # e.g. ("create_call", "update_participant"); empty: all
    active: bool = False  # a window: every matching request fails while set
    times: int = 0
    seed: int = 11
    injected: dict[str, int] = field(default_factory=dict)
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self):
        self._rng = random.Random(self.seed)

    def pick(self, operation: str) -> str | None:
        """The fault for this request (`operation`: the REST server's view, e.g. "create_call"), if any."""
        if self.operations and operation not in self.operations:
            return None
        with self._lock:
            if self.times and sum(self.injected.values()) >= self.times:
                return None
            if not self.active and self._rng.random() >= self.fraction:
                return None
            kind = self._rng.choice(self.kinds)
            self.injected[kind] = self.injected.get(kind, 0) + 1
            return kind


def _error(status: int, code: int, message: str):
    return jsonify(
        code=code, message=message, more_info=f"https://www.twilio.com/docs/errors/{code}", status=status
    ), status


def _shown(params: dict[str, list[str]]) -> dict:
    """Form fields for the transcript: one value as itself, a repeated field as its list."""
    return {k: v[0] if len(v) == 1 else v for k, v in params.items()}


def _call_json(world: World, call: Call) -> dict:
    return {
        "sid": call.sid,
        "account_sid": world.account_sid,
        "to": call.to,
        "from": call.frm,
        "status": call.status,
        "direction": call.direction,
        "api_version": "2010-04-01",
        "date_created": datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"),
        "uri": f"/2010-04-01/Accounts/{world.account_sid}/Calls/{call.sid}.json",
    }


def _participant_json(world: World, conf: Conference, call: Call) -> dict:
    part = conf.participants.get(call.sid)
    return {
        "account_sid": world.account_sid,
        "call_sid": call.sid,
        "conference_sid": conf.sid,
        "label": part.label if part else None,
        "hold": bool(part and part.hold),
        "muted": False,
        "status": "connected" if part else "queued",
        "end_conference_on_exit": bool(part and part.end_on_exit),
        "start_conference_on_enter": bool(part and part.start_on_enter),
        "uri": f"/2010-04-01/Accounts/{world.account_sid}/Conferences/{conf.sid}/Participants/{call.sid}.json",
    }


def create_rest_app(world: World, faults: RestFaults | None = None) -> Flask:
    app = Flask("twilio-simulator")
    app.config["FAULTS"] = faults or RestFaults()

    @app.before_request
    def authenticate():
        request.environ["sim.arrived"] = time.time()
        auth = request.authorization
        if auth is None or auth.username != world.account_sid or auth.password != world.auth_token:
            return _error(401, 20003, "Authenticate")
        if request.view_args and request.view_args.get("account") != world.account_sid:
            return _error(404, 20404, "The requested resource was not found")
        return _fault(app.config["FAULTS"].pick(request.endpoint or ""))

    def _fault(kind: str | None):
        if kind == "500":
            return _error(500, 20500, "Internal Server Error")
        if kind == "429":
            response, status = _error(429, 20429, "Too Many Requests")
            response.headers["Retry-After"] = str(app.config["FAULTS"].retry_after)
            return response, status
        if kind == "timeout":
            time.sleep(app.config["FAULTS"].hang_seconds)
            return _error(503, 20503, "Service Unavailable")
        if kind == "late":
            request.environ["sim.late"] = True  # acted on, answered after the client gave up
        return None

    @app.after_request
    def record(response):
        params = {k: request.form.getlist(k) for k in request.form}
        body = response.get_data(as_text=True) if response.is_json else ""
        world.rest_log.append(
            RestRequest(
                request.method,
                request.path,
                params,
                response.status_code,
                body,
                request.environ.get("sim.arrived", time.time()),
            )
        )
        world.transcript.add(
            world.now,
            "service",
            "rest",
            f"{request.method} {request.path} {_shown(params)} -> {response.status_code}",
        )
        if request.environ.get("sim.late"):
            time.sleep(app.config["FAULTS"].hang_seconds)
        return response

    def flag(name: str, default: bool = False) -> bool:
        value = request.form.get(name)
        return default if value is None else value.lower() == "true"

    @app.post(f"{PREFIX}/Calls.json")
    def create_call(account):
        form = request.form
        if not form.get("To") or not form.get("From") or not (form.get("Url") or form.get("Twiml")):
            return _error(400, 21205, "To, From and Url are required")
        with world.lock:
            call = world.outbound_call(
                form["To"],
                form["From"],
                form.get("Url", ""),
                form.get("StatusCallback", ""),
                form.getlist("StatusCallbackEvent"),
                int(form.get("Timeout", "60")),
                form.get("MachineDetection", ""),
                fallback_url=form.get("FallbackUrl", ""),
            )
            return jsonify(_call_json(world, call)), 201

    @app.get(f"{PREFIX}/Calls.json")
    def list_calls(account):
        """ListCall by To and From, newest first (how a lost dial is found again)."""
        to, frm = request.args.get("To"), request.args.get("From")
        with world.lock:
            calls = [
                _call_json(world, c)
                for c in reversed(list(world.calls.values()))
                if (to is None or c.to == to) and (frm is None or c.frm == frm)
            ]
        return jsonify(
            calls=calls,
            page=0,
            page_size=50,
            start=0,
            end=max(len(calls) - 1, 0),
            uri=request.full_path,
            first_page_uri=request.full_path,
            next_page_uri=None,
            previous_page_uri=None,
        )

    @app.get(f"{PREFIX}/Calls/<call_sid>.json")
    def fetch_call(account, call_sid):
        """FetchCall: what the reconciler asks of a call whose status callbacks it may have missed."""
        with world.lock:
            call = world.calls.get(call_sid)
            if call is None:
                return _error(404, 20404, f"The requested resource /Calls/{call_sid}.json was not found")
            return jsonify(_call_json(world, call))

    @app.post(f"{PREFIX}/Calls/<call_sid>.json")
    def update_call(account, call_sid):
        with world.lock:
            call = world.calls.get(call_sid)
            if call is None:
                return _error(404, 20404, f"The requested resource /Calls/{call_sid}.json was not found")
            status = request.form.get("Status")
            if status == "canceled":
                if call.status not in ("queued", "initiated", "ringing"):
                    return _error(400, 21220, "Call is not queued or ringing: cannot cancel")
                world.at(0, lambda: world.finish(call, "canceled"))
            elif status == "completed":
                world.at(0, lambda: world.hang_up(call, "the service hangs up"))
            elif request.form.get("Url"):
                if call.status in TERMINAL:
                    return _error(400, 21220, "Call is not in-progress. Cannot redirect.")
                url = request.form["Url"]
                world.at(0, lambda: world.redirect(call, url))
            return jsonify(_call_json(world, call)), 200

    @app.post(f"{PREFIX}/Conferences/<conference>/Participants.json")
    def create_participant(account, conference):
        form = request.form
        if not form.get("To") or not form.get("From"):
            return _error(400, 21205, "To and From are required")
        with world.lock:
            try:
                conf = world.conference(conference)
            except KeyError:
                return _error(404, 20404, f"Conference {conference} was not found")
            spec = {
                "name": conf.name,
                "label": form.get("Label", ""),
                "start": flag("StartConferenceOnEnter", True),
                "end": flag("EndConferenceOnExit", False),
                "wait_url": form.get("WaitUrl"),
                "callback": form.get("ConferenceStatusCallback", ""),
                "events": form.getlist("ConferenceStatusCallbackEvent") or ["start", "end"],
                "muted": flag("Muted"),
                "coaching": form.get("CallSidToCoach", "") if flag("Coaching") else "",
            }
            call = world.outbound_call(
                form["To"],
                form["From"],
                "",
                form.get("StatusCallback", ""),
                form.getlist("StatusCallbackEvent"),
                int(form.get("Timeout", "60")),
                conference=spec,
            )
            return jsonify(_participant_json(world, conf, call)), 201

    def participant(conference: str, call_sid: str):
        try:
            conf = world.conference(conference)
        except KeyError:
            return None, None, _error(404, 20404, f"Conference {conference} was not found")
        if call_sid not in conf.participants:
            return conf, None, _error(404, 20404, f"Participant {call_sid} was not found in {conference}")
        return conf, conf.participants[call_sid].call, None

    @app.post(f"{PREFIX}/Conferences/<conference>/Participants/<call_sid>.json")
    def update_participant(account, conference, call_sid):
        with world.lock:
            conf, call, error = participant(conference, call_sid)
            if error:
                return error
            if "Hold" in request.form:
                hold, url = flag("Hold"), request.form.get("HoldUrl", "")
                world.at(0, lambda: call_sid in conf.participants and world.set_hold(conf, call_sid, hold, url))
            if "Muted" in request.form or "Coaching" in request.form:
                muted = flag("Muted") if "Muted" in request.form else None
                coach = (
                    (request.form.get("CallSidToCoach", "") if flag("Coaching") else "")
                    if "Coaching" in request.form
                    else None
                )
                world.at(0, lambda: world.set_flags(conf, call_sid, muted, coach))
            if request.form.get("AnnounceUrl"):
                announce_url = request.form["AnnounceUrl"]
                world.at(0, lambda: world.announce(conf, announce_url, call_sid))
            body = _participant_json(world, conf, call)
            body["hold"] = flag("Hold", body["hold"])
            return jsonify(body), 200

    @app.delete(f"{PREFIX}/Conferences/<conference>/Participants/<call_sid>.json")
    def delete_participant(account, conference, call_sid):
        with world.lock:
            conf, call, error = participant(conference, call_sid)
            if error:
                return error

            def remove():
                world.say(call, "removed", f"from conference {conf.name}")
                world.leave(call, resume=True, reason="participant_removed_via_api")

            world.at(0, remove)
            return "", 204

    @app.post(f"{PREFIX}/Conferences/<conference>.json")
    def update_conference(account, conference):
        with world.lock:
            try:
                conf = world.conference(conference)
            except KeyError:
                return _error(404, 20404, f"Conference {conference} was not found")
            if request.form.get("Status") == "completed":
                world.at(0, lambda: world.end_conference(conf))
            if request.form.get("AnnounceUrl"):
                announce_url = request.form["AnnounceUrl"]
                world.at(0, lambda: world.announce(conf, announce_url))
            return jsonify(
                sid=conf.sid,
                friendly_name=conf.name,
                status="completed" if conf.ended else "in-progress",
                account_sid=world.account_sid,
            ), 200

    @app.errorhandler(404)
    def unknown(_):
        return _error(404, 20404, f"The requested resource {request.path} was not found")

    return app
