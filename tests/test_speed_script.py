"""benchmarks/speed.py runs end to end and ends with its machine-readable line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "speed.py"
TINY = ["--rounds", "1", "--repeats", "1", "--warmup", "0"]


def run_speed(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def test_mlp_benchmark_ends_with_a_ratio_or_says_why_it_is_skipped():
    lines = run_speed("mlp", *TINY)
    assert re.fullmatch(r"mlp ratio=(\d+\.\d\d|skipped \(PyTorch not installed\))", lines[-1])
    assert re.search(r"dlcourse-mlp\s+median\s+\d+\.\d\d ms\s+min–max", "\n".join(lines))


def test_naive_benchmark_ends_with_the_speedup_of_the_vectorised_model():
    lines = run_speed("naive", *TINY, "--batch", "2")
    assert lines[0].startswith("naive: batch 2,")
    match = re.fullmatch(r"naive speedup=(\d+\.\d)", lines[-1])
    assert match, lines[-1]
    assert float(match.group(1)) > 1  # loops over pixels lose even on two images


def test_speed_rejects_a_zero_repeat_count():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "mlp", "--repeats", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "expected --repeats to be at least 1 but got 0" in done.stderr


PEAK_PROBE = """
import importlib.util, json, sys
import numpy as np
spec = importlib.util.spec_from_file_location("speed", sys.argv[1])
speed = importlib.util.module_from_spec(spec)
spec.loader.exec_module(speed)
if speed._status_kib("VmRSS") is None:
    print(json.dumps(None))
else:
    kept = []
    step = lambda: kept.append(np.ones(40 * 2**20 // 8))  # 40 MiB, touched
    print(json.dumps(speed.peak_memory_mib(step, steps=1)))
"""


def test_peak_memory_sees_an_allocation_made_during_the_step():
    # In a fresh process, as speed.py measures: a long-lived test process may hand the
    # step memory it already holds, which no peak counter can see.
    done = subprocess.run(
        [sys.executable, "-c", PEAK_PROBE, str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(done.stdout)
    if result is None:
        pytest.skip("no /proc/self/status on this platform")
    mib, method = result
    assert 35 < mib < 60, (mib, method)
