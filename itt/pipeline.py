"""One run, end to end: skip if done, get the intermediate checkpoint, train, test, save, record.

Concurrency and restarts rest on the run id (``itt.identity``):
- a per-run file lock: two jobs asking for the same run never train it twice (the second one waits,
  then finds the ledger row and reports it as cached);
- an ITT target whose intermediate run is missing trains it first, in this process, under that
  intermediate run's lock: with N concurrent targets of one model and task, one trains, N-1 reuse;
- a killed run (SIGKILL, preemption) resumes from its last checkpoint when the same command runs again.
``filelock`` uses ``flock``, which the kernel releases when a process dies: no stale locks.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
from datetime import datetime
from pathlib import Path

import pytorch_lightning as pl
from filelock import FileLock, Timeout
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities.exceptions import SIGTERMException

from itt import identity, ledger
from itt.data.datamodule import ITTDataModule, check_data_settings
from itt.errors import ConfigError, ITTError, TrainingFailed
from itt.logger import build_loggers, finish
from itt.models.loading import load_model, load_tokenizer, pretrained_source
from itt.module import ITTModule
from itt.schema import DatasetSpec
from itt.tasks import get_task
from itt.trainer import build_trainer, check_trainer_args, resume_point

log = logging.getLogger(__name__)


def run_dir_of(cfg: DictConfig, run_id: str) -> Path:
    return Path(cfg.paths.runs) / run_id


@contextlib.contextmanager
def _run_lock(run_dir: Path, run_id: str):
    """The per-run flock; says so when another job holds it (the kernel frees it if that job dies)."""
    lock = FileLock(str(run_dir / ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("waiting: another job is running %s (lock %s); its result is reused when it ends", run_id, lock.lock_file)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


# What a run dir holds before any training: the lock, Hydra's config copy and log (single runs).
_SCAFFOLD = {".lock", ".hydra"}


def _remove_if_nothing_earned(run_dir: Path) -> None:
    """After a user error (config, data, hub) no run dir is left behind, unless it holds results."""
    try:
        entries = list(run_dir.iterdir())
    except FileNotFoundError:
        return
    if all(e.name in _SCAFFOLD or (e.is_file() and e.suffix == ".log") for e in entries):
        shutil.rmtree(run_dir, ignore_errors=True)


def _delete_resume_checkpoints(run_dir: Path) -> None:
    """After the ok row: Lightning's checkpoints (weights + optimizer state, only for resuming) go;
    ``model/`` (the best weights, what ITT targets and users load) stays. Deleted after the row is
    written, so a kill in between leaves extra files, never a finished run without its row."""
    for path in [*run_dir.glob("hpc_ckpt_*.ckpt"), *(run_dir / "checkpoints").glob("*.ckpt")]:
        path.unlink(missing_ok=True)
    try:
        (run_dir / "checkpoints").rmdir()
    except OSError:  # absent, or holds something that is not ours
        pass


def _drop_finished_resume_points(run_dir: Path, finished_at: str | None) -> None:
    """Delete the resume checkpoints a finished run left (written before its ok row; +1 s as the row's
    time has whole seconds). Kept, they would make force=true resume at the final step and train
    nothing (and Lightning restores a leftover hpc_ckpt under SLURM by itself). Checkpoints of an
    interrupted forced attempt are newer and stay, so a requeued forced run still resumes."""
    try:
        cutoff = datetime.fromisoformat(finished_at).timestamp() + 1
    except (TypeError, ValueError):
        return
    for path in [*run_dir.glob("hpc_ckpt_*.ckpt"), run_dir / "checkpoints" / "last.ckpt"]:
        if path.exists() and path.stat().st_mtime < cutoff:
            path.unlink()


def run(cfg: DictConfig) -> dict:
    """Run the stage ``cfg`` describes (or report it cached); returns its ledger row."""
    run_id = identity.run_id(cfg)
    run_dir = run_dir_of(cfg, run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    with _run_lock(run_dir, run_id):
        if not cfg.force and (cached := ledger.record_cached(cfg.paths.root, run_id)) is not None:
            return cached
        done = ledger.latest_ok(cfg.paths.root, run_id)
        if done is not None:  # force=true on a finished run: train it again, do not "resume" at its last step
            _drop_finished_resume_points(run_dir, done.get("time"))
        try:
            return _train(cfg, run_id, run_dir)
        except ITTError as exc:
            if not isinstance(exc, TrainingFailed):  # nothing trained: do not leave an empty run dir
                _remove_if_nothing_earned(run_dir)
            raise


def _intermediate_command(cfg: DictConfig) -> str:
    """The command that makes this target's intermediate run: the user's overrides minus the stage's."""
    try:
        overrides = [o for o in HydraConfig.get().overrides.task if not o.lstrip("+~").startswith("stage")]
    except ValueError:  # not under Hydra's main (tests, notebooks): the keys that name the run
        overrides = [f"model={cfg.model.name}", f"task={cfg.task.name}", f"seed={cfg.seed}",
                     f"source={cfg.source.name}", f"split={cfg.split.name}"]
    return " ".join(["python -m itt.train", *overrides, "+stage=intermediate"])


def ensure_intermediate(cfg: DictConfig) -> dict:
    """The ledger row of the intermediate run an ITT target starts from, training it if missing."""
    inter_cfg = identity.intermediate_config(cfg)
    inter_id = identity.run_id(inter_cfg)
    done = ledger.latest_ok(cfg.paths.root, inter_id)
    if done is not None:
        log.info("ITT: reusing intermediate %s", inter_id)
        return done
    if not cfg.stage.auto_intermediate:
        raise ConfigError(f"intermediate checkpoint {inter_id} does not exist yet; make it with: "
                          f"{_intermediate_command(cfg)} (or set stage.auto_intermediate=true)")
    log.info("ITT: intermediate %s missing: training it first", inter_id)
    row = run(inter_cfg)
    if row["status"] not in ("ok", "cached"):
        raise TrainingFailed(f"intermediate run {inter_id} failed: {row.get('error')}")
    return ledger.latest_ok(cfg.paths.root, inter_id) or row


