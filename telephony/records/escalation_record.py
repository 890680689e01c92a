"""The escalation record (R-NOTE-3): seed 004's SharePoint escalation ("who called? account
number and good contact number ... what transpired, the name of the caller, their call back number
and their preferred time frame") and seed 001's escalation form, with the steps taken to
de-escalate (seed 000) and the resolution offered, plus the one-line account note for the CRM in
the manner of seed 004's ("John vfyd pin, wanted to speak to a Sup. but none avail. ... Advised John
he will receive a cb within 24hrs."), in plain words.

A finished escalation's record is written to the history database (issue 30,
telephony/adapters/history) the moment it finishes and rewritten whenever it changes afterwards,
so it outlives the live keys; the export and the reports read the database, and live state for
escalations it does not hold yet."""

from __future__ import annotations

import heapq
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from telephony.adapters.history import History
from telephony.commands import PruneRecords
from telephony.config import ApiToken
from telephony.context import Context
from telephony.errors import Forbidden, NotFound
from telephony.lifecycle import CallbackStatus, EscalationState, finished
from telephony.notify.early_warning import early_warning_of
from telephony.records.case import case_view, tags_of
from telephony.records.days import day_range
from telephony.records.export import csv_lines, json_pieces, masked
from telephony.records.facts import facts

log = logging.getLogger(__name__)

LEAD_ROLES = ("lead", "supervisor", "manager")
PRUNE_KEY = "prune-records"
ASKED = {
    "manager_request": "asked to speak to a manager",
    "supervisor_demanded": "demanded a supervisor",
    "formal_complaint": "made a formal complaint",
    "abusive": "was abusive",
    "no_authority": "needed a decision the agent could not make",
}
# What each timeline event reads as in the record; {d} is the event's detail.
HAPPENED = {
    "caller_agreed_to_hold": "the caller agreed to be placed on hold",
    "caller_on_hold": "the caller was placed on hold",
    EscalationState.DIALING_LEAD: "{d} was rung",
    "lead_answered": "{d} answered",
    "lead_accepted": "{d} accepted the call",
    "lead_declined": "{d} declined the call",
    "lead_unavailable": "not rung, {d}",
    "next_tier": "moved on to the {d} tier",
    "tiers_exhausted": "nobody in the tiers answered or accepted; the caller was offered a callback",
    "leads_busy": "every one of them was busy; the caller was offered to keep holding or a callback",
    "hold_limit": "the caller reached the hold limit and was offered to keep holding or a callback",
    "keep_holding": "the caller chose to keep holding ({d})",
    "callback_chosen": "the caller chose a callback ({d})",
    EscalationState.CALLBACK_SCHEDULED: "callback booked: {d}",
    "callback_refused": "the caller refused a callback; {d}",
    "caller_connected": "the caller was put through {d}",
    "agent_left": "the agent, {d}, left the call",
    "lead_left": "{d}",
    "caller_left": "the caller hung up",
    "voicemail_left": "the caller left a voicemail",
    "hold_failed": "the caller could not be placed on hold (Twilio failed)",
    "warning_protocol": "warning protocol: {d}",
    "early_warning": "the call had been flagged as likely to escalate, {d}",
    "red_flag_told": "red flag {d}",
    "email_sent": "the managers were emailed: {d}",
    "email_not_sent": "the managers' email was not sent yet: {d}",
    "case_opened": "case opened: {d}",
    "case_routed": "case routed: {d}",
    "case_moved": "case moved: {d}",
    "callback_attempt": "callback, {d}",
    "callback_dialing_lead": "callback: {d} was rung first",
    "callback_dialing_caller": "callback: the caller was rung at {d}",
    "callback_connected": "callback: the {d}",
    "callback_ended": "the callback call ended",
    "callback_machine": "callback: an answering machine answered; a message was left",
    "callback_retry": "callback not made yet: {d}",
    "callback_gave_up": "callback given up: {d}",
    "callback_cancelled": "callback cancelled {d}",
    "callback_overdue": "callback overdue: {d}",
    "callback_rescheduled": "callback rescheduled {d}",
}


