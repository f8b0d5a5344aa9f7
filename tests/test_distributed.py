"""Data-parallel training: two CPU processes (gloo) train the same global batches as one process and
end with the same weights (within float reduction order), and a GPU DDP preset composes with
Lightning's SLURM environment."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import read_ledger, run_itt
from hydra import compose, initialize_config_dir
from safetensors.torch import load_file

from itt.train import CONF_DIR

# Dropout off: with it on, each process draws its own masks (as one process would for its whole
# batch), so the two runs differ by sampling, not by error; everything else must agree.
RUN = ("model=bert", "task=sentiment", "+stage=target", "stage.itt=false", "source=embedded", "logger=csv",
       "trainer.max_epochs=2", "trainer.precision=32-true", "task.datasets.domain.embedded_rows=240",
       "data.batch_size=16", "+model.embedded.config.hidden_dropout_prob=0",
       "+model.embedded.config.attention_probs_dropout_prob=0")


def _weights(root: Path) -> dict:
    (row,) = [r for r in read_ledger(root) if r["status"] == "ok"]
    return row, load_file(Path(row["checkpoint"]) / "model.safetensors")


@pytest.mark.slow
def test_two_cpu_processes_train_like_one_with_the_same_global_batch(tmp_path):
    one = run_itt(*RUN, root=tmp_path / "one")
    two = run_itt(*RUN, "trainer.devices=2", "trainer.strategy=ddp", "trainer.accelerator=cpu", root=tmp_path / "two",
                  timeout=600)
    assert one.returncode == 0 and two.returncode == 0, (one.stderr + two.stderr)[-3000:]
    row_one, a = _weights(tmp_path / "one")
    row_two, b = _weights(tmp_path / "two")
    assert row_one["run_id"] != row_two["run_id"]  # other numerics (reduction order, per-process masks): another run
    assert row_two["data_sizes"] == row_one["data_sizes"] and row_two["n_test"] == row_one["n_test"]
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    assert worst < 1e-4, worst  # measured: 1.8e-6 after 22 steps
    for key in ("val/acc", "test/acc"):  # the evaluators gathered every process's items
        assert row_two["metrics"][key] == pytest.approx(row_one["metrics"][key], abs=1e-6)


def test_a_four_gpu_slurm_preset_gives_one_process_per_device():
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["+stage=target", "resources=gpu_4", "hydra/launcher=slurm",
                                          "resources.nodes=2"], return_hydra_config=True)
    assert cfg.trainer.devices == cfg.resources.tasks_per_node == cfg.resources.gpus_per_node == 4
    assert cfg.trainer.num_nodes == cfg.resources.nodes == 2
    assert cfg.hydra.launcher.tasks_per_node == 4 and cfg.hydra.launcher.nodes == 2