def _base_row(cfg: DictConfig, run_id: str, task) -> dict:
    target = cfg.stage.get("target") if cfg.stage.name == "target" else None
    return {
        "run_id": run_id, "model": cfg.model.name, "task": cfg.task.name, "stage": cfg.stage.name,
        "target": target, "itt": bool(cfg.stage.itt) if target else None, "seed": cfg.seed,
        "split": cfg.split.name, "source": cfg.source.name, "metrics": {}, "primary_metric": task.primary_metric,
        "checkpoint": None, "intermediate_run_id": None, "wall_s": None, "status": None, "error": None,
        "hparams_id": identity.hparams_id(cfg), "dataset": None, "head": None,
    }


def _save_model(run_dir: Path, model, tokenizer, labels: list[str]) -> Path:
    """``save_pretrained`` into a fresh folder, then swap it in: a kill never leaves a half-written
    model where a ledger row (of this or an earlier forced run) points."""
    final, staging = run_dir / "model", run_dir / ".model-staging"
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (staging / "itt_labels.json").write_text(json.dumps(labels))
    if final.exists():
        old = run_dir / ".model-old"
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
        staging.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(final)
    return final


def _train(cfg: DictConfig, run_id: str, run_dir: Path) -> dict:
    start = time.perf_counter()
    # Config mistakes Hydra's schemas cannot see fail now, not after data and model load.
    check_trainer_args(cfg.trainer)
    check_data_settings(cfg.data)
    task = get_task(cfg.task.kind, cfg.task.primary_metric)
    row = _base_row(cfg, run_id, task)
    role = identity.dataset_role(cfg)
    # Built explicitly (not OmegaConf.to_object): an on-demand intermediate config is an untyped copy.
    spec = DatasetSpec(**OmegaConf.to_container(cfg.task.datasets[role], resolve=True))
    row["dataset"] = {"role": role, "path": spec.path, "subset": spec.subset, "lang": spec.lang,
                      "family": spec.family, "domain": spec.domain}
    try:
        intermediate = ensure_intermediate(cfg) if identity.is_itt(cfg) else None
    except TrainingFailed as exc:  # the target gets its own failed row, naming the cause
        ledger.append(cfg.paths.root, {**row, "status": "failed", "error": str(exc),
                                       "wall_s": round(time.perf_counter() - start, 2)})
        raise

    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    pretrained = pretrained_source(cfg.model, cfg.source.name, cfg.paths.cache, cfg.source.hub_timeout_s)
    tokenizer = load_tokenizer(pretrained, cfg.model.trust_remote_code)
    data = ITTDataModule(spec, task, cfg.task.name, tokenizer, cfg.split, cfg.data, cfg.source.name, cfg.seed,
                         cfg.paths.cache, where=f"task.datasets.{role} ({spec.path})", hub_timeout_s=cfg.source.hub_timeout_s)
    data.prepare()
    row["data_sizes"] = data.sizes()

    inter_dir = inter_labels = None
    if intermediate is not None:
        row["intermediate_run_id"] = intermediate["run_id"]
        inter_dir = intermediate["checkpoint"]
        inter_labels = json.loads((Path(inter_dir) / "itt_labels.json").read_text())
    model, row["head"] = load_model(pretrained, task, data.labels, cfg.model.trust_remote_code, inter_dir, inter_labels)
    module = ITTModule(model, task, data.labels, cfg.optim, cfg.model.fast_dropout, cfg.model.sparse_embedding_grad)

    loggers = build_loggers(cfg)
    monitor = f"val/{task.primary_metric}"
    trainer, checkpoint, row["precision"] = build_trainer(cfg, run_dir, loggers, monitor)
    ckpt, step = resume_point(run_dir)  # a torn or untrusted checkpoint is skipped, never unpickled
    if ckpt:
        log.info("resuming %s from %s (step %s)", run_id, ckpt, step)
        row["resumed_from_step"] = step
    try:
        trainer.fit(module, datamodule=data, ckpt_path=ckpt, weights_only=True)
        best = checkpoint.best_model_path or None
        # Validation and test metrics of the checkpoint we keep (the best epoch), not of the last one.
        val = trainer.validate(module, datamodule=data, ckpt_path=best, verbose=False, weights_only=True)[0]
        test = trainer.test(module, datamodule=data, ckpt_path=best, verbose=False, weights_only=True)[0]
        row["metrics"] = {k: float(v) for k, v in {**val, **test}.items() if not k.endswith("/loss")}
        model_dir = _save_model(run_dir, module.model, tokenizer, data.labels)  # best weights: test loaded them
        row.update(status="ok", checkpoint=str(model_dir))
    except ITTError as exc:
        row.update(status="failed", error=str(exc))
    except Exception as exc:
        if trainer.received_sigterm:  # SLURM requeue/preemption: SIGTERM also killed W&B's service process,
            raise SIGTERMException from exc  # whose error must not hide the exit (submitit then keeps no result)
        raise
    finally:
        finish(loggers)
    row["wall_s"] = round(time.perf_counter() - start, 2)
    row = ledger.append(cfg.paths.root, row)
    log.info("%s %s in %.1fs: %s", row["status"], run_id, row["wall_s"], row["metrics"] or row["error"])
    if row["status"] == "failed":
        raise TrainingFailed(f"run {run_id} failed: {row['error']}")
    if not cfg.get("keep_checkpoints", False):
        _delete_resume_checkpoints(run_dir)
    return row
