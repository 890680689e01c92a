"""What the agent sends when they press escalate, checked before anything happens to the call."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from telephony.errors import InvalidRequest
from telephony.policy import KINDS

CLIENT_FIELDS = ("name", "account", "link", "segment", "region", "contact_name")
_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
# Characters XML 1.0 cannot carry (the lead hears these fields in TwiML) and that no person types:
# C0 controls but tab and newlines, DEL, C1 controls, and the two non-characters U+FFFE/U+FFFF.
_UNSPEAKABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
LIMITS = {"reason": 500, "resolution_offered": 500, "idempotency_key": 200, "client.link": 2000}
CLIENT_FIELD_LIMIT = 200


def free_text(value: Any, field: str, limit: int) -> str:
    """Text a person typed, safe to store and to read aloud: a string, within its limit, with no
    control characters or broken unicode (a lone surrogate cannot be encoded, or spoken)."""
    if not isinstance(value, str):
        raise InvalidRequest(f"'{field}' must be a string.", code="invalid_field", field=field)
    if len(value) > limit:
        raise InvalidRequest(f"'{field}' is longer than {limit} characters.", code="invalid_field", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest(f"'{field}' is not valid unicode text.", code="invalid_field", field=field) from None
    if _UNSPEAKABLE.search(value):
        raise InvalidRequest(f"'{field}' contains control characters.", code="invalid_field", field=field)
    return value.strip()


@dataclass(frozen=True)
class EscalationRequest:
    call_sid: str
    kind: str
    reason: str
    client: dict[str, str]
    resolution_offered: str
    caller_agreed_to_hold: bool
    idempotency_key: str | None

    @classmethod
    def parse(cls, body: Any) -> EscalationRequest:
        if not isinstance(body, dict):
            raise InvalidRequest("The body must be a JSON object.", code="invalid_body")

        def text(name: str, required: bool = False) -> str:
            value = body.get(name)
            if value is None or value == "":
                if required:
                    raise InvalidRequest(f"'{name}' is required.", code="missing_field", field=name)
                return ""
            return free_text(value, name, LIMITS.get(name, 100))

        call_sid = text("call_sid", required=True)
        if not _CALL_SID.match(call_sid):
            raise InvalidRequest(
                "'call_sid' must be a Twilio call SID (CA + 32 hex digits).", code="invalid_field", field="call_sid"
            )
        kind = text("kind", required=True)
        if kind not in KINDS:
            raise InvalidRequest(f"'kind' must be one of {', '.join(KINDS)}.", code="invalid_field", field="kind")
        reason = text("reason", required=True)
        client = body.get("client") or {}
        if not isinstance(client, dict):
            raise InvalidRequest("'client' must be an object.", code="invalid_field", field="client")
        clean: dict[str, str] = {}
        for key, value in client.items():
            if key not in CLIENT_FIELDS:
                raise InvalidRequest(
                    f"'client.{key}' is not a known field ({', '.join(CLIENT_FIELDS)}).",
                    code="invalid_field",
                    field=f"client.{key}",
                )
            if value is None:
                continue
            field = f"client.{key}"
            clean[key] = free_text(value, field, LIMITS.get(field, CLIENT_FIELD_LIMIT))
        if clean.get("link") and not re.match(r"^https?://", clean["link"]):
            raise InvalidRequest("'client.link' must be an http(s) URL.", code="invalid_field", field="client.link")
        if "caller_agreed_to_hold" not in body:
            raise InvalidRequest(
                "'caller_agreed_to_hold' is required: ask the caller before placing them on hold (R-WARM-6).",
                code="missing_field",
                field="caller_agreed_to_hold",
            )
        agreed = body["caller_agreed_to_hold"]
        if not isinstance(agreed, bool):
            raise InvalidRequest(
                "'caller_agreed_to_hold' must be true or false.", code="invalid_field", field="caller_agreed_to_hold"
            )
        return cls(
            call_sid=call_sid,
            kind=kind,
            reason=reason,
            client=clean,
            resolution_offered=text("resolution_offered"),
            caller_agreed_to_hold=agreed,
            idempotency_key=text("idempotency_key") or None,
        )
