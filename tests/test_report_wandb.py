"""W&B source: fake public-API runs mapped to the ledger frame (no server involved)."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from itt.report import comparison_table, failed_runs, load_wandb, runs_to_frame
from itt.report.__main__ import main


class FakeSummary:
    """Shaped like wandb's HTTPSummary: keys()/items()/__getitem__, not a dict subclass."""

    def __init__(self, d):
        self._d = dict(d)

    def keys(self):
        return self._d.keys()

    def items(self):
        return self._d.items()

    def __getitem__(self, k):
        return self._d[k]

    def __iter__(self):
        return iter(self._d)


class FakeRun:
    def __init__(self, id, config, summary, state="finished", name=None, tags=(),
                 group=None, job_type=None, created_at="2024-06-01T10:00:00"):
        self.id, self.config, self.summary, self.state = id, config, FakeSummary(summary), state
        self.name, self.tags, self.group, self.job_type = name or id, list(tags), group, job_type
        self.created_at = created_at


class FakeApi:
    def __init__(self, runs):
        self._runs = runs
        self.paths = []

    def runs(self, path, filters=None):
        self.paths.append(path)
        return iter(self._runs)


# no-ITT / ITT test/acc for seeds 0, 1, 2
BERT = {False: [0.70, 0.72, 0.71], True: [0.75, 0.74, 0.78]}


def hydra_config(model, itt, seed, stage="target", lr=2e-5, root="/scratch/x"):
    """Composed Hydra config as the training code logs it (nested groups with a name)."""
    stage_cfg = {"name": stage, "epochs": 3}
    if stage == "target":
        stage_cfg.update(target="domain", itt=itt)
    return {
        "model": {"name": model, "pretrained": f"{model}-base"},
        "task": {"name": "sentiment", "num_labels": 2},
        "stage": stage_cfg,
        "seed": seed,
        "split": {"name": "paper"},
        "source": {"name": "embedded"},
        "optim": {"lr": lr, "batch_size": 16},
        "paths": {"root": root},  # differs per run: must not change the hparams hash
    }


def make_runs():
    runs = []
    for itt, vals in BERT.items():
        for seed, v in enumerate(vals):
            runs.append(FakeRun(f"b{int(itt)}{seed}", hydra_config("bert", itt, seed, root=f"/r{seed}"),
                                {"test/acc": v, "val/acc": v - 0.01, "_step": 10, "_runtime": 42.0},
                                tags=["sweep"], group="sentiment", job_type="target"))
    # a run that logged the ledger row: its hparams_id wins
    runs.append(FakeRun("led1", {**hydra_config("roberta", True, 0),
                                 "ledger": {"run_id": "ledger-run-1", "hparams_id": "abc12345",
                                            "primary_metric": "acc"}},
                        {"test/acc": 0.9}))
    runs.append(FakeRun("crash", hydra_config("xlnet", True, 0), {}, state="crashed"))
    runs.append(FakeRun("live", hydra_config("xlnet", False, 0), {"test/acc": 0.1}, state="running"))
    runs.append(FakeRun("int", hydra_config("bert", None, 0, stage="intermediate"),
                        {"test/acc": 0.95}))
    return runs


def test_runs_to_frame_mapping():
    df = runs_to_frame(make_runs())
    r = df.set_index("run_id").loc["b12"]
    assert (r["model"], r["task"], r["stage"], r["target"], r["itt"], r["seed"]) == (
        "bert", "sentiment", "target", "domain", True, 2)
    assert (r["split"], r["source"], r["status"], r["primary_metric"]) == ("paper", "embedded", "ok", "acc")
    assert r["test/acc"] == pytest.approx(0.78) and r["wall_s"] == pytest.approx(42.0)
    assert "_step" not in r["metrics"]
    assert r["wandb_tags"] == "sweep" and r["wandb_group"] == "sentiment"
    # same hyper-parameters, different paths.root -> same fallback hparams id
    bert_ids = set(df.loc[df["model"] == "bert", "hparams_id"])
    assert len(bert_ids) == 1 and next(iter(bert_ids)).startswith("wb-")
    led = df.set_index("run_id").loc["ledger-run-1"]
    assert led["hparams_id"] == "abc12345"
    statuses = df.set_index("run_id")["status"]
    assert statuses["crash"] == "failed" and statuses["live"] == "running"
    assert df.set_index("run_id").loc["int", "itt"] is None


