"""Issue 5, point 4: a run killed with SIGKILL mid-training resumes from its last checkpoint when the
same command runs again, and ends with exactly one ok ledger row; checkpoints and ledger lines are
written atomically, so a kill at any moment leaves them readable."""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import signal

import pytest
import torch
from conftest import OFFLINE, SLURM_JOB, read_ledger, wait_for_checkpoint

from itt import ledger
from itt.trainer import AtomicCheckpointIO, resume_point

RUN = ("model=bert", "task=sentiment", "+stage=intermediate", *OFFLINE, "trainer.precision=32-true",
       "task.datasets.intermediate.embedded_rows=300", "trainer.max_epochs=4",  # 7 steps per epoch
       "keep_checkpoints=true")  # the final last.ckpt shows where training ended


@pytest.mark.slow
def test_sigkill_mid_training_then_rerun_resumes_from_the_last_checkpoint(run_itt, start_itt, tmp_path):
    root = tmp_path / "root"
    proc = start_itt(*RUN, root=root, log_file=tmp_path / "first.log")
    try:
        wait_for_checkpoint(proc, root, tmp_path / "first.log")
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    assert read_ledger(root) == []  # killed: nothing recorded
    (ckpt,) = root.glob("runs/*/checkpoints/last.ckpt")
    run_id = ckpt.parent.parent.name
    killed_at = torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"]  # readable after the kill
    assert killed_at > 0

    result = run_itt(*RUN, root=root, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    resumed = re.findall(rf"resuming {re.escape(run_id)} from (\S+) \(step (\d+)\)", result.stdout + result.stderr)
    assert len(resumed) == 1, (result.stdout + result.stderr)[-3000:]
    path, step = resumed[0][0], int(resumed[0][1])
    assert path.endswith("last.ckpt") and step >= killed_at > 0
    rows = [r for r in read_ledger(root) if r["run_id"] == run_id]
    assert [r["status"] for r in rows] == ["ok"]
    assert rows[0]["resumed_from_step"] == step
    # It continued: this process trained only the steps after the checkpoint, up to 4 epochs x 7 steps.
    assert torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"] == 4 * 7
    # The killed attempt's CSV metrics stay beside the resumed attempt's (Lightning's writer deletes the file it finds)
    logs = root / "runs" / run_id / "csv"
    first = list(csv.DictReader((logs / "metrics.1.csv").open()))
    second = list(csv.DictReader((logs / "metrics.csv").open()))
    assert first and min(int(r["step"]) for r in first) < step <= min(int(r["step"]) for r in second)


def test_a_runs_next_attempt_keeps_the_csv_metrics_of_the_attempts_before(tmp_path):
    """The run folder is the same for every attempt of a run (killed and resumed, requeued, rerun): the metrics an
    earlier attempt wrote to csv/metrics.csv are kept, as metrics.1.csv, metrics.2.csv, ..."""
    from hydra import compose, initialize_config_dir

    from itt import identity, logger
    from itt.train import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["+stage=intermediate", *OFFLINE, f"paths.root={tmp_path}"])
    spec = identity.resolve(cfg)
    run_dir = tmp_path / "run"
    for attempt in range(3):
        loggers = logger.build_loggers(spec, "a-run", run_dir)
        for lg in loggers:
            lg.log_metrics({"train/loss": float(attempt)}, step=10 * attempt)
            lg.save()
    logs = run_dir / "csv"
    assert sorted(p.name for p in logs.glob("metrics*.csv")) == ["metrics.1.csv", "metrics.2.csv", "metrics.csv"]
    names = ("metrics.1.csv", "metrics.2.csv", "metrics.csv")
    steps = [[r["step"] for r in csv.DictReader((logs / name).open())] for name in names]
    assert steps == [["0"], ["10"], ["20"]]


