"""``python -m itt.report --status``: what the ledger holds, and what a sweep still owes.

Ledger runs by latest status: ``ok`` (has an ok row), ``failed`` (its newest row failed and it never
succeeded; with the error) and ``cached only`` (only ``cached`` rows: the ok row lives in another
ledger). For a sweep directory (``${root}/sweeps/<stamp>/``, one subfolder per job named by its
run id, each with Hydra's ``.hydra/overrides.yaml``; default: the newest sweep under the root),
each job without an ok row is one of:

* ``running``     – its run lock is held by a live process (tested with a non-blocking ``flock``,
  released at once; the kernel frees a dead job's lock, so a held lock means a live job);
* ``resumable``   – lock free, no row, and a resume checkpoint exists (``checkpoints/last.ckpt``
  or SLURM's ``hpc_ckpt_*.ckpt`` in ``${root}/runs/<run_id>/``): killed, rerunning resumes it;
* ``failed``      – its newest ledger row failed;
* ``not started`` – none of the above.

Every job that is neither done nor running gets its rerun command (the sweep's overrides, and the
``--config-dir`` the sweep was launched with, without which a task config of one's own does not compose).

A launcher makes a job's folder when the job starts (Hydra's basic launcher: one after the other), so jobs
not reached yet have none: the sweep's own command (``multirun.yaml``) is expanded as ``itt.plan`` expands it,
and every job whose overrides no folder holds is ``not started`` too (matched by overrides, not by run id:
a run id depends on the machine's numerics, and the sweep may have run elsewhere). Jobs that name one run (the
no-ITT target of a sweep over ``intermediate.steps``) share one folder, which keeps the overrides of the last of
them only; so a job no folder's overrides hold whose run id, as computed here, is a folder's or has an ok row in the
ledger has that run's state, not ``not started``.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import warnings
from pathlib import Path

import pandas as pd
import yaml

from .ledger_frame import LedgerWarning, chronological


def ledger_status(df: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration (``config_id``: a run on any machine): ``state`` (ok / failed / cached
    only), ``error``, ``time``, and ``run_id``, its newest row's."""
    cols = ["config_id", "run_id", "state", "error", "time"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for config_id, g in chronological(df).groupby("config_id", sort=False):
        statuses = set(g["status"])
        real = g[g["status"] != "cached"]
        if "ok" in statuses:
            state, error = "ok", None
        elif real.empty:
            state, error = "cached only", None
        else:
            state, error = str(real["status"].iloc[-1]), real["error"].iloc[-1]
        rows.append({"config_id": config_id, "run_id": g["run_id"].iloc[-1], "state": state, "error": error,
                     "time": g["time"].iloc[-1]})
    return pd.DataFrame(rows, columns=cols)


def lock_held(path: Path) -> bool:
    """True if another process holds an flock on ``path`` (we never create it or keep it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def lock_paths(root: Path, run_id: str) -> list[Path]:
    # ${root}/locks/<run_id>.lock; runs written before locks moved there lock their run dir.
    return [root / "locks" / f"{run_id}.lock", root / "runs" / run_id / ".lock"]


def resume_checkpoint(root: Path, run_id: str) -> Path | None:
    run_dir = root / "runs" / run_id
    found = [run_dir / "checkpoints" / "last.ckpt", *sorted(run_dir.glob("hpc_ckpt_*.ckpt"))]
    return next((p for p in found if p.is_file()), None)


def newest_sweep(root: Path) -> Path | None:
    sweeps = [p for p in (root / "sweeps").glob("*") if p.is_dir()]
    return max(sweeps, key=lambda p: p.name) if sweeps else None


def read_overrides(job_dir: Path) -> list[str]:
    path = job_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return []
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return [str(o) for o in loaded]


def read_config_dir(hydra_yaml: Path) -> str | None:
    """The ``--config-dir`` a job or sweep was launched with (Hydra records it in ``hydra.runtime``'s
    config sources as the ``command-line`` provider), from its ``hydra.yaml`` or ``multirun.yaml``."""
    if not hydra_yaml.is_file():
        return None
    loaded = yaml.safe_load(hydra_yaml.read_text(encoding="utf-8")) or {}
    sources = ((loaded.get("hydra") or loaded).get("runtime") or {}).get("config_sources") or []
    return next((src["path"] for src in sources if src.get("provider") == "command-line"), None)


def rerun_command(overrides: list[str], config_dir: str | None) -> str:
    flags = ["--config-dir", config_dir] if config_dir else []
    return shlex.join(["python", "-m", "itt.train", *flags, *overrides])


def job_ids(overrides: list[str], config_dir: str | None) -> tuple[str | None, str | None]:
    """(run id on this machine, config id) of the run a job's overrides name ((None, None) when they no
    longer resolve). The sweep's jobs may run on other machines (run ids hold the machine): the config id
    finds their rows."""
    from hydra import compose  # noqa: PLC0415 (Hydra's composition: only for a sweep's status)

    from itt import cli, identity  # noqa: PLC0415

    try:
        with cli.composing(config_dir):
            spec = identity.resolve(compose("train", overrides=overrides))
            return identity.run_id(spec), identity.config_id(spec)
    except Exception:  # noqa: BLE001 (configs changed since the sweep: the job is matched by overrides only)
        return None, None


def unstarted_jobs(sweep: Path, started: list[list[str]]) -> tuple[list[tuple[int, list[str]]], int]:
    """(position in the sweep from 1, overrides) of the sweep's jobs that no job folder holds (``started``), and
    the sweep's number of jobs: its command (``multirun.yaml``) expanded by ``itt.plan.sweep_points``. ([], 0)
    without ``multirun.yaml``, or with a warning when the command no longer composes."""
    multirun = sweep / "multirun.yaml"
    if not multirun.is_file():
        return [], 0
    loaded = yaml.safe_load(multirun.read_text(encoding="utf-8")) or {}
    command = [str(o) for o in ((loaded.get("hydra") or {}).get("overrides") or {}).get("task") or []]
    from itt.plan import sweep_points  # noqa: PLC0415 (Hydra's composition: only for a sweep's status)

    try:
        points = sweep_points(command, read_config_dir(multirun))
    except Exception as exc:  # noqa: BLE001 (configs changed or moved since the sweep: say so, list the folders)
        warnings.warn(f"jobs of {sweep} without a folder are not listed: its command no longer composes ({exc})",
                      LedgerWarning, stacklevel=2)
        return [], 0
    return [(i, point) for i, point in enumerate(points, 1) if point not in started], len(points)


def sweep_status(root: str | Path, sweep: str | Path, ledger: pd.DataFrame) -> pd.DataFrame:
    """One row per job of ``sweep``: run_id, state, detail, rerun command (a job not started yet, which
    has no folder, is named ``job <i> of <n>`` of the sweep's expansion)."""
    root, sweep = Path(root), Path(sweep)
    states = ledger_status(ledger).set_index("config_id") if not ledger.empty else pd.DataFrame()
    config_of = dict(zip(ledger["run_id"], ledger["config_id"])) if not ledger.empty else {}
    rows, started = [], []
    for job in sorted(p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith(".")):
        run_id = job.name
        config_id = config_of.get(run_id, run_id)
        known = states.loc[config_id] if config_id in states.index else None
        detail = ""
        if known is not None and known["state"] in ("ok", "cached only"):
            state = "done"
        elif any(lock_held(p) for p in lock_paths(root, run_id)):
            state = "running"
        elif known is not None:
            state, detail = "failed", str(known["error"] or "")
        elif (ckpt := resume_checkpoint(root, run_id)) is not None:
            state, detail = "resumable", str(ckpt)
        else:
            state = "not started"
        started.append(read_overrides(job))
        command = ""
        if state not in ("done", "running"):
            command = rerun_command(started[-1], read_config_dir(job / ".hydra" / "hydra.yaml"))
        rows.append({"run_id": run_id, "state": state, "detail": detail, "rerun": command})
    waiting, total = unstarted_jobs(sweep, started)
    config_dir = read_config_dir(sweep / "multirun.yaml")
    by_folder = {r["run_id"]: r for r in rows}
    for i, overrides in waiting:
        run_id, config_id = job_ids(overrides, config_dir)
        if run_id in by_folder:  # another job of the sweep named the same run: its folder is this job's too
            rows.append({**by_folder[run_id], "detail": f"job {i} of {total}, the same run as another job"})
        elif config_id is not None and config_id in states.index and states.loc[config_id, "state"] in ("ok", "cached only"):
            rows.append({"run_id": states.loc[config_id, "run_id"], "state": "done", "detail": f"job {i} of {total}",
                         "rerun": ""})
        else:
            rows.append({"run_id": f"job {i} of {total}", "state": "not started", "detail": "no folder yet",
                         "rerun": rerun_command(overrides, config_dir)})
    return pd.DataFrame(rows, columns=["run_id", "state", "detail", "rerun"])


def status_lines(df: pd.DataFrame, root: str | Path, sweep: str | Path | None) -> list[str]:
    """What ``--status`` prints."""
    led = ledger_status(df)
    counts = led["state"].value_counts()
    lines = [f"ledger: {len(led)} run(s): " + ", ".join(
        f"{counts.get(s, 0)} {s}" for s in ("ok", "failed", "cached only"))]
    for r in led[led["state"] == "failed"].itertuples(index=False):
        lines.append(f"  failed {r.run_id}: {r.error or '(no error recorded)'}")
    sweep = Path(sweep) if sweep else newest_sweep(Path(root))
    if sweep is None or not sweep.is_dir():
        lines.append("sweep: none found" + (f" at {sweep}" if sweep else f" under {root}/sweeps"))
        return lines
    jobs = sweep_status(root, sweep, df)
    counts = jobs["state"].value_counts()
    lines.append(f"sweep {sweep}: {len(jobs)} job(s): " + ", ".join(
        f"{counts.get(s, 0)} {s}" for s in ("done", "running", "resumable", "failed",
                                            "not started")))
    for r in jobs[jobs["state"] != "done"].itertuples(index=False):
        lines.append(f"  {r.state} {r.run_id}" + (f" ({r.detail})" if r.detail else ""))
        if r.rerun:
            lines.append(f"    rerun: {r.rerun}")
    return lines
