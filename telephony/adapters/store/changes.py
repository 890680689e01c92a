"""The change stream: every write that a console shows is told here, as one entry of a capped
Redis stream (a console that reconnects with Last-Event-ID replays what it missed) and a pub/sub
nudge that wakes every web worker. The same script tells the records archive (R-NOTE-3) of a
change to a finished escalation, or to one whose callback finished: a `record_changed` event in
the outbox (scripts.TELL), which the workers drain."""

from __future__ import annotations

from typing import Any

import redis

from telephony.adapters.store.base import EVENTS_KEPT, StoreBase, as_text, text

# Changes of these kinds may reach the records archive (scripts.TELL).
ARCHIVED_KINDS = ("escalation", "callback")


class ChangeStream(StoreBase):
    def changed(self, kind: str, ident: str) -> str:
        """Tell every console what changed: a capped stream, so a console that reconnects with
        Last-Event-ID replays what it missed, and a pub/sub nudge that wakes every web worker."""
        cfg = self._outbox_cfg() if kind in ARCHIVED_KINDS else ""
        event_id, written = self._changed(keys=[self.k.EVENTS], args=[kind, ident, EVENTS_KEPT, cfg])
        self._drain(int(written))
        return text(event_id)

    def last_event_id(self) -> str:
        entries = self.r.xrevrange(self.k.EVENTS, count=1)
        return text(entries[0][0]) if entries else "0-0"

    def events_after(self, last_id: str, count: int = 200) -> list[tuple[str, dict[str, str]]]:
        """Events newer than last_id (oldest first); an id the stream no longer holds replays all kept."""
        entries = self.r.xrange(self.k.EVENTS, min=f"({last_id}", count=count)
        return [(text(i), {text(k): text(v) for k, v in (f or {}).items()}) for i, f in entries or []]

    def listen(self) -> redis.client.PubSub:
        """A subscription to the nudges: whoever calls get_message must close it."""
        pubsub: redis.client.PubSub = self.r.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self.k.EVENTS)
        return pubsub

    def _update(self, key: str, kind: str, ident: str, fields: dict[str, Any]) -> bool:
        """Set the fields (None: left alone) of a record that exists, and tell the consoles."""
        flat = [x for k, v in fields.items() if v is not None for x in (k, as_text(v))]
        if not flat:
            return False
        cfg = self._outbox_cfg() if kind in ARCHIVED_KINDS else ""
        done = int(self._update_and_tell(keys=[key, self.k.EVENTS], args=[kind, ident, EVENTS_KEPT, cfg, *flat]))
        self._drain(max(done - 1, 0))
        return done >= 1

    def _call_cas(self, call_sid: str, field: str, expected: str, fields: dict[str, Any]) -> bool:
        done = self._cas(self.k.call(call_sid), "", field, expected, None, fields)
        if done:
            self.changed("call", call_sid)
        return done
