"""Helpers and fixtures for tests that need a real SLURM cluster (scripts/slurm/start-slurm.sh).

Use in a test module (the two fixtures must be imported to be visible to pytest)::

    from slurm_helpers import slurm_cluster, slurm_queue_empty  # noqa: F401  (fixtures)

    @pytest.mark.slurm
    def test_something(slurm_cluster, slurm_queue_empty, tmp_path):
        partition = slurm_cluster.partition
        ...

When several modules use them, import them once in tests/conftest.py instead, so the
session-scoped ``slurm_cluster`` is set up once.

Which cluster, decided once per session by ``slurm_cluster``:

- ``ITT_SLURM=0``: skip every SLURM test, even if a cluster answers;
- ``ITT_SLURM=1``: use the cluster if ``sinfo`` answers, otherwise start one with
  scripts/slurm/start-slurm.sh (needs root) and fail (not skip) if that does not work;
- unset: use the cluster if ``sinfo`` answers, otherwise skip.

A cluster the fixture started is stopped at the end of the session (scripts/slurm/stop-slurm.sh)
unless ``ITT_SLURM_KEEP=1``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator, Mapping

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = REPO_ROOT / "conf"
SLURM_SCRIPTS = REPO_ROOT / "scripts" / "slurm"
START_SCRIPT = SLURM_SCRIPTS / "start-slurm.sh"
STOP_SCRIPT = SLURM_SCRIPTS / "stop-slurm.sh"

#: node states in which jobs can start
READY_STATES = {"idle", "mixed", "allocated", "completing"}
#: sacct states after which a job will not change any more (REQUEUED is not one of them)
FINAL_STATES = {
    "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL",
    "PREEMPTED", "BOOT_FAIL", "DEADLINE",
}


def run(cmd: list[str], timeout: float = 30.0, check: bool = False,
        env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command, capture text output; a timeout gives returncode 124 instead of raising."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=check,
                              env=None if env is None else dict(env))
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        return subprocess.CompletedProcess(cmd, 124, out, err + f"\n[timeout after {timeout}s]")


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.5) -> bool:
    """Poll ``predicate`` until it returns something truthy or ``timeout`` seconds pass."""
    end = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(interval)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """``os.environ`` without SLURM_*/SUBMITIT_* variables (plus ``extra``).

    Use it for subprocesses a test launches: when pytest itself runs inside a SLURM allocation,
    the allocation's SLURM_JOB_ID etc. would otherwise leak into "local" jobs (and make Lightning
    believe it runs under SLURM).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SUBMITIT_"))}
    env.update(extra or {})
    return env


# ------------------------------------------------------------------ queries


def node_states(timeout: float = 15.0) -> list[str]:
    """States of the cluster's nodes per ``sinfo`` ([] if sinfo is missing or does not answer)."""
    if shutil.which("sinfo") is None:
        return []
    r = run(["sinfo", "-h", "-N", "-o", "%T"], timeout=timeout)
    if r.returncode != 0:
        return []
    return [s.strip().rstrip("*~#!%$@^-") for s in r.stdout.split() if s.strip()]


def slurm_available(timeout: float = 15.0) -> bool:
    """True if the controller answers and at least one node can run jobs. Fast when it cannot:

    - no client commands on PATH: immediately;
    - a slurm.conf but slurmctld down: ``scontrol ping`` fails at once (sinfo would retry ~10 s);
    - no slurm.conf at all (e.g. after ``stop-slurm.sh --purge``): the client commands retry
      reading it for 60 s, so only a configless cluster (no file, SLURM_CONF unset) gets a short
      5 s sinfo try.
    """
    if shutil.which("sinfo") is None or shutil.which("scontrol") is None:
        return False
    conf = os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf")
    if Path(conf).exists():
        if run(["scontrol", "ping"], timeout=timeout).returncode != 0:
            return False
    else:
        timeout = min(timeout, 5.0)
    return any(s in READY_STATES for s in node_states(timeout))


def default_partition() -> str | None:
    """The cluster's default partition (the one marked ``*`` by sinfo), else the first one."""
    r = run(["sinfo", "-h", "-o", "%P"])
    names = [p.strip() for p in r.stdout.split() if p.strip()]
    for p in names:
        if p.endswith("*"):
            return p[:-1]
    return names[0] if names else None


