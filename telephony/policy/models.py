"""An organisation's escalation procedure as data (PROCEDURES.md): who takes which kind of
escalation, what callers and leads hear, the hold limits. Every table of the file is a pydantic
model that forbids unknown keys, so a bad file stops the service at start-up with the file, the
key, the reason and the closest known key, never at the first call (a misspelt
`check_in_secnds = 30` would otherwise leave the default in force unnoticed).

These are the tables of the file as written; `loading` checks them across tables and assembles the
`Policy` the core reads. Adding a section: a model deriving from `Section` (here or in its own
module), a field on `PolicyFile`, and the same attribute on `Policy`, copied in `_assemble`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from telephony import lifecycle, numbers
from telephony.config import EMAIL_ADDRESS

ROLES = ("agent", "lead", "supervisor", "manager")
TIER_ROLES = ("lead", "supervisor", "manager")
PRESENCES = ("available", "busy", "offline")
KINDS = ("manager_request", "supervisor_demanded", "formal_complaint", "abusive", "no_authority")
MANAGERS_ONLY = ("formal_complaint", "abusive")  # R-ESC-3, R-ESC-4
CASE_STATUSES = tuple(status.value for status in lifecycle.CaseStatus)  # R-ESC-8
WARNING_ACTIONS = ("transfer", "disconnect")  # R-ABUSE-1
TAG = re.compile(r"[a-z0-9][a-z0-9_]{0,39}")
# R-NOTE-5: a red-flag word or phrase: letters and digits, with spaces, apostrophes, hyphens, dots.
PHRASE = re.compile(r"[^\W_](?:[\w' .&-]*[^\W_])?")
PHRASE_LIMIT = 80
HANG_UP_WORDS = re.compile(r"\b(hang(ing)? up|disconnect\w*|end (this|the) call)\b", re.I)


def _spoken(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty: the caller would hear silence")
    return value


def _tag(value: str) -> str:
    if not TAG.fullmatch(value):
        raise ValueError(f"{value!r} is not a tag: lower-case letters, digits and _, e.g. aging_cms")
    return value


def _phrase(value: str) -> str:
    """One red-flag word or phrase, its spaces normalised (R-NOTE-5)."""
    phrase = " ".join(value.split())
    if not phrase:
        raise ValueError("must not be empty: it would match nothing")
    if len(phrase) > PHRASE_LIMIT or not PHRASE.fullmatch(phrase):
        raise ValueError(
            f"{value!r} is not a word or phrase: letters and digits, with spaces, ' and - between them, "
            f"at most {PHRASE_LIMIT} characters"
        )
    return phrase


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


def _email(value: str) -> str:
    if value and not EMAIL_ADDRESS.fullmatch(value):
        raise ValueError(f"{value!r} is not an email address, e.g. manager@example.com")
    return value


def _region(value: str) -> str:
    if not numbers.is_known_region(value):
        raise ValueError(f"unknown region code {value!r}")
    return value


Spoken = Annotated[StrictStr, AfterValidator(_spoken)]
Tag = Annotated[StrictStr, Field(json_schema_extra={"pattern": f"^{TAG.pattern}$"}), AfterValidator(_tag)]
Phrase = Annotated[StrictStr, AfterValidator(_phrase)]
Tier = Literal["lead", "supervisor", "manager"]
# The case's status as the policy file and the API write it: the enum's wire values, a JSON schema
# enum of strings (mypy sees plain strings).
if TYPE_CHECKING:
    CaseStatus = str
else:
    CaseStatus = Literal[CASE_STATUSES]


class Section(BaseModel):
    """A table of the policy file: unknown keys are refused, values are never coerced."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Organisation(Section):
    """Who the organisation is, as callers hear it, and where it is."""

    name: Spoken = Field(description="the organisation, in the words callers hear")
    id: Annotated[StrictStr, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")] | None = Field(
        None,
        description="short id naming the organisation in keys, URLs and tokens (a-z, 0-9, -); "
        "default: the policy file's name",
    )
    numbers: list[StrictStr] = Field(
        [],
        description="the service numbers callers dial to reach this organisation (E.164); a deployment "
        "of several policies picks the organisation by the number dialled",
    )
    time_zone: Annotated[StrictStr, AfterValidator(_zone)] = Field(
        description="IANA time zone of the organisation, e.g. America/Chicago"
    )
    number_region: Annotated[StrictStr, AfterValidator(_region)] = Field(
        "US", description="region for phone numbers typed without a country code"
    )
    voice: StrictStr = Field("Polly.Joanna", description="Twilio <Say> voice")
    language: StrictStr = Field("en-US", description="Twilio <Say> language")


