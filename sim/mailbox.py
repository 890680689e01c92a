"""A real SMTP server on loopback (aiosmtpd) that keeps every message it is handed: the demo's
managers' inbox, and the tests' (R-NOTE-2). It can ask for STARTTLS and AUTH like a real
submission server, or serve TLS from the first byte (smtps)."""

from __future__ import annotations

import ssl
import threading
import warnings
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from telephony.adapters.local_redis import free_port


def _tls(server, session) -> bool:
    """Upgraded by STARTTLS, or TLS from the first byte (smtps)."""
    return session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    login: str


@dataclass
class Mailbox:
    port: int = 0
    tls_context: ssl.SSLContext | None = None
    starttls: bool = False
    login: tuple[str, str] | None = None
    delivered: list[Delivered] = field(default_factory=list)

    def __post_init__(self):
        self.port = self.port or free_port()
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else ""
        with self._lock:
            self.delivered.append(
                Delivered(envelope.mail_from, list(envelope.rcpt_tos), message, _tls(server, session), login)
            )
        return "250 Message accepted for delivery"

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            self.login is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login.decode(), auth_data.password.decode()) == self.login
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    def start(self) -> Mailbox:
        kwargs: dict = {}
        if self.starttls:
            kwargs.update(tls_context=self.tls_context, require_starttls=True)
        elif self.tls_context is not None:
            kwargs.update(ssl_context=self.tls_context, server_hostname="127.0.0.1")
        if self.login is not None:
            # aiosmtpd's auth_require_tls looks for STARTTLS; under smtps the connection is TLS
            # already (and aiosmtpd's warning about it does not apply).
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
            kwargs.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=self.tls_context is None or self.starttls,
            )
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def url(self, scheme: str = "smtp") -> str:
        user = f"{self.login[0]}:{self.login[1]}@" if self.login else ""
        query = "?starttls=true" if self.starttls else ""
        return f"{scheme}://{user}127.0.0.1:{self.port}{query}"

    def __enter__(self) -> Mailbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
