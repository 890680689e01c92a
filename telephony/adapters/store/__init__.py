"""Live state in Redis, one module per aggregate: calls and legs (`calls`), escalations
(`escalations`), callbacks (`callbacks`), people and presence (`people`), records, notes, emails
and tasks (`records`), managers' what-if replays (`what_ifs`), the change stream the consoles
read (`changes`), the domain events waiting for the workers (`outbox`), over one connection and its Lua scripts (`base`, `scripts`). Every key comes from `keys`. `Store` is all of them on one
connection, so the core holds one object; timers live beside it in `telephony.adapters.timers`.
Imports nothing of the domain."""

from __future__ import annotations

from telephony.adapters.store.base import DEFAULT_KEEP_SECONDS, LEG_TTL_SECONDS
from telephony.adapters.store.callbacks import CallbackStore
from telephony.adapters.store.calls import CALL_STATUS_RANK, TERMINAL_CALL_STATUSES, CallStore
from telephony.adapters.store.connection import connect, connect_queues, persistence_problem, sentinel_master
from telephony.adapters.store.escalations import EscalationStore
from telephony.adapters.store.keys import safe_id
from telephony.adapters.store.outbox import OutboxStore
from telephony.adapters.store.people import PeopleStore
from telephony.adapters.store.records import RecordStore
from telephony.adapters.store.what_ifs import WhatIfStore

__all__ = [
    "CALL_STATUS_RANK",
    "DEFAULT_KEEP_SECONDS",
    "LEG_TTL_SECONDS",
    "TERMINAL_CALL_STATUSES",
    "Store",
    "connect",
    "connect_queues",
    "persistence_problem",
    "safe_id",
    "sentinel_master",
]


class Store(CallStore, EscalationStore, CallbackStore, PeopleStore, RecordStore, WhatIfStore, OutboxStore):
    """Every aggregate's operations on one Redis connection (see each module for why)."""
