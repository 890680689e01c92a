"""`make bench`'s history part (issue 30): one organisation's records in the history database,
on SQLite and on a real PostgreSQL (tests/postgres.py, on loopback), at 10,000 and 100,000 records
(BENCH_SIZE=full: 300,000 too), spread over 366 days; for each, the 1-, 30- and 366-day report
(the SQL aggregates and their layout: what GET /api/reports does besides Flask), the 366-day
export's first record and whole time (the cursor, each record read and written as the JSON
export writes it), the Python memory peak of each (tracemalloc) and the bytes a record takes in
the database. The Redis path (the old archive, `Store.save_record`, and `figures` over it) is
measured beside at 10,000 records. Writes bench/HISTORY.md.

    python -m bench.history [--smoke] [--sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from telephony.adapters.history import History, engine_for
from telephony.adapters.history.schema import TABLES
from telephony.adapters.local_redis import LocalRedis
from telephony.adapters.store import Store
from telephony.adapters.store.lean import LeanRedis
from telephony.records.facts import facts
from telephony.reports.figures import figures, figures_from_sql
from tests.history.month import ZONE, record
from tests.postgres import PostgresServer

ROOT = Path(__file__).resolve().parent.parent
FULL = os.environ.get("BENCH_SIZE", "").strip().lower() == "full"
ORG = "example-support"
FIRST = datetime(2025, 12, 1, tzinfo=ZONE)
LIMIT, CHECK_IN = 300, 120


def generated(n: int, days: int = 366) -> list[dict[str, Any]]:
    rng = random.Random(30)
    out = []
    for k in range(n):
        created = FIRST + timedelta(days=k * days // n, seconds=rng.randint(8 * 3600, 18 * 3600))
        out.append(record(rng, k, created))
    return out


def timed(work: Callable[[], Any]) -> tuple[float, float, Any]:
    """(seconds, Python memory peak in MiB, result): timed on its own, then run again under
    tracemalloc for the peak (tracing slows Python down)."""
    began = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - began
    tracemalloc.start()
    work()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 2**20, result


def export(history: History, start: datetime, end: datetime) -> tuple[float, int]:
    """(seconds to the first record written, bytes): as GET /api/records?format=json writes it."""
    began, first, size = time.perf_counter(), None, 0
    for _, _, raw in history.records_between(start, end):
        size += len(json.dumps(json.loads(raw)))
        if first is None:
            first = time.perf_counter() - began
    return first or 0.0, size


def database_bytes(history: History, url: str, server: PostgresServer | None) -> int:
    if server is None:
        path = url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return os.path.getsize(path)
    tables = [table.name for table in TABLES]
    with server.admin(url.rsplit("/", 1)[1]) as conn:
        conn.execute("VACUUM ANALYZE")
        return sum(conn.execute(f"SELECT pg_total_relation_size('{t}')").fetchone()[0] for t in tables)


def measure(name: str, url: str, server: PostgresServer | None, records: list[dict[str, Any]]) -> dict[str, Any]:
    history = History(engine_for(url), ORG)
    began = time.perf_counter()
    for at in range(0, len(records), 2000):
        history.save_many(((r["id"], r, facts(r)) for r in records[at : at + 2000]), datetime.now(UTC))
    fill = time.perf_counter() - began
    end = FIRST + timedelta(days=366)
    row: dict[str, Any] = {"database": name, "records": len(records), "fill_s": fill}
    for days in (1, 30, 366):
        start = end - timedelta(days=days)
        seconds, peak, _ = timed(
            lambda s=start: figures_from_sql(history.aggregates(s, end, LIMIT, CHECK_IN), LIMIT, CHECK_IN)
        )
        row[f"report_{days}d_s"] = seconds
        row[f"report_{days}d_mib"] = peak
    seconds, peak, (first, size) = timed(lambda: export(history, FIRST, end))
    row.update(export_first_s=first, export_s=seconds, export_mib=peak, export_mb=size / 1e6)
    row["bytes_per_record"] = database_bytes(history, url, server) / len(records)
    return row


def redis_path(records: list[dict[str, Any]], work: Path) -> dict[str, Any]:
    """The old path at the same records: the Redis archive and `figures` over it."""
    server = LocalRedis.start(work / "redis", appendonly=True)
    try:
        conn = LeanRedis.from_url(server.url)
        before = int(conn.info("memory")["used_memory"])
        store = Store(conn, organisation=ORG)
        for r in records:
            created = datetime.fromisoformat(r["created_at"]).timestamp()
            store.save_record(r["id"], r, created, 400 * 86400, created)
        used = int(conn.info("memory")["used_memory"]) - before
        end = FIRST + timedelta(days=366)

        def report() -> dict[str, Any]:
            ids = store.record_ids_between(FIRST.timestamp(), end.timestamp())
            got = [x for at in range(0, len(ids), 200) for x in store.archived_records(ids[at : at + 200]) if x]
            return figures(got, LIMIT, CHECK_IN)

        seconds, peak, _ = timed(report)
        conn.close()
        return {
            "records": len(records),
            "report_366d_s": seconds,
            "report_366d_mib": peak,
            "bytes_per_record": used / len(records),
        }
    finally:
        server.stop()


def table(rows: list[dict[str, Any]], old: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| database | records | 1-day report s | 30-day report s | 366-day report s | report peak MiB | "
        "export first record s | export whole s | export MB | export peak MiB | bytes/record | fill s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['database']} | {r['records']:,} | {r['report_1d_s']:.3f} | {r['report_30d_s']:.3f} | "
            f"{r['report_366d_s']:.2f} | {r['report_366d_mib']:.1f} | {r['export_first_s']:.3f} | {r['export_s']:.1f} | "
            f"{r['export_mb']:.0f} | {r['export_mib']:.1f} | {r['bytes_per_record']:,.0f} | {r['fill_s']:.0f} |"
        )
    for o in old:
        lines.append(
            f"| Redis archive (before) | {o['records']:,} | | | {o['report_366d_s']:.2f} | {o['report_366d_mib']:.1f} "
            f"| | | | | {o['bytes_per_record']:,.0f} | |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.history")
    parser.add_argument("--smoke", action="store_true", help="200 records: check the script works")
    parser.add_argument("--sizes", help="record counts, comma separated")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "HISTORY.md")
    args = parser.parse_args(argv)
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    else:
        sizes = [200] if args.smoke else [10_000, 100_000, *([300_000] if FULL else [])]
    load = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="bench-history-"))
    server = PostgresServer.start()
    rows: list[dict[str, Any]] = []
    try:
        for n in sizes:
            records = generated(n)
            for name in ("SQLite", "PostgreSQL"):
                if name == "SQLite":
                    url, pg = f"sqlite:///{work / f'history-{n}.sqlite3'}", None
                else:
                    url, pg = server.new_database(f"bench_{n}"), server
                rows.append(measure(name, url, pg, records))
                print(json.dumps(rows[-1]), flush=True)
        old = [redis_path(generated(min(sizes[0], 100_000)), work)]  # the issue measured 300,000 (56-73 s)
        print(json.dumps(old[-1]), flush=True)
    finally:
        server.remove()
        shutil.rmtree(work, ignore_errors=True)
    lines = table(rows, old)
    text = (
        "# History database benchmark (issue 30)\n\n"
        f"`python -m bench.history` ({'BENCH_SIZE=full' if FULL else 'default sizes'}), one organisation's records spread "
        f"over 366 days, on this machine ({os.cpu_count()} cores, load average {load[0]:.1f} at the start and "
        f"{os.getloadavg()[0]:.1f} at the end: other work shares them); how it is measured: bench/history.py.\n\n"
        + "\n".join(lines)
        + "\n"
    )
    if not args.smoke:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
