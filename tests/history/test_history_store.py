"""The history database (issue 30) on both databases: written from the escalation's events with
nothing left in Redis, one organisation never reading another's rows, and on a real PostgreSQL
the row-level security holding without the application's filter, and a database killed mid-day
losing no record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from telephony.adapters.history import History, engine_for
from telephony.adapters.store import Store
from telephony.records.facts import facts
from tests.history.month import FIRST_DAY, record_on
from tests.records.test_records import hung_up_escalation
from tests.support import Harness

DAY = "from=2026-11-24&to=2026-11-24"


def archive_keys(redis_conn) -> list[bytes]:
    return [k for k in redis_conn.scan_iter("esc:*") if b":record:" in k or k.endswith(b":records")]


def test_a_finished_escalation_is_written_once_and_redis_keeps_no_copy(redis_conn, twilio_rest, history_url):
    harness = Harness(redis_conn, twilio_rest, database_url=history_url)
    esc_id = hung_up_escalation(harness)
    history = harness.core.records.history
    assert history.record(esc_id)["state"] == "abandoned"
    assert archive_keys(redis_conn) == [], "no archive key remains in Redis"
    harness.core.records.archive(esc_id)  # a retried event: the same upsert, nothing more
    assert history.count() == 1
    assert [r["id"] for r in harness.api("GET", f"/api/records?{DAY}", "lead-lee").json["records"]] == [esc_id]


def test_one_organisations_lead_never_reads_anothers_rows__even_by_a_crafted_parameter(
    redis_conn, twilio_rest, history_url
):
    harness = Harness(redis_conn, twilio_rest, database_url=history_url)
    mine = hung_up_escalation(harness)
    other = History(engine_for(history_url), "evergreen")
    theirs = record_on(FIRST_DAY, "esc_0000000000evergreen")
    theirs["organisation"] = "Evergreen"
    other.save(theirs["id"], theirs, facts(theirs), datetime.now(UTC))
    same_id = {**theirs, "id": mine, "caller_name": "Not Yours"}
    other.save(mine, same_id, facts(same_id), datetime.now(UTC))  # even the same escalation id

    assert harness.api("GET", f"/api/escalations/{theirs['id']}/record", "lead-lee").status_code == 404
    assert harness.api("GET", f"/api/escalations/{mine}/record", "lead-lee").json["caller_name"] == "Pat Doe"
    for crafted in ("&organisation=evergreen", "&org=evergreen", "&organisation=evergreen'--"):
        records = harness.api("GET", f"/api/records?{DAY}{crafted}", "lead-lee").json["records"]
        assert [(r["id"], r["caller_name"]) for r in records] == [(mine, "Pat Doe")]
        assert harness.api("GET", f"/api/reports?{DAY}{crafted}", "lead-lee").json["escalations"]["count"] == 1
    wide = "from=2026-01-01&to=2026-12-31"
    assert [r["id"] for r in harness.api("GET", f"/api/records?{wide}", "lead-lee").json["records"]] == [mine]
    assert other.count() == 2 and harness.core.records.history.count() == 1


def test_row_level_security_holds_with_the_applications_filter_removed(postgres_server):
    url = postgres_server.new_database("rls_check")
    engine = engine_for(url)
    for org in ("example-support", "evergreen"):
        record = record_on(FIRST_DAY, f"esc_{org[:8]}")
        History(engine, org).save(record["id"], record, facts(record), datetime.now(UTC))
    database = url.rsplit("/", 1)[1]
    with psycopg.connect(host="127.0.0.1", port=postgres_server.port, user="escalations", dbname=database) as conn:
        everything = "SELECT organisation, id FROM escalation_records"  # no WHERE: the filter removed
        assert conn.execute(everything).fetchall() == [], "a session naming no organisation sees nothing"
        conn.execute("SELECT set_config('app.organisation', 'evergreen', false)")
        assert conn.execute(everything).fetchall() == [("evergreen", "esc_evergree")]
        for table in ("escalation_holds", "escalation_hold_rounds", "escalation_check_ins", "escalation_red_flags"):
            assert {o for (o,) in conn.execute(f"SELECT organisation FROM {table}")} <= {"evergreen"}
        assert (
            conn.execute("UPDATE escalation_records SET state = 'x' WHERE organisation = 'example-support'").rowcount
            == 0
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO escalation_holds (organisation, escalation_id, n, created_at, seconds)"
                " VALUES ('example-support', 'esc_x', 0, now(), 1)"
            )
    with postgres_server.admin(database) as admin:  # the superuser passes the policies: both are there
        assert admin.execute("SELECT count(*) FROM escalation_records").fetchone() == (2,)


def test_killing_the_database_mid_day_loses_no_record_and_the_backlog_drains(redis_conn, twilio_rest, postgres_server):
    url = postgres_server.new_database("killed_mid_day")
    harness = Harness(redis_conn, twilio_rest, database_url=url)
    start = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    before = [hung_up_escalation(harness, at=start + timedelta(minutes=10 * n)) for n in range(2)]
    history = harness.core.records.history
    assert history.count() == 2

    postgres_server.kill()
    try:
        during = [hung_up_escalation(harness, at=start + timedelta(hours=1, minutes=10 * n)) for n in range(3)]
        harness.advance(200)  # the drain's retries run, and fail
        store = harness.core.ctx.store
        assert store.outbox_length() >= 3, "the events wait in Redis"
        ready = harness.client.get("/ready").json
        assert ready["history"]["database"] == "down" and ready["history"]["events_waiting"] >= 3
        metrics = harness.client.get("/metrics").get_data(as_text=True)
        assert "escalations_history_database_up 0.0" in metrics
        assert 'escalations_events_waiting{organisation="example-support"}' in metrics
        assert all(harness.escalation(e)["state"] == "abandoned" for e in during), "the calls went on"
    finally:
        postgres_server.restart()

    harness.core.events.ask_drain()  # what the scheduler's sweep does for an entry left waiting
    harness.run_jobs()
    assert store.outbox_length() == 0, "the backlog drained"
    assert history.count() == 5, "no record lost"
    assert {r["id"] for r in history_records(history)} == {*before, *during}
    assert archive_keys(redis_conn) == []
    assert harness.client.get("/ready").json["history"] == {"database": "up", "events_waiting": 0}


def history_records(history: History) -> list[dict]:
    import json

    return [
        json.loads(raw)
        for _, _, raw in history.records_between(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    ]


def test_copying_an_old_redis_archive_twice_copies_it_once(redis_conn, twilio_rest, history_url):
    harness = Harness(redis_conn, twilio_rest, database_url=history_url)
    store: Store = harness.core.ctx.store
    old = [record_on(FIRST_DAY + timedelta(hours=n), f"esc_{n:016x}") for n in range(7)]
    for record in old:
        created = datetime.fromisoformat(record["created_at"]).timestamp()
        store.save_record(record["id"], record, created, 400 * 86400, created)
    store.save_record("esc_expired", old[0], 0.0, 400 * 86400, 0.0)
    redis_conn.delete("esc:{example-support}:record:esc_expired")  # the index outlived the record
    day = f"from={FIRST_DAY.date()}&to={FIRST_DAY.date()}"
    before = harness.api("GET", f"/api/records?{day}", "lead-lee").json["records"]
    assert [r["id"] for r in before] == [r["id"] for r in old], "read from Redis until copied"
    report_before = harness.api("GET", f"/api/reports?{day}", "lead-lee").json

    first = harness.core.records.copy_archive(batch=3)
    assert first == {"found": 8, "copied": 7, "expired": 1, "in_database": 7}
    assert archive_keys(redis_conn) == []
    again = harness.core.records.copy_archive(batch=3)
    assert again == {"found": 0, "copied": 0, "expired": 0, "in_database": 7}
    assert harness.api("GET", f"/api/records?{day}", "lead-lee").json["records"] == before
    assert harness.api("GET", f"/api/reports?{day}", "lead-lee").json == report_before
