"""Data-parallel training: two CPU processes (gloo) train the same global batches as one process and
end with the same weights (within float reduction order), a whole 2-process run killed in the middle of
its second epoch resumes to an uninterrupted one's weights, and a GPU DDP preset composes with
Lightning's SLURM environment."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from pathlib import Path

import pytest
import torch
from conftest import read_ledger, run_itt, start_itt, stop_group, wait_for_checkpoint
from filelock import FileLock
from hydra import compose, initialize_config_dir
from safetensors.torch import load_file

from itt.pipeline import lock_path
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


# A mixture of two label spaces (3-way NLI + STS-B regression): each batch trains one head, so the other
# head's weights take no part in that step's loss.
MIXTURE_RUN = ("model=bert", "task=pawsx_multitask", "+stage=intermediate", "source=embedded", "logger=csv",
               "intermediate.steps=[[mnli,stsb]]", "task.datasets.mnli.embedded_rows=120",
               "task.datasets.stsb.embedded_rows=120", "trainer.max_epochs=1", "trainer.precision=32-true",
               "data.batch_size=8", "+model.embedded.config.hidden_dropout_prob=0",
               "+model.embedded.config.attention_probs_dropout_prob=0")


@pytest.mark.slow
def test_a_mixture_over_two_label_spaces_trains_under_ddp_like_one_process(tmp_path):
    """DDP's default reducer waits for a gradient of every parameter; a batch of one member leaves the other
    head without one, so the second step failed ("parameters that were not used in producing the loss")."""
    one = run_itt(*MIXTURE_RUN, root=tmp_path / "one")
    two = run_itt(*MIXTURE_RUN, "trainer.devices=2", "trainer.strategy=ddp", "trainer.accelerator=cpu",
                  root=tmp_path / "two", timeout=600)
    assert one.returncode == 0 and two.returncode == 0, (one.stderr + two.stderr)[-3000:]
    row_one, a = _weights(tmp_path / "one")
    row_two, b = _weights(tmp_path / "two")
    heads = [load_file(Path(row["checkpoint"]) / "heads" / "stsb" / "head.safetensors") for row in (row_one, row_two)]
    assert heads[0].keys() == heads[1].keys() and heads[0]
    worst = max([(a[k] - b[k]).abs().max().item() for k in a] + [(heads[0][k] - heads[1][k]).abs().max().item()
                                                                 for k in heads[0]])
    assert worst < 1e-4, worst  # the same global batches of the same members, through the same heads
    for key in ("val/mnli/acc", "val/stsb/spearman"):
        assert row_two["metrics"][key] == pytest.approx(row_one["metrics"][key], abs=1e-4)


DDP = ("trainer.devices=2", "trainer.strategy=ddp", "trainer.accelerator=cpu")
# Dropout on: each process must resume its own masks. 168 training rows in global batches of 16: 11
# steps an epoch, 22 in all; last.ckpt every 2 steps, so the last one is step 22 (weights + AdamW state).
# Early stopping on (patience 3: it never stops 2 epochs) so that its state must survive the resume too.
KILLED_RUN = (*(o for o in RUN if not o.startswith("+model.embedded.config.")), *DDP,
              "checkpoint_every_n_steps=2", "keep_checkpoints=true", "optim.early_stopping_patience=3")
STEPS_PER_EPOCH, STEPS = 11, 22
# Killed in the second epoch, after epoch 0's validation wrote best.ckpt: the first last.ckpt of step >= 14
# (epoch 1, 3 batches in), so the resume must also bring back the sampler's epoch (epoch 1's order), the
# best-checkpoint tracking, the LR schedule and each process's random streams after an epoch boundary.
KILL_AFTER_STEP = STEPS_PER_EPOCH + 3


def _group_gone(pgid: int, timeout: float = 30) -> bool:
    """No process of group ``pgid`` runs any more (Linux: /proc). A zombie counts as gone: the killed DDP
    process is reparented, and its new parent (e.g. a container's init) may be slow to reap it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                state, _, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
                if int(group) == pgid and state not in "ZX":
                    running.append(stat.parent.name)
        if not running:
            return True
        time.sleep(0.05)
    return False


def _best(ckpt: dict) -> dict:
    """The best-validation tracking (the monitored ModelCheckpoint's state), paths relative to the run."""
    (state,) = [v for k, v in ckpt["callbacks"].items() if k.startswith("ModelCheckpoint{'monitor': 'val/")]
    return {"score": state["best_model_score"], "file": Path(state["best_model_path"]).name,
            "top": {Path(p).name: v for p, v in state["best_k_models"].items()}}


def _tensors(obj, prefix=""):
    """Every tensor in a nested checkpoint structure, by path."""
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _tensors(v, f"{prefix}/{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _tensors(v, f"{prefix}/{i}")


@pytest.mark.slow
def test_a_ddp_run_killed_mid_epoch_resumes_to_the_same_weights_bit_for_bit(tmp_path):
    """Two processes, dropout on: the whole run (launcher and its DDP process) is SIGKILLed right after a
    last.ckpt in the middle of the second epoch, the same command runs again and resumes; each process
    continues its own random streams from the shared sampler position (epoch 1's order), the best
    checkpoint of epoch 0's validation is still the one to beat, so the run ends with an uninterrupted
    run's weights, AdamW and LR-schedule state, best-checkpoint choice and ledger metrics, to the last bit
    (CPU, gloo), and one ok ledger row."""
    whole_root, root = tmp_path / "whole", tmp_path / "killed"
    whole = run_itt(*KILLED_RUN, root=whole_root, timeout=300)
    assert whole.returncode == 0, (whole.stdout + whole.stderr)[-3000:]

    proc = start_itt(*KILLED_RUN, root=root, log_file=tmp_path / "first.log", new_session=True)
    try:
        wait_for_checkpoint(proc, root, tmp_path / "first.log", poll=0.01, min_step=KILL_AFTER_STEP)
        os.killpg(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        assert _group_gone(proc.pid), "a DDP process survived the kill"
    finally:
        stop_group(proc)
    assert read_ledger(root) == []
    (ckpt,) = root.glob("runs/*/checkpoints/last.ckpt")
    run_id = ckpt.parent.parent.name
    killed = torch.load(ckpt, map_location="cpu", weights_only=True)
    (position,) = killed["loops"]["fit_loop"]["state_dict"]["combined_loader"]
    step = killed["global_step"]
    assert STEPS_PER_EPOCH < step < STEPS and step % STEPS_PER_EPOCH, step
    assert killed["epoch"] == position["epoch"] == 1  # in the second epoch,
    assert 0 < position["batches_done"] < STEPS_PER_EPOCH  # mid-epoch
    assert _best(killed)["file"] == "best.ckpt" and _best(killed)["score"] is not None  # after epoch 0's validation
    assert len(killed["itt_rng"]["ranks"]) == 2
    lock = FileLock(str(lock_path(root, run_id)))
    lock.acquire(timeout=0)  # the kernel freed the killed run's lock
    lock.release()

    rerun = run_itt(*KILLED_RUN, root=root, timeout=300)
    log = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, log[-3000:]
    resumed = re.findall(rf"resuming {re.escape(run_id)} from (\S+) \(step (\d+)\)", log)
    assert resumed == [(str(ckpt), str(killed["global_step"]))], log[-3000:]
    rows = read_ledger(root)
    assert [(r["run_id"], r["status"]) for r in rows] == [(run_id, "ok")]
    assert rows[0]["resumed_from_step"] == killed["global_step"]

    (whole_row,) = read_ledger(whole_root)
    assert whole_row["run_id"] == run_id and whole_row["status"] == "ok"
    assert rows[0]["metrics"] == whole_row["metrics"]
    _, expected = _weights(whole_root)  # model/: the best epoch's weights
    _, got = _weights(root)
    assert expected.keys() == got.keys()
    assert not [k for k in expected if not torch.equal(expected[k], got[k])]
    ends = [torch.load(r / "runs" / run_id / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
            for r in (whole_root, root)]
    assert ends[0]["global_step"] == ends[1]["global_step"] == STEPS
    assert ends[0]["lr_schedulers"] == ends[1]["lr_schedulers"]
    # The same best-checkpoint choice. Epoch 0 is the best epoch of the uninterrupted run (a tie in epoch 1
    # keeps it), so a resume that forgot epoch 0's score would take epoch 1 instead.
    assert _best(ends[0]) == _best(ends[1])
    stopping = [{k: v for k, v in end["callbacks"].items() if k.startswith("EarlyStopping")} for end in ends]
    assert stopping[0] == stopping[1] and len(stopping[0]) == 1, stopping
    bests = [torch.load(r / "runs" / run_id / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
             for r in (whole_root, root)]
    assert bests[0]["global_step"] == bests[1]["global_step"] == STEPS_PER_EPOCH
    expected, got = (best["state_dict"] for best in bests)
    assert not [k for k in expected if not torch.equal(expected[k], got[k])]
    expected, got = ({k: v for part in ("state_dict", "optimizer_states") for k, v in _tensors(end[part], part)}
                     for end in ends)
    assert expected.keys() == got.keys()
    different = [k for k in expected if not torch.equal(expected[k], got[k])]
    assert not different, different[:5]


def test_a_four_gpu_slurm_preset_gives_one_process_per_device():
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["+stage=target", "resources=gpu_4", "hydra/launcher=slurm",
                                          "resources.nodes=2"], return_hydra_config=True)
    assert cfg.trainer.devices == cfg.resources.tasks_per_node == cfg.resources.gpus_per_node == 4
    assert cfg.trainer.num_nodes == cfg.resources.nodes == 2
    assert cfg.hydra.launcher.tasks_per_node == 4 and cfg.hydra.launcher.nodes == 2


def _save_then_resume_rng(rank: int, folder: str, port: int) -> None:
    """One process of a 2-process gloo group: save its streams into the shared checkpoint, scramble them,
    resume from the file, and write what it draws before and after."""
    import os
    import random
    from types import SimpleNamespace

    import numpy as np

    from itt.trainer import RNGState

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=2)
    trainer = SimpleNamespace(world_size=2, global_rank=rank)
    torch.manual_seed(100 + rank), np.random.seed(rank), random.seed(rank)
    checkpoint = {}
    RNGState().on_save_checkpoint(trainer, None, checkpoint)
    before = [*torch.rand(4).tolist(), float(np.random.rand()), random.random()]
    if rank == 0:  # as Lightning's strategy does: every process builds the dict, process 0 writes it
        torch.save(checkpoint, Path(folder) / "last.ckpt")
    torch.distributed.barrier()
    torch.manual_seed(7), np.random.seed(7), random.seed(7)
    RNGState().on_load_checkpoint(trainer, None, torch.load(Path(folder) / "last.ckpt", weights_only=True))
    after = [*torch.rand(4).tolist(), float(np.random.rand()), random.random()]
    (Path(folder) / f"rank{rank}.txt").write_text(repr((before, after)))
    torch.distributed.destroy_process_group()


def test_each_ddp_process_resumes_its_own_random_streams(tmp_path, caplog):
    """The checkpoint keeps every process's streams (gathered over a real gloo group), each process
    resumes its own: the masks after a resume are those an uninterrupted run would draw, and the two
    processes do not start drawing the same masks."""
    import ast
    import socket
    from types import SimpleNamespace

    import torch.multiprocessing as mp

    from itt.trainer import RNGState

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_save_then_resume_rng, args=(str(tmp_path), port), nprocs=2, join=True)
    draws = [ast.literal_eval((tmp_path / f"rank{r}.txt").read_text()) for r in (0, 1)]
    for before, after in draws:
        assert after == before
    assert draws[0][0] != draws[1][0]
    saved = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert len(saved["itt_rng"]["ranks"]) == 2
    # resumed with another number of processes: the streams are left alone, with a warning
    torch.manual_seed(3)
    expected = torch.rand(2)
    torch.manual_seed(3)
    RNGState().on_load_checkpoint(SimpleNamespace(world_size=1, global_rank=0), None, saved)
    assert torch.equal(torch.rand(2), expected)
    assert "random state of 2 process(es), this run has 1" in caplog.text


def _items_of_every_process(rank: int, folder: str, port: int) -> None:
    """One process of a 2-process gloo group: score its half of 4 evaluation rows (rows rank and rank + 2,
    as the evaluation loaders shard them) with each evaluator, then write how many items ``items()`` gives."""
    import json
    import os
    from types import SimpleNamespace

    from itt.tasks.retrieval import Embeddings, RetrievalMetric
    from itt.tasks.sequence_classification import ClassificationMetric
    from itt.tasks.token_classification import TagMetric

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=2)
    idx = torch.tensor([rank, rank + 2])
    tags = TagMetric(["O", "B-PER", "I-PER"], None, spans=True)
    labels = torch.tensor([[-100, 1, 2], [-100, 0, 1]])
    tags.update(SimpleNamespace(logits=torch.nn.functional.one_hot(labels.clamp(min=0), 3).float()),
                {"labels": labels, "idx": idx})
    retrieval = RetrievalMetric()
    retrieval.update(Embeddings(torch.eye(4)[idx], torch.eye(4)[idx]), {"idx": idx})
    classes = ClassificationMetric(3)
    classes.update(SimpleNamespace(logits=torch.eye(3)[[0, 1]]), {"labels": torch.tensor([0, 1]), "idx": idx})
    counts = {}
    for name, metric in (("tags", tags), ("retrieval", retrieval), ("classes", classes)):
        metric.compute()  # as ITTModule._log_metrics: compute (synced, then unsynced), then items()
        counts[name] = len(metric.items())
    (Path(folder) / f"rank{rank}.json").write_text(json.dumps(counts))
    torch.distributed.destroy_process_group()


def test_every_evaluator_saves_every_process_items_under_ddp(tmp_path):
    """Process 0 writes the prediction files the report's bootstrap resamples: under DDP they must hold the
    items of every process, for every kind (token classification and retrieval kept only their own half)."""
    import json
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_items_of_every_process, args=(str(tmp_path), port), nprocs=2, join=True)
    for rank in (0, 1):
        assert json.loads((tmp_path / f"rank{rank}.json").read_text()) == {"tags": 4, "retrieval": 4, "classes": 4}


def test_an_eval_split_smaller_than_the_processes_stops_before_training_in_one_line(tmp_path):
    """Each process evaluates every second row: a split of one row leaves a process none, which Lightning refuses
    only after the training ("within local rank has zero length"). itt says it first, naming the set."""
    small = tuple(a for a in RUN if not a.startswith("task.datasets.domain.embedded_rows")) + (
        "task.datasets.domain.embedded_rows=8",)
    result = run_itt(*small, "trainer.devices=2", "trainer.strategy=ddp", "trainer.accelerator=cpu", root=tmp_path,
                     timeout=300)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.count("task.datasets.domain") == 1 and "for the 2 processes" in last, result.stderr[-2000:]
    assert [r["status"] for r in read_ledger(tmp_path)] == ["failed"]  # the run's row says why
    assert "Epoch 0" not in result.stderr and not list(tmp_path.rglob("*.ckpt"))  # nothing trained
