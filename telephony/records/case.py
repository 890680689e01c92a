"""The case an escalation became (R-ESC-8, seed 001) and the tags it was raised with, as kept on
the escalation: read by its record and by the escalation's view. `escalation.case_routing` opens
and moves the case; what is kept is read here, so the records need nothing of the escalation."""

from __future__ import annotations

import json
from typing import Any


def case_view(esc: dict[str, str]) -> dict[str, Any] | None:
    if not esc.get("case_status"):
        return None
    return {"department": esc["case_department"], "owner": esc["case_owner"], "status": esc["case_status"]}


def tags_of(esc: dict[str, str]) -> list[str]:
    tags: list[str] = json.loads(esc.get("tags") or "[]")
    return tags
