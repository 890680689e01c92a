"""The answers of the managers' what-if (POST /api/what-if, GET /api/what-if/<id>) and of GET
/api/policies/current, in the OpenAPI document; the request body is the core's WhatIfRequest."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from routes.openapi_reports import Report

Number = int | float | None


class CurrentPolicy(BaseModel):
    """The policy serving the manager's organisation now, as its file's text (comments kept)."""

    organisation: str
    name: str
    version: str
    file: str = Field(description="the file's name")
    toml: str


class WhatIfQueued(BaseModel):
    id: str = Field(description="poll GET /api/what-if/<id>")
    status: Literal["queued"]
    from_: str = Field(alias="from")
    to: str
    queued_at: str


class WhatIfRow(BaseModel):
    figure: str
    key: str = Field(description="nested keys joined with ':' (by_tier:lead)")
    current: Number
    changed: Number
    difference: Number = Field(description="changed - current; null when either is")


class WhatIfFigures(BaseModel):
    current: Report | dict[str, Any]
    changed: Report | dict[str, Any]


class WhatIfResult(BaseModel):
    """Where the replay is; figures, rows and seconds once done (empty before)."""

    id: str
    status: Literal["queued", "running", "done", "failed"]
    from_: str = Field(alias="from")
    to: str
    by: str | None
    queued_at: str | None
    started_at: str | None
    finished_at: str | None
    current_version: str | None
    changed_version: str | None
    source: Literal["records", "generated", "none"] | None = Field(
        description="the recorded calls, a generated day (calls_per_hour), or none to replay"
    )
    message: str | None
    calls: int
    figures: WhatIfFigures | dict[str, Any] = Field(description="GET /api/reports' figures under each policy")
    rows: list[WhatIfRow]
    seconds: dict[str, float] = Field(description="each replay's wall-clock seconds")
    problems: list[str] = Field(description="what went wrong in the simulator, if anything")
    error: str | None