class Ivr(Section):
    """What a caller hears before they reach an agent."""

    greeting: Spoken = Field(description="the first words a caller hears")
    account_prompt: Spoken = Field(description="asks for the account number")
    account_retry: Spoken = Field(description="said before the prompt again after a bad entry")
    account_min_digits: StrictInt = Field(4, ge=1, le=30, description="shortest account number accepted")
    account_max_digits: StrictInt = Field(12, ge=1, le=30, description="longest account number accepted")
    account_attempts: StrictInt = Field(3, ge=1, le=10, description="tries before the caller goes to an agent anyway")
    wait_message: Spoken = Field(description="said once the account is taken, before the agent answers")
    wait_music_url: StrictStr = Field("", description="music while waiting for an agent (none: a pause)")
    agent_busy_message: Spoken = Field(description="said while no agent is being rung")
    agent_ringing_message: Spoken = Field(
        "Please stay on the line while we connect you to an agent.", description="said while an agent is being rung"
    )
    fallback_message: Spoken = Field(description="said when the service fails (/voice/fallback)")
    fallback_endpoint: StrictStr = Field(
        "", description="a staffed line the fallback rings (+E.164, client:, sip:); never this service's own number"
    )


class Hold(Section):
    """R-HOLD-1..4: what the caller hears on hold and how long they may be left there. `{role}`
    in the words is the role being reached (lead, supervisor, manager)."""

    message: Spoken = Field(description="said while someone is sought: 'I am getting a {role} on the line'")
    music_url: StrictStr = Field("", description="hold music (none: a pause)")
    check_in_message: Spoken = Field(description="the check-in (R-HOLD-2), in place of the message")
    check_in_seconds: StrictInt = Field(120, ge=10, le=3600, description="a check-in this often (R-HOLD-2)")
    briefing_message: Spoken = Field(
        "Thank you for waiting. A {role} is reviewing your call and will be with you shortly.",
        description="said once someone has accepted and is being briefed",
    )
    message_repeat_seconds: StrictInt = Field(
        60, ge=15, le=600, description="the hold message at most this often; music in between"
    )
    limit_seconds: StrictInt = Field(
        300, ge=10, le=7200, description="then the caller is offered to keep holding or a callback (R-HOLD-3)"
    )
    keep_holding_resets: StrictInt = Field(1, ge=0, le=10, description="how often 'keep holding' restarts the clock")
    after_last_limit: Literal["callback", "voicemail"] = Field(
        "callback", description="where the caller goes at the last limit"
    )
    offer_prompt: Spoken = Field(description="the offer at the limit: keep holding (1) or a callback (2)")
    offer_unclear: Spoken = Field("Sorry, I did not catch that.", description="said before a menu is repeated")
    keep_holding_message: Spoken = Field(description="said when the caller chose to keep holding")
    voicemail_prompt: Spoken = Field(description="asks for a message (after_last_limit = voicemail)")
    voicemail_thanks: Spoken = Field(description="said after the message")


class Announcement(Section):
    """R-WARM-2: what a lead hears before anyone is connected to them, and as the call changes."""

    intro: Spoken = Field("I have an escalation in transfer.", description="the first words a lead hears")
    accept_prompt: Spoken = Field(description="accept (1) or decline (2)")
    accepted: Spoken = Field(description="said to a lead who accepted, before joining the agent")
    declined: Spoken = Field(description="said to a lead who declined")
    caller_left: Spoken = Field(description="said to a lead when the caller has gone")
    ring_timeout_seconds: StrictInt = Field(20, ge=5, le=120, description="how long a lead's phone rings")
    agent_dropped: Spoken = Field(
        "The agent's line dropped. The caller is with you now.", description="told when the agent's line drops"
    )
    accepted_agent_gone: Spoken = Field(
        "Thank you. The agent's line dropped, so you are being put through to the caller now.",
        description="told on accepting when the agent has gone",
    )
    hold_limit: Spoken = Field(
        "The caller has reached the hold limit and is being offered a callback or more time. Please stay on the line.",
        description="told when the caller reaches the hold limit",
    )
    still_holding: Spoken = Field(
        "The caller is still holding. Please stay on the line.", description="told when the caller keeps holding"
    )
    callback_chosen: Spoken = Field(
        "The caller chose a callback instead of waiting, and it is booked. Thank you. Goodbye.",
        description="told when the caller chose a callback",
    )
    caller_connected: Spoken = Field(
        "You are now connected with {name}, a {role}.", description="the caller hears this coming off hold"
    )


