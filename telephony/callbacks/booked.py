"""Callbacks once booked (R-CB-7): what leads see and change (cancel, reschedule), and the
deadline. Capture is in callback_capture.py, dialling in callback_dialler.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from telephony.adapters.timers import job_id
from telephony.commands import DialCallback
from telephony.config import ApiToken
from telephony.context import Context
from telephony.errors import Conflict, Forbidden, InvalidRequest, NotFound
from telephony.escalation_request import RescheduleRequest, parse
from telephony.lifecycle import CHANGEABLE_CALLBACK_STATUSES, Callback, CallbackStatus
from telephony.notify.notifier import Notifier
from telephony.records import retention
from telephony.records.masking import callback_for

LEAD_ROLES = ("lead", "supervisor", "manager")
RESCHEDULE_DAYS = 30


def callback_event(ctx: Context, cb: dict[str, str], name: str, detail: str) -> None:
    """A callback's story is told on its escalation's timeline."""
    if cb.get("escalation_id"):
        ctx.store.add_event(cb["escalation_id"], ctx.event(name, detail))


def summary(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: fields[k] for k in ("id", "number", "window_start", "window_end", "requested", "status")}


class Callbacks:
    def __init__(self, ctx: Context, notifier: Notifier):
        self.ctx = ctx
        self.notify = notifier

    def deadline_passed(self, cb_id: str) -> bool:
        """R-CB-7: not completed by the deadline: overdue, and the managers are told."""
        cb = self.ctx.store.callback(cb_id)
        if cb is None or cb.get("status") not in (
            CallbackStatus.SCHEDULED,
            CallbackStatus.RESCHEDULED,
            CallbackStatus.DIALING,
            CallbackStatus.NO_ANSWER,
        ):
            return False
        if cb["status"] != CallbackStatus.DIALING:
            self.ctx.store.update_callback(cb_id, status=CallbackStatus.OVERDUE)
        self.ctx.store.update_callback(cb_id, overdue="true")
        callback_event(self.ctx, cb, "callback_overdue", f"deadline {cb['deadline']} passed")
        self.notify.managers(
            cb["escalation_id"], f"Callback to {cb['number']} is overdue: it was due by {cb['deadline']} (R-CB-7)."
        )
        return True

    # -- the lead's controls and reading ----------------------------------------------------
    def cancel(self, actor: ApiToken, cb_id: str) -> dict[str, Any]:
        self._lead_only(actor)
        cb = self._get(cb_id)
        if cb["status"] not in CHANGEABLE_CALLBACK_STATUSES:
            raise Conflict(f"A callback that is {cb['status']} cannot be cancelled.", code="not_cancellable")
        self.ctx.store.update_callback(cb_id, status=CallbackStatus.CANCELLED)
        callback_event(self.ctx, cb, "callback_cancelled", f"by {actor.person_id}")
        retention.callback_over(self.ctx, cb["escalation_id"])
        return self.view(cb_id)

    def reschedule(self, actor: ApiToken, cb_id: str, body: Any) -> dict[str, Any]:
        self._lead_only(actor)
        cb = self._get(cb_id)
        if cb["status"] not in CHANGEABLE_CALLBACK_STATUSES:
            raise Conflict(f"A callback that is {cb['status']} cannot be rescheduled.", code="not_reschedulable")
        window = parse(RescheduleRequest, body)
        start, end = window.window_start, window.window_end
        self._check_window(start, end)
        attempt = int(cb.get("attempts") or 0) + 1
        first_dial = max(start, self.ctx.clock.now())
        self.ctx.store.update_callback(
            cb_id,
            status=CallbackStatus.RESCHEDULED,
            window_start=start.isoformat(),
            window_end=end.isoformat(),
            window_attempts=0,
            next_attempt_at=first_dial.isoformat(timespec="seconds"),
        )
        self.ctx.timers.at(
            first_dial,
            DialCallback(cb_id, attempt),
            key=job_id("dial", cb_id, attempt),
        )
        callback_event(self.ctx, cb, "callback_rescheduled", f"by {actor.person_id} to {start.isoformat()}")
        return self.view(cb_id)

    def _check_window(self, start: datetime, end: datetime) -> None:
        """A rescheduled window is one a person can be rung in (R-CB-3): in the future, within
        the next RESCHEDULE_DAYS days, and inside one business day's opening hours."""
        now = self.ctx.clock.now()
        hours = self.ctx.policy.business_hours
        try:
            if end <= start or end <= now:
                raise InvalidRequest(
                    "The window must end after it starts, and in the future.", code="invalid_field", field="window_end"
                )
            if start > now + timedelta(days=RESCHEDULE_DAYS):
                raise InvalidRequest(
                    f"The window must start within the next {RESCHEDULE_DAYS} days.",
                    code="invalid_field",
                    field="window_start",
                )
            open_at_start = hours.is_open(start)
            inside = open_at_start and end <= hours.close_of_business(start)
        except OverflowError:
            raise InvalidRequest(
                "The window is too far from today to be a callback time.", code="invalid_field", field="window_start"
            ) from None
        if not inside:
            raise InvalidRequest(
                "The window must fall inside business hours (one business day, from opening to close).",
                code="invalid_field",
                field="window_start" if not open_at_start else "window_end",
            )

    def list(self, status: str | None, actor: ApiToken | None = None) -> list[dict[str, Any]]:
        """Leads and above see every callback; an agent, only those of their own calls."""
        views = [self.view(i) for i in self.ctx.store.callback_ids()]
        if actor is not None and actor.role == "agent":
            mine = {
                v["escalation_id"]
                for v in views
                if actor.person_id
                in ((self.ctx.store.escalation(v["escalation_id"]) or {}).get(k) for k in ("agent_id", "created_by"))
            }
            views = [v for v in views if v["escalation_id"] in mine]
        return [callback_for(actor, v) for v in views if status is None or v["status"] == status]

    def view(self, cb_id: str) -> dict[str, Any]:
        cb = self._get(cb_id)
        return {
            "id": cb["id"],
            "escalation_id": cb["escalation_id"],
            "number": cb["number"],
            "window_start": cb["window_start"],
            "window_end": cb["window_end"],
            "requested": cb.get("requested", ""),
            "status": cb["status"],
            "attempts": int(cb.get("attempts") or 0),
            "deadline": cb.get("deadline"),
            "overdue": Callback.from_hash(cb).overdue,
        }

    def _get(self, cb_id: str) -> dict[str, str]:
        cb = self.ctx.store.callback(cb_id)
        if cb is None:
            raise NotFound(f"No callback {cb_id}.", code="callback_not_found")
        return cb

    def _lead_only(self, actor: ApiToken) -> None:
        if actor.role not in LEAD_ROLES:
            raise Forbidden("Only leads, supervisors and managers manage callbacks.", code="role_not_allowed")
