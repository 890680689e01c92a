"""Every figure of GET /api/reports from SQL equals today's (issue 30): a generated month of
records is archived the old way (Redis, `Store.save_record`) and the new (the history database),
and `figures` over the records read back from Redis is compared with the SQL aggregates, on both
databases, over the month, a week and single days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from telephony.adapters.history import History, engine_for
from telephony.adapters.store import Store
from telephony.records.facts import facts
from telephony.reports.figures import figures, figures_from_sql
from tests.history.month import ZONE, month

FIRST = datetime(2026, 11, 1, tzinfo=ZONE)
NOW = datetime(2026, 12, 8, tzinfo=UTC)


def archived_both_ways(redis_conn, history_url, records):
    store = Store(redis_conn, organisation="default")
    for record in records:
        created = datetime.fromisoformat(record["created_at"]).timestamp()
        store.save_record(record["id"], record, created, 400 * 86400, NOW.timestamp())
    history = History(engine_for(history_url), "default")
    history.save_many(((r["id"], r, facts(r)) for r in records), NOW)
    return store, history


def from_redis(store, start, end, limit, check_in):
    """Today's path: the archive's ids in the range, the records, `figures` over them."""
    ids = store.record_ids_between(start.timestamp(), end.timestamp())
    return figures([r for r in store.archived_records(ids) if r], limit, check_in)


@pytest.mark.parametrize(("limit", "check_in"), [(300, 120), (240, 60), (300, None)])
def test_every_figure_from_sql_equals_the_redis_path_on_a_generated_month(redis_conn, history_url, limit, check_in):
    records = month(FIRST, days=30, per_day=40)
    store, history = archived_both_ways(redis_conn, history_url, records)
    ranges = [(FIRST, FIRST + timedelta(days=30)), (FIRST + timedelta(days=3), FIRST + timedelta(days=10))]
    ranges += [(FIRST + timedelta(days=d), FIRST + timedelta(days=d + 1)) for d in (0, 14, 29)]
    for start, end in ranges:
        today = from_redis(store, start, end, limit, check_in)
        sql = figures_from_sql(history.aggregates(start, end, limit, check_in), limit, check_in)
        assert today["escalations"]["count"] > 0
        for figure in today:
            assert sql[figure] == today[figure], (figure, start, end)
        assert sql == today


def test_an_empty_range_reads_the_same_both_ways(redis_conn, history_url):
    store, history = archived_both_ways(redis_conn, history_url, month(FIRST, days=1, per_day=5))
    start, end = FIRST + timedelta(days=40), FIRST + timedelta(days=41)
    assert figures_from_sql(history.aggregates(start, end, 300, 120), 300, 120) == from_redis(
        store, start, end, 300, 120
    )
