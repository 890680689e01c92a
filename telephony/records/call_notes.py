"""An agent's notes on a call (seed 001: "paste the result in the case notes"), kept on the call's
record, and read for red flags (R-NOTE-5): a note saying the client is "going out to bid" tells a
manager at once, like the caller saying it."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field

from telephony.config import ApiToken
from telephony.context import Context
from telephony.errors import Forbidden
from telephony.escalation_request import StrictModel, parse, speakable, text_limits
from telephony.notify.red_flag_alerts import RedFlagAlerts

NOTE_LIMIT = 2000
NoteText = Annotated[str, text_limits(NOTE_LIMIT, min_length=1), AfterValidator(speakable)]


class NoteRequest(StrictModel):
    """POST /api/calls/<call_sid>/notes: what the agent wrote down."""

    text: NoteText = Field(description="the note, as the agent wrote it")


class CallNotes:
    def __init__(self, ctx: Context, red_flags: RedFlagAlerts):
        self.ctx = ctx
        self.red_flags = red_flags

    def _call(self, actor: ApiToken, call_sid: str) -> dict[str, str]:
        call = self.ctx.caller_call(call_sid)
        if actor.role == "agent" and call.get("agent_id") != actor.person_id:
            raise Forbidden("Only the agent on this call (or a lead) may read or add its notes.", code="not_your_call")
        return call

    def add(self, actor: ApiToken, call_sid: str, body: Any) -> dict[str, Any]:
        """Kept first, then matched: a note is never lost to a red flag that fails. A call that
        has ended still takes notes (the agent's wrap-up)."""
        req = parse(NoteRequest, body)
        self._call(actor, call_sid)
        note = {"at": self.ctx.now_iso(), "by": actor.person_id, "text": req.text}
        self.ctx.store.add_note(call_sid, note)
        raised = self.red_flags.scan(call_sid, req.text, "agent_note", by=actor.person_id)
        return {"call_sid": call_sid, "note": note, "red_flags": raised}

    def view(self, actor: ApiToken, call_sid: str) -> dict[str, Any]:
        self._call(actor, call_sid)
        return {
            "call_sid": call_sid,
            "notes": self.ctx.store.notes(call_sid),
            "red_flags": self.red_flags.of_call(call_sid),
        }
