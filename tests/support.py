"""A harness that plays Twilio's webhooks against the real app (signatures on, real Redis) and
reads back the TwiML people hear and the REST calls the service made."""

from __future__ import annotations

import os
import secrets
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import redis
from twilio.request_validator import RequestValidator

from routes import create_app
from telephony.clock import VirtualClock
from telephony.config import ApiToken, Settings
from telephony.core import build_core

ROOT = Path(__file__).resolve().parent.parent
BASE = "https://esc.example.test"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "1" * 32
CALLER_ID = "+13125550100"

# Issue 30: the history database of this test process, an SQLite file emptied with Redis before
# each test (tests/conftest.py's redis_conn), as Redis is flushed.
HISTORY_URL = f"sqlite:///{Path(tempfile.gettempdir()) / f'escalations-history-{os.getpid()}.sqlite3'}"


def clear_history(url: str = HISTORY_URL) -> None:
    from telephony.adapters.history import engine_for
    from telephony.adapters.history.schema import TABLES

    with engine_for(url).begin() as conn:
        for table in TABLES:
            conn.execute(table.delete())


TOKENS = {
    "agent-avery": ApiToken("tok-agent-avery-000000", "agent-avery", "agent"),
    "agent-blake": ApiToken("tok-agent-blake-000000", "agent-blake", "agent"),
    "lead-lee": ApiToken("tok-lead-lee-0000000000", "lead-lee", "lead"),
    "manager-max": ApiToken("tok-manager-max-000000", "manager-max", "manager"),
}


def new_call_sid() -> str:
    return "CA" + secrets.token_hex(16)


def settings_for(policy_file: Path | None = None, tokens: dict[str, ApiToken] | None = None, **overrides) -> Settings:
    values = dict(
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_caller_id=CALLER_ID,
        public_base_url=BASE,
        redis_url=None,
        policy_file=policy_file or ROOT / "policies" / "default.toml",
        api_tokens={t.token: t for t in (tokens or TOKENS).values()},
        validate_signatures=True,
        outbound_calls_per_second=1000,
        database_url=HISTORY_URL,
    )
    values.update(overrides)
    return Settings(**values)


@dataclass
class Twiml:
    """The TwiML a person was handed, flattened to what matters in a test."""

    xml: str
    root: ET.Element = field(init=False)

    def __post_init__(self):
        self.root = ET.fromstring(self.xml)

    def verbs(self) -> list[str]:
        return [el.tag for el in self.root]

    def said(self) -> list[str]:
        return [el.text or "" for el in self.root.iter("Say")]

    def text(self) -> str:
        return " ".join(self.said())

    def find(self, tag: str) -> ET.Element | None:
        return next(self.root.iter(tag), None)

    def conference(self) -> ET.Element | None:
        return self.find("Conference")


