"""Token classification and multiple choice end to end through ``python -m itt.train``, offline: the
ledger row carries the kind's metrics, the saved items score to the logged figures with the report's
scorers, and a target whose intermediate is another kind starts with a fresh head of its own kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ITT_TINY, read_ledger, run_itt
from hub_replicas.specs_xtreme import WNUT17_TAGS

from itt.data import embedded
from itt.report.intervals import read_predictions
from itt.report.scorers import get_scorer

SPAN_METRICS = {f"{split}/{m}" for split in ("val", "test") for m in ("f1", "precision", "recall")}
# ner and pos list their zero-shot languages as eval sets (de, es, fr have stand-ins): these runs test own sets only
OWN_ONLY = "stage.evals=[]"


def _ok(rows, **match):
    return [r for r in rows if r["status"] == "ok" and all(r.get(k) == v for k, v in match.items())]


def _items(row) -> list[dict]:
    return [json.loads(line) for line in (Path(row["predictions"]) / "test.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_ner_itt_target_logs_span_f1_and_saves_sentence_items(tmp_path):
    """WikiANN German after WikiANN English: the same tag names, so the head carries over."""
    result = run_itt("model=bert", "task=ner", "+stage=target", "stage.target=crosslingual", OWN_ONLY, *ITT_TINY,
                     "trainer.max_epochs=2", root=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_ledger(tmp_path)
    (inter,) = _ok(rows, stage="intermediate")
    (target,) = _ok(rows, stage="target")
    assert target["kind"] == "token_classification" and target["primary_metric"] == "f1"
    assert set(target["metrics"]) == SPAN_METRICS and target["selected_on"] == "val/f1"
    assert target["head"] == "kept" and target["parent_run_id"] == inter["run_id"]  # same tag set: the head carries over
    items = _items(target)
    assert len(items) == target["n_test"] and all(len(i["pred"]) == len(i["gold"]) for i in items)
    assert {t for i in items for t in i["gold"]} <= set(embedded.label_names("ner", "wiki"))
    gold, pred = read_predictions(Path(target["predictions"]) / "test.jsonl")
    for name in ("f1", "precision", "recall"):  # the report's bootstrap scores the saved items like the run did
        assert get_scorer(name, "token_classification")(gold, pred) == pytest.approx(target["metrics"][f"test/{name}"], abs=1e-5)
    # With its no-ITT twin, the report's ITT-vs-no-ITT interval is a bootstrap over the test sentences.
    twin = run_itt("model=bert", "task=ner", "+stage=target", "stage.target=crosslingual", OWN_ONLY, "stage.itt=false", *ITT_TINY,
                   "trainer.max_epochs=2", root=tmp_path)
    assert twin.returncode == 0, twin.stderr[-3000:]
    from itt.report import comparison_table, load_ledger
    from itt.report.intervals import METHOD_BOOTSTRAP

    (cell,) = comparison_table(load_ledger(tmp_path)).to_dict("records")
    assert cell["metric"] == "test/f1" and cell["ci_method"] == METHOD_BOOTSTRAP, cell
    assert cell["ci_low"] <= cell["ci_high"] and "resamples" in cell["ci_note"]


@pytest.mark.slow
def test_ner_wnut17_itt_target_gets_a_fresh_output_layer_and_leaves_out_wikiann(tmp_path):
    """The domain target is WNUT-17 (13 tags of 6 other entity types): offline as on the hub, its ITT run
    gets a fresh output layer after the WikiANN intermediate, and ``stage.evals=all`` leaves out the
    WikiANN eval sets (the stand-ins of de, es, fr), which its head cannot score."""
    result = run_itt("model=bert", "task=ner", "+stage=target", "stage.target=domain", "stage.evals=all", *ITT_TINY,
                     root=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_ledger(tmp_path)
    (inter,) = _ok(rows, stage="intermediate")
    (target,) = _ok(rows, stage="target")
    assert target["head"] == "projection_reset" and target["parent_run_id"] == inter["run_id"]
    assert target["evals"] == {} and set(target["metrics"]) == SPAN_METRICS
    assert "stage.evals=all: left out de, es, fr (labels [O, B-PER, " in result.stdout + result.stderr, result.stdout[-3000:]
    assert sorted(p.name for p in Path(target["predictions"]).iterdir()) == ["test.jsonl"]
    gold = {t for i in _items(target) for t in i["gold"]}
    assert gold <= set(WNUT17_TAGS) and {t[2:] for t in gold if t != "O"} >= {"person", "location"}


@pytest.mark.slow
def test_pos_target_logs_word_accuracy(tmp_path):
    result = run_itt("model=bert", "task=pos", "+stage=target", OWN_ONLY, "stage.itt=false", *ITT_TINY, root=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = _ok(read_ledger(tmp_path), stage="target")
    assert set(row["metrics"]) == {"val/acc", "test/acc"} and row["head"] == "new"
    gold, pred = read_predictions(Path(row["predictions"]) / "test.jsonl")
    assert get_scorer("acc")(gold, pred) == pytest.approx(row["metrics"]["test/acc"], abs=1e-5)


@pytest.mark.slow
def test_copa_itt_target_keeps_the_choice_head(tmp_path):
    result = run_itt("model=bert", "task=copa", "+stage=target", *ITT_TINY, root=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = _ok(read_ledger(tmp_path), stage="target")
    assert row["kind"] == "multiple_choice" and set(row["metrics"]) == {"val/acc", "test/acc"}
    assert row["head"] == "kept"  # one score per choice: the head does not depend on the dataset
    items = _items(row)
    assert len(items) == row["n_test"] and {i["gold"] for i in items} <= {0, 1}
    assert sum(i["pred"] == i["gold"] for i in items) / len(items) == pytest.approx(row["metrics"]["test/acc"], abs=1e-6)


@pytest.mark.slow
def test_a_target_after_an_intermediate_of_another_kind_gets_a_fresh_head(tmp_path):
    """NER after a sentiment classifier: projection_reset (policy projection); a choice task after a POS
    tagger with policy head: head_reset. Each row names the intermediate's kind in its chain."""
    ner = run_itt("model=bert", "task=ner", "+stage=target", OWN_ONLY, *ITT_TINY, "task.datasets.intermediate.kind=sequence_classification",
                  "task.datasets.intermediate.domain=products",
                  root=tmp_path)
    copa = run_itt("model=bert", "task=copa", "+stage=target", *ITT_TINY, "task.datasets.intermediate.kind=token_classification",
                   "task.datasets.intermediate.generator=pos", "stage.head_policy=head", root=tmp_path)
    assert ner.returncode == 0 and copa.returncode == 0, (ner.stderr + copa.stderr)[-3000:]
    rows = read_ledger(tmp_path)
    (ner_row,) = _ok(rows, stage="target", task="ner")
    (copa_row,) = _ok(rows, stage="target", task="copa")
    assert ner_row["head"] == "projection_reset" and ner_row["chain"][0]["kinds"] == ["sequence_classification"]
    assert set(ner_row["metrics"]) == SPAN_METRICS
    assert copa_row["head"] == "head_reset" and copa_row["chain"][0]["kinds"] == ["token_classification"]
    assert set(copa_row["metrics"]) == {"val/acc", "test/acc"}


