"""`python -m bench.profile_check_in [N] [dial]`: where one hold check-in's (or, with `dial`, one
callback dial's) CPU goes (issue 19). N callers on hold (or N callbacks due) written into a
private Redis, then each one run in process against the bench's Twilio stand-in, timed (CPU each)
and profiled; the summary goes to bench/profiles/check-in.txt (dial.txt). The CPU is the
process's (the stand-in answers in threads of this process, so it is in the figure) and the
job's own thread's (`time.thread_time`: the service's part alone)."""

from __future__ import annotations

import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

from bench import scale
from bench.service import ROOT, env_for
from bench.twilio_stub import TwilioStub

OUT = Path(__file__).resolve().parent / "profiles" / "check-in.txt"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    dialling = "dial" in sys.argv[2:]
    out = OUT.with_name("dial.txt") if dialling else OUT
    from telephony.adapters.local_redis import LocalRedis

    work = Path(tempfile.mkdtemp(prefix="bench-check-in-"))
    server = LocalRedis.start(work / "redis", appendonly=True)
    stub = TwilioStub()
    try:
        env = env_for(server.url, stub.url)
        if dialling:
            env = env | {"POLICY_FILE": str(scale.bench_policy(ROOT, work))}
        core = scale._core(env)
        if dialling:
            ids = scale.callbacks_due(core, 2 * n)
            leads = {p.endpoint: p.id for p in core.ctx.policy.people}
            stub.on_create_call = lambda _path, form, _arrived: _free(core, leads, form)
            run = lambda ident: core.dialler.dial(ident, 1)  # noqa: E731
        else:
            ids = [esc_id for esc_id, _ in scale._holding(core, 2 * n)]
            run = lambda ident: core.hold.check_in(ident, 1, 1)  # noqa: E731
        started, started_thread, started_wall = time.process_time(), time.thread_time(), time.perf_counter()
        for ident in ids[:n]:
            run(ident)
        wall_ms = (time.perf_counter() - started_wall) / n * 1000
        cpu_ms = (time.process_time() - started) / n * 1000
        job_ms = (time.thread_time() - started_thread) / n * 1000
        profiler = cProfile.Profile()
        profiler.enable()
        for ident in ids[n:]:
            run(ident)
        profiler.disable()
        what = "dials" if dialling else "check-ins"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w") as file:
            file.write(
                f"{n} {what}, {cpu_ms:.2f} ms CPU each unprofiled ({job_ms:.2f} ms in the job's own thread; "
                f"the rest is the stand-in answering in its threads), {wall_ms:.2f} ms wall each one after another\n"
            )
            pstats.Stats(profiler, stream=file).sort_stats("cumulative").print_stats(45)
        print(
            f"{cpu_ms:.2f} ms CPU per {what[:-1]} ({job_ms:.2f} ms in its own thread), {wall_ms:.2f} ms wall; profile in {out}"
        )
    finally:
        stub.close()
        server.stop()


def _free(core, leads: dict[str, str], form: dict[str, str]) -> None:
    """The bench's leads take the call at once and are free again (as in bench/scale.py)."""
    from urllib.parse import parse_qs, urlparse

    cb_id = (parse_qs(urlparse(form.get("Url", "")).query).get("callback") or [""])[0]
    if cb_id:
        core.ctx.store.update_callback(cb_id, status="completed")
        core.ctx.store.release_person(leads.get(form.get("To", ""), ""), cb_id)


if __name__ == "__main__":
    main()
