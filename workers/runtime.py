"""The core a worker process uses: built once from the environment, or handed in (tests, the
simulator) when the worker runs in the same process as the web service."""

from __future__ import annotations

import logging

from telephony.core import Core

_core: Core | None = None


def use(core: Core | None) -> None:
    global _core
    _core = core


def core() -> Core:
    global _core
    if _core is None:
        from telephony.adapters.store import connect, persistence_problem
        from telephony.config import Settings, check_persistence
        from telephony.core import build_core
        from telephony.logs import configure_logging

        configure_logging()
        settings = Settings.from_env()
        if settings.redis_url is None and not settings.redis_sentinels:
            raise RuntimeError(
                "REDIS_URL or REDIS_SENTINELS must be set for a worker: it shares the web service's Redis"
            )
        conn = connect(settings)
        check_persistence(settings, persistence_problem(conn), logging.getLogger("workers"))
        _core = build_core(settings, conn)
    return _core
