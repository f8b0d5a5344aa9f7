"""The project's SLURM pieces, without the real training app.

- scripts/slurm/start-slurm.sh gives a working cluster: sinfo, srun, sbatch, sacct;
- conf/hydra/launcher/{local,slurm}.yaml + conf/resources/*.yaml compose as intended;
- a tiny Hydra app (written into tmp_path, its search path pointing at the project's conf/) runs a
  --multirun sweep as one SLURM array job with hydra/launcher=slurm, and never touches SLURM with
  hydra/launcher=local;
- Lightning's auto-requeue works inside such a job with the signal the slurm launcher asks for.

SLURM tests are marked ``slurm`` and skipped unless a cluster answers (or ITT_SLURM=1 lets them
start one, see tests/slurm_helpers.py). Every SLURM test leaves the queue empty.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from slurm_helpers import (  # noqa: F401  (slurm_cluster, slurm_queue_empty are fixtures; pytest puts tests/ on sys.path)
    CONF_DIR,
    clean_env,
    default_partition,
    hurry_requeued,
    next_job_id,
    partitions,
    run,
    slurm_available,
    slurm_cluster,
    slurm_queue_empty,
    squeue_jobs,
    wait_for,
    wait_sacct_final,
)

RESOURCES = sorted(p.stem for p in (CONF_DIR / "resources").glob("*.yaml"))

# Primary config of the tiny app: the project's conf/ is on the search path, so `resources` and
# `hydra/launcher` come from the project; the app itself only has `x` and `out_dir`.
APP_CONFIG = f"""\
defaults:
  - resources: cpu_small
  - override hydra/launcher: slurm
  - _self_
x: 0
out_dir: ???
steps: 150
hydra:
  searchpath:
    - file://{CONF_DIR}
"""

# Each job records where and how it ran.
APP = """\
import json, os, pathlib
import hydra, submitit
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

KEEP = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES")

@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg):
    hc = HydraConfig.get()
    rec = {
        "x": cfg.x,
        "env": {k: v for k, v in os.environ.items() if k.startswith(("SLURM_", "SUBMITIT_")) or k in KEEP},
        "submitit_cluster": submitit.JobEnvironment().cluster,
        "launcher_target": hc.launcher._target_,
        "resources": OmegaConf.to_container(cfg.resources),
        "output_dir": hc.runtime.output_dir,
    }
    out = pathlib.Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"job_{cfg.x}.json").write_text(json.dumps(rec))
    return cfg.x

if __name__ == "__main__":
    main()
"""

# Lightning inside a SLURM job: trains `steps` steps of 0.1 s; records, when training starts, which
# cluster environment Lightning detected, who handles USR1, and the step it (re)started from.
LIGHTNING_APP = """\
import json, os, pathlib, signal, time
import hydra
from hydra.core.hydra_config import HydraConfig

