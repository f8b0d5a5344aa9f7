"""SLURM's end-of-allocation signal (``--signal=USR1@120``) anywhere in a job, not only inside ``Trainer.fit``.

Lightning handles the requeue signal only while one of its Trainer calls runs, and inside ``fit``
``itt.trainer.RequeueBetweenSteps`` takes it over. Before the fit (the cached check, a wait for another
job's lock, data loading and tokenisation, the model's loading) and after it (the best checkpoint's
validation and test, every eval set, the model export, the ledger row), Python's default action for USR1
ends the job at once, unrequeued: the sweep point is lost (with Hydra's basic launcher, every later point
of the sweep too).

``during_job()`` (around ``itt.train``'s main) gives the signal one handler for the whole job when Lightning
would requeue (SLURM detected as ``SLURMEnvironment.detect()`` decides, which is not an interactive job):
it runs ``scontrol requeue`` as Lightning's handler does and stops the job with :class:`JobRequeued`,
without a checkpoint. The requeued job starts the same command again: a run with a ledger row is cached,
a run whose fit had ended resumes from its last checkpoint without training and does its evaluation,
export and row again, and any other resumes as a killed run does. Inside ``held()`` (a ledger append, the
model and predictions export) the signal waits for the end of the write. Nothing changes off SLURM.

submitit (``hydra/launcher=slurm``) keeps its own handlers: USR2 (its preemption signal, which SLURM does
not send with this launcher's ``--signal=USR1``), and SIGTERM and SIGCONT, which it only logs. It ignores
the SIGTERM that SLURM sends after ``scontrol requeue``, so the job stops itself. Should submitit be
told to use USR1 (``SUBMITIT_PREEMPT_SIGNAL=USR1``), its handler there is replaced, with a warning: with
``max_num_timeout: 0`` it would not requeue a job that timed out.

Imports no torch: ``itt.train`` answers cached runs before torch loads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import threading

log = logging.getLogger(__name__)

#: What SLURM sends (conf/hydra/launcher/slurm.yaml: ``signal: USR1@...``) and Lightning listens on
#: (``itt.trainer.build_trainer``'s ``SLURMEnvironment(requeue_signal=...)``).
REQUEUE_SIGNAL = signal.SIGUSR1


class JobRequeued(SystemExit):
    """The job asked SLURM to requeue it and stops here; the requeued job continues the work. A ``SystemExit``
    like Lightning's ``SIGTERMException``: Hydra and submitit record no result for it, so the sweep waits for
    the requeued job's."""


_installed = False  # during_job() holds the signal
_holding = 0  # depth of held() sections
_pending = None  # a signal that came inside a held() section: (signum, frame)
_requeued = False  # one requeue per job: SLURM (or another rank) may send the signal again
_pid = None  # the process during_job() armed the handler in


def slurm_requeues() -> bool:
    """Lightning's rule for ``SLURMEnvironment.detect()`` (with ``auto_requeue``, as ``itt.trainer`` builds it):
    a process started by ``srun``, in a job not named ``bash`` or ``interactive``. Read here from the
    environment (Lightning's module would import torch); ``tests`` check the two agree."""
    return "SLURM_NTASKS" in os.environ and os.environ.get("SLURM_JOB_NAME") not in ("bash", "interactive")


def job_id() -> str:
    """The id ``scontrol requeue`` takes, as Lightning's ``_slurm_sigusr_handler_fn`` builds it: an array task's
    ``<array job>_<task>``, else ``SLURM_JOB_ID``."""
    array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
    found = f"{array_job}_{os.environ['SLURM_ARRAY_TASK_ID']}" if array_job is not None else os.environ["SLURM_JOB_ID"]
    if not re.fullmatch(r"[0-9_-]+", found):
        raise ValueError(f"SLURM job id {found!r} is not a job id (digits, '_' and '-')")
    return found


def request_requeue() -> bool:
    """``scontrol requeue`` for this job; False if it failed (logged)."""
    command = ["scontrol", "requeue", job_id()]
    log.info("requeueing SLURM job %s", command[-1])
    try:
        result = subprocess.call(command)
    except FileNotFoundError:  # as Lightning: scontrol may be reachable only through a shell
        result = subprocess.call(" ".join(command), shell=True)
    if result != 0:
        log.warning("requeueing SLURM job %s failed (scontrol exit code %s): the job goes on until its time limit",
                    command[-1], result)
    return result == 0


def requeued() -> bool:
    """Has this job asked to be requeued (here, or by ``RequeueBetweenSteps`` inside a fit)?"""
    return _requeued


def note_requeued() -> None:
    """Lightning's handler (inside a fit) has requeued the job: the job stops once the fit ends."""
    global _requeued
    _requeued = True


def stop_if_requeued() -> None:
    """Raises :class:`JobRequeued` once the job was requeued: nothing after this point runs twice."""
    if _requeued and _installed:
        raise JobRequeued("the job was requeued by SLURM's end-of-allocation signal; the requeued job continues")


def is_job_handler(handler) -> bool:
    return handler is _on_signal


def _on_signal(signum, frame) -> None:
    global _pending
    if _requeued or os.getpid() != _pid:  # a forked child (a DataLoader worker) inherits the handler: not its job
        return
    if os.environ.get("SLURM_PROCID", "0") != "0":
        # Every task of the step gets the signal; process 0 requeues (as Lightning's handler) and SLURM then ends
        # every task. A worker that stopped itself could make srun (--kill-on-bad-exit) end process 0 before that.
        log.info("SLURM requeue signal %s: process 0 requeues the job", signum)
        return
    if _holding:
        _pending = (signum, frame)
        log.info("SLURM requeue signal %s: requeueing once the write under way is complete", signum)
        return
    _requeue_and_stop(signum)


def _requeue_and_stop(signum) -> None:
    global _requeued
    log.info("SLURM requeue signal %s outside training", signum)
    _requeued = True  # a second signal while scontrol runs is ignored
    if not request_requeue():
        _requeued = False  # the next signal tries again
        return
    stop_if_requeued()


@contextlib.contextmanager
def during_job():
    """The job's handler of the requeue signal, when Lightning would requeue (:func:`slurm_requeues`); the
    handler before it is back afterwards. Nothing happens elsewhere, or off the main thread (where Python
    cannot set a handler)."""
    global _installed, _requeued, _pending, _pid
    if _installed or not slurm_requeues() or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(REQUEUE_SIGNAL)
    if previous not in (signal.SIG_DFL, None):
        log.warning("the SLURM requeue signal %s had a handler (%r), replaced for this job: itt requeues it "
                    "(unset SUBMITIT_PREEMPT_SIGNAL if submitit was told to use it)", REQUEUE_SIGNAL.name, previous)
    signal.signal(REQUEUE_SIGNAL, _on_signal)
    _installed, _requeued, _pending, _pid = True, False, None, os.getpid()
    try:
        yield
    finally:
        signal.signal(REQUEUE_SIGNAL, previous if previous is not None else signal.SIG_DFL)
        _installed = False


@contextlib.contextmanager
def held():
    """A write that a requeue must not cut (a ledger append, a model export): a signal that comes during it is
    acted on when it ends, even if it failed."""
    global _holding, _pending
    _holding += 1
    try:
        yield
    finally:
        _holding -= 1
        if not _holding and _pending is not None:
            signum, _pending = _pending[0], None
            _requeue_and_stop(signum)
