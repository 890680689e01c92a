"""The query and body of GET /api/reports (managers' numbers), in the OpenAPI document."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field


class ReportsQuery(BaseModel):
    from_: date = Field(alias="from", description="first day, YYYY-MM-DD, in the organisation's time zone")
    to: date = Field(description="last day, included; from and to span at most 366 days")
    format: Literal["json", "csv"] = "json"


class EscalationCounts(BaseModel):
    requirement: str = Field(description="the requirement the figure checks")
    count: int
    by_kind: dict[str, int]
    by_tier: dict[str, int] = Field(description="the role of who took the call (the tier reached); 'not taken'")


class SecondsSpread(BaseModel):
    count: int
    p50: float | None = Field(description="nearest rank")
    p90: float | None
    max: float | None


class Seconds(BaseModel):
    requirement: str
    count: int = Field(description="escalations whose caller was put through to a lead")
    p50: float | None
    p90: float | None
    max: float | None
    by_tier: dict[str, SecondsSpread] = Field(description="the same, by the role of who took the call")


class HoldDistribution(BaseModel):
    bin_seconds: int = Field(description="a tenth of the limit")
    counts: list[int] = Field(description="holds per bin from 0 s up to twice the limit; the last bin, anything longer")


class CheckInFigures(BaseModel):
    requirement: str
    interval_seconds: int | None = Field(description="the policy's hold.check_in_seconds")
    grace_seconds: int = Field(description="a check-in at most this late is on time")
    made: int
    on_time: int
    late: int
    latest_seconds: float | None = Field(description="the latest check-in, against its due time")
    due: int | None = Field(description="check-ins the holds' rounds were long enough for")
    missed: int | None


class CallbackDay(BaseModel):
    in_window: int
    late: int
    given_up: int
    not_yet: int


class CallbacksByDay(BaseModel):
    requirement: str
    days: dict[str, CallbackDay] = Field(description="by the escalation's day, YYYY-MM-DD")


class OverdueCallbacks(BaseModel):
    requirement: str
    count: int
    escalations: list[str]


class TakenBy(BaseModel):
    requirement: str
    count: int
    taken_by: dict[str, int] = Field(description="'Name (role)': how many")
    taken_by_a_manager: int
    taken_by_someone_else: int = Field(description="should be 0: managers only")
    not_taken: int


class RedFlagFigures(BaseModel):
    requirement: str
    raised: int
    managers_told: int
    not_told: int
    seconds_to_told: SecondsSpread


class EmailFigures(BaseModel):
    requirement: str
    escalations_emailed: int
    escalations_not_emailed: int = Field(description="an email was tried or kept, none sent")
    sent: int
    failed_tries: int


class HoldFigures(BaseModel):
    requirement: str
    limit_seconds: int = Field(description="the policy's hold limit (hold.limit_seconds)")
    holds: int = Field(description="holds with a recorded end (put through, hung up, callback, voicemail)")
    over_limit: int
    share_over_limit: float | None
    longest_seconds: float | None
    distribution: HoldDistribution


class CallbackFigures(BaseModel):
    requirement: str
    booked: int
    reached_in_window: int
    reached_late: int
    given_up: int


class Report(BaseModel):
    """format=json; format=csv is text/csv with the columns figure, requirement, key, value."""

    from_: str = Field(alias="from")
    to: str
    time_zone: str
    escalations: EscalationCounts
    escalate_to_lead_seconds: Seconds
    hold: HoldFigures
    check_ins: CheckInFigures
    callbacks: CallbackFigures
    callbacks_by_day: CallbacksByDay
    callbacks_overdue: OverdueCallbacks
    formal_complaints: TakenBy
    abusive_calls: TakenBy
    red_flags: RedFlagFigures
    emails: EmailFigures
