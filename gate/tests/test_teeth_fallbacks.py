"""The teeth check's fallbacks: a site no gate test ran, and coverage data older than the source.

Both decide which tests face a mutant; if either broke silently, teeth could
report a site as guarded on evidence that does not exist.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.test_teeth import by_function, demo, run_teeth  # noqa: F401 - demo is a fixture


def gate_coverage(demo_dir, *select: str):
    env = {
        **os.environ,
        "PYTHONPATH": str(demo_dir / "src"),
        "COVERAGE_CORE": "ctrace",
        "COVERAGE_FILE": str(demo_dir / ".coverage"),
    }
    cmd = [sys.executable, "-m", "coverage", "run", "--source=demo_pkg", "-m", "pytest", "checks"]
    cmd += ["-p", "no:cacheprovider", "-q", *select]
    proc = subprocess.run(cmd, cwd=demo_dir, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return demo_dir / ".coverage"


def test_a_site_no_gate_test_ran_survives_and_says_so(demo):  # noqa: F811
    data = gate_coverage(demo, "-k", "test_guarded")
    proc, report = run_teeth(demo, "--data", str(data))
    assert proc.returncode == 1
    sites = by_function(report)
    assert sites["guarded"]["verdict"] == "killed" and sites["guarded"]["tests_run"] == 1
    for name in ("lambda_target", "unguarded", "fragile", "not_awaited"):
        assert sites[name]["verdict"] == "survived", name
        assert sites[name]["detail"] == "no gate test ran this site", name
        assert sites[name]["tests_run"] == 0, name
    assert proc.stdout.rstrip().endswith("teeth: killed 1/5")


def test_data_older_than_the_source_falls_back_to_every_gate_test(demo):  # noqa: F811
    data = gate_coverage(demo, "-k", "test_guarded")
    source = demo / "src" / "demo_pkg" / "__init__.py"
    later = time.time() + 60
    os.utime(source, (later, later))
    proc, report = run_teeth(demo, "--data", str(data))
    assert f"teeth: {data} is older than {source}" in proc.stdout
    assert "tests chosen from all gate tests (no usable coverage data)" in proc.stdout
    assert report["coverage_data"] is None
    sites = by_function(report)
    # With every gate test facing every mutant, the lambda site is killed by its own test
    # although the stale data never saw it run.
    assert sites["lambda_target"]["verdict"] == "killed"
    assert sites["unguarded"]["tests_run"] == 5
