"""Every URL Twilio is told to fetch, built from PUBLIC_BASE_URL (docs/api.md). On a deployment of
several organisations (POLICIES_DIR) each URL names the organisation (`org`) and the version of
its policy the call started under (`v`), so the webhook finds the call's own state and words."""

from __future__ import annotations

from urllib.parse import urlencode


class Urls:
    def __init__(self, base: str, organisation: str = "", version: str = ""):
        self.base = base.rstrip("/")
        self.tenant: dict[str, str] = {"org": organisation, "v": version} if organisation else {}
        if not version:
            self.tenant.pop("v", None)

    def _url(self, path: str, **query: str | int | None) -> str:
        q = {k: v for k, v in query.items() if v is not None} | self.tenant
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

    def hold_check_in(self, escalation_id: str, n: int) -> str:
        return self._url("/voice/hold", escalation=escalation_id, check_in=n)

    def hold_offer(self, escalation_id: str) -> str:
        return self._url("/voice/hold/offer", escalation=escalation_id)

    def hold_choice(self, escalation_id: str, tries: int) -> str:
        return self._url("/voice/hold/choice", escalation=escalation_id, tries=tries)

    def hold_loop(self, escalation_id: str, round_: int) -> str:
        return self._url("/voice/hold/loop", escalation=escalation_id, round=round_)

    def lead_notice(self, escalation_id: str, notice: str, leave: bool = False) -> str:
        """What a lead is told (an announcement in the conference, or on leaving it)."""
        return self._url("/voice/lead/notice", escalation=escalation_id, notice=notice, leave=1 if leave else None)

    def caller_connected(self, escalation_id: str) -> str:
        return self._url("/voice/caller/connected", escalation=escalation_id)

    def rejoin(self, escalation_id: str) -> str:
        return self._url("/voice/rejoin", escalation=escalation_id)

    def voicemail(self, escalation_id: str) -> str:
        return self._url("/voice/voicemail", escalation=escalation_id)

    def voicemail_done(self, escalation_id: str) -> str:
        return self._url("/voice/voicemail/done", escalation=escalation_id)

    def callback_offer(self, escalation_id: str, busy: bool = False) -> str:
        return self._url("/voice/callback/offer", escalation=escalation_id, busy=1 if busy else None)

    def callback_step(self, step: str, escalation_id: str, tries: int = 0, busy: bool = False) -> str:
        return self._url(f"/voice/callback/{step}", escalation=escalation_id, tries=tries, busy=1 if busy else None)

    def callback_lead_answer(self, callback_id: str, attempt: int | None = None) -> str:
        """`attempt` marks the call as this attempt's, so a lost dial is recognised (R-CB-8)."""
        return self._url("/voice/callback/lead/answer", callback=callback_id, attempt=attempt)

    def callback_lead_decision(self, callback_id: str) -> str:
        return self._url("/voice/callback/lead/decision", callback=callback_id)

    def callback_lead_status(self, callback_id: str, attempt: int | None = None) -> str:
        return self._url("/voice/callback/lead/status", callback=callback_id, attempt=attempt)

    def callback_caller_answer(self, callback_id: str) -> str:
        return self._url("/voice/callback/caller/answer", callback=callback_id)

    def callback_caller_status(self, callback_id: str) -> str:
        return self._url("/voice/callback/caller/status", callback=callback_id)

    def hold_loop_choice(self, escalation_id: str) -> str:
        return self._url("/voice/hold/loop/choice", escalation=escalation_id)

    def listener_status(self, caller_call_sid: str) -> str:
        return self._url("/voice/listener/status", caller=caller_call_sid)

    def transcription(self) -> str:
        """Twilio real-time transcription events for the caller's leg (R-NOTE-5)."""
        return self._url("/voice/transcription")

    def warning_disconnect(self) -> str:
        return self._url("/voice/warnings/disconnect")
