"""The real app on a real SLURM cluster (scripts/slurm/start-slurm.sh): ``python -m itt.train --multirun
hydra/launcher=slurm ...`` as a user types it.

- a small grid is one array job whose tasks run side by side; ITT targets of one model that start
  together agree through the intermediate run's file lock: it is trained once, the others reuse it;
- USR1 (what SLURM sends ``signal_delay_s`` before the time limit) makes the running job save an hpc
  checkpoint and requeue itself; the requeued job resumes from that checkpoint with the same run id
  and the same W&B run id, and the ledger gets exactly one ok row.

Marked ``slurm`` (skipped without a cluster, see tests/slurm_helpers.py) and ``slow``. Each test
leaves the queue empty (``slurm_queue_empty``).
"""

from __future__ import annotations

import subprocess
import time

import pytest

from conftest import ITT_TINY, REPO, SWEEP_ENV, itt_command, itt_env, read_ledger, run_sweep
from slurm_helpers import (  # noqa: F401  (slurm_cluster, slurm_queue_empty are fixtures)
    check_grid_ledger,
    default_partition,
    hurry_requeued,
    partitions,
    run,
    slurm_cluster,
    slurm_queue_empty,
    squeue_jobs,
    sweep_logs,
    wait_for,
    wait_queue_empty,
    wait_sacct_final,
)


def slurm_overrides() -> list[str]:
    """hydra/launcher=slurm with cpu_small; its partition `debug` is the project's local cluster."""
    extra = [] if "debug" in partitions() else [f"resources.partition={default_partition()}"]
    return ["hydra/launcher=slurm", "resources=cpu_small", *extra]


@pytest.mark.slurm
@pytest.mark.slow
def test_grid_on_slurm_trains_each_intermediate_once(slurm_cluster, slurm_queue_empty, tmp_path):
    models, targets = ["bert", "roberta"], ["domain", "crosslingual"]
    r, seconds = run_sweep(
        *slurm_overrides(), "resources.array_parallelism=4",
        f"model={','.join(models)}", "task=sentiment", "+stage=target",
        f"stage.target={','.join(targets)}", "stage.itt=true,false", *ITT_TINY, root=tmp_path, timeout=900,
    )
    print(f"slurm grid of 8 (4 at a time): {seconds:.1f}s")
    assert r.returncode == 0, f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}\n{sweep_logs(tmp_path)}"

    rows = read_ledger(tmp_path)
    check_grid_ledger(rows, models, "sentiment", targets, [True, False])

    # one array job of 8 tasks, at most 4 at once, all completed
    scripts = sorted(tmp_path.glob("sweeps/*/.submitit/*/*_submission.sh"))
    assert len(scripts) == 1, scripts
    assert "#SBATCH --array=0-7%4" in scripts[0].read_text()
    array_id = scripts[0].parent.name.split("_")[0]
    acct = wait_sacct_final(array_id, 8, timeout=90)
    assert sorted(a["State"] for a in acct) == ["COMPLETED"] * 8, acct
    # the ITT tasks of one model overlap (same wave of 4): the one that did not train the
    # intermediate waited for it, or found it done; either way it reused it
    waited = {p.name.rsplit("_log", 1)[0] for p in tmp_path.glob("sweeps/*/.submitit/*/*_log.*")
              if "waiting: another job is running" in p.read_text(errors="replace")}
    print(f"tasks that waited for another task's intermediate: {sorted(waited)}")
    assert wait_queue_empty(60), squeue_jobs()


DDP_JOB = ["resources.tasks_per_node=2", "resources.mem_gb=4", "trainer.accelerator=cpu", "trainer.strategy=ddp"]


