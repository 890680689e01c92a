"""A manager's what-if replay (POST /api/what-if, docs/what-if.md), the job: the organisation's
recorded calls of the days (its records archive, read only) or a generated day, replayed through
the simulator under the current policy and the changed one (sim/replay.py: each in its own
loopback Redis, nobody dialled), and both reports side by side kept on the request's hash.
Runs on the `what-if` queue (telephony/adapters/timers.py says why), inside its organisation."""

from __future__ import annotations

import json
import logging
import tempfile
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sim.replay import replay_each
from telephony.logs import bound
from telephony.policy.loading import parse_policy
from telephony.records.days import day_bounds
from telephony.reports.figures import figures
from telephony.what_if.compare import side_by_side
from telephony.what_if.day import RecordedCall, calls_from_records, generated_day
from workers.runtime import core

log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def replay_what_if(ident: str) -> str:
    """Run the replay this request names; its status ends done or failed (never retried)."""
    with bound(what_if=ident):
        store = core().ctx.store
        request = store.what_if(ident)
        if request is None or request.get("status") in ("done", "failed"):
            return "nothing to do"
        store.save_what_if(ident, {"status": "running", "started_at": _now()})
        try:
            result = compare(request)
        except Exception as exc:  # any failure is the manager's to see, in words
            log.exception("what-if %s failed", ident)
            store.save_what_if(
                ident, {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "finished_at": _now()}
            )
            return "failed"
        store.save_what_if(ident, {"status": "done", "result": json.dumps(result), "finished_at": _now()})
        return "done"


def compare(request: dict[str, str]) -> dict[str, Any]:
    """The calls of the days under both policies: figures, side-by-side rows, seconds, problems."""
    name = request["current_file"] or "policy.toml"
    current = parse_policy(tomllib.loads(request["current_policy"]), name)
    changed = parse_policy(tomllib.loads(request["changed_policy"]), name)
    first, last = date.fromisoformat(request["from"]), date.fromisoformat(request["to"])
    seed = int(request.get("seed") or 1)
    start, end = (at.timestamp() for at in day_bounds(first, last, current.time_zone))
    calls: list[RecordedCall] = calls_from_records(core().records.created_between(start, end), current)
    source, message = "records", f"{len(calls)} recorded escalated calls, {first} to {last}."
    if not calls:
        rate = float(request["calls_per_hour"]) if request.get("calls_per_hour") else 0.0
        if not rate:
            return {
                "source": "none",
                "message": f"No recorded escalated calls from {first} to {last}; give calls per hour to replay a generated day.",
                "calls": 0,
            }
        calls = generated_day(current, first, last, rate, seed=seed)
        source = "generated"
        message = (
            f"No recorded calls from {first} to {last}: a generated day instead, {len(calls)} calls at "
            f"{rate:g} an hour in business hours (seed {seed})."
        )
    out: dict[str, Any] = {"source": source, "message": message, "calls": len(calls)}
    body: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="what-if-console-") as tmp:
        paths = {}
        for which, text in (("current", request["current_policy"]), ("changed", request["changed_policy"])):
            paths[which] = Path(tmp) / which / name
            paths[which].parent.mkdir()
            paths[which].write_text(text)
        # Side by side, one process each: the worker's own organisations are left as they are.
        done = replay_each(calls, paths, seed=seed)
    for which, policy in (("current", current), ("changed", changed)):
        seconds[which] = round(done[which].seconds, 1)
        body[which] = figures(done[which].records, policy.hold.limit_seconds, policy.hold.check_in_seconds)
        problems += [f"{which}: {p}" for p in done[which].problems]
    rows = side_by_side(body["current"], body["changed"])
    return out | {
        "figures": body,
        "rows": [
            {"figure": r.figure, "key": r.key, "current": r.current, "changed": r.changed, "difference": r.difference}
            for r in rows
        ],
        "seconds": seconds,
        "problems": problems[:50],
    }
