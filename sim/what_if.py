"""`make what-if`: replay a range of days' recorded escalated calls under the current policy and a
changed one, and print the two reports side by side with the differences (docs/what-if.md).

    python -m sim.what_if --from 2026-12-01 --to 2026-12-02 --policy policies/changed.toml
                          [--current FILE] [--records FILE | --database-url URL] [--redis-url URL]
                          [--calls-per-hour N] [--seed N] [--plot FILE] [--json FILE]

The calls come from the escalation records: a JSON export (GET /api/records) with --records, or
read from the history database at --database-url (default DATABASE_URL, else var/history.sqlite3)
for the current policy's organisation, with any record of its old Redis archive not copied yet
(--redis-url, default REDIS_URL; read only). With no
recorded calls in the range, a day is generated at --calls-per-hour (seeded). Each replay runs in
its own loopback Redis with the Twilio simulator: nobody is dialled, no live state is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import redis

from sim.replay import replay_each
from telephony.adapters.history import History, engine_for
from telephony.adapters.store import Store
from telephony.config import ROOT
from telephony.policy.errors import PolicyError
from telephony.policy.loading import Policy, load_policy
from telephony.records.days import day_bounds
from telephony.reports.figures import figures
from telephony.what_if.compare import as_text, plot, side_by_side
from telephony.what_if.day import RecordedCall, calls_from_records, generated_day

DEFAULT_CURRENT = ROOT / "policies" / "default.toml"


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def recorded(args: argparse.Namespace, policy: Policy) -> list[dict[str, Any]]:
    """The records created in the range: from the export file, or read from the archive."""
    start, end = day_bounds(args.first, args.last, policy.time_zone)
    if args.records:
        body = json.loads(Path(args.records).read_text())
        records = body["records"] if isinstance(body, dict) else body
        return [r for r in records if start <= datetime.fromisoformat(r["created_at"]) < end]
    org = policy.organisation_id
    first, last = start.astimezone(UTC), end.astimezone(UTC)
    found: dict[str, tuple[float, dict[str, Any]]] = {}
    database = args.database_url or os.environ.get("DATABASE_URL", "").strip() or None
    default_file = ROOT / "var" / "history.sqlite3"
    if database or default_file.exists():
        history = History(engine_for(database or f"sqlite:///{default_file}"), org)
        for created, esc_id, raw in history.records_between(first, last):
            found[esc_id] = (created.timestamp(), json.loads(raw))
    url = args.redis_url or os.environ.get("REDIS_URL", "").strip()
    if url:
        store = Store(redis.Redis.from_url(url, socket_timeout=10), organisation=org)
        old = [(i, at) for i, at in store.archived_ids_between(start.timestamp(), end.timestamp()) if i not in found]
        for (esc_id, at), record in zip(old, store.archived_records([i for i, _ in old]), strict=True):
            if record is not None:
                found[esc_id] = (at, record)
    return [record for _, record in sorted(found.values(), key=lambda item: (item[0], item[1]["id"]))]


def run(args: argparse.Namespace) -> tuple[list[RecordedCall], dict[str, Any]]:
    current = load_policy(args.current)
    changed = load_policy(args.policy)
    records = recorded(args, current)
    calls = calls_from_records(records, current)
    if calls:
        print(f"Replaying {len(calls)} recorded escalated calls, {args.first} to {args.last}.")
    else:
        calls = generated_day(current, args.first, args.last, args.calls_per_hour, seed=args.seed)
        print(
            f"No recorded calls from {args.first} to {args.last}: a generated day instead, {len(calls)} calls at "
            f"{args.calls_per_hour:g} an hour in business hours (seed {args.seed})."
        )
    results: dict[str, Any] = {}
    runs = (("current", current, args.current), ("changed", changed, args.policy))
    replayed_each = replay_each(calls, {name: path for name, _, path in runs}, seed=args.seed)
    for name, policy, path in runs:
        done = replayed_each[name]
        results[name] = {
            "policy": str(path),
            "records": done.records,
            "figures": figures(done.records, policy.hold.limit_seconds, policy.hold.check_in_seconds),
            "seconds": round(done.seconds, 1),
            "problems": done.problems,
        }
        print(
            f"  {name} ({path}): replayed in {done.seconds:.1f} s"
            + (f", {len(done.problems)} simulator problems" if done.problems else "")
        )
    return calls, results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make what-if ARGS=", description="Replay recorded calls under the current and a changed policy."
    )
    parser.add_argument("--from", dest="first", type=_day, required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="last", type=_day, help="last day (default: the first)")
    parser.add_argument("--policy", type=Path, required=True, help="the changed policy file")
    parser.add_argument("--current", type=Path, default=Path(os.environ.get("POLICY_FILE") or DEFAULT_CURRENT))
    parser.add_argument("--records", type=Path, help="a JSON export of the records (GET /api/records)")
    parser.add_argument(
        "--database-url", help="read the records from this history database (default DATABASE_URL, else var/)"
    )
    parser.add_argument("--redis-url", help="also the old Redis archive not copied yet, read only (default REDIS_URL)")
    parser.add_argument("--calls-per-hour", type=float, default=8.0, help="a generated day's arrival rate")
    parser.add_argument("--seed", type=int, default=1, help="the generated day's and the replay's random seed")
    parser.add_argument("--plot", type=Path, help="where the PNG goes (default var/what-if-FROM-TO.png)")
    parser.add_argument("--json", type=Path, help="also write both reports as JSON here")
    args = parser.parse_args(argv)
    args.last = args.last or args.first
    if args.last < args.first:
        parser.error("--to must be the same day as --from or later")
    if (args.last - args.first).days > 31:
        parser.error("replay at most 32 days at a time")
    if args.calls_per_hour < 0 or args.calls_per_hour > 2000:
        parser.error("--calls-per-hour must be between 0 and 2000")
    os.environ.setdefault("LOG_FORMAT", "text")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    try:
        calls, results = run(args)
    except (OSError, PolicyError, ValueError, KeyError) as exc:
        print(f"cannot replay: {exc}", file=sys.stderr)
        return 2
    except redis.RedisError as exc:
        print(f"cannot read the records archive: {exc}", file=sys.stderr)
        return 2
    current, changed = results["current"], results["changed"]
    print()
    print(as_text(side_by_side(current["figures"], changed["figures"]), "current", "changed"))
    target = args.plot or ROOT / "var" / f"what-if-{args.first}-{args.last}.png"
    plot(
        target,
        (f"current ({Path(current['policy']).name})", current["records"], current["figures"]),
        (f"changed ({Path(changed['policy']).name})", changed["records"], changed["figures"]),
    )
    print(f"\nPlot: {target}")
    if args.json:
        args.json.write_text(
            json.dumps({k: {f: v[f] for f in ("policy", "figures", "seconds")} for k, v in results.items()}, indent=2)
        )
        print(f"Reports: {args.json}")
    problems = current["problems"] + changed["problems"]
    for problem in problems[:10]:
        print(f"  simulator: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