@pytest.mark.slurm
@pytest.mark.slow
@pytest.mark.parametrize("processes", [[], DDP_JOB], ids=["one process", "2-task DDP"])
def test_requeue_on_usr1_resumes_the_same_run(slurm_cluster, slurm_queue_empty, tmp_path, processes):
    """USR1 mid-training: hpc checkpoint + requeue; the requeued job resumes that run (same run id,
    same W&B id) from the checkpoint's step, and the ledger gets one ok row with resumed_from_step. In a
    2-task DDP job SLURM signals both tasks: they agree on the step to save at, and the requeued job's two
    tasks resume it as one run."""
    from itt.logger import wandb_id

    # long enough to still be training when signalled (a few seconds per epoch on this machine);
    # W&B offline, to see that both attempts log to the same W&B run
    overrides = [*slurm_overrides(), *processes, "model=bert", "task=sentiment", "+stage=target", "stage.target=domain",
                 "stage.itt=false", "source=embedded", "logger=wandb", "trainer.max_epochs=8", "keep_checkpoints=true",
                 "task.datasets.domain.embedded_rows=400"]
    log_file = tmp_path / "sweep.log"
    t0 = time.monotonic()
    with open(log_file, "w") as log:
        proc = subprocess.Popen(itt_command(*overrides, root=tmp_path, multirun=True), cwd=REPO, env=itt_env(SWEEP_ENV),
                                stdout=log, stderr=subprocess.STDOUT, text=True)
    job = None
    try:
        # first epoch done (last.ckpt written): training runs, and global_step > 0
        def first_epoch_done() -> bool:
            return bool(list(tmp_path.glob("runs/*/checkpoints/last.ckpt"))) or proc.poll() is not None

        assert wait_for(first_epoch_done, 300), "training did not get through one epoch in 300 s"
        assert proc.poll() is None, f"sweep ended before the signal:\n{log_file.read_text()[-3000:]}\n{sweep_logs(tmp_path)}"
        # the job id: submitit's folder for it (.submitit/%j), not squeue (others may share the cluster)
        (job,) = [p.name for p in tmp_path.glob("sweeps/*/.submitit/*") if p.is_dir() and p.name.isdigit()]
        assert (job, "RUNNING") in [(j, state) for j, state, _ in squeue_jobs()], squeue_jobs()
        # what SLURM does signal_delay_s before the time limit, without waiting for it
        r = run(["scancel", "--signal=USR1", job])
        assert r.returncode == 0, r.stderr
        t_signal = time.monotonic()

        def finished() -> bool:
            hurry_requeued()  # a requeued job would otherwise wait ~2 min (BeginTime)
            return proc.poll() is not None

        assert wait_for(finished, 420, interval=1.0), "sweep did not finish after the requeue"
        print(f"requeue test: signalled after {t_signal - t0:.1f}s, done {time.monotonic() - t_signal:.1f}s later")
        assert proc.returncode == 0, f"{log_file.read_text()[-3000:]}\n{sweep_logs(tmp_path)}"
    finally:
        if proc.poll() is None:  # failed or timed out: leave nothing behind
            proc.kill()
            proc.wait()
        if job is not None and not wait_queue_empty(30):
            run(["scancel", job.split("_")[0]])

    rows = read_ledger(tmp_path)
    assert [r["status"] for r in rows] == ["ok"], rows  # one run, recorded once
    (row,) = rows
    assert row["resumed_from_step"] > 0, row
    run_dir = tmp_path / "runs" / row["run_id"]
    # the hpc checkpoint of the step the signal came in, or, when it came in a validation (a larger share of a
    # DDP job's time here), last.ckpt (itt.trainer.RequeueBetweenSteps)
    in_validation = any("SLURM requeue signal in a validation" in p.read_text(errors="replace")
                        for p in tmp_path.glob("sweeps/*/.submitit/*/*_log.*"))
    assert (run_dir / "hpc_ckpt_1.ckpt").exists() or in_validation, sorted(p.name for p in run_dir.iterdir())
    if processes:  # the requeued job trained as a 2-process run again
        logs = [p.read_text(errors="replace") for p in tmp_path.glob("sweeps/*/.submitit/*/*_1_log.*")]
        assert any(log.count("GLOBAL_RANK: 1, MEMBER: 2/2") == 2 for log in logs), logs
    # the same W&B run, continued: two offline attempts (one per allocation) with the id derived from the run id
    attempts = sorted(p.name for p in (run_dir / "wandb").glob("offline-run-*"))
    assert len(attempts) == 2 and all(a.endswith(f"-{wandb_id(row['run_id'])}") for a in attempts), attempts

    # SLURM's view: the task was requeued once, then completed
    (acct,) = wait_sacct_final(job, 1, timeout=60)
    assert acct["State"] == "COMPLETED", acct
    history = run(["sacct", "-X", "-D", "-n", "-P", "-j", job, "-o", "JobID,State"]).stdout.split()
    assert any(h.endswith("|REQUEUED") for h in history), history
    assert wait_queue_empty(60), squeue_jobs()


