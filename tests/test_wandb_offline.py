"""W&B without an API key: an ordinary offline run that names, groups and tags the comparison."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir

from itt import logger, pipeline
from itt.train import CONF_DIR
from wandb_records import summarize


@pytest.mark.slow
def test_offline_wandb_run_holds_config_history_and_test_summary(tmp_path, monkeypatch):
    for var in ("WANDB_API_KEY", "WANDB_MODE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc: no key anywhere
    logger.wandb_offline.cache_clear()
    assert logger.wandb_offline() is True
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[
            "model=bert", "task=sentiment", "+stage=target", "stage.itt=false", "source=embedded", "logger=wandb",
            "trainer.max_epochs=2", "task.datasets.domain.embedded_rows=100", f"paths.root={tmp_path}"])
    row = pipeline.run(cfg)
    files = list((tmp_path / "runs" / row["run_id"] / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 1
    run = summarize(files[0])
    assert run["run"]["name"] == row["run_id"] and run["run"]["id"] == logger.wandb_id(row["run_id"])
    assert run["run"]["group"] == "sentiment/domain" and run["run"]["job_type"] == "target"
    assert {"bert", "sentiment", "no-itt", "seed0", "domain"} <= set(run["run"]["tags"])
    assert run["config"]["model"]["name"] == "bert" and run["config"]["stage"]["itt"] is False
    epochs = [h for h in run["history"] if "val/acc" in h]
    assert len(epochs) >= 2  # one validation row per epoch (plus the final validate of the best checkpoint)
    for key in ("test/acc", "test/f1_macro"):
        assert run["summary"][key] == pytest.approx(row["metrics"][key])
    # W&B's own tooling recognises it as a run to upload later
    sync = subprocess.run([sys.executable, "-m", "wandb", "sync", "--dry-run", str(files[0].parent)],
                          capture_output=True, text=True, timeout=120)
    assert "Would sync 1 run" in sync.stdout + sync.stderr


@pytest.mark.slow
@pytest.mark.parametrize("task, primary", [("ner", "f1"), ("copa", "acc"), ("qa", "f1")])
def test_every_task_kind_logs_its_own_metrics_to_wandb(tmp_path, monkeypatch, task, primary):
    """Token classification, multiple choice and extractive QA: W&B gets the keys the row has, with its values."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[
            f"task={task}", "model=bert", "+stage=target", "stage.itt=false", "stage.evals=[]", "source=embedded",
            "logger=wandb", "trainer.max_epochs=1", "task.datasets.domain.embedded_rows=80", f"paths.root={tmp_path}"])
    row = pipeline.run(cfg)
    assert row["status"] == "ok" and row["primary_metric"] == primary
    (file,) = (tmp_path / "runs" / row["run_id"] / "wandb").glob("offline-run-*/run-*.wandb")
    run = summarize(file)
    assert any(f"val/{primary}" in h for h in run["history"])
    tested = {k: v for k, v in row["metrics"].items() if k.startswith("test/")}
    assert f"test/{primary}" in tested
    for key, value in tested.items():
        assert run["summary"][key] == pytest.approx(value), key
