"""Posts to the team channel, the direct leader and the managers (R-NOTE-1, R-CB-5..7), and the
managers' urgent email (R-NOTE-2). Each note and email is kept in Redis first, then posted or sent
by a worker with retries, so none is lost."""

from __future__ import annotations

import json
from typing import Any

from telephony.adapters.timers import TELL_PEOPLE_AFTER_TRIES
from telephony.commands import PostToChannel
from telephony.context import Context
from telephony.errors import TelephonyFailure
from telephony.notify.manager_email import ManagerEmails


class Notifier:
    def __init__(self, ctx: Context, emails: ManagerEmails | None = None):
        self.ctx = ctx
        self.emails = emails or ManagerEmails(ctx)
        self.emails.on_give_up = self.managers

    def urgent_email(self, esc_id: str, occasion: str) -> dict[str, Any] | None:
        """R-NOTE-2: the managers' email, where this kind of escalation calls for one."""
        return self.emails.occasion(esc_id, occasion)

    def channel(self, text: str, **about: str) -> dict[str, Any]:
        """A post to the team channel about a call rather than an escalation (R-NOTE-4)."""
        return self._post({"to": self.ctx.policy.notifications.channel, "text": text, **about})

    def team(self, esc_id: str, headline: str, callback_time: str = "") -> dict[str, Any]:
        """R-NOTE-1: client name, client link, quick reason, requested callback time, the tag."""
        esc = self.ctx.store.escalation(esc_id) or {}
        client = json.loads(esc.get("client") or "{}")
        notes = self.ctx.policy.notifications
        tag = notes.tags.get(client.get("segment", ""), notes.default_tag)
        lines = [
            headline,
            f"Client: {client.get('name') or 'unknown'} (account {client.get('account') or 'unknown'})",
            f"Link: {client.get('link') or 'none'}",
            f"Reason: {esc.get('reason', '')} [{esc.get('kind', '')}]",
        ]
        if callback_time:
            lines.append(f"Callback requested: {callback_time}")
        if tag:
            lines.append(tag)
        return self._post({"to": notes.channel, "tag": tag, "escalation": esc_id, "text": "\n".join(lines)})

    def person(self, person_id: str, esc_id: str, text: str) -> dict[str, Any]:
        person = self.ctx.policy.person(person_id)
        return self._post(
            {"to": f"@{person_id}", "person": person.name if person else person_id, "escalation": esc_id, "text": text}
        )

    def managers(self, esc_id: str, text: str) -> dict[str, Any]:
        ids = [p.id for p in self.ctx.policy.people if p.role == "manager"]
        return self._post({"to": "managers", "people": ids, "escalation": esc_id, "text": text, "urgent": True})

    def step_failed(self, esc_id: str, step: str, exc: TelephonyFailure, tries: int) -> None:
        """A step Twilio could not do goes on the timeline every time; the team is told once it
        has failed a few times, because a person may need to pick the call up by hand."""
        self.ctx.store.add_event(esc_id, self.ctx.event(f"{step}_failed", f"try {tries + 1}: {exc.message}"))
        if tries + 1 == TELL_PEOPLE_AFTER_TRIES:
            self.team(
                esc_id,
                f"Twilio failed {tries + 1} times ({step.replace('_', ' ')}) and the service is still trying. "
                "Please check on the caller.",
            )

    def _post(self, note: dict[str, Any]) -> dict[str, Any]:
        note = {"at": self.ctx.now_iso(), **note}
        self.ctx.store.record_notification(note)
        self.ctx.timers.soon(PostToChannel(note))
        return note
