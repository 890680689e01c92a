"""An organisation's escalation procedure as data (PROCEDURES.md): who takes which kind of
escalation, what callers and leads hear, the hold limits. Validated once at start-up so a bad
file stops the service with the file, the key and the reason, never at the first call."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from telephony import numbers
from telephony.business_hours import BusinessHours, parse_business_hours

ROLES = ("agent", "lead", "supervisor", "manager")
TIER_ROLES = ("lead", "supervisor", "manager")
PRESENCES = ("available", "busy", "offline")
KINDS = ("manager_request", "supervisor_demanded", "formal_complaint", "abusive", "no_authority")
MANAGERS_ONLY = ("formal_complaint", "abusive")  # R-ESC-3, R-ESC-4


class PolicyError(Exception):
    def __init__(self, file: str, key: str, reason: str):
        super().__init__(f"{file}: {key}: {reason}")
        self.file, self.key, self.reason = file, key, reason


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    role: str
    endpoint: str
    team: str = ""
    region: str = ""
    segments: tuple[str, ...] = ()
    leader: str = ""
    presence: str = "available"
    on_call: bool = False

    def serves(self, segment: str | None, region: str | None) -> bool:
        """R-ESC-6: a person with segments or a region only takes callers of those."""
        if self.segments and segment and segment not in self.segments:
            return False
        if self.region and region and self.region.lower() != region.lower():
            return False
        return True


@dataclass(frozen=True)
class KindRouting:
    tiers: tuple[str, ...]
    teams: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ivr:
    greeting: str
    account_prompt: str
    account_retry: str
    account_min_digits: int
    account_max_digits: int
    account_attempts: int
    wait_message: str
    wait_music_url: str
    agent_busy_message: str
    agent_ringing_message: str
    fallback_message: str
    fallback_endpoint: str


@dataclass(frozen=True)
class Hold:
    """R-HOLD-1..4: what the caller hears on hold and how long they may be left there."""

    message: str
    music_url: str
    check_in_message: str
    check_in_seconds: int
    briefing_message: str
    message_repeat_seconds: int
    limit_seconds: int
    keep_holding_resets: int
    after_last_limit: str
    offer_prompt: str
    offer_unclear: str
    keep_holding_message: str
    voicemail_prompt: str
    voicemail_thanks: str


@dataclass(frozen=True)
class Callbacks:
    """R-CB-1..8: how a callback is offered, captured, dialled and retried."""

    offer_prompt: str
    busy_offer_prompt: str
    refused_message: str
    number_prompt: str
    number_invalid: str
    window_length_minutes: int
    slots_offered: int
    earliest_minutes: int
    attempts_per_window: int
    retry_spacing_seconds: int
    max_reschedules: int
    deadline: str
    caller_ring_timeout_seconds: int
    machine_message: str
    lead_intro: str
    caller_greeting: str
    confirmation: str


@dataclass(frozen=True)
class Notifications:
    """R-NOTE-1: where escalations are posted and how each segment is tagged."""

    channel: str
    tags: dict[str, str]
    default_tag: str


@dataclass(frozen=True)
class Announcement:
    """R-WARM-2: what a lead hears before anyone is connected to them."""

    intro: str
    accept_prompt: str
    caller_left: str
    accepted: str
    declined: str
    ring_timeout_seconds: int
    agent_dropped: str
    accepted_agent_gone: str
    hold_limit: str
    still_holding: str
    callback_chosen: str
    caller_connected: str


@dataclass(frozen=True)
class Policy:
    name: str
    file: str
    number_region: str
    time_zone: ZoneInfo
    voice: str
    language: str
    ivr: Ivr
    hold: Hold
    announcement: Announcement
    people: tuple[Person, ...]
    kinds: dict[str, KindRouting]
    callbacks: Callbacks
    business_hours: BusinessHours
    notifications: Notifications
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def person(self, person_id: str) -> Person | None:
        return next((p for p in self.people if p.id == person_id), None)

    def agents(self) -> list[Person]:
        return [p for p in self.people if p.role == "agent"]

    def tier_people(
        self, kind: str, tier: str, segment: str | None, region: str | None, on_call_only: bool = False
    ) -> list[Person]:
        """Everyone who may take this kind at this tier, in the policy's order (R-ESC-6); after
        hours only those on call (R-HOURS-1)."""
        routing = self.kinds[kind]
        return [
            p
            for p in self.people
            if p.role == tier
            and (not routing.teams or p.team in routing.teams)
            and p.serves(segment, region)
            and (p.on_call or not on_call_only)
        ]


class _Reader:
    """Walks the parsed file, remembering the dotted key so every error names it."""

    def __init__(self, file: str, data: dict[str, Any], prefix: str = ""):
        self.file, self.data, self.prefix = file, data, prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def fail(self, name: str, reason: str) -> PolicyError:
        return PolicyError(self.file, self.key(name), reason)

    def table(self, name: str, required: bool = True) -> _Reader:
        value = self.data.get(name)
        if value is None:
            if required:
                raise self.fail(name, "missing table")
            value = {}
        if not isinstance(value, dict):
            raise self.fail(name, "must be a table")
        return _Reader(self.file, value, f"{self.key(name)}.")

    def text(self, name: str, default: str | None = None) -> str:
        value = self.data.get(name, default)
        if value is None:
            raise self.fail(name, "missing")
        if not isinstance(value, str):
            raise self.fail(name, f"must be text, got {type(value).__name__}")
        return value

    def spoken(self, name: str, default: str | None = None) -> str:
        value = self.text(name, default)
        if not value.strip():
            raise self.fail(name, "must not be empty: the caller would hear silence")
        return value

    def integer(self, name: str, default: int | None = None, low: int = 0, high: int = 10**6) -> int:
        value = self.data.get(name, default)
        if value is None:
            raise self.fail(name, "missing")
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, f"must be a whole number, got {value!r}")
        if not low <= value <= high:
            raise self.fail(name, f"must be between {low} and {high}, got {value}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(name, f"must be true or false, got {value!r}")
        return value

    def strings(self, name: str, default: list[str] | None = None) -> tuple[str, ...]:
        value = self.data.get(name, default)
        if value is None:
            raise self.fail(name, "missing")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(name, "must be a list of text")
        return tuple(value)


def load_policy(path: str | Path) -> Policy:
    path = Path(path)
    file = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(file, "-", "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(file, "-", f"not valid TOML: {exc}") from None
    return parse_policy(data, file)


def parse_policy(data: dict[str, Any], file: str = "<policy>") -> Policy:
    top = _Reader(file, data)
    org = top.table("organisation")
    zone_name = org.text("time_zone")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise org.fail("time_zone", f"unknown time zone {zone_name!r}") from None
    number_region = org.text("number_region", "US")
    if not numbers.is_known_region(number_region):
        raise org.fail("number_region", f"unknown region code {number_region!r}")

    people = _people(top, number_region)
    ivr = _ivr(top.table("ivr"), number_region)
    hold_t = top.table("hold")
    hold = Hold(
        message=hold_t.spoken("message"),
        music_url=hold_t.text("music_url", ""),
        check_in_message=hold_t.spoken("check_in_message"),
        check_in_seconds=hold_t.integer("check_in_seconds", 120, 10, 3600),
        briefing_message=hold_t.spoken(
            "briefing_message", "Thank you for waiting. A {role} is reviewing your call and will be with you shortly."
        ),
        message_repeat_seconds=hold_t.integer("message_repeat_seconds", 60, 15, 600),
        limit_seconds=hold_t.integer("limit_seconds", 300, 10, 7200),
        keep_holding_resets=hold_t.integer("keep_holding_resets", 1, 0, 10),
        after_last_limit=hold_t.text("after_last_limit", "callback"),
        offer_prompt=hold_t.spoken("offer_prompt"),
        offer_unclear=hold_t.spoken("offer_unclear", "Sorry, I did not catch that."),
        keep_holding_message=hold_t.spoken("keep_holding_message"),
        voicemail_prompt=hold_t.spoken("voicemail_prompt"),
        voicemail_thanks=hold_t.spoken("voicemail_thanks"),
    )
    if hold.after_last_limit not in ("callback", "voicemail"):
        raise hold_t.fail("after_last_limit", "must be 'callback' or 'voicemail'")
    if hold.check_in_seconds >= hold.limit_seconds:
        raise hold_t.fail("check_in_seconds", "must be shorter than limit_seconds")
    ann = top.table("announcement")
    announcement = Announcement(
        intro=ann.spoken("intro", "I have an escalation in transfer."),
        accept_prompt=ann.spoken("accept_prompt"),
        caller_left=ann.spoken("caller_left"),
        accepted=ann.spoken("accepted"),
        declined=ann.spoken("declined"),
        ring_timeout_seconds=ann.integer("ring_timeout_seconds", 20, 5, 120),
        agent_dropped=ann.spoken("agent_dropped", "The agent's line dropped. The caller is with you now."),
        accepted_agent_gone=ann.spoken(
            "accepted_agent_gone",
            "Thank you. The agent's line dropped, so you are being put through to the caller now.",
        ),
        hold_limit=ann.spoken(
            "hold_limit",
            "The caller has reached the hold limit and is being offered a callback or more time. Please stay on the line.",
        ),
        still_holding=ann.spoken("still_holding", "The caller is still holding. Please stay on the line."),
        callback_chosen=ann.spoken(
            "callback_chosen", "The caller chose a callback instead of waiting, and it is booked. Thank you. Goodbye."
        ),
        caller_connected=ann.spoken("caller_connected", "You are now connected with {name}, a {role}."),
    )
    return Policy(
        name=org.text("name"),
        file=file,
        number_region=number_region,
        time_zone=zone,
        voice=org.text("voice", "Polly.Joanna"),
        language=org.text("language", "en-US"),
        ivr=ivr,
        hold=hold,
        announcement=announcement,
        people=people,
        kinds=_kinds(top.table("kinds"), people),
        callbacks=_callbacks(top.table("callbacks")),
        business_hours=parse_business_hours(top.data.get("business_hours"), file),
        notifications=_notifications(top.table("notifications")),
        raw=data,
    )


def _ivr(t: _Reader, region: str) -> Ivr:
    fallback_endpoint = t.text("fallback_endpoint", "")
    if fallback_endpoint:
        try:
            fallback_endpoint = numbers.normalise_endpoint(fallback_endpoint, region)
        except ValueError as exc:
            raise t.fail("fallback_endpoint", str(exc)) from None
    ivr = Ivr(
        greeting=t.spoken("greeting"),
        account_prompt=t.spoken("account_prompt"),
        account_retry=t.spoken("account_retry"),
        account_min_digits=t.integer("account_min_digits", 4, 1, 30),
        account_max_digits=t.integer("account_max_digits", 12, 1, 30),
        account_attempts=t.integer("account_attempts", 3, 1, 10),
        wait_message=t.spoken("wait_message"),
        wait_music_url=t.text("wait_music_url", ""),
        agent_busy_message=t.spoken("agent_busy_message"),
        agent_ringing_message=t.spoken(
            "agent_ringing_message", "Please stay on the line while we connect you to an agent."
        ),
        fallback_message=t.spoken("fallback_message"),
        fallback_endpoint=fallback_endpoint,
    )
    if ivr.account_min_digits > ivr.account_max_digits:
        raise t.fail("account_min_digits", "must not exceed account_max_digits")
    return ivr


def _people(top: _Reader, region: str) -> tuple[Person, ...]:
    raw = top.data.get("people")
    if not isinstance(raw, list) or not raw:
        raise top.fail("people", "missing: list the people as [[people]] tables")
    people: list[Person] = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise top.fail(f"people[{i}]", "must be a table")
        r = _Reader(top.file, entry, f"people[{i}].")
        role = r.text("role")
        if role not in ROLES:
            raise r.fail("role", f"must be one of {', '.join(ROLES)}, got {role!r}")
        presence = r.text("presence", "available")
        if presence not in PRESENCES:
            raise r.fail("presence", f"must be one of {', '.join(PRESENCES)}")
        try:
            endpoint = numbers.normalise_endpoint(r.text("endpoint"), region)
        except ValueError as exc:
            raise r.fail("endpoint", str(exc)) from None
        person = Person(
            id=r.text("id"),
            name=r.text("name"),
            role=role,
            endpoint=endpoint,
            team=r.text("team", ""),
            region=r.text("region", ""),
            segments=r.strings("segments", []),
            leader=r.text("leader", ""),
            presence=presence,
            on_call=r.boolean("on_call", False),
        )
        if any(p.id == person.id for p in people):
            raise r.fail("id", f"duplicate person id {person.id!r}")
        people.append(person)
    ids = {p.id for p in people}
    for i, p in enumerate(people):
        if p.leader and p.leader not in ids:
            raise top.fail(f"people[{i}].leader", f"no person with id {p.leader!r}")
    if not any(p.role == "agent" for p in people):
        raise top.fail("people", "nobody has role 'agent': no caller could reach anyone")
    return tuple(people)


def _kinds(t: _Reader, people: tuple[Person, ...]) -> dict[str, KindRouting]:
    kinds: dict[str, KindRouting] = {}
    for kind in KINDS:
        k = t.table(kind)
        tiers = k.strings("tiers")
        if not tiers:
            raise k.fail("tiers", "must name at least one tier")
        for tier in tiers:
            if tier not in TIER_ROLES:
                raise k.fail("tiers", f"unknown tier {tier!r}; tiers are {', '.join(TIER_ROLES)}")
        if kind in MANAGERS_ONLY and set(tiers) != {"manager"}:
            raise k.fail("tiers", f"{kind} is handled by managers only (R-ESC-3, R-ESC-4)")
        if kind == "supervisor_demanded" and "lead" in tiers:
            raise k.fail("tiers", "a caller demanding a supervisor is never forced on a lead (R-ESC-2)")
        teams = k.strings("teams", [])
        known_teams = {p.team for p in people}
        for team in teams:
            if team not in known_teams:
                raise k.fail("teams", f"no person is in team {team!r}")
        kinds[kind] = KindRouting(tiers=tiers, teams=teams)
    unknown = set(t.data) - set(KINDS)
    if unknown:
        raise t.fail(sorted(unknown)[0], f"unknown escalation kind; kinds are {', '.join(KINDS)}")
    return kinds


def _callbacks(t: _Reader) -> Callbacks:
    cb = Callbacks(
        offer_prompt=t.spoken("offer_prompt"),
        busy_offer_prompt=t.spoken("busy_offer_prompt"),
        refused_message=t.spoken("refused_message"),
        number_prompt=t.spoken("number_prompt"),
        number_invalid=t.spoken("number_invalid"),
        window_length_minutes=t.integer("window_length_minutes", 120, 15, 24 * 60),
        slots_offered=t.integer("slots_offered", 3, 1, 8),
        earliest_minutes=t.integer("earliest_minutes", 15, 0, 24 * 60),
        attempts_per_window=t.integer("attempts_per_window", 3, 1, 20),
        retry_spacing_seconds=t.integer("retry_spacing_seconds", 600, 30, 24 * 3600),
        max_reschedules=t.integer("max_reschedules", 3, 0, 20),
        deadline=t.text("deadline", "24h"),
        caller_ring_timeout_seconds=t.integer("caller_ring_timeout_seconds", 30, 5, 120),
        machine_message=t.spoken("machine_message"),
        lead_intro=t.spoken("lead_intro"),
        caller_greeting=t.spoken("caller_greeting"),
        confirmation=t.spoken("confirmation"),
    )
    if cb.deadline not in ("24h", "end_of_business_day"):
        raise t.fail("deadline", "must be '24h' or 'end_of_business_day' (R-CB-7)")
    return cb


def _notifications(t: _Reader) -> Notifications:
    tags = t.data.get("tags", {})
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise t.fail("tags", 'must be a table of segment = "tag"')
    return Notifications(
        channel=t.text("channel", "escalations"), tags=dict(tags), default_tag=t.text("default_tag", "")
    )
