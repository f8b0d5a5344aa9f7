"""W&B source: fake public-API runs whose config holds the ledger row (no server involved)."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
from report_ledger import base_row, dataset, intermediate_row, target_row

from itt.report import LedgerWarning, comparison_table, failed_runs, group_summary, load_wandb, runs_to_frame
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
    def __init__(self, id, config, summary=None, state="finished", name=None, tags=(),
                 group=None, job_type=None, created_at="2024-06-01T10:00:00"):
        self.id, self.config, self.state = id, config, state
        self.summary = FakeSummary(summary or {"_step": 10, "_runtime": 42.0})
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


def hydra_config(model, seed, lr=2e-5, root="/scratch/x"):
    """Parts of the composed config a run logs besides its ledger row (ignored by the report)."""
    return {"model": {"name": model}, "seed": seed, "optim": {"lr": lr},
            "paths": {"root": root}, "hparams_id": "not-this-one"}


def with_ledger(run_id, row, **kw):
    cfg = {**hydra_config(row["model"], row["seed"], root=f"/r{row['seed']}"), "ledger": row}
    return FakeRun(run_id, cfg, tags=["sweep"], group="sentiment", **kw)


def make_runs():
    runs = []
    for seed in range(3):
        inter = intermediate_row(f"int-bert-s{seed}", dataset("intermediate", "amazon"),
                                 model="bert", seed=seed, task="sentiment")
        runs.append(with_ledger(f"wb-int{seed}", inter))
        for itt in (False, True):
            row = target_row(f"bert-{'itt' if itt else 'noitt'}-s{seed}", model="bert",
                             task="sentiment", seed=seed, value=BERT[itt][seed],
                             source="embedded", split="paper", parent=inter if itt else None,
                             data=dataset("domain", "stanfordnlp/imdb"))
            runs.append(with_ledger(f"wb{int(itt)}{seed}", row))
    crashed = base_row("xlnet-crash", model="xlnet", status="failed", error="CUDA out of memory",
                       value=None)
    runs.append(with_ledger("wbcrash", crashed, state="crashed"))
    # still running: the row is stored at the end of the run, so it has none yet
    runs.append(FakeRun("live", hydra_config("xlnet", 0), {"test/acc": 0.1}, state="running"))
    return runs


def test_runs_to_frame_mapping():
    with pytest.warns(LedgerWarning, match="1 W&B run"):  # the running one
        df = runs_to_frame(make_runs())
    r = df.set_index("run_id").loc["bert-itt-s2"]
    assert (r["model"], r["task"], r["stage"], r["target"], r["itt"], r["seed"]) == (
        "bert", "sentiment", "target", "domain", True, 2)
    assert (r["split"], r["source"], r["status"], r["primary_metric"]) == ("paper", "embedded", "ok", "acc")
    assert r["test/acc"] == pytest.approx(0.78) and r["wall_s"] == pytest.approx(12.5)
    assert "_step" not in r["metrics"]  # W&B's own summary keys never enter the metrics
    assert r["wandb_tags"] == "sweep" and r["wandb_group"] == "sentiment"
    assert r["wandb_id"] == "wb12" and r["parent_run_id"] == "int-bert-s2"
    # the row's own hparams_id, never one from the rest of the config
    assert set(df["hparams_id"]) == {"hp000001"}
    statuses = df.set_index("run_id")["status"]
    assert statuses["xlnet-crash"] == "failed" and "live" not in statuses.index
    assert df.set_index("run_id").loc["int-bert-s0", "itt"] is None


def test_grouping_follows_the_rows_hparams_id():
    runs = []
    for seed in range(2):
        for hp, lr in (("hpA", 1e-5), ("hpB", 3e-5)):
            for itt in (False, True):
                row = target_row(f"{hp}-{itt}-{seed}", seed=seed, hparams_id=hp,
                                 value=0.6 + 0.1 * itt + 0.01 * seed + (0.2 if hp == "hpB" else 0),
                                 parent=intermediate_row("p", dataset("i", "m")) if itt else None)
                # the configs around the rows differ in lr and paths.root; the rows decide
                cfg = {**hydra_config("xlmr", seed, lr=lr, root=f"/r/{hp}/{seed}"), "ledger": row}
                runs.append(FakeRun(f"w-{hp}-{itt}-{seed}", cfg))
    df = runs_to_frame(runs)
    groups = group_summary(df).set_index("hparams_id")
    assert sorted(groups.index) == ["hpA", "hpB"] and set(groups["n_runs"]) == {4}
    table = comparison_table(df).set_index("hparams_id")
    assert table.loc["hpA", "noitt_mean"] == pytest.approx(0.605)
    assert table.loc["hpB", "noitt_mean"] == pytest.approx(0.805)


def test_wrapped_and_string_ledger_entries():
    row = target_row("r1", value=0.3, metric="spearman", split="official", source="hub")
    runs = [FakeRun("a", {"ledger": {"value": row, "desc": None}}),  # older API shape
            FakeRun("b", {"ledger": json.dumps({**row, "run_id": "r2"})})]
    df = runs_to_frame(runs).set_index("run_id")
    assert sorted(df.index) == ["r1", "r2"]
    r = df.loc["r2"]
    assert (r["model"], r["task"], r["stage"], r["target"], r["itt"], r["seed"]) == (
        "xlmr", "xnli", "target", "en", False, 0)
    assert (r["split"], r["source"], r["primary_metric"]) == ("official", "hub", "spearman")
    assert r["test/spearman"] == pytest.approx(0.3)


def test_runs_without_ledger_are_skipped_with_one_warning():
    runs = make_runs() + [FakeRun("old1", hydra_config("bert", 0), {"test/acc": 0.5}),
                          FakeRun("old2", {"ledger": "not json"}, {"test/acc": 0.5})]
    with pytest.warns(LedgerWarning) as record:
        df = runs_to_frame(runs)
    messages = [str(w.message) for w in record if "ledger" in str(w.message)]
    assert len(messages) == 1 and messages[0].startswith("3 W&B run(s) have no 'ledger' row")
    assert not {"old1", "old2", "live"} & set(df["wandb_id"])


def test_comparison_from_wandb_runs():
    api = FakeApi(make_runs())
    with pytest.warns(LedgerWarning, match="1 W&B run"):
        df = load_wandb("ent/proj", api=api)
    assert api.paths == ["ent/proj"]
    table = comparison_table(df)
    bert = table[table["model"] == "bert"].iloc[0]
    d = np.subtract(BERT[True], BERT[False])
    assert bert["delta"] == pytest.approx(d.mean())
    assert bert["noitt_std"] == pytest.approx(np.std(BERT[False], ddof=1))
    assert "xlnet" not in set(table["model"])  # crashed + running runs are not counted
    assert failed_runs(df)["run_id"].tolist() == ["xlnet-crash"]


def test_cli_wandb(monkeypatch, tmp_path, capsys):
    # A stand-in "wandb" module, so load_wandb's default Api() path runs without a server.
    fake = types.SimpleNamespace(Api=lambda: FakeApi(make_runs()))
    monkeypatch.setitem(sys.modules, "wandb", fake)
    assert main(["--wandb", "ent/proj", "--root", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "source: wandb:ent/proj" in captured.out and "| bert |" in captured.out
    assert "1 W&B run(s) have no 'ledger' row" in captured.err
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