class Person(Section):
    """Someone who takes calls or escalations (R-ESC-6)."""

    id: StrictStr = Field(description="the id API_TOKENS and other settings name")
    name: StrictStr = Field(description="how the service names them (a role name, not a real person)")
    role: Literal["agent", "lead", "supervisor", "manager"] = Field(description="agent, lead, supervisor or manager")
    endpoint: StrictStr = Field(description="+E.164 number, client:identity or sip:user@host")
    team: StrictStr = Field("", description="their team (kinds may be limited to teams)")
    region: StrictStr = Field("", description="with one, they take only callers of that region")
    segments: tuple[StrictStr, ...] = Field((), description="with some, they take only callers of those segments")
    leader: StrictStr = Field("", description="id of their direct leader (R-CB-6)")
    presence: Literal["available", "busy", "offline"] = Field("available", description="presence at start-up")
    on_call: StrictBool = Field(False, description="rung after hours (R-HOURS-1)")
    email: Annotated[StrictStr, AfterValidator(_email)] = Field(
        "", description="where urgent emails reach a manager (R-NOTE-2)"
    )

    def serves(self, segment: str | None, region: str | None) -> bool:
        """R-ESC-6: a person with segments or a region only takes callers of those."""
        if self.segments and segment and segment not in self.segments:
            return False
        if self.region and region and self.region.lower() != region.lower():
            return False
        return True


class KindRouting(Section):
    tiers: tuple[Tier, ...] = Field(min_length=1, description="the roles rung, in order (R-ESC-6)")
    teams: tuple[StrictStr, ...] = Field((), description="with some, only people of these teams are rung")


class Kinds(Section):
    """R-ESC-1..5: who takes each kind of escalation."""

    manager_request: KindRouting = Field(description="the caller asks for a manager (R-ESC-1)")
    supervisor_demanded: KindRouting = Field(description="the caller refuses a lead (R-ESC-2): no leads here")
    formal_complaint: KindRouting = Field(description="a formal complaint (R-ESC-3): managers only")
    abusive: KindRouting = Field(description="an abusive caller (R-ESC-4): managers only")
    no_authority: KindRouting = Field(description="the agent has no authority (R-ESC-5)")


class Callbacks(Section):
    """R-CB-1..8: how a callback is offered, captured, dialled and retried."""

    offer_prompt: Spoken = Field(description="nobody could take the call: a callback (1) or keep waiting (2)")
    busy_offer_prompt: Spoken = Field(description="the leads are busy: a callback by end of day (1) or hold (2)")
    refused_message: Spoken = Field(description="said when the caller refuses a callback")
    number_prompt: Spoken = Field(description="asks for the number to call back")
    number_invalid: Spoken = Field(description="said when that number cannot be called")
    window_length_minutes: StrictInt = Field(120, ge=15, le=24 * 60, description="length of a callback window")
    slots_offered: StrictInt = Field(3, ge=1, le=8, description="windows offered to choose from")
    earliest_minutes: StrictInt = Field(15, ge=0, le=24 * 60, description="the first window starts this late")
    attempts_per_window: StrictInt = Field(3, ge=1, le=20, description="dial attempts inside a window (R-CB-5)")
    retry_spacing_seconds: StrictInt = Field(600, ge=30, le=24 * 3600, description="between attempts")
    max_reschedules: StrictInt = Field(3, ge=0, le=20, description="windows moved on before giving up")
    deadline: Literal["24h", "end_of_business_day"] = Field(
        "24h", description="every callback is made by then or flagged overdue (R-CB-7)"
    )
    caller_ring_timeout_seconds: StrictInt = Field(30, ge=5, le=120, description="how long the caller's phone rings")
    machine_message: Spoken = Field(description="left on an answering machine")
    lead_intro: Spoken = Field(description="the lead hears this first when a callback is made")
    caller_greeting: Spoken = Field(description="the caller hears this answering a callback")
    confirmation: Spoken = Field(description="said when a callback is booked")


class Notifications(Section):
    """R-NOTE-1: where escalations are posted and how each segment is tagged."""

    channel: StrictStr = Field("escalations", description="the team channel escalations are posted to")
    tags: dict[str, StrictStr] = Field({}, description='segment = "tag" mentioned in the post, e.g. AM = "@am-leads"')
    default_tag: StrictStr = Field("", description="the tag for callers of no listed segment")


class BusinessHoursTable(Section):
    """R-CB-3, R-HOURS-1: when the organisation is open."""

    time_zone: Annotated[StrictStr, AfterValidator(_zone)] = Field(description="IANA time zone the hours are in")
    days: dict[str, StrictStr] = Field(description='opening hours per day: { mon = "08:00-17:00", ... }')
    holidays: StrictStr = Field("", description='public holidays of this country (e.g. "US")')
    holiday_subdivision: StrictStr = Field("", description='and of this state or province (e.g. "IL")')
    extra_holidays: list[Any] = Field([], description='the organisation\'s own days off ("2026-12-24")')


