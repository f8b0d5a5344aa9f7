"""One run, end to end: skip if done, make sure the run it starts from exists, train, test, save,
record.

Concurrency and restarts rest on the run id (``itt.identity``):
- a per-run file lock under ``${paths.root}/locks/``: two jobs asking for the same run never train it
  twice (the second one waits, then finds the ledger row and reports it as cached). Locks live apart
  from run directories, so cleaning up a run directory never deletes a lock another job holds;
- a run whose parent (an ITT target's intermediate, a later chain step's earlier step) is missing
  trains it first, in this process, under that run's lock: of N concurrent targets of one chain, one
  trains each step and N-1 reuse it;
- a killed run (SIGKILL, preemption) resumes from its last checkpoint, mid-epoch included, when the
  same command runs again.
``filelock`` uses ``flock``, which the kernel releases when a process dies: no stale locks.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import shutil
import time
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout
from hydra.core.hydra_config import HydraConfig
from pytorch_lightning.utilities.exceptions import SIGTERMException

from itt import distributed, hub_access, identity, ledger, progress, requeue, rows
from itt.build import Built, build_run, dataset_options, option_key
from itt.data import overlap
from itt.data.check import SIZE_RULE
from itt.data.datamodule import check_data_settings
from itt.errors import ConfigError, ITTError, TrainingFailed, write_failure, writing
from itt.logger import build_loggers, finish, record_row
from itt.models import heads
from itt.models.loading import check_max_length, load_config, pretrained_source
from itt.module import check_optim_settings
from itt.stages import RunSpec, resolve, setting_key
from itt.tasks import kind_class
from itt.tasks.retrieval import Retrieval, check_layer
from itt.trainer import build_trainer, check_trainer_args, resume_point

log = logging.getLogger(__name__)


def run_dir_of(cfg, run_id: str) -> Path:
    return Path(cfg.paths.runs) / run_id


def located(cfg, parent: dict | None) -> dict | None:
    """The parent's row with ``checkpoint`` at its model folder under this run's ``paths.runs`` where there is one:
    found whatever the root was called when the parent ran (a relative ``paths.root`` from another folder, a root
    moved since); else the row as written."""
    here = run_dir_of(cfg, parent["run_id"]) / "model" if parent is not None else None
    return {**parent, "checkpoint": str(here)} if here is not None and here.is_dir() else parent


def lock_path(root, run_id: str) -> Path:
    return Path(root) / "locks" / f"{run_id}.lock"


@contextlib.contextmanager
def _run_lock(root, run_id: str):
    """The per-run flock; says so when another job holds it (the kernel frees it if that job dies)."""
    path = lock_path(root, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("waiting: another job is running %s (lock %s); its result is reused when it ends", run_id, path)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


# What a run dir holds before any training: Hydra's config copy and log (single runs), and the fingerprint
# of its training items (itt.data.overlap).
_SCAFFOLD = {".hydra"}


def _remove_if_nothing_earned(run_dir: Path) -> None:
    """After a user error (config, data, hub) no run dir is left behind, unless it holds results."""
    try:
        entries = list(run_dir.iterdir())
    except FileNotFoundError:
        return
    if all(e.name in _SCAFFOLD or e.name in (overlap.FILE, overlap.VERSIONS) or (e.is_file() and e.suffix == ".log")
           for e in entries):
        shutil.rmtree(run_dir, ignore_errors=True)


def _resume_checkpoints(run_dir: Path) -> list[Path]:
    return [*run_dir.glob("hpc_ckpt_*.ckpt"), *(run_dir / "checkpoints").glob("*.ckpt")]


def _delete_resume_checkpoints(run_dir: Path, older_than: float | None = None) -> None:
    """Lightning's checkpoints (weights + optimizer state, only for resuming) go; ``model/`` (the best
    weights, what later runs and users load) stays. After an ok row: all of them. On ``force=true``
    for a finished run: those older than its row (kept, they would make the rerun resume at the final
    step and train nothing); an interrupted forced attempt's newer ones stay, so it still resumes."""
    for path in _resume_checkpoints(run_dir):
        if older_than is None or path.stat().st_mtime < older_than:
            path.unlink(missing_ok=True)
    if older_than is None:
        with contextlib.suppress(OSError):  # absent, or holds something that is not ours
            (run_dir / "checkpoints").rmdir()


