"""What staff send to the API, as pydantic models: the core validates every body with them, and
the OpenAPI document is generated from the same models, so the two cannot drift apart."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, ValidationError

from telephony.errors import InvalidRequest
from telephony.policy.models import Tag

CLIENT_FIELDS = ("name", "account", "link", "segment", "region", "contact_name")
Kind = Literal["manager_request", "supervisor_demanded", "formal_complaint", "abusive", "no_authority"]
# Characters XML 1.0 cannot carry (the lead hears these fields in TwiML) and that no person types:
# C0 controls but tab and newlines, DEL, C1 controls, and the two non-characters U+FFFE/U+FFFF.
_CONTROLS = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\\ufffe\\uffff"
_UNSPEAKABLE = re.compile(f"[{_CONTROLS}]")
SPEAKABLE = f"^[^{_CONTROLS}]*$"
# A required text field: something besides white space (the value is stripped before its limits).
SPEAKABLE_REQUIRED = f"^[^{_CONTROLS}]*[^\\s{_CONTROLS}][^{_CONTROLS}]*$"
PATTERN_MESSAGES = {
    "call_sid": "must be a Twilio call SID (CA + 32 hex digits)",
    "client.link": "must be an http(s) URL without control characters",
}


def speakable(value: str) -> str:
    """Text a person typed, safe to store and to read aloud: no control characters and no
    broken unicode (a lone surrogate cannot be encoded, or spoken)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid unicode text") from None
    if _UNSPEAKABLE.search(value):
        raise ValueError("contains control characters")
    return value.strip()


def text_limits(limit: int, pattern: str | None = None, **kwargs: Any) -> Any:
    """A text field's limit and the characters it may hold, in the OpenAPI document too; a required
    one (min_length) must hold more than white space, and the document says so."""
    pattern = pattern or (SPEAKABLE_REQUIRED if kwargs.get("min_length") else SPEAKABLE)
    return Field(max_length=limit, pattern=pattern, **kwargs)


# Text fields by limit, each stripped and checked speakable (speakable).
Text200 = Annotated[str, text_limits(200), AfterValidator(speakable)]
Text500 = Annotated[str, text_limits(500), AfterValidator(speakable)]
RequiredText300 = Annotated[str, text_limits(300, min_length=1), AfterValidator(speakable)]
RequiredText500 = Annotated[str, text_limits(500, min_length=1), AfterValidator(speakable)]
Link = Annotated[str, text_limits(2000, pattern=f"^https?://[^{_CONTROLS}]*$"), AfterValidator(speakable)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class Client(StrictModel):
    """The client as the agent's CRM knows them; every field optional."""

    name: Text200 | None = None
    account: Text200 | None = None
    link: Link | None = None
    segment: Text200 | None = None
    region: Text200 | None = None
    contact_name: Text200 | None = None


class EscalationRequest(StrictModel):
    """POST /api/escalations: the agent presses escalate (docs/api.md)."""

    call_sid: str = Field(pattern=r"^CA[0-9a-fA-F]{32}$", description="the caller's call")
    kind: Kind
    reason: RequiredText500
    client: Client = Field(default_factory=Client)
    resolution_offered: Text500 = ""
    deescalation_steps: list[RequiredText300] = Field(
        [], max_length=10, description="R-NOTE-3: what the agent tried first, e.g. 'reviewed the bill with them'"
    )
    caller_agreed_to_hold: StrictBool = Field(
        description="required: ask the caller before placing them on hold (R-WARM-6)"
    )
    idempotency_key: Text200 | None = None
    tags: list[Tag] = Field([], max_length=20, description="R-ESC-8: what case routing reads, e.g. aging_cms")

    @classmethod
    def parse(cls, body: Any) -> EscalationRequest:
        return parse(cls, body)

    def client_fields(self) -> dict[str, str]:
        return {k: v for k, v in self.client.model_dump().items() if v}


class ConnectRequest(StrictModel):
    """POST /api/escalations/<id>/connect."""

    stay_to_introduce: StrictBool = Field(False, description="the agent stays to introduce the lead")


class PresenceRequest(StrictModel):
    """PUT /api/people/<id>/presence."""

    presence: Literal["available", "busy", "offline"]


class RescheduleRequest(StrictModel):
    """POST /api/callbacks/<id>/reschedule: ISO 8601 times with a UTC offset."""

    window_start: AwareDatetime = Field(strict=False, description="e.g. 2026-11-25T14:00:00-06:00")
    window_end: AwareDatetime = Field(strict=False, description="e.g. 2026-11-25T16:00:00-06:00")


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], body: Any) -> M:
    """Validate a JSON body; the first problem becomes a 400 naming the field (dotted path)."""
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.", code="invalid_body")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or None
        if error["type"] == "missing" or (
            error["type"] == "string_too_short" and not str(error.get("input", "")).strip()
        ):
            hint = {"caller_agreed_to_hold": ": ask the caller before placing them on hold (R-WARM-6)"}
            raise InvalidRequest(
                f"'{field}' is required{hint.get(field or '', '')}.", code="missing_field", field=field
            ) from None
        if error["type"] == "extra_forbidden":
            raise InvalidRequest(f"'{field}' is not a known field.", code="invalid_field", field=field) from None
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "string_pattern_mismatch":
            message = PATTERN_MESSAGES.get(field or "", "contains control characters")
        raise InvalidRequest(f"'{field}': {message}.", code="invalid_field", field=field) from None
