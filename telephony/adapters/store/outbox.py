"""The outbox (issue 29): the domain events each change wrote beside itself in the same script
(scripts.OUTBOX), one entry of the organisation's stream `outbox` each, until a worker has run
every handler of it. A drain claims an entry for a while (two workers never run it at once) and
marks each handler done once it has run, so a drain killed half-way and run again later does
only what is left."""

from __future__ import annotations

import json
from typing import Any

from telephony.adapters.store.base import StoreBase, text

MARK_SECONDS = 86400


class OutboxStore(StoreBase):
    def outbox(self, count: int = 100, after: str = "") -> list[tuple[str, dict[str, Any]]]:
        """The oldest `count` entries (after the entry id `after`, when given): (entry id, the
        event as written)."""
        entries = self.r.xrange(self.k.OUTBOX, min=f"({after}" if after else "-", count=count)
        return [(text(i), json.loads(text((f or {}).get(b"event", b"{}")))) for i, f in entries or []]

    def outbox_oldest(self) -> float | None:
        """When the oldest entry still waiting was written (epoch seconds), or None."""
        first = self.r.xrange(self.k.OUTBOX, count=1)
        return int(text(first[0][0]).split("-")[0]) / 1000 if first else None

    def outbox_length(self) -> int:
        """Events waiting for their handlers (the history's backlog when the database is down)."""
        return int(self.r.xlen(self.k.OUTBOX))

    def claim_outbox_entry(self, entry_id: str, seconds: int) -> bool:
        """This drain runs the entry's handlers for the next `seconds` (then, if it died, another
        may); only while the entry is still in the outbox (scripts.CLAIM_OUTBOX_ENTRY)."""
        return bool(
            self._claim_outbox(keys=[self.k.OUTBOX, self.k.seen(f"outbox:{entry_id}")], args=[entry_id, seconds]) == 1
        )

    def release_outbox_entry(self, entry_id: str) -> None:
        self.r.delete(self.k.seen(f"outbox:{entry_id}"))

    def handled(self, entry_id: str, handler: str) -> bool:
        return bool(self.r.exists(self.k.seen(f"outbox:{entry_id}:{handler}")))

    def mark_handled(self, entry_id: str, handler: str) -> None:
        self.r.set(self.k.seen(f"outbox:{entry_id}:{handler}"), 1, ex=MARK_SECONDS)

    def outbox_done(self, entry_id: str, handlers: tuple[str, ...] = ()) -> None:
        """Every handler ran: the entry goes, with its claim and its handlers' marks (no drain can
        claim it any more, so they are not needed; left, they would cost keys for a day)."""
        with self.r.pipeline(transaction=True) as pipe:
            pipe.xdel(self.k.OUTBOX, entry_id)
            pipe.delete(self.k.seen(f"outbox:{entry_id}"), *(self.k.seen(f"outbox:{entry_id}:{h}") for h in handlers))
            pipe.execute()
