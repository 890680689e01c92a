"""Loading a policy file: TOML parsed, every table validated by its model (`models`), the checks
that span tables (people's numbers, case routing, red flags), and the `Policy` the core reads,
assembled once at start-up. A bad file raises PolicyError naming the file, the key and the reason."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import tomllib
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from telephony import numbers
from telephony.policy.business_hours import BusinessHours, parse_business_hours
from telephony.policy.errors import PolicyError
from telephony.policy.lines import line_of
from telephony.policy.models import (
    HANG_UP_WORDS,
    KINDS,
    MANAGERS_ONLY,
    Announcement,
    Callbacks,
    CaseRouting,
    FollowThrough,
    Hold,
    Ivr,
    KindRouting,
    Notifications,
    Person,
    PolicyFile,
    RedFlags,
    Warnings,
)


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
    case_routing: CaseRouting | None = None
    warnings: Warnings = field(default_factory=Warnings)
    follow_through: FollowThrough = field(default_factory=FollowThrough)
    red_flags: RedFlags = field(default_factory=RedFlags)
    # Issue 17: the organisation's id (its keys' hash tag, its URLs' `org`) and the numbers that
    # reach it; `version` tells a changed file from the one a call started under.
    organisation_id: str = "default"
    numbers: tuple[str, ...] = ()
    version: str = ""
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

    def leaders_of(self, person_id: str) -> list[Person]:
        """Who is told about this person's calls (R-NOTE-4, R-NOTE-6): their direct leader, else
        the leads of their team, else the managers."""
        person = self.person(person_id)
        leader = self.person(person.leader) if person and person.leader else None
        if leader:
            return [leader]
        leads = [p for p in self.people if p.role == "lead" and person and person.team and p.team == person.team]
        return leads or [p for p in self.people if p.role == "manager"]

    def managers_only(self, kind: str) -> bool:
        """Every tier of this kind is managers: nobody may promise the caller 'a lead'."""
        return set(self.kinds[kind].tiers) == {"manager"}


def load_policy(path: str | Path) -> Policy:
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(file, "-", "file not found") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(file, "-", f"not valid TOML: {exc}", line=toml_error_line(exc)) from None
    try:
        return parse_policy(data, file)
    except PolicyError as exc:
        exc.line = exc.line or line_of(text, exc.key)
        raise


def toml_error_line(exc: tomllib.TOMLDecodeError) -> int | None:
    """TOML's own errors say their line ('... (at line 3, column 1)')."""
    said = re.search(r"at line (\d+)", str(exc))
    return int(said.group(1)) if said else None


def parse_policy(data: dict[str, Any], file: str = "<policy>") -> Policy:
    try:
        doc = PolicyFile.model_validate(data)
    except ValidationError as exc:
        raise _policy_error(exc, file) from None
    return _assemble(doc, data, file)


def key_of(loc: tuple[Any, ...]) -> str:
    """('people', 2, 'endpoint') -> 'people[2].endpoint'."""
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        elif part != "[key]":
            key += f".{part}" if key else str(part)
    return key


def _policy_error(exc: ValidationError, file: str) -> PolicyError:
    """The first problem, named by its dotted key; an unknown key with the closest known one."""
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        known = known_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys here: {', '.join(known)}"
        return PolicyError(file, key_of(loc), f"unknown key; {hint}")
    if kind == "missing":
        table = _model_at(loc) is not None
        return PolicyError(file, key_of(loc), "missing table" if table else "missing")
    message = error["msg"].removeprefix("Value error, ")
    if kind.endswith("_type") or kind in ("literal_error", "enum") or kind.startswith(("greater_than", "less_than")):
        message += f", got {error.get('input')!r}"
    return PolicyError(file, key_of(loc), message[:1].lower() + message[1:])


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The section models an annotation holds (through Optional, tuple, list and dict)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, tuple, list, dict):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = PolicyFile
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        info = model.model_fields.get(str(part))
        found = _models_in(info.annotation) if info else []
        model = found[0] if found else None
    return model


def known_keys(loc: tuple[Any, ...]) -> list[str]:
    model = _model_at(loc)
    return sorted(model.model_fields) if model else []


