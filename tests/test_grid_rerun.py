"""Running the same sweep again trains nothing; ``force=true`` reruns.

The rerun answers every point from the ledger (status ``cached``, no new ``ok`` row, no new run dir)
before torch is even imported (tested on its own below), so it costs a small fraction of the first run;
the README quotes the measured figure for the full demo grid.
"""

from __future__ import annotations

import pytest

from conftest import ITT_TINY, read_ledger, run_sweep
from slurm_helpers import check_grid_ledger

TARGETS = ["domain", "crosslingual"]
GRID = ("model=bert", "task=sentiment", "+stage=target", f"stage.target={','.join(TARGETS)}",
        "stage.itt=true,false", *ITT_TINY)


@pytest.mark.slow
def test_rerun_is_cached_and_fast_and_force_reruns(tmp_path):
    first, t_first = run_sweep(*GRID, root=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    rows = read_ledger(tmp_path)
    check_grid_ledger(rows, ["bert"], "sentiment", TARGETS, [True, False])
    ok = {r["run_id"]: r for r in rows if r["status"] == "ok"}
    run_dirs = sorted(p.name for p in (tmp_path / "runs").iterdir())

    again, t_again = run_sweep(*GRID, root=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    print(f"grid of 4 (+1 intermediate): first run {t_first:.1f}s, rerun {t_again:.1f}s "
          f"({100 * t_again / t_first:.0f}%)")
    new = read_ledger(tmp_path)[len(rows):]
    assert [r["status"] for r in new] == ["cached"] * 4, [(r["run_id"], r["status"]) for r in new]
    for r in new:  # the finished run's result, reported again
        assert r["stage"] == "target" and r["metrics"] == ok[r["run_id"]]["metrics"], r
    assert len({r["run_id"] for r in new}) == 4
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == run_dirs
    assert "cached: " in again.stdout + again.stderr

    # force=true retrains that run only: its intermediate is reused, not retrained
    n = len(read_ledger(tmp_path))
    forced, _ = run_sweep("model=bert", "task=sentiment", "+stage=target", "stage.target=domain",
                          "stage.itt=true", *ITT_TINY, "force=true", root=tmp_path)
    assert forced.returncode == 0, forced.stderr[-3000:]
    (row,) = read_ledger(tmp_path)[n:]
    assert (row["status"], row["stage"], row["target"], row["itt"]) == ("ok", "target", "domain", True), row
    assert row["run_id"] in ok and row["intermediate_run_id"] in ok
    assert row.get("resumed_from_step") is None, row  # trained from the start, not "resumed" at the final step
    assert row["time"] != ok[row["run_id"]]["time"]


def test_a_finished_run_is_answered_from_the_ledger_without_importing_torch(tmp_path):
    """What makes a rerun of a finished sweep cheap: each point is resolved and found in the ledger by
    code that never imports torch (or transformers, datasets, Lightning)."""
    import json
    import subprocess
    import sys

    from conftest import REPO, itt_env

    code = f"""
import sys
from hydra import compose, initialize_config_dir
from itt import identity, ledger
from itt.train import CONF_DIR, _cached
with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
    cfg = compose("train", overrides=["+stage=target", "source=embedded", "paths.root={tmp_path}"])
ledger.append("{tmp_path}", {{"run_id": identity.run_id(cfg), "status": "ok", "metrics": {{}}, "primary_metric": "acc"}})
row = _cached(cfg)
heavy = sorted(m for m in ("torch", "transformers", "datasets", "pytorch_lightning") if m in sys.modules)
print(json.dumps({{"status": row["status"], "heavy": heavy}}))
""".replace("json.dumps", "__import__('json').dumps")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=itt_env(), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"status": "cached", "heavy": []}


def test_the_pipeline_is_imported_with_cyclic_gc_off_then_frozen():
    """``itt.train._pipeline``: torch & co. load without the cyclic GC's full collections (they found next
    to nothing and cost ~1 s per process), their objects end in the permanent generation, and the GC is
    on again afterwards (or stays off if it was off)."""
    import subprocess
    import sys

    from conftest import REPO, itt_env

    code = """
import gc, itt.train
import sys
if sys.argv[1] == "off":
    gc.disable()
was = gc.isenabled()
pipeline = itt.train._pipeline()
frozen = gc.get_freeze_count()
assert itt.train._pipeline() is pipeline and gc.get_freeze_count() == frozen  # once per process
print(was, gc.isenabled(), frozen > 100_000)
"""
    for arg, expected in (("on", "True True True"), ("off", "False False True")):
        result = subprocess.run([sys.executable, "-c", code, arg], cwd=REPO, env=itt_env(), capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.strip().splitlines()[-1] == expected


@pytest.mark.slow
def test_a_forced_sweep_trains_a_run_several_of_its_jobs_name_once(tmp_path):
    """The no-ITT target of a sweep over ``intermediate.steps`` is one run named by every job: with ``force=true``
    each job trained it again (two ok rows here, one per job). Now the first job trains it and the other finds this
    sweep's row (cached); a later forced sweep trains it again, once."""
    grid = ("model=bert", "task=sentiment", "+stage=target", "stage.target=domain", "stage.itt=false",
            "intermediate.steps=[intermediate],[crosslingual]", *ITT_TINY, "force=true")
    for sweep in (1, 2):
        result, _ = run_sweep(*grid, root=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        rows = read_ledger(tmp_path)
        assert len({r["run_id"] for r in rows}) == 1
        assert [r["status"] for r in rows] == ["ok", "cached"] * sweep, [(r["status"], r.get("sweep")) for r in rows]
        assert rows[-1]["sweep"] == rows[-2]["sweep"] and "/sweeps/" in rows[-1]["sweep"]
    assert rows[0]["sweep"] != rows[2]["sweep"]
