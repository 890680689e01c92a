"""The benchmark scripts keep working: `python -m bench.run --smoke` with tiny sizes (real gunicorn,
wrk, Redis, workers), no timing asserted; the figures are bench/RESULTS.md's business."""

from __future__ import annotations

import subprocess
import sys

from tests.support import ROOT


def test_the_benchmarks_run_with_tiny_sizes(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = (tmp_path / "RESULTS.md").read_text()
    for part in (
        "/voice/incoming",
        "/voice/hold",
        "POST /api/escalations",
        "## Where a webhook's CPU goes",
        "Redis bytes per escalation",
        "purge has run",
        "## Scale-out",
        "| 50 on hold, steady | 2 | 1 |",
        "| 20 on hold, burst | 2 | 20 |",
        "| 40 | 2 |",
        "stand-in floor s |",
        "With the limit at 100, above the demand",
    ):
        assert part in report, part
    for plot in ("webhooks.png", "timers.png", "dialler.png"):
        assert (tmp_path / plot).stat().st_size > 0
