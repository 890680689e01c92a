"""The managers' what-if from the console, its API (issue 18, docs/what-if.md): POST /api/what-if
checks the days and the changed policy, keeps the request on the organisation's keys and queues
the replay on the `what-if` queue; a real `rq worker` process (the deployment's command) runs it;
GET /api/what-if/<id> gives both reports side by side. Two organisations on one real Redis."""

from __future__ import annotations

import json
import subprocess
from datetime import date, datetime
from pathlib import Path

import pytest

from sim.replay import replay
from telephony.adapters.timers import WHAT_IF_QUEUE
from telephony.policy.loading import load_policy
from telephony.reports.figures import figures
from telephony.what_if.compare import side_by_side
from telephony.what_if.day import calls_from_records, generated_day
from tests.deployment.test_organisations import EXAMPLE, NORTHWIND, Deployment, northwind_policy, two_policies
from tests.processes import BIN, service_env, spawn
from tests.support import ROOT

DEFAULT = ROOT / "policies" / "default.toml"
SHORTER_HOLD = ROOT / "policies" / "what-if" / "shorter-hold.toml"
DAY = date(2026, 12, 1)  # a Tuesday


@pytest.fixture
def deployment(redis_conn, twilio_rest, tmp_path):
    # The simulator the test records a day with serves on loopback: its requests are its own, not Twilio's.
    twilio_rest.mock.add_passthru("http://127.0.0.1")
    return Deployment(redis_conn, twilio_rest, two_policies(tmp_path))


def ask(deployment: Deployment, body: dict, org: str = EXAMPLE, who: str = "manager-max"):
    return deployment.be(org).api("POST", "/api/what-if", who=who, json=body)


def run_what_if_worker(deployment: Deployment, redis_url: str, log: Path) -> None:
    """`rq worker -w workers.worker.Worker what-if --burst` with the deployment's environment:
    it takes the queued replay, runs it in a forked work-horse, and stops when the queue is empty."""
    folder = deployment.settings.policies_dir
    tokens = ",".join(f"{t.token}:{t.person_id}:{t.role}:{t.organisation}" for t in deployment.tokens.values())
    env = service_env(redis_url, POLICY_FILE="", POLICIES_DIR=str(folder), API_TOKENS=tokens, LOG_LEVEL="WARNING")
    worker = spawn(
        [str(BIN / "rq"), "worker", "-w", "workers.worker.Worker", "--burst", "--url", redis_url, WHAT_IF_QUEUE],
        env,
        log,
    )
    try:
        assert worker.wait(timeout=240) == 0, log.read_text()[-3000:]
    except subprocess.TimeoutExpired:
        worker.kill()
        raise AssertionError(f"the what-if worker gave up after 240 s:\n{log.read_text()[-3000:]}") from None


def test_only_managers_run_a_what_if_or_read_the_current_policy__R_NOTE_3(deployment):
    body = {"from": "2026-12-01", "policy": SHORTER_HOLD.read_text()}
    for who in ("agent-avery", "lead-lee"):
        refused = ask(deployment, body, who=who)
        assert refused.status_code == 403, refused.json
        assert deployment.api("GET", "/api/policies/current", who=who).status_code == 403
        assert deployment.api("GET", "/api/what-if/abc123", who=who).status_code == 403
    current = deployment.be(EXAMPLE).api("GET", "/api/policies/current", who="manager-max")
    assert current.status_code == 200, current.json
    policy = load_policy(deployment.settings.policies_dir / "example.toml")
    assert current.json["toml"] == (deployment.settings.policies_dir / "example.toml").read_text()
    assert (current.json["organisation"], current.json["version"]) == (EXAMPLE, policy.version)
    theirs = deployment.be(NORTHWIND).api("GET", "/api/policies/current", who="manager-max").json
    assert theirs["organisation"] == NORTHWIND and "Northwind Help" in theirs["toml"]


def test_a_bad_changed_policy_is_refused_naming_its_line_key_and_reason(deployment, redis_conn):
    text = SHORTER_HOLD.read_text()
    line = next(n for n, ln in enumerate(text.splitlines(), 1) if ln.startswith("limit_seconds"))
    wrong_type = ask(
        deployment, {"from": "2026-12-01", "policy": text.replace("limit_seconds = 240", 'limit_seconds = "soon"')}
    )
    assert wrong_type.status_code == 400, wrong_type.json
    assert (wrong_type.json["error"], wrong_type.json["key"], wrong_type.json["line"]) == (
        "bad_policy",
        "hold.limit_seconds",
        line,
    )
    assert f"line {line}, hold.limit_seconds:" in wrong_type.json["message"]
    unknown = ask(
        deployment, {"from": "2026-12-01", "policy": text.replace("limit_seconds = 240", "limit_second = 240")}
    )
    assert (
        unknown.status_code == 400
        and unknown.json["line"] == line
        and "did you mean 'limit_seconds'" in unknown.json["reason"]
    )
    broken = ask(deployment, {"from": "2026-12-01", "policy": "[hold\nlimit_seconds = 240\n"})
    assert broken.status_code == 400 and broken.json["line"] == 1 and "not valid TOML" in broken.json["message"]
    theirs = ask(deployment, {"from": "2026-12-01", "policy": northwind_policy()})
    assert theirs.status_code == 400 and theirs.json["error"] == "other_organisation", theirs.json
    assert "'northwind'" in theirs.json["message"] and theirs.json["key"] == "organisation.id"
    for body, field in (
        ({"from": "2026-12-02", "to": "2026-12-01", "policy": text}, "to"),
        ({"from": "2026-12-01", "to": "2027-01-02", "policy": text}, "to"),
        ({"from": "1 Dec", "policy": text}, "from"),
        ({"from": "2026-12-01"}, "policy"),
        ({"from": "2026-12-01", "policy": text, "calls_per_hour": -1}, "calls_per_hour"),
        ({"from": "2026-12-01", "policy": text, "dial": True}, "dial"),
    ):
        refused = ask(deployment, body)
        assert refused.status_code == 400 and refused.json["field"] == field, (body, refused.json)
    assert not redis_conn.keys("esc:*what-if*") and not redis_conn.keys("rq:queue:what-if")


