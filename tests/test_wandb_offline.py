"""W&B without an API key: an ordinary offline run that names, groups and tags the comparison."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir

from itt import identity, logger, pipeline
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
    assert run["run"]["group"] == logger.wandb_group(cfg) and run["run"]["job_type"] == "target"
    assert run["run"]["group"].startswith("sentiment/domain/bert/noitt/c")
    assert run["exit_code"] == 0 and run["summary"]["status"] == "ok" and "failed" not in run["run"]["tags"]
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


@pytest.mark.slow
def test_an_intermediate_pulled_by_a_target_logs_its_own_stage_and_wandb_identity(tmp_path, monkeypatch):
    """A target command trains its missing intermediate in the same process: that W&B run's config must say
    what the run is (stage intermediate, its own name/id/group/tags/job type, its own folder), as the same run
    made by ``+stage=intermediate`` logs it, not the target command's ``stage`` (a W&B filter on
    ``stage.itt=true`` or ``stage.name=target`` then picked up the intermediates too)."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    common = ["model=bert", "task=sentiment", "source=embedded", "logger=wandb", f"paths.root={tmp_path}"]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        target_cmd = compose("train", overrides=[*common, "+stage=target", "stage.itt=true"])
        intermediate_cmd = compose("train", overrides=[*common, "+stage=intermediate"])
    pulled, direct = identity.resolve(target_cmd).parent, identity.resolve(intermediate_cmd)
    run_id = identity.run_id(pulled)
    assert identity.run_id(direct) == run_id  # the same run, made by either command
    logged = {}
    for name, spec in (("pulled", pulled), ("direct", direct)):
        run_dir = tmp_path / name
        logger.finish(logger.build_loggers(spec, run_id, run_dir))
        (file,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
        logged[name] = summarize(file)["config"]
    config = logged["pulled"]
    assert config["stage"] == logged["direct"]["stage"] == {"name": "intermediate"}
    assert config["run"]["stage"] == "intermediate"
    wandb_node = config["logger"]["wandb"]
    assert (wandb_node["name"], wandb_node["id"]) == (run_id, logger.wandb_id(run_id))
    assert wandb_node["group"].startswith("sentiment/intermediate/bert/c") and wandb_node["job_type"] == "intermediate"
    assert "itt" not in wandb_node["tags"] and "intermediate" in wandb_node["tags"]
    assert config["logger"]["csv"]["save_dir"] == wandb_node["save_dir"] == str(tmp_path / "pulled")


@pytest.mark.slow
def test_a_failed_run_closes_failed_in_wandb_and_a_forced_rerun_is_a_wandb_run_of_its_own(tmp_path, monkeypatch):
    """A failed run closed with exit code 0 (W&B: "finished"), tagged as an ok one; a force=true rerun logged under
    the first training's id (online: appended to its curves; offline: a second run of one id that sync merges)."""
    from itt.errors import TrainingFailed

    monkeypatch.setenv("WANDB_MODE", "offline")
    common = ["model=bert", "task=sentiment", "+stage=target", "stage.itt=false", "source=embedded", "logger=wandb",
              "trainer.max_epochs=1", "task.datasets.domain.embedded_rows=60", f"paths.root={tmp_path}"]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        diverging = compose("train", overrides=[*common, "optim.lr=1e30", "trainer.precision=32-true",
                                                   "task.datasets.domain.embedded_rows=300"])
        first = compose("train", overrides=common)
        forced = compose("train", overrides=[*common, "force=true"])
    with pytest.raises(TrainingFailed):
        pipeline.run(diverging)
    (file,) = (tmp_path / "runs" / identity.run_id(diverging) / "wandb").glob("offline-run-*/run-*.wandb")
    failed = summarize(file)
    assert failed["exit_code"] == 1 and failed["summary"]["status"] == "failed" and "failed" in failed["run"]["tags"]

    row = pipeline.run(first)
    pipeline.run(forced)
    files = sorted((tmp_path / "runs" / row["run_id"] / "wandb").glob("offline-run-*/run-*.wandb"))
    ids = sorted(summarize(f)["run"]["id"] for f in files)
    assert ids == [logger.wandb_id(row["run_id"]), f"{logger.wandb_id(row['run_id'])}-r1"]
