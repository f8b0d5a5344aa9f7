"""Issue 5, point 5: concurrent jobs. Two ITT targets that need the same missing intermediate
checkpoint: one trains it, the other waits and reuses it. Many processes appending to the ledger at
once: every line intact. A lock left by a killed process does not block."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import subprocess
import sys

import pytest
from conftest import OFFLINE, read_ledger
from filelock import BaseFileLock

from itt import ledger, pipeline

COMMON = ("model=bert", "task=sentiment", "+stage=target", "stage.itt=true", *OFFLINE, "trainer.max_epochs=1",
          "trainer.precision=32-true", "task.datasets.intermediate.embedded_rows=300")


@pytest.mark.slow
def test_two_itt_targets_share_one_intermediate_training(start_itt, tmp_path):
    root = tmp_path / "root"
    logs = {t: tmp_path / f"{t}.log" for t in ("domain", "crosslingual")}
    procs = {t: start_itt(*COMMON, f"stage.target={t}", root=root, log_file=logs[t]) for t in logs}
    try:
        codes = {t: p.wait(timeout=600) for t, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    out = {t: path.read_text() for t, path in logs.items()}
    assert codes == {"domain": 0, "crosslingual": 0}, {t: o[-2000:] for t, o in out.items()}

    rows = read_ledger(root)
    inter_ok = [r for r in rows if r["stage"] == "intermediate" and r["status"] == "ok"]
    assert len(inter_ok) == 1, rows
    inter_id = inter_ok[0]["run_id"]
    targets = {r["target"]: r for r in rows if r["stage"] == "target"}
    assert {t: r["status"] for t, r in targets.items()} == {"domain": "ok", "crosslingual": "ok"}
    assert {r["intermediate_run_id"] for r in targets.values()} == {inter_id}
    # Exactly one process trained it; the other waited for the lock (then found it cached) or found it done.
    trained = [t for t, o in out.items() if f"ok {inter_id} in " in o]
    assert len(trained) == 1, out
    (other,) = set(out) - set(trained)
    assert (f"waiting: another job is running {inter_id}" in out[other] and f"cached: {inter_id}" in out[other]) \
        or f"ITT: reusing intermediate {inter_id}" in out[other], out[other][-3000:]
    assert not [r for r in rows if r["status"] == "failed"]


def _append_rows(root: str, worker: int, count: int, pad: int) -> None:
    for i in range(count):
        ledger.append(root, {"run_id": f"w{worker}-{i}", "status": "ok", "pad": "x" * pad, "worker": worker})


def test_concurrent_ledger_appends_keep_every_line_intact(tmp_path):
    workers, count, pad = 6, 40, 20_000  # 20 kB lines: far above PIPE_BUF, so unlocked writes would interleave
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_rows, args=(str(tmp_path), w, count, pad)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    rows = read_ledger(tmp_path)  # json.loads on every line: a torn or interleaved line fails here
    assert len(rows) == workers * count
    assert {r["run_id"] for r in rows} == {f"w{w}-{i}" for w in range(workers) for i in range(count)}
    assert all(r["pad"] == "x" * pad for r in rows)
    for w in range(workers):  # each writer's rows in its own order
        assert [r["run_id"] for r in rows if r["worker"] == w] == [f"w{w}-{i}" for i in range(count)]


def _never_wait(monkeypatch) -> None:
    """Any file lock (flock or otherwise) is taken only if free at the first try; waiting fails the test."""
    acquire = BaseFileLock.acquire

    def first_try_only(self, timeout=None, *args, **kwargs):
        if timeout != 0:
            raise AssertionError(f"waited for {self.lock_file}: another process still holds it")
        return acquire(self, timeout, *args, **kwargs)

    monkeypatch.setattr(BaseFileLock, "acquire", first_try_only)


def test_lock_of_a_killed_process_does_not_block(tmp_path, monkeypatch, caplog):
    """A job killed while holding a run's lock leaves nothing that blocks the next job: the kernel
    frees a flock with its process. No timing: the next job must get the lock at its first try."""
    path = pipeline.lock_path(tmp_path, "some-run")
    path.parent.mkdir(parents=True)
    holder = subprocess.Popen(  # another job, holding the run's lock as pipeline._run_lock does
        [sys.executable, "-c", f"import time; from filelock import FileLock; l = FileLock({str(path)!r}); "
                               "l.acquire(); print('locked', flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, text=True)
    caplog.set_level(logging.INFO, logger="itt.pipeline")
    try:
        assert holder.stdout.readline().strip() == "locked"
        _never_wait(monkeypatch)
        with pytest.raises(AssertionError, match="waited for"), pipeline._run_lock(tmp_path, "some-run"):
            pass  # held by a live process: the run lock would wait
        assert "waiting: another job is running some-run" in caplog.text
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        assert path.exists()  # the file stays; the kernel released the lock
        caplog.clear()
        with pipeline._run_lock(tmp_path, "some-run"):  # taken at the first try, or _never_wait fails the test
            pass
        assert "waiting" not in caplog.text
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.stdout.close()