def partitions() -> list[str]:
    r = run(["sinfo", "-h", "-o", "%P"])
    return [p.strip().rstrip("*") for p in r.stdout.split() if p.strip()]


def squeue_jobs(user: str | None = None) -> list[tuple[str, str, str]]:
    """(job id, state, reason) of every job in the queue (array tasks as ``<array>_<task>``)."""
    cmd = ["squeue", "-h", "-o", "%i|%T|%r"] + (["-u", user] if user else [])
    r = run(cmd)
    if r.returncode != 0:
        raise RuntimeError(f"squeue failed: {r.stderr.strip()}")
    return [tuple(line.split("|", 2)) for line in r.stdout.splitlines() if line.strip()]  # type: ignore[misc]


def queue_empty() -> bool:
    return not squeue_jobs()


def wait_queue_empty(timeout: float = 60.0) -> bool:
    """Wait until ``squeue`` lists no job at all; False if jobs are still there after ``timeout``."""
    return wait_for(queue_empty, timeout)


def cancel_all(timeout: float = 30.0) -> bool:
    """scancel every job in the queue and wait for the queue to drain."""
    ids = [j for j, _, _ in squeue_jobs()]
    if ids:
        run(["scancel", *ids])
    return wait_queue_empty(timeout)


def next_job_id() -> int:
    """The id the next submitted job will get: compare before/after to prove nothing was submitted."""
    r = run(["scontrol", "show", "config"])
    for line in r.stdout.splitlines():
        if line.startswith("NEXT_JOB_ID"):
            return int(line.split("=", 1)[1])
    raise RuntimeError(f"NEXT_JOB_ID not in `scontrol show config`: {r.stderr.strip()}")


SACCT_FIELDS = ("JobID", "JobName", "Partition", "AllocCPUS", "ReqMem", "Timelimit", "State", "ExitCode")


def sacct_jobs(job_id: str | int, fields: tuple[str, ...] = SACCT_FIELDS) -> list[dict[str, str]]:
    """Accounting records (allocations only, no steps) of a job or of all tasks of an array job."""
    r = run(["sacct", "-X", "-n", "-P", "-j", str(job_id), "-o", ",".join(fields)])
    if r.returncode != 0:
        raise RuntimeError(f"sacct failed: {r.stderr.strip()}")
    rows = [dict(zip(fields, line.split("|"))) for line in r.stdout.splitlines() if line.strip()]
    for row in rows:  # "CANCELLED by 0" -> "CANCELLED"
        if "State" in row:
            row["State"] = row["State"].split()[0] if row["State"] else ""
    return rows


def wait_sacct_final(job_id: str | int, n: int = 1, timeout: float = 60.0) -> list[dict[str, str]]:
    """Wait until sacct has ``n`` records for ``job_id``, all in a final state; return them.

    The submitting process may return before slurmctld has recorded the end of the job (the result
    file is written first), so accounting is polled rather than read once.
    """
    rows: list[dict[str, str]] = []

    def done() -> bool:
        nonlocal rows
        rows = sacct_jobs(job_id)
        return len(rows) >= n and all(r["State"] in FINAL_STATES for r in rows)

    if not wait_for(done, timeout):
        raise AssertionError(f"sacct records of job {job_id} not final after {timeout}s: {rows}")
    return rows


def hurry_requeued(settle: float = 2.0) -> list[str]:
    """Make requeued jobs (PENDING, reason BeginTime) eligible now instead of in ~2 minutes.

    SLURM delays a requeued job's restart (BeginTime = requeue time + ~120 s); fine on a real
    cluster, too slow for tests. A job is hurried only ``settle`` seconds after its requeue (squeue's
    submit time): slurmd revoked the job's credential at the requeue and refuses a credential made in
    the same second ("Killing non-startable batch JobId=N: Job credential revoked"), which ends the
    requeued job FAILED before it runs. Returns the ids that were hurried.
    """
    hurried = []
    r = run(["squeue", "-h", "-t", "PENDING", "-o", "%i|%r|%V"])
    for line in r.stdout.splitlines() if r.returncode == 0 else []:
        job, reason, requeued = line.strip().split("|", 2)
        if reason != "BeginTime" or (datetime.now() - datetime.fromisoformat(requeued)).total_seconds() < settle:
            continue
        if run(["scontrol", "update", f"jobid={job}", "StartTime=now"]).returncode == 0:
            hurried.append(job)
    return hurried


# ------------------------------------------------------------------ cluster lifecycle


