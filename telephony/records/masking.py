"""Phone numbers in what an agent's list views show, down to their last four digits (issue 11:
masked below lead). Leads and up see whole numbers: they ring callers back and move callbacks."""

from __future__ import annotations

from typing import Any

from telephony.config import ApiToken
from telephony.logs import mask_numbers

SEES_WHOLE_NUMBERS = ("lead", "supervisor", "manager")


def last_four(number: str) -> str:
    digits = "".join(c for c in number or "" if c.isdigit())
    return "***" + digits[-4:] if len(digits) > 4 else number


def masks(actor: ApiToken | None) -> bool:
    return actor is not None and actor.role not in SEES_WHOLE_NUMBERS


def call_for(actor: ApiToken | None, call: dict[str, Any]) -> dict[str, Any]:
    return {**call, "from": last_four(call.get("from", ""))} if masks(actor) else call


def callback_for(actor: ApiToken | None, callback: dict[str, Any]) -> dict[str, Any]:
    return {**callback, "number": last_four(callback.get("number", ""))} if masks(actor) else callback


def escalation_for(actor: ApiToken | None, escalation: dict[str, Any]) -> dict[str, Any]:
    """The callback's number and any number written on the timeline."""
    if not masks(actor):
        return escalation
    timeline = [{**e, "detail": mask_numbers(e.get("detail") or "")} for e in escalation.get("timeline", [])]
    callback = escalation.get("callback")
    return {
        **escalation,
        "callback": callback_for(actor, callback) if isinstance(callback, dict) else callback,
        "timeline": timeline,
    }
