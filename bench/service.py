"""The service as the benchmarks run it: its settings (the bench's Redis, the Twilio stand-in, signed
requests), gunicorn in the README's production config on a free loopback port, and the percentile
every table uses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from telephony.adapters.local_redis import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BASE = "https://bench.example.test"
AUTH = "bench-auth-token-0123456789abcdef"
AGENT_TOKEN = "bench-agent-token-000000"
GUNICORN = ["--workers", "2", "--timeout", "20", "--preload"]  # the README's production config


def env_for(redis_url: str, twilio_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": AUTH,
        "TWILIO_CALLER_ID": "+13125550100",
        "PUBLIC_BASE_URL": BASE,
        "POLICY_FILE": str(ROOT / "policies" / "default.toml"),
        "API_TOKENS": f"{AGENT_TOKEN}:agent-avery:agent",
        "TWILIO_API_BASE_URL": twilio_url,
        "OUTBOUND_CALLS_PER_SECOND": "1000",
        "CLOCK": "system",
        "LOG_FORMAT": "text",
        "LOG_LEVEL": "ERROR",
        "PYTHONPATH": str(ROOT),
    }


def serve(app: str, env: dict[str, str], log: Path, workers: int = 2) -> tuple[subprocess.Popen, int]:
    port = free_port()
    config = [*GUNICORN]
    config[config.index("--workers") + 1] = str(workers)
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), *config, "--bind", f"127.0.0.1:{port}", app],
        cwd=ROOT,
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{app} did not start: {log.read_text()[-2000:]}")


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")