@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg):
    import torch
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader, TensorDataset

    out = pathlib.Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run_dir = HydraConfig.get().runtime.output_dir
    restart = int(os.environ.get("SLURM_RESTART_COUNT", "0"))
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    info = {"x": cfg.x, "restart": restart,
            "job": f"{array}_{task}" if array else os.environ["SLURM_JOB_ID"]}

    class Tiny(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 1)

        def training_step(self, batch, i):
            time.sleep(0.1)
            return self.lin(batch[0]).pow(2).mean()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

        def on_train_start(self):
            info["start_step"] = self.trainer.global_step
            info["cluster_env"] = type(self.trainer._accelerator_connector.cluster_environment).__name__
            h = signal.getsignal(signal.SIGUSR1)
            info["usr1_handler"] = f"{type(h).__module__}.{type(h).__qualname__}"
            (out / f"started_{cfg.x}_{restart}.json").write_text(json.dumps(info))

    trainer = pl.Trainer(default_root_dir=run_dir, max_epochs=1, accelerator="cpu", devices=1,
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(Tiny(), DataLoader(TensorDataset(torch.randn(cfg.steps, 4)), batch_size=1))
    info["end_step"] = trainer.global_step
    info["run_dir_files"] = sorted(os.listdir(run_dir))
    (out / f"done_{cfg.x}.json").write_text(json.dumps(info))
    return info

if __name__ == "__main__":
    main()
"""


def write_app(tmp_path: Path, app: str = APP) -> Path:
    (tmp_path / "conf").mkdir(parents=True, exist_ok=True)
    (tmp_path / "conf" / "config.yaml").write_text(APP_CONFIG)
    (tmp_path / "app.py").write_text(app)
    return tmp_path / "app.py"


def app_command(app: Path, *overrides: str) -> list[str]:
    tmp = app.parent
    return [sys.executable, str(app), "--multirun",
            f"hydra.sweep.dir={tmp / 'multirun'}", f"out_dir={tmp / 'out'}", *overrides]


def run_app(app: Path, *overrides: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    r = run(app_command(app, *overrides), timeout=timeout,
            env=clean_env({"HYDRA_FULL_ERROR": "1", "PYTHONUNBUFFERED": "1"}))
    assert r.returncode == 0, f"app failed (rc={r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}\n{job_logs(app.parent)}"
    return r


def job_logs(tmp: Path, limit: int = 3000) -> str:
    logs = sorted((tmp / "multirun" / ".submitit").glob("*/*_log.*"))
    return "\n".join(f"--- {p}\n{p.read_text()[-limit:]}" for p in logs)


def records(tmp: Path, xs: list[int]) -> dict[int, dict]:
    out = {}
    for x in xs:
        f = tmp / "out" / f"job_{x}.json"
        assert f.exists(), f"job x={x} wrote nothing\n{job_logs(tmp)}"
        out[x] = json.loads(f.read_text())
    return out


def cpu_small_overrides() -> list[str]:
    """cpu_small asks for partition `debug` (the project's local cluster); elsewhere use the default."""
    if "debug" in partitions():
        return []
    return [f"resources.partition={default_partition()}"]


# ------------------------------------------------------------------ configs (no SLURM needed)


def test_resources_files_define_the_same_keys():
    loaded = {name: yaml.safe_load((CONF_DIR / "resources" / f"{name}.yaml").read_text()) for name in RESOURCES}
    assert {"cpu_small", "gpu_1"} <= set(loaded)
    keys = {name: set(cfg) for name, cfg in loaded.items()}
    reference = keys["cpu_small"]
    assert {"partition", "timeout_min", "cpus_per_task", "gpus_per_node", "mem_gb", "array_parallelism"} <= reference
    for name, k in keys.items():
        assert k == reference, f"resources/{name}.yaml keys differ from cpu_small: {k ^ reference}"
        first = (CONF_DIR / "resources" / f"{name}.yaml").read_text().splitlines()[:3]
        assert any(line.startswith("#") and "python -m itt.train" in line for line in first), first
    small = loaded["cpu_small"]
    assert (small["partition"], small["cpus_per_task"], small["mem_gb"], small["timeout_min"],
            small["gpus_per_node"]) == ("debug", 1, 2, 10, 0)
    assert (loaded["gpu_1"]["gpus_per_node"], loaded["gpu_1"]["cpus_per_task"],
            loaded["gpu_1"]["mem_gb"], loaded["gpu_1"]["timeout_min"]) == (1, 8, 32, 240)


@pytest.mark.parametrize("resources", RESOURCES)
@pytest.mark.parametrize("launcher", ["slurm", "local"])
def test_launcher_takes_resources_from_group(tmp_path, launcher, resources):
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    write_app(tmp_path)
    with initialize_config_dir(config_dir=str(tmp_path / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[f"hydra/launcher={launcher}", f"resources={resources}"],
                      return_hydra_config=True)
    res = OmegaConf.to_container(cfg.resources)
    lc = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    target = {"slurm": "SlurmLauncher", "local": "LocalLauncher"}[launcher]
    assert lc["_target_"] == f"hydra_plugins.hydra_submitit_launcher.submitit_launcher.{target}"
    for key in ("timeout_min", "cpus_per_task", "gpus_per_node", "mem_gb"):
        assert lc[key] == res[key], key
    assert lc["submitit_folder"] == f"{cfg.hydra.sweep.dir}/.submitit/%j"
    if launcher == "slurm":  # one process per device: what Lightning's SLURM environment expects
        assert (lc["nodes"], lc["tasks_per_node"]) == (res["nodes"], res["tasks_per_node"])
    else:  # the local executor runs one process per job; Lightning starts DDP's others itself
        assert (lc["nodes"], lc["tasks_per_node"]) == (1, 1)
    if launcher == "slurm":
        for key in ("partition", "array_parallelism", "account", "qos", "constraint"):
            assert lc[key] == res[key], key
        # Lightning's default requeue signal; submitit keeps its own handler on USR2
        assert lc["additional_parameters"] == {"signal": f"USR1@{lc['signal_delay_s']}", "requeue": True}
        assert lc["max_num_timeout"] == 0
        assert res["timeout_min"] * 60 > 2 * lc["signal_delay_s"]
        assert f"export OMP_NUM_THREADS={res['cpus_per_task']}" in lc["setup"]
    else:
        assert "partition" not in lc and "setup" not in lc


# ------------------------------------------------------------------ the cluster itself


@pytest.mark.slurm
def test_cluster_runs_jobs_and_keeps_accounts(slurm_cluster, slurm_queue_empty, tmp_path):
    states = run(["sinfo", "-h", "-o", "%T"]).stdout.split()
    assert any(s in ("idle", "mixed") for s in states), states

    r = run(["srun", "-n1", "-c1", "--mem=100M", "-t", "1", "bash", "-c", "echo $SLURM_JOB_ID $(hostname)"], timeout=60)
    assert r.returncode == 0, r.stderr
    srun_job = r.stdout.split()[0]

    out = tmp_path / "wrap-%j.out"
    r = run(["sbatch", "--parsable", "-c1", "--mem=100M", "-t", "1", "-o", str(out),
             "--wrap", "echo hello from $SLURM_JOB_ID"], timeout=60)
    assert r.returncode == 0, r.stderr
    batch_job = r.stdout.strip().split(";")[0]

    for job in (srun_job, batch_job):
        (row,) = wait_sacct_final(job, 1, timeout=60)
        assert row["State"] == "COMPLETED" and row["ExitCode"] == "0:0", row
    assert (tmp_path / f"wrap-{batch_job}.out").read_text().strip() == f"hello from {batch_job}"


# ------------------------------------------------------------------ Hydra sweeps


@pytest.mark.slurm
def test_multirun_on_slurm_is_one_array_job(slurm_cluster, slurm_queue_empty, tmp_path):
    app = write_app(tmp_path)
    run_app(app, "x=1,2", *cpu_small_overrides())
    recs = records(tmp_path, [1, 2])

    for x, rec in recs.items():
        env = rec["env"]
        assert rec["submitit_cluster"] == "slurm" and env["SUBMITIT_EXECUTOR"] == "slurm", rec
        assert rec["launcher_target"].endswith(".SlurmLauncher")
        assert env.get("SLURM_JOB_ID"), f"x={x} did not run under SLURM: {env}"
        # what resources=cpu_small asked for
        assert env["SLURM_CPUS_PER_TASK"] == "1" and env["SLURM_MEM_PER_NODE"] == "2048", env
        assert env["SLURM_JOB_PARTITION"] == rec["resources"]["partition"]
        assert env["OMP_NUM_THREADS"] == "1"  # from the launcher's setup lines
    # both sweep points are tasks of one array job
    array_ids = {rec["env"]["SLURM_ARRAY_JOB_ID"] for rec in recs.values()}
    assert len(array_ids) == 1, array_ids
    assert {rec["env"]["SLURM_ARRAY_TASK_ID"] for rec in recs.values()} == {"0", "1"}
    (array_id,) = array_ids

    # the scheduler saw the requested limits; both tasks completed
    rows = wait_sacct_final(array_id, 2, timeout=60)
    assert sorted(r["JobID"] for r in rows) == [f"{array_id}_0", f"{array_id}_1"]
    for r in rows:
        assert (r["State"], r["AllocCPUS"], r["Timelimit"]) == ("COMPLETED", "1", "00:10:00"), r
        assert r["ReqMem"] in ("2G", "2048M", "2Gn"), r

    # the sbatch script asks SLURM for Lightning's requeue signal and allows requeueing
    (script,) = (tmp_path / "multirun" / ".submitit").glob("*/*_submission.sh")
    text = script.read_text()
    assert "#SBATCH --signal=USR1@120" in text and "#SBATCH --requeue" in text, text
    assert "#SBATCH --array=0-1%" in text


def test_local_launcher_never_submits_to_slurm(tmp_path):
    """hydra/launcher=local runs the jobs here even when srun/sbatch are on PATH."""
    have_slurm = slurm_available()
    before = next_job_id() if have_slurm else None
    app = write_app(tmp_path)
    t0 = time.monotonic()
    run_app(app, "x=1,2", "hydra/launcher=local")
    recs = records(tmp_path, [1, 2])
    for rec in recs.values():
        env = rec["env"]
        assert rec["launcher_target"].endswith(".LocalLauncher")
        assert rec["submitit_cluster"] == "local" and env["SUBMITIT_EXECUTOR"] == "local", rec
        assert not any(k.startswith("SLURM_") for k in env), env
        assert env["CUDA_VISIBLE_DEVICES"] == ""  # gpus_per_node: 0 in cpu_small
    assert time.monotonic() - t0 < 120
    if have_slurm:
        assert next_job_id() == before, "the local launcher submitted a SLURM job"
        assert not squeue_jobs()


# ------------------------------------------------------------------ Lightning auto-requeue


@pytest.mark.slurm
@pytest.mark.slow
def test_lightning_requeue_on_usr1(slurm_cluster, slurm_queue_empty, tmp_path):
    """USR1 (what the slurm launcher asks SLURM to send before the time limit) reaches Lightning's
    handler inside the submitit job: it saves an hpc checkpoint and requeues; the requeued job
    resumes from that checkpoint and the sweep's Hydra process gets the second run's result."""
    app = write_app(tmp_path, LIGHTNING_APP)
    out = tmp_path / "out"
    proc = subprocess.Popen(app_command(app, "x=1", *cpu_small_overrides()), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env=clean_env({"HYDRA_FULL_ERROR": "1"}))
    job = None
    try:
        first = out / "started_1_0.json"
        assert wait_for(lambda: first.exists() or proc.poll() is not None, 180), "training never started"
        assert first.exists(), f"app ended before training:\n{proc.communicate()[0][-4000:]}\n{job_logs(tmp_path)}"
        info0 = json.loads(first.read_text())
        job = info0["job"]
        assert info0["cluster_env"] == "SLURMEnvironment", info0
        # Lightning's handler owns USR1 (submitit's is on USR2)
        assert "lightning" in info0["usr1_handler"], info0

        time.sleep(2)  # let a few steps pass, so the checkpoint is visibly mid-epoch
        # what SLURM does signal_delay_s before the time limit, without waiting for it
        r = run(["scancel", "--signal=USR1", job])
        assert r.returncode == 0, r.stderr

        def finished() -> bool:
            hurry_requeued()  # a requeued job would otherwise wait ~2 min (BeginTime)
            return proc.poll() is not None

        assert wait_for(finished, 240, interval=1.0), "sweep did not finish after the requeue"
        log = proc.communicate()[0]
        assert proc.returncode == 0, f"{log[-4000:]}\n{job_logs(tmp_path)}"
    finally:
        if proc.poll() is None:  # failed or timed out: do not leave the job behind
            proc.kill()
            proc.wait()
            if job is not None:
                run(["scancel", job.split("_")[0]])

    done = json.loads((out / "done_1.json").read_text())
    assert done["restart"] == 1 and done["job"] == job, done
    assert 0 < done["start_step"] < done["end_step"] == 150, done  # resumed mid-epoch from the checkpoint
    assert "hpc_ckpt_1.ckpt" in done["run_dir_files"], done
    (row,) = wait_sacct_final(job, 1, timeout=60)
    assert row["State"] == "COMPLETED", row
