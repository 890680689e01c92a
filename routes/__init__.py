"""The Flask application: blueprints registered in one place, configuration passed in."""

from __future__ import annotations

import atexit
import hashlib
import hmac
import logging
from datetime import timedelta

import redis
from flask import Flask, jsonify, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from telephony.clock import Clock
from telephony.config import ConfigError, Settings
from telephony.core import Core, build_core
from telephony.policy import load_policy


def create_app(settings: Settings, core: Core | None = None, clock: Clock | None = None) -> Flask:
    from routes import api, console, voice

    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    if core is None:
        policy = load_policy(settings.policy_file)
        core = build_core(settings, connect_redis(settings), clock=clock, policy=policy)
    check_tokens(settings, core)
    app.config["POLICY"] = core.policy
    app.extensions["core"] = core
    app.register_blueprint(voice.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(console.bp)
    configure_session(app, settings)
    csrf = CSRFProtect(app)
    csrf.exempt(voice.bp)
    csrf.exempt(api.bp)
    csrf.exempt(console.token)
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

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        message = f"{exc.description} Reload the page and try again."
        if request.path.startswith("/api/"):
            return jsonify(error="csrf_failed", message=message), 400
        return message, 400, {"Content-Type": "text/plain"}

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
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


def check_tokens(settings: Settings, core: Core) -> None:
    for entry in settings.api_tokens.values():
        person = core.policy.person(entry.person_id)
        if person is None:
            raise ConfigError(f"API_TOKENS names person {entry.person_id!r}, who is not in {settings.policy_file}")


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