def test_hparams_hash_changes_with_hyperparameters():
    a = runs_to_frame([FakeRun("a", hydra_config("bert", True, 0, lr=1e-5), {"test/acc": 0.5})])
    b = runs_to_frame([FakeRun("b", hydra_config("bert", True, 0, lr=3e-5), {"test/acc": 0.5})])
    assert a["hparams_id"].iloc[0] != b["hparams_id"].iloc[0]


def test_flat_and_string_configs():
    cfg = {"model.name": "bert", "task": "sentiment", "stage/name": "target", "stage/target": "domain",
           "stage/itt": False, "seed": 1, "split": {"value": {"name": "official"}},
           "source": "hub"}
    r = runs_to_frame([FakeRun("f", cfg, {"test/spearman": 0.3})]).iloc[0]
    assert (r["model"], r["task"], r["stage"], r["target"], r["itt"], r["seed"]) == (
        "bert", "sentiment", "target", "domain", False, 1)
    assert (r["split"], r["source"], r["primary_metric"]) == ("official", "hub", "spearman")


def test_comparison_from_wandb_runs():
    api = FakeApi(make_runs())
    df = load_wandb("ent/proj", api=api)
    assert api.paths == ["ent/proj"]
    table = comparison_table(df)
    bert = table[table["model"] == "bert"].iloc[0]
    d = np.subtract(BERT[True], BERT[False])
    assert bert["delta"] == pytest.approx(d.mean())
    assert bert["noitt_std"] == pytest.approx(np.std(BERT[False], ddof=1))
    assert "xlnet" not in set(table["model"])  # crashed + running runs are not counted
    assert failed_runs(df)["run_id"].tolist() == ["crash"]


def test_cli_wandb(monkeypatch, tmp_path, capsys):
    # A stand-in "wandb" module, so load_wandb's default Api() path runs without a server.
    fake = types.SimpleNamespace(Api=lambda: FakeApi(make_runs()))
    monkeypatch.setitem(sys.modules, "wandb", fake)
    assert main(["--wandb", "ent/proj", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "source: wandb:ent/proj" in out and "| bert |" in out
    assert (tmp_path / "report" / "comparison.csv").is_file()


def test_cli_wandb_no_runs(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(Api=lambda: FakeApi([])))
    assert main(["--wandb", "ent/empty", "--root", str(tmp_path)]) == 1
    assert "ent/empty" in capsys.readouterr().err


def test_cli_wandb_api_error(monkeypatch, tmp_path, capsys):
    def broken_api():
        raise RuntimeError("wandb: not logged in")

    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(Api=broken_api))
    assert main(["--wandb", "ent/proj", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "ent/proj" in err and "not logged in" in err and "Traceback" not in err


def test_hparams_id_matches_training_code():
    """With the parts itt.identity hashes present, W&B runs get the ledger's own hparams_id."""
    identity = pytest.importorskip("itt.identity")
    omegaconf = pytest.importorskip("omegaconf")
    cfg = hydra_config("bert", True, 0)
    cfg.update(trainer={"max_epochs": 3, "enable_progress_bar": False},
               data={"batch_size": 32, "num_workers": 0},
               split={"name": "paper", "train": 0.7, "validation": 0.15, "test": 0.15})
    got = runs_to_frame([FakeRun("h", cfg, {"test/acc": 0.5})])["hparams_id"].iloc[0]
    assert got == identity.hparams_id(omegaconf.OmegaConf.create(cfg))
    assert not got.startswith("wb-")
