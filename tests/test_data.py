"""Loading (local files, label maps, validation) and splitting (paper 70/15/15, official)."""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import pytest
from datasets import Dataset, DatasetDict
from omegaconf import OmegaConf

from itt.data.loading import load_spec
from itt.data.splitting import make_splits
from itt.errors import DataError
from itt.schema import DatasetSpec
from itt.tasks import get_task

CLS = get_task("sequence_classification", "acc")
REG = get_task("sequence_regression", "spearman")
PAPER = OmegaConf.create({"name": "paper", "train": 0.7, "validation": 0.15, "test": 0.15})
OFFICIAL = OmegaConf.create({"name": "official", "train": 0.7, "validation": 0.15, "test": 0.15})


def rows(n, labels=("neg", "pos")):
    return [{"review": f"text number {i} " + ("good" if i % 2 else "bad"), "stars": labels[i % len(labels)]} for i in range(n)]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_local_file_formats_load_with_column_mapping(tmp_path, suffix):
    df = pd.DataFrame(rows(40))
    path = tmp_path / f"data{suffix}"
    {".csv": lambda: df.to_csv(path, index=False), ".tsv": lambda: df.to_csv(path, sep="\t", index=False),
     ".jsonl": lambda: df.to_json(path, orient="records", lines=True), ".parquet": lambda: df.to_parquet(path)}[suffix]()
    spec = DatasetSpec(path=str(path), text_fields=["review"], label_field="stars", labels=["neg", "pos"])
    raw, labels = load_spec(spec, CLS, "sentiment", "hub", seed=0)
    assert labels == ["neg", "pos"]
    assert raw["train"].column_names == ["text", "label"] and len(raw["train"]) == 40
    assert raw["train"][1] == {"text": "text number 1 good", "label": 1}


def test_local_folder_official_splits_and_label_map(tmp_path):
    for split, n in (("train", 30), ("dev", 10), ("test", 10)):
        pd.DataFrame([{"t": f"{split} {i}", "y": i % 5} for i in range(n)]).to_csv(tmp_path / f"{split}.csv", index=False)
    spec = DatasetSpec(path=str(tmp_path), text_fields=["t"], label_field="y", labels=["negative", "positive"],
                       label_map={"0": "negative", "1": "negative", "2": None, "3": "positive", "4": "positive"})
    raw, labels = load_spec(spec, CLS, "sentiment", "hub", seed=0)
    assert set(raw) == {"train", "validation", "test"}
    assert len(raw["train"]) == 24  # the 6 rows labelled 2 are dropped on purpose
    assert Counter(raw["train"]["label"]) == {0: 12, 1: 12}
    splits = make_splits(raw, OFFICIAL, CLS.kind, 0, None, "x")
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [24, 8, 8]


def test_regression_scores_scaled_and_validated(tmp_path):
    path = tmp_path / "sts.jsonl"
    path.write_text("\n".join(json.dumps({"a": f"s{i}", "b": f"t{i}", "score": i % 6}) for i in range(30)))
    spec = DatasetSpec(path=str(path), text_fields=["a", "b"], label_field="score", score_range=[0, 5])
    raw, labels = load_spec(spec, REG, "sentence_similarity", "hub", seed=0)
    assert labels == [] and sorted(raw["train"].column_names) == ["label", "text", "text_pair"]
    assert min(raw["train"]["label"]) == 0.0 and max(raw["train"]["label"]) == 1.0
    path.write_text(json.dumps({"a": "x", "b": "y", "score": 7}))
    with pytest.raises(DataError, match=r"row 0: score 7 is not a number in score_range \[0, 5\]"):
        load_spec(spec, REG, "sentence_similarity", "hub", seed=0)


def test_bad_column_and_label_name_the_file_and_the_valid_values(tmp_path):
    path = tmp_path / "d.csv"
    pd.DataFrame(rows(10, labels=("neg", "pos", "meh"))).to_csv(path, index=False)
    spec = DatasetSpec(path=str(path), text_fields=["text"], label_field="stars", labels=["neg", "pos"])
    with pytest.raises(DataError, match=r"d.csv \[train\]: column 'text' not found; columns are: review, stars"):
        load_spec(spec, CLS, "sentiment", "hub", seed=0)
    spec.text_fields = ["review"]
    with pytest.raises(DataError, match=r"d.csv \[train\] row 2: label 'meh' is not a declared label; valid: neg, pos"):
        load_spec(spec, CLS, "sentiment", "hub", seed=0)


def test_paper_split_is_stratified_70_15_15_and_deterministic():
    labels = [i % 3 for i in range(600)]
    raw = DatasetDict(train=Dataset.from_dict({"text": [str(i) for i in range(500)], "label": labels[:500]}),
                      test=Dataset.from_dict({"text": [str(i) for i in range(500, 600)], "label": labels[500:]}))
    a = make_splits(raw, PAPER, CLS.kind, 7, None, "x")
    assert [len(a[s]) for s in ("train", "validation", "test")] == [420, 90, 90]
    for s in ("train", "validation", "test"):
        counts = Counter(a[s]["label"])
        assert max(counts.values()) - min(counts.values()) <= 1, (s, counts)  # stratified
    assert set(a["train"]["text"]).isdisjoint(a["test"]["text"])
    assert a["test"]["text"] == make_splits(raw, PAPER, CLS.kind, 7, None, "x")["test"]["text"]
    assert a["test"]["text"] != make_splits(raw, PAPER, CLS.kind, 8, None, "x")["test"]["text"]
    assert len(make_splits(raw, PAPER, CLS.kind, 7, 100, "x")["train"]) == 70  # max_rows subsamples first


def test_regression_split_stratifies_by_score_bins():
    scores = [(i % 10) / 9 for i in range(200)]
    raw = DatasetDict(train=Dataset.from_dict({"text": [str(i) for i in range(200)], "label": scores}))
    test = make_splits(raw, PAPER, REG.kind, 0, None, "x")["test"]
    bins = Counter(min(int(v * 5), 4) for v in test["label"])
    assert len(bins) == 5 and max(bins.values()) - min(bins.values()) <= 1


def test_split_that_ends_up_empty_is_named():
    raw = DatasetDict(train=Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]}))
    with pytest.raises(DataError, match="split is empty after split=paper"):
        make_splits(raw, PAPER, CLS.kind, 0, None, "tiny.csv")
