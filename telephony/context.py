"""What every part of the core works with: the policy, the store, the Twilio gateway, the URLs
Twilio fetches, and the clock."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass

from telephony.adapters.store import Store
from telephony.adapters.timers import Timers
from telephony.adapters.twilio_gateway import TwilioGateway
from telephony.clock import Clock, iso
from telephony.errors import NotFound, TelephonyFailure
from telephony.policy.loading import Policy
from telephony.policy.models import Person
from telephony.urls import Urls

log = logging.getLogger(__name__)


@dataclass
class Context:
    policy: Policy
    store: Store
    twilio: TwilioGateway
    urls: Urls
    clock: Clock
    timers: Timers

    def now_iso(self) -> str:
        return iso(self.clock.now()) or ""

    def event(self, name: str, detail: str = "") -> dict[str, str]:
        return {"at": self.now_iso(), "event": name, "detail": detail}

    def caller_call(self, call_sid: str) -> dict[str, str]:
        """The caller's own call (not a leg we dialled), or a 404 naming it."""
        call = self.store.call(call_sid)
        if call is None or call.get("role") != "caller":
            raise NotFound(f"No call {call_sid}.", code="call_not_found")
        return call

    def name(self, person_id: str) -> str:
        person = self.policy.person(person_id)
        return person.name if person else person_id

    def presence(self, person_id: str) -> str:
        person = self.policy.person(person_id)
        return self.store.presence(person_id, person.presence if person else "offline")


CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")


def is_call_sid(value: str) -> bool:
    return bool(CALL_SID.match(value or ""))


def conference_name(caller_call_sid: str) -> str:
    """Derived from the caller's CallSid alone, so the fallback can find it without Redis."""
    return f"call-{caller_call_sid}"


def end_conference(ctx: Context, esc: dict[str, str]) -> None:
    """Close an escalation's conference; a failure is logged, the escalation is already settled."""
    try:
        ctx.twilio.end_conference(esc["conference_sid"])
    except TelephonyFailure as exc:
        log.warning("could not end conference %s: %s", esc["conference_sid"], exc.message)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def ring_person(ctx: Context, person: Person, holder: str, *, url: str, status_callback: str) -> tuple[str | None, str]:
    """Claim an available person for one leg and ring them with our TwiML first (an
    announcement, R-WARM-2). Returns (call SID, "") or (None, why) with the person freed again.
    A transient TelephonyFailure (Twilio down, not this person's number) is raised, the person
    freed: ringing the next person would fail the same way."""
    if not ctx.store.claim_person(person.id, person.presence, holder):
        return None, ctx.presence(person.id)
    return ring_claimed(ctx, person, holder, url=url, status_callback=status_callback)


def ring_claimed(
    ctx: Context, person: Person, holder: str, *, url: str, status_callback: str, keep_if_unsure: bool = False
) -> tuple[str | None, str]:
    """ring_person for a person `holder` has already claimed (the callback dialler claims in
    the same round trip as it notes whom it rings). `keep_if_unsure`: a transient failure (a
    timeout among them: Twilio may have placed the call all the same) leaves the person claimed,
    for the caller to look the call up before deciding (issue 34)."""
    try:
        call_sid = ctx.twilio.call(
            person.endpoint,
            url=url,
            status_callback=status_callback,
            timeout=ctx.policy.announcement.ring_timeout_seconds,
        )
    except TelephonyFailure as exc:
        if exc.transient and keep_if_unsure:
            raise
        ctx.store.release_person(person.id, holder)
        if exc.transient:
            raise
        return None, f"not reached: {exc.message}"
    return call_sid, ""
