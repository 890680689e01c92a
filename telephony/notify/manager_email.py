"""The urgent email to the managers (R-NOTE-2, R-ESC-3, R-ESC-4, seed 002): "Send an email to the
Manager with the subject line the client's name with a note of formal complaint, the body of the
email with details of the escalation with the client page link. Mark the email as urgent."

The email is written and kept in Redis first, then sent by an RQ job, never inside a webhook.
A failed try goes on the escalation's timeline (`email_not_sent`, with the reason) and is tried
again later, sooner first; once the server takes it, `email_sent`. Nothing is lost: until then
the email waits in Redis, and GET /api/escalations/<id>/emails shows it."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from telephony.adapters import mailer
from telephony.adapters.timers import TELL_PEOPLE_AFTER_TRIES, job_id
from telephony.commands import SendManagerEmail
from telephony.config import parse_smtp_url
from telephony.context import Context, new_id

# Seed 002's subject lines, after the client's name.
SUBJECTS = {
    ("formal_complaint", "escalated"): "Formal Complaint",
    ("formal_complaint", "callback_booked"): "Formal Complaint Call Back",
    ("abusive", "callback_booked"): "Excessively Escalated Client Call Back",
}
# A failed try is tried again after these many seconds, then every 15 minutes until it is sent.
AGAIN_AFTER_SECONDS = (30, 60, 120, 300, 600, 900)
# A try holds its email this long (SMTP's timeouts are far shorter); then another job may take over.
STALE_TRY_SECONDS = 600
HIGH_PRIORITY = {"X-Priority": "1 (Highest)", "Importance": "High", "Priority": "urgent"}
KIND_WORDS = {
    "formal_complaint": "formal complaint",
    "abusive": "abusive caller (excessively escalated)",
    "manager_request": "manager request",
    "supervisor_demanded": "supervisor demanded",
    "no_authority": "no authority",
}


class ManagerEmails:
    def __init__(
        self, ctx: Context, smtp_url: str = "", sender: str = "", on_give_up: Callable[..., object] | None = None
    ):
        self.ctx = ctx
        self.server = parse_smtp_url(smtp_url) if smtp_url else None
        self.sender = sender
        self.on_give_up = on_give_up

    def occasion(self, esc_id: str, occasion: str) -> dict[str, Any] | None:
        """Write the email an escalation of this kind calls for on this occasion (escalated,
        callback_booked), if any, once per escalation and occasion."""
        esc = self.ctx.store.escalation(esc_id)
        if esc is None or (esc.get("kind"), occasion) not in SUBJECTS:
            return None
        if not self.ctx.store.first_time(f"email:{esc_id}:{occasion}", ttl=30 * 86400):
            return None
        return self.write(esc, SUBJECTS[(esc["kind"], occasion)])

    def recipients(self, esc: dict[str, str]) -> list[tuple[str, str]]:
        """The managers with an email address, of the kind's teams where the policy names teams."""
        teams = self.ctx.policy.kinds[esc["kind"]].teams
        return [
            (p.name, p.email)
            for p in self.ctx.policy.people
            if p.role == "manager" and p.email and (not teams or p.team in teams)
        ]

    def write(self, esc: dict[str, str], note: str) -> dict[str, Any]:
        client = json.loads(esc.get("client") or "{}")
        subject = f"{client_name(client)} - {note}"
        to = self.recipients(esc)
        text, body_html = self.body(esc, client, note)
        email_id = new_id("email")
        fields = {
            "id": email_id,
            "escalation": esc["id"],
            "subject": subject,
            "to": [f"{name} <{address}>" for name, address in to],
            "text": text,
            "html": body_html,
            "status": "pending" if to else "no_recipients",
            "tries": 0,
            "created_at": self.ctx.now_iso(),
        }
        self.ctx.store.save_email(email_id, fields, self.ctx.clock.now().timestamp())
        if not to:
            self.ctx.store.add_event(
                esc["id"], self.ctx.event("email_not_sent", f"{subject}: no manager has an email address in the policy")
            )
            return fields
        self.ctx.timers.soon(SendManagerEmail(email_id, 0), key=job_id("email", email_id, 0))
        return fields

    def body(self, esc: dict[str, str], client: dict[str, str], note: str) -> tuple[str, str]:
        """The escalation's details as plain text and as HTML; every caller's or agent's word is
        escaped in the HTML."""
        callback = json.loads(esc["callback"]) if esc.get("callback") else None
        rows = [
            ("Escalation", f"{KIND_WORDS.get(esc.get('kind', ''), esc.get('kind', ''))} ({esc['id']})"),
            ("Client", client_name(client)),
            ("Account", client.get("account") or "unknown"),
            ("Contact", client.get("contact_name") or ""),
            ("Client page", client.get("link") or "none given"),
            ("Reason", esc.get("reason", "")),
            ("Resolution offered", esc.get("resolution_offered") or "none recorded"),
            ("Agent", self.ctx.name(esc.get("agent_id", "")) if esc.get("agent_id") else ""),
            ("Escalated at", esc.get("created_at", "")),
        ]
        if esc.get("early_warning_at"):
            rows.append(("Early warning", f"{esc['early_warning_at']} {esc.get('early_warning_note', '')}".strip()))
        if callback:
            rows.append(("Callback number", callback.get("number", "")))
            rows.append(
                (
                    "Callback window",
                    f"{callback.get('requested', '')} ({callback.get('window_start', '')} to "
                    f"{callback.get('window_end', '')})",
                )
            )
        rows = [(k, v) for k, v in rows if v]
        heading = f"{self.ctx.policy.name}: {note}"
        text = "\n".join([heading, "", *(f"{k}: {v}" for k, v in rows), "", "Sent by the escalation service."])
        cells = "".join(f"<tr><th align='left'>{html.escape(k)}</th><td>{_html_value(k, v)}</td></tr>" for k, v in rows)
        body_html = (
            f"<html><body><h2>{html.escape(heading)}</h2><table>{cells}</table>"
            "<p>Sent by the escalation service.</p></body></html>"
        )
        return text, body_html

    def send(self, email_id: str, tries: int) -> str:
        """One try; a failure is on the timeline and the next try is scheduled. Sent once."""
        email = self.ctx.store.email(email_id)
        if email is None or email.get("status") != "pending":
            return "skipped"
        if not self.ctx.store.claim_email_try(email_id, tries, self.ctx.now_iso()) and not self._stale(email, tries):
            return "skipped"
        esc_id = email.get("escalation", "")
        if self.server is None:
            self.ctx.store.update_email(email_id, status="kept", tries=tries)
            self.ctx.store.add_event(
                esc_id, self.ctx.event("email_not_sent", f"{email['subject']}: kept, SMTP_URL not set")
            )
            return "kept"
        try:
            refused = mailer.send(self.server, self.message(email))
        except mailer.MailFailure as exc:
            self.ctx.store.update_email(email_id, last_error=exc.message)
            self.ctx.store.add_event(
                esc_id, self.ctx.event("email_not_sent", f"{email['subject']}: try {tries + 1}: {exc.message}")
            )
            delay = AGAIN_AFTER_SECONDS[min(tries, len(AGAIN_AFTER_SECONDS) - 1)]
            when = self.ctx.clock.now() + timedelta(seconds=delay)
            self.ctx.timers.at(when, SendManagerEmail(email_id, tries + 1), key=job_id("email", email_id, tries + 1))
            if tries + 1 == TELL_PEOPLE_AFTER_TRIES and self.on_give_up:
                self.on_give_up(
                    esc_id, f"Urgent email '{email['subject']}' not sent after {tries + 1} tries: {exc.message}"
                )
            return "not_sent"
        self.ctx.store.update_email(email_id, status="sent", sent_at=self.ctx.now_iso(), refused=refused)
        to = ", ".join(json.loads(email["to"]))
        detail = f"{email['subject']} to {to}" + (f" (refused: {', '.join(refused)})" if refused else "")
        self.ctx.store.add_event(esc_id, self.ctx.event("email_sent", detail))
        return "sent"

    def _stale(self, email: dict[str, str], tries: int) -> bool:
        """Another job holds this try. If its worker died mid-try the email would wait for ever:
        look again once a try could not still be running, and then take the try over."""
        if email.get("tries") != str(tries + 1):
            return False
        started = datetime.fromisoformat(email.get("try_started_at") or self.ctx.now_iso())
        if self.ctx.clock.now() - started >= timedelta(seconds=STALE_TRY_SECONDS):
            self.ctx.store.update_email(email["id"], try_started_at=self.ctx.now_iso())
            return True
        self.ctx.timers.at(
            started + timedelta(seconds=STALE_TRY_SECONDS),
            SendManagerEmail(email["id"], tries),
            key=job_id("email", email["id"], tries, "stale"),
        )
        return False

    def message(self, email: dict[str, str]) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = email["subject"]
        message["From"] = self.sender
        message["To"] = ", ".join(json.loads(email["to"]))
        message["Message-ID"] = make_msgid(idstring=email["id"])
        for header, value in HIGH_PRIORITY.items():
            message[header] = value
        message.set_content(email["text"])
        message.add_alternative(email["html"], subtype="html")
        return message

    def view(self, email_id: str) -> dict[str, Any]:
        email = self.ctx.store.email(email_id) or {}
        return {
            "id": email_id,
            "subject": email.get("subject", ""),
            "to": json.loads(email.get("to") or "[]"),
            "status": email.get("status", ""),
            "tries": int(email.get("tries") or 0),
            "created_at": email.get("created_at", ""),
            "sent_at": email.get("sent_at") or None,
            "last_error": email.get("last_error") or None,
            "text": email.get("text", ""),
        }

    def of_escalation(self, esc_id: str) -> list[dict[str, Any]]:
        return [self.view(i) for i in self.ctx.store.escalation_emails(esc_id)]


def client_name(client: dict[str, str]) -> str:
    return client.get("name") or f"Account {client.get('account') or 'unknown'}"


def _html_value(key: str, value: str) -> str:
    if key == "Client page" and value.startswith(("http://", "https://")):
        return f"<a href='{html.escape(value, quote=True)}'>{html.escape(value)}</a>"
    return html.escape(value)
