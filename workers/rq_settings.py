"""`rq worker -c workers.rq_settings`: the worker reaches Redis the way the web service does,
REDIS_URL or Redis Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_MASTER), read from the same settings
(telephony/config.py), so a bad value stops the worker with the same one line."""

from __future__ import annotations

import os

from telephony.config import _sentinels

_found, _master = _sentinels(os.environ)
if _found:
    SENTINEL = {
        "INSTANCES": list(_found),
        "MASTER_NAME": _master,
        "SOCKET_TIMEOUT": 5,
        "SENTINEL_KWARGS": {"socket_timeout": 1, "socket_connect_timeout": 1},
        "CONNECTION_KWARGS": {"socket_connect_timeout": 2},
    }
else:
    REDIS_URL = os.environ.get("REDIS_URL", "").strip() or "redis://127.0.0.1:6379/0"


def _warm() -> None:
    """Build the core once, here in the worker's own process, before it forks a work-horse per
    job: each horse then starts with the jobs imported and the policy loaded. Without this every
    job paid for both (seconds on a busy machine: a caller waited that long for their agent to
    be rung). Redis connections are not shared with the horses: redis-py reconnects after fork."""
    import sys

    from telephony.config import ConfigError
    from telephony.policy import PolicyError
    from workers.runtime import core

    try:
        core()
    except (ConfigError, PolicyError) as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        sys.exit(2)


_warm()
