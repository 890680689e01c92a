"""Every URL Twilio is told to fetch, built from PUBLIC_BASE_URL (CONTRACT.md)."""

from __future__ import annotations

from urllib.parse import urlencode


class Urls:
    def __init__(self, base: str):
        self.base = base.rstrip("/")

    def _url(self, path: str, **query: str | int) -> str:
        q = {k: v for k, v in query.items() if v is not None}
        return f"{self.base}{path}" + (f"?{urlencode(q)}" if q else "")

    def incoming(self) -> str:
        return self._url("/voice/incoming")

    def account(self, attempt: int) -> str:
        return self._url("/voice/account", attempt=attempt)

    def wait(self) -> str:
        return self._url("/voice/wait")

    def hold(self, escalation_id: str) -> str:
        return self._url("/voice/hold", escalation=escalation_id)

    def call_status(self) -> str:
        return self._url("/voice/status")

    def conference_events(self) -> str:
        return self._url("/voice/conference")

    def agent_status(self, caller_call_sid: str) -> str:
        return self._url("/voice/agent/status", caller=caller_call_sid)

    def lead_answer(self, escalation_id: str, replay: int = 0) -> str:
        return self._url("/voice/lead/answer", escalation=escalation_id, replay=replay)

    def lead_decision(self, escalation_id: str, replay: int = 0) -> str:
        return self._url("/voice/lead/decision", escalation=escalation_id, replay=replay)

    def lead_status(self, escalation_id: str) -> str:
        return self._url("/voice/lead/status", escalation=escalation_id)
