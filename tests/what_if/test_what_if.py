"""The what-if replay (docs/what-if.md, issue 18): a day played through the real service and the
Twilio simulator, each in its own loopback Redis, nobody dialled. Small days, so each test takes
seconds: the 2,000-call figure is bench/what_if_replay.py's, never a timed assert."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from sim.replay import replay
from sim.what_if import main
from telephony.adapters.history import History, engine_for
from telephony.adapters.store import Store
from telephony.config import ROOT
from telephony.policy.loading import load_policy
from telephony.records.facts import facts
from telephony.reports.figures import figures
from telephony.what_if.compare import as_text, side_by_side
from telephony.what_if.day import ACCEPTS, DECLINES, NO_ANSWER, Answer, RecordedCall, calls_from_records, generated_day

DEFAULT = ROOT / "policies" / "default.toml"
SHORTER_HOLD = ROOT / "policies" / "what-if" / "shorter-hold.toml"
DAY = date(2026, 12, 1)  # a Tuesday
# Faithfulness: replaying a recorded day under its own policy gives the same counts, and every
# time figure (seconds) within this much.
TOLERANCE_SECONDS = 5.0


def _seconds_apart(a: dict, b: dict) -> list[str]:
    out = []
    for figure, key in [("escalate_to_lead_seconds", k) for k in ("p50", "p90", "max")] + [("hold", "longest_seconds")]:
        x, y = a[figure][key], b[figure][key]
        if (x is None) != (y is None) or (x is not None and abs(x - y) > TOLERANCE_SECONDS):
            out.append(f"{figure}.{key}: recorded {x}, replayed {y}")
    return out


def test_replaying_a_recorded_day_under_its_own_policy_reproduces_its_figures__R_NOTE_3():
    """Record a simulated day (a generated one played through the service), read the calls back
    from its records, replay them: the figures match within TOLERANCE_SECONDS."""
    policy = load_policy(DEFAULT)
    day = generated_day(policy, DAY, DAY, 30, seed=1)[:12]  # busy: the last three are taken on a callback
    recorded, problems = replay(day, DEFAULT)
    assert not problems and len(recorded) == len(day), problems
    calls = calls_from_records(recorded, policy)
    assert [c.kind for c in calls] == [c.kind for c in day]
    taken = [(was, read) for was, read, r in zip(day, calls, recorded, strict=True) if r.get("taken_by")]
    on_callback = [r for r in recorded if r.get("taken_by") and r.get("callback_status")]
    assert len(taken) >= 9 and on_callback, "the day has calls taken live and on a callback"
    # Who took a call stays busy as long as they did (what frees them for the next caller).
    apart = [(was.busy_seconds, read.busy_seconds) for was, read in taken]
    assert all(abs(was - read) <= 2 for was, read in apart), apart
    assert all(c.source for c in calls), "each call replayed names the record it came from"
    replayed, problems = replay(calls, DEFAULT)
    assert not problems, problems
    before, after = figures(recorded, policy.hold.limit_seconds), figures(replayed, policy.hold.limit_seconds)
    assert before["escalations"] == after["escalations"]
    assert before["callbacks"] == after["callbacks"]
    for key in ("holds", "over_limit", "limit_seconds"):
        assert before["hold"][key] == after["hold"][key], (key, before["hold"], after["hold"])
    assert before["escalate_to_lead_seconds"]["count"] == after["escalate_to_lead_seconds"]["count"]
    assert not _seconds_apart(before, after)


def test_each_ring_of_a_person_is_read_and_replayed_in_order__R_WARM_1():
    """A lead who declines and, rung again when free, accepts: two rings, in order."""
    policy = load_policy(DEFAULT)
    at = "2026-12-01T16:00:{:02d}+00:00".format
    events = [
        ("escalated", "manager_request by agent-avery"),
        ("dialing_lead", "Lee (lead)"),
        ("lead_answered", "Lee"),
        ("lead_declined", "Lee"),
        ("dialing_lead", "Morgan (lead)"),
        ("dialing_lead", "Lee (lead)"),
        ("lead_answered", "Lee"),
        ("lead_accepted", "Lee"),
    ]
    seconds = [0, 1, 6, 9, 10, 40, 47, 50]
    timeline = [{"at": at(n), "event": e, "detail": d} for n, (e, d) in zip(seconds, events, strict=True)]
    record = {"id": "esc_1", "kind": "manager_request", "taken_by": "Lee", "timeline": timeline}
    call = calls_from_records([record], policy)[0]
    assert call.answers["lead-lee"] == (Answer(DECLINES, 5), Answer(ACCEPTS, 7))
    assert call.answers["lead-morgan"] == (Answer(NO_ANSWER),)
    assert [call.ring("lead-lee", n) for n in range(3)] == [Answer(DECLINES, 5), Answer(ACCEPTS, 7), None]


def _busy_hour() -> list[RecordedCall]:
    """Three callers take the two leads and the supervisor (manager_request's tiers) for 256 s
    each; a fourth, 8 s later, is told they are all busy, keeps holding and, offered a way out
    at the hold limit, takes a callback. The leads come free about 4 1/2 minutes into that hold:
    with a 5-minute limit the fourth caller is put through, with a 4-minute one they are offered
    the callback first."""
    start = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # 10:00 in Chicago
    everyone = {p: Answer(ACCEPTS, 3) for p in ("lead-lee", "lead-morgan", "supervisor-sam")}
    taking = [
        RecordedCall(start + timedelta(seconds=n), "manager_request", everyone, busy_seconds=256, choice="hold")
        for n in range(3)
    ]
    fourth = RecordedCall(
        start + timedelta(seconds=8),
        "manager_request",
        everyone | {"manager-max": Answer(NO_ANSWER)},
        busy_seconds=200,
        choice="callback",
        busy_choice="hold",
    )
    return [*taking, fourth]


def test_a_shorter_hold_limit_books_more_callbacks_and_cuts_the_longest_hold__R_HOLD_3_R_CB_1():
    day = _busy_hour()
    now, problems = replay(day, DEFAULT)
    assert not problems, problems
    shorter, problems = replay(day, SHORTER_HOLD)
    assert not problems, problems
    five, four = figures(now, 300), figures(shorter, 240)
    assert four["callbacks"]["booked"] > five["callbacks"]["booked"], (five["callbacks"], four["callbacks"])
    assert four["hold"]["longest_seconds"] < five["hold"]["longest_seconds"], (five["hold"], four["hold"])
    assert five["hold"]["longest_seconds"] > 240, "the 5-minute day had a hold the 4-minute limit cuts"


def test_a_generated_day_is_the_same_for_the_same_seed_and_inside_business_hours():
    policy = load_policy(DEFAULT)
    one, again = generated_day(policy, DAY, DAY, 12, seed=3), generated_day(policy, DAY, DAY, 12, seed=3)
    assert one == again and one != generated_day(policy, DAY, DAY, 12, seed=4)
    opens, closes = policy.business_hours.day_span(DAY) or (None, None)
    assert opens and closes and all(opens <= c.escalated_at < closes for c in one)
    assert 12 * 9 * 0.6 < len(one) < 12 * 9 * 1.4
    assert {c.kind for c in one} <= set(policy.kinds)
    assert not generated_day(policy, date(2026, 12, 5), date(2026, 12, 6), 12), "a weekend has no business hours"


def test_side_by_side_shows_every_number_with_the_difference():
    a = {
        "escalations": {"requirement": "R-NOTE-3", "count": 3, "by_tier": {"lead": 3}},
        "hold": {"longest_seconds": 300.0},
    }
    b = {
        "escalations": {"requirement": "R-NOTE-3", "count": 3, "by_tier": {"lead": 2, "manager": 1}},
        "hold": {"longest_seconds": None},
    }
    rows = {(r.figure, r.key): (r.current, r.changed, r.difference) for r in side_by_side(a, b)}
    assert rows[("escalations", "count")] == (3, 3, 0)
    assert rows[("escalations", "by_tier:lead")] == (3, 2, -1)
    assert rows[("escalations", "by_tier:manager")] == (0, 1, 1)
    assert rows[("hold", "longest_seconds")] == (300.0, None, None)
    text = as_text(side_by_side(a, b), "current", "changed")
    assert "by_tier:manager" in text and "+1" in text and "requirement" not in text


def test_make_what_if_with_no_records_generates_a_day_prints_both_reports_and_writes_a_png(tmp_path, capsys):
    plot, body = tmp_path / "what-if.png", tmp_path / "what-if.json"
    code = main(
        [
            "--from", "2026-12-01", "--policy", str(SHORTER_HOLD), "--records", str(_empty_export(tmp_path)),
            "--calls-per-hour", "0.5", "--plot", str(plot), "--json", str(body),
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "No recorded calls from 2026-12-01 to 2026-12-01: a generated day instead" in out
    assert "current" in out and "changed" in out and "difference" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    reports = json.loads(body.read_text())
    assert reports["current"]["figures"]["hold"]["limit_seconds"] == 300
    assert reports["changed"]["figures"]["hold"]["limit_seconds"] == 240
    assert (
        reports["current"]["figures"]["escalations"]["count"]
        == reports["changed"]["figures"]["escalations"]["count"]
        > 0
    )


def test_bad_arguments_are_refused_with_a_message(capsys, tmp_path):
    for argv in (
        ["--from", "01/12/2026", "--policy", str(SHORTER_HOLD)],
        ["--from", "2026-12-02", "--to", "2026-12-01", "--policy", str(SHORTER_HOLD)],
        ["--from", "2026-12-01", "--policy", str(SHORTER_HOLD), "--calls-per-hour", "-1"],
    ):
        try:
            main(argv)
        except SystemExit as exc:
            assert exc.code == 2
        else:
            raise AssertionError(f"{argv} was accepted")
        assert "error" in capsys.readouterr().err
    missing = main(
        ["--from", "2026-12-01", "--policy", str(tmp_path / "nope.toml"), "--records", str(_empty_export(tmp_path))]
    )
    assert missing == 2 and "cannot replay" in capsys.readouterr().err


def _empty_export(tmp_path):
    path = tmp_path / "records.json"
    path.write_text(
        json.dumps({"from": "2026-12-01", "to": "2026-12-01", "time_zone": "America/Chicago", "records": []})
    )
    return path


@pytest.mark.parametrize("kept", ["database", "old redis archive"])
def test_make_what_if_replays_the_records_archive_and_leaves_it_as_it_was(
    redis_server, redis_conn, tmp_path, capsys, kept
):
    """The records (R-NOTE-3) of the organisation asked about (issue 30: the current policy's, not
    the default keys) are read from the history database, or from an old Redis archive not yet
    copied, never written: the keys and values are the same after."""
    policy = load_policy(DEFAULT)
    recorded, problems = replay(generated_day(policy, DAY, DAY, 60, seed=2)[:3], DEFAULT)
    assert not problems and len(recorded) == 3
    database = f"sqlite:///{tmp_path / 'history.sqlite3'}"
    if kept == "database":
        history = History(engine_for(database), policy.organisation_id)
        history.save_many(((r["id"], r, facts(r)) for r in recorded), datetime.now(UTC))
    else:
        store = Store(redis_conn, organisation=policy.organisation_id)
        for record in recorded:
            created = datetime.fromisoformat(record["created_at"]).timestamp()
            store.save_record(record["id"], record, created, 400 * 86400, created)
    before = {key: redis_conn.dump(key) for key in redis_conn.keys("*")}
    code = main(
        [
            "--from", "2026-12-01", "--policy", str(SHORTER_HOLD), "--current", str(DEFAULT),
            "--redis-url", redis_server.url, "--database-url", database,
            "--plot", str(tmp_path / "what-if.png"),
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "Replaying 3 recorded escalated calls, 2026-12-01 to 2026-12-01." in out, out
    assert {key: redis_conn.dump(key) for key in redis_conn.keys("*")} == before