class Records:
    def __init__(self, ctx: Context, retention_days: int, history: History):
        self.ctx = ctx
        self.keep_seconds = retention_days * 86400
        self.history = history

    # -- the archive --------------------------------------------------------------------------
    def archive(self, esc_id: str) -> dict[str, Any] | None:
        """The record as it now is, written to the history database (telephony/handlers.py: when
        the escalation finishes, and whenever a finished one changes, from the events the store
        wrote with the change), so no way of finishing (there are a dozen) can forget it. An
        upsert by escalation id: a retried event changes nothing. The database down, this raises
        and the event stays in the outbox for the next drain (issue 30); once the record is in
        the database, Redis keeps no copy of it."""
        record = self.build(esc_id)
        if record is None:
            return None
        self.history.save(esc_id, record, facts(record), self.ctx.clock.now())
        self.ctx.store.drop_record(esc_id)
        ensure_prune(self.ctx)
        return record

    def prune(self) -> int:
        """RECORDS_RETENTION_DAYS: records last written longer ago leave the database (a daily
        timer, PruneRecords); then the next prune."""
        gone = self.history.delete_written_before(self.ctx.clock.now() - timedelta(seconds=self.keep_seconds))
        ensure_prune(self.ctx, again=True)
        return gone

    def copy_archive(self, batch: int = 500) -> dict[str, int]:
        """Upgrading (issue 30): every record of the old Redis archive copied into the history
        database, then dropped from Redis; safe to run twice (an upsert, and what was copied is
        gone from Redis). Returns what it found and copied."""
        found = self.ctx.store.archived_record_count()
        copied = skipped = 0
        after = float("-inf")
        while page := self.ctx.store.archived_id_page(after, batch):
            ids = [esc_id for esc_id, _ in page]
            items = []
            for esc_id, record in zip(ids, self.ctx.store.archived_records(ids), strict=True):
                if record is None:
                    skipped += 1  # the index outlived the record (it expired): nothing to copy
                else:
                    items.append((esc_id, record, facts(record)))
            copied += self.history.save_many(items, self.ctx.clock.now())
            for esc_id in ids:
                self.ctx.store.drop_record(esc_id)
            after = page[-1][1]
        return {"found": found, "copied": copied, "expired": skipped, "in_database": self.history.count()}

    # -- reading ------------------------------------------------------------------------------
    def read(self, actor: ApiToken, esc_id: str) -> dict[str, Any]:
        """GET /api/escalations/<id>/record: the rules of GET /api/escalations/<id> (an agent,
        only their own calls'); phone numbers in full for leads and up only."""
        record = self.build(esc_id) or self.history.record(esc_id) or self.ctx.store.record(esc_id)
        if record is None:
            raise NotFound(f"No escalation {esc_id}.", code="escalation_not_found")
        if actor.role == "agent":
            if actor.person_id not in (record.get("agent_id"), record.get("created_by")):
                raise Forbidden("An agent can see only the escalations of their own calls.", code="not_your_call")
            agent_view: dict[str, Any] = masked(record)
            return agent_view
        return record

    def export(self, actor: ApiToken, args: dict[str, str]) -> tuple[str, Iterator[str], str]:
        """GET /api/records: (format, the body in pieces, file name). Leads and up; the days are
        the organisation's (policy time zone), both included, at most MAX_RANGE_DAYS. Everything
        is checked before the first piece, so a bad query is a 400, never half a file."""
        if actor.role not in LEAD_ROLES:
            raise Forbidden("Only leads, supervisors and managers export escalation records.", code="role_not_allowed")
        days = day_range(args, self.ctx.policy.time_zone, "Export")
        first, last, fmt, zone, start, end = days.first, days.last, days.fmt, days.zone, days.start, days.end
        records = self.created_between(start, end)
        name = f"escalation-records-{first.isoformat()}-to-{last.isoformat()}.{fmt}"
        if fmt == "csv":
            return fmt, csv_lines(records), name
        head = {"from": first.isoformat(), "to": last.isoformat(), "time_zone": zone.key}
        return fmt, json_pieces(head, records), name

    def created_between(self, start: float, end: float) -> Iterator[dict[str, Any]]:
        """Every escalation created in [start, end) (epoch seconds), as its record, oldest first:
        the history database's, streamed, and those it does not hold yet (escalations still
        going, an event not drained yet, an old Redis archive not copied yet) from Redis."""
        for _, _, record in self._merged(start, end):
            yield record

    def not_in_history(self, start: float, end: float) -> list[tuple[float, str, dict[str, Any]]]:
        """(created, id, record) of the escalations in [start, end) the history database does not
        hold: live state where Redis keeps it, else the old archive; oldest first."""
        live = self.ctx.store.live_ids_between(start, end)
        old = self.ctx.store.archived_ids_between(start, end)
        known = self.history.known(list(dict.fromkeys([*live, *(i for i, _ in old)])))
        out: list[tuple[float, str, dict[str, Any]]] = []
        for esc_id in live:
            if esc_id not in known and (record := self.build(esc_id)) is not None:
                out.append((datetime.fromisoformat(record["created_at"]).timestamp(), esc_id, record))
        taken = {esc_id for _, esc_id, _ in out}
        waiting = [(i, at) for i, at in old if i not in known and i not in taken]
        archived = self.ctx.store.archived_records([i for i, _ in waiting])
        out += [(at, i, r) for (i, at), r in zip(waiting, archived, strict=True) if r is not None]
        return sorted(out, key=lambda item: (item[0], item[1]))

    def _merged(self, start: float, end: float) -> Iterator[tuple[float, str, dict[str, Any]]]:
        extra = self.not_in_history(start, end)
        stored = (
            (created.timestamp(), esc_id, json.loads(raw))
            for created, esc_id, raw in self.history.records_between(_utc(start), _utc(end))
        )
        return heapq.merge(stored, extra, key=lambda item: (item[0], item[1]))

    # -- building a record from the live keys ---------------------------------------------------
    def build(self, esc_id: str) -> dict[str, Any] | None:
        store, policy = self.ctx.store, self.ctx.policy
        esc = store.escalation(esc_id)
        if esc is None:
            return None
        timeline = store.timeline(esc_id)
        call = store.call(esc.get("call_sid", "")) or {}
        cb = store.callback(esc["callback_id"]) if esc.get("callback_id") else None
        client = json.loads(esc.get("client") or "{}")
        taker = policy.person(esc.get("assignee", ""))
        case = case_view(esc) or {}
        record: dict[str, Any] = {
            "id": esc_id,
            "organisation": policy.name,
            "kind": esc.get("kind", ""),
            "state": esc.get("state", ""),
            "finished": finished(esc.get("state", ""), (cb or {}).get("status", "")),
            "created_at": self._local(esc["created_at"]).isoformat(),
            "updated_at": self._local(timeline[-1]["at"] if timeline else esc["created_at"]).isoformat(),
            "caller_name": client.get("name", ""),
            "contact_name": client.get("contact_name", ""),
            "account": client.get("account") or call.get("account", ""),
            "contact_number": esc.get("caller_number") or call.get("from", ""),
            "segment": client.get("segment", ""),
            "region": client.get("region", ""),
            "client_link": client.get("link", ""),
            "agent": self.ctx.name(esc["agent_id"]) if esc.get("agent_id") else "",
            "agent_id": esc.get("agent_id", ""),
            "created_by": esc.get("created_by", ""),
            "taken_by": taker.name if taker else "",
            "taken_by_role": taker.role if taker else "",
            "reason": esc.get("reason", ""),
            "deescalation_steps": json.loads(esc.get("deescalation_steps") or "[]"),
            "resolution_offered": esc.get("resolution_offered", ""),
            "what_happened": self._what_happened(esc, timeline),
            **self._callback(cb),
            "case_department": case.get("department"),
            "case_owner": case.get("owner"),
            "case_status": case.get("status"),
            "tags": tags_of(esc),
            "early_warning": early_warning_of(esc),
            "timeline": timeline,
        }
        record["crm_note"] = self._crm_note(record, timeline, cb)
        return record

    def _local(self, stamp: str) -> datetime:
        return datetime.fromisoformat(stamp).astimezone(self.ctx.policy.time_zone)

    def _when(self, stamp: str, day: date) -> str:
        """'10:04 AM', with the day in front when it is not the escalation's own."""
        at = self._local(stamp)
        clock = at.strftime("%I:%M %p").lstrip("0")
        return clock if at.date() == day else f"{at.strftime('%a %d %b')} {clock}"

    def _what_happened(self, esc: dict[str, str], timeline: list[dict[str, str]]) -> list[str]:
        """The timeline in sentences, in the organisation's time: who was rung, who accepted or
        declined, the hold and its check-ins, the callback."""
        day = self._local(esc["created_at"]).date()
        lines = []
        for event in timeline:
            name, detail = event.get("event", ""), event.get("detail", "")
            if name == "escalated":
                text = f"{self.ctx.name(esc.get('created_by', '')) or 'the agent'} escalated the call"
                text += f" ({esc.get('kind', '').replace('_', ' ')})"
            elif name == "check_in":
                minutes = re.search(r"on hold ([\d.]+) min", detail)
                text = "check-in with the caller on hold" + (f", {minutes.group(1)} min" if minutes else "")
            elif name in ("lead_no_answer", "callback_lead_no_answer"):
                who = detail.partition(": ")[0]
                text = ("callback: " if name.startswith("callback") else "") + f"{who} did not answer"
            elif name == "lead_told":
                text = f"the person reached was told: {detail.replace('_', ' ')}"
            elif name in HAPPENED:
                text = HAPPENED[name].format(d=detail).replace(" ()", "")
            else:
                text = name.replace("_", " ") + (f": {detail}" if detail else "")
            lines.append(f"{self._when(event['at'], day)} {text}")
        return lines

    def _callback(self, cb: dict[str, str] | None) -> dict[str, Any]:
        """The callback number and the caller's preferred time frame: their words, and the window
        as dates in the organisation's time (their words say 'today', which a record outlives)."""
        if cb is None:
            keys = ("number", "time_frame", "window_start", "window_end", "deadline", "status")
            return {f"callback_{k}": None for k in keys}
        start, end = self._local(cb["window_start"]), self._local(cb["window_end"])
        span = f"{start.strftime('%a %d %b %Y')}, {_clock(start)} to {_clock(end)} {start.tzname()}"
        return {
            "callback_number": cb.get("number", ""),
            "callback_time_frame": f"{cb.get('requested') or 'a window'} ({span})",
            "callback_window_start": start.isoformat(),
            "callback_window_end": end.isoformat(),
            "callback_deadline": self._local(cb["deadline"]).isoformat() if cb.get("deadline") else None,
            "callback_status": cb.get("status", ""),
        }

    def _crm_note(self, record: dict[str, Any], timeline: list[dict[str, str]], cb: dict[str, str] | None) -> str:
        """One line for the account, in plain words (seed 004's Prism note): who, what they
        wanted, what was offered, who took it or that nobody could, and what they were told."""
        events = {e.get("event") for e in timeline}
        who = record["contact_name"] or record["caller_name"] or "The caller"
        account = f" (account {record['account']})" if record["account"] else ""
        reason = record["reason"].rstrip(".")
        parts = [f"{who}{account} {ASKED.get(record['kind'], 'escalated')}: {reason}."]
        if record["early_warning"]:
            parts.append(f"Flagged early by {self.ctx.name(record['early_warning']['by'])}.")
        if "warning_protocol" in events:
            parts.append("Warned twice first.")
        if record["deescalation_steps"]:
            parts.append(f"Tried first: {'; '.join(s.rstrip('.') for s in record['deescalation_steps'])}.")
        if record["resolution_offered"]:
            parts.append(f"Offered {record['resolution_offered'].rstrip('.')}.")
        if events & {"tiers_exhausted", "leads_busy"}:
            tiers = self.ctx.policy.kinds[record["kind"]].tiers if record["kind"] in self.ctx.policy.kinds else ()
            parts.append(f"No {' or '.join(dict.fromkeys(tiers)) or 'one'} was free to take the call.")
        if "caller_on_hold" in events:
            parts.append(f"Posted to {self.ctx.policy.notifications.channel}.")
        if "email_sent" in events:
            parts.append("Emailed the managers.")
        if record["taken_by"] and "caller_connected" in events:
            parts.append(f"Put through to {record['taken_by']} ({record['taken_by_role']}).")
        if cb is not None:
            parts += self._callback_note(who, record, cb)
        elif record["state"] == EscalationState.ABANDONED:
            parts.append(f"{who} hung up before anyone took the call.")
        elif "callback_refused" in events:
            parts.append(f"{who} refused a callback; the agent's leader was told.")
        elif "hold_failed" in events:
            parts.append("The hold failed; the caller stayed with the agent.")
        return " ".join(" ".join(parts).split())

    def _callback_note(self, who: str, record: dict[str, Any], cb: dict[str, str]) -> list[str]:
        """What the caller was told ('Advised John he will receive a cb within 24hrs'), with the
        window's day (their words say 'today'), then how the callback went."""
        booked, due = cb.get("created_at"), cb.get("deadline")
        if booked and due and datetime.fromisoformat(due) - datetime.fromisoformat(booked) == timedelta(hours=24):
            by = "within 24 hours"
        else:
            by = f"by {self._when(due, date.min)}" if due else ""
        day = self._local(cb["window_start"]).strftime("%a %d %b")
        said = f"Advised {who} they will receive a callback {cb.get('requested') or ''} ({day}), {by}."
        notes = [said.replace(" ,", ",").replace(", .", ".")]
        status = cb.get("status", "")
        if status == CallbackStatus.COMPLETED:
            taker = f" by {record['taken_by']}" if record["taken_by"] else ""
            notes.append(f"Called back {self._when(cb.get('completed_at') or cb['window_start'], date.min)}{taker}.")
        elif status == CallbackStatus.CANCELLED:
            notes.append("The callback was cancelled.")
        elif status == CallbackStatus.NO_ANSWER:
            notes.append("The callback could not reach them; follow up by hand.")
        return notes


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def ensure_prune(ctx: Context, again: bool = False) -> None:
    """One prune timer a day while there are records (RECORDS_RETENTION_DAYS)."""
    ctx.timers.at(ctx.clock.now() + timedelta(days=1), PruneRecords(), key=PRUNE_KEY, only_if_none=not again)


def _clock(at: datetime) -> str:
    return at.strftime("%I:%M %p").lstrip("0")
