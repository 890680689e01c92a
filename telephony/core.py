"""Wires the core together and turns Twilio's status callbacks and conference events into core
calls: idempotent (a duplicate is a no-op) and order-independent (status only moves forward)."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from telephony.adapters.history import History, engine_for
from telephony.adapters.redis_clock import RedisClock
from telephony.adapters.store import TERMINAL_CALL_STATUSES, Store
from telephony.adapters.throttle import OutboundThrottle
from telephony.adapters.timers import Timers
from telephony.adapters.twilio_gateway import TwilioGateway, make_client
from telephony.callbacks.booked import Callbacks
from telephony.callbacks.capture import CallbackCapture
from telephony.callbacks.dialler import CallbackDialler
from telephony.callbacks.sweeper import CallbackSweeper
from telephony.clock import Clock, SystemClock
from telephony.commands import Reconcile
from telephony.config import ApiToken, Settings
from telephony.context import Context
from telephony.errors import Forbidden, NotFound, TelephonyFailure
from telephony.escalation.intake import Intake
from telephony.escalation.lead_hunt import LeadHunt
from telephony.escalation.listen_in import ListenIn
from telephony.escalation.warm_transfer import WarmTransfer
from telephony.escalation.warning_protocol import WarningProtocol
from telephony.escalation_request import PresenceRequest, parse
from telephony.handlers import Events
from telephony.hold.lead_notice import LeadNotice
from telephony.hold.limits import Hold
from telephony.notify.early_warning import EarlyWarning, early_warning_of
from telephony.notify.follow_through import FollowThrough
from telephony.notify.manager_email import ManagerEmails
from telephony.notify.notifier import Notifier
from telephony.notify.red_flag_alerts import RedFlagAlerts
from telephony.policy.loading import Policy, load_policy
from telephony.records.call_notes import CallNotes
from telephony.records.escalation_record import Records
from telephony.records.masking import call_for
from telephony.reports.figures import Reports
from telephony.urls import Urls

log = logging.getLogger(__name__)
# The reconciler (issue 34): how often it runs per organisation, and how many calls it asks
# Twilio about a run (one GET each; Twilio allows far more, and the outbound calls keep theirs).
RECONCILE_SECONDS = 60
RECONCILE_LOOKUPS = 50


@dataclass
class Core:
    ctx: Context
    intake: Intake
    warm_transfer: WarmTransfer
    lead_hunt: LeadHunt
    hold: Hold
    callback_capture: CallbackCapture
    dialler: CallbackDialler
    callback_sweeper: CallbackSweeper
    callbacks: Callbacks
    notify: Notifier
    settings: Settings
    warnings: WarningProtocol
    listen_in: ListenIn
    early_warning: EarlyWarning
    follow_through: FollowThrough
    red_flags: RedFlagAlerts
    notes: CallNotes
    records: Records
    reports: Reports
    events: Events

    @property
    def policy(self) -> Policy:
        return self.ctx.policy

    def call_status(self, form: Mapping[str, str]) -> None:
        """/voice/status: the caller's call lifecycle."""
        call_sid, status = form.get("CallSid", ""), form.get("CallStatus", "")
        if not self.ctx.store.first_time(f"status:{call_sid}:{status}"):
            return
        if self.intake.caller_status(call_sid, status):
            esc_id = self.ctx.store.open_escalation_id(call_sid)
            if esc_id:
                self.warm_transfer.caller_left(esc_id)
            else:
                self.intake.wind_down(call_sid)

    def agent_status(self, caller_sid: str, form: Mapping[str, str]) -> None:
        call_sid, status = form.get("CallSid", ""), form.get("CallStatus", "")
        if not self.ctx.store.first_time(f"agent:{call_sid}:{status}"):
            return
        esc_id = self.intake.agent_leg_status(caller_sid, call_sid, status)
        if esc_id:
            self.warm_transfer.agent_left(esc_id)

    def lead_status(self, esc_id: str, form: Mapping[str, str]) -> None:
        call_sid, status = form.get("CallSid", ""), form.get("CallStatus", "")
        if not self.ctx.store.first_time(f"lead:{call_sid}:{status}"):
            return
        self.lead_hunt.lead_leg_status(esc_id, call_sid, status)

    def callback_leg_status(self, cb_id: str, role: str, form: Mapping[str, str], attempt: str = "") -> None:
        call_sid, status = form.get("CallSid", ""), form.get("CallStatus", "")
        if not self.ctx.store.first_time(f"callback:{role}:{call_sid}:{status}"):
            return
        if role == "lead":
            self.dialler.lead_status(cb_id, call_sid, status, attempt)
        else:
            self.dialler.caller_status(cb_id, call_sid, status)

    def conference_event(self, form: Mapping[str, str]) -> None:
        """Conference events: learn the conference SID, who is in it, who joined."""
        conference_sid = form.get("ConferenceSid", "")
        event = form.get("StatusCallbackEvent", "")
        call_sid = form.get("CallSid", "")
        identity = form.get("SequenceNumber") or f"{event}:{call_sid}"
        if not self.ctx.store.first_time(f"conference:{conference_sid}:{identity}"):
            return
        name = form.get("FriendlyName", "")
        if name and conference_sid:
            self.ctx.store.set_conference(name, conference_sid)
        label = form.get("ParticipantLabel", "")
        if event == "participant-join" and call_sid:
            if label == "caller":
                self.ctx.store.update_call(call_sid, in_conference="true", conference_sid=conference_sid)
                if (self.ctx.store.call(call_sid) or {}).get("hold_on_join") == "true":
                    self.ctx.store.update_call(call_sid, hold_on_join="false")
                    self._safely(self.intake.agent_needed, call_sid)
            elif label == "agent":
                caller_sid = (self.ctx.store.leg(call_sid) or {}).get("caller", "")
                if caller_sid:
                    self._safely(self.intake.agent_joined, caller_sid, call_sid)
            elif label == "lead":
                esc_id = (self.ctx.store.leg(call_sid) or {}).get("escalation", "")
                if esc_id:
                    self._safely(self.warm_transfer.lead_joined, esc_id)
        elif event == "participant-leave" and call_sid:
            self._participant_left(call_sid, label, form.get("ParticipantCallStatus", ""))
        elif event == "announcement-end" and call_sid:
            esc_id = (self.ctx.store.leg(call_sid) or {}).get("escalation", "")
            if esc_id:
                self._safely(self.warm_transfer.notice_heard, esc_id, call_sid)

    def _participant_left(self, call_sid: str, label: str, call_status: str) -> None:
        """What a participant-leave tells before the leg's own status may (issue 35, everyone
        hanging up at once): a staff leg that left is not announced to or redirected; a caller
        whose call ended (Twilio's ParticipantCallStatus) has hung up, handled as their status is
        (a caller taken out of the conference alive, to the callback offer, has not)."""
        if label == "caller":
            if call_status in TERMINAL_CALL_STATUSES and self.ctx.store.call(call_sid) is not None:
                self.call_status({"CallSid": call_sid, "CallStatus": call_status})
            return
        if self.ctx.store.leg(call_sid) is not None:
            self.ctx.store.update_leg(call_sid, left_conference="true")

    def stop_ringing(self, call_sid: str) -> None:
        """A lead's phone rings for a caller who has gone or chosen a callback: stop it."""
        try:
            self.ctx.twilio.cancel(call_sid)
        except TelephonyFailure as exc:
            log.warning("could not stop ringing %s: %s", call_sid, exc.message)

    def set_presence(self, actor: ApiToken, person_id: str, body: Any) -> dict[str, Any]:
        presence = parse(PresenceRequest, body).presence
        if self.ctx.policy.person(person_id) is None:
            raise NotFound(f"No person {person_id} in the policy.", code="person_not_found")
        if person_id != actor.person_id and actor.role not in ("lead", "supervisor", "manager"):
            raise Forbidden("You may only change your own presence.", code="not_yours")
        self.intake.presence_changed(person_id, presence)
        person = self.ctx.policy.person(person_id)
        if presence == "available" and person is not None and person.role != "agent":
            self.lead_hunt.lead_freed()
        return {"person": person_id, "presence": self.ctx.presence(person_id)}

    def live_calls(self, actor: ApiToken) -> list[dict[str, Any]]:
        calls = []
        for sid in self.ctx.store.call_sids():
            call = self.ctx.store.call(sid)
            if not call or call.get("role") != "caller" or call.get("status") in TERMINAL_CALL_STATUSES:
                continue
            if actor.role == "agent" and call.get("agent_id") != actor.person_id:
                continue
            calls.append(
                call_for(
                    actor,
                    {
                        "call_sid": sid,
                        "from": call.get("from", ""),
                        "account": call.get("account", ""),
                        "agent": call.get("agent_id") or None,
                        "escalation_id": self.ctx.store.open_escalation_id(sid),
                        "arrived_at": call.get("arrived_at"),
                        "early_warning": early_warning_of(call),
                    },
                )
            )
        return sorted(calls, key=lambda c: c["arrived_at"] or "")

    def reconcile(self, limit: int = RECONCILE_LOOKUPS) -> dict[str, int]:
        """Issue 34: converge on what Twilio says, whatever status callbacks were lost (every web
        process down, Redis away while Twilio called). Every live call and leg this organisation
        keeps (at most `limit` a run, taken at random, so with more each is asked about within a
        few runs) is looked up (GET Calls/{sid}); one Twilio says has ended is applied exactly as
        its status callback would have been, through the same path and its dedupe, so a callback
        that does arrive later, or a second run, changes nothing. People are freed, ghost calls
        end, escalations move on, a callback dialling a lead who is gone tries the next one.
        Returns counts: asked, ended (applied), unknown (Twilio has no such call), failed."""
        store = self.ctx.store
        live = [(sid, "caller", store.call(sid) or {}) for sid in store.call_sids()]
        live += [(sid, "leg", store.leg(sid) or {}) for sid in store.leg_sids()]
        live = [(sid, kind, record) for sid, kind, record in live if _unsettled(kind, record)]
        counts = {"asked": 0, "ended": 0, "unknown": 0, "failed": 0}
        for sid, kind, record in random.sample(live, min(limit, len(live))):
            counts["asked"] += 1
            try:
                status = self.ctx.twilio.call_status(sid)
            except TelephonyFailure as exc:
                counts["failed"] += 1
                log.warning("reconcile: cannot ask Twilio about %s: %s", sid, exc.message)
                continue
            if status is None:
                counts["unknown"] += 1
                continue
            if status not in TERMINAL_CALL_STATUSES:
                continue
            counts["ended"] += 1
            log.info("reconcile: %s %s ended (%s) without our hearing of it", kind, sid, status)
            self._apply_status(sid, kind, record, status)
        return counts

    def _apply_status(self, sid: str, kind: str, record: dict[str, str], status: str) -> None:
        form = {"CallSid": sid, "CallStatus": status}
        role = record.get("role", "")
        if kind == "caller":
            self.call_status(form)
        elif role == "agent":
            self.agent_status(record.get("caller", ""), form)
        elif role == "lead":
            self.lead_status(record.get("escalation", ""), form)
        elif role == "callback_lead":
            cb = self.ctx.store.callback(record.get("callback", "")) or {}
            self.callback_leg_status(record.get("callback", ""), "lead", form, cb.get("attempts", ""))
        elif role == "callback_caller":
            self.callback_leg_status(record.get("callback", ""), "caller", form)
        elif role == "listener":
            self.listen_in.leg_status(record.get("caller", ""), sid, status)

    def ensure_reconciler(self) -> None:
        """The scheduler's housekeeping: one reconcile a RECONCILE_SECONDS (the first as soon as
        the scheduler starts or Redis answers again), whoever asks."""
        now = self.ctx.clock.now()
        period = int(now.timestamp() // RECONCILE_SECONDS)
        if self.ctx.store.first_time(f"reconcile:{period}", ttl=2 * RECONCILE_SECONDS):
            self.ctx.timers.soon(Reconcile(), key=f"reconcile-{period}")

    def _safely(self, action: Callable[..., object], *args: Any) -> None:
        """A REST failure inside an event handler is logged, not turned into a 500 that makes
        Twilio retry an event we have already recorded."""
        try:
            action(*args)
        except TelephonyFailure as exc:
            log.error("%s%s failed: %s", action.__name__, args, exc.message)


def build_core(
    settings: Settings,
    conn: redis.Redis,
    clock: Clock | None = None,
    policy: Policy | None = None,
    *,
    queue_conn: redis.Redis | None = None,
    several: bool = False,
) -> Core:
    """One organisation's core: its policy, its keys on `conn` (the state: one Redis or a
    cluster), its timers beside RQ on `queue_conn` (one node; default the same Redis). `several`:
    one of several organisations, so its URLs name it and it dials from its own number."""
    if policy is None:
        if settings.policy_file is None:
            raise ValueError("build_core needs a policy when POLICY_FILE is not set")
        policy = load_policy(settings.policy_file)
    queue_conn = queue_conn if queue_conn is not None else conn
    org = policy.organisation_id
    caller_id = policy.numbers[0] if several and policy.numbers else settings.twilio_caller_id
    client = make_client(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio_api_base_url,
        timeout=settings.twilio_rest_timeout_seconds,
    )
    clock = clock or (RedisClock(queue_conn) if settings.virtual_clock else SystemClock())
    ctx = Context(
        policy=policy,
        store=Store(
            conn,
            keep_seconds=settings.finished_keep_seconds,
            wait_replicas=settings.redis_wait_replicas,
            organisation=org,
        ),
        twilio=TwilioGateway(client, caller_id, OutboundThrottle(conn, settings.outbound_calls_per_second)),
        urls=Urls(settings.public_base_url, org if several else "", policy.version if several else ""),
        clock=clock,
        timers=Timers(queue_conn, clock, organisation=org),
    )
    ctx.store.timers_beside = queue_conn is conn
    notifier = Notifier(ctx, ManagerEmails(ctx, settings.smtp_url, settings.smtp_from))
    red_flags = RedFlagAlerts(ctx, notifier)
    hold = Hold(ctx, notifier, LeadNotice(ctx), red_flags)
    lead_hunt = LeadHunt(ctx, hold, notifier)
    callbacks = Callbacks(ctx, notifier)
    dialler = CallbackDialler(ctx, notifier)
    sweeper = CallbackSweeper(ctx, dialler)
    warm_transfer = WarmTransfer(ctx, hold, lead_hunt, notifier, red_flags)
    records = Records(ctx, settings.records_retention_days, History(engine_for(settings.history_url()), org))
    events = Events(ctx, notifier, records)
    ctx.store.drain_entry = events.drain_entry
    ctx.store.ask_drain = events.ask_drain
    return Core(
        ctx=ctx,
        intake=Intake(ctx),
        warm_transfer=warm_transfer,
        lead_hunt=lead_hunt,
        hold=hold,
        callback_capture=CallbackCapture(ctx, hold, notifier, sweeper, callbacks),
        dialler=dialler,
        callback_sweeper=sweeper,
        callbacks=callbacks,
        notify=notifier,
        settings=settings,
        warnings=WarningProtocol(ctx, warm_transfer, notifier),
        listen_in=ListenIn(ctx),
        early_warning=EarlyWarning(ctx, notifier),
        follow_through=FollowThrough(ctx, notifier),
        red_flags=red_flags,
        notes=CallNotes(ctx, red_flags),
        records=records,
        reports=Reports(ctx, records),
        events=events,
    )


def _unsettled(kind: str, record: dict[str, str]) -> bool:
    """A call or leg we have not yet heard end (a caller's call, or a leg we dialled)."""
    return bool(record) and record.get("status") not in TERMINAL_CALL_STATUSES
