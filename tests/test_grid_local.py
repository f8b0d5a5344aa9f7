"""``hydra/launcher=local``: a small grid as separate processes through submitit's local executor.

All jobs of the sweep start at once, so the two ITT targets race for the same intermediate run: its
file lock lets exactly one train it, the other waits and reuses it. Nothing goes to SLURM, even when
a cluster answers (then its next job id must not move).
"""

from __future__ import annotations

import pytest

from conftest import ITT_TINY, read_ledger, run_sweep
from slurm_helpers import (
    check_grid_ledger,
    next_job_id,
    slurm_available,
    squeue_jobs,
    sweep_logs,
)


@pytest.mark.slow
def test_local_launcher_grid_trains_the_intermediate_once(tmp_path):
    have_slurm = slurm_available()
    before = next_job_id() if have_slurm else None
    targets = ["domain", "crosslingual"]
    r, seconds = run_sweep("hydra/launcher=local", "model=bert", "task=sentiment", "+stage=target",
                           f"stage.target={','.join(targets)}", "stage.itt=true,false", *ITT_TINY, root=tmp_path, timeout=600)
    print(f"local launcher, grid of 4 at once: {seconds:.1f}s")
    assert r.returncode == 0, f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}\n{sweep_logs(tmp_path)}"

    check_grid_ledger(read_ledger(tmp_path), ["bert"], "sentiment", targets, [True, False])

    # four jobs, each its own process with submitit's local executor (its folders are named by pid)
    # (submitit also leaves an empty folder literally named "%j")
    jobs = sorted(p.name for p in tmp_path.glob("sweeps/*/.submitit/*") if p.is_dir() and p.name.isdigit())
    assert len(jobs) == 4, jobs
    logs = sweep_logs(tmp_path, limit=10**7)
    assert "SLURM auto-requeueing enabled" not in logs  # Lightning did not think it ran under SLURM
    if have_slurm:
        assert next_job_id() == before, "hydra/launcher=local submitted a SLURM job"
        assert not squeue_jobs()
