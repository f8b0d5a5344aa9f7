"""SLURM's end-of-allocation signal (USR1, ``--signal=USR1@120``) outside Lightning's fit: before it (data and
model loading), after it (test, model export, ledger row). It requeues the job (``scontrol requeue``) and stops it,
never inside a ledger append or a model export, and the requeued job (the same command again) finishes the run
without training twice. SLURM is simulated: the variables ``srun`` sets and a fake ``scontrol`` on PATH."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import OFFLINE, REPO, SLURM_JOB, itt_env, read_ledger

from itt import ledger

DRIVER = Path(__file__).with_name("requeue_driver.py")
RUN = ("model=bert", "task=sentiment", "+stage=target", "stage.itt=false", *OFFLINE,
       "task.datasets.domain.embedded_rows=240", "data.batch_size=16", "trainer.max_epochs=2",  # 11 steps an epoch
       "keep_checkpoints=true")


@pytest.fixture
def slurm(tmp_path, monkeypatch):
    """A SLURM job step: srun's variables, and an ``scontrol`` that records its arguments in ``calls``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "scontrol.calls"
    scontrol = bin_dir / "scontrol"
    scontrol.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    scontrol.chmod(0o755)
    env = {**SLURM_JOB, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env, calls


def _calls(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.parametrize("name", ["itt", "bash", "interactive", None])
def test_the_job_takes_the_signal_where_lightning_requeues(monkeypatch, name):
    """The job's handler is armed exactly where Lightning's SLURMEnvironment is detected (and so requeues), and
    the handler before it is back at the job's end."""
    from lightning_fabric.plugins.environments import SLURMEnvironment

    from itt import requeue

    for key, value in SLURM_JOB.items():
        monkeypatch.setenv(key, value)
    if name is None:
        monkeypatch.delenv("SLURM_NTASKS")
    else:
        monkeypatch.setenv("SLURM_JOB_NAME", name)
    before = signal.getsignal(signal.SIGUSR1)
    assert requeue.slurm_requeues() == SLURMEnvironment.detect() == (name == "itt")
    with requeue.during_job():
        assert requeue.is_job_handler(signal.getsignal(signal.SIGUSR1)) == (name == "itt")
    assert signal.getsignal(signal.SIGUSR1) is before


def test_a_signal_outside_training_requeues_the_array_task_and_stops_the_job(slurm, monkeypatch):
    from itt import requeue

    _, calls = slurm
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "4240")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "2")
    with pytest.raises(requeue.JobRequeued), requeue.during_job():
        os.kill(os.getpid(), signal.SIGUSR1)
    assert _calls(calls) == ["requeue 4240_2"]


def test_only_process_0_requeues_and_stops_and_the_others_wait_for_slurm(slurm, monkeypatch):
    """Every process of the job step gets SLURM's signal; process 0 requeues (as Lightning's handler) and stops,
    the others go on until SLURM ends every task of the requeued job: one that stopped itself could make srun
    (--kill-on-bad-exit) end process 0 before its ``scontrol requeue``."""
    from itt import requeue

    _, calls = slurm
    monkeypatch.setenv("SLURM_PROCID", "1")
    with requeue.during_job():
        os.kill(os.getpid(), signal.SIGUSR1)
        assert not requeue.requeued()
    assert _calls(calls) == []
    monkeypatch.setenv("SLURM_PROCID", "0")
    with pytest.raises(requeue.JobRequeued), requeue.during_job():
        os.kill(os.getpid(), signal.SIGUSR1)
    assert _calls(calls) == ["requeue 4242"]


def test_a_forked_child_ignores_the_signal_its_parent_handles(slurm):
    """A DataLoader worker forked after the handler was armed inherits it: SLURM signals every process of the step,
    and the child must neither requeue nor stop."""
    from itt import requeue

    _, calls = slurm
    with requeue.during_job():
        pid = os.fork()
        if pid == 0:  # the child: signal itself, then report whether it is still running normally
            code = 3  # stopped by the signal (JobRequeued)
            try:
                os.kill(os.getpid(), signal.SIGUSR1)
                code = 0 if not requeue.requeued() else 4
            finally:
                os._exit(code)  # never back into pytest from a forked child
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _calls(calls) == []


def test_a_failed_scontrol_lets_the_job_go_on_and_the_next_signal_tries_again(slurm, caplog):
    from itt import requeue

    env, calls = slurm
    scontrol = Path(env["PATH"].split(os.pathsep)[0]) / "scontrol"
    scontrol.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexit 1\n')
    with requeue.during_job():
        os.kill(os.getpid(), signal.SIGUSR1)
        assert "requeueing SLURM job 4242 failed (scontrol exit code 1)" in caplog.text
        scontrol.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
        with pytest.raises(requeue.JobRequeued):
            os.kill(os.getpid(), signal.SIGUSR1)
    assert _calls(calls) == ["requeue 4242", "requeue 4242"]


