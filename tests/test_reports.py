"""GET /api/reports, managers' numbers over the records archive, told as stories against the real
app and a real Redis: escalations are run through the warm transfer and the hold, finished, their
live keys dropped, and the report still counts them from the archive."""

from __future__ import annotations

import csv
import io

from tests.test_hold_and_callbacks import book_callback, dial_due, holding
from tests.test_records import drop_live_keys

DAY = "from=2026-11-24&to=2026-11-24"


def report(harness, query: str = DAY, who: str = "lead-lee"):
    return harness.api("GET", f"/api/reports?{query}", who)


def put_through_after(harness, seconds: int, keep_holding_at_limit: bool = False) -> str:
    """The agent escalates, the caller holds `seconds`, a lead accepts, the agent connects them;
    then the caller hangs up, so the escalation is finished and archived."""
    caller_sid, esc_id = holding(harness)
    if keep_holding_at_limit:
        harness.advance(300)
        harness.twiml(f"/voice/hold/choice?escalation={esc_id}&tries=0", {"CallSid": caller_sid, "Digits": "1"})
        harness.advance(seconds - 300)
    else:
        harness.advance(seconds)
    harness.lead_accepts_and_joins(esc_id)
    assert harness.api("POST", f"/api/escalations/{esc_id}/connect", json={}).status_code == 200
    harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    return esc_id


def test_one_hold_over_the_limit_of_two_is_half_and_counted_from_the_archive__R_HOLD_3_R_WARM_1(
    harness, redis_conn
):
    put_through_after(harness, 60)
    put_through_after(harness, 320, keep_holding_at_limit=True)
    drop_live_keys(redis_conn)
    response = report(harness)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["from"] == body["to"] == "2026-11-24" and body["time_zone"] == "America/Chicago"
    assert body["escalations"] == {
        "requirement": "R-NOTE-3",
        "count": 2,
        "by_kind": {"manager_request": 2},
        "by_tier": body["escalations"]["by_tier"],
    }
    assert sum(body["escalations"]["by_tier"].values()) == 2 and "not taken" not in body["escalations"]["by_tier"]
    hold = body["hold"]
    assert hold["requirement"] == "R-HOLD-3" and hold["limit_seconds"] == 300
    assert (hold["holds"], hold["over_limit"], hold["share_over_limit"]) == (2, 1, 0.5)
    assert hold["longest_seconds"] == 320
    to_lead = body["escalate_to_lead_seconds"]
    assert to_lead == {"requirement": "R-WARM-1", "count": 2, "p50": 60, "p90": 320, "max": 320}
    assert body["callbacks"]["booked"] == 0


def test_a_callback_reached_inside_its_window_is_counted__R_CB_1_R_CB_4(harness):
    caller_sid, esc_id = holding(harness)
    harness.advance(300)
    book_callback(harness, caller_sid, esc_id)
    harness.webhook("/voice/status", {"CallSid": caller_sid, "CallStatus": "completed"})
    cb_id = harness.escalation(esc_id)["callback"]["id"]
    dial_due(harness, cb_id)
    lead_sid = harness.core.ctx.store.callback(cb_id)["lead_call_sid"]
    harness.twiml(f"/voice/callback/lead/answer?callback={cb_id}", {"CallSid": lead_sid})
    harness.twiml(f"/voice/callback/lead/decision?callback={cb_id}", {"CallSid": lead_sid, "Digits": "1"})
    caller_leg_sid = harness.core.ctx.store.callback(cb_id)["caller_call_sid"]
    harness.twiml(f"/voice/callback/caller/answer?callback={cb_id}", {"CallSid": caller_leg_sid, "AnsweredBy": "human"})
    assert harness.core.callbacks.view(cb_id)["status"] == "completed"
    body = report(harness).json
    assert body["callbacks"] == {
        "requirement": "R-CB-1",
        "booked": 1,
        "reached_in_window": 1,
        "reached_late": 0,
        "given_up": 0,
    }
    assert body["hold"]["holds"] == 1 and body["hold"]["over_limit"] == 0, "a hold ended by the callback choice"


def test_reports_are_for_leads_and_up__agent_is_refused(harness):
    put_through_after(harness, 60)
    refused = report(harness, who="agent-avery")
    assert refused.status_code == 403 and refused.json["error"] == "role_not_allowed"
    assert report(harness, who="lead-lee").status_code == 200


def test_bad_days_are_a_400_with_a_message(harness):
    for query, field in [
        ("from=2026-11-24", "to"),
        ("from=24/11/2026&to=2026-11-24", "from"),
        ("from=2026-11-25&to=2026-11-24", "to"),
        ("from=2026-02-30&to=2026-03-01", "from"),
        (f"{DAY}&format=xml", "format"),
    ]:
        response = report(harness, query)
        assert response.status_code == 400, query
        assert response.json["message"] and response.json.get("field") == field, (query, response.json)


def test_csv_has_a_header_and_one_row_per_number(harness):
    put_through_after(harness, 60)
    response = report(harness, f"{DAY}&format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert 'filename="escalation-report-2026-11-24-to-2026-11-24.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["figure", "requirement", "key", "value"]
    assert ["escalations", "R-NOTE-3", "count", "1"] in rows
    assert ["escalations", "R-NOTE-3", "by_kind:manager_request", "1"] in rows
    assert ["hold", "R-HOLD-3", "share_over_limit", "0.0"] in rows
    assert ["escalate_to_lead_seconds", "R-WARM-1", "max", "60.0"] in rows
    empty = list(csv.reader(io.StringIO(report(harness, "from=2026-11-23&to=2026-11-23&format=csv").get_data(as_text=True))))
    assert ["escalations", "R-NOTE-3", "count", "0"] in empty and ["hold", "R-HOLD-3", "share_over_limit", ""] in empty
