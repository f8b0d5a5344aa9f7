"""The Lightning Trainer from ``conf/trainer/``: precision chosen for the hardware, checkpoints on the
task's primary validation metric, optional early stopping, SLURM requeue, exact resume from a kill.

Exact resume: Lightning's checkpoints carry the loops' progress and (through ``ResumableLoader``) the
training sampler's position in the epoch; ``RNGState`` adds every global random stream (torch, numpy,
Python; CUDA where present) of every process, which also drives dropout masks. A run killed mid-epoch and resumed from
its last checkpoint then draws the same batches and masks as an uninterrupted run; ``StopState`` adds early
stopping's decision, ``RequeueBetweenSteps`` keeps SLURM's requeue checkpoint out of a step or a validation.
``checkpoint_every_n_steps`` saves mid-epoch (each save writes the weights and optimizer state).
"""

from __future__ import annotations

import difflib
import inspect
import logging
import os
import signal
import threading
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning_fabric.utilities.seed import _collect_rng_states, _set_rng_states
from pytorch_lightning.callbacks import Callback, Checkpoint, EarlyStopping, ModelCheckpoint
from pytorch_lightning.plugins import TorchCheckpointIO
from pytorch_lightning.plugins.environments import SLURMEnvironment
from pytorch_lightning.strategies import DDPStrategy

from itt import progress, requeue
from itt.errors import ConfigError, chain, one_line
from itt.hardware import one_thread_for, positive_int
from itt.models.info import hidden_size

log = logging.getLogger(__name__)

# Lightning 2.6's batch and output flattening builds torch's LeafSpec, which torch 2.13 deprecates: a
# FutureWarning in every run about Lightning's code, nothing a user can act on. Only that message is hidden.
warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning)


# torch's own choice at start-up (OMP_NUM_THREADS, else one thread per core), before anything changed it.
_DEFAULT_THREADS = torch.get_num_threads()


def auto_threads(model) -> int:
    """Intra-op threads for training ``model`` on CPU: one for tiny encoders (hidden size < 256, e.g. the
    embedded ones), whose ops are too small to split, unless the process was started with a thread count
    (``hardware.one_thread_for``: the SLURM launcher sets ``OMP_NUM_THREADS`` to ``resources.cpus_per_task``);
    otherwise torch's default. The run id's machine key says the same (``hardware.machine``)."""
    if torch.cuda.is_available():
        return _DEFAULT_THREADS
    return 1 if one_thread_for(hidden_size(getattr(model, "config", None))) else _DEFAULT_THREADS


def apply_threads(model) -> int:
    threads = auto_threads(model)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


# Trainer arguments itt sets itself; the user sets the others in conf/trainer/ or with +trainer.x=...
_SET_BY_ITT = {"self", "logger", "callbacks", "plugins", "default_root_dir", "use_distributed_sampler", "inference_mode"}


def check_trainer_args(trainer_cfg, key=str) -> None:
    """A misspelt ``+trainer.x=`` fails at once (before data and model load) with the valid names, and so
    do values Lightning would take without a word but that make no run. ``key``: how the user typed a
    setting (``trainer.max_epochs`` -> ``intermediate.trainer.max_epochs`` where that set it)."""
    if trainer_cfg.get("_target_") not in ("pytorch_lightning.Trainer", "pytorch_lightning.trainer.trainer.Trainer"):
        return
    valid = [n for n in inspect.signature(pl.Trainer.__init__).parameters if n not in _SET_BY_ITT]
    for name in trainer_cfg:
        if name != "_target_" and name not in valid:
            close = difflib.get_close_matches(str(name), valid, n=1)
            hint = f" (did you mean trainer.{close[0]}?)" if close else ""
            raise ConfigError(f"{key(f'trainer.{name}')} is not a Lightning Trainer argument that can be set{hint}; "
                              f"valid: {', '.join(valid)}")
    epochs, steps = trainer_cfg.get("max_epochs"), trainer_cfg.get("max_steps")
    if epochs == 0:
        raise ConfigError(f"{key('trainer.max_epochs')}=0 trains nothing; use a positive int, or -1 with "
                          f"trainer.max_steps >= 1")
    if epochs == -1 and steps in (-1, None):  # Lightning trains until stopped; None is its 1,000 epochs
        raise ConfigError(f"{key('trainer.max_epochs')}={epochs} with {key('trainer.max_steps')}={steps} sets no "
                          f"training length (the learning-rate schedule needs one); set trainer.max_epochs or "
                          f"trainer.max_steps >= 1")
    if "accumulate_grad_batches" in trainer_cfg:
        positive_int(key("trainer.accumulate_grad_batches"), trainer_cfg.accumulate_grad_batches, 1, auto=False)
    for name in ("limit_train_batches", "limit_val_batches"):
        limit = trainer_cfg.get(name)
        if limit is not None and not (isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0
                                      or isinstance(limit, float) and 0 <= limit <= 1):
            raise ConfigError(f"{key(f'trainer.{name}')}={limit!r} is not valid; use null (every batch), a number of "
                              f"batches such as 1 (0: none), or a share of them from 0 to 1 such as 0.25")
    clip = trainer_cfg.get("gradient_clip_val")
    if clip is not None and not clip >= 0:  # a negative norm would turn every clipped gradient around
        raise ConfigError(f"{key('trainer.gradient_clip_val')}={clip!r} is not valid; use null or 0 (no clipping) or "
                          f"a positive norm such as 1.0")


