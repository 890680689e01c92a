"""Hold limits (R-HOLD-2..4): a check-in every 2 minutes, never more than 5 minutes without the
caller being offered a way out. Each hold is a numbered round; a timer of an old round, or of a
caller already connected, does nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from telephony.notify.red_flag_alerts import RedFlagAlerts

import logging
from datetime import datetime, timedelta

from telephony.adapters.timers import job_id
from telephony.commands import Command, HoldCheckIn, HoldLimit
from telephony.context import Context
from telephony.errors import TelephonyFailure
from telephony.hold.lead_notice import LeadNotice
from telephony.hold.wording import with_role
from telephony.lifecycle import HOLDING_STATES, EscalationState
from telephony.logs import bound
from telephony.metrics import TIMER_LATENESS_SECONDS
from telephony.notify.notifier import Notifier

log = logging.getLogger(__name__)

KEEP_WORDS = ("hold", "wait", "keep", "stay")
CALLBACK_WORDS = ("call", "back", "callback")


class Hold:
    def __init__(
        self, ctx: Context, notifier: Notifier, lead_notice: LeadNotice, red_flags: RedFlagAlerts | None = None
    ):
        self.ctx = ctx
        self.notify = notifier
        self.lead_notice = lead_notice
        self.red_flags = red_flags

    def start(
        self, esc_id: str, after_round: int | None = None, entry: dict[str, str] | None = None, **fields: str
    ) -> int:
        """A new hold round: check-ins at every check-in interval, the limit at the end.
        `after_round`: the round before, when the caller knows it (a new escalation's is 0: no
        read); `entry` and `fields`: written with the round, in the same round trip."""
        if after_round is None:
            after_round = int((self.ctx.store.escalation(esc_id) or {}).get("hold_round") or 0)
        round_ = after_round + 1
        now = self.ctx.clock.now()
        self.ctx.store.update_escalation_with(
            esc_id, entry, hold_round=round_, hold_round_started_at=now.isoformat(timespec="seconds"), **fields
        )
        hold = self.ctx.policy.hold
        timers: list[tuple[datetime, Command, str]] = [
            (
                now + timedelta(seconds=n * hold.check_in_seconds),
                HoldCheckIn(esc_id, round_, n),
                job_id("check_in", esc_id, round_, n),
            )
            for n in range(1, (hold.limit_seconds - 1) // hold.check_in_seconds + 1)
        ]
        timers.append(
            (
                now + timedelta(seconds=hold.limit_seconds),
                HoldLimit(esc_id, round_),
                job_id("hold_limit", esc_id, round_),
            )
        )
        self.ctx.timers.at_many(timers)
        return round_

    def stop(self, esc_id: str) -> None:
        """Timers stop the moment a lead is connected or the caller leaves hold (R-HOLD-4)."""
        self.ctx.store.update_escalation(esc_id, hold_round=-1)

    def _holding(self, esc_id: str, round_: int) -> dict[str, str] | None:
        esc = self.ctx.store.escalation(esc_id)
        if esc is None or esc["state"] not in HOLDING_STATES or esc.get("hold_round") != str(round_):
            return None
        return esc

    def check_in(self, esc_id: str, round_: int, n: int) -> bool:
        """R-HOLD-2: the caller hears the check-in message; the agent's console is prompted."""
        return self.check_ins([(esc_id, round_, n)]) == 1

    def check_ins(self, due: list[tuple[str, int, int]]) -> int:
        """R-HOLD-2 for the (escalation, round, n) check-ins one timer job runs: the checks, the
        once-only markers and the timeline entries of them all are one store script (issue 19),
        then each caller still holding hears theirs. One that Twilio cannot play is logged and the
        rest go on. Returns how many were made."""
        hold = self.ctx.policy.hold
        taken = self.ctx.store.take_check_ins(
            [
                (
                    esc_id,
                    round_,
                    f"check_in:{esc_id}:{round_}:{n}",
                    self.ctx.event(
                        "check_in", f"caller on hold {n * hold.check_in_seconds / 60:g} min: check in with them"
                    ),
                )
                for esc_id, round_, n in due
            ],
            HOLDING_STATES,
        )
        made = 0
        for (esc_id, _, n), esc in zip(due, taken, strict=True):
            if esc is None:
                continue
            made += 1
            with bound(escalation_id=esc_id):
                self._lateness("check_in", esc, n * hold.check_in_seconds)
                if (esc.get("caller_placement") or "conference") != "conference":
                    continue
                try:
                    self.ctx.twilio.hold(esc["conference_sid"], esc["call_sid"], self.ctx.urls.hold_check_in(esc_id, n))
                except TelephonyFailure as exc:
                    log.warning("check-in for %s could not be played: %s", esc_id, exc.message)
                except Exception:  # taken already: tried again it would do nothing, so the next goes on
                    log.exception("check-in for %s failed", esc_id)
        return made

    def limit(self, esc_id: str, round_: int, tries: int = 0) -> bool:
        """R-HOLD-3: at the limit the caller leaves hold for a menu (a held caller cannot press
        keys); after the allowed resets they go to the callback offer or voicemail. If Twilio
        cannot redirect them, the limit is tried again until it works or the caller has gone:
        a caller is never left on hold past the limit because one request failed."""
        esc = self._holding(esc_id, round_)
        marker = f"hold_limit:{esc_id}:{round_}"
        if esc is None or not self.ctx.store.first_time(marker):
            return False
        if not tries:
            self._lateness("hold_limit", esc, self.ctx.policy.hold.limit_seconds)
        hold = self.ctx.policy.hold
        if int(esc.get("hold_resets") or 0) < hold.keep_holding_resets:
            target, detail = self.ctx.urls.hold_offer(esc_id), "offered to keep holding or a callback"
        elif hold.after_last_limit == "voicemail":
            target, detail = self.ctx.urls.voicemail(esc_id), "sent to voicemail"
        else:
            target, detail = self.ctx.urls.callback_step("number", esc_id), "sent to the callback offer"
        try:
            self.ctx.twilio.redirect(esc["call_sid"], target)
        except TelephonyFailure as exc:
            self.ctx.store.forget_seen(marker)
            self.notify.step_failed(esc_id, "hold_limit", exc, tries)
            self.ctx.timers.again(HoldLimit(esc_id, round_, tries + 1), key=job_id("hold_limit", esc_id, round_))
            return False
        self.ctx.store.add_event(esc_id, self.ctx.event("hold_limit", detail))
        self.ctx.store.update_escalation(esc_id, caller_placement="menu", limit_round=round_)
        self.lead_notice.tell(esc, "hold_limit")
        return True

    def _lateness(self, timer: str, esc: dict[str, str], after_seconds: int) -> None:
        """How late this timer ran against its due time (the operator's view of the scheduler)."""
        started = esc.get("hold_round_started_at")
        if started:
            due = datetime.fromisoformat(started) + timedelta(seconds=after_seconds)
            TIMER_LATENESS_SECONDS.labels(timer=timer).observe(max(0.0, (self.ctx.clock.now() - due).total_seconds()))

    def words_on_hold(self, esc_id: str, check_in: int) -> str | None:
        """What a held caller hears next, or None for music only (R-HOLD-1, R-HOLD-2). The message
        follows the escalation: "getting a lead" while one is sought, "a lead is reviewing your
        call" once one has accepted, naming the role being reached. It is said at most once per
        message_repeat_seconds, and a check-in takes its place: the two never follow each other."""
        esc = self.ctx.store.escalation_fields(esc_id, "hold_round", "hold_said_at", "tier", "kind")
        if esc is None or esc["state"] not in HOLDING_STATES:
            return None
        hold = self.ctx.policy.hold
        now = self.ctx.clock.now().timestamp()
        if check_in and self.ctx.store.first_time(f"check_in_said:{esc_id}:{esc.get('hold_round')}:{check_in}"):
            self.ctx.store.note_escalation(esc_id, hold_said_at=now)
            return with_role(hold.check_in_message, self.role_sought(esc))
        if now - float(esc.get("hold_said_at") or 0) < hold.message_repeat_seconds:
            return None
        self.ctx.store.note_escalation(esc_id, hold_said_at=now)
        text = hold.briefing_message if esc["state"] == EscalationState.BRIEFING else hold.message
        return with_role(text, self.role_sought(esc))

    def heard(self, esc: dict[str, str], speech: str) -> None:
        """What the caller said at a menu goes through the red-flag matcher too (R-NOTE-5)."""
        if speech and self.red_flags is not None:
            self.red_flags.heard_at_menu(esc["call_sid"], speech, esc["id"])

    def role_for(self, esc_id: str) -> str:
        esc = self.ctx.store.escalation(esc_id)
        return self.role_sought(esc) if esc else "lead"

    def role_sought(self, esc: dict[str, str]) -> str:
        """The role of the person being reached: the tier rung now, or the first tier of the kind
        (only `tier` and `kind`: words_on_hold reads no more of the escalation)."""
        tier = esc.get("tier") or self.ctx.policy.kinds[esc["kind"]].tiers[0]
        return tier.replace("_", " ")

    def choice(self, esc_id: str, digits: str, speech: str) -> str:
        """'keep', 'callback', 'unclear' or 'gone', from a key or a spoken word. Keeping holding
        resets the clock once per limit reached, however often the request is replayed."""
        esc = self.ctx.store.escalation(esc_id)
        if esc is None or esc["state"] not in HOLDING_STATES:
            return "gone"
        self.heard(esc, speech)
        words = speech.lower()
        if digits == "1" or (not digits and any(w in words for w in KEEP_WORDS) and "back" not in words):
            if not self.ctx.store.first_time(f"keep_holding:{esc_id}:{esc.get('limit_round', '')}"):
                return "keep"
            resets = int(esc.get("hold_resets") or 0) + 1
            self.ctx.store.update_escalation(esc_id, hold_resets=resets, caller_placement="outside")
            self.ctx.store.add_event(esc_id, self.ctx.event("keep_holding", f"reset {resets}"))
            self.start(esc_id)
            self.lead_notice.tell_soon(esc_id, "still_holding")
            return "keep"
        if digits == "2" or (not digits and any(w in words for w in CALLBACK_WORDS)):
            self.ctx.store.add_event(esc_id, self.ctx.event("callback_chosen", "at the hold limit"))
            return "callback"
        return "unclear"
