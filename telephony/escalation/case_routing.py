"""Case routing after an escalation (R-ESC-8, seed 001): the escalation is a case with a
department, an owner and a status (escalated, assigned, resolved: lifecycle.CaseStatus). The
policy's rules on the escalation's tags send it on, e.g. aging_cms to Client Success, post_launch
to Project Management; the owner moves the status as the follow-up goes."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import Field

from telephony.config import ApiToken
from telephony.context import Context
from telephony.errors import Conflict, Forbidden, InvalidRequest, NotFound
from telephony.escalation_request import StrictModel, Text200, Text500, parse
from telephony.policy.loading import Policy
from telephony.policy.models import CaseStatus

CASE_MOVERS = ("manager",)


class CaseUpdate(StrictModel):
    """POST /api/escalations/<id>/case: the owner (or a manager) moves the case on."""

    status: CaseStatus = Field(description="escalated, assigned or resolved")
    owner: Text200 | None = Field(None, description="hand the case to this person (an id from the policy)")
    department: Text200 | None = Field(None, description="and to this department")
    note: Text500 = Field("", description="why, for the timeline")


def check_tags(policy: Policy, tags: list[str]) -> None:
    """Where the policy routes cases, an escalation's tags are ones it knows: a misspelt tag
    would route nowhere unnoticed."""
    routing = policy.case_routing
    if routing is None:
        return
    known = routing.known_tags()
    for i, tag in enumerate(tags):
        if tag not in known:
            close = difflib.get_close_matches(tag, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"known tags: {', '.join(known)}"
            raise InvalidRequest(
                f"'tags.{i}': {tag!r} is not a tag this policy routes; {hint}", code="invalid_field", field=f"tags.{i}"
            )


def open_case(ctx: Context, esc_id: str, tags: list[str]) -> None:
    """The case starts where the policy says (seed 001: the technical support manager, status
    escalated); a rule matching a tag routes it on at once."""
    fields, entries = opened_case(ctx, tags)
    if fields:
        ctx.store.update_escalation(esc_id, **fields)
    for entry in entries:
        ctx.store.add_event(esc_id, entry)


def opened_case(ctx: Context, tags: list[str]) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The case's fields and timeline entries a new escalation starts with (written with it, in
    the same round trip): opened where the policy says, routed on by a rule matching a tag."""
    routing = ctx.policy.case_routing
    if routing is None:
        return {}, []
    entries = [ctx.event("case_opened", f"{routing.department}, {ctx.name(routing.owner)}, {routing.status}")]
    department, owner, status, rule = routing.route(tags)
    if rule is not None:
        matched = ", ".join(t for t in rule.tags if t in tags)
        entries.append(ctx.event("case_routed", f"{matched}: to {department}, {ctx.name(owner)}, {status}"))
    return {"case_department": department, "case_owner": owner, "case_status": status}, entries


def move_case(ctx: Context, actor: ApiToken, esc_id: str, body: Any) -> None:
    update = parse(CaseUpdate, body)
    esc = ctx.store.escalation(esc_id)
    if esc is None:
        raise NotFound(f"No escalation {esc_id}.", code="escalation_not_found")
    if not esc.get("case_status"):
        raise Conflict(
            "This escalation has no case: the organisation's policy routes no cases ([case_routing]).",
            code="no_case",
        )
    if actor.person_id != esc.get("case_owner") and actor.role not in CASE_MOVERS:
        raise Forbidden(
            f"Only the case's owner ({ctx.name(esc['case_owner'])}) or a manager may move it.", code="not_case_owner"
        )
    owner = update.owner or esc["case_owner"]
    if ctx.policy.person(owner) is None:
        raise InvalidRequest(f"'owner': no person {owner!r} in the policy.", field="owner")
    department = update.department or esc["case_department"]
    if (update.status, owner, department) == (esc["case_status"], esc["case_owner"], esc["case_department"]):
        raise Conflict(f"The case is already {update.status} with {ctx.name(owner)}.", code="case_unchanged")
    detail = (
        f"{esc['case_status']} -> {update.status}, {department}, {ctx.name(owner)} (by {ctx.name(actor.person_id)})"
    )
    moved = ctx.store.move_case(
        esc_id,
        esc["case_status"],
        ctx.event("case_moved", detail + (f": {update.note}" if update.note else "")),
        case_status=update.status,
        case_owner=owner,
        case_department=department,
    )
    if not moved:
        raise Conflict("The case changed meanwhile; read it again and retry.", code="case_changed")
