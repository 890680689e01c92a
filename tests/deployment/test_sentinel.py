"""Issue 11, Redis Sentinel: the settings, checked at start-up with one line, and a fail-over in the
middle of a run. One master, one replica and one sentinel on loopback; the web process, an RQ
worker and the scheduler reach Redis only through the sentinel. With escalations and callbacks in
flight the master is killed (`kill -9`); the sentinel promotes the replica; every write the
service had acknowledged is on the new master (REDIS_WAIT_REPLICAS=1: a booked callback was on
the replica before the caller heard the confirmation), the processes find the new master by
themselves, and the calls in flight finish as the procedures say (R-CB-4, R-CB-8)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
import redis
import requests

from telephony.adapters.local_redis import LocalRedis, find_redis_server, free_port
from telephony.adapters.store import sentinel_master
from telephony.config import ConfigError, Settings
from tests.day import STORIES, Day
from tests.fleet import Fleet, FleetHarness, fleet_env

MASTER = "escalations"
ENV = {
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": "x" * 32,
    "TWILIO_CALLER_ID": "+13125550100",
    "PUBLIC_BASE_URL": "https://esc.example.test",
    "API_TOKENS": "tok-agent-avery-000000:agent-avery:agent",
}


def test_sentinel_settings_are_read_and_bad_ones_stop_start_up_in_one_line():
    good = Settings.from_env({**ENV, "REDIS_SENTINELS": "10.0.0.5:26379, [::1]:26380", "REDIS_SENTINEL_MASTER": "m1"})
    assert good.redis_sentinels == (("10.0.0.5", 26379), ("::1", 26380)) and good.redis_sentinel_master == "m1"
    for env, words in (
        ({"REDIS_SENTINELS": "10.0.0.5"}, "REDIS_SENTINELS entry '10.0.0.5' must be host:port"),
        ({"REDIS_SENTINELS": "10.0.0.5:99999", "REDIS_SENTINEL_MASTER": "m"}, "must be host:port"),
        ({"REDIS_SENTINELS": "10.0.0.5:26379"}, "REDIS_SENTINEL_MASTER must name the master"),
        ({"REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS is not"),
        (
            {"REDIS_SENTINELS": "10.0.0.5:26379", "REDIS_SENTINEL_MASTER": "m", "REDIS_URL": "redis://x:6379/0"},
            "set REDIS_URL or REDIS_SENTINELS, not both",
        ),
        ({"REDIS_WAIT_REPLICAS": "many"}, "REDIS_WAIT_REPLICAS must be a whole number"),
    ):
        with pytest.raises(ConfigError) as refused:
            Settings.from_env({**ENV, **env})
        assert words in str(refused.value) and "\n" not in str(refused.value)


def test_a_sentinel_that_knows_no_such_master_stops_start_up_in_one_line(tmp_path):
    from routes import connect_redis
    from tests.support import settings_for

    sentinel = Sentinel.start(tmp_path, master_port=free_port())
    try:
        settings = settings_for(redis_sentinels=(("127.0.0.1", sentinel.port),), redis_sentinel_master="other")
        with pytest.raises(ConfigError) as refused:
            connect_redis(settings)
        assert str(refused.value).startswith(
            f"REDIS_SENTINELS 127.0.0.1:{sentinel.port} (master other) does not answer"
        )
    finally:
        sentinel.stop()


class Sentinel:
    """`redis-sentinel` (the apt package), or `redis-server --sentinel`, watching one master."""

    def __init__(self, port: int, process: subprocess.Popen, log: Path):
        self.port, self.process, self.log = port, process, log

    @classmethod
    def start(cls, data_dir: Path, master_port: int) -> Sentinel:
        port = free_port()
        conf = data_dir / "sentinel.conf"
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {data_dir}\nlogfile {data_dir / 'sentinel.log'}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {master_port} 1\n"
            f"sentinel down-after-milliseconds {MASTER} 1000\n"
            f"sentinel failover-timeout {MASTER} 10000\n"
        )
        binary = shutil.which("redis-sentinel")
        args = [binary, str(conf)] if binary else [find_redis_server(), str(conf), "--sentinel"]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        sentinel = cls(port, process, data_dir / "sentinel.log")
        _wait(lambda: _ping(port), "the sentinel to answer", sentinel.log)
        return sentinel

    def conn(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, decode_responses=True)

    def master_port(self) -> int | None:
        try:
            found = self.conn().sentinel_get_master_addr_by_name(MASTER)
        except redis.RedisError:
            return None
        return int(found[1]) if found else None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _ping(port: int) -> bool:
    try:
        return bool(redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def _answers(conn: redis.Redis) -> bool:
    try:
        return bool(conn.ping())
    except redis.RedisError:
        return False


def _wait(predicate, what: str, log: Path | None = None, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(
        f"gave up waiting for {what}" + (f":\n{log.read_text()[-2000:]}" if log and log.exists() else "")
    )


def replica_of(data_dir: Path, master_port: int) -> LocalRedis:
    """A replica with the project's append-only configuration (LocalRedis), then told to follow."""
    replica = LocalRedis.start(data_dir, appendonly=True)
    redis.Redis(host="127.0.0.1", port=replica.port).replicaof("127.0.0.1", master_port)
    return replica


