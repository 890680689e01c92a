"""Red flags raised on a call (R-NOTE-5, seed 001: "notify your manager immediately"). Whatever
the words came from (an escalation's reason, an agent's note, what the caller said at a menu, or
the caller's live speech through Twilio real-time transcription), each phrase of the policy's
lexicon is raised once per call: kept on the call's record, put on the escalation's timeline
(or carried onto it when one is created later), and told to the managers by an RQ job. A webhook
only records the flag and queues the job."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from telephony.commands import TellManagersOfRedFlag
from telephony.context import Context
from telephony.notify.notifier import Notifier
from telephony.notify.red_flags import Lexicon

log = logging.getLogger(__name__)

SOURCES = {
    "live_speech": "the caller said (live transcription)",
    "menu_speech": "the caller said at a menu",
    "agent_note": "in an agent's note",
    "escalation_reason": "in the escalation's reason",
}
UTTERANCE_LIMIT = 2000
# Twilio real-time transcription (docs/api.md, "Live speech"): the statusCallbackUrl gets one
# form-encoded POST per event; the caller's own voice is the call's inbound track.
CONTENT_EVENT = "transcription-content"
CALLER_TRACK = "inbound_track"


class RedFlagAlerts:
    def __init__(self, ctx: Context, notifier: Notifier):
        self.ctx = ctx
        self.notify = notifier
        self.lexicon = Lexicon(ctx.policy.red_flags.phrases)

    def scan(
        self, call_sid: str, text: str, source: str, by: str = "", esc_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Raise each phrase of the lexicon found in `text` that this call has not raised yet.
        Returns the flags raised now (a phrase heard again raises nothing: no storm)."""
        if not self.lexicon or not text or not text.strip():
            return []
        raised = []
        for hit in self.lexicon.find(text):
            flag = {
                "at": self.ctx.now_iso(),
                "phrase": hit.phrase,
                "words": hit.words,
                "sentence": hit.sentence,
                "source": source,
                "by": by,
                "key": hit.key,
            }
            if not self.ctx.store.raise_red_flag(call_sid, hit.key, flag):
                continue
            target = esc_id or self.ctx.store.open_escalation_id(call_sid)
            if target:
                self._on_timeline(target, flag)
            self.ctx.timers.right_away(TellManagersOfRedFlag(call_sid, hit.key))
            log.info("red flag %r on call %s (%s)", hit.phrase, call_sid, source)
            raised.append(view(flag))
        return raised

    def carry_over(self, call_sid: str, esc_id: str) -> None:
        """Flags raised on the call before anyone escalated go on the new escalation's timeline."""
        for flag in self.ctx.store.red_flags(call_sid):
            self._on_timeline(esc_id, flag, carried=True)
            if flag.get("told_at"):
                self._told_on_timeline(esc_id, flag, flag["told_at"])

    def _on_timeline(self, esc_id: str, flag: dict[str, Any], carried: bool = False) -> None:
        if not self.ctx.store.first_time(f"red_flag_timeline:{esc_id}:{flag['key']}"):
            return
        detail = f'"{flag["phrase"]}" {SOURCES.get(flag["source"], flag["source"])}'
        if flag.get("by"):
            detail += f" ({self.ctx.name(flag['by'])})"
        detail += f': "{flag["sentence"]}"'
        if carried:
            detail += f" (raised at {flag['at']}, before the escalation)"
        self.ctx.store.add_event(esc_id, self.ctx.event("red_flag", detail))

    def _told_on_timeline(self, esc_id: str, flag: dict[str, Any], told_at: str) -> None:
        """When the managers were told of the flag (GET /api/reports: raised to told), once."""
        if not self.ctx.store.first_time(f"red_flag_told_timeline:{esc_id}:{flag['key']}"):
            return
        detail = f'"{flag["phrase"]}": the managers were told'
        if told_at != self.ctx.now_iso():
            detail += f" (told at {told_at}, before the escalation)"
        self.ctx.store.add_event(esc_id, self.ctx.event("red_flag_told", detail))

    def tell_managers(self, call_sid: str, key: str) -> bool:
        """The RQ job: the managers hear of the flag with the phrase, the sentence and the call.
        Once per flag, however often the job runs."""
        flag = self.ctx.store.red_flag(call_sid, key)
        if flag is None or not self.ctx.store.first_time(f"red_flag_told:{call_sid}:{key}"):
            return False
        call = self.ctx.store.call(call_sid) or {}
        esc_id = self.ctx.store.open_escalation_id(call_sid) or ""
        esc = self.ctx.store.escalation(esc_id) if esc_id else None
        client = json.loads((esc or {}).get("client") or "{}")
        about = [f"call {call_sid}"]
        if client.get("name"):
            about.append(f"client {client['name']}")
        account = client.get("account") or call.get("account")
        if account:
            about.append(f"account {account}")
        if call.get("agent_id"):
            about.append(f"agent {self.ctx.name(call['agent_id'])}")
        if esc_id:
            about.append(f"escalation {esc_id}")
        said = SOURCES.get(flag["source"], flag["source"])
        by = f" ({self.ctx.name(flag['by'])})" if flag.get("by") else ""
        text = f'Red flag: "{flag["phrase"]}" {said}{by}: "{flag["sentence"]}"\n{", ".join(about)}.'

        note = self.notify.managers(esc_id, text)
        told_at = str(note.get("at") or self.ctx.now_iso())
        self.ctx.store.red_flag_told(call_sid, key, told_at)
        if esc_id:
            self._told_on_timeline(esc_id, flag, told_at)
        log.info("managers told of red flag %r on %s (%s)", flag["phrase"], call_sid, note.get("at"))
        return True

    def transcription_event(self, form: Mapping[str, str]) -> list[dict[str, Any]]:
        """/voice/transcription: each FINAL utterance of the caller's own track goes through the
        matcher. Partial results, other tracks, the started/stopped/error events and events of
        calls this service did not start are acknowledged and ignored; a duplicate or late event
        raises nothing twice (one flag per phrase per call)."""
        if form.get("TranscriptionEvent") != CONTENT_EVENT:
            return []
        if form.get("Final", "").strip().lower() != "true":
            return []
        if form.get("Track", CALLER_TRACK) != CALLER_TRACK:
            return []
        call_sid = form.get("CallSid", "")
        call = self.ctx.store.call(call_sid)
        if call is None or call.get("role") != "caller":
            return []
        try:
            data = json.loads(form.get("TranscriptionData") or "{}")
        except ValueError:
            log.warning("transcription event for %s with unreadable TranscriptionData", call_sid)
            return []
        transcript = data.get("transcript") if isinstance(data, dict) else None
        if not isinstance(transcript, str):
            return []
        return self.scan(call_sid, transcript[:UTTERANCE_LIMIT], "live_speech")

    def heard_at_menu(self, call_sid: str, speech: str, esc_id: str | None = None) -> None:
        """A Gather's SpeechResult (the hold and callback menus) goes through the same matcher."""
        if speech:
            self.scan(call_sid, speech[:UTTERANCE_LIMIT], "menu_speech", esc_id=esc_id)

    def of_call(self, call_sid: str) -> list[dict[str, Any]]:
        return [view(f) for f in self.ctx.store.red_flags(call_sid)]


def view(flag: dict[str, Any]) -> dict[str, Any]:
    return {k: flag.get(k, "") for k in ("at", "phrase", "words", "sentence", "source", "by")}