def test_only_process_0_moves_an_earlier_attempts_csv_metrics(tmp_path, monkeypatch):
    """srun starts a DDP run's processes at once, each building its loggers: a worker that also moved the file
    could find it gone (a FileNotFoundError) or move process 0's new file. Only process 0 writes CSV metrics."""
    from itt import logger

    (tmp_path / "metrics.csv").write_text("step\n0\n")
    monkeypatch.setenv("SLURM_NTASKS", "2")
    monkeypatch.setenv("SLURM_PROCID", "1")
    logger.keep_earlier_attempt(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv"]
    monkeypatch.setenv("SLURM_PROCID", "0")
    logger.keep_earlier_attempt(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.1.csv"]


def test_checkpoint_write_killed_midway_leaves_the_previous_one(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"global_step": 7, "w": torch.ones(3)}, path)

    real_save = torch.save

    def dies_halfway(obj, fh, *args, **kwargs):
        real_save(obj, fh, *args, **kwargs)
        fh.truncate(fh.tell() // 2)
        raise KeyboardInterrupt  # stands in for the kill: the write never completes

    monkeypatch.setattr(torch, "save", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"global_step": 14, "w": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["global_step"] == 7
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]  # no temp file left either


def test_resume_skips_a_torn_checkpoint(tmp_path, caplog):
    good = tmp_path / "hpc_ckpt_1.ckpt"
    torch.save({"global_step": 21}, good)
    torn = tmp_path / "checkpoints" / "last.ckpt"
    torn.parent.mkdir()
    torch.save({"global_step": 28, "w": torch.ones(1000)}, torn)
    torn.write_bytes(torn.read_bytes()[:500])  # newer, but torn (e.g. written by an older, non-atomic writer)
    with caplog.at_level(logging.WARNING):
        assert resume_point(tmp_path) == (str(good), 21)
    assert "not resuming from" in caplog.text and "last.ckpt" in caplog.text
    assert resume_point(tmp_path / "nothing-here") == (None, None)


def test_ledger_survives_a_torn_last_line(tmp_path, caplog):
    ledger.append(tmp_path, {"run_id": "a", "status": "ok"})
    with open(tmp_path / "results.jsonl", "a") as fh:
        fh.write('{"run_id": "b", "status": "o')  # a line cut short (full disk, a kill on NFS)
    ledger.append(tmp_path, {"run_id": "c", "status": "ok"})
    with caplog.at_level(logging.WARNING):
        rows = list(ledger.read(tmp_path))
    assert [r["run_id"] for r in rows] == ["a", "c"]
    assert "unreadable ledger line skipped" in caplog.text
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["run_id"] == "c"


class _KillAfterStep(__import__("pytorch_lightning").Callback):
    """Stops training like a kill after step ``step``'s checkpoint was written: at the start of the next
    step (Lightning runs checkpoint callbacks after all others in a hook, so the end of step ``step``
    would be too early). KeyboardInterrupt is what Lightning treats as an external stop."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_start(self, trainer, *args):
        if trainer.global_step == self.step:
            raise KeyboardInterrupt


def _fit(root, extra=(), kill_at=None, resume=False, callbacks=(), every=3):
    from hydra import compose, initialize_config_dir

    from itt import identity
    from itt.build import build_run
    from itt.train import CONF_DIR
    from itt.trainer import build_trainer

    overrides = ["model=bert", "task=sentiment", "+stage=target", "stage.itt=false", "source=embedded", "logger=csv",
                 "task.datasets.domain.embedded_rows=240", "data.batch_size=16", "trainer.max_epochs=2",
                 f"checkpoint_every_n_steps={every}", f"paths.root={root}", *extra]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        spec = identity.resolve(compose("train", overrides=overrides))
    built = build_run(spec)
    run_dir = root / "run"
    trainer, _ = build_trainer(spec.settings, run_dir, [], built.monitor, built.numerics["precision"], every)
    if kill_at is not None:
        trainer.callbacks.append(_KillAfterStep(kill_at))
    trainer.callbacks.extend(callbacks)
    ckpt = str(run_dir / "checkpoints" / "last.ckpt") if resume is True else resume or None
    try:
        trainer.fit(built.module, datamodule=built.data, ckpt_path=ckpt, weights_only=True)
    except SystemExit:  # Lightning ends an interrupted fit with exit code 1, as a killed process would
        assert kill_at is not None or callbacks
    return trainer, built.module.model.state_dict()


@pytest.mark.slow
@pytest.mark.parametrize("extra", [(), ("data.length_grouping=true",)], ids=["random", "length-grouped"])
def test_a_run_killed_mid_epoch_resumes_to_the_same_weights_bit_for_bit(tmp_path, extra):
    """168 training rows, batch 16: 11 steps an epoch. Killed after step 15 (mid-epoch 1, 4 batches in,
    right after the every-3-steps checkpoint; epoch 0's validation already chose a best checkpoint),
    resumed: the same batches (epoch 1's order), dropout masks, optimizer and LR-schedule states and
    best-checkpoint choice as an uninterrupted run, so the same weights to the last bit (CPU, deterministic)."""
    whole, uninterrupted = _fit(tmp_path / "a", extra)
    killed, _ = _fit(tmp_path / "b", extra, kill_at=15)
    assert killed.interrupted and killed.global_step == 15
    saved = torch.load(tmp_path / "b" / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert saved["global_step"] == 15 and "itt_rng" in saved
    assert saved["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [{"epoch": 1, "batches_done": 4}]
    assert killed.checkpoint_callback.best_model_score is not None  # epoch 0's validation, to be beaten
    resumed_trainer, resumed = _fit(tmp_path / "b", extra, resume=True)
    assert resumed_trainer.global_step == 22
    assert uninterrupted.keys() == resumed.keys()
    different = [k for k in uninterrupted if not torch.equal(uninterrupted[k], resumed[k])]
    assert not different, different[:5]
    ends = [torch.load(root / "run" / "checkpoints" / name, map_location="cpu", weights_only=True)
            for name in ("last.ckpt", "best.ckpt") for root in (tmp_path / "a", tmp_path / "b")]
    assert ends[0]["lr_schedulers"] == ends[1]["lr_schedulers"]
    assert ends[0]["optimizer_states"][0]["state"].keys() == ends[1]["optimizer_states"][0]["state"].keys()
    for a, b in zip(ends[0]["optimizer_states"][0]["state"].values(), ends[1]["optimizer_states"][0]["state"].values()):
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(whole.checkpoint_callback.best_model_score, resumed_trainer.checkpoint_callback.best_model_score)
    assert ends[2]["global_step"] == ends[3]["global_step"]  # the same best epoch
    assert all(torch.equal(ends[2]["state_dict"][k], ends[3]["state_dict"][k]) for k in ends[2]["state_dict"])


class _RequeueSignal(__import__("pytorch_lightning").Callback):
    """SLURM's USR1 arriving once, after ``step`` steps: inside the next step (batch drawn, forward and backward
    done, optimizer step not yet), or inside the validation that follows that step."""

    def __init__(self, step: int, inside: str):
        self.step, self.inside, self.sent = step, inside, False

    def _send(self, trainer) -> None:
        if trainer.global_step == self.step and not self.sent:
            self.sent = True
            signal.raise_signal(signal.SIGUSR1)

    def on_before_optimizer_step(self, trainer, *args):
        if self.inside == "step":
            self._send(trainer)

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        if self.inside == "validation" and batch_idx == 1 and not trainer.sanity_checking:
            self._send(trainer)


@pytest.mark.slow
@pytest.mark.parametrize(("inside", "step"), [("step", 15), ("step", 10), ("validation", 11)],
                         ids=["mid-epoch step", "last step of an epoch", "validation"])
def test_a_slurm_requeue_signal_resumes_to_the_same_weights_and_best_checkpoint(tmp_path, monkeypatch, inside, step):
    """The hpc checkpoint is written where Lightning writes last.ckpt, never inside a step or a validation.
    Saved inside a step, its sampler position counted the batch being trained on, and the requeued job skipped
    that batch (21 steps, not 22); saved inside epoch 0's validation (3 batches of 16), the loader had moved on
    to epoch 1 and the requeued job trained one epoch less (11 steps). Saved at the end of an epoch's last step,
    before its validation, the requeued job never counted that epoch's score: its best checkpoint was epoch 1's
    where the uninterrupted run keeps epoch 0's (ties keep the first). A signal in a validation, or in the step it
    follows, requeues at once (waiting for the validation's end may pass SLURM's time limit) and leaves no hpc
    checkpoint: the requeued job resumes from last.ckpt (step 9, every 3 steps)."""
    from itt.trainer import resume_point

    # no real scontrol: one that records its arguments and stops the job with SIGTERM, as requeueing a running job does
    calls = tmp_path / "scontrol.calls"
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "scontrol").write_text(f'#!/bin/sh\necho "$@" >> {calls}\nkill -TERM $PPID\n')
    (tmp_path / "bin" / "scontrol").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    extra = ("data.eval_batch_size=16",)
    _, uninterrupted = _fit(tmp_path / "a", extra)
    for key, value in SLURM_JOB.items():
        monkeypatch.setenv(key, value)
    _fit(tmp_path / "b", extra, callbacks=[_RequeueSignal(step, inside)])
    assert calls.read_text().splitlines() == ["requeue 4242"]
    ckpt, resumed_from = resume_point(tmp_path / "b" / "run")
    if inside == "step" and step == 15:
        assert ckpt.endswith("hpc_ckpt_1.ckpt") and resumed_from == 16
    else:
        assert ckpt.endswith("last.ckpt") and resumed_from == 9
        assert not list((tmp_path / "b" / "run").glob("hpc_ckpt_*.ckpt"))
    resumed_trainer, resumed = _fit(tmp_path / "b", extra, resume=ckpt)
    assert resumed_trainer.global_step == 22
    different = [k for k in uninterrupted if not torch.equal(uninterrupted[k], resumed[k])]
    assert not different, different[:5]
    best = [torch.load(root / "run" / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)["global_step"]
            for root in (tmp_path / "a", tmp_path / "b")]
    assert best[0] == best[1]


@pytest.mark.slow
def test_an_early_stopped_run_killed_before_its_row_resumes_without_training_on(tmp_path, monkeypatch):
    """Early stopping ends the fit at step 22 of 55 (patience 1: the tiny encoder's validation accuracy stays
    flat). Killed after the fit, before its row (while the model is exported; likewise during the best
    checkpoint's validation or test), the rerun resumes from last.ckpt: it trains nothing more and records the
    uninterrupted run's metrics. Lightning does not save ``should_stop``: the rerun trained on to max_epochs."""
    from hydra import compose, initialize_config_dir

    from itt import pipeline
    from itt.train import CONF_DIR

    def make(root):
        overrides = ["model=bert", "task=sentiment", "+stage=target", "stage.itt=false", *OFFLINE,
                     "task.datasets.domain.embedded_rows=240", "data.batch_size=16", "trainer.max_epochs=5",
                     "optim.early_stopping_patience=1", "keep_checkpoints=true", f"paths.root={root}"]
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            return compose("train", overrides=overrides)

    whole = pipeline.run(make(tmp_path / "a"))
    last = tmp_path / "a" / "runs" / whole["run_id"] / "checkpoints" / "last.ckpt"
    stopped_at = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
    assert stopped_at == 22  # early stopping ended it (5 epochs are 55 steps)

    def killed(*args):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(pipeline, "_save_model", killed)
        with pytest.raises(KeyboardInterrupt):
            pipeline.run(make(tmp_path / "b"))
    assert read_ledger(tmp_path / "b") == []
    resumed = pipeline.run(make(tmp_path / "b"))
    assert resumed["status"] == "ok" and resumed["resumed_from_step"] == stopped_at
    last = tmp_path / "b" / "runs" / resumed["run_id"] / "checkpoints" / "last.ckpt"
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == stopped_at
    assert resumed["metrics"] == whole["metrics"]


@pytest.mark.slow
def test_a_checkpoint_every_n_steps_at_an_epochs_last_step_resumes_with_that_epochs_validation(tmp_path):
    """checkpoint_every_n_steps=11, 11 steps an epoch: Lightning saved last.ckpt in step 11, before epoch 0's
    validation, and not again after it. Killed in epoch 1, the resumed run never counted epoch 0's score: its best
    checkpoint was epoch 1's where the uninterrupted run keeps epoch 0's (ties keep the first)."""
    _, uninterrupted = _fit(tmp_path / "a", every=11)
    killed, _ = _fit(tmp_path / "b", kill_at=12, every=11)
    assert killed.global_step == 12
    saved = torch.load(tmp_path / "b" / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert saved["global_step"] == 11
    resumed_trainer, resumed = _fit(tmp_path / "b", resume=True, every=11)
    assert resumed_trainer.global_step == 22
    assert all(torch.equal(uninterrupted[k], resumed[k]) for k in uninterrupted)
    best = [torch.load(root / "run" / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)["global_step"]
            for root in (tmp_path / "a", tmp_path / "b")]
    assert best[0] == best[1] == 11


@pytest.mark.slow
def test_a_checkpoint_every_n_steps_at_a_mid_epoch_validation_resumes_with_that_validation(tmp_path):
    """val_check_interval=5 and checkpoint_every_n_steps=5: Lightning saved last.ckpt in step 5, before that step's
    validation. Killed in step 6, the resumed run never counted step 5's score: its best checkpoint was step 10's
    where the uninterrupted run keeps step 5's (the tiny encoder's accuracy stays flat; ties keep the first)."""
    from itt.trainer import resume_point

    extra = ("+trainer.val_check_interval=5",)
    _, uninterrupted = _fit(tmp_path / "a", extra, every=5)
    killed, _ = _fit(tmp_path / "b", extra, kill_at=6, every=5)
    assert killed.global_step == 6
    ckpt, _ = resume_point(tmp_path / "b" / "run")  # none now: the run starts again
    resumed_trainer, resumed = _fit(tmp_path / "b", extra, resume=ckpt, every=5)
    assert resumed_trainer.global_step == 22
    assert all(torch.equal(uninterrupted[k], resumed[k]) for k in uninterrupted)
    best = [torch.load(root / "run" / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)["global_step"]
            for root in (tmp_path / "a", tmp_path / "b")]
    assert best[0] == best[1]
