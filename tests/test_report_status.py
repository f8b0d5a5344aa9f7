"""``python -m itt.report --status``: ledger states and what a sweep still owes."""

from __future__ import annotations

import fcntl
import os

import pytest
from report_ledger import base_row, target_row, write_ledger

from itt.report import load_ledger
from itt.report.__main__ import main
from itt.report.status import ledger_status, lock_held, sweep_status


def make_job(sweep, run_id, overrides):
    hydra = sweep / run_id / ".hydra"
    hydra.mkdir(parents=True)
    (hydra / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))


@pytest.fixture
def root(tmp_path):
    ok = target_row("done", value=0.8)
    rows = [
        ok,
        base_row("flaky", status="failed", error="CUDA out of memory", value=None),
        target_row("flaky", value=0.7),                       # failed, then succeeded: ok
        base_row("broken", status="failed", error="NaN loss at step 12", value=None),
        {**target_row("elsewhere", value=0.9), "status": "cached"},  # ok row in another ledger
    ]
    write_ledger(tmp_path, rows)
    sweep = tmp_path / "sweeps" / "2025-01-01_10-00-00-abc123"
    for i, run_id in enumerate(["done", "broken", "live", "killed", "preempted", "fresh"]):
        make_job(sweep, run_id, ["model=xlmr", "task=xnli", "+stage=target", f"seed={i}",
                                 "task.evals.de.path=some path"])
    (tmp_path / "locks").mkdir()
    (tmp_path / "locks" / "live.lock").touch()
    (tmp_path / "locks" / "fresh.lock").touch()  # a lock file nobody holds
    (tmp_path / "runs" / "killed" / "checkpoints").mkdir(parents=True)
    (tmp_path / "runs" / "killed" / "checkpoints" / "last.ckpt").write_bytes(b"x")
    (tmp_path / "runs" / "preempted").mkdir(parents=True)
    (tmp_path / "runs" / "preempted" / "hpc_ckpt_3.ckpt").write_bytes(b"x")
    return tmp_path


