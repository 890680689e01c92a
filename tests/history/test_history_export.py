"""GET /api/records streams from the history database (issue 30): the response is not buffered
(spectree's wrapper read the whole body before the first byte), the first piece comes before the
records are read, and a record is read from the database cursor only as the body is written."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from telephony.records.facts import facts
from tests.history.month import ZONE, month
from tests.support import Harness

FIRST = datetime(2026, 11, 1, tzinfo=ZONE)
MONTH = "from=2026-11-01&to=2026-11-30"


def test_the_export_streams_from_the_database_cursor__R_NOTE_3(redis_conn, twilio_rest, history_url):
    harness = Harness(redis_conn, twilio_rest, database_url=history_url)
    records = month(FIRST, days=30, per_day=40)
    history = harness.core.records.history
    history.save_many(((r["id"], r, facts(r)) for r in records), datetime.now(UTC))
    read = []
    original = history.records_between

    def counted(start, end):
        for row in original(start, end):
            read.append(row[1])
            yield row

    history.records_between = counted
    response = harness.client.get(
        f"/api/records?{MONTH}", headers={"Authorization": "Bearer tok-lead-lee-0000000000"}, buffered=False
    )
    assert response.status_code == 200 and response.is_streamed, "not buffered on the way out"
    pieces = iter(response.response)
    head = next(pieces)
    assert json.loads(head + b"]}")["from"] == "2026-11-01" and read == [], "the first byte before any record"
    second = next(pieces)
    assert 0 < len(read) <= 600, "records read as they are written (a cursor batch), not all first"
    body = head + second + b"".join(pieces)
    response.close()
    assert [r["id"] for r in json.loads(body)["records"]] == [r["id"] for r in records]

    as_csv = harness.api("GET", f"/api/records?{MONTH}&format=csv", "lead-lee")
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert [row["id"] for row in rows] == [r["id"] for r in records]
