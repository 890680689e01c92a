"""Upgrading to the history database (issue 30): copy every organisation's old Redis archive of
escalation records (`esc:{<organisation>}:record:<id>` and its index `...:records`) into the
database, then drop each copied record from Redis. Safe to run twice: the write is an upsert by
escalation id, and what was copied is no longer in Redis to copy again. Prints, per organisation,
what it found and copied; `make copy-archive` (docs/operating.md).

Uses the service's own settings (REDIS_URL or the sentinels or the cluster, DATABASE_URL,
POLICY_FILE or POLICIES_DIR), so it copies into the database the service reads."""

from __future__ import annotations

import json
import sys

from telephony.adapters.store import connect, connect_queues
from telephony.config import ConfigError, Settings
from telephony.organisations import build_organisations


def main() -> int:
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"copy-archive: {exc}", file=sys.stderr)
        return 2
    if settings.redis_url is None and not settings.redis_sentinels and not settings.redis_cluster_url:
        print(
            "copy-archive: REDIS_URL (or the sentinels, or the cluster) must name the service's Redis", file=sys.stderr
        )
        return 2
    conn = connect(settings)
    served = build_organisations(settings, conn, queue_conn=connect_queues(settings, conn))
    total = 0
    for core in served.all():
        copied = core.records.copy_archive()
        total += copied["copied"]
        print(json.dumps({"organisation": core.policy.organisation_id, **copied}))
    print(f"copied {total} records into {settings.history_url().split('@')[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
