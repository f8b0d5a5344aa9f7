"""The long table, dataset keys, cells per dataset and ITT variant, and chains — on ledgers of the
new row shape (tests/report_ledger.py) and of the old one."""

from __future__ import annotations

import json

import numpy as np
import pytest
from report_ledger import (base_row, dataset, eval_set, intermediate_row, target_row,
                           write_ledger)

from itt.report import comparison_table, dataset_key, follow_chain, load_ledger, long_table
from itt.report.long_table import LONG_COLUMNS


def test_dataset_key_rules():
    assert dataset_key({"path": "stanfordnlp/imdb"}) == "stanfordnlp/imdb"
    assert dataset_key({"path": "mteb/amazon_reviews_multi", "subset": "de"}) == \
        "mteb/amazon_reviews_multi:de"
    # embedded data are generated from lang and domain, not read from path
    assert dataset_key({"path": "stanfordnlp/imdb", "lang": "en", "domain": "movies"},
                       source="embedded") == "stanfordnlp/imdb@en/movies"
    # a key written by the training side wins
    assert dataset_key({"path": "x", "key": "written-key"}, source="embedded") == "written-key"
    assert dataset_key({}) == dataset_key(None) == "n/a"


@pytest.fixture
def xling_ledger(tmp_path):
    inter = intermediate_row("int-s0", dataset("mnli", "glue", "mnli"), seed=0)
    rows = [
        inter,
        target_row("tgt-none-s0", seed=0, value=0.80, data=dataset("en", "xnli", "en"),
                   evals={"de": eval_set("de", 0.70, n_test=50), "sw": eval_set("sw", 0.50)}),
        target_row("tgt-itt-s0", seed=0, value=0.83, parent=inter,
                   data=dataset("en", "xnli", "en"),
                   evals={"de": eval_set("de", 0.74, n_test=50), "sw": eval_set("sw", 0.49)}),
    ]
    write_ledger(tmp_path, rows)
    return load_ledger(tmp_path / "results.jsonl")


def test_long_table_lines_and_columns(xling_ledger):
    long = long_table(xling_ledger)
    assert list(long.columns) == LONG_COLUMNS
    # intermediate: own set × {val, test}; each target: (own + 2 evals) × {val, test}
    assert len(long) == 2 + 2 * 3 * 2
    t = long[(long.run_id == "tgt-itt-s0") & (long.eval_split == "test")].set_index("eval")
    assert t.loc["en", "own"] and not t.loc["de", "own"]
    assert t.loc["de", "value"] == pytest.approx(0.74) and t.loc["de", "n"] == 50
    assert t.loc["en", "n"] == 100 and t.loc["en", "key"] == "xnli:en"
    assert (t.loc["de", "eval_family"], t.loc["de", "eval_genus"], t.loc["de", "eval_script"]) == (
        "Indo-European", "Germanic", "Latin")
    assert (t.loc["sw", "eval_family"], t.loc["sw", "eval_genus"]) == ("Niger-Congo", "Bantoid")
    assert t.loc["de", "eval_key"] == "xnli:de"
    assert t.loc["en", "itt_variant"] == "mnli" and t.loc["en", "chain_steps"] == 1
    assert t.loc["en", "intermediate_key"] == "glue:mnli"
    assert t.loc["en", "pretraining"] == "text" and t.loc["en", "languages"] == "multi"
    assert set(t["metric"]) == {"acc"}
    none = long[long.run_id == "tgt-none-s0"]
    assert set(none["itt_variant"]) == {"none"} and none["intermediate_key"].isna().all()


def test_old_rows_are_readable(tmp_path):
    """Rows written before the redesign: no dataset/evals/itt_variant/model_info keys."""
    old = [{"run_id": f"{'i' if itt else 'n'}{s}", "model": "bert", "task": "sentiment",
            "stage": "target", "target": "domain", "itt": itt, "seed": s, "split": "paper",
            "source": "embedded", "primary_metric": "acc", "status": "ok", "hparams_id": "h",
            "metrics": {"test/acc": 0.7 + 0.1 * itt + 0.01 * s}}
           for s in (0, 1) for itt in (False, True)]
    (tmp_path / "results.jsonl").write_text("\n".join(json.dumps(r) for r in old))
    df = load_ledger(tmp_path / "results.jsonl")
    long = long_table(df)
    assert len(long) == 4
    assert set(long["itt_variant"]) == {"none", "intermediate"}  # derived from itt
    assert long["key"].eq("n/a").all() and long["eval"].eq("domain").all()
    assert long["eval_lang"].isna().all() and long["pretraining"].isna().all()
    cell = comparison_table(df).iloc[0]
    assert cell["itt_variant"] == "intermediate" and cell["delta"] == pytest.approx(0.1)


