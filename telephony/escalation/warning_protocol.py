"""The warning protocol for an abusive caller (R-ABUSE-1, seed 003): the agent records warning 1
("please refrain..."), then warning 2 with its consequence; only then does the API allow what the
policy permits: a transfer to a manager (an `abusive` escalation, R-ESC-4), or a disconnect where
the policy allows one (seed 003). Seed 002 never hangs up on a client: there the disconnect is
refused. Each step and its time is kept on the call and goes on the escalation's timeline."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from telephony.escalation.warm_transfer import WarmTransfer
    from telephony.notify.notifier import Notifier

from typing import Any, Literal

from pydantic import Field

from telephony.adapters.store import TERMINAL_CALL_STATUSES
from telephony.config import ApiToken
from telephony.context import Context
from telephony.errors import Conflict, Forbidden
from telephony.escalation_request import Client, StrictModel, Text500, parse

WARNING_ROLES = ("agent", "lead", "supervisor")
CONSEQUENCES = {"transfer": "transfer to a manager", "disconnect": "disconnect the call"}


class WarningRequest(StrictModel):
    """POST /api/calls/<call_sid>/warnings: the agent has just given this warning."""

    warning: Literal[1, 2] | None = Field(None, description="1 or 2; without it, the next one")


class WarningAction(StrictModel):
    """POST /api/calls/<call_sid>/warnings/action: act on warning 2."""

    action: Literal["transfer", "disconnect"] = Field("transfer", description="what the policy allows")
    reason: Text500 = Field("", description="for the manager, with the transfer")
    client: Client = Field(default_factory=Client)


class WarningProtocol:
    def __init__(self, ctx: Context, warm_transfer: WarmTransfer, notifier: Notifier):
        self.ctx = ctx
        self.warm_transfer = warm_transfer
        self.notify = notifier

    def _call(self, actor: ApiToken, call_sid: str) -> dict[str, str]:
        call = self.ctx.caller_call(call_sid)
        if actor.role not in WARNING_ROLES:
            raise Forbidden("The agent on the call (or a lead) gives the warnings.", code="role_not_allowed")
        if actor.role == "agent" and call.get("agent_id") != actor.person_id:
            raise Forbidden("Only the agent on this call (or a lead) may record its warnings.", code="not_your_call")
        return call

    def warn(self, actor: ApiToken, call_sid: str, body: Any) -> dict[str, Any]:
        """Warning 1, then warning 2 (with the consequence the policy allows), in that order."""
        req = parse(WarningRequest, body or {})
        call = self._call(actor, call_sid)
        if call.get("status") in TERMINAL_CALL_STATUSES:
            raise Conflict("The call has ended.", code="call_ended")
        given = int(call.get("warnings_given") or 0)
        number = req.warning or given + 1
        if number != given + 1 or given >= 2:
            raise Conflict(
                f"Warning {number} cannot be recorded: {given} given so far; warnings go 1 then 2."
                + (" After warning 2, act on it (POST .../warnings/action)." if given >= 2 else ""),
                code="warning_out_of_order",
                given=given,
            )
        consequence = " or ".join(CONSEQUENCES[a] for a in self.ctx.policy.warnings.actions)
        fields = {
            "warnings_given": number,
            f"warning_{number}_at": self.ctx.now_iso(),
            f"warning_{number}_by": actor.person_id,
        }
        if number == 2:
            fields["warning_consequence"] = consequence
        if not self.ctx.store.record_warning(call_sid, given, **fields):
            raise Conflict("Another warning was recorded meanwhile; read the call's warnings again.", code="raced")
        return self.view(actor, call_sid)

    def act(self, actor: ApiToken, call_sid: str, body: Any) -> tuple[dict[str, Any], int]:
        """The action warning 2 announced, only if the policy allows it (403) and only after
        warning 2 (409)."""
        req = parse(WarningAction, body or {})
        call = self._call(actor, call_sid)
        allowed = self.ctx.policy.warnings.actions
        if req.action not in allowed:
            raise Forbidden(
                f"{self.ctx.policy.name}'s procedure never hangs up on a caller (policy warnings.actions: "
                f"{', '.join(allowed)}); transfer the call to a manager instead.",
                code="action_not_allowed",
                allowed=list(allowed),
            )
        if int(call.get("warnings_given") or 0) < 2:
            raise Conflict(
                "Give warning 1, then warning 2 with its consequence, before acting on them (R-ABUSE-1).",
                code="warnings_not_given",
                given=int(call.get("warnings_given") or 0),
            )
        if call.get("warning_action"):
            raise Conflict(f"Already acted on the warnings: {call['warning_action']}.", code="already_acted")
        if call.get("status") in TERMINAL_CALL_STATUSES:
            raise Conflict("The call has ended.", code="call_ended")
        if req.action == "transfer":
            return self._transfer(actor, call_sid, call, req), 201
        self._disconnect(actor, call_sid, call)
        return self.view(actor, call_sid), 200

    def _steps(self, call: dict[str, str]) -> str:
        steps = [
            f"warning {n} at {call.get(f'warning_{n}_at')} by {self.ctx.name(call.get(f'warning_{n}_by', ''))}"
            for n in (1, 2)
            if call.get(f"warning_{n}_at")
        ]
        return "; ".join(steps) + f" (consequence: {call.get('warning_consequence', '')})"

    def _transfer(self, actor: ApiToken, call_sid: str, call: dict[str, str], req: WarningAction) -> dict[str, Any]:
        """'I am going to transfer you to a manager now. Please hold.' (003): an abusive
        escalation, managers only, warm (never a blind transfer, 002)."""
        body = {
            "call_sid": call_sid,
            "kind": "abusive",
            "reason": req.reason or "abusive caller, warned twice (R-ABUSE-1)",
            "client": req.client.model_dump(exclude_none=True),
            "caller_agreed_to_hold": True,
            "idempotency_key": f"warnings-{call_sid}",
        }
        view, created = self.warm_transfer.escalate(actor, body)
        if not created:
            return view
        self.ctx.store.update_call(
            call_sid,
            warning_action="transfer",
            warning_action_at=self.ctx.now_iso(),
            warning_action_by=actor.person_id,
            warning_escalation=view["id"],
        )
        self.ctx.store.add_event(view["id"], self.ctx.event("warning_protocol", self._steps(call) + "; transfer"))
        return self.warm_transfer.view(view["id"])

    def _disconnect(self, actor: ApiToken, call_sid: str, call: dict[str, str]) -> None:
        """Seed 003 only: the caller hears the policy's last words, the call ends, and the
        managers are told at once ('inform him/her that you disconnected')."""
        if self.ctx.store.open_escalation_id(call_sid):
            raise Conflict("The call has an open escalation; it is with a manager already.", code="escalation_open")
        self.ctx.twilio.redirect(call_sid, self.ctx.urls.warning_disconnect())
        self.ctx.store.update_call(
            call_sid,
            warning_action="disconnect",
            warning_action_at=self.ctx.now_iso(),
            warning_action_by=actor.person_id,
        )
        self.notify.managers(
            "",
            f"{self.ctx.name(actor.person_id)} disconnected an abusive caller ({call.get('from', 'unknown number')}, "
            f"account {call.get('account') or 'unknown'}) after two warnings: {self._steps(call)}.",
        )

    def view(self, actor: ApiToken, call_sid: str) -> dict[str, Any]:
        call = self._call(actor, call_sid)
        warnings = [
            {
                "warning": n,
                "at": call[f"warning_{n}_at"],
                "by": call.get(f"warning_{n}_by", ""),
                "words": self.ctx.policy.warnings.first if n == 1 else self.ctx.policy.warnings.second,
            }
            for n in (1, 2)
            if call.get(f"warning_{n}_at")
        ]
        given = len(warnings)
        action = (
            {
                "action": call["warning_action"],
                "at": call.get("warning_action_at", ""),
                "by": call.get("warning_action_by", ""),
                "escalation_id": call.get("warning_escalation") or None,
            }
            if call.get("warning_action")
            else None
        )
        return {
            "call_sid": call_sid,
            "warnings": warnings,
            "consequence": call.get("warning_consequence") or None,
            "next": None if action else ("action" if given >= 2 else f"warning {given + 1}"),
            "allowed_actions": list(self.ctx.policy.warnings.actions) if given >= 2 and not action else [],
            "action": action,
        }