@pytest.fixture
def held_lock(root):
    fd = os.open(root / "locks" / "live.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another open file: conflicts with the report's attempt
    yield
    os.close(fd)


def test_ledger_status(root):
    states = ledger_status(load_ledger(root / "results.jsonl")).set_index("run_id")
    assert states["state"].to_dict() == {"done": "ok", "flaky": "ok", "broken": "failed",
                                        "elsewhere": "cached only"}
    assert states.loc["broken", "error"] == "NaN loss at step 12"


def test_sweep_status(root, held_lock):
    sweep = root / "sweeps" / "2025-01-01_10-00-00-abc123"
    jobs = sweep_status(root, sweep, load_ledger(root / "results.jsonl")).set_index("run_id")
    assert jobs["state"].to_dict() == {"broken": "failed", "done": "done", "fresh": "not started",
                                       "killed": "resumable", "live": "running",
                                       "preempted": "resumable"}
    assert jobs.loc["killed", "detail"].endswith("runs/killed/checkpoints/last.ckpt")
    assert jobs.loc["preempted", "detail"].endswith("hpc_ckpt_3.ckpt")
    assert jobs.loc["broken", "detail"] == "NaN loss at step 12"
    assert jobs.loc["fresh", "rerun"] == ("python -m itt.train model=xlmr task=xnli +stage=target "
                                          "seed=5 'task.evals.de.path=some path'")
    assert jobs.loc["live", "rerun"] == jobs.loc["done", "rerun"] == ""
    # the check took and released the free lock at once; the held one is still ours
    assert not lock_held(root / "locks" / "fresh.lock")
    assert lock_held(root / "locks" / "live.lock")


def test_status_cli(root, held_lock, capsys):
    assert main([f"paths.root={root}", "--status"]) == 0  # newest sweep under the root
    out = capsys.readouterr().out
    assert "ledger: 4 run(s): 2 ok, 1 failed, 1 cached only" in out
    assert "failed broken: NaN loss at step 12" in out
    assert "6 job(s): 1 done, 1 running, 2 resumable, 1 failed, 1 not started" in out
    assert "rerun: python -m itt.train model=xlmr task=xnli +stage=target seed=3" in out
    assert not (root / "report").exists()  # status only: no report written


def test_status_without_ledger_or_sweep(tmp_path, capsys):
    assert main(["status=true", f"paths.root={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert f"ledger: none at {tmp_path / 'results.jsonl'}" in out and "sweep: none found" in out


def test_a_sweep_s_jobs_not_reached_yet_are_not_started_and_reruns_keep_the_config_dir(tmp_path, capsys):
    # Hydra's basic launcher makes a job's folder when the job starts: a 4-job sweep in its second job has
    # 2 folders, and --status counted "2 job(s) ... 0 not started". And a sweep launched with --config-dir
    # (a task config of one's own) printed rerun commands without it, which do not compose.
    conf = tmp_path / "conf"
    (conf / "task").mkdir(parents=True)
    (conf / "task" / "my_sentiment.yaml").write_text("defaults: [sentiment, _self_]\nname: my_sentiment\n")
    sources = f"    config_sources:\n    - path: {conf}\n      schema: file\n      provider: command-line\n"
    sweep = tmp_path / "sweeps" / "2025-01-01_10-00-00-abc123"
    sweep.mkdir(parents=True)
    command = ["model=bert", "task=my_sentiment", "+stage=target", "stage.itt=false,true", "seed=0,1", "source=embedded"]
    (sweep / "multirun.yaml").write_text("hydra:\n  overrides:\n    task:\n" + "".join(f"    - {o}\n" for o in command)
                                         + "  runtime:\n" + sources)
    first = ["model=bert", "task=my_sentiment", "+stage=target", "stage.itt=False", "seed=0", "source=embedded"]
    make_job(sweep, "bert-my_sentiment-killed", first)
    (sweep / "bert-my_sentiment-killed" / ".hydra" / "hydra.yaml").write_text("hydra:\n  runtime:\n" + sources)
    write_ledger(tmp_path, [target_row("done", value=0.8)])

    jobs = sweep_status(tmp_path, sweep, load_ledger(tmp_path / "results.jsonl"))
    assert jobs["run_id"].tolist() == ["bert-my_sentiment-killed", "job 2 of 4", "job 3 of 4", "job 4 of 4"]
    assert set(jobs["state"]) == {"not started"}
    assert jobs["rerun"].iloc[0] == f"python -m itt.train --config-dir {conf} {' '.join(first)}"
    assert jobs["rerun"].iloc[3] == (f"python -m itt.train --config-dir {conf} model=bert task=my_sentiment +stage=target "
                                     "stage.itt=True seed=1 source=embedded")
    assert main([f"paths.root={tmp_path}", "--status"]) == 0
    assert "4 job(s): 0 done, 0 running, 0 resumable, 0 failed, 4 not started" in capsys.readouterr().out


def test_jobs_naming_one_run_share_its_folder_and_its_state(tmp_path, capsys):
    # A sweep over intermediate.steps names its no-ITT target once per steps value: the jobs share one folder
    # (named by the run id), which keeps the overrides of the last of them. --status matched the others by
    # overrides only and listed them "not started (no folder yet)" with rerun commands, after the sweep was done.
    from itt import plan  # noqa: PLC0415

    sweep = tmp_path / "sweeps" / "2025-01-01_10-00-00-abc123"
    sweep.mkdir(parents=True)
    command = ["model=bert", "task=sentiment", "+stage=target", "stage.target=domain", "stage.itt=false", "source=embedded",
               f"paths.root={tmp_path}", "intermediate.steps=[intermediate],[crosslingual]"]
    (sweep / "multirun.yaml").write_text("hydra:\n  overrides:\n    task:\n" + "".join(f"    - '{o}'\n" for o in command))
    (target,), _ = plan.plan(command)  # both jobs name one run
    make_job(sweep, target.run_id, plan.sweep_points(command)[-1])  # the folder keeps the last job's overrides
    write_ledger(tmp_path, [target_row(target.run_id, value=0.8)])

    jobs = sweep_status(tmp_path, sweep, load_ledger(tmp_path / "results.jsonl"))
    assert jobs["state"].tolist() == ["done", "done"] and set(jobs["run_id"]) == {target.run_id}
    assert main([f"paths.root={tmp_path}", "--status"]) == 0
    assert "2 job(s): 2 done, 0 running, 0 resumable, 0 failed, 0 not started" in capsys.readouterr().out
