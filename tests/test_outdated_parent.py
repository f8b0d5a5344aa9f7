"""A run trained from a parent's weights that the parent has no more (trained again since with ``force=true``,
saving other weights) is trained again, not served from the ledger; the plan and the report say so."""

from __future__ import annotations

import re

import pytest
from conftest import ITT_TINY, read_ledger, run_itt
from safetensors.torch import load_file, save_file

from itt import ledger
from itt.pipeline import weights_digest

TARGET = ("model=bert", "task=sentiment", "+stage=target", "stage.target=domain", "stage.itt=true", *ITT_TINY)
INTERMEDIATE = ("model=bert", "task=sentiment", "+stage=intermediate", *ITT_TINY)


def _row(run_id, parent=None, digest=None, parent_digest=None, time="2026-01-01T00:00:00+00:00"):
    return {"run_id": run_id, "status": "ok", "time": time, "parent_run_id": parent, "weights_digest": digest,
            "parent_weights_digest": parent_digest}


def test_the_first_link_of_a_chain_whose_parent_has_other_weights_now_is_named():
    rows = [_row("gp", digest="a"), _row("p", "gp", "b", "a"), _row("c", "p", "c", "b")]
    assert ledger.outdated_link(rows[2], ledger.latest(rows)) is None
    retrained = [*rows, _row("gp", digest="z", time="2026-01-02T00:00:00+00:00")]  # gp forced, other weights
    newest = ledger.latest(retrained)
    assert ledger.outdated_link(rows[2], newest) == ("p", "gp")  # c's own parent is unchanged; p's is not
    assert ledger.outdated_link(rows[1], newest) == ("p", "gp")
    assert ledger.outdated_link(newest["gp"], newest) is None
    same = [*rows, _row("gp", digest="a", time="2026-01-02T00:00:00+00:00")]  # forced, the same weights again
    assert ledger.outdated_link(rows[2], ledger.latest(same)) is None


def test_rows_from_before_digests_or_without_a_parent_row_here_are_taken_as_current():
    old = [_row("p"), _row("c", "p"), _row("p", digest="b", time="2026-01-02T00:00:00+00:00")]
    assert ledger.outdated_link(old[1], ledger.latest(old)) is None  # c has no parent digest
    orphan = _row("c", "p", parent_digest="b")
    assert ledger.outdated_link(orphan, ledger.latest([orphan])) is None


def _replace_weights(model_dir):
    """What a forced rerun that trained other weights leaves: the same folder, other tensors."""
    path = model_dir / "model.safetensors"
    tensors = load_file(path)
    name = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[name] = tensors[name] + 1e-3
    save_file(tensors, path, metadata={"format": "pt"})


@pytest.mark.slow
def test_a_target_whose_intermediate_was_trained_again_with_other_weights_trains_again(tmp_path):
    first = run_itt(*TARGET, root=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    parent, child = (next(r for r in read_ledger(tmp_path) if r["stage"] == s) for s in ("intermediate", "target"))
    assert parent["weights_digest"] == weights_digest(tmp_path / "runs" / parent["run_id"] / "model")
    assert child["parent_weights_digest"] == parent["weights_digest"]

    # Forced again with the same numerics: the same bytes, the same digest; the target stays cached.
    forced = run_itt(*INTERMEDIATE, "force=true", root=tmp_path)
    assert forced.returncode == 0, forced.stderr[-3000:]
    rows = read_ledger(tmp_path)
    assert rows[-1]["run_id"] == parent["run_id"] and rows[-1]["status"] == "ok"
    assert rows[-1]["weights_digest"] == parent["weights_digest"]
    assert run_itt(*TARGET, root=tmp_path).returncode == 0
    assert read_ledger(tmp_path)[-1]["status"] == "cached"

    # Forced again and other weights saved (another code version, a nondeterministic kernel): the target's numbers
    # are of a model that is gone.
    model_dir = tmp_path / "runs" / parent["run_id"] / "model"
    _replace_weights(model_dir)
    digest = weights_digest(model_dir)
    assert digest != parent["weights_digest"]
    ledger.append(tmp_path, {**rows[-1], "weights_digest": digest, "time": ledger.timestamp()})

    planned = run_itt("-m", *TARGET, root=tmp_path, module="itt.plan")
    assert planned.returncode == 0, planned.stderr[-2000:]
    line = next(line for line in planned.stdout.splitlines() if child["run_id"] in line)
    assert re.match(r"\s+to train\s", line) and f"{child['run_id']} trained from weights {parent['run_id']} has no more" in line
    report = run_itt(root=tmp_path, module="itt.report")
    assert report.returncode == 0, report.stderr[-2000:]
    assert f"1 run(s) trained from weights their parent (or an earlier step) has no more, trained again since: " \
           f"{child['run_id']};" in report.stderr

    again = run_itt(*TARGET, root=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    said = f"{child['run_id']} finished before, but {child['run_id']} trained from weights {parent['run_id']} has no more"
    assert again.stdout.count(said) == 1, again.stdout[-3000:]
    rows = read_ledger(tmp_path)
    assert rows[-1]["run_id"] == child["run_id"] and rows[-1]["status"] == "ok"  # trained, not cached
    assert rows[-1]["parent_weights_digest"] == digest
    assert sum(r["run_id"] == parent["run_id"] for r in rows) == 3  # the parent itself is not trained again
    assert run_itt(*TARGET, root=tmp_path).returncode == 0
    assert read_ledger(tmp_path)[-1]["status"] == "cached"


@pytest.mark.slow
def test_a_chain_whose_first_step_has_other_weights_trains_its_later_step_and_target_again(tmp_path):
    chain = (*TARGET, "intermediate.steps=[intermediate,crosslingual]")
    first = run_itt(*chain, root=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    rows = read_ledger(tmp_path)
    step1, step2 = (r for r in rows if r["stage"] == "intermediate")
    target = rows[-1]
    assert step2["parent_run_id"] == step1["run_id"] and target["parent_run_id"] == step2["run_id"]
    model_dir = tmp_path / "runs" / step1["run_id"] / "model"
    _replace_weights(model_dir)
    ledger.append(tmp_path, {**step1, "weights_digest": weights_digest(model_dir), "time": ledger.timestamp()})

    refused = run_itt(*chain, "stage.auto_intermediate=false", root=tmp_path)
    assert refused.returncode != 0
    assert f"intermediate run {step2['run_id']} was trained from weights its own parent has no more; make it with: " \
        in refused.stderr, refused.stderr[-2000:]
    again = run_itt(*chain, root=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    trained = [r["run_id"] for r in read_ledger(tmp_path)[len(rows) + 1:] if r["status"] == "ok"]
    assert trained == [step2["run_id"], target["run_id"]]  # the first step kept, the later ones from its weights
