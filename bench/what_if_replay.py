"""One-off measurement (docs/what-if.md): how long a generated day of about 2,000 escalated calls
takes to replay under the default policy on this machine. Not a test, not timed in CI:

    .venv/bin/python -m bench.what_if_replay [CALLS]
"""

from __future__ import annotations

import sys
import time
from datetime import date

from sim.replay import replay
from telephony.config import ROOT
from telephony.policy.loading import load_policy
from telephony.reports.figures import figures
from telephony.what_if.day import generated_day

DAY = date(2026, 12, 1)


def main(calls_wanted: int = 2000) -> None:
    path = ROOT / "policies" / "default.toml"
    policy = load_policy(path)
    hours = 9  # the default policy's business day, 08:00-17:00
    calls = generated_day(policy, DAY, DAY, calls_wanted / hours, seed=1)
    began, cpu = time.monotonic(), time.process_time()
    records, problems = replay(calls, path)
    took, cpu = time.monotonic() - began, time.process_time() - cpu
    body = figures(records, policy.hold.limit_seconds)
    print(
        f"{len(calls)} calls replayed in {took:.0f} s ({took / max(1, len(calls)) * 1000:.0f} ms a call), "
        f"{cpu:.0f} s of CPU in this process (the loopback redis-server's is not counted)"
    )
    print(f"records {len(records)}, simulator problems {len(problems)}: {problems[:3]}")
    print(body)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