class CaseRule(Section):
    """R-ESC-8: escalations carrying any of these tags go to this department and owner."""

    tags: tuple[Tag, ...] = Field(min_length=1, description="tags the agent gives the escalation, e.g. aging_cms")
    department: Annotated[StrictStr, Field(min_length=1)] = Field(
        description="the department that follows up, e.g. Client Success"
    )
    owner: StrictStr = Field(description="id of the person who owns the case")
    status: CaseStatus = Field(lifecycle.CaseStatus.ASSIGNED.value, description="the case's status once routed")


class CaseRouting(Section):
    """R-ESC-8 (seed 001): every escalation becomes a case with a department, an owner and a
    status; rules on its tags route it on."""

    department: Annotated[StrictStr, Field(min_length=1)] = Field(
        description="where every case starts, e.g. Technical Support"
    )
    owner: StrictStr = Field(description="id of the first owner, e.g. the technical support manager")
    status: CaseStatus = Field(lifecycle.CaseStatus.ESCALATED.value, description="the first status")
    tags: tuple[Tag, ...] = Field((), description="further tags agents may give that route nowhere")
    rules: tuple[CaseRule, ...] = Field((), description="the first rule with one of the escalation's tags wins")

    def known_tags(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.tags, *(t for rule in self.rules for t in rule.tags)]))

    def route(self, tags: tuple[str, ...] | list[str]) -> tuple[str, str, str, CaseRule | None]:
        """(department, owner, status, the rule) for an escalation with these tags."""
        for rule in self.rules:
            if set(rule.tags) & set(tags):
                return rule.department, rule.owner, rule.status, rule
        return self.department, self.owner, self.status, None


class Warnings(Section):
    """R-ABUSE-1 (seed 003): warning 1, warning 2 with its consequence, then the action this
    organisation allows. Where a hang-up is never allowed (seed 002) `actions` is transfer only."""

    first: Spoken = Field(
        "Please refrain from using that kind of language. It is not called for and I am trying to help you.",
        description="warning 1, as the agent says it",
    )
    second: Spoken = Field(
        "I want to help you with this, but if you persist in speaking to me that way, "
        "I will have no choice but to transfer you to a manager.",
        description="warning 2 with its consequence; it may promise a hang-up only if actions allow one",
    )
    actions: tuple[Literal["transfer", "disconnect"], ...] = Field(
        ("transfer",), min_length=1, description="what may follow warning 2: transfer (to a manager), disconnect"
    )
    disconnect_message: Spoken = Field(
        "I am ending this call now. Goodbye.", description="the caller hears this before a disconnect"
    )


class FollowThrough(Section):
    """R-NOTE-6 (seed 000): a promise made on the call becomes a task due this soon, unless the
    agent gives its due time; an overdue one is flagged to the owner's leader."""

    due_minutes: StrictInt = Field(30, ge=1, le=7 * 24 * 60, description="a task is due this long after it is made")


class RedFlags(Section):
    """R-NOTE-5 (seed 001, proactive escalations): words and phrases that bring a manager in at
    once when they come up in an escalation's reason, an agent's note or what the caller says."""

    phrases: tuple[Phrase, ...] = Field(
        (),
        description="words and phrases, matched in any case on word boundaries with simple inflections "
        "(sue: sues, sued, suing; lawyer: lawyers); none: no red flags",
    )
    live_transcription: StrictBool = Field(
        False,
        description="transcribe the caller live (Twilio <Start><Transcription>) and match each final utterance",
    )


class PolicyFile(Section):
    """The whole file, table by table."""

    organisation: Organisation
    ivr: Ivr
    hold: Hold
    announcement: Announcement
    business_hours: BusinessHoursTable
    callbacks: Callbacks
    notifications: Notifications
    kinds: Kinds
    people: tuple[Person, ...] = Field(min_length=1, description="everyone who takes calls or escalations")
    case_routing: CaseRouting | None = Field(None, description="R-ESC-8: escalations routed on as cases by their tags")
    warnings: Warnings = Field(default_factory=Warnings, description="R-ABUSE-1: the warning protocol")
    follow_through: FollowThrough = Field(default_factory=FollowThrough, description="R-NOTE-6: follow-through tasks")
    red_flags: RedFlags = Field(default_factory=RedFlags, description="R-NOTE-5: red-flag words and phrases")