def test_a_held_write_that_fails_still_requeues_at_its_end(slurm):
    from itt import requeue

    _, calls = slurm
    with pytest.raises(requeue.JobRequeued) as raised, requeue.during_job(), requeue.held():
        os.kill(os.getpid(), signal.SIGUSR1)
        assert _calls(calls) == []
        raise OSError(28, "No space left on device")
    assert isinstance(raised.value.__context__, OSError)
    assert _calls(calls) == ["requeue 4242"]


def test_submitits_handlers_stay_and_a_submitit_handler_on_usr1_is_replaced(slurm, monkeypatch, caplog):
    """Under hydra/launcher=slurm submitit has set its handlers before the job runs: USR2 (its preemption signal)
    checkpoints and requeues the Hydra job, SIGTERM is only logged. They stay; USR1 is the job's. Told to use USR1
    (SUBMITIT_PREEMPT_SIGNAL=USR1), submitit's handler there is replaced with a warning, and back afterwards."""
    from submitit.core.job_environment import SignalHandler

    from itt import requeue

    _, calls = slurm
    submitit = SignalHandler(None, None, None)
    ours = {signal.SIGTERM: submitit.bypass, signal.SIGUSR2: submitit.checkpoint_and_try_requeue,
            signal.SIGUSR1: signal.SIG_DFL}
    before = {signum: signal.signal(signum, handler) for signum, handler in ours.items()}
    try:
        with pytest.raises(requeue.JobRequeued), requeue.during_job():
            assert signal.getsignal(signal.SIGTERM) == submitit.bypass
            assert signal.getsignal(signal.SIGUSR2) == submitit.checkpoint_and_try_requeue
            os.kill(os.getpid(), signal.SIGUSR1)
        assert _calls(calls) == ["requeue 4242"]
        signal.signal(signal.SIGUSR1, submitit.checkpoint_and_try_requeue)
        with requeue.during_job():
            assert requeue.is_job_handler(signal.getsignal(signal.SIGUSR1))
        assert "had a handler" in caplog.text
        assert signal.getsignal(signal.SIGUSR1) == submitit.checkpoint_and_try_requeue
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def test_a_job_waiting_for_another_jobs_run_lock_is_requeued(slurm, tmp_path):
    """The wait for a run another job trains (a shared intermediate) can take hours: the signal requeues at once."""
    import threading

    from filelock import FileLock

    from itt import pipeline, requeue

    _, calls = slurm
    pipeline.lock_path(tmp_path, "r").parent.mkdir()
    held, done = threading.Event(), threading.Event()

    def other_job():  # its own flock on the file (filelock refuses a second lock of one path in one thread)
        with FileLock(str(pipeline.lock_path(tmp_path, "r"))):
            held.set()
            done.wait(60)

    holder = threading.Thread(target=other_job)
    holder.start()
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGUSR1))
    try:
        assert held.wait(10)
        timer.start()
        with pytest.raises(requeue.JobRequeued), requeue.during_job(), pipeline._run_lock(tmp_path, "r"):
            pytest.fail("took the lock another job holds")
    finally:
        timer.cancel()
        done.set()
        holder.join()
    assert _calls(calls) == ["requeue 4242"]


def test_a_signal_inside_a_ledger_append_waits_for_the_whole_row(slurm, tmp_path, monkeypatch):
    """The append is not cut: the row is written whole, then the job requeues and stops."""
    from itt import requeue

    _, calls = slurm
    real_write, seen = os.write, []

    def write_signalled(fd, data):
        if not seen:
            os.kill(os.getpid(), signal.SIGUSR1)
            seen.append(_calls(calls))  # held: nothing requeued yet
        return real_write(fd, data)

    monkeypatch.setattr(ledger.os, "write", write_signalled)
    with pytest.raises(requeue.JobRequeued), requeue.during_job():
        ledger.append(tmp_path, {"run_id": "r", "status": "ok", "metrics": {}})
    monkeypatch.undo()
    assert seen == [[]]
    assert [row["run_id"] for row in read_ledger(tmp_path)] == ["r"]
    assert _calls(calls) == ["requeue 4242"]


