"""Issue 5, point 4: a run killed with SIGKILL mid-training resumes from its last checkpoint when the
same command runs again, and ends with exactly one ok ledger row; checkpoints and ledger lines are
written atomically, so a kill at any moment leaves them readable."""

from __future__ import annotations

import json
import logging
import re
import signal
import time

import pytest
import torch
from conftest import OFFLINE, read_ledger

from itt import ledger
from itt.trainer import AtomicCheckpointIO, resume_point

RUN = ("model=bert", "task=sentiment", "+stage=intermediate", *OFFLINE, "trainer.precision=32-true",
       "task.datasets.intermediate.embedded_rows=300", "trainer.max_epochs=4",  # 7 steps per epoch
       "keep_checkpoints=true")  # the final last.ckpt shows where training ended


@pytest.mark.slow
def test_sigkill_mid_training_then_rerun_resumes_from_the_last_checkpoint(run_itt, start_itt, tmp_path):
    root = tmp_path / "root"
    proc = start_itt(*RUN, root=root, log_file=tmp_path / "first.log")
    try:
        deadline = time.monotonic() + 300
        while not list(root.glob("runs/*/checkpoints/last.ckpt")):
            assert proc.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    assert read_ledger(root) == []  # killed: nothing recorded
    (ckpt,) = root.glob("runs/*/checkpoints/last.ckpt")
    run_id = ckpt.parent.parent.name
    killed_at = torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"]  # readable after the kill
    assert killed_at > 0

    result = run_itt(*RUN, root=root, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    resumed = re.findall(rf"resuming {re.escape(run_id)} from (\S+) \(step (\d+)\)", result.stdout + result.stderr)
    assert len(resumed) == 1, (result.stdout + result.stderr)[-3000:]
    path, step = resumed[0][0], int(resumed[0][1])
    assert path.endswith("last.ckpt") and step >= killed_at > 0
    rows = [r for r in read_ledger(root) if r["run_id"] == run_id]
    assert [r["status"] for r in rows] == ["ok"]
    assert rows[0]["resumed_from_step"] == step
    # It continued: this process trained only the steps after the checkpoint, up to 4 epochs x 7 steps.
    assert torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"] == 4 * 7


def test_checkpoint_write_killed_midway_leaves_the_previous_one(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"global_step": 7, "w": torch.ones(3)}, path)

    real_save = torch.save

    def dies_halfway(obj, fh, *args, **kwargs):
        real_save(obj, fh, *args, **kwargs)
        fh.truncate(fh.tell() // 2)
        raise KeyboardInterrupt  # stands in for the kill: the write never completes

    monkeypatch.setattr(torch, "save", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"global_step": 14, "w": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["global_step"] == 7
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]  # no temp file left either


def test_resume_skips_a_torn_checkpoint(tmp_path, caplog):
    good = tmp_path / "hpc_ckpt_1.ckpt"
    torch.save({"global_step": 21}, good)
    torn = tmp_path / "checkpoints" / "last.ckpt"
    torn.parent.mkdir()
    torch.save({"global_step": 28, "w": torch.ones(1000)}, torn)
    torn.write_bytes(torn.read_bytes()[:500])  # newer, but torn (e.g. written by an older, non-atomic writer)
    with caplog.at_level(logging.WARNING):
        assert resume_point(tmp_path) == (str(good), 21)
    assert "not resuming from" in caplog.text and "last.ckpt" in caplog.text
    assert resume_point(tmp_path / "nothing-here") == (None, None)


def test_ledger_survives_a_torn_last_line(tmp_path, caplog):
    ledger.append(tmp_path, {"run_id": "a", "status": "ok"})
    with open(tmp_path / "results.jsonl", "a") as fh:
        fh.write('{"run_id": "b", "status": "o')  # a line cut short (full disk, a kill on NFS)
    ledger.append(tmp_path, {"run_id": "c", "status": "ok"})
    with caplog.at_level(logging.WARNING):
        rows = list(ledger.read(tmp_path))
    assert [r["run_id"] for r in rows] == ["a", "c"]
    assert "unreadable ledger line skipped" in caplog.text
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["run_id"] == "c"
