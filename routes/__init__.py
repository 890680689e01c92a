"""The Flask application: blueprints registered in one place, configuration passed in."""

from __future__ import annotations

import atexit
import hashlib
import hmac
import logging
from dataclasses import replace
from datetime import timedelta

import redis
from flask import Flask, jsonify, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from routes.outage import StoreOutage
from telephony.adapters.store import connect, connect_queues, persistence_problem
from telephony.clock import Clock
from telephony.config import ConfigError, Settings, check_persistence
from telephony.core import Core
from telephony.logs import configure_logging
from telephony.organisations import Organisations, build_organisations, policies_of
from telephony.policy.loading import Policy


def create_app(
    settings: Settings,
    core: Core | None = None,
    clock: Clock | None = None,
    organisations: Organisations | None = None,
) -> Flask:
    from routes import api, console, operations, voice, voice_callback, what_if  # noqa: F401 (join voice.bp, api.bp)

    configure_logging()

    app = operations.TimedFlask(__name__)
    app.config["SETTINGS"] = settings
    if organisations is None and core is not None:
        organisations = Organisations.single(core)
    if organisations is None:
        policies = policies_of(settings)
        settings = resolve_tokens(settings, policies)
        conn = connect_redis(settings)
        organisations = build_organisations(
            settings, conn, queue_conn=connect_queues(settings, conn, fail_fast=True), clock=clock, policies=policies
        )
    policies = [c.policy for c in organisations.all()]
    settings = resolve_tokens(settings, policies)
    for policy in policies:
        check_fallback(settings, policy)
    app.config["SETTINGS"] = settings
    app.extensions["organisations"] = organisations
    app.extensions["store_outage"] = StoreOutage()
    app.register_blueprint(voice.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(operations.bp)
    app.register_blueprint(console.bp)
    configure_session(app, settings)
    csrf = CSRFProtect(app)
    csrf.exempt(voice.bp)
    csrf.exempt(api.bp)
    csrf.exempt(operations.bp)
    csrf.exempt(console.token)
    if not settings.validate_signatures:
        app.logger.warning("TWILIO_SIGNATURE_CHECK is off: for local development only")

    @app.get("/health")
    def health():
        """Unauthenticated: says whether the store answers, never how it is reached."""
        served = organisations.all()
        try:
            served[0].ctx.store.ping()
        except redis.RedisError as exc:
            app.logger.warning("health: Redis does not answer: %s", exc)
            return jsonify(status="degraded", redis="unreachable"), 503
        if len(served) == 1 and not organisations.several:
            return jsonify(status="ok", policy=served[0].policy.name)
        return jsonify(status="ok", organisations=len(served))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.path.startswith("/api/"):
            return jsonify(error=exc.name.lower().replace(" ", "_"), message=exc.description), exc.code
        return exc

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        message = f"{exc.description} Reload the page and try again."
        if request.path.startswith("/api/"):
            return jsonify(error="csrf_failed", message=message), 400
        return message, 400, {"Content-Type": "text/plain"}

    return app


def configure_session(app: Flask, settings: Settings) -> None:
    """The console's cookie session: signed, HttpOnly, SameSite=Strict, Secure behind https.
    With no SECRET_KEY the key is derived from the auth token, so every worker agrees on it."""
    app.config["SECRET_KEY"] = (
        settings.secret_key
        or hmac.new(settings.twilio_auth_token.encode(), b"console session", hashlib.sha256).hexdigest()
    )
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Strict"
    app.config["SESSION_COOKIE_SECURE"] = settings.public_base_url.startswith("https://")
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=12)
    app.config["WTF_CSRF_TIME_LIMIT"] = None
    app.session_interface = CookieOnlySession()


class CookieOnlySession(SecureCookieSessionInterface):
    """Twilio's webhooks never carry the console's cookie: a request without one gets an empty
    session without building a signing serializer (about a tenth of a webhook's CPU, bench/)."""

    def open_session(self, app: Flask, request):
        if request.path.startswith("/voice/") or self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def preflight(settings: Settings) -> None:
    """Everything start-up checks that needs no Redis: the policy file, API_TOKENS, the fallback."""
    policies = policies_of(settings)
    settings = resolve_tokens(settings, policies)
    for policy in policies:
        check_fallback(settings, policy)


def resolve_tokens(settings: Settings, policies: list[Policy]) -> Settings:
    """Every API token is one person of one organisation (issue 17): named by the token
    (token:person:role:organisation) or, without one, the only organisation that has the person."""
    by_id = {p.organisation_id: p for p in policies}
    resolved = {}
    for token, entry in settings.api_tokens.items():
        if entry.organisation:
            policy = by_id.get(entry.organisation)
            if policy is None:
                raise ConfigError(
                    f"API_TOKENS names organisation {entry.organisation!r} for {entry.person_id}; "
                    f"this deployment serves {', '.join(sorted(by_id))}"
                )
        else:
            having = [p for p in policies if p.person(entry.person_id) is not None]
            if len(having) > 1:
                raise ConfigError(
                    f"API_TOKENS: {entry.person_id} is in {', '.join(p.file for p in having)}; "
                    "write token:person:role:organisation"
                )
            policy = having[0] if having else policies[0]
        person = policy.person(entry.person_id)
        if person is None:
            raise ConfigError(f"API_TOKENS names person {entry.person_id!r}, who is not in {policy.file}")
        if person.role != entry.role:
            raise ConfigError(
                f"API_TOKENS gives {entry.person_id} the role {entry.role!r}, but {policy.file} says they are a {person.role}"
            )
        resolved[token] = replace(entry, organisation=policy.organisation_id)
    return replace(settings, api_tokens=resolved)


def check_fallback(settings: Settings, policy: Policy) -> None:
    """The fallback must reach people when this service fails; one of its own numbers would ring
    straight back into it (docs/api.md: /voice/fallback keeps the caller connected)."""
    endpoint = policy.ivr.fallback_endpoint
    if endpoint and endpoint in settings.own_numbers():
        raise ConfigError(
            f"{policy.file}: ivr.fallback_endpoint {endpoint} is this service's own number "
            "(TWILIO_CALLER_ID or SERVICE_NUMBERS): the fallback would ring back into the failing service; "
            "give a staffed line"
        )


def connect_redis(settings: Settings) -> redis.Redis:
    """REDIS_URL, the master the sentinels name (REDIS_SENTINELS), or with neither a private
    redis-server with an append-only file under var/."""
    if settings.redis_url is None and not settings.redis_sentinels and not settings.redis_cluster_url:
        from telephony.adapters.local_redis import LocalRedis

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        server = LocalRedis.start(settings.data_dir / "redis", appendonly=True)
        atexit.register(server.stop)
        settings = replace(settings, redis_url=server.url)
    where = (
        f"REDIS_CLUSTER_URL {settings.redis_cluster_url}"
        if settings.redis_cluster_url
        else f"REDIS_SENTINELS {','.join(f'{h}:{p}' for h, p in settings.redis_sentinels)} (master {settings.redis_sentinel_master})"
        if settings.redis_sentinels
        else f"REDIS_URL {settings.redis_url}"
    )
    conn = connect(settings, fail_fast=True)
    try:
        conn.ping()
        check_persistence(settings, persistence_problem(conn), logging.getLogger("routes"))
    except redis.RedisError as exc:
        raise ConfigError(f"{where} does not answer: {exc}") from None
    return conn
