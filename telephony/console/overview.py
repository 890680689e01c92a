"""What the console needs besides the escalations and callbacks: who is signed in, the server's
"now" (the simulator runs a virtual clock, so the page never trusts its own), the hold policy
its timers colour by (R-HOLD check-in and limit), and the people whose presence it shows."""

from __future__ import annotations

from typing import Any

from telephony.config import ApiToken
from telephony.context import Context

LEAD_ROLES = ("lead", "supervisor", "manager")


def console_state(ctx: Context, actor: ApiToken, features: list[dict[str, Any]], softphone: bool) -> dict[str, Any]:
    me = ctx.policy.person(actor.person_id)
    people = [
        {"id": p.id, "name": p.name, "role": p.role, "team": p.team, "presence": ctx.presence(p.id)}
        for p in ctx.policy.people
    ]
    return {
        "now": ctx.now_iso(),
        "me": {
            "id": actor.person_id,
            "name": me.name if me else actor.person_id,
            "role": actor.role,
            "team": me.team if me else "",
            "lead": actor.role in LEAD_ROLES,
        },
        "hold": {"check_in_seconds": ctx.policy.hold.check_in_seconds, "limit_seconds": ctx.policy.hold.limit_seconds},
        "people": people,
        "features": features,
        "softphone": softphone,
    }
