"""Settings from the environment (docs/configuration.md, 12-factor). A missing or malformed setting stops
start-up with one line naming it, never a traceback at the first call."""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

ROOT = Path(__file__).resolve().parent.parent
STAFF_ROLES = ("agent", "lead", "supervisor", "manager")
EMAIL_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")


class ConfigError(Exception):
    """One line naming the setting and what is wrong with it."""


@dataclass(frozen=True)
class ApiToken:
    token: str
    person_id: str
    role: str
    # The organisation whose person this is (token:person:role:organisation); a token without one
    # belongs to the only organisation that has this person (checked at start-up).
    organisation: str = ""


@dataclass(frozen=True)
class Settings:
    twilio_account_sid: str
    twilio_auth_token: str
    twilio_caller_id: str
    public_base_url: str
    redis_url: str | None
    policy_file: Path | None
    api_tokens: dict[str, ApiToken]
    validate_signatures: bool = True
    twilio_api_base_url: str | None = None
    chat_webhook_url: str = ""
    chat_webhook_format: str = "slack"
    smtp_url: str = ""
    smtp_from: str = ""
    data_dir: Path = field(default_factory=lambda: ROOT / "var")
    virtual_clock: bool = False
    outbound_calls_per_second: int = 1
    twilio_rest_timeout_seconds: float = 5.0
    service_numbers: tuple[str, ...] = ()
    redis_persistence_check: str = "refuse"
    twilio_api_key_sid: str = ""
    twilio_api_key_secret: str = ""
    twilio_twiml_app_sid: str = ""
    secret_key: str = ""
    finished_keep_seconds: int = 3 * 86400
    records_retention_days: int = 400
    redis_sentinels: tuple[tuple[str, int], ...] = ()
    redis_sentinel_master: str = ""
    redis_wait_replicas: int = 0
    auth_failure_limit: int = 10
    auth_failure_window_seconds: int = 300
    trusted_proxy_hops: int = 0
    # Issue 17: every policy in a folder, one organisation each (POLICY_FILE unset); state on a
    # Redis Cluster; RQ's queues and the timers on one node of their own.
    policies_dir: Path | None = None
    # A staffed line for calls to a number no policy claims (after an apology); none: the apology.
    unserved_fallback: str = ""
    redis_cluster_url: str | None = None
    queue_redis_url: str | None = None
    # Issue 30: the history database (records, reports, exports); none: SQLite under data_dir.
    database_url: str | None = None

    def history_url(self) -> str:
        """DATABASE_URL, or the embedded SQLite file `history.sqlite3` in the data folder."""
        return self.database_url or f"sqlite:///{self.data_dir / 'history.sqlite3'}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def need(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ConfigError(f"{name} is not set (see .env.example)")
            return value

        sid = need("TWILIO_ACCOUNT_SID")
        if not re.fullmatch(r"AC[0-9a-fA-F]{32}", sid):
            raise ConfigError("TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits")
        caller_id = need("TWILIO_CALLER_ID")
        if not re.fullmatch(r"\+[1-9]\d{6,14}", caller_id):
            raise ConfigError("TWILIO_CALLER_ID must be an E.164 number such as +13125550100")
        base = need("PUBLIC_BASE_URL").rstrip("/")
        parsed = urlparse(base)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigError("PUBLIC_BASE_URL must be an http(s) URL such as https://esc.example.com")
        check = env.get("TWILIO_SIGNATURE_CHECK", "on").strip().lower()
        if check not in ("on", "off-for-local-development"):
            raise ConfigError("TWILIO_SIGNATURE_CHECK must be 'on' or 'off-for-local-development'")
        api_base = env.get("TWILIO_API_BASE_URL", "").strip().rstrip("/") or None
        if api_base and urlparse(api_base).scheme not in ("http", "https"):
            raise ConfigError("TWILIO_API_BASE_URL must be an http(s) URL")
        if check != "on" and not is_loopback(parsed.hostname or ""):
            raise ConfigError(
                "TWILIO_SIGNATURE_CHECK may be off only when PUBLIC_BASE_URL is a loopback address "
                f"(127.0.0.1, ::1, localhost), not {parsed.hostname}: anyone could forge Twilio's webhooks"
            )
        redis_url = env.get("REDIS_URL", "").strip() or None
        if redis_url and urlparse(redis_url).scheme not in ("redis", "rediss", "unix"):
            raise ConfigError("REDIS_URL must be a redis:// URL")
        sentinels, sentinel_master = _sentinels(env)
        if sentinels and redis_url:
            raise ConfigError("set REDIS_URL or REDIS_SENTINELS, not both (with sentinels they find the master)")
        policy_file, policies_dir = _policies(env)
        cluster_url, queue_url = _cluster(env, redis_url, sentinels)
        api_key_sid, api_key_secret, twiml_app_sid = _softphone(env)
        smtp_url, smtp_from = _smtp(env)
        return cls(
            twilio_account_sid=sid,
            twilio_auth_token=need("TWILIO_AUTH_TOKEN"),
            twilio_caller_id=caller_id,
            public_base_url=base,
            redis_url=redis_url,
            policy_file=policy_file,
            policies_dir=policies_dir,
            unserved_fallback=_unserved_fallback(env),
            redis_cluster_url=cluster_url,
            queue_redis_url=queue_url,
            api_tokens=parse_api_tokens(need("API_TOKENS")),
            validate_signatures=check == "on",
            twilio_api_base_url=api_base,
            chat_webhook_url=env.get("CHAT_WEBHOOK_URL", "").strip(),
            chat_webhook_format=_choice(env, "CHAT_WEBHOOK_FORMAT", ("slack", "teams"), "slack"),
            smtp_url=smtp_url,
            smtp_from=smtp_from,
            data_dir=Path(env.get("DATA_DIR", "").strip() or ROOT / "var"),
            virtual_clock=_clock(env.get("CLOCK", "system")),
            outbound_calls_per_second=_positive(env, "OUTBOUND_CALLS_PER_SECOND", 1),
            twilio_rest_timeout_seconds=_seconds(env, "TWILIO_REST_TIMEOUT_SECONDS", 5.0),
            service_numbers=_numbers(env, "SERVICE_NUMBERS"),
            redis_persistence_check=_choice(env, "REDIS_PERSISTENCE_CHECK", ("refuse", "warn"), "refuse"),
            twilio_api_key_sid=api_key_sid,
            twilio_api_key_secret=api_key_secret,
            twilio_twiml_app_sid=twiml_app_sid,
            secret_key=_secret_key(env),
            finished_keep_seconds=_positive(env, "FINISHED_KEEP_SECONDS", 3 * 86400),
            records_retention_days=_positive(env, "RECORDS_RETENTION_DAYS", 400),
            redis_sentinels=sentinels,
            redis_sentinel_master=sentinel_master,
            redis_wait_replicas=_whole(env, "REDIS_WAIT_REPLICAS", 0, 0, 10),
            auth_failure_limit=_whole(env, "AUTH_FAILURE_LIMIT", 10, 1, 10_000),
            auth_failure_window_seconds=_whole(env, "AUTH_FAILURE_WINDOW_SECONDS", 300, 1, 86_400),
            trusted_proxy_hops=_whole(env, "TRUSTED_PROXY_HOPS", 0, 0, 5),
            database_url=_database_url(env),
        )

    def own_numbers(self) -> set[str]:
        """The numbers that reach this service: the caller ID it dials from and the numbers
        callers dial (SERVICE_NUMBERS)."""
        return {self.twilio_caller_id, *self.service_numbers}