def run(cfg_or_spec) -> dict | None:
    """Run what ``cfg`` names (or report it cached); returns its ledger row (None in a DDP worker)."""
    spec = cfg_or_spec if isinstance(cfg_or_spec, RunSpec) else resolve(cfg_or_spec)
    if distributed.is_worker():
        _follow(spec)
        return None
    cfg = spec.cfg
    run_id = identity.run_id(spec)
    # A full, read-only or misplaced output folder ends the run with one line naming it (the cache and the ledger
    # name themselves); what is already written stays.
    with writing(cfg.paths.root, "paths.root"), _run_lock(cfg.paths.root, run_id):
        if (cached := ledger.record_cached(cfg.paths.root, run_id, cfg.force, progress.sweep_dir())) is not None:
            return cached
        run_dir = run_dir_of(cfg, run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        done = ledger.latest_ok(cfg.paths.root, run_id)
        if done is not None:  # force=true on a finished run: train it again, do not "resume" at its last step
            with contextlib.suppress(TypeError, ValueError):
                _delete_resume_checkpoints(run_dir, datetime.fromisoformat(done.get("time")).timestamp() + 1)
        try:
            with writing(run_dir, _runs_key(cfg)):  # checkpoints, logs, model, predictions
                return _train(spec, run_id, run_dir)
        except ITTError as exc:
            if not isinstance(exc, TrainingFailed):  # nothing trained: do not leave an empty run dir
                _remove_if_nothing_earned(run_dir)
            raise


def _runs_key(cfg) -> str:
    """The key that moves the run folders: ``paths.root``, unless ``paths.runs`` was set outside it."""
    inside = Path(cfg.paths.runs).absolute().is_relative_to(Path(cfg.paths.root).absolute())
    return "paths.root" if inside else "paths.runs"


def _intermediate_command(cfg) -> str:
    """The command that makes a target's intermediate runs: the user's overrides minus the stage's."""
    try:
        overrides = [o for o in HydraConfig.get().overrides.task if not o.lstrip("+~").startswith("stage")]
    except ValueError:  # not under Hydra's main (tests, notebooks): the keys that name the run
        overrides = [f"model={cfg.model.name}", f"task={cfg.task.name}", f"seed={cfg.seed}",
                     f"source={cfg.source.name}", f"split={cfg.split.name}"]
    return " ".join(["python -m itt.train", *overrides, "+stage=intermediate"])


def ensure_parent(spec: RunSpec) -> dict | None:
    """The ledger row of the run ``spec`` starts from, training it (and its own parents) if missing or outdated
    (trained from weights its own parent has no more: ``itt.ledger.outdated_link``)."""
    if spec.parent is None:
        return None
    cfg = spec.cfg
    parent_id = identity.run_id(spec.parent)
    if (done := _current(cfg.paths.root, parent_id)) is not None:
        log.info("reusing %s", parent_id)
        return done
    outdated = ledger.latest_ok(cfg.paths.root, parent_id) is not None
    if not cfg.stage.get("auto_intermediate", True):
        state = ("was trained from weights its own parent has no more" if outdated else "does not exist yet")
        raise ConfigError(f"intermediate run {parent_id} {state}; make it with: "
                          f"{_intermediate_command(cfg)} (or set stage.auto_intermediate=true)")
    log.info("%s %s: training it first", parent_id, "outdated" if outdated else "missing")
    row = run(spec.parent)
    if row["status"] not in ("ok", "cached"):
        raise TrainingFailed(f"intermediate run {parent_id} failed: {row.get('error')}")
    return ledger.latest_ok(cfg.paths.root, parent_id) or row


def _current(root, run_id: str) -> dict | None:
    """The run's newest ok row, unless its chain trained from weights a parent has no more (``itt.ledger``)."""
    newest = ledger.latest(ledger.read(root))
    done = newest.get(run_id)
    return done if done is not None and ledger.outdated_link(done, newest) is None else None


def check_settings(spec: RunSpec) -> None:
    """Config mistakes Hydra's schemas cannot see, in this run and every run of its chain: they fail now,
    not after data and model load or after a parent's training."""
    for run in (spec, *spec.chain()):
        key = functools.partial(setting_key, run)
        check_trainer_args(run.settings.trainer, key)
        check_data_settings(run.settings.data, key)
        check_optim_settings(run.settings.optim, key)
        heads.check_policy(run.head_policy, "stage.head_policy" if run.stage == "target" else "intermediate.head_policy")
        check_kinds(run)
    check_positions(spec)


def check_positions(spec: RunSpec) -> None:
    """Every run's ``data.max_length`` of the chain within the encoder's positions, and the ``layer`` its retrieval
    eval sets pool within the encoder's layers, from its config alone: a target's too-long setting failed after its
    intermediate had trained, a layer past the model's at the first retrieval batch (a test-only set's: after the fit)."""
    cfg = spec.cfg
    pretrained = pretrained_source(cfg.model, cfg.source.name, cfg.paths.cache, cfg.source.hub_timeout_s)
    config = load_config(pretrained, cfg.model.trust_remote_code)
    for run in (spec, *spec.chain()):
        check_max_length(config, run.settings.data.max_length, cfg.model.name, setting_key(run, "data.max_length"))
        check_retrieval_layers(run, getattr(config, "num_hidden_layers", None))


def check_retrieval_layers(run: RunSpec, layers: int | None) -> None:
    """The ``layer`` option of each retrieval eval set the run scores: null or an int from 0 to ``layers`` (XLNet's
    ``n_layer`` is its config's ``num_hidden_layers`` too), named by the key that sets it."""
    cfg = run.cfg
    for name in run.evals:
        node = cfg.task.evals[name]
        kind, _ = identity.kind_of(cfg, node)
        if issubclass(kind_class(kind), Retrieval):
            options = dataset_options(cfg, node, kind)
            check_layer(options.get("layer"), option_key(node, f"task.evals.{name}", "layer"), layers)


def check_kinds(run: RunSpec) -> None:
    """A dataset's or eval set's own ``kind`` names a task kind: a misspelt one failed only when its data loaded
    (an eval set's after the parent run had trained), named as ``task.kind``."""
    cfg = run.cfg
    for group, names in (("datasets", run.roles), ("evals", run.evals)):
        for name in names:
            kind = cfg.task[group][name].get("kind")
            if kind:
                kind_class(kind, f"task.{group}.{name}.kind")


def _train(spec: RunSpec, run_id: str, run_dir: Path) -> dict:
    cfg = spec.cfg
    check_settings(spec)
    row = rows.base_row(spec, run_id)
    try:
        parent = ensure_parent(spec)
    except TrainingFailed as exc:  # the run gets its own failed row, naming the cause
        ledger.append(cfg.paths.root, {**row, "status": "failed", "error": str(exc), "wall_s": 0.0})
        raise
    start = time.perf_counter()  # this run's own time: its parent's training is not in it
    progress.configure_data_progress(progress.wanted(spec.settings.trainer.get("enable_progress_bar", "auto")))
    built = build_run(spec, located(cfg, parent))
    row.update(head=built.head, data_sizes=built.data.sizes(), n_test=built.data.sizes()["test"],
               selected_on=built.monitor, primary_metric=built.primary_metric,
               evals={p.name: row["evals"][p.name] for p in built.evals})  # those it scores (build.scored_evals)
    if parent is not None:
        row["parent_run_id"] = parent["run_id"]
        row["parent_weights_digest"] = parent.get("weights_digest")
        row["intermediate_hparams_id"] = identity.chain_hparams_id(parent, spec.head_policy)
        if spec.stage == "target":
            _note_size_rule(parent, row["data_sizes"], run_id)
    _record_overlap(row, built, run_dir, cfg)
    _record_hub_revisions(row, cfg)
    loggers = build_loggers(spec, run_id, run_dir)
    trainer, checkpoint = build_trainer(spec.settings, run_dir, loggers, built.monitor, built.numerics["precision"],
                                        cfg.get("checkpoint_every_n_steps"), built.one_head_per_batch)
    ckpt, step = resume_point(run_dir)  # a torn or untrusted checkpoint is skipped, never unpickled
    if ckpt:
        log.info("resuming %s from %s (step %s)", run_id, ckpt, step)
        row["resumed_from_step"] = step
    unwritable = None
    try:
        built.data.check_shards(trainer.world_size)  # in here: a failed row, and the loggers closed
        trained = time.perf_counter()
        distributed.announce(cfg.paths.root, {"fit": run_id})  # the workers fit what process 0 fits
        trainer.fit(built.module, datamodule=built.data, ckpt_path=ckpt, weights_only=True)
        requeue.stop_if_requeued()  # requeued inside the fit: the requeued job evaluates, exports and records
        evaluated = time.perf_counter()
        best = checkpoint.best_model_path or None
        if best is None:  # no validation in the fit (check_val_every_n_epoch > max_epochs, limit_val_batches=0)
            log.warning("%s: no validation ran during the fit; the model kept is the last weights", run_id)
            row["selected_on"] = "last"
        # Validation and test metrics of the checkpoint we keep (the best epoch), not of the last one.
        val = trainer.validate(built.module, datamodule=built.data, ckpt_path=best, verbose=False, weights_only=True)
        test = trainer.test(built.module, datamodule=built.data, ckpt_path=best, verbose=False, weights_only=True)
        done = time.perf_counter()
        metrics = {k: float(v) for part in [*val, *test] for k, v in part.items() if not k.endswith("/loss")}
        sizes = {p.name: {s: len(p.rows[s]) for s in ("validation", "test") if s in p.rows} for p in built.evals}
        row = rows.with_metrics(row, metrics, sizes)
        model_dir = _save_model(run_dir, built)
        row.update(status="ok", checkpoint=str(model_dir.resolve()), weights_digest=weights_digest(model_dir),
                   predictions=str(_save_predictions(run_dir, built.module.test_items).resolve()),  # absolute
                   train_s=round(evaluated - trained, 2), eval_s=round(done - evaluated, 2))
        row["model_info"]["revision"] = hub_access.cached_revision(built.pretrained)  # None: not from the hub
    except ITTError as exc:
        row.update(status="failed", error=str(exc))
    except Exception as exc:
        if trainer.received_sigterm:  # SLURM requeue/preemption: SIGTERM also killed W&B's service process,
            raise SIGTERMException from exc  # whose error must not hide the exit (submitit then keeps no result)
        # A full or read-only disk while a checkpoint, the model or the predictions are written: the row says so
        unwritable = write_failure(exc, run_dir, _runs_key(cfg))
        if unwritable is None:
            raise
        unwritable.__cause__ = exc  # ITT_DEBUG=1 shows the write behind the line
        row.update(status="failed", error=str(unwritable))
    finally:
        row["wall_s"] = round(time.perf_counter() - start, 2)
        row["time"] = ledger.timestamp()  # in W&B's copy too: the report's newest row of a config is by time
        record_row(loggers, row)
        finish(loggers, ok=row.get("status") == "ok")
    # SLURM's requeue waits for the row AND the checkpoints' removal: a requeued job finds the row, reports the run
    # cached and would never remove them.
    with requeue.held():
        row = ledger.append(cfg.paths.root, row)
        if row["status"] != "failed" and not cfg.get("keep_checkpoints", False):
            _delete_resume_checkpoints(run_dir)
    log.info("%s %s in %.1fs: %s", row["status"], run_id, row["wall_s"], row["metrics"] or row["error"])
    if unwritable is not None:  # the place, not the run: its one line as it is (a sweep's next job would fail alike)
        raise unwritable
    if row["status"] == "failed":
        raise TrainingFailed(f"run {run_id} failed: {row['error']}")
    return row


def _note_size_rule(parent: dict, sizes: dict, run_id: str) -> None:
    """The reference protocol's intermediate has at least ``SIZE_RULE`` times the target's training rows.
    A smaller one is allowed (a study may vary the ratio, a demo keeps runs short) but said, so a grid
    that drifted from the protocol is not mistaken for it."""
    big, small = (parent.get("data_sizes") or {}).get("train"), sizes.get("train")
    if big and small and big < SIZE_RULE * small:
        log.warning("%s: its intermediate %s trained on %d rows, %.1fx this target's %d; the reference "
                    "protocol uses >= %dx (raise the intermediate's max_rows or lower the target's)",
                    run_id, parent["run_id"], big, big / small, small, SIZE_RULE)


def _record_overlap(row: dict, built: Built, run_dir: Path, cfg) -> None:
    """Writes the run's training-item fingerprint (what its descendants check against) and records how
    many of its evaluation items its ancestors trained on (``itt.data.overlap``); one warning line if any."""
    ancestors = [(step["run_id"], run_dir_of(cfg, step["run_id"]), step["kinds"]) for step in row["chain"]]
    started = time.perf_counter()
    own, row["overlap"] = overlap.measure(built.train, built.evals, ancestors)
    with requeue.held():
        overlap.write(run_dir, own, overlap.item_versions(built.train))
    log.debug("item overlap of %s checked in %.2fs", row["run_id"], time.perf_counter() - started)
    overlap.warn(row["run_id"], row["overlap"], row["data_sizes"])


def _record_hub_revisions(row: dict, cfg) -> None:
    """The commit each hub dataset's revision resolves to (null offline or for local/embedded data)."""
    if cfg.source.name != "hub":
        return
    for info in [*row["datasets"], *row["evals"].values()]:
        if info.get("fingerprint") is None:  # not a local file
            info["revision"] = hub_access.resolved_revision(info["path"], info.get("revision")) or info.get("revision")
    row["dataset"] = row["datasets"][0]


def _follow(spec: RunSpec) -> None:
    """A DDP worker: the fits process 0 announces (``itt.distributed``), each a run of this command's chain, until
    it says the command's run is over; a worker never decides from the ledger what to train."""
    chain = {identity.run_id(run): run for run in (*spec.chain(), spec)}
    top = identity.run_id(spec)
    while (event := distributed.next_event(spec.cfg.paths.root)).get("end") != top:
        if (run := chain.get(event.get("fit"))) is None:
            raise TrainingFailed(f"DDP process {distributed.rank()}: process 0 says {json.dumps(event)}, which is no "
                                 f"run of {top}'s chain (the processes run other commands)")
        _work(run)


def _work(spec: RunSpec) -> None:
    """A DDP worker's share of one run process 0 fits: the same data, fit, validation and test (their collective
    operations need every process), without locks, files or ledger rows. Its parent is done (process 0 trains or
    reuses it before announcing this fit)."""
    cfg = spec.cfg
    parent = _wait_for_row(cfg.paths.root, identity.run_id(spec.parent)) if spec.parent is not None else None
    check_settings(spec)
    built = build_run(spec, located(cfg, parent))
    run_dir = run_dir_of(cfg, identity.run_id(spec))
    trainer, checkpoint = build_trainer(spec.settings, run_dir, [], built.monitor, built.numerics["precision"],
                                        cfg.get("checkpoint_every_n_steps"), built.one_head_per_batch)
    built.data.check_shards(trainer.world_size)  # as process 0: every process stops, none waits for the others
    ckpt, _ = resume_point(run_dir)
    trainer.fit(built.module, datamodule=built.data, ckpt_path=ckpt, weights_only=True)
    requeue.stop_if_requeued()
    best = checkpoint.best_model_path or None
    trainer.validate(built.module, datamodule=built.data, ckpt_path=best, verbose=False, weights_only=True)
    trainer.test(built.module, datamodule=built.data, ckpt_path=best, verbose=False, weights_only=True)


def _wait_for_row(root, run_id: str, timeout_s: float = 3600.0) -> dict:
    """A DDP worker waits for process 0 to save a parent run and write its row."""
    deadline = time.monotonic() + timeout_s
    while (row := ledger.latest_ok(root, run_id)) is None:
        if time.monotonic() > deadline:
            raise TrainingFailed(f"run {run_id}: no ledger row from process 0 after {timeout_s:.0f} s")
        time.sleep(1.0)
    return row


def _save_model(run_dir: Path, built: Built) -> Path:
    """``save_pretrained`` into a fresh folder, then swap it in: a kill never leaves a half-written
    model where a ledger row (of this or an earlier forced run) points."""
    final = run_dir / "model"
    with _staged(final) as staging:
        built.module.model.save_pretrained(staging)
        built.tokenizer.save_pretrained(staging)
        (staging / "itt_labels.json").write_text(json.dumps(built.labels))
    return final


def weights_digest(model_dir: Path) -> str:
    """sha256 (16 hex) of a saved model's weight files and label names, by file name: what a later run starts
    from. ``save_pretrained`` writes the same bytes for the same weights, so a rerun that trained the same
    weights keeps the digest and the runs after it stay current (``itt.ledger.outdated_link``)."""
    digest = hashlib.sha256()
    for path in sorted(model_dir.iterdir()):
        if path.suffix in (".safetensors", ".bin") or path.name == "itt_labels.json":
            with open(path, "rb") as fh:
                digest.update(path.name.encode() + b"\0" + hashlib.file_digest(fh, "sha256").digest())
    return digest.hexdigest()[:16]


def _save_predictions(run_dir: Path, items: dict[str, list[dict]]) -> Path:
    """One JSON line per test item, in row order: ``test.jsonl`` (own split), ``<eval>.jsonl``."""
    final = run_dir / "predictions"
    with _staged(final) as staging:
        for name, lines in items.items():
            (staging / f"{name or 'test'}.jsonl").write_text("".join(json.dumps(item) + "\n" for item in lines))
    return final


@contextlib.contextmanager
def _staged(final: Path):
    """A fresh folder to write ``final`` into, swapped in when it is complete; one that fails (a full disk) is
    removed, so the half-written files do not take the space a rerun needs, and ``final`` stays as it was. SLURM's
    requeue signal waits for the swap (``itt.requeue.held``): a folder the rerun replaces, whole."""
    staging = final.with_name(f".{final.name}-staging")
    with requeue.held():
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            yield staging
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _swap_in(staging, final)


def _swap_in(staging: Path, final: Path) -> None:
    if final.exists():
        old = final.with_name(f".{final.name}-old")
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
        staging.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(final)