def start_cluster(timeout: float = 900.0, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run scripts/slurm/start-slurm.sh (idempotent; needs root; may apt-get install)."""
    return run(["bash", str(START_SCRIPT)], timeout=timeout, env=env)


def stop_cluster(purge: bool = False, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
    """Run scripts/slurm/stop-slurm.sh (stops only the daemons start-slurm.sh started)."""
    return run(["bash", str(STOP_SCRIPT), *(["--purge"] if purge else [])], timeout=timeout)


@dataclass(frozen=True)
class SlurmCluster:
    partition: str | None       # default partition
    started_here: bool          # True if this session ran start-slurm.sh to get it


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """A responding SLURM cluster for the session, started if ITT_SLURM=1, else skip (see module doc)."""
    want = os.environ.get("ITT_SLURM", "")
    if want == "0":
        pytest.skip("ITT_SLURM=0: SLURM tests disabled")
    started = False
    if not slurm_available():
        if want != "1":
            pytest.skip("no SLURM cluster answers (sinfo); start one with scripts/slurm/start-slurm.sh "
                        "or set ITT_SLURM=1 to let the tests start it")
        r = start_cluster()
        if r.returncode != 0 or not slurm_available():
            pytest.fail(f"ITT_SLURM=1 but scripts/slurm/start-slurm.sh failed (rc={r.returncode}):\n"
                        f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        started = True
    cluster = SlurmCluster(partition=default_partition(), started_here=started)
    try:
        yield cluster
    finally:
        if not wait_queue_empty(60):
            cancel_all()
        if started and os.environ.get("ITT_SLURM_KEEP") != "1":
            stop_cluster()


@pytest.fixture
def slurm_queue_empty(slurm_cluster: SlurmCluster) -> Iterator[None]:
    """Require an empty queue before the test and check it is empty again afterwards.

    Jobs left behind are cancelled (so the next test starts clean) and the test fails.
    """
    if not wait_queue_empty(60):
        pytest.fail(f"SLURM queue not empty before the test: {squeue_jobs()}")
    yield
    if not wait_queue_empty(60):
        left = squeue_jobs()
        cancel_all()
        pytest.fail(f"test left jobs in the SLURM queue: {left}")


# ------------------------------------------------------------------ itt sweeps (python -m itt.train)
#
# Running itt itself (run_sweep, itt_command, itt_env, read_ledger, ITT_TINY) lives in tests/conftest.py.


def sweep_logs(root: Path, limit: int = 2500) -> str:
    """The tail of every submitit job log under ``<root>/sweeps/*/.submitit/`` (for failure messages)."""
    logs = sorted(Path(root).glob("sweeps/*/.submitit/*/*_log.*"))
    return "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-limit:]}" for p in logs)


def check_grid_ledger(rows: list[dict], models: list[str], task: str, targets: list[str],
                      itts: list[bool]) -> dict[str, str]:
    """Assert the ledger of ONE run of the grid ``models x targets x itts`` (one task, seed 0):

    - one ok row per target point, none failed;
    - exactly one ok intermediate row per model (trained once, however many ITT targets needed it,
      whichever array task or worker got there first);
    - each ITT target names its model's intermediate run, each no-ITT target none.

    Returns {model: intermediate run id}.
    """
    assert not [r for r in rows if r["status"] == "failed"], [r for r in rows if r["status"] == "failed"]
    ok = [r for r in rows if r["status"] == "ok"]
    inter = {}
    for model in models:
        mine = [r for r in ok if r["stage"] == "intermediate" and r["model"] == model]
        if any(itts):
            assert len(mine) == 1, f"{model}: {len(mine)} intermediate trainings: {[r['run_id'] for r in mine]}"
            inter[model] = mine[0]["run_id"]
        else:
            assert not mine, mine
    targets_ok = [r for r in ok if r["stage"] == "target"]
    points = sorted((r["model"], r["task"], r["target"], r["itt"]) for r in targets_ok)
    expected = sorted((m, task, t, i) for m in models for t in targets for i in itts)
    assert points == expected, f"target rows {points} != grid {expected}"
    for r in targets_ok:
        assert r["seed"] == 0 and r["metrics"], r
        assert r["intermediate_run_id"] == (inter[r["model"]] if r["itt"] else None), r
    assert len(ok) == len(expected) + len(inter), [r["run_id"] for r in ok]
    return inter
