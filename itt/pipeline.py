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

import json
import logging
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from filelock import FileLock
from omegaconf import DictConfig, OmegaConf

from itt import identity, ledger
from itt.data.datamodule import ITTDataModule
from itt.errors import ConfigError, ITTError, TrainingFailed
from itt.logger import build_loggers, finish
from itt.models.loading import load_model, load_tokenizer, pretrained_source
from itt.module import ITTModule
from itt.schema import DatasetSpec
from itt.tasks import get_task
from itt.trainer import build_trainer, resume_path

log = logging.getLogger(__name__)


def run_dir_of(cfg: DictConfig, run_id: str) -> Path:
    return Path(cfg.paths.runs) / run_id


def run(cfg: DictConfig) -> dict:
    """Run the stage ``cfg`` describes (or report it cached); returns its ledger row."""
    run_id = identity.run_id(cfg)
    run_dir = run_dir_of(cfg, run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(run_dir / ".lock")):
        done = ledger.latest_ok(cfg.paths.root, run_id)
        if done is not None and not cfg.force:
            log.info("cached: %s finished before (test/%s=%s); force=true reruns it", run_id,
                     done["primary_metric"], done["metrics"].get(f"test/{done['primary_metric']}"))
            return ledger.append(cfg.paths.root, {**done, "status": "cached", "wall_s": 0.0})
        return _train(cfg, run_id, run_dir)


def ensure_intermediate(cfg: DictConfig) -> dict:
    """The ledger row of the intermediate run an ITT target starts from, training it if missing."""
    inter_cfg = identity.intermediate_config(cfg)
    inter_id = identity.run_id(inter_cfg)
    done = ledger.latest_ok(cfg.paths.root, inter_id)
    if done is not None:
        log.info("ITT: reusing intermediate %s", inter_id)
        return done
    if not cfg.stage.auto_intermediate:
        overrides = f"model={cfg.model.name} task={cfg.task.name} seed={cfg.seed} source={cfg.source.name} split={cfg.split.name}"
        raise ConfigError(f"intermediate checkpoint {inter_id} does not exist yet; make it with: "
                          f"python -m itt.train {overrides} +stage=intermediate (or set stage.auto_intermediate=true)")
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


def _train(cfg: DictConfig, run_id: str, run_dir: Path) -> dict:
    start = time.perf_counter()
    task = get_task(cfg.task.kind, cfg.task.primary_metric)
    row = _base_row(cfg, run_id, task)
    role = identity.dataset_role(cfg)
    # Built explicitly (not OmegaConf.to_object): an on-demand intermediate config is an untyped copy.
    spec = DatasetSpec(**OmegaConf.to_container(cfg.task.datasets[role], resolve=True))
    row["dataset"] = {"role": role, "path": spec.path, "subset": spec.subset, "lang": spec.lang,
                      "family": spec.family, "domain": spec.domain}
    intermediate = ensure_intermediate(cfg) if identity.is_itt(cfg) else None

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
    module = ITTModule(model, task, data.labels, cfg.optim)

    loggers = build_loggers(cfg)
    monitor = f"val/{task.primary_metric}"
    trainer, checkpoint, row["precision"] = build_trainer(cfg, run_dir, loggers, monitor)
    ckpt = resume_path(run_dir)
    if ckpt:
        step = torch.load(ckpt, map_location="cpu", weights_only=True).get("global_step")
        log.info("resuming %s from %s (step %s)", run_id, ckpt, step)
        row["resumed_from_step"] = step
    try:
        trainer.fit(module, datamodule=data, ckpt_path=ckpt)
        best = checkpoint.best_model_path or None
        # Validation and test metrics of the checkpoint we keep (the best epoch), not of the last one.
        val = trainer.validate(module, datamodule=data, ckpt_path=best, verbose=False)[0]
        test = trainer.test(module, datamodule=data, ckpt_path=best, verbose=False)[0]
        row["metrics"] = {k: float(v) for k, v in {**val, **test}.items() if not k.endswith("/loss")}
        model_dir = run_dir / "model"
        module.model.save_pretrained(model_dir)  # the best weights: trainer.test loaded them
        tokenizer.save_pretrained(model_dir)
        (model_dir / "itt_labels.json").write_text(json.dumps(data.labels))
        row.update(status="ok", checkpoint=str(model_dir))
    except ITTError as exc:
        row.update(status="failed", error=str(exc))
    finally:
        finish(loggers)
    row["wall_s"] = round(time.perf_counter() - start, 2)
    row = ledger.append(cfg.paths.root, row)
    log.info("%s %s in %.1fs: %s", row["status"], run_id, row["wall_s"], row["metrics"] or row["error"])
    if row["status"] == "failed":
        raise TrainingFailed(f"run {run_id} failed: {row['error']}")
    return row
