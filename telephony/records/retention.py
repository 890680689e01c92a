"""Finished escalations leave live state (issue 8): Redis holds what is going on, not history.
An escalation that is resolved, abandoned or failed, or whose callback was cancelled or given up,
is purged FINISHED_KEEP_SECONDS later with its timeline, callback and the caller's call; until
then the API and the console still show it. Legs and conference names expire on their own, and a
call that was never escalated expires once it has ended. One purge timer runs while anything
live is left, whatever schedules it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from telephony.commands import PurgeFinished
from telephony.context import Context
from telephony.lifecycle import FINAL_STATES, GIVEN_UP_CALLBACK_STATUSES, EscalationState

PURGE_KEY = "purge-finished"


def callback_over(ctx: Context, esc_id: str) -> None:
    """A callback was cancelled or given up: its escalation is over too."""
    ctx.store.mark_finished(esc_id, ctx.clock.now().timestamp())
    ensure_purge(ctx)


def ensure_purge(ctx: Context, at: datetime | None = None) -> None:
    when = at or ctx.clock.now() + timedelta(seconds=ctx.store.keep_seconds + 60)
    ctx.timers.at(when, PurgeFinished(), key=PURGE_KEY, only_if_none=True)


def purge(ctx: Context) -> int:
    """Purge what finished more than keep_seconds ago; then the next purge, if anything is left."""
    now = ctx.clock.now().timestamp()
    keep = ctx.store.keep_seconds
    purged = 0
    while ids := ctx.store.finished_before(now - keep):
        for esc_id in ids:
            if _over(ctx, esc_id):
                ctx.store.purge_escalation(esc_id)
                purged += 1
            else:
                ctx.store.unmark_finished(esc_id)
    oldest = ctx.store.oldest_finished()
    if oldest is not None:
        ensure_purge(ctx, datetime.fromtimestamp(oldest + keep + 1, UTC))
    elif ctx.store.escalation_ids():
        ensure_purge(ctx)
    return purged


def _over(ctx: Context, esc_id: str) -> bool:
    esc = ctx.store.escalation(esc_id)
    if esc is None:
        return True
    if esc.get("state") in FINAL_STATES:
        return True
    cb = ctx.store.callback(esc.get("callback_id", ""))
    return (
        esc.get("state") == EscalationState.CALLBACK_SCHEDULED
        and (cb or {}).get("status") in GIVEN_UP_CALLBACK_STATUSES
    )
