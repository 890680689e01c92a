"""The deployment `make run` starts, with real processes (issue 12 items 2, 3, 10, 11, 14): timers
keep running after a `kill -9` of the scheduler and the worker and after a Redis restart; start-up
refuses a Redis that would lose callbacks, a taken port, a token whose role contradicts the policy;
/health tells nobody where Redis is."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
import redis
import requests

from routes import create_app, preflight
from telephony.adapters.local_redis import LocalRedis, free_port
from telephony.adapters.timers import Timers
from telephony.clock import SystemClock
from telephony.config import ApiToken, ConfigError
from tests.probe_jobs import RAN
from tests.processes import BIN, kill_worker_and_horse, rq_worker, service_env, spawn, wait_for
from tests.support import ROOT, TOKENS, settings_for
from workers.scheduler import LEASE_KEY


def timer_due_in(conn: redis.Redis, seconds: float, label: str) -> str:
    """A real timer (what a check-in is), due shortly, on the system clock."""
    timers = Timers(conn, SystemClock())
    when = SystemClock().now() + timedelta(seconds=seconds)
    return timers.at(when, "tests.probe_jobs.mark", label, key=label)


def finished(conn: redis.Redis, label: str) -> bool:
    return label.encode() in conn.lrange(RAN, 0, -1)


def test_timers_run_again_within_seconds_after_kill_9_of_scheduler_and_worker(redis_server, tmp_path):
    conn = redis.Redis.from_url(redis_server.url)
    conn.flushall()
    env = service_env(redis_server.url)
    log = tmp_path / "processes.log"
    scheduler = spawn([str(BIN / "python"), "-m", "workers.scheduler"], env, log)
    worker = rq_worker(env, log)
    try:
        first = timer_due_in(conn, 0.5, "before-the-kill")
        wait_for(lambda: finished(conn, first), "a timer to run before the kill", log)
        kill_worker_and_horse(scheduler)
        kill_worker_and_horse(worker)
        assert conn.get(LEASE_KEY) is not None, "the dead scheduler's lease is still there"

        scheduler = spawn([str(BIN / "python"), "-m", "workers.scheduler"], env, log)
        worker = rq_worker(env, log)
        after = timer_due_in(conn, 1, "after-the-restart")
        wait_for(lambda: finished(conn, after), "a timer to run after the restart (RQ's scheduler: 10 min)", log)
    finally:
        for process in (scheduler, worker):
            if process.poll() is None:
                kill_worker_and_horse(process)


def test_make_run_rides_out_a_redis_restart_and_stops_everything(tmp_path):
    server = LocalRedis.start(tmp_path / "redis", appendonly=True)
    port = free_port()
    log = tmp_path / "run.log"
    env = service_env(
        server.url, BIND=f"127.0.0.1:{port}", WEB_WORKERS="1", RQ_WORKERS="1", DATA_DIR=str(tmp_path / "var")
    )
    run = spawn(["bash", "scripts/run.sh"], env, log)
    conn = redis.Redis.from_url(server.url)
    try:
        wait_for(lambda: _get(f"http://127.0.0.1:{port}/ready") == 200, "make run to be ready", log)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        wait_for(lambda: _get(f"http://127.0.0.1:{port}/ready") != 200, "the service to see Redis gone", log)
        server = LocalRedis.start(server.data_dir, port=server.port, appendonly=True)

        job = timer_due_in(conn, 1, "after-redis-restart")
        wait_for(lambda: finished(conn, job), "a timer to run after Redis restarted", log, limit=60)
        wait_for(lambda: _get(f"http://127.0.0.1:{port}/ready") == 200, "the service to be ready again", log)
    finally:
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=60)
        conn.close()
        server.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


def _get(url: str) -> int:
    try:
        return requests.get(url, timeout=2).status_code
    except requests.RequestException:
        return 0


def test_run_refuses_a_taken_port_in_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        for extra in (
            {"BIND": f"127.0.0.1:{busy}"},
            {"BIND": f"127.0.0.1:{free_port()}", "LOCAL_REDIS_PORT": str(busy)},
        ):
            env = service_env("", **extra)
            env.pop("REDIS_URL")
            result = subprocess.run(
                ["bash", "scripts/run.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
            )
            assert result.returncode == 2, result.stderr
            assert result.stderr.strip().count("\n") == 0 and "already in use" in result.stderr, result.stderr


def test_a_redis_without_persistence_is_refused_unless_told_to_warn(tmp_path, twilio_rest, caplog):
    server = LocalRedis.start(tmp_path / "redis", appendonly=False)
    try:
        with pytest.raises(ConfigError, match="no persistence"):
            create_app(settings_for(redis_url=server.url))
        create_app(settings_for(redis_url=server.url, redis_persistence_check="warn"))
        assert any("no persistence" in r.getMessage() for r in caplog.records)
    finally:
        server.stop()


def test_health_does_not_say_where_redis_is(tmp_path, twilio_rest):
    server = LocalRedis.start(tmp_path / "redis", appendonly=True)
    app = create_app(settings_for(redis_url=server.url))
    server.stop()
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.json == {"status": "degraded", "redis": "unreachable"}
    assert str(server.port) not in response.get_data(as_text=True)


def test_a_token_whose_role_contradicts_the_policy_stops_start_up():
    tokens = {**TOKENS, "agent-avery": ApiToken("tok-agent-avery-000000", "agent-avery", "manager")}
    with pytest.raises(ConfigError, match="agent-avery the role 'manager'.*agent"):
        preflight(settings_for(tokens=tokens))
    env = service_env("redis://127.0.0.1:1/0")
    env["API_TOKENS"] = "tok-agent-avery-000000:agent-avery:manager"
    result = subprocess.run([sys.executable, "wsgi.py", "--check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("cannot start: API_TOKENS gives agent-avery")
