"""Where a hot webhook's CPU goes, against the floor's (part of `make bench`). Each path is
answered in process (Flask's test client, signatures on, a real Redis) by the service and by the
floor app; CPU time per request for both, then the service's own work split into the parts that
cost it: the Redis client, building TwiML, the request hooks (timing, metrics, logging context), and the
rest (Flask, the signature check, form parsing), which the floor pays too."""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import secrets
import time
from pathlib import Path

from twilio.request_validator import RequestValidator

PARTS = {
    "Redis client": ("redis/", "telephony/adapters/store/lean.py"),
    "TwiML": ("twilio/twiml/",),
    "request hooks": ("prometheus_client/", "telephony/logs.py"),
}
# Counted by their own time only: TimedFlask.full_dispatch_request wraps the whole request.
OWN_TIME = {"request hooks": ("routes/operations.py",)}


KINDS = (
    "/voice/incoming",
    "/voice/account",
    "/voice/status",
    "/voice/conference",
    "/voice/hold",
    "POST /api/escalations",
)


def _signed(client, validator, base: str, token: str = ""):
    def post(path: str, form):
        if isinstance(form, str):  # a JSON body for the API, with the staff token
            return client.post(
                path, data=form, content_type="application/json", headers={"Authorization": f"Bearer {token}"}
            )
        return client.post(
            path, data=form, headers={"X-Twilio-Signature": validator.compute_signature(base + path, form)}
        )

    return post


def requests_for(calls, kind: str, n: int) -> list[tuple[str, dict[str, str]]]:
    sids, escs = calls.sids, calls.escalations
    make = {
        "/voice/incoming": lambda i: (
            "/voice/incoming",
            {"CallSid": "CA" + secrets.token_hex(16), "From": "+13125550142", "To": "+13125550100"},
        ),
        "/voice/status": lambda i: ("/voice/status", {"CallSid": sids[i % len(sids)], "CallStatus": "in-progress"}),
        "/voice/hold": lambda i: (f"/voice/hold?escalation={escs[i % len(escs)]}", {"CallSid": sids[i % len(sids)]}),
        "/voice/account": lambda i: ("/voice/account?attempt=1", {"CallSid": sids[i % len(sids)], "Digits": "448812"}),
        "POST /api/escalations": lambda i: (
            "/api/escalations",
            json.dumps(
                {
                    "call_sid": sids[i % len(sids)],
                    "kind": "manager_request",
                    "reason": "again",
                    "caller_agreed_to_hold": True,
                }
            ),
        ),
        "/voice/conference": lambda i: (
            "/voice/conference",
            {
                "ConferenceSid": "CF" + "0" * 32,
                "FriendlyName": f"call-{sids[i % len(sids)]}",
                "CallSid": sids[i % len(sids)],
                "StatusCallbackEvent": "participant-hold",
                "SequenceNumber": str(10 + i),
            },
        ),
    }[kind]
    return [make(i) for i in range(n)]


def _own(stats: pstats.Stats, needles: tuple[str, ...], own_time: tuple[str, ...] = ()) -> float:
    """CPU seconds spent inside functions whose file matches, counted once at the outermost call;
    in files of `own_time`, only the functions' own time (not what they call)."""
    total = 0.0
    for (file, _line, _name), (_cc, _nc, tt, ct, callers) in stats.stats.items():
        if any(n in file for n in own_time):
            total += tt
        elif any(n in file for n in needles) and not any(any(n in caller[0] for n in needles) for caller in callers):
            total += ct
    return total


def profile(calls, env: dict[str, str], n: int = 400, dump: Path | None = None) -> list[str]:
    """Markdown rows: CPU ms per request for service and floor, and the service's parts. With
    `dump`, each path's cProfile summary (top functions by cumulative time) is written there."""
    from routes import create_app
    from telephony.config import Settings

    os.environ.setdefault("TWILIO_AUTH_TOKEN", env["TWILIO_AUTH_TOKEN"])
    os.environ.setdefault("PUBLIC_BASE_URL", env["PUBLIC_BASE_URL"])
    from bench import floor

    validator = RequestValidator(env["TWILIO_AUTH_TOKEN"])
    token = env["API_TOKENS"].split(":")[0]
    service = _signed(create_app(Settings.from_env(env)).test_client(), validator, env["PUBLIC_BASE_URL"], token)
    bare = _signed(floor.app.test_client(), validator, env["PUBLIC_BASE_URL"])
    rows = [
        "| path | service CPU ms | floor CPU ms | floor/service | Redis client ms | TwiML ms | hooks ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in KINDS:
        batch = requests_for(calls, kind, n)
        for path, form in batch[:20]:
            service(path, form)
            bare(path, form)
        started = time.process_time()
        for path, form in batch[20:]:
            bare(path, form)
        floor_ms = (time.process_time() - started) / (n - 20) * 1000
        started = time.process_time()
        for path, form in batch[20:]:
            service(path, form)
        service_ms = (time.process_time() - started) / (n - 20) * 1000
        profiler = cProfile.Profile(time.process_time)  # CPU, as the column says: not time waiting on Redis
        profiler.enable()
        for path, form in batch[20:]:
            service(path, form)
        profiler.disable()
        stats = pstats.Stats(profiler)
        if dump is not None:
            dump.mkdir(parents=True, exist_ok=True)
            name = kind.replace("POST ", "").strip("/").replace("/", "-")
            with (dump / f"{name}.txt").open("w") as out:
                out.write(f"{kind}: {n - 20} requests, {service_ms:.2f} ms CPU each unprofiled\n")
                pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
        profiled = sum(tt for (_f, _l, _n), (_cc, _nc, tt, _ct, _c) in stats.stats.items())
        scale = service_ms / (profiled / (n - 20) * 1000) if profiled else 0
        parts = [
            _own(stats, needles, OWN_TIME.get(part, ())) / (n - 20) * 1000 * scale for part, needles in PARTS.items()
        ]
        rows.append(
            f"| {kind} | {service_ms:.2f} | {floor_ms:.2f} | {floor_ms / service_ms:.2f} | "
            + " | ".join(f"{p:.2f}" for p in parts)
            + " |"
        )
    return rows