class RNGState(Callback):
    """Every global random stream in the checkpoint, restored on resume. Stored as tensors and plain
    Python values, so checkpoints still load with ``weights_only=True`` (never unpickling code).

    Under DDP each process draws its own dropout masks (``ITTModule.setup`` seeds it with seed + rank), so
    the checkpoint keeps one state per process (gathered when it is saved) and each process resumes its
    own. Resumed with another number of processes, the streams cannot continue: each process keeps the
    seed + rank start, with a warning."""

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        mine = _rng_state()
        if trainer.world_size > 1:  # every process builds the checkpoint dict; process 0 writes it
            every = [None] * trainer.world_size
            torch.distributed.all_gather_object(every, mine)
        else:
            every = [mine]
        checkpoint["itt_rng"] = {"ranks": every}

    def on_load_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        saved = checkpoint.get("itt_rng")
        if not saved:
            log.warning("checkpoint holds no random state (written by an older itt): the resumed run draws new masks")
            return
        every = saved.get("ranks", [saved])  # a checkpoint of an older itt: one process's state
        if len(every) != trainer.world_size:
            log.warning("checkpoint holds the random state of %d process(es), this run has %d: each process draws "
                        "new masks from seed + rank", len(every), trainer.world_size)
            return
        _set_rng_state(every[trainer.global_rank])


def _validation_follows(trainer, batch_idx: int) -> bool:
    """Does a validation run right after the batch that just trained? Lightning's rule: after an epoch's last
    batch, and every ``val_check_batch`` batches when ``val_check_interval`` asks for validations mid-epoch
    (counted over the whole run when ``check_val_every_n_epoch`` is None); and itt's: at ``max_steps``
    (``ValidateLastStep``). True for every epoch's last batch, also in epochs without a validation: the
    epoch's end comes right after it then."""
    loop = trainer.fit_loop.epoch_loop
    if loop.batch_progress.is_last_batch or batch_idx + 1 >= trainer.num_training_batches:
        return True
    if _at_max_steps(trainer):
        return True
    every = trainer.val_check_batch
    if not trainer.enable_validation or every == float("inf"):
        return False
    current = loop.total_batch_idx if trainer.check_val_every_n_epoch is None else batch_idx
    return (current + 1) % int(every) == 0


def _at_max_steps(trainer) -> bool:
    return 0 < trainer.max_steps <= trainer.global_step


