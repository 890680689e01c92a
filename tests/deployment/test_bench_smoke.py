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
    assert "<!-- bench:webhooks -->" in (ROOT / "README.md").read_text(), "a smoke run leaves the README alone"


def test_the_readme_shows_the_last_make_bench_figures():
    """Issue 19: the README's benchmark tables are bench/RESULTS.md's, row for row (make bench
    writes both; a table edited by hand, or a RESULTS.md left behind, fails here)."""
    readme, results = (ROOT / "README.md").read_text(), (ROOT / "bench" / "RESULTS.md").read_text()
    for name in ("webhooks", "bursts", "dialler"):
        block = readme.split(f"<!-- bench:{name} -->", 1)[1].split(f"<!-- /bench:{name} -->", 1)[0]
        rows = [line for line in block.splitlines() if line.startswith("|")]
        assert len(rows) >= 3, name
        missing = [row for row in rows if row not in results.splitlines()]
        assert not missing, f"README {name} rows not in bench/RESULTS.md: {missing}"


def test_a_run_rewrites_each_marked_table_and_nothing_else():
    from bench.report import with_tables

    text = "intro\n<!-- bench:dialler -->\n| old |\n<!-- /bench:dialler -->\nafter\n"
    assert with_tables(text, {"dialler": ["| a |", "|---|", "| 1 |"]}) == (
        "intro\n<!-- bench:dialler -->\n| a |\n|---|\n| 1 |\n<!-- /bench:dialler -->\nafter\n"
    )
    import pytest

    with pytest.raises(ValueError, match="no <!-- bench:webhooks -->"):
        with_tables(text, {"webhooks": ["| x |"]})
