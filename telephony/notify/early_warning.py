"""The early warning (R-NOTE-4, seed 000): "Message TL chat if you notice that a call is starting
to take a turn and could end up in a client requesting a manager." The call's agent flags it
once; the team lead is told at once, on the team channel and directly; the flag and its time are
on the call's record, and carried onto the escalation if one follows."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from telephony.adapters.store import TERMINAL_CALL_STATUSES
from telephony.config import ApiToken
from telephony.context import Context
from telephony.errors import Conflict, Forbidden
from telephony.escalation_request import StrictModel, Text500, parse
from telephony.notify.notifier import Notifier


class EarlyWarningRequest(StrictModel):
    """POST /api/calls/<call_sid>/early-warning: "this call may escalate"."""

    note: Text500 = Field("", description="what the agent noticed, for the team lead")


def early_warning_of(record: dict[str, str]) -> dict[str, Any] | None:
    """The flag as the API shows it, from a call's record or an escalation's."""
    if not record.get("early_warning_at"):
        return None
    return {
        "at": record["early_warning_at"],
        "by": record.get("early_warning_by", ""),
        "note": record.get("early_warning_note", ""),
        "told": [p for p in record.get("early_warning_told", "").split(",") if p],
    }


def carry_early_warning(ctx: Context, esc_id: str, call: dict[str, str]) -> None:
    """An escalation that follows a flagged call carries the flag, and says so on its timeline."""
    fields, entries = carried_early_warning(ctx, call)
    if fields:
        ctx.store.update_escalation(esc_id, **fields)
    for entry in entries:
        ctx.store.add_event(esc_id, entry)


def carried_early_warning(ctx: Context, call: dict[str, str]) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The flag's fields and timeline entry a new escalation of a flagged call starts with
    (written with it, in the same round trip)."""
    if not call.get("early_warning_at"):
        return {}, []
    fields = {k: call.get(k, "") for k in ("early_warning_at", "early_warning_by", "early_warning_note")}
    detail = f"flagged at {fields['early_warning_at']} by {ctx.name(fields['early_warning_by'])}"
    if fields["early_warning_note"]:
        detail += f": {fields['early_warning_note']}"
    return {**fields, "early_warning_told": call.get("early_warning_told", "")}, [ctx.event("early_warning", detail)]


def masked(number: str) -> str:
    digits = "".join(c for c in number if c.isdigit())
    return f"ending {digits[-4:]}" if len(digits) > 4 else "unknown number"


class EarlyWarning:
    def __init__(self, ctx: Context, notifier: Notifier):
        self.ctx = ctx
        self.notify = notifier

    def flag(self, actor: ApiToken, call_sid: str, body: Any) -> dict[str, Any]:
        req = parse(EarlyWarningRequest, body or {})
        call = self.ctx.caller_call(call_sid)
        if actor.role != "agent" or call.get("agent_id") != actor.person_id:
            raise Forbidden("Only the agent on this call may flag that it may escalate.", code="not_your_call")
        if call.get("status") in TERMINAL_CALL_STATUSES:
            raise Conflict("The call has ended.", code="call_ended")
        if call.get("early_warning_at"):
            raise Conflict(
                f"This call was flagged already, at {call['early_warning_at']}.",
                code="already_flagged",
                at=call["early_warning_at"],
            )
        leaders = self.ctx.policy.leaders_of(actor.person_id)
        flagged = self.ctx.store.flag_early_warning(
            call_sid,
            early_warning_at=self.ctx.now_iso(),
            early_warning_by=actor.person_id,
            early_warning_note=req.note,
            early_warning_told=",".join(p.id for p in leaders),
        )
        if not flagged:
            raise Conflict("This call was flagged already.", code="already_flagged")
        text = (
            f"Early warning from {self.ctx.name(actor.person_id)}: this call may escalate. "
            f"Caller {masked(call.get('from', ''))}, account {call.get('account') or 'unknown'}."
            + (f" {req.note}" if req.note else "")
        )
        self.notify.channel(text, call=call_sid, early_warning=actor.person_id)
        for leader in leaders:
            self.notify.person(leader.id, "", text)
        esc_id = self.ctx.store.open_escalation_id(call_sid)
        if esc_id:
            carry_early_warning(self.ctx, esc_id, self.ctx.store.call(call_sid) or {})
        return self.view(call_sid)

    def view(self, call_sid: str) -> dict[str, Any]:
        return {"call_sid": call_sid, "early_warning": early_warning_of(self.ctx.store.call(call_sid) or {})}