class ValidateLastStep(Callback):
    """A fit that ``trainer.max_steps`` ends inside an epoch is validated at its last step. Lightning validates
    at epoch ends only, so the steps since the last one were never a candidate for the best checkpoint: the model
    kept, and what an intermediate hands on, was that epoch's, whatever those steps trained (max_steps=80 with
    53 steps an epoch: step 53's weights). Asking the loop to stop at that step makes Lightning validate it, as
    it does when early stopping asks (in an epoch it validates at all: ``check_val_every_n_epoch``)."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if _at_max_steps(trainer):
            trainer.should_stop = True


class LastCheckpoint(ModelCheckpoint):
    """``last.ckpt``: at every epoch's end, after its validation, and with ``every_n_train_steps`` also every N
    steps, except at a step a validation follows (an epoch's last; mid-epoch ones with ``val_check_interval``). Lightning saves the every-N one in that step, before the epoch's
    validation, and not again at the epoch's end: a run resumed from it never validated that epoch, whose
    score then reached neither the best checkpoint nor early stopping (N=3 and 11 steps an epoch: step 33)."""

    @property
    def state_key(self) -> str:  # a ModelCheckpoint's: checkpoints written before this class still restore it
        return super().state_key.replace(type(self).__qualname__, ModelCheckpoint.__qualname__, 1)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not _validation_follows(trainer, batch_idx):
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._every_n_train_steps and not self._should_skip_saving_checkpoint(trainer):
            self._save_topk_checkpoint(trainer, self._monitor_candidates(trainer))


class StopState(Callback):
    """``trainer.should_stop`` in the checkpoint, restored on resume: Lightning does not save it, so a run that
    early stopping ended, killed before its row was written (during the best checkpoint's validation or test,
    or while the model is exported), trained on to ``max_epochs`` when resumed, and could pick another best
    epoch than the uninterrupted run."""

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        checkpoint["itt_should_stop"] = bool(trainer.should_stop)

    def on_load_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        if checkpoint.get("itt_should_stop"):  # restored after Trainer.fit cleared it, before its loop starts
            trainer.should_stop = True


class RequeueBetweenSteps(Checkpoint):
    """Lightning's SLURM requeue (hpc checkpoint, ``scontrol requeue``), done where Lightning saves ``last.ckpt``.

    Lightning's own handler saves the moment the signal arrives. Inside a step, the batch is already drawn from
    the sampler (its position counts it) but not yet trained on, so the requeued job skipped that batch; inside
    a validation, the loader had moved on to the next epoch and the requeued job trained one epoch less. During
    training the save waits for the end of the step, so the requeued job resumes to the weights of an
    uninterrupted run. A validation is not waited for: it can outlast the 120 s between the signal and SLURM's
    time limit. A signal that comes during one, or before it in the step it follows, requeues at once
    without a checkpoint: the requeued job resumes from ``last.ckpt`` and trains the steps since again.
    After training (from ``on_train_end`` to the fit's teardown) the handler it replaced runs at once: the job's own
    (``itt.requeue``, where ``itt.train`` installed one: it requeues without a checkpoint, and the requeued job
    resumes from ``last.ckpt``), else Lightning's. Before training the job's handler is the one in place (Lightning
    installs its own only on a signal without a handler). Each requeue is noted in ``itt.requeue``, so the job
    stops when the fit returns.
    A ``Checkpoint`` so that Lightning runs it after the ModelCheckpoints, whose state it saves. Under DDP the
    processes agree at each step's end whether any of them got the signal, so they all save at the same step."""

    def __init__(self):
        self._pending = None  # (signum, frame) of a signal that arrived while training
        self._training = self._validating = self._requeued = False

    def on_train_start(self, trainer, pl_module) -> None:
        # Lightning has just installed its handler (Trainer._run), and restores the one before it at teardown.
        environment = trainer._accelerator_connector.cluster_environment
        if threading.current_thread() is threading.main_thread() and isinstance(environment, SLURMEnvironment):
            self._trainer = trainer
            self._outside = signal.getsignal(environment.requeue_signal)  # itt.requeue's when itt.train runs
            self._training = True
            signal.signal(environment.requeue_signal, self._on_signal)

    def _requeue(self, signum, frame) -> None:
        """Lightning's ``_slurm_sigusr_handler_fn`` (loggers finalized, an hpc checkpoint from every process, then
        ``scontrol requeue`` from process 0), with the requeue's result kept, which Lightning's only logs: process 0
        stops when the fit returns only if SLURM took the requeue, else it trains on. The other processes go on
        until SLURM ends every task of the requeued job, as after Lightning's handler."""
        trainer = self._trainer
        log.info("SLURM requeue signal %s", signum)
        for logger in trainer.loggers:
            logger.finalize("finished")
        trainer.save_checkpoint(trainer._checkpoint_connector.hpc_save_path(trainer.default_root_dir))
        if trainer.is_global_zero and requeue.request_requeue():
            requeue.note_requeued()

    def _on_signal(self, signum, frame) -> None:
        if self._requeued:  # one requeue per job: a second signal (another rank's, or SLURM's again) is ignored
            return
        if not self._training:
            if requeue.is_job_handler(self._outside):
                self._outside(signum, frame)  # requeues and stops the job
            else:
                self._requeue(signum, frame)
        elif self._validating:
            self._requeue_from_last_checkpoint(signum, frame)
        else:
            self._pending = (signum, frame)

    def _requeue_from_last_checkpoint(self, signum, frame) -> None:
        trainer = self._trainer
        hpc = Path(trainer._checkpoint_connector.hpc_save_path(trainer.default_root_dir))
        self._pending, self._requeued = None, True
        log.info("SLURM requeue signal in a validation: the requeued job resumes from last.ckpt")
        self._requeue(signum, frame)
        if trainer.is_global_zero:  # saved inside a validation: not a state to resume from (last.ckpt is)
            hpc.unlink(missing_ok=True)

    def _agreed(self, trainer):
        """The pending signal, or under DDP any process's: every process reaches this at the same point."""
        pending = self._pending
        if trainer.world_size > 1:
            flag = torch.tensor([0 if pending is None else 1], device=trainer.strategy.root_device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            if flag.item() and pending is None:
                pending = (trainer._accelerator_connector.cluster_environment.requeue_signal, None)
        return pending

    def _flush(self, trainer) -> None:
        if not self._training or self._requeued:
            return
        pending = self._agreed(trainer)
        if pending is not None:
            self._pending, self._requeued = None, True
            self._requeue(*pending)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        # Not inside an accumulation: the gradients of its batches so far live in memory only, and the requeued job
        # (resuming after those batches) would never step on them (41 of 41 tensors other at accumulate 2).
        if not _validation_follows(trainer, batch_idx) and not trainer.fit_loop._should_accumulate():
            self._flush(trainer)

    def on_validation_start(self, trainer, pl_module) -> None:
        if self._training and not trainer.sanity_checking:
            self._validating = True
            pending = None if self._requeued else self._agreed(trainer)
            if pending is not None:  # it came in the step this validation follows
                self._requeue_from_last_checkpoint(*pending)

    def on_validation_end(self, trainer, pl_module) -> None:
        self._validating = False

    def on_train_epoch_end(self, trainer, pl_module) -> None:  # an epoch without a validation
        self._flush(trainer)

    def on_train_end(self, trainer, pl_module) -> None:
        self._flush(trainer)
        self._training = False


def _rng_state() -> dict:
    states = _collect_rng_states(include_cuda=torch.cuda.is_available())
    name, keys, pos, has_gauss, gauss = states.pop("numpy")
    version, py_state, py_gauss = states.pop("python")
    return {**states, "numpy": [name, torch.from_numpy(keys.astype("int64")), int(pos), int(has_gauss), float(gauss)],
            "python": [version, list(py_state), py_gauss]}


def _set_rng_state(saved: dict) -> None:
    name, keys, pos, has_gauss, gauss = saved["numpy"]
    _set_rng_states({**saved, "numpy": (name, keys.numpy().astype("uint32"), pos, has_gauss, gauss),
                     "python": (saved["python"][0], tuple(saved["python"][1]), saved["python"][2])})


def build_trainer(settings, run_dir: Path, loggers: list, monitor: str, precision: str,
                  every_n_steps: int | None = None, one_head_per_batch: bool = False):
    """The Lightning Trainer for ``settings`` (effective trainer/optim of the run) and the effective
    ``precision`` (``itt.hardware``). ``one_head_per_batch``: a mixture over label spaces
    (``itt.models.multihead``), whose batches each train one of its heads."""
    checkpoint = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="best", monitor=monitor, mode="max",
                                 save_top_k=1, enable_version_counter=False)
    # last.ckpt (what a killed run resumes from) after every epoch, or every N steps. Not
    # save_last=True: since Lightning 2.5 that writes last.ckpt only in epochs that improved the
    # monitor, so a resume would redo epochs.
    when = {"every_n_train_steps": every_n_steps} if every_n_steps else {}
    latest = LastCheckpoint(dirpath=run_dir / "checkpoints", filename="last", monitor=None, save_top_k=1,
                            enable_version_counter=False, **when)
    callbacks = [ValidateLastStep(), checkpoint, latest, RNGState(), StopState()]
    show = progress.wanted(settings.trainer.get("enable_progress_bar", "auto"))
    if show:
        callbacks.append(progress.progress_bar())
    if settings.optim.early_stopping_patience:
        callbacks.append(EarlyStopping(monitor=monitor, mode="max", patience=settings.optim.early_stopping_patience))
    plugins = [AtomicCheckpointIO()]
    if SLURMEnvironment.detect():
        # On the requeue signal Lightning saves an hpc checkpoint and requeues the job; the requeued job
        # has the same run id, so it resumes from that checkpoint (see trainer's resume path).
        plugins.append(SLURMEnvironment(auto_requeue=True, requeue_signal=requeue.REQUEUE_SIGNAL))
        callbacks.append(RequeueBetweenSteps())
    try:
        # use_distributed_sampler=False: under DDP itt's own samplers give each process its share of the
        # same global batches (itt.data.samplers), which Lightning's DistributedSampler would replace.
        # inference_mode=False: evaluation under no_grad, where autocast keeps its weight-cast cache
        # (itt.eval_casts); the same kernels and numbers as under inference mode.
        trainer = instantiate(settings.trainer, precision=precision, callbacks=callbacks, logger=loggers,
                              default_root_dir=str(run_dir), plugins=plugins, enable_progress_bar=show,
                              use_distributed_sampler=False, inference_mode=False)
    except InstantiationException as exc:  # a value Lightning rejects, e.g. trainer.precision=bogus
        raise ConfigError(f"trainer: {one_line(str(exc.__cause__ or exc))[:400]}") from exc
    if one_head_per_batch and isinstance(trainer.strategy, DDPStrategy):
        # DDP's reducer by default waits for a gradient of every parameter, and the heads a batch does not use
        # get none: the second step fails. Lightning's ddp_find_unused_parameters_true, set on the resolved
        # strategy so that strategy=auto with several devices (resources=gpu_4) gets it too.
        trainer.strategy._ddp_kwargs["find_unused_parameters"] = True
    if torch.are_deterministic_algorithms_enabled():
        # deterministic=True also makes torch fill every new tensor with NaN (a debugging aid against
        # reading uninitialised memory): +8 % step time for MiniLM on CPU. Results stay deterministic.
        torch.utils.deterministic.fill_uninitialized_memory = False
    return trainer, checkpoint


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written to a temporary file next to the target, fsync'ed, then renamed over it.

    A job killed at any moment leaves the previous checkpoint or the new one, never a torn file.
    (Lightning's own "atomic" save stages in the system temp dir and falls back to a non-atomic copy
    when that is another file system, as with /tmp vs. a cluster's scratch space.)
    """

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        if storage_options is not None or "://" in str(path):  # remote storage: Lightning's own way
            return super().save_checkpoint(checkpoint, path, storage_options)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                torch.save(checkpoint, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except (OSError, RuntimeError) as exc:
            unnamed = _unnamed_os_error(exc)
            if unnamed is None:
                raise
            raise OSError(unnamed.errno, unnamed.strerror, str(path)) from exc
        finally:
            tmp.unlink(missing_ok=True)
        try:  # make the rename itself durable
            fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            pass


def _unnamed_os_error(exc: BaseException) -> OSError | None:
    """The OSError behind a failed checkpoint write that names no file (None: there is none, or it names one):
    torch's writer wraps the file's error in a RuntimeError of its own ("unexpected pos"), and a failed flush on
    close names no file. Raised again naming the checkpoint, the run's one line says which file a full disk kept
    from being written."""
    failure = next((e for e in chain(exc) if isinstance(e, OSError)), None)
    return failure if failure is not None and failure.errno is not None and failure.filename is None else None


def resume_point(run_dir: Path) -> tuple[str | None, int | None]:
    """The newest readable checkpoint a killed or requeued attempt of this run left behind, and its step.

    Checkpoints are read with ``weights_only=True``: one that is torn or holds pickled code is skipped
    with a warning (the next newest is tried), never executed.
    """
    candidates = list(Path(run_dir).glob("hpc_ckpt_*.ckpt")) + [Path(run_dir) / "checkpoints" / "last.ckpt"]
    existing = sorted((p for p in candidates if p.exists()), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in existing:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            return str(path), int(state.get("global_step", 0))
        except Exception as exc:  # noqa: BLE001 (any unreadable file: not a checkpoint we can trust)
            log.warning("not resuming from %s: unreadable with weights_only=True (%s)", path, one_line(str(exc))[:200])
    return None, None