def _policies(env: Mapping[str, str]) -> tuple[Path | None, Path | None]:
    """POLICY_FILE: one organisation. Otherwise every policy in POLICIES_DIR (default policies/),
    one organisation each, picked by the number dialled."""
    if env.get("POLICY_FILE", "").strip():
        policy_file = Path(env["POLICY_FILE"].strip())
        if not policy_file.is_file():
            raise ConfigError(f"POLICY_FILE {policy_file} does not exist")
        return policy_file, None
    folder = Path(env.get("POLICIES_DIR", "").strip() or ROOT / "policies")
    if not folder.is_dir():
        raise ConfigError(f"POLICIES_DIR {folder} is not a folder")
    return None, folder


def _database_url(env: Mapping[str, str]) -> str | None:
    """DATABASE_URL: PostgreSQL (postgresql+psycopg://user@host/db) or a SQLite file (sqlite:///path)."""
    url = env.get("DATABASE_URL", "").strip() or None
    if url is None:
        return None
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if not url.startswith(("postgresql+psycopg://", "sqlite:///")):
        raise ConfigError("DATABASE_URL must be a postgresql:// URL or sqlite:///<file>")
    return url


def _unserved_fallback(env: Mapping[str, str]) -> str:
    value = env.get("UNSERVED_FALLBACK", "").strip()
    if value and not re.fullmatch(r"\+[1-9]\d{6,14}|client:[A-Za-z0-9_.-]+|sip:\S+", value):
        raise ConfigError("UNSERVED_FALLBACK must be an E.164 number, client:<name> or sip:<uri>")
    return value


