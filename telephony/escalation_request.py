"""What the agent sends when they press escalate, checked before anything happens to the call."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from telephony.errors import InvalidRequest
from telephony.policy import KINDS

CLIENT_FIELDS = ("name", "account", "link", "segment", "region", "contact_name")
_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")


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

        def text(name: str, required: bool = False, limit: int = 2000) -> str:
            value = body.get(name)
            if value is None or value == "":
                if required:
                    raise InvalidRequest(f"'{name}' is required.", code="missing_field", field=name)
                return ""
            if not isinstance(value, str):
                raise InvalidRequest(f"'{name}' must be a string.", code="invalid_field", field=name)
            if len(value) > limit:
                raise InvalidRequest(f"'{name}' is longer than {limit} characters.", code="invalid_field", field=name)
            return value.strip()

        call_sid = text("call_sid", required=True)
        if not _CALL_SID.match(call_sid):
            raise InvalidRequest(
                "'call_sid' must be a Twilio call SID (CA + 32 hex digits).", code="invalid_field", field="call_sid"
            )
        kind = text("kind", required=True)
        if kind not in KINDS:
            raise InvalidRequest(f"'kind' must be one of {', '.join(KINDS)}.", code="invalid_field", field="kind")
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
            if not isinstance(value, str):
                raise InvalidRequest(f"'client.{key}' must be a string.", code="invalid_field", field=f"client.{key}")
            clean[key] = value.strip()
        if clean.get("link") and not re.match(r"^https?://", clean["link"]):
            raise InvalidRequest("'client.link' must be an http(s) URL.", code="invalid_field", field="client.link")
        agreed = body.get("caller_agreed_to_hold", True)
        if not isinstance(agreed, bool):
            raise InvalidRequest(
                "'caller_agreed_to_hold' must be true or false.", code="invalid_field", field="caller_agreed_to_hold"
            )
        return cls(
            call_sid=call_sid,
            kind=kind,
            reason=text("reason", required=True),
            client=clean,
            resolution_offered=text("resolution_offered"),
            caller_agreed_to_hold=agreed,
            idempotency_key=text("idempotency_key", limit=200) or None,
        )
