"""A manager's what-if replays from the console (docs/what-if.md): one hash each, the request
(days, both policies' TOML) and, once the job has run, its status and result as JSON. Kept for
a week (WHAT_IF_TTL_SECONDS), then gone on their own: a replay is cheap to run again."""

from __future__ import annotations

import json
from typing import Any

from telephony.adapters.store import keys
from telephony.adapters.store.base import StoreBase, as_text

WHAT_IF_TTL_SECONDS = 7 * 86400


class WhatIfStore(StoreBase):
    def save_what_if(self, ident: str, fields: dict[str, Any], ttl: int = WHAT_IF_TTL_SECONDS) -> None:
        """A new replay's request (or more of an existing one's fields); the TTL starts again."""
        key = self.k.what_if(ident)
        with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={k: as_text(v) for k, v in fields.items()})
            pipe.expire(key, ttl)
            pipe.execute()

    def what_if(self, ident: str) -> dict[str, str] | None:
        if not keys.safe_id(ident):
            return None
        return self._hash(self.k.what_if(ident))

    def what_if_result(self, ident: str) -> dict[str, Any] | None:
        found = self.what_if(ident)
        raw = (found or {}).get("result")
        return json.loads(raw) if raw else None
