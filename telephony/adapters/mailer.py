"""The one module that talks SMTP (R-NOTE-2): one send per call, to the server `SMTP_URL` names
(parsed once at start-up by `telephony.config.parse_smtp_url`). smtp:// (with `?starttls=true` to upgrade before AUTH) or smtps:// (TLS from the first
byte); user and password in the URL, percent-encoded. Certificates are checked against the
system's trust store (OpenSSL's SSL_CERT_FILE names another)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from telephony.config import SmtpServer

TIMEOUT_SECONDS = 15


class MailFailure(Exception):
    """The message was not accepted; `message` says why, for the escalation's timeline."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


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
    client: smtplib.SMTP
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
