"""The one module that talks SMTP (R-NOTE-2): `SMTP_URL` parsed once at start-up, and one send
per call. smtp:// (with `?starttls=true` to upgrade before AUTH) or smtps:// (TLS from the first
byte); user and password in the URL, percent-encoded. Certificates are checked against the
system's trust store (OpenSSL's SSL_CERT_FILE names another)."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlparse

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
TIMEOUT_SECONDS = 15


class MailFailure(Exception):
    """The message was not accepted; `message` says why, for the escalation's timeline."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


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
    if parsed.scheme not in DEFAULT_PORTS:
        raise ValueError(
            "must start with smtp:// or smtps://, e.g. smtp://user:pass@mail.example.com:587?starttls=true"
        )
    if not parsed.hostname:
        raise ValueError("names no host, e.g. smtp://mail.example.com:587?starttls=true")
    try:
        port = parsed.port or DEFAULT_PORTS[parsed.scheme]
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


def send(server: SmtpServer, message: EmailMessage) -> list[str]:
    """Hand the message to the server; a refusal or network failure is a MailFailure. Returns
    the recipients the server refused while it took the message for the others (a retry would
    send those a second copy). AUTH is never sent in the clear: with a user and no TLS the send
    is refused here."""
    if server.user and server.scheme == "smtp" and not server.starttls:
        raise MailFailure(
            f"{server.where}: refusing to send the password unencrypted; add ?starttls=true or use smtps://"
        )
    context = ssl.create_default_context()
    try:
        if server.scheme == "smtps":
            client = smtplib.SMTP_SSL(server.host, server.port, timeout=TIMEOUT_SECONDS, context=context)
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_SECONDS)
        with client:
            if server.starttls:
                client.starttls(context=context)
            if server.user:
                client.login(server.user, server.password)
            refused = client.send_message(message)
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        raise MailFailure(f"{server.where} answered {exc.smtp_code} {text}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailFailure(f"{server.where} refused every recipient: {', '.join(exc.recipients)}") from None
    except smtplib.SMTPException as exc:
        raise MailFailure(f"{server.where}: {exc}") from None
    except ssl.SSLError as exc:
        raise MailFailure(f"{server.where}: TLS failed: {exc.reason or exc}") from None
    except (TimeoutError, OSError) as exc:
        raise MailFailure(f"{server.where} not reachable: {exc.strerror or exc}") from None
    return sorted(refused)