def test_two_domain_targets_with_different_paths_are_two_cells(tmp_path):
    """The reviewer's finding: one role pointed at two datasets must not collapse into one cell."""
    rows = []
    for path, base in (("stanfordnlp/imdb", 0.80), ("yelp_polarity", 0.60)):
        data = dataset("domain", path, domain="reviews")
        for s in (0, 1, 2):
            rows.append(target_row(f"{path}-n{s}", task="sentiment", seed=s, data=data,
                                   value=base + 0.01 * s))
            inter = intermediate_row(f"{path}-int{s}", dataset("intermediate", "amazon"), seed=s)
            rows.append(target_row(f"{path}-i{s}", task="sentiment", seed=s, data=data,
                                   value=base + 0.05 + 0.01 * s + 0.002 * (s == 1),
                                   parent=inter, variant="intermediate"))
    write_ledger(tmp_path, rows)
    table = comparison_table(load_ledger(tmp_path / "results.jsonl"))
    assert sorted(table["key"]) == ["stanfordnlp/imdb", "yelp_polarity"]
    by_key = table.set_index("key")
    assert by_key.loc["stanfordnlp/imdb", "noitt_mean"] == pytest.approx(0.81)
    assert by_key.loc["yelp_polarity", "noitt_mean"] == pytest.approx(0.61)
    assert by_key.loc["yelp_polarity", "delta"] == pytest.approx(0.05 + 0.002 / 3)


def test_several_variants_share_one_baseline(tmp_path):
    rows = []
    values = {"none": [0.70, 0.72, 0.71], "mnli": [0.74, 0.75, 0.73],
              "mnli>squad": [0.69, 0.73, 0.70], "mnli+squad": [0.76, 0.77, 0.78]}
    for s in range(3):
        mnli = intermediate_row(f"mnli{s}", dataset("mnli", "glue", "mnli"), seed=s)
        squad = intermediate_row(f"squad{s}", dataset("squad", "squad"), parent=mnli, seed=s)
        mix = intermediate_row(f"mix{s}", [dataset("mnli", "glue", "mnli"),
                                           dataset("squad", "squad")], seed=s)
        rows += [mnli, squad, mix]
        rows.append(target_row(f"none{s}", seed=s, value=values["none"][s]))
        rows.append(target_row(f"a{s}", seed=s, value=values["mnli"][s], parent=mnli))
        rows.append(target_row(f"ab{s}", seed=s, value=values["mnli>squad"][s], parent=squad))
        rows.append(target_row(f"mx{s}", seed=s, value=values["mnli+squad"][s], parent=mix,
                               variant="mnli+squad"))
    write_ledger(tmp_path, rows)
    df = load_ledger(tmp_path / "results.jsonl")
    table = comparison_table(df).set_index("itt_variant")
    assert sorted(table.index) == ["mnli", "mnli+squad", "mnli>squad"]
    assert table["noitt_mean"].nunique() == 1
    assert table["noitt_mean"].iloc[0] == pytest.approx(np.mean(values["none"]))
    for variant in table.index:
        d = np.subtract(values[variant], values["none"])
        assert table.loc[variant, "delta"] == pytest.approx(d.mean()), variant
        assert table.loc[variant, "n_pairs"] == 3
    # the intermediate dataset is what the parent trained on (a mixture: both keys)
    assert table.loc["mnli>squad", "intermediate_key"] == "squad"
    assert table.loc["mnli+squad", "intermediate_key"] == "glue:mnli+squad"
    chain = follow_chain(df, "ab1")
    assert [r["run_id"] for r in chain] == ["mnli1", "squad1", "ab1"]
    assert chain[-1]["itt_variant"] == "mnli>squad"
    with pytest.raises(KeyError):
        follow_chain(df, "nope")


def test_follow_chain_warns_on_missing_parent(tmp_path):
    inter = intermediate_row("gone", dataset("mnli", "glue", "mnli"))
    write_ledger(tmp_path, [target_row("t", parent=inter)])
    df = load_ledger(tmp_path / "results.jsonl")
    with pytest.warns(UserWarning, match="gone"):
        assert [r["run_id"] for r in follow_chain(df, "t")] == ["t"]
    assert long_table(df)["intermediate_key"].isna().all()


def test_failed_and_cached_rows_do_not_enter_the_long_table(tmp_path):
    ok = target_row("r", value=0.8)
    rows = [base_row("r", status="failed", error="NaN loss", value=None), ok,
            {**ok, "status": "cached", "metrics": {"test/acc": 0.0}}]
    write_ledger(tmp_path, rows)
    long = long_table(load_ledger(tmp_path / "results.jsonl"))
    assert long.loc[long.eval_split == "test", "value"].tolist() == [pytest.approx(0.8)]