def _run(phase: str, root: Path, env: dict, run: tuple[str, ...] = RUN) -> subprocess.CompletedProcess:
    command = [sys.executable, str(DRIVER), phase, *run, f"paths.root={root}"]
    return subprocess.run(command, cwd=REPO, env=itt_env(env), capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The run without a signal, off SLURM: its row (metrics, checkpoint step)."""
    root = tmp_path_factory.mktemp("uninterrupted")
    done = _run("none", root, {})
    assert done.returncode == 0, done.stderr[-3000:]
    [row] = read_ledger(root)
    return row


@pytest.mark.slow
# "test" (a signal in the test after the fit) runs on the real cluster: tests/test_slurm_itt.py
@pytest.mark.parametrize("phase", ["build", "fit", "export", "ledger"])
def test_a_requeue_signal_anywhere_in_the_job_requeues_it_and_the_requeued_job_finishes_the_run(
        tmp_path, slurm, uninterrupted, phase):
    """The signal ends the job only after ``scontrol requeue`` and never half-way through a write; the requeued
    job finishes the run with the uninterrupted run's metrics. Before (Python's default action for USR1 outside
    Lightning's fit) the job died at once without being requeued, and a signal in the test or in the fit's last
    step let the job go on past its requeue (Lightning's handler then saved an hpc checkpoint of the best
    checkpoint's test)."""
    env, calls = slurm
    root = tmp_path / "root"
    first = _run(phase, root, env)
    assert first.returncode not in (0, -signal.SIGUSR1), first.stderr[-3000:]
    assert "requeued by SLURM's end-of-allocation signal" in first.stderr, first.stderr[-3000:]
    assert _calls(calls) == ["requeue 4242"]
    run_dir = root / "runs" / uninterrupted["run_id"]
    rows = read_ledger(root)
    if phase == "ledger":  # the row was being written: it is whole, and the requeued job reports it as cached
        assert [r["status"] for r in rows] == ["ok"]
    else:
        assert rows == []
        assert not list(run_dir.glob("hpc_ckpt_*.ckpt"))  # nothing saved outside training to resume from
    if phase == "export":  # the model folder is whole: the signal waited for the end of the export
        assert (run_dir / "model" / "itt_labels.json").exists()
        assert not list(run_dir.glob(".model-*"))
    if phase in ("fit", "test", "export"):  # the fit had ended: the requeued job resumes at its end
        saved = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
        assert saved["global_step"] == 22

    again = _run("none", root, env)
    assert again.returncode == 0, again.stderr[-3000:]
    rows = read_ledger(root)
    if phase == "ledger":
        assert [r["status"] for r in rows] == ["ok", "cached"]
    else:
        [row] = rows
        assert row["status"] == "ok"
        # fit: requeued at the last step's validation, the fit went on to its end (the fake scontrol sends no
        # SIGTERM) and the job stopped after it: last.ckpt is the fit's end, a state to resume from as any other.
        assert row.get("resumed_from_step") == {"build": None, "fit": 22, "test": 22, "export": 22}[phase]
    assert rows[-1]["metrics"] == uninterrupted["metrics"]
    assert _calls(calls) == ["requeue 4242"]


@pytest.mark.slow
def test_a_requeue_that_slurm_refused_in_the_fit_lets_the_job_finish_the_run(tmp_path, slurm, uninterrupted):
    """``scontrol requeue`` fails (a job that is not requeueable): nobody will run the job again, so it must not
    stop after the fit as a requeued one does; it finishes and records the run."""
    env, calls = slurm
    scontrol = Path(env["PATH"].split(os.pathsep)[0]) / "scontrol"
    scontrol.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexit 1\n')
    done = _run("fit", tmp_path / "root", env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _calls(calls) == ["requeue 4242"]
    [row] = read_ledger(tmp_path / "root")
    assert row["status"] == "ok" and row["metrics"] == uninterrupted["metrics"]


@pytest.mark.slow
def test_a_requeue_signal_in_the_ledger_append_still_removes_the_resume_checkpoints(tmp_path, slurm):
    """The job stops right after the held append: the checkpoints' removal that follows it must be held too, or the
    requeued job, which finds the row and reports the run cached, leaves them (weights and optimizer state) for good."""
    env, calls = slurm
    root = tmp_path / "root"
    first = _run("ledger", root, env, tuple(o for o in RUN if o != "keep_checkpoints=true"))
    assert "requeued by SLURM's end-of-allocation signal" in first.stderr, first.stderr[-3000:]
    assert _calls(calls) == ["requeue 4242"]
    [row] = read_ledger(root)
    run_dir = root / "runs" / row["run_id"]
    assert row["status"] == "ok" and (run_dir / "model" / "itt_labels.json").exists()
    assert not list(run_dir.glob("hpc_ckpt_*.ckpt")) and not list(run_dir.glob("checkpoints/*.ckpt"))


@pytest.mark.slow
def test_a_requeue_signal_in_a_basic_launcher_sweep_keeps_every_point(tmp_path, slurm):
    """A sweep run by Hydra's basic launcher in one SLURM job: the signal in its first point's loading requeues
    the job, and the requeued job (the same sweep) runs both points. Python's default action for USR1 ended the
    whole sweep unrequeued."""
    env, calls = slurm
    root = tmp_path / "root"
    sweep = [sys.executable, str(DRIVER), "build", "--multirun", *RUN, "trainer.max_epochs=1", "seed=0,1",
             f"paths.root={root}"]
    first = subprocess.run(sweep, cwd=REPO, env=itt_env(env), capture_output=True, text=True, timeout=900)
    assert first.returncode not in (0, -signal.SIGUSR1), first.stderr[-3000:]
    assert _calls(calls) == ["requeue 4242"] and read_ledger(root) == []
    again = subprocess.run([*sweep[:2], "none", *sweep[3:]], cwd=REPO, env=itt_env(env), capture_output=True,
                           text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert sorted((r["seed"], r["status"]) for r in read_ledger(root)) == [(0, "ok"), (1, "ok")]