@pytest.mark.slow
def test_a_local_conll_target_with_its_own_tag_set(tmp_path):
    """A CoNLL file as the domain target (what the real WNUT run uses), with tags the intermediate lacks."""
    rename = {"PER": "person", "LOC": "location", "ORG": "corporation"}
    names = embedded.label_names("ner", "wiki")
    lines = []
    for row in embedded.generate("ner", "en", "wiki", 90, seed=3):
        for word, tag in zip(row["tokens"], row["tags"]):
            name = names[tag]
            lines.append(f"{word}\t{name if name == 'O' else name[:2] + rename[name[2:]]}")
        lines.append("\t")  # WNUT-16's separator line: a lone tab
    data = tmp_path / "twitter_train.conll"
    data.write_text("\n".join(lines) + "\n")
    result = run_itt("model=bert", "task=ner", "+stage=target", OWN_ONLY, *ITT_TINY, f"task.datasets.domain.path={data}",
                     "task.datasets.domain.subset=null", "task.datasets.domain.revision=null",
                     "task.datasets.domain.label_field=tags", "task.datasets.domain.max_rows=null", root=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = _ok(read_ledger(tmp_path), stage="target")
    assert row["head"] == "projection_reset" and row["data_sizes"] == {"train": 63, "validation": 13, "test": 14}
    assert row["dataset"]["fingerprint"] and set(row["metrics"]) == SPAN_METRICS
    assert {t[2:] for i in _items(row) for t in i["gold"] if t != "O"} <= set(rename.values())