def test_a_key_repeated_across_people_entries_is_refused_at_its_own_entrys_line(deployment):
    """Issue 35 item 1: `people[5].role` is the sixth [[people]] entry's role, not the first's."""
    text = DEFAULT.read_text()
    roles = [n for n, ln in enumerate(text.splitlines(), 1) if ln.startswith("role = ")]
    lines = text.splitlines()
    lines[roles[-1] - 1] = "role = 7"
    refused = ask(deployment, {"from": "2026-12-01", "policy": "\n".join(lines) + "\n"})
    assert refused.status_code == 400, refused.json
    assert (refused.json["key"], refused.json["line"]) == ("people[5].role", roles[-1]), refused.json
    assert refused.json["line"] != roles[0] and f"line {roles[-1]}, people[5].role:" in refused.json["message"]


def test_another_organisations_manager_finds_no_such_what_if(deployment, redis_conn):
    queued = ask(deployment, {"from": "2026-12-01", "policy": SHORTER_HOLD.read_text()})
    assert queued.status_code == 202 and queued.json["status"] == "queued", queued.json
    ident = queued.json["id"]
    assert redis_conn.keys("esc:*what-if*") == [f"esc:{{{EXAMPLE}}}:what-if:{ident}".encode()]
    assert 0 < redis_conn.ttl(f"esc:{{{EXAMPLE}}}:what-if:{ident}") <= 7 * 86400
    assert redis_conn.llen(f"rq:queue:{WHAT_IF_QUEUE}") == 1, "queued for the what-if worker, not the callers' queues"
    mine = deployment.be(EXAMPLE).api("GET", f"/api/what-if/{ident}", who="manager-max")
    assert mine.status_code == 200 and mine.json["status"] == "queued" and mine.json["rows"] == []
    other = deployment.be(NORTHWIND).api("GET", f"/api/what-if/{ident}", who="manager-max")
    assert other.status_code == 404, other.json
    assert deployment.be(EXAMPLE).api("GET", "/api/what-if/no-such-id", who="manager-max").status_code == 404


def test_a_recorded_day_replayed_from_the_console_gives_the_replays_own_figures__R_NOTE_3_R_HOLD_3_R_CB_1(
    deployment, redis_conn, redis_server, tmp_path
):
    """Three calls recorded by the simulator into the organisation's archive; the what-if's
    figures under each policy equal sim.replay's for the same calls, and the archive is untouched."""
    policy = load_policy(DEFAULT)
    recorded, problems = replay(generated_day(policy, DAY, DAY, 60, seed=2)[:3], DEFAULT)
    assert not problems and len(recorded) == 3
    store = deployment.be(EXAMPLE).core.ctx.store
    for record in recorded:
        created = datetime.fromisoformat(record["created_at"]).timestamp()
        store.save_record(record["id"], record, created, 400 * 86400, created)
    archive = {key: redis_conn.dump(key) for key in redis_conn.keys(f"esc:{{{EXAMPLE}}}:record*")}

    queued = ask(deployment, {"from": DAY.isoformat(), "policy": SHORTER_HOLD.read_text()})
    assert queued.status_code == 202, queued.json
    run_what_if_worker(deployment, redis_server.url, tmp_path / "worker.log")
    done = deployment.api("GET", f"/api/what-if/{queued.json['id']}", who="manager-max").json
    assert done["status"] == "done", done
    assert (done["source"], done["calls"], done["problems"]) == ("records", 3, []), done

    calls = calls_from_records(recorded, policy)
    expected = {}
    for name, path in (("current", DEFAULT), ("changed", SHORTER_HOLD)):
        replayed, problems = replay(calls, path)
        assert not problems, problems
        changed = load_policy(path)
        expected[name] = figures(replayed, changed.hold.limit_seconds, changed.hold.check_in_seconds)
    assert json.loads(json.dumps(expected)) == done["figures"]
    rows = side_by_side(expected["current"], expected["changed"])
    assert [[r.figure, r.key, r.current, r.changed, r.difference] for r in rows] == [
        [r["figure"], r["key"], r["current"], r["changed"], r["difference"]] for r in done["rows"]
    ]
    limit = next(r for r in done["rows"] if (r["figure"], r["key"]) == ("hold", "limit_seconds"))
    assert (limit["current"], limit["changed"], limit["difference"]) == (300, 240, -60)
    assert {key: redis_conn.dump(key) for key in redis_conn.keys(f"esc:{{{EXAMPLE}}}:record*")} == archive


def test_with_no_records_and_no_rate_the_what_if_says_so(deployment, redis_server, tmp_path):
    queued = ask(deployment, {"from": DAY.isoformat(), "policy": SHORTER_HOLD.read_text()})
    run_what_if_worker(deployment, redis_server.url, tmp_path / "worker.log")
    done = deployment.api("GET", f"/api/what-if/{queued.json['id']}", who="manager-max").json
    assert (done["status"], done["source"], done["calls"], done["rows"]) == ("done", "none", 0, [])
    assert "No recorded escalated calls from 2026-12-01 to 2026-12-01; give calls per hour" in done["message"]
