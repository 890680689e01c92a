"""Seed 000's habits, through the API: the early warning to the team lead before the caller asks
(R-NOTE-4), and follow-through tasks for every promise made on the call, flagged to the owner's
leader once they are overdue (R-NOTE-6)."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.support import new_call_sid


def _notes(harness, to: str) -> list[str]:
    return [n["text"] for n in harness.core.ctx.store.notifications() if n["to"] == to]


def _call_of(harness, who: str) -> dict | None:
    calls = harness.api("GET", "/api/calls", who=who).json["calls"]
    return calls[0] if calls else None


def test_the_agent_flags_a_call_that_may_escalate_and_the_team_lead_is_told_at_once__R_NOTE_4(harness):
    caller_sid, _ = harness.caller_with_agent()
    assert _call_of(harness, "agent-avery")["early_warning"] is None

    flagged = harness.api(
        "POST", f"/api/calls/{caller_sid}/early-warning", json={"note": "getting short about the second bill"}
    )
    assert flagged.status_code == 201, flagged.json
    flag = flagged.json["early_warning"]
    assert flag == {
        "at": "2026-11-24T15:00:00+00:00",
        "by": "agent-avery",
        "note": "getting short about the second bill",
        "told": ["lead-lee"],
    }
    expected = (
        "Early warning from Avery: this call may escalate. Caller ending 0142, account 448812. "
        "getting short about the second bill"
    )
    assert _notes(harness, "cr-esc") == [expected], "on the team channel"
    assert _notes(harness, "@lead-lee") == [expected], "and to the agent's team lead directly"
    assert _call_of(harness, "agent-avery")["early_warning"] == flag
    assert _call_of(harness, "lead-lee")["early_warning"] == flag, "the lead sees it on the live calls"

    again = harness.api("POST", f"/api/calls/{caller_sid}/early-warning", json={})
    assert again.status_code == 409 and again.json["error"] == "already_flagged"
    assert len(_notes(harness, "@lead-lee")) == 1, "told once"

    esc = harness.escalate(caller_sid).json
    assert esc["early_warning"] == flag, "carried onto the escalation that followed"
    carried = [e["detail"] for e in esc["timeline"] if e["event"] == "early_warning"]
    assert carried == ["flagged at 2026-11-24T15:00:00+00:00 by Avery: getting short about the second bill"]


def test_only_the_calls_own_agent_may_flag_it__R_NOTE_4(harness):
    caller_sid, _ = harness.caller_with_agent()
    other = harness.api("POST", f"/api/calls/{caller_sid}/early-warning", who="agent-blake", json={})
    assert other.status_code == 403 and other.json["error"] == "not_your_call"
    lead = harness.api("POST", f"/api/calls/{caller_sid}/early-warning", who="lead-lee", json={})
    assert lead.status_code == 403 and lead.json["error"] == "forbidden"
    unknown = harness.api("POST", f"/api/calls/{new_call_sid()}/early-warning", json={})
    assert unknown.status_code == 404 and unknown.json["error"] == "call_not_found"
    bad = harness.api("POST", f"/api/calls/{caller_sid}/early-warning", json={"note": "x", "urgent": True})
    assert bad.status_code == 400 and bad.json["field"] == "urgent"
    assert harness.core.ctx.store.notifications() == [], "nothing was told for a refused flag"
    assert _call_of(harness, "agent-avery")["early_warning"] is None


def test_a_promise_made_on_the_call_becomes_a_task_the_agent_and_their_lead_see__R_NOTE_6(harness):
    caller_sid, _ = harness.caller_with_agent()
    esc_id = harness.escalate(caller_sid).json["id"]
    made = harness.api(
        "POST", "/api/tasks", json={"call_sid": caller_sid, "kind": "email", "title": "email the corrected invoice"}
    )
    assert made.status_code == 201, made.json
    task = made.json
    assert (task["owner"], task["kind"], task["status"], task["escalation_id"]) == (
        "agent-avery",
        "email",
        "open",
        esc_id,
    )
    assert task["due_at"] == "2026-11-24T15:30:00+00:00", "policy follow_through.due_minutes (30) from now"
    timeline = harness.escalation(esc_id)["timeline"]
    assert any(e["event"] == "task_created" and "email the corrected invoice" in e["detail"] for e in timeline)

    listed = {who: [t["id"] for t in harness.api("GET", "/api/tasks", who=who).json["tasks"]] for who in harness.tokens}
    assert listed == {
        "agent-avery": [task["id"]],
        "agent-blake": [],
        "lead-lee": [task["id"]],
        "manager-max": [task["id"]],
    }, "mine; the lead sees the tasks of the people they lead"

    refused = harness.api("POST", f"/api/tasks/{task['id']}/done", who="agent-blake")
    assert refused.status_code == 403 and refused.json["error"] == "not_your_task"
    done = harness.api("POST", f"/api/tasks/{task['id']}/done")
    assert done.status_code == 200 and done.json["status"] == "done" and done.json["done_by"] == "agent-avery"
    again = harness.api("POST", f"/api/tasks/{task['id']}/done")
    assert again.status_code == 409 and again.json["error"] == "already_done"
    assert harness.api("GET", "/api/tasks?status=open").json["tasks"] == []
    assert [t["id"] for t in harness.api("GET", "/api/tasks?status=done").json["tasks"]] == [task["id"]]

    harness.advance(3600)
    assert _notes(harness, "@lead-lee") == [], "a task done in time is never flagged"


def test_an_overdue_task_is_flagged_to_the_owners_leader_once__R_NOTE_6(harness):
    caller_sid, _ = harness.caller_with_agent()
    due = (harness.clock.now() + timedelta(minutes=10)).isoformat()
    task = harness.api(
        "POST",
        "/api/tasks",
        json={"call_sid": caller_sid, "kind": "ticket", "title": "open a ticket for the outage", "due_at": due},
    ).json
    assert task["escalation_id"] is None and datetime.fromisoformat(task["due_at"]) == datetime.fromisoformat(due)
    harness.advance(9 * 60)
    assert _notes(harness, "@lead-lee") == [] and not harness.api("GET", "/api/tasks").json["tasks"][0]["overdue"]

    harness.advance(2 * 60)
    assert _notes(harness, "@lead-lee") == [
        "Overdue follow-through: Avery promised the caller 'open a ticket for the outage' (ticket), "
        f"due {task['due_at']}, and it is not done."
    ]
    [seen] = harness.api("GET", "/api/tasks", who="lead-lee").json["tasks"]
    assert seen["overdue"] and seen["overdue_flagged_at"] == "2026-11-24T15:10:00+00:00"
    harness.core.follow_through.overdue(task["id"])
    harness.advance(3600)
    assert len(_notes(harness, "@lead-lee")) == 1, "flagged once"


def test_bad_tasks_are_refused_with_the_field__R_NOTE_6(harness):
    caller_sid, _ = harness.caller_with_agent()
    base = {"call_sid": caller_sid, "kind": "callback", "title": "call back after the refund"}
    cases = [
        ({**base, "due_at": (harness.clock.now() - timedelta(minutes=1)).isoformat()}, 400, "due_at"),
        ({**base, "kind": "fax"}, 400, "kind"),
        ({**base, "title": "  "}, 400, "title"),
        ({**base, "due_at": "tomorrow"}, 400, "due_at"),
        ({**base, "owner": "agent-blake"}, 400, "owner"),
        ({**base, "escalation_id": "esc_nope"}, 404, None),
        ({**base, "call_sid": new_call_sid()}, 404, None),
    ]
    for body, status, field in cases:
        response = harness.api("POST", "/api/tasks", json=body)
        assert response.status_code == status, (body, response.json)
        assert response.json.get("field") == field, (body, response.json)
    other = harness.api("POST", "/api/tasks", who="agent-blake", json=base)
    assert other.status_code == 403 and other.json["error"] == "not_your_call"
    assert harness.api("POST", "/api/tasks/task_nope/done").status_code == 404
    assert harness.api("GET", "/api/tasks?status=late").json["field"] == "status"
    assert harness.api("GET", "/api/tasks").json["tasks"] == [], "nothing was kept from a refused task"


def test_the_console_learns_who_may_use_each_feature__R_NOTE_4_R_NOTE_6_R_WARM_7(harness):
    listed = harness.api("GET", "/api/console").json["features"]
    features = {(f["name"], f["path"]): f for f in listed}
    assert features[("early_warning", "/api/calls/<call_sid>/early-warning")]["roles"] == ["agent"]
    assert features[("listen", "/api/calls/<call_sid>/listen")]["roles"] == ["lead", "supervisor", "manager"]
    assert features[("coach", "/api/calls/<call_sid>/coach")]["roles"] == ["lead", "supervisor", "manager"]
    tasks = [f for f in listed if f["path"] == "/api/tasks"]
    assert sorted(m for f in tasks for m in f["methods"]) == ["GET", "POST"]
    assert all("agent" in f["roles"] for f in tasks)
    assert ("tasks", "/api/tasks/<task_id>/done") in features
