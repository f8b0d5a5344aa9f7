"""DDP workers fit what process 0 fits (``itt.distributed``): a sweep point process 0 finds cached, a parent it
reuses, a run it finds finished under SLURM; never a run chosen from the ledger on their own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, itt_env, read_ledger, run_itt
from safetensors.torch import load_file

BASE = ("model=bert", "task=sentiment", "+stage=target", "stage.itt=false", "source=embedded", "logger=csv",
        "trainer.max_epochs=1", "trainer.precision=32-true", "task.datasets.domain.embedded_rows=120",
        "task.datasets.crosslingual.embedded_rows=120", "data.batch_size=16")
DDP = ("trainer.devices=2", "trainer.strategy=ddp", "trainer.accelerator=cpu")


def _ok(root: Path, target: str) -> dict:
    return next(r for r in reversed(read_ledger(root)) if r["status"] == "ok" and r.get("target") == target)


def _same_weights(a: dict, b: dict) -> bool:
    left, right = (load_file(Path(r["checkpoint"]) / "model.safetensors") for r in (a, b))
    return left.keys() == right.keys() and all(left[k].equal(right[k]) for k in left)


@pytest.mark.slow
def test_a_local_ddp_sweep_with_a_cached_point_trains_the_other_point_as_a_run_of_its_own(tmp_path):
    """Lightning's launcher re-runs the command line, so the worker of a ``-m`` sweep ran the sweep from its first
    point: it trained the point process 0 found cached while process 0 trained the next one, in one process
    group; the ``ok`` row of that next point held weights and metrics of two runs averaged."""
    swept = tmp_path / "swept"
    first = run_itt(*BASE, *DDP, "stage.target=domain", root=swept)
    assert first.returncode == 0, first.stderr[-3000:]
    sweep = run_itt("-m", *BASE, *DDP, "stage.target=domain,crosslingual", root=swept, timeout=900)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    alone = run_itt(*BASE, *DDP, "stage.target=crosslingual", root=tmp_path / "alone")
    assert alone.returncode == 0, alone.stderr[-3000:]
    assert _ok(swept, "crosslingual")["run_id"] == _ok(tmp_path / "alone", "crosslingual")["run_id"]
    assert _ok(swept, "crosslingual")["metrics"] == _ok(tmp_path / "alone", "crosslingual")["metrics"]
    assert _same_weights(_ok(swept, "crosslingual"), _ok(tmp_path / "alone", "crosslingual"))
    assert [r["status"] for r in read_ledger(swept) if r["target"] == "domain"] == ["ok", "cached"]
    assert len(list((swept / "sweeps").iterdir())) == 1  # the worker's own sweep folder is not under paths.root


@pytest.mark.slow
def test_an_itt_target_under_ddp_trains_its_parent_first_and_again_from_the_reused_parent_alike(tmp_path):
    itt = (*BASE[:3], "stage.itt=true", *BASE[4:], *DDP, "stage.target=domain", "task.datasets.intermediate.embedded_rows=240")
    first = run_itt(*itt, root=tmp_path, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    forced = run_itt(*itt, "force=true", root=tmp_path, timeout=900)  # the parent reused, the target trained again
    assert forced.returncode == 0, forced.stderr[-3000:]
    rows = read_ledger(tmp_path)
    assert [(r["stage"], r["status"]) for r in rows] == [("intermediate", "ok"), ("target", "ok"), ("target", "ok")]
    assert rows[1]["metrics"] == rows[2]["metrics"] and _same_weights(rows[1], rows[2])


def _slurm_task(job: int, rank: int, root: Path, *overrides: str) -> subprocess.Popen:
    env = itt_env({"SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2", "SLURM_PROCID": rank, "SLURM_LOCALID": rank,
                   "SLURM_NODEID": "0", "SLURM_NODELIST": "localhost", "SLURM_JOB_ID": job, "SLURM_JOB_NAME": "itt",
                   "SLURM_JOB_NUM_NODES": "1", "SLURM_CPUS_PER_TASK": "1"})
    return subprocess.Popen([sys.executable, "-m", "itt.train", *overrides, f"paths.root={root}"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _slurm_job(job: int, root: Path, *overrides: str, timeout: float) -> list[tuple[int, str]]:
    tasks = [_slurm_task(job, rank, root, *overrides) for rank in (0, 1)]
    try:
        return [(task.wait(timeout=timeout), task.stdout.read()) for task in tasks]
    finally:
        for task in tasks:
            task.kill()


@pytest.mark.slow
def test_a_two_task_slurm_job_for_a_finished_run_ends_in_every_task(tmp_path):
    """Process 0 found the run cached and ended; its worker went on to fit it and waited for process 0 to join
    the process group until the job's time ran out."""
    command = (*BASE, "stage.target=domain", "trainer.devices=2", "trainer.accelerator=cpu")
    trained = _slurm_job(5151, tmp_path, *command, timeout=600)
    assert [code for code, _ in trained] == [0, 0], trained
    again = _slurm_job(5152, tmp_path, *command, timeout=120)
    assert [code for code, _ in again] == [0, 0], again
    assert "cached:" in again[0][1]
    assert [r["status"] for r in read_ledger(tmp_path)] == ["ok", "cached"]
