"""Who may talk to us: Twilio, proven by X-Twilio-Signature, and staff, by bearer token or by the
console's session cookie (then CSRF-checked on every change)."""

from __future__ import annotations

import functools
import hashlib
import hmac
from urllib.parse import urlparse

from flask import current_app, g, jsonify, request, session
from twilio.request_validator import RequestValidator, remove_port

from telephony.adapters.auth_failures import AuthFailures
from telephony.config import STAFF_ROLES, ApiToken


class TwilioSignature(RequestValidator):
    """Twilio's own check, which accepts a signature made over the URL with or without its port,
    trying the URL without it first: a genuine webhook then costs one HMAC, not two. What passes
    and what is refused are Twilio's validate's, which decides every other case."""

    def validate(self, uri, params, signature, algorithm=None):
        if algorithm is None and "bodySHA256" not in uri and not isinstance(params, str) and signature.isascii():
            if hmac.compare_digest(self.compute_signature(remove_port(urlparse(uri)), params), signature):
                return True
        return super().validate(uri, params, signature, algorithm)


_validators: dict[str, TwilioSignature] = {}


def public_url(settings=None) -> str:
    """The URL Twilio signed: PUBLIC_BASE_URL + path + query, whatever proxy sits in front."""
    settings = settings or current_app.config["SETTINGS"]
    query = request.query_string.decode()
    return settings.public_base_url + request.path + (f"?{query}" if query else "")


def not_from_twilio():
    """A 403 for a webhook without Twilio's valid signature; None when it is Twilio's."""
    settings = current_app.config["SETTINGS"]
    if settings.validate_signatures:
        validator = _validators.get(settings.twilio_auth_token)
        if validator is None:
            validator = _validators[settings.twilio_auth_token] = TwilioSignature(settings.twilio_auth_token)
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not validator.validate(public_url(settings), request.form, signature):
            current_app.logger.warning("refused unsigned or forged webhook to %s", request.path)
            return "Forbidden: bad or missing X-Twilio-Signature\n", 403, {"Content-Type": "text/plain"}
    return None


def twilio_webhook(view):
    @functools.wraps(view)
    def checked(*args, **kwargs):
        refused = not_from_twilio()
        if refused is not None:
            return refused
        return view(*args, **kwargs)

    return checked


def client_address() -> str:
    """Who is asking, for the failed sign-in count: the connecting address, or behind
    TRUSTED_PROXY_HOPS proxies the address the outermost of them saw (X-Forwarded-For, counted
    from the right, so a client cannot choose its own by sending the header)."""
    hops = current_app.config["SETTINGS"].trusted_proxy_hops
    forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",") if a.strip()]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    return request.remote_addr or "unknown"


def auth_failures() -> AuthFailures:
    settings = current_app.config["SETTINGS"]
    # The counters are the deployment's (keys.auth_failures), not an organisation's.
    store = current_app.extensions["organisations"].all()[0].ctx.store
    return AuthFailures(store, settings.auth_failure_limit, settings.auth_failure_window_seconds)


def too_many_failures(retry_after: int):
    return (
        jsonify(
            error="too_many_failed_sign_ins",
            message=f"Too many wrong tokens from this address; try again in {retry_after} seconds.",
        ),
        429,
        {"Retry-After": str(retry_after)},
    )


def staff(*roles: str):
    """Bearer token -> person and role (API_TOKENS); 401 without one, 403 for the wrong role,
    429 for an address that sent too many wrong tokens (a right one is never counted)."""

    def wrap(view):
        @functools.wraps(view)
        def checked(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            actor = None
            if header:
                limiter = auth_failures()
                wait = limiter.retry_after(client_address())
                if wait is not None:
                    return too_many_failures(wait)
                actor = _lookup(token.strip()) if scheme.lower() == "bearer" else None
                if actor is None:
                    limiter.failed(client_address())
            if actor is None and not header:
                actor = session_actor()
                if actor is not None and request.method not in ("GET", "HEAD", "OPTIONS"):
                    current_app.extensions["csrf"].protect()
            if actor is None:
                return jsonify(
                    error="unauthorized", message="Send Authorization: Bearer <token> with a token from API_TOKENS."
                ), 401
            if roles and actor.role not in roles:
                return jsonify(
                    error="forbidden", message=f"A {actor.role} may not do this; it needs one of: {', '.join(roles)}."
                ), 403
            g.actor = actor
            return view(*args, **kwargs)

        checked.staff_roles = roles or STAFF_ROLES  # type: ignore[attr-defined]  # read by the OpenAPI document
        return checked

    return wrap


def _lookup(token: str) -> ApiToken | None:
    tokens: dict[str, ApiToken] = current_app.config["SETTINGS"].api_tokens
    for known, actor in tokens.items():
        if hmac.compare_digest(known.encode(), token.encode()):
            return actor
    return None


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(token: str) -> ApiToken | None:
    """The console's sign-in: the session keeps a fingerprint of the token, never the token, so
    removing a token from API_TOKENS signs its sessions out too."""
    actor = _lookup(token.strip()) if token else None
    session.clear()
    if actor is not None:
        session["token"] = _fingerprint(actor.token)
        session.permanent = True
    return actor


def session_actor() -> ApiToken | None:
    fingerprint = session.get("token")
    if not isinstance(fingerprint, str):
        return None
    tokens: dict[str, ApiToken] = current_app.config["SETTINGS"].api_tokens
    for known, actor in tokens.items():
        if hmac.compare_digest(_fingerprint(known), fingerprint):
            return actor
    return None


def roles_of(view) -> tuple[str, ...]:
    """The roles a view's staff() lets in (through the decorators wrapped around it)."""
    while view is not None:
        if hasattr(view, "staff_roles"):
            return tuple(view.staff_roles)
        view = getattr(view, "__wrapped__", None)
    return ()
