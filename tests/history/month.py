"""A generated month of escalation records (issue 30), as the archive holds them: every kind,
tier and story the reports count (holds with check-ins on time and late, the hold limit and
keeping on holding, callbacks reached in and after their window or given up or overdue, red flags
told and not, emails sent and failed), seeded so a run is repeatable."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

ZONE = timezone(timedelta(hours=-6))  # America/Chicago in November and December
KINDS = ("manager_request", "supervisor_demanded", "formal_complaint", "abusive", "no_authority")
TAKERS = (
    ("Lead Lee", "lead"),
    ("Lead Morgan", "lead"),
    ("Sam Super", "supervisor"),
    ("Max Manager", "manager"),
    ("", ""),
)
PHRASES = ("lawyer", "cancel my account", "regulator", "the press")


def _iso(at: datetime) -> str:
    return at.astimezone(ZONE).isoformat()


def record(rng: random.Random, n: int, created: datetime, organisation: str = "Example Support") -> dict[str, Any]:
    timeline: list[dict[str, str]] = []

    def event(at: datetime, name: str, detail: str = "") -> None:
        timeline.append({"at": _iso(at), "event": name, "detail": detail})

    kind = rng.choice(KINDS)
    taker, role = rng.choice(TAKERS)
    at = created
    if rng.random() < 0.15:
        flagged = created - timedelta(seconds=rng.randint(30, 600))
        event(
            at,
            "red_flag",
            f'"{rng.choice(PHRASES)}" said on the call (raised at {_iso(flagged)}, before the escalation)',
        )
    event(at, "escalated", kind)
    story = rng.choice(("connected", "connected", "held_long", "callback", "abandoned", "no_hold"))
    callback: dict[str, Any] = {}
    if story != "no_hold":
        at += timedelta(seconds=rng.randint(2, 20))
        event(at, "caller_on_hold")
        start = at
        held = rng.randint(10, 700) if story != "held_long" else rng.randint(290, 900)
        rounds_end = start + timedelta(seconds=held)
        for k in range(1, 6):
            due = start + timedelta(seconds=120 * k)
            if due >= rounds_end or k * 120 >= 300:
                break
            late = rng.choice((0, 0, 1, 5, 12, 40))
            event(due + timedelta(seconds=late), "check_in", f"on hold {2.0 * k:.1f} min")
        if held > 300 and rng.random() < 0.7:
            limit_at = start + timedelta(seconds=300)
            event(limit_at, "hold_limit")
            event(limit_at + timedelta(seconds=rng.randint(1, 8)), "keep_holding", "pressed 1")
        at = rounds_end
    if rng.random() < 0.2:
        event(at - timedelta(seconds=1), "red_flag", f'"{rng.choice(PHRASES)}" in a note')
    if story in ("connected", "held_long", "no_hold") and taker:
        event(at, "lead_accepted", taker)
        event(at, "caller_connected", f"to {taker}")
        state = "resolved"
    elif story == "callback":
        event(at, "callback_chosen", "2-4 pm")
        window_start = (at + timedelta(hours=rng.randint(1, 30))).replace(minute=0, second=0)
        window_end = window_start + timedelta(hours=2)
        callback = {"window_start": window_start, "window_end": window_end}
        outcome = rng.choice(("in_window", "late", "given_up", "not_yet"))
        if outcome in ("in_window", "late"):
            reached = window_start + timedelta(minutes=rng.randint(1, 100) if outcome == "in_window" else 150)
            for _ in range(rng.randint(1, 3)):
                event(reached - timedelta(minutes=1), "callback_attempt", "1 of 3")
            event(reached, "callback_connected", "caller reached")
            callback["status"] = "completed"
        elif outcome == "given_up":
            event(window_end, "callback_gave_up", "three tries")
            callback["status"] = "no_answer"
        else:
            callback["status"] = "scheduled"
        if rng.random() < 0.2:
            event(window_end + timedelta(minutes=5), "callback_overdue", "not dialled")
        state = "callback_scheduled" if callback["status"] == "scheduled" else "resolved"
    else:
        event(at, "caller_left")
        state = "abandoned"
        taker, role = "", ""
    for flag in [e for e in timeline if e["event"] == "red_flag"]:
        if rng.random() < 0.7:
            phrase = flag["detail"].split('"')[1]
            event(at + timedelta(seconds=rng.randint(1, 90)), "red_flag_told", f'"{phrase}" to the managers')
    if kind in ("formal_complaint", "abusive") or rng.random() < 0.1:
        for _ in range(rng.choice((0, 1, 1, 2))):
            event(at, "email_not_sent", "SMTP refused")
        if rng.random() < 0.8:
            event(at, "email_sent", "to managers")
    timeline.sort(key=lambda e: e["at"])
    return {
        "id": f"esc_{n:016x}",
        "organisation": organisation,
        "kind": kind,
        "state": state,
        "finished": state != "callback_scheduled",
        "created_at": _iso(created),
        "updated_at": timeline[-1]["at"],
        "caller_name": f"Caller {n}",
        "contact_name": "",
        "account": f"{100000 + n}",
        "contact_number": "+13125550142",
        "segment": rng.choice(("residential", "business")),
        "region": rng.choice(("north", "south")),
        "agent": "Agent Avery",
        "agent_id": "agent-avery",
        "created_by": "agent-avery",
        "taken_by": taker,
        "taken_by_role": role,
        "reason": "billed twice",
        "deescalation_steps": ["apologised"],
        "resolution_offered": "a credit",
        "what_happened": [],
        "callback_number": "+13125550142" if callback else None,
        "callback_time_frame": "2-4 pm" if callback else None,
        "callback_window_start": _iso(callback["window_start"]) if callback else None,
        "callback_window_end": _iso(callback["window_end"]) if callback else None,
        "callback_deadline": None,
        "callback_status": callback.get("status") if callback else None,
        "case_department": None,
        "case_owner": None,
        "case_status": None,
        "tags": [],
        "early_warning": None,
        "timeline": timeline,
        "crm_note": "",
    }


def month(first: datetime, days: int = 30, per_day: int = 40, seed: int = 30) -> list[dict[str, Any]]:
    """`per_day` records a day for `days` days from `first` (local midnight), oldest first."""
    rng = random.Random(seed)
    out = []
    for day in range(days):
        for k in range(per_day):
            created = first + timedelta(days=day, seconds=rng.randint(8 * 3600, 18 * 3600))
            out.append(record(rng, day * per_day + k, created))
    out.sort(key=lambda r: (datetime.fromisoformat(r["created_at"]).timestamp(), r["id"]))
    return out


FIRST_DAY = datetime(2026, 11, 2, tzinfo=ZONE)


def record_on(created: datetime, esc_id: str, seed: int = 1) -> dict[str, Any]:
    """One generated record created at `created`, with this id."""
    generated = record(random.Random(seed), 0, created + timedelta(hours=9))
    generated["id"] = esc_id
    return generated
