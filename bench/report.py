"""bench/RESULTS.md and its plots from one run's figures: what each table measured, said next to it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import round_trips
from bench.service import GUNICORN, ROOT, pct

RESULTS_DIR = ROOT / "bench"
README = ROOT / "README.md"


@dataclass
class Figures:
    """What one `make bench` run measured, as bench.run collected it."""

    smoke: bool
    sizes: dict
    results: list  # (path, service Load, floor Load)
    profiled: list[str]
    memory: list[tuple[int, float, float]]
    concurrent: dict[int, dict[int, tuple[float, float, float]]]
    ended: int
    live_mem: int
    live_keys: int
    after_mem: int
    after_keys: int
    scale_out: dict[int, dict[str, tuple[float, float, float]]]
    lateness: list
    dialling: list
    stub_capacity: float
    round_trips: dict  # path -> (Redis round trips, commands) per request, in process
    escalate_round_trips: list  # (round trips, commands) of each escalate on its 201 path


def write(out_dir: Path, figures: Figures) -> str:
    """Writes RESULTS.md and the PNGs into out_dir; returns the report's text."""
    smoke, sizes, results, profiled = figures.smoke, figures.sizes, figures.results, figures.profiled
    memory, concurrent, ended = figures.memory, figures.concurrent, figures.ended
    live_mem, live_keys = figures.live_mem, figures.live_keys
    after_mem, after_keys = figures.after_mem, figures.after_keys
    scale_out, lateness, dialling = figures.scale_out, figures.lateness, figures.dialling
    stub_capacity = figures.stub_capacity
    report = [
        "# Benchmarks",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores"
        + (" (smoke sizes: not figures to quote)" if smoke else "")
        + ". `make bench` (`python -m bench.run`). Loopback only; Twilio's REST API answered by a stand-in"
        " (`bench/twilio_stub.py`) that replies at once; Redis append-only.",
        "",
        "## Webhooks against the floor",
        f"gunicorn `{' '.join(GUNICORN)}` for both; `wrk -t2 -c{sizes['connections']} -d{sizes['seconds']}s` per path, signed "
        "requests (signature checking on in both). The floor checks the signature and returns constant TwiML of the "
        "hold URL's size.",
        "",
        "| path | service req/s | floor req/s | service/floor | Redis round trips/req | service p50 ms "
        "| service p99 ms | floor p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, s, f in results:
        trips = figures.round_trips.get(kind, (0, 0))[0]
        report.append(
            f"| {kind} | {s.rps:.0f} | {f.rps:.0f} | {s.rps / f.rps:.2f} | {trips:g} | {s.p50_ms:.1f} | {s.p99_ms:.1f} "
            f"| {f.p99_ms:.1f} |"
        )
    made = figures.escalate_round_trips
    if made:
        trips, commands = (sorted(x[i] for x in made)[len(made) // 2] for i in (0, 1))
        report.append(f"| POST /api/escalations (201) | | | | {trips} | | | |")
    readme = {"webhooks": report[-2 - len(results) - (1 if made else 0) :]}
    before = round_trips.ESCALATE_BEFORE
    report += [
        "",
        "`POST /api/escalations` on calls already escalated: the 409 `escalation_open` path; its 201 path (the "
        "escalation made, the caller held, the first lead rung) is counted as the bench's live calls are escalated "
        + (
            f"({len(made)} of them, the median: {trips} round trips, {commands} commands; before issue 29 "
            f"{before[0]} round trips, {before[1]} commands). "
            if made
            else ". "
        )
        + "Redis round trips per request in process, the median of each path's requests (a command, a script "
        "call or a pipeline each one round trip; `bench/round_trips.py`).",
        "",
        "## Where a webhook's CPU goes",
        "",
        "Each path answered in process (Flask's test client, signatures on, the same Redis) by the service and the "
        "floor: CPU time per request (`time.process_time`), and the service's time in the Redis client, in building "
        "TwiML and in its request hooks (logging context, metrics), from `cProfile` scaled to the unprofiled time. "
        "The rest (Flask, the signature check, parsing the form) the floor pays too.",
        "",
        *profiled,
        "",
        "## Live escalations: the hold URL under load, and what each costs in Redis",
        "",
        "The hold URL (what Twilio fetches while a caller holds) with N escalations live in Redis: at light load "
        "(2 connections) and saturated (all connections); Redis memory (`INFO memory`) and keys added per "
        "escalation while it is live.",
        "",
        "| calls in escalations | req/s (2 conn) | p50 ms | p99 ms | req/s (saturated) | p50 ms | p99 ms | Redis bytes per escalation | keys per escalation |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for target, per_bytes, per_keys in memory:
        light, full = concurrent[target][2], concurrent[target][sizes["connections"]]
        report.append(
            f"| {target} | {light[0]:.0f} | {light[1]:.1f} | {light[2]:.1f} | {full[0]:.0f} | {full[1]:.1f} | "
            f"{full[2]:.1f} | {per_bytes:.0f} | {per_keys:.1f} |"
        )
    report += [
        "",
        f"When every call has ended ({ended} escalations resolved or abandoned) and the purge has run "
        "(`FINISHED_KEEP_SECONDS`, here 0), Redis went from "
        f"{live_mem / 1e6:.1f} MB and {live_keys} keys to {after_mem / 1e6:.1f} MB and {after_keys} keys: "
        "finished escalations leave live state (what is left: per-person presence, the capped change stream, "
        "dedupe markers and legs that expire on their own within 2 days).",
        "",
        "Per escalation: the call, its escalation hash and timeline, legs, dedupe markers, RQ jobs "
        "(check-ins, limit, notes).",
        "",
        "## Scale-out: one gunicorn process against two",
        "",
        f"The same service and requests with `--workers 1` and `--workers 2` on {os.cpu_count()} cores.",
        "",
        "| path | 1 process req/s | 2 processes req/s | 2/1 | p99 ms (1) | p99 ms (2) |",
        "|---|---|---|---|---|---|",
    ]
    for path in ("/voice/hold", "/voice/status"):
        a, b = scale_out[1][path], scale_out[2][path]
        report.append(f"| {path} | {a[0]:.0f} | {b[0]:.0f} | {b[0] / a[0]:.2f} | {a[2]:.1f} | {b[2]:.1f} |")
    report += [
        "",
        "## Timers: how late check-ins and hold limits reach Twilio",
        "",
        "The real check-in and hold-limit jobs (Redis, the Twilio REST call, the timeline), timed from their due "
        "time to their REST request reaching the stand-in (when the caller would hear it), released by "
        "`python -m workers.scheduler` (a tick every 0.2 s; what is due in a tick in about 8 jobs, at least 20 timers each) to W `rq worker` processes. "
        f"*Steady*: N callers on hold at once make N/100 timers a second (two check-ins and a limit in each "
        f"5-minute hold), sampled over {sizes['sample']} s. *Burst*: all N callers' check-ins due in one second. "
        "*Stand-in floor*: each check-in is one REST call (its hold), and the stand-in answers at most "
        f"{stub_capacity:.0f} a second on its own (measured in this run, below): N of them take at least "
        "N / that, however fast the service, so a burst's max cannot go below it (the steady rows are paced "
        "by their due times, not by it).",
        "",
        "| callers | workers | timers | p50 s | p99 s | max s | ran | stand-in floor s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    readme["bursts"] = report[-2:]
    for late in lateness:
        v = late.values
        floor = f"{late.expected / stub_capacity:.2f}" if "burst" in late.label and stub_capacity > 0 else "-"
        report.append(
            f"| {late.label} | {late.workers} | {late.expected} | {pct(v, 50):.2f} | {pct(v, 99):.2f} | "
            f"{max(v, default=float('nan')):.2f} | {len(v)} | {floor} |"
        )
        if "burst" in late.label:
            readme["bursts"].append(report[-1])
    report += [
        "",
        "## Dialler: callbacks at scale",
        "",
        f"{sizes['callbacks']} callbacks whose windows open evenly over {sizes['spread']} s "
        f"({sizes['callbacks'] / sizes['spread']:.0f} dials a second asked for), with `OUTBOUND_CALLS_PER_SECOND` "
        f"(the CPS limit) at {' and '.join(str(c) for c in sizes['cps'])} (below). Lag: from the window opening to "
        "the lead's dial request "
        "reaching Twilio. *Most in one second*: dial requests the stand-in saw in any one wall-clock second, "
        "never above the limit. The bench plays the leads (each takes the call at once and is free again).",
        "",
        "| callbacks | workers | dialled | lag p50 s | lag p99 s | lag max s | dials/s | most in one second | CPS limit | stand-in capacity req/s | dials/s / capacity | workers' CPU s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    readme["dialler"] = report[-2:]
    for d in dialling:
        rate = len(d.lags) / d.seconds if d.seconds == d.seconds and d.seconds > 0 else float("nan")
        report.append(
            f"| {d.callbacks} | {d.workers} | {len(d.lags)} | {pct(d.lags, 50):.2f} | {pct(d.lags, 99):.2f} | "
            f"{max(d.lags, default=float('nan')):.2f} | {rate:.0f} | {d.max_per_second} | {d.cps} | "
            f"{stub_capacity:.0f} | {rate / stub_capacity:.2f} | {getattr(d, 'worker_cpu', float('nan')):.1f} |"
        )
        readme["dialler"].append(report[-1])
    report += [
        "",
        "The stand-in's own capacity: `wrk -t2 -c8` against it alone in the same run (no service, no workers). "
        "*Workers' CPU*: user and system seconds of the run's `rq worker`s and scheduler, start-up included.",
    ]
    demand = sizes["callbacks"] / sizes["spread"]
    for cps in sizes["cps"]:
        if demand > cps:
            report.append(
                f"With the limit at {cps}, below the demand ({demand:.0f} dials/s), even a dialler with no cost of "
                f"its own finishes {sizes['callbacks'] / cps - sizes['spread']:.1f} s after the last window opens: "
                "the p99 lag it cannot go below there."
            )
        else:
            report.append(
                f"With the limit at {cps}, above the demand ({demand:.0f} dials/s), nothing but the dialler holds a "
                "dial back: the target is a p99 lag within 1 s of the window opening."
            )
    report += ["", "![webhooks](webhooks.png) ![timers](timers.png) ![dialler](dialler.png)", ""]
    (out_dir / "RESULTS.md").write_text("\n".join(report))
    if not smoke and out_dir.resolve() == RESULTS_DIR:
        README.write_text(with_tables(README.read_text(), readme))
    plot(out_dir, results, lateness, dialling)
    return "\n".join(report)


def with_tables(text: str, tables: dict[str, list[str]]) -> str:
    """The README with each `<!-- bench:NAME -->` ... `<!-- /bench:NAME -->` block holding this
    run's table of that name, so the README's figures are always the last RESULTS.md's."""
    for name, lines in tables.items():
        start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
        if start not in text or end not in text:
            raise ValueError(f"README.md has no {start} ... {end} block for the {name} table")
        before, rest = text.split(start, 1)
        _, after = rest.split(end, 1)
        text = before + start + "\n" + "\n".join(lines) + "\n" + end + after
    return text


def plot(out_dir: Path, results, lateness, dialling) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suffix = ""
    fig, ax = plt.subplots(figsize=(9, 4))
    labels = [k.replace("POST ", "") for k, _, _ in results]
    x = range(len(labels))
    ax.bar([i - 0.2 for i in x], [s.rps for _, s, _ in results], width=0.4, label="service")
    ax.bar([i + 0.2 for i in x], [f.rps for _, _, f in results], width=0.4, label="floor")
    ax.set_xticks(list(x), labels, rotation=20, fontsize=8)
    ax.set_ylabel("requests/s")
    ax.set_title("Webhooks: service against the bare-Flask floor")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / f"webhooks{suffix}.png")
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar([f"{late.label}\n{late.workers}w" for late in lateness], [pct(late.values, 99) for late in lateness])
    ax.set_ylabel("p99 lateness, s")
    ax.set_title("Check-ins and hold limits: p99 lateness by workers")
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / f"timers{suffix}.png")
    fig, ax = plt.subplots(figsize=(6, 4))
    for d in dialling:
        ax.plot(
            [pct(d.lags, p) for p in range(0, 101, 5)],
            list(range(0, 101, 5)),
            label=f"{d.workers} workers, CPS limit {d.cps}",
        )
    ax.set_xlabel("lag from window start to dial request, s")
    ax.set_ylabel("percent of callbacks")
    ax.set_title(f"Dialler: {dialling[0].callbacks if dialling else 0} callbacks")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / f"dialler{suffix}.png")