def snapshot(conn: redis.Redis) -> dict[str, object]:
    """Every piece of call state and every timer: esc:* keys and RQ's scheduled registry; not
    what lives for seconds by design (the scheduler's lease, the per-second dialling counters)."""
    found: dict[str, object] = {}
    for key in sorted(k.decode() for k in conn.scan_iter(match="esc:*")) + ["rq:scheduled:escalations"]:
        if 0 < conn.pttl(key) < 60_000:
            continue
        kind = conn.type(key).decode()
        if kind == "hash":
            found[key] = conn.hgetall(key)
        elif kind == "list":
            found[key] = conn.lrange(key, 0, -1)
        elif kind == "set":
            found[key] = sorted(conn.smembers(key))
        elif kind == "zset":
            found[key] = conn.zrange(key, 0, -1, withscores=True)
        elif kind == "string":
            found[key] = conn.get(key)
        elif kind == "stream":
            found[key] = [entry for entry, _ in conn.xrange(key)]
    return found


def during_the_gap(harness, base: str) -> dict:
    """A caller ringing while there is no master hears TwiML that keeps them connected (the
    fallback path needs no Redis); the agent API answers 200 or 503 store_unavailable, never 500."""
    from tests.support import CALLER_ID, new_call_sid

    caller = new_call_sid()
    form = {"CallSid": caller, "From": "+13125550199", "To": CALLER_ID, "CallStatus": "ringing"}
    url = "https://esc.example.test/voice/incoming"
    signature = harness.validator.compute_signature(url, form)
    incoming = requests.post(base + "/voice/incoming", data=form, headers={"X-Twilio-Signature": signature}, timeout=30)
    api = requests.get(
        base + "/api/escalations", headers={"Authorization": "Bearer tok-lead-lee-0000000000"}, timeout=30
    )
    return {
        "caller": caller,
        "incoming": (incoming.status_code, incoming.headers.get("Content-Type", "").split(";")[0]),
        "twiml": incoming.text,
        "api": api.status_code,
    }