def _assemble(doc: PolicyFile, data: dict[str, Any], file: str) -> Policy:
    """Rules across keys and tables, each failing with the key to fix."""

    def fail(key: str, reason: str) -> PolicyError:
        return PolicyError(file, key, reason)

    org = doc.organisation
    region = org.number_region
    people = _people(doc.people, region, fail)
    ids = {p.id for p in people}

    ivr = doc.ivr
    if ivr.account_min_digits > ivr.account_max_digits:
        raise fail("ivr.account_min_digits", "must not exceed account_max_digits")
    if ivr.fallback_endpoint:
        try:
            ivr = ivr.model_copy(
                update={"fallback_endpoint": numbers.normalise_endpoint(ivr.fallback_endpoint, region)}
            )
        except ValueError as exc:
            raise fail("ivr.fallback_endpoint", str(exc)) from None
    if doc.hold.check_in_seconds >= doc.hold.limit_seconds:
        raise fail("hold.check_in_seconds", "must be shorter than limit_seconds")

    teams = {p.team for p in people}
    kinds: dict[str, KindRouting] = {}
    for kind in KINDS:
        routing: KindRouting = getattr(doc.kinds, kind)
        if kind in MANAGERS_ONLY and set(routing.tiers) != {"manager"}:
            raise fail(f"kinds.{kind}.tiers", f"{kind} is handled by managers only (R-ESC-3, R-ESC-4)")
        if kind == "supervisor_demanded" and "lead" in routing.tiers:
            raise fail(f"kinds.{kind}.tiers", "a caller demanding a supervisor is never forced on a lead (R-ESC-2)")
        for team in routing.teams:
            if team not in teams:
                raise fail(f"kinds.{kind}.teams", f"no person is in team {team!r}")
        kinds[kind] = routing

    if doc.case_routing is not None:
        _check_case_routing(doc.case_routing, ids, fail)
    warnings = doc.warnings
    if "transfer" not in warnings.actions:
        raise fail("warnings.actions", "must include transfer: an abusive caller is always offered a manager (R-ESC-4)")
    if "disconnect" not in warnings.actions and HANG_UP_WORDS.search(warnings.second):
        raise fail(
            "warnings.second",
            "promises a hang-up that warnings.actions does not allow: the caller must hear only what can happen",
        )

    _check_red_flags(doc.red_flags, fail)
    service_numbers = []
    for n, raw in enumerate(org.numbers):
        try:
            service_numbers.append(numbers.to_e164(raw, region))
        except ValueError as exc:
            raise fail(f"organisation.numbers[{n}]", str(exc)) from None
    if len(set(service_numbers)) != len(service_numbers):
        raise fail("organisation.numbers", "lists a number twice")

    return Policy(
        name=org.name,
        file=file,
        number_region=region,
        time_zone=ZoneInfo(org.time_zone),
        voice=org.voice,
        language=org.language,
        ivr=ivr,
        hold=doc.hold,
        announcement=doc.announcement,
        people=people,
        kinds=kinds,
        callbacks=doc.callbacks,
        business_hours=parse_business_hours(data.get("business_hours"), file),
        notifications=doc.notifications,
        case_routing=doc.case_routing,
        warnings=warnings,
        follow_through=doc.follow_through,
        red_flags=doc.red_flags,
        organisation_id=org.id or organisation_id_of(file),
        numbers=tuple(service_numbers),
        version=hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:12],
        raw=data,
    )


def organisation_id_of(file: str) -> str:
    """A policy without `organisation.id` is named by its file: seed-002-customer-loyalty.toml is
    `seed-002-customer-loyalty`; a policy read from no file is `default`."""
    stem = re.sub(r"[^a-z0-9-]+", "-", Path(file).stem.lower()).strip("-")[:40].strip("-")
    return stem if stem and not file.startswith("<") else "default"


def _people(entries: tuple[Person, ...], region: str, fail: Callable[[str, str], PolicyError]) -> tuple[Person, ...]:
    people: list[Person] = []
    for i, person in enumerate(entries):
        try:
            endpoint = numbers.normalise_endpoint(person.endpoint, region)
        except ValueError as exc:
            raise fail(f"people[{i}].endpoint", str(exc)) from None
        if any(p.id == person.id for p in people):
            raise fail(f"people[{i}].id", f"duplicate person id {person.id!r}")
        people.append(person.model_copy(update={"endpoint": endpoint}))
    ids = {p.id for p in people}
    for i, p in enumerate(people):
        if p.leader and p.leader not in ids:
            raise fail(f"people[{i}].leader", f"no person with id {p.leader!r}")
    if not any(p.role == "agent" for p in people):
        raise fail("people", "nobody has role 'agent': no caller could reach anyone")
    return tuple(people)


def _check_case_routing(routing: CaseRouting, ids: set[str], fail: Callable[[str, str], PolicyError]) -> None:
    if routing.owner not in ids:
        raise fail("case_routing.owner", f"no person with id {routing.owner!r}")
    routed: dict[str, int] = {}
    for i, rule in enumerate(routing.rules):
        if rule.owner not in ids:
            raise fail(f"case_routing.rules[{i}].owner", f"no person with id {rule.owner!r}")
        for tag in rule.tags:
            if tag in routed:
                raise fail(f"case_routing.rules[{i}].tags", f"{tag!r} is already routed by rules[{routed[tag]}]")
            routed[tag] = i


def _check_red_flags(flags: RedFlags, fail: Callable[[str, str], PolicyError]) -> None:
    """A phrase listed twice (in any case) would be one red flag told twice; live transcription
    with no phrases would transcribe callers for nothing (R-NOTE-5)."""
    seen: dict[str, int] = {}
    for i, phrase in enumerate(flags.phrases):
        key = phrase.casefold()
        if key in seen:
            raise fail(f"red_flags.phrases[{i}]", f"{phrase!r} is already listed as phrases[{seen[key]}]")
        seen[key] = i
    if flags.live_transcription and not flags.phrases:
        raise fail(
            "red_flags.live_transcription", "is on, but red_flags.phrases is empty: there is nothing to listen for"
        )