@pytest.mark.slurm
@pytest.mark.slow
def test_a_two_task_cpu_ddp_job_trains_one_run(slurm_cluster, slurm_queue_empty, tmp_path):
    """One sweep point as a 2-task job (resources.tasks_per_node=2): srun starts both processes,
    Lightning's SLURM environment makes them one DDP run (gloo on CPU); process 0 writes the one row."""
    r, seconds = run_sweep(
        *slurm_overrides(), "resources.tasks_per_node=2", "resources.mem_gb=4", "trainer.accelerator=cpu",
        "trainer.strategy=ddp", "model=bert", "task=sentiment", "+stage=target", "stage.itt=false", *ITT_TINY,
        root=tmp_path, timeout=900,
    )
    print(f"slurm 2-task DDP job: {seconds:.1f}s")
    assert r.returncode == 0, f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}\n{sweep_logs(tmp_path)}"
    rows = read_ledger(tmp_path)
    assert [r["status"] for r in rows] == ["ok"], rows
    script = next(tmp_path.glob("sweeps/*/.submitit/*/*_submission.sh")).read_text()
    assert "#SBATCH --ntasks-per-node=2" in script
    logs = " ".join(p.read_text(errors="replace") for p in tmp_path.glob("sweeps/*/.submitit/*/*_log.*"))
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in logs
    assert wait_queue_empty(60), squeue_jobs()


@pytest.mark.slurm
@pytest.mark.slow
def test_usr1_after_the_fit_requeues_and_the_requeued_job_records_the_run_once(slurm_cluster, slurm_queue_empty,
                                                                                tmp_path):
    """SLURM's requeue signal in the best checkpoint's test, after the fit, where Lightning has no handler of its
    own: the job runs ``scontrol requeue`` (itt.requeue) and stops without a row; the requeued job resumes the
    finished fit without training, tests, exports and records the run once. tests/requeue_driver.py sends the
    signal in the first attempt only (SLURM_RESTART_COUNT)."""
    import sys

    partition = "debug" if "debug" in partitions() else default_partition()
    overrides = ["model=bert", "task=sentiment", "+stage=target", "stage.target=domain", "stage.itt=false", *ITT_TINY,
                 f"paths.root={tmp_path}"]
    command = " ".join([sys.executable, "tests/requeue_driver.py", "test", *overrides])
    log = tmp_path / "job.log"
    r = run(["sbatch", "--parsable", "-n", "1", "-c", "1", "-p", partition, "--requeue", "--open-mode=append",
             "-J", "itt-requeue-test", "-o", str(log), "-D", str(REPO), f"--wrap=exec {command}"],
            env=itt_env(SWEEP_ENV))
    assert r.returncode == 0, r.stderr
    job = r.stdout.strip().split(";")[0]
    name_states = ["sacct", "-X", "-D", "-n", "-P", "-j", job, "--name", "itt-requeue-test", "-o", "JobID,State"]
    try:
        def finished() -> bool:  # the requeued attempt wrote its row and left the queue
            hurry_requeued()  # a requeued job would otherwise wait ~2 min (BeginTime)
            return bool(read_ledger(tmp_path)) and job not in [j for j, _, _ in squeue_jobs()]

        assert wait_for(finished, 420, interval=1.0), (
            f"job {job} did not finish ({run(name_states).stdout.split()}):\n{log.read_text()[-3000:]}")
        # SLURM's view, by job name (after a purge, job ids restart and accounting may hold an older job of this id)
        assert wait_for(lambda: "COMPLETED" in run(name_states).stdout, 60), run(name_states).stdout
    finally:
        if not wait_queue_empty(30):
            run(["scancel", job])
    text = log.read_text(errors="replace")
    history = run(name_states).stdout.split()
    assert any(h.endswith("|REQUEUED") for h in history) and history[-1].endswith("|COMPLETED"), history
    assert "requeueing SLURM job" in text, text[-3000:]
    rows = read_ledger(tmp_path)
    assert [r["status"] for r in rows] == ["ok"], rows  # one row: the first attempt wrote none
    (row,) = rows
    assert row["resumed_from_step"] > 0, row  # the requeued job resumed the ended fit
    assert row["metrics"]["test/acc"] is not None and (tmp_path / "runs" / row["run_id"] / "model").is_dir()
