"""The browser softphone's access token: the Voice SDK registers as the person's `client:`
endpoint from the policy, so the lead hunt and agent dialling ring the console directly."""

from __future__ import annotations

from typing import Any

from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

from telephony.config import ApiToken, Settings
from telephony.errors import DomainError
from telephony.policy.loading import Policy

TOKEN_SECONDS = 3600


class SoftphoneOffline(DomainError):
    """The service runs without an API key (the simulator, make demo): nothing to sign with."""

    status = 409


class NoClientEndpoint(DomainError):
    status = 409


def voice_token(settings: Settings, policy: Policy, actor: ApiToken) -> dict[str, Any]:
    """A short-lived token for the signed-in person; the page refreshes it before it expires."""
    if not settings.twilio_api_key_sid:
        raise SoftphoneOffline(
            "softphone offline (no Twilio): TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET are not set.",
            code="softphone_offline",
        )
    person = policy.person(actor.person_id)
    endpoint = person.endpoint if person else ""
    if not endpoint.startswith("client:"):
        raise NoClientEndpoint(
            f"{actor.person_id} is reached at {endpoint or 'no endpoint'}, not a client: softphone.",
            code="no_client_endpoint",
        )
    identity = endpoint.removeprefix("client:")
    token = AccessToken(
        settings.twilio_account_sid,
        settings.twilio_api_key_sid,
        settings.twilio_api_key_secret,
        identity=identity,
        ttl=TOKEN_SECONDS,
    )
    token.add_grant(VoiceGrant(incoming_allow=True, outgoing_application_sid=settings.twilio_twiml_app_sid or None))
    return {"token": token.to_jwt(), "identity": identity, "ttl": TOKEN_SECONDS}
