"""The webhook load: live calls made through the real webhooks (in process, on the bench's Redis),
signed requests against them for each hot path, and `wrk` driving a file of them at a server."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from bench.service import AGENT_TOKEN, AUTH, BASE, ROOT, env_for


@dataclass
class Load:
    path: str
    rps: float
    p50_ms: float
    p99_ms: float


class Calls:
    """Live calls in the middle of escalations, made through the real webhooks and API (in
    process, on the benchmark's Redis), for the load to hit."""

    def __init__(self, redis_url: str, twilio_url: str):
        from routes import create_app
        from telephony.config import Settings
        from workers import runtime

        settings = Settings.from_env(
            env_for(redis_url, twilio_url)
            | {"TWILIO_SIGNATURE_CHECK": "off-for-local-development", "PUBLIC_BASE_URL": "http://127.0.0.1"}
        )
        self.app = create_app(settings)
        served = self.app.extensions["organisations"]
        self.core = served.all()[0]  # POLICY_FILE: the one organisation
        runtime.use(served)
        self.client = self.app.test_client()
        self.sids: list[str] = []
        self.escalations: list[str] = []
        # Redis (round trips, commands) of each escalate that made one (the 201 path, issue 29).
        self.escalate_round_trips: list[tuple[int, int]] = []

    def post_api(self, path: str, body: str):
        return self.client.post(
            path, data=body, content_type="application/json", headers={"Authorization": f"Bearer {AGENT_TOKEN}"}
        )

    def hold_twiml(self) -> str:
        """What the hold URL answers for the first call: the floor returns TwiML of its size."""
        return self.client.post(
            f"/voice/hold?escalation={self.escalations[0]}", data={"CallSid": self.sids[0]}
        ).get_data(as_text=True)

    def make(self, count: int) -> None:
        from rq import SimpleWorker

        from bench.round_trips import RoundTrips

        worker = SimpleWorker(self.core.ctx.timers.queues(), connection=self.core.ctx.store.r)
        new = ["CA" + secrets.token_hex(16) for _ in range(count)]
        for sid in new:
            self.client.post("/voice/incoming", data={"CallSid": sid, "From": "+13125550142", "To": "+13125550100"})
            self.client.post("/voice/account?attempt=1", data={"CallSid": sid, "Digits": "448812"})
            self.core.ctx.store.set_presence("agent-avery", "available")
            self.core.ctx.timers.release_due()  # the ring, left by the webhook as a timer due now
            worker.work(burst=True, logging_level="WARNING")
            call = self.core.ctx.store.call(sid)
            self.client.post(
                "/voice/conference",
                data={
                    "ConferenceSid": call["conference_sid"],
                    "FriendlyName": f"call-{sid}",
                    "CallSid": sid,
                    "StatusCallbackEvent": "participant-join",
                    "ParticipantLabel": "caller",
                    "SequenceNumber": "1",
                },
            )
            self.client.post(  # the agent answers: only then may they escalate (issue 35)
                "/voice/conference",
                data={
                    "ConferenceSid": call["conference_sid"],
                    "FriendlyName": f"call-{sid}",
                    "CallSid": call["agent_call_sid"],
                    "StatusCallbackEvent": "participant-join",
                    "ParticipantLabel": "agent",
                    "SequenceNumber": "2",
                },
            )
            with RoundTrips(self.core.ctx.store.r) as counted:
                escalated = self.client.post(
                    "/api/escalations",
                    json={
                        "call_sid": sid,
                        "kind": "manager_request",
                        "reason": "billed twice",
                        "client": {"name": "Pat Doe"},
                        "caller_agreed_to_hold": True,
                    },
                    headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
                )
            if escalated.status_code == 201:
                self.escalations.append(escalated.json["id"])
                self.escalate_round_trips.append((counted.trips, counted.commands))
            self.core.ctx.store.set_presence("lead-lee", "available")
            self.core.ctx.store.set_presence("lead-morgan", "available")
        worker.work(burst=True, logging_level="WARNING")  # what a worker does at once: post the notes
        self.sids += new

    def finish_all(self) -> int:
        """Every caller hangs up; the purge then runs with nothing kept (FINISHED_KEEP_SECONDS = 0)."""
        from rq import SimpleWorker

        from telephony.records import retention

        for sid in self.sids:
            self.client.post("/voice/status", data={"CallSid": sid, "CallStatus": "completed"})
        SimpleWorker(self.core.ctx.timers.queues(), connection=self.core.ctx.store.r).work(
            burst=True, logging_level="WARNING"
        )
        store = self.core.ctx.store
        ended = len(store.finished_before(float("inf"), count=1_000_000))
        store.keep_seconds = 0
        retention.purge(self.core.ctx)
        return ended


def signed_requests(calls: Calls, kind: str, count: int) -> list[str]:
    validator = RequestValidator(AUTH)
    lines = []
    for i in range(count):
        sid = calls.sids[i % len(calls.sids)]
        if kind == "POST /api/escalations":
            body = json.dumps(
                {"call_sid": sid, "kind": "manager_request", "reason": "again", "caller_agreed_to_hold": True},
                separators=(",", ":"),
            )
            lines.append(f"POST\t/api/escalations\t{body}\tAuthorization\tBearer {AGENT_TOKEN}\tapplication/json")
            continue
        path, form = {
            "/voice/incoming": (
                "/voice/incoming",
                {"CallSid": "CA" + secrets.token_hex(16), "From": "+13125550142", "To": "+13125550100"},
            ),
            "/voice/account": ("/voice/account?attempt=1", {"CallSid": sid, "Digits": "448812"}),
            "/voice/status": ("/voice/status", {"CallSid": sid, "CallStatus": "in-progress"}),
            "/voice/conference": (
                "/voice/conference",
                {
                    "ConferenceSid": "CF" + "0" * 32,
                    "FriendlyName": f"call-{sid}",
                    "CallSid": sid,
                    "StatusCallbackEvent": "participant-hold",
                    "SequenceNumber": str(10 + i),
                },
            ),
            "/voice/hold": (
                f"/voice/hold?escalation={calls.escalations[i % len(calls.escalations)]}",
                {"CallSid": sid},
            ),
        }[kind]
        body = urlencode(form)
        signature = validator.compute_signature(BASE + path, form)
        lines.append(f"POST\t{path}\t{body}\tX-Twilio-Signature\t{signature}\tapplication/x-www-form-urlencoded")
    return lines


def wrk(port: int, requests_file: Path, connections: int, seconds: int) -> tuple[float, float, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(ROOT / "bench" / "webhooks.lua"),
            f"http://127.0.0.1:{port}",
        ],
        env={**os.environ, "REQUESTS_FILE": str(requests_file)},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def percentile(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    if errors and kind_expects_2xx(requests_file):
        print(f"  note: {errors.group(1)} non-2xx responses", flush=True)
    return rps, percentile("50"), percentile("99")


def kind_expects_2xx(requests_file: Path) -> bool:
    return "escalations" not in requests_file.name
