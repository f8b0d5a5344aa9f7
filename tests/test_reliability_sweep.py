"""Issue 5, points 6 and 7 end to end, on one small sweep (one subprocess for both, to keep the suite
short): job 0 diverges (optim.lr=1e30), job 1 trains; W&B is on (offline: no server) and the
environment holds an API key and a hub token.

- point 6: the NaN run is recorded as ``failed`` with the reason, the other run still runs, exit 0;
- point 7: neither secret appears in any file under paths.root (configs, logs, W&B files, ledger).
"""

from __future__ import annotations

import math
import uuid

import pytest
from conftest import read_ledger, run_itt

RUN = ("model=bert", "task=sentiment", "+stage=intermediate", "source=embedded", "logger=wandb",
       "trainer.max_epochs=1", "trainer.precision=32-true", "task.datasets.intermediate.embedded_rows=300")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    secrets = {"WANDB_API_KEY": "wandbkey" + uuid.uuid4().hex,  # 40 characters, like a real key
               "HF_TOKEN": "hf_" + uuid.uuid4().hex}
    root = tmp / "root"
    result = run_itt("-m", *RUN, "optim.lr=1e30,2e-3", root=root, timeout=600,
                     env={**secrets, "WANDB_BASE_URL": "http://127.0.0.1:9", "WANDB_MODE": None, "HOME": tmp})
    return root, result, secrets


@pytest.mark.slow
def test_nan_loss_fails_one_run_and_the_sweep_goes_on(sweep):
    root, result, _ = sweep
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    rows = read_ledger(root)
    assert [r["status"] for r in rows] == ["failed", "ok"], rows
    failed, ok = rows
    assert failed["error"].startswith("non-finite training loss"), failed["error"]
    assert "lower optim.lr" in failed["error"]
    assert failed["metrics"] == {} and failed["checkpoint"] is None
    assert ok["metrics"] and all(math.isfinite(v) for v in ok["metrics"].values())
    assert f"run {failed['run_id']} failed: non-finite training loss" in result.stdout + result.stderr


@pytest.mark.slow
def test_secrets_never_written_under_root_and_wandb_is_offline(sweep):
    root, result, secrets = sweep
    assert result.returncode == 0, result.stderr[-3000:]
    ok = [r for r in read_ledger(root) if r["status"] == "ok"]
    assert ok, result.stderr[-3000:]
    run_dir = root / "runs" / ok[0]["run_id"]
    assert list((run_dir / "wandb").glob("offline-run-*")), "W&B did not fall back to an offline run"
    assert (run_dir / "model" / "model.safetensors").exists()  # weights saved as safetensors, not pickles
    files = [p for p in root.rglob("*") if p.is_file()]
    assert len(files) > 20 and any(p.name == "config.yaml" for p in files)
    for name, secret in secrets.items():
        leaks = [str(p.relative_to(root)) for p in files if secret.encode() in p.read_bytes()]
        assert leaks == [], f"{name} written to {leaks}"
        assert secret not in result.stdout + result.stderr