def _cluster(
    env: Mapping[str, str], redis_url: str | None, sentinels: tuple[tuple[str, int], ...]
) -> tuple[str | None, str | None]:
    """REDIS_CLUSTER_URL: the service's state on a Redis Cluster (one node's URL finds the rest).
    RQ needs one node, so the queues and the timers then live on QUEUE_REDIS_URL."""
    cluster = env.get("REDIS_CLUSTER_URL", "").strip() or None
    queue = env.get("QUEUE_REDIS_URL", "").strip() or None
    for name, url in (("REDIS_CLUSTER_URL", cluster), ("QUEUE_REDIS_URL", queue)):
        if url and urlparse(url).scheme not in ("redis", "rediss"):
            raise ConfigError(f"{name} must be a redis:// URL")
    if cluster and (redis_url or sentinels):
        raise ConfigError("set REDIS_CLUSTER_URL or REDIS_URL / REDIS_SENTINELS, not both")
    if cluster and not queue:
        raise ConfigError("REDIS_CLUSTER_URL needs QUEUE_REDIS_URL: RQ's queues and the timers live on one node")
    return cluster, queue


def _softphone(env: Mapping[str, str]) -> tuple[str, str, str]:
    """The browser softphone's API key (both parts or neither) and the TwiML App for its outgoing calls."""
    key_sid = env.get("TWILIO_API_KEY_SID", "").strip()
    key_secret = env.get("TWILIO_API_KEY_SECRET", "").strip()
    app_sid = env.get("TWILIO_TWIML_APP_SID", "").strip()
    if bool(key_sid) != bool(key_secret):
        raise ConfigError("TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET go together: set both or neither")
    if key_sid and not re.fullmatch(r"SK[0-9a-fA-F]{32}", key_sid):
        raise ConfigError("TWILIO_API_KEY_SID must be SK followed by 32 hex digits")
    if app_sid and not re.fullmatch(r"AP[0-9a-fA-F]{32}", app_sid):
        raise ConfigError("TWILIO_TWIML_APP_SID must be AP followed by 32 hex digits")
    if app_sid and not key_sid:
        raise ConfigError("TWILIO_TWIML_APP_SID needs TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET")
    return key_sid, key_secret, app_sid


def _smtp(env: Mapping[str, str]) -> tuple[str, str]:
    """R-NOTE-2: the managers' email goes out through SMTP_URL, from SMTP_FROM; unset, every
    email is kept in Redis only (and its escalation says so)."""
    url = env.get("SMTP_URL", "").strip()
    sender = env.get("SMTP_FROM", "").strip()
    if not url:
        if sender:
            raise ConfigError("SMTP_FROM is set but SMTP_URL is not: set both, or neither to keep emails in Redis only")
        return "", ""
    try:
        parse_smtp_url(url)
    except ValueError as exc:
        raise ConfigError(f"SMTP_URL {exc}") from None
    if not sender:
        raise ConfigError("SMTP_FROM is not set: the address manager emails come from, e.g. escalations@example.com")
    if not EMAIL_ADDRESS.fullmatch(parseaddr(sender)[1] or "-"):
        raise ConfigError(
            "SMTP_FROM must be an email address, e.g. escalations@example.com or Escalations <esc@example.com>"
        )
    return url, sender


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: only this machine can reach the service there."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _sentinels(env: Mapping[str, str]) -> tuple[tuple[tuple[str, int], ...], str]:
    """REDIS_SENTINELS (host:port,host:port) and the master they watch, REDIS_SENTINEL_MASTER."""
    raw = env.get("REDIS_SENTINELS", "").strip()
    master = env.get("REDIS_SENTINEL_MASTER", "").strip()
    if not raw:
        if master:
            raise ConfigError(
                "REDIS_SENTINEL_MASTER is set but REDIS_SENTINELS is not: list the sentinels as host:port,host:port"
            )
        return (), ""
    found = []
    for entry in (e.strip() for e in raw.split(",")):
        host, _, port = entry.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(
                f"REDIS_SENTINELS entry {entry!r} must be host:port; list them as 10.0.0.5:26379,10.0.0.6:26379"
            )
        found.append((host.strip("[]"), int(port)))
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", master):
        raise ConfigError(
            "REDIS_SENTINEL_MASTER must name the master the sentinels watch (the name in `sentinel monitor <name> ...`)"
        )
    return tuple(found), master