class Harness:
    def __init__(
        self,
        redis_conn,
        twilio_rest,
        policy_file: Path | None = None,
        tokens: dict[str, ApiToken] | None = None,
        **overrides,
    ):
        self.tokens = tokens or TOKENS
        self.settings = settings_for(policy_file, self.tokens, **overrides)
        self.clock = VirtualClock()
        self.core = build_core(self.settings, redis_conn, clock=self.clock)
        self.app = create_app(self.settings, core=self.core)
        self.client = self.app.test_client()
        # Twilio sends no cookies: its webhooks skip the test client's cookie jar (and the URL
        # parsing it does twice a request, a fifth of the webhook fuzz test's time).
        self.twilio = self.app.test_client(use_cookies=False)
        self.rest = twilio_rest
        self.validator = RequestValidator(AUTH_TOKEN)
        self.work_after_requests = True

    # -- time and the workers ------------------------------------------------------
    def run_jobs(self) -> int:
        """Release due timers against the virtual clock and run them in a real RQ worker (RQ's
        SimpleWorker less its per-burst pub/sub and registry upkeep: sim.runner.InProcessWorker)."""
        import workers.runtime
        from sim.runner import InProcessWorker

        workers.runtime.use(getattr(self, "served", None) or self.core)
        ran = 0
        while True:
            self.core.ctx.timers.release_due()
            queues = self.core.ctx.timers.queues()
            waiting = sum(q.count for q in queues)
            if waiting == 0:
                return ran
            ran += waiting
            InProcessWorker(queues, connection=self.core.ctx.timers.conn).work(burst=True)

    def run_urgent(self) -> None:
        """What a worker does the moment a webhook has answered: the urgent queue's jobs."""
        import workers.runtime
        from sim.runner import InProcessWorker

        urgent = self.core.ctx.timers.urgent
        try:
            self.core.ctx.timers.release_due()  # the webhooks leave urgent work as timers due now
            if not urgent.count:
                return
        except redis.RedisError:
            return  # Redis is down on purpose: a real worker waits for it too
        workers.runtime.use(getattr(self, "served", None) or self.core)
        InProcessWorker([urgent], connection=self.core.ctx.timers.conn).work(burst=True)

    def advance(self, seconds: float) -> None:
        """Move the virtual clock, stopping at each timer that falls due on the way."""
        target = self.clock.now() + timedelta(seconds=seconds)
        while True:
            self.run_jobs()
            due = [when for _, when in self.core.ctx.timers.scheduled() if when <= target]
            if not due:
                break
            self.clock.set(max(min(due), self.clock.now()))
        self.clock.set(target)
        self.run_jobs()

    def jump(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.run_jobs()

    # -- as Twilio -------------------------------------------------------------
    def webhook(
        self, url_or_path: str, params: dict[str, str] | None = None, signed: bool = True, method: str = "POST"
    ):
        params = {k: v for k, v in (params or {}).items() if v is not None}
        url = url_or_path if url_or_path.startswith("http") else BASE + url_or_path
        parsed = urlparse(url)
        path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        headers = {}
        if signed:
            headers["X-Twilio-Signature"] = self.validator.compute_signature(url, params if method == "POST" else {})
        if method == "GET":
            response = self.twilio.get(path, headers=headers)
        else:
            response = self.twilio.post(path, data=params, headers=headers)
        if self.work_after_requests:
            self.run_urgent()
        return response

    def twiml(self, url_or_path: str, params: dict[str, str] | None = None) -> Twiml:
        response = self.webhook(url_or_path, params)
        assert response.status_code == 200, (response.status_code, response.data)
        assert response.mimetype == "text/xml"
        return Twiml(response.get_data(as_text=True))

    # -- as staff ---------------------------------------------------------------
    def api(self, method: str, path: str, who: str = "agent-avery", json=None, raw: bytes | None = None):
        headers = {"Authorization": f"Bearer {self.tokens[who].token}"} if who else {}
        if raw is not None:
            response = self.client.open(path, method=method, data=raw, headers=headers, content_type="application/json")
        else:
            response = self.client.open(path, method=method, json=json, headers=headers)
        if self.work_after_requests:
            self.run_urgent()
        return response

    # -- a call's story ---------------------------------------------------------
    def caller_calls(self, call_sid: str | None = None, caller: str = "+13125550142") -> str:
        call_sid = call_sid or new_call_sid()
        self.twiml("/voice/incoming", {"CallSid": call_sid, "From": caller, "To": CALLER_ID, "CallStatus": "ringing"})
        return call_sid

    def caller_in_conference(self, account: str = "448812") -> tuple[str, str]:
        """A caller has keyed their account and sits in their conference; the agent is rung.
        Returns (caller call SID, agent call SID)."""
        call_sid = self.caller_calls()
        heard = self.twiml("/voice/account?attempt=1", {"CallSid": call_sid, "Digits": account})
        assert heard.conference() is not None
        self.conference_event("participant-join", call_sid, label="caller", conference=f"call-{call_sid}")
        call = self.core.ctx.store.call(call_sid)
        return call_sid, call["agent_call_sid"]

    def conference_sid(self, caller_sid: str) -> str:
        return self.core.ctx.store.call(caller_sid)["conference_sid"]

    def conference_event(
        self,
        event: str,
        call_sid: str,
        label: str = "",
        conference: str = "",
        sequence: int | None = None,
        **extra: str,
    ):
        name = conference or self._conference_of(call_sid)
        conference_sid = self.core.ctx.store.conference_sid(name) or "CF" + "a" * 32
        self._seq = getattr(self, "_seq", 0) + 1
        response = self.webhook(
            "/voice/conference",
            {
                "AccountSid": ACCOUNT_SID,
                "ConferenceSid": conference_sid,
                "FriendlyName": name,
                "StatusCallbackEvent": event,
                "CallSid": call_sid,
                "ParticipantLabel": label,
                "SequenceNumber": str(sequence if sequence is not None else self._seq),
                **extra,
            },
        )
        assert response.status_code == 204, response.data

    def _conference_of(self, call_sid: str) -> str:
        leg = self.core.ctx.store.leg(call_sid) or {}
        caller = (
            leg.get("caller")
            or (self.core.ctx.store.escalation(leg.get("escalation", "")) or {}).get("call_sid")
            or call_sid
        )
        return f"call-{caller}"

    def leg_status(self, path: str, call_sid: str, status: str):
        response = self.webhook(path, {"CallSid": call_sid, "CallStatus": status, "AccountSid": ACCOUNT_SID})
        assert response.status_code == 204, response.data

    def agent_answers(self, caller_sid: str, agent_sid: str) -> None:
        self.leg_status(f"/voice/agent/status?caller={caller_sid}", agent_sid, "ringing")
        self.leg_status(f"/voice/agent/status?caller={caller_sid}", agent_sid, "in-progress")
        self.conference_event("participant-join", agent_sid, label="agent")

    def caller_with_agent(self) -> tuple[str, str]:
        caller_sid, agent_sid = self.caller_in_conference()
        self.agent_answers(caller_sid, agent_sid)
        return caller_sid, agent_sid

    def escalate(self, caller_sid: str, kind: str = "manager_request", who: str = "agent-avery", **extra):
        body = {
            "call_sid": caller_sid,
            "kind": kind,
            "reason": "billed twice for equipment",
            "client": {
                "name": "Pat Doe",
                "account": "448812",
                "link": "https://crm.example.test/c/448812",
                "segment": "AM",
                "region": "east",
                "contact_name": "Pat Doe",
            },
            "resolution_offered": "credit on next bill",
            "caller_agreed_to_hold": True,
            **extra,
        }
        return self.api("POST", "/api/escalations", who, json=body)

    def escalation(self, esc_id: str) -> dict:
        return self.core.warm_transfer.view(esc_id)

    def lead_leg(self, esc_id: str) -> str:
        return self.core.ctx.store.escalation(esc_id)["attempt_call_sid"]

    def lead_answers(self, esc_id: str) -> Twiml:
        sid = self.lead_leg(esc_id)
        self.leg_status(f"/voice/lead/status?escalation={esc_id}", sid, "ringing")
        return self.twiml(f"/voice/lead/answer?escalation={esc_id}", {"CallSid": sid, "CallStatus": "in-progress"})

    def lead_presses(self, esc_id: str, digits: str, replay: int = 0) -> Twiml:
        sid = self.lead_leg(esc_id)
        return self.twiml(
            f"/voice/lead/decision?escalation={esc_id}&replay={replay}", {"CallSid": sid, "Digits": digits}
        )

    def lead_accepts_and_joins(self, esc_id: str) -> Twiml:
        self.lead_answers(esc_id)
        heard = self.lead_presses(esc_id, "1")
        self.conference_event("participant-join", self.lead_leg(esc_id), label="lead")
        return heard
