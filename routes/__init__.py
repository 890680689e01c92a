"""The Flask application: blueprints registered in one place, configuration passed in."""

from __future__ import annotations

import atexit

import redis
from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from routes.outage import StoreOutage
from telephony.clock import Clock
from telephony.config import ConfigError, Settings
from telephony.core import Core, build_core
from telephony.logs import configure_logging
from telephony.policy import load_policy


def create_app(settings: Settings, core: Core | None = None, clock: Clock | None = None) -> Flask:
    from routes import api, operations, voice

    configure_logging()

    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    if core is None:
        policy = load_policy(settings.policy_file)
        core = build_core(settings, connect_redis(settings), clock=clock, policy=policy)
    check_tokens(settings, core)
    check_fallback(settings, core)
    app.config["POLICY"] = core.policy
    app.extensions["core"] = core
    app.extensions["store_outage"] = StoreOutage()
    app.register_blueprint(voice.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(operations.bp)
    if not settings.validate_signatures:
        app.logger.warning("TWILIO_SIGNATURE_CHECK is off: for local development only")

    @app.get("/health")
    def health():
        try:
            core.ctx.store.ping()
        except redis.RedisError as exc:
            return jsonify(status="degraded", redis=str(exc)), 503
        return jsonify(status="ok", policy=core.policy.name)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.path.startswith("/api/"):
            return jsonify(error=exc.name.lower().replace(" ", "_"), message=exc.description), exc.code
        return exc

    return app


def check_tokens(settings: Settings, core: Core) -> None:
    for entry in settings.api_tokens.values():
        person = core.policy.person(entry.person_id)
        if person is None:
            raise ConfigError(f"API_TOKENS names person {entry.person_id!r}, who is not in {settings.policy_file}")


def check_fallback(settings: Settings, core: Core) -> None:
    """The fallback must reach people when this service fails; one of its own numbers would ring
    straight back into it (CONTRACT: /voice/fallback keeps the caller connected)."""
    endpoint = core.policy.ivr.fallback_endpoint
    if endpoint and endpoint in settings.own_numbers():
        raise ConfigError(
            f"{settings.policy_file}: ivr.fallback_endpoint {endpoint} is this service's own number "
            "(TWILIO_CALLER_ID or SERVICE_NUMBERS): the fallback would ring back into the failing service; "
            "give a staffed line"
        )


def connect_redis(settings: Settings) -> redis.Redis:
    """REDIS_URL, or with none a private redis-server with an append-only file under var/."""
    url = settings.redis_url
    if url is None:
        from telephony.local_redis import LocalRedis

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        server = LocalRedis.start(settings.data_dir / "redis", appendonly=True)
        atexit.register(server.stop)
        url = server.url
    conn = redis.Redis.from_url(url)
    try:
        conn.ping()
    except redis.RedisError as exc:
        raise ConfigError(f"REDIS_URL {url} does not answer: {exc}") from None
    return conn
