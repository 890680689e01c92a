"""`python -m bench.profile_check_in [N]`: where one hold check-in's CPU goes (issue 19). N callers
on hold written into a private Redis, then each one's check-in run in process against the bench's
Twilio stand-in, timed (CPU per check-in) and profiled; the summary goes to
bench/profiles/check-in.txt."""

from __future__ import annotations

import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

from bench import scale
from bench.run import env_for
from bench.twilio_stub import TwilioStub

OUT = Path(__file__).resolve().parent / "profiles" / "check-in.txt"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    from telephony.adapters.local_redis import LocalRedis

    work = Path(tempfile.mkdtemp(prefix="bench-check-in-"))
    server = LocalRedis.start(work / "redis", appendonly=True)
    stub = TwilioStub()
    try:
        core = scale._core(env_for(server.url, stub.url))
        held = scale._holding(core, 2 * n)
        started = time.process_time()
        for esc_id, _ in held[:n]:
            core.hold.check_in(esc_id, 1, 1)
        cpu_ms = (time.process_time() - started) / n * 1000
        profiler = cProfile.Profile()
        profiler.enable()
        for esc_id, _ in held[n:]:
            core.hold.check_in(esc_id, 1, 1)
        profiler.disable()
        OUT.parent.mkdir(parents=True, exist_ok=True)
        with OUT.open("w") as out:
            out.write(f"{n} check-ins, {cpu_ms:.2f} ms CPU each unprofiled\n")
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
        print(f"{cpu_ms:.2f} ms CPU per check-in; profile in {OUT}")
    finally:
        stub.close()
        server.stop()


if __name__ == "__main__":
    main()
