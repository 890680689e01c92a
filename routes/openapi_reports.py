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


class Seconds(BaseModel):
    requirement: str
    count: int = Field(description="escalations whose caller was put through to a lead")
    p50: float | None
    p90: float | None
    max: float | None


class HoldFigures(BaseModel):
    requirement: str
    limit_seconds: int = Field(description="the policy's hold limit (hold.limit_seconds)")
    holds: int = Field(description="holds with a recorded end (put through, hung up, callback, voicemail)")
    over_limit: int
    share_over_limit: float | None
    longest_seconds: float | None


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
    callbacks: CallbackFigures
