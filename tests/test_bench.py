"""``python -m itt.bench`` end to end, tiny: it runs all four contenders and ends with ``key=value`` floats.

Not a timed test: throughput on a shared CI machine says nothing; the figures only have to exist.
"""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from conftest import REPO, itt_env

pytestmark = pytest.mark.slow


def _last_line_pairs(stdout: str) -> dict[str, float]:
    last = stdout.strip().splitlines()[-1]
    pairs = dict(item.split("=", 1) for item in last.split())
    return {k: float(v) for k, v in pairs.items()}


def test_bench_tiny_run_prints_key_value_floats(tmp_path):
    cmd = [sys.executable, "-m", "itt.bench", "--model", "bert", "--steps", "3", "--warmup", "1", "--repeats", "1",
           "--root", str(tmp_path)]
    result = subprocess.run(cmd, cwd=REPO, env=itt_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    values = _last_line_pairs(result.stdout)
    for key in ("itt_samples_per_s", "hf_trainer_samples_per_s", "hf_trainer_grouped_samples_per_s",
                "bare_loop_samples_per_s", "ratio_vs_hf", "ratio_vs_bare", "token_cache_hit"):
        assert key in values, f"{key} missing from the last line: {result.stdout.strip().splitlines()[-1]}"
    assert all(math.isfinite(v) and v > 0 for v in values.values()), values
    assert values["token_cache_hit"] == 1  # the second pass over the same data tokenized nothing
    assert "(a) itt" in result.stdout and "(c) HF Trainer, group_by_length" in result.stdout


def test_bench_rejects_unknown_contender(tmp_path):
    cmd = [sys.executable, "-m", "itt.bench", "--contenders", "itt,nope", "--root", str(tmp_path)]
    result = subprocess.run(cmd, cwd=REPO, env=itt_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "nope" in result.stderr