def _whole(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def _secret_key(env: Mapping[str, str]) -> str:
    value = env.get("SECRET_KEY", "").strip()
    if value and len(value) < 32:
        raise ConfigError("SECRET_KEY must be at least 32 characters (it signs the console's session cookie)")
    return value


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1")
    return int(raw)


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}")
    return value


def check_persistence(settings: Settings, problem: tuple[str, bool], log: logging.Logger) -> None:
    """Refuse to start on a Redis that keeps nothing (unless REDIS_PERSISTENCE_CHECK=warn); warn
    about one that keeps less than it should."""
    why, fatal = problem
    if fatal and settings.redis_persistence_check == "refuse":
        raise ConfigError(f"REDIS_URL: {why} (or set REDIS_PERSISTENCE_CHECK=warn to start anyway)")
    if why:
        log.warning("REDIS_URL: %s", why)


def _numbers(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    found = tuple(n.strip() for n in env.get(name, "").split(",") if n.strip())
    for number in found:
        if not re.fullmatch(r"\+[1-9]\d{6,14}", number):
            raise ConfigError(f"{name} must list E.164 numbers such as +13125550100, comma separated")
    return found


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0.1 <= value <= 60:
        raise ConfigError(f"{name} must be a number of seconds from 0.1 to 60")
    return value


def _clock(value: str) -> bool:
    value = value.strip().lower() or "system"
    if value not in ("system", "virtual"):
        raise ConfigError("CLOCK must be 'system' or 'virtual' (virtual: the simulator's clock, in Redis)")
    return value == "virtual"


def parse_api_tokens(raw: str) -> dict[str, ApiToken]:
    tokens: dict[str, ApiToken] = {}
    for n, entry in enumerate(filter(None, (e.strip() for e in raw.split(","))), start=1):
        parts = entry.split(":")
        if len(parts) not in (3, 4) or not all(parts):
            raise ConfigError(f"API_TOKENS entry {n} must be token:person:role or token:person:role:organisation")
        token, person, role = parts[:3]
        organisation = parts[3] if len(parts) == 4 else ""
        if role not in STAFF_ROLES:
            raise ConfigError(f"API_TOKENS entry {n} has role {role!r}; roles are {', '.join(STAFF_ROLES)}")
        if len(token) < 16:
            raise ConfigError(f"API_TOKENS entry {n}: a token must be at least 16 characters")
        tokens[token] = ApiToken(token, person, role, organisation)
    if not tokens:
        raise ConfigError("API_TOKENS lists no token")
    return tokens


# -- SMTP_URL (R-NOTE-2): smtp:// (with ?starttls=true) or smtps://, user and password percent-encoded --
SMTP_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}


@dataclass(frozen=True)
class SmtpServer:
    scheme: str
    host: str
    port: int
    user: str = ""
    password: str = ""
    starttls: bool = False

    @property
    def where(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpServer:
    """smtp://user:pass@host:587?starttls=true or smtps://user:pass@host:465; ValueError says
    what is wrong in words an operator can act on."""
    parsed = urlparse(url)
    if parsed.scheme not in SMTP_DEFAULT_PORTS:
        raise ValueError(
            "must start with smtp:// or smtps://, e.g. smtp://user:pass@mail.example.com:587?starttls=true"
        )
    if not parsed.hostname:
        raise ValueError("names no host, e.g. smtp://mail.example.com:587?starttls=true")
    try:
        port = parsed.port or SMTP_DEFAULT_PORTS[parsed.scheme]
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    query = parse_qs(parsed.query)
    unknown = set(query) - {"starttls"}
    if unknown:
        raise ValueError(f"has an unknown option {sorted(unknown)[0]!r}; the only one is starttls=true|false")
    starttls = (query.get("starttls") or ["false"])[-1].lower()
    if starttls not in ("true", "false"):
        raise ValueError("starttls must be true or false")
    if starttls == "true" and parsed.scheme == "smtps":
        raise ValueError("smtps:// is TLS already; starttls=true goes with smtp://")
    return SmtpServer(
        scheme=parsed.scheme,
        host=parsed.hostname,
        port=port,
        user=unquote(parsed.username or ""),
        password=unquote(parsed.password or ""),
        starttls=starttls == "true",
    )