def test_the_master_fails_over_mid_run_and_nothing_acknowledged_is_lost__R_CB_8(twilio_stand_in, tmp_path):
    master = LocalRedis.start(tmp_path / "master", appendonly=True)
    replica = replica_of(tmp_path / "replica", master.port)
    sentinel = Sentinel.start(tmp_path, master.port)
    fleet = None
    try:
        _wait(
            lambda: redis.Redis(port=replica.port).info("replication").get("master_link_status") == "up",
            "the replica to follow the master",
        )
        _wait(
            lambda: len(sentinel.conn().sentinel_slaves(MASTER)) == 1, "the sentinel to see the replica", sentinel.log
        )
        sentinels = f"127.0.0.1:{sentinel.port}"
        env = fleet_env(
            {"REDIS_SENTINELS": sentinels, "REDIS_SENTINEL_MASTER": MASTER, "REDIS_WAIT_REPLICAS": "1"},
            twilio_stand_in.url,
        )
        twilio_stand_in.fake.mock.add_passthru("http://127.0.0.1")
        fleet = Fleet(env, tmp_path / "logs", web=1, workers=1).start()
        conn = sentinel_master([("127.0.0.1", sentinel.port)], MASTER)
        harness = FleetHarness(conn, twilio_stand_in.fake, fleet.bases, fleet)
        harness.clock.set(datetime.fromisoformat("2026-11-24T15:00:00+00:00"))  # 09:00 in Chicago, a Tuesday
        day = Day(harness)
        for story in STORIES:
            day.call(story)
            day.advance(300)

        # In flight: a caller on hold while a lead is rung, and a callback booked but not yet dialled.
        held_sid, held_agent = harness.caller_with_agent()
        agent = harness.core.ctx.store.call(held_sid)["agent_id"]
        held = harness.escalate(held_sid, who=agent).json["id"]
        day.stories[held] = "connected"
        waiting_sid, waiting_agent = harness.caller_with_agent()
        waiting = harness.escalate(waiting_sid, who=harness.core.ctx.store.call(waiting_sid)["agent_id"]).json["id"]
        day.stories[waiting] = "callback"
        day.book_callback(waiting_sid, waiting)
        assert harness.core.ctx.store.call(held_sid) and harness.escalation(held)["state"] == "dialing_lead"
        before = snapshot(conn)
        last_event = harness.core.ctx.store.last_event_id()

        os.kill(master.process.pid, signal.SIGKILL)
        master.process.wait()
        killed_at = time.monotonic()
        during = during_the_gap(harness, fleet.bases[0])
        _wait(
            lambda: sentinel.master_port() == replica.port and _answers(conn),
            "the sentinel to promote the replica",
            sentinel.log,
        )
        promoted_after = time.monotonic() - killed_at
        after = snapshot(conn)
        lost = sorted(k for k in before if before[k] != after.get(k))
        assert not lost, f"acknowledged before the fail-over, not on the new master: {lost[:10]}"

        harness.webhook("/voice/status", {"CallSid": during["caller"], "CallStatus": "completed"})
        harness.run_jobs()

        # The calls in flight finish, through the same processes.
        harness.webhook("/voice/status", {"CallSid": waiting_sid, "CallStatus": "completed"})
        harness.leg_status(f"/voice/agent/status?caller={waiting_sid}", waiting_agent, "completed")
        harness.lead_accepts_and_joins(held)
        assert harness.api("POST", f"/api/escalations/{held}/connect", who=agent, json={}).status_code == 200
        harness.leg_status(f"/voice/agent/status?caller={held_sid}", held_agent, "completed")
        harness.leg_status(f"/voice/lead/status?escalation={held}", harness.lead_leg(held), "completed")
        harness.webhook("/voice/status", {"CallSid": held_sid, "CallStatus": "completed"})
        day.advance(300)
        for story in STORIES:
            day.call(story)
            day.advance(300)
        day.advance(1800)
        counts = day.check()
        stream = requests.get(
            fleet.bases[0] + "/api/events",
            headers={
                "Authorization": "Bearer tok-lead-lee-0000000000",
                "Accept": "text/event-stream",
                "Last-Event-ID": last_event,
            },
            stream=True,
            timeout=20,
        )
        first_change = next(line for line in stream.iter_lines(decode_unicode=True) if line.startswith("event: change"))
        stream.close()
    finally:
        if fleet is not None:
            fleet.stop()
        sentinel.stop()
        replica.stop()
        master.stop()
    print(
        f"\nsentinel fail-over: replica promoted {promoted_after:.1f} s after kill -9 of the master; "
        f"{len(before)} keys compared, {len(lost)} lost; during the gap: incoming {during['incoming'][0]}, "
        f"API {during['api']}; processes restarted {fleet.restarts}; stories {counts}; "
        f"statuses {harness.client.statuses}"
    )
    assert during["incoming"] == (200, "text/xml") and "<Dial" in during["twiml"], during
    assert during["api"] in (200, 503), during
    assert first_change == "event: change", "the console's change stream reads through the sentinel"
    assert not day.problems, "\n".join(day.problems)
    assert not harness.client.server_errors, harness.client.server_errors[:5]
    assert counts["callbacks_dialled_once"] == len(day.callbacks) == 3


def test_a_booked_callback_waits_for_a_replica_when_told_to(redis_conn, monkeypatch, caplog):
    """REDIS_WAIT_REPLICAS=1: the write is followed by WAIT 1; with no replica to acknowledge it
    the service says so in the log (and still confirms: the master and its AOF have it)."""
    from telephony.adapters import store as store_module
    from telephony.adapters.store import base as store_base

    monkeypatch.setattr(store_base, "WAIT_MS", 50)
    waiting = store_module.Store(redis_conn, wait_replicas=1)
    waiting.save_callback("cb_waits", {"id": "cb_waits", "status": "scheduled"}, 0)
    assert redis_conn.hget(waiting.k.callback("cb_waits"), "status") == b"scheduled"
    assert any("callback cb_waits: 0 of 1 replicas acknowledged" in r.getMessage() for r in caplog.records)
    assert store_module.Store(redis_conn).replicated("no wait asked") is True


@pytest.mark.parametrize(
    "command", [["rq", "worker", "--burst", "-c", "workers.rq_settings"], ["python", "-m", "workers.scheduler"]]
)
def test_a_worker_or_scheduler_with_bad_sentinel_settings_stops_in_one_line(command):
    from tests.processes import BIN, service_env
    from tests.support import ROOT

    env = service_env("", REDIS_SENTINELS="10.0.0.5", REDIS_SENTINEL_MASTER="m")
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "cannot start: REDIS_SENTINELS entry '10.0.0.5' must be host:port; list them as 10.0.0.5:26379,10.0.0.6:26379"
    ), result.stderr
