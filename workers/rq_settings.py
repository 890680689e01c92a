"""`rq worker -c workers.rq_settings`: the worker reaches Redis the way the web service does,
REDIS_URL or Redis Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_MASTER), read from the same settings
(telephony/config.py), so a bad value stops the worker with the same one line (exit 2).

It also builds the core once, here in the worker's own process, before its first job: the jobs
imported and the policy loaded. Without this every job paid for both (seconds on a busy machine: a
caller waited that long for their agent to be rung). The callers' jobs run in this process
(workers/worker.py); a what-if replay's forked work-horse never uses these Redis connections
(LeanRedis reconnects after a fork)."""

from __future__ import annotations

import sys

import redis

from telephony.config import ConfigError, Settings
from telephony.policy.errors import PolicyError
from workers.runtime import organisations

try:
    _settings = Settings.from_env()
    organisations()  # every organisation's core, built once before the first job
except (ConfigError, PolicyError, RuntimeError) as exc:
    print(f"cannot start: {exc}", file=sys.stderr)
    sys.exit(2)
except redis.RedisError as exc:  # Redis not there yet: RQ waits for it; each job builds the core then
    print(f"Redis does not answer yet ({exc}); the worker waits for it", file=sys.stderr)

if _settings.redis_sentinels:
    SENTINEL = {
        "INSTANCES": list(_settings.redis_sentinels),
        "MASTER_NAME": _settings.redis_sentinel_master,
        "SOCKET_TIMEOUT": 5,
        "SENTINEL_KWARGS": {"socket_timeout": 1, "socket_connect_timeout": 1},
        "CONNECTION_KWARGS": {"socket_connect_timeout": 2},
    }
else:
    REDIS_URL = _settings.redis_url
