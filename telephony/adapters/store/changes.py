"""The change stream: every write that a console shows is told here, as one entry of a capped
Redis stream (a console that reconnects with Last-Event-ID replays what it missed) and a pub/sub
nudge that wakes every web worker; changes to escalations and callbacks also reach `on_change`
(the records archive, R-NOTE-3)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import redis

from telephony.adapters.store.base import EVENTS_KEPT, StoreBase, as_text, text

# The records changed inside `changes_told_once`, in order, told when it ends.
_HELD: ContextVar[dict[tuple[str, str], None] | None] = ContextVar("changes_held", default=None)


class ChangeStream(StoreBase):
    def changed(self, kind: str, ident: str) -> str:
        """Tell every console what changed: a capped stream, so a console that reconnects with
        Last-Event-ID replays what it missed, and a pub/sub nudge that wakes every web worker."""
        event_id = text(self._changed(keys=[self.k.EVENTS], args=[kind, ident, EVENTS_KEPT]))
        self._tell_on_change(kind, ident)
        return event_id

    def _tell_on_change(self, kind: str, ident: str) -> None:
        """Every change the consoles hear of, whichever script made it, reaches on_change too
        (inside `changes_told_once`, once at its end)."""
        if self.on_change is not None and kind in ("escalation", "callback"):
            held = _HELD.get()
            if held is not None:
                held.setdefault((kind, ident), None)
                return
            self.on_change([(kind, ident)])

    @contextmanager
    def changes_told_once(self) -> Iterator[None]:
        """A step of several writes (a callback dial: the claim, two timeline entries, the lead
        rung) tells on_change (the records archive, a round trip) once, of every record it
        changed, at the end and as things then are, not after each write (issue 19). The
        consoles still hear each write as it is made."""
        if _HELD.get() is not None:  # already inside one: the outer one tells
            yield
            return
        token = _HELD.set({})
        try:
            yield
        finally:
            held = _HELD.get() or {}
            _HELD.reset(token)
            if held and self.on_change is not None:
                self.on_change(list(held))

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
        done = bool(self._update_and_tell(keys=[key, self.k.EVENTS], args=[kind, ident, EVENTS_KEPT, *flat]) == 1)
        if done:
            self._tell_on_change(kind, ident)
        return done

    def _call_cas(self, call_sid: str, field: str, expected: str, fields: dict[str, Any]) -> bool:
        done = self._cas(self.k.call(call_sid), "", field, expected, None, fields)
        if done:
            self.changed("call", call_sid)
        return done
