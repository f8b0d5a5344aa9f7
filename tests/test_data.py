"""Loading (local files, label maps, validation), canonical rows and splitting (paper 70/15/15, official,
by shared id)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value
from omegaconf import OmegaConf

from itt.data.preparation import Protocol, split_rows
from itt.data.splitting import make_splits, part_of
from itt.errors import DataError
from itt.schema import DatasetSpec
from itt.tasks import get_task

CLS = get_task("sequence_classification", "acc")
REG = get_task("sequence_regression", "spearman")
PAPER = OmegaConf.create({"name": "paper", "train": 0.7, "validation": 0.15, "test": 0.15})
OFFICIAL = OmegaConf.create({"name": "official", "train": 0.7, "validation": 0.15, "test": 0.15})


def rows(n, labels=("neg", "pos")):
    return [{"review": f"text number {i} " + ("good" if i % 2 else "bad"), "stars": labels[i % len(labels)]} for i in range(n)]


def load(spec, task=CLS, split=PAPER, seed=0, **kw):
    return split_rows(spec, task, Protocol(split, seed, "hub", 128, Path("/nonexistent")), **kw)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_local_file_formats_load_with_column_mapping(tmp_path, suffix):
    df = pd.DataFrame(rows(40))
    path = tmp_path / f"data{suffix}"
    {".csv": lambda: df.to_csv(path, index=False), ".tsv": lambda: df.to_csv(path, sep="\t", index=False),
     ".jsonl": lambda: df.to_json(path, orient="records", lines=True), ".parquet": lambda: df.to_parquet(path)}[suffix]()
    spec = DatasetSpec(path=str(path), text_fields=["review"], label_field="stars", labels=["neg", "pos"])
    splits, labels = load(spec)
    assert labels == ["neg", "pos"]
    assert splits["train"].column_names == ["text", "label"] and sum(len(d) for d in splits.values()) == 40
    pooled = {r["text"]: r["label"] for s in splits.values() for r in s}
    assert pooled["text number 1 good"] == 1 and pooled["text number 2 bad"] == 0


def test_headerless_tsv_gets_its_column_names_from_the_spec(tmp_path):
    path = tmp_path / "dev-en.tsv"
    path.write_text("".join(f"premise {i}\thypothesis {i}\t{['entailment', 'neutral'][i % 2]}\n" for i in range(40)))
    spec = DatasetSpec(path=str(path), columns=["premise", "hypothesis", "label"], text_fields=["premise", "hypothesis"],
                       labels=["entailment", "neutral"])
    splits, _ = load(spec)
    assert sum(len(d) for d in splits.values()) == 40  # the first line is data, not a header
    assert set(splits["train"].column_names) == {"text", "text_pair", "label"}


def test_local_folder_official_splits_and_label_map(tmp_path):
    for split, n in (("train", 30), ("dev", 10), ("test", 10)):
        pd.DataFrame([{"t": f"{split} {i}", "y": i % 5} for i in range(n)]).to_csv(tmp_path / f"{split}.csv", index=False)
    spec = DatasetSpec(path=str(tmp_path), text_fields=["t"], label_field="y", labels=["negative", "positive"],
                       label_map={"0": "negative", "1": "negative", "2": None, "3": "positive", "4": "positive"})
    splits, labels = load(spec, split=OFFICIAL)
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [24, 8, 8]  # rows labelled 2 dropped on purpose
    assert Counter(splits["train"]["label"]) == {0: 12, 1: 12}
    assert all(t.startswith("dev ") for t in splits["validation"]["text"])  # dev.csv named by datasets' own rule


def test_an_official_eval_set_with_a_test_split_only_is_scored_on_all_of_it(tmp_path):
    """XQuAD's and Tatoeba's shape: no validation split. Under split=official nothing is carved from it."""
    pd.DataFrame(rows(40)).to_csv(tmp_path / "test.csv", index=False)
    spec = DatasetSpec(path=str(tmp_path), text_fields=["review"], label_field="stars", labels=["neg", "pos"])
    splits, _ = load(spec, split=OFFICIAL, eval_only=True)
    assert set(splits) == {"test"} and len(splits["test"]) == 40
    splits, _ = load(spec, split=PAPER, eval_only=True)  # paper: every eval set is divided 15 : 15
    assert sorted(len(s) for s in splits.values()) == [20, 20]
    (tmp_path / "test.csv").rename(tmp_path / "train.csv")
    with pytest.raises(DataError, match=r"an eval set needs a test split under split=official \(splits: train\)"):
        load(spec, split=OFFICIAL, eval_only=True)


def test_classlabel_names_map_through_label_map_and_undeclared_splits_are_never_read(tmp_path):
    """IMDb's shape: ClassLabel(neg, pos) and an `unsupervised` split labelled -1."""
    features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    folder = tmp_path / "imdb"
    folder.mkdir()
    for split, labels in (("train", [0, 1] * 10), ("test", [1, 0] * 10), ("unsupervised", [-1] * 10)):
        Dataset.from_dict({"text": [f"{split} review {i}" for i in range(len(labels))], "label": labels},
                          features=features).to_parquet(folder / f"{split}.parquet")
    spec = DatasetSpec(path=str(folder), labels=["negative", "positive"], label_map={"neg": "negative", "pos": "positive"},
                       splits={"train": "train", "validation": None, "test": "test"})
    splits, labels = load(spec)
    texts = [t for s in splits.values() for t in s["text"]]
    assert len(texts) == 40 and not any(t.startswith("unsupervised") for t in texts)
    by_text = {r["text"]: r["label"] for s in splits.values() for r in s}
    assert by_text["train review 0"] == 0 and by_text["train review 1"] == 1  # neg -> negative, pos -> positive
    spec.label_map = None  # the names do not match the declared labels: one line that says how to map them
    with pytest.raises(DataError, match=r"label 'neg' is not a declared label; valid: negative, positive \(map"):
        load(spec)


def test_regression_scores_scaled_and_validated(tmp_path):
    path = tmp_path / "sts.jsonl"
    path.write_text("\n".join(json.dumps({"a": f"s{i}", "b": f"t{i}", "score": i % 6}) for i in range(30)))
    spec = DatasetSpec(path=str(path), text_fields=["a", "b"], label_field="score", score_range=[0, 5])
    splits, labels = load(spec, task=REG)
    scores = [v for s in splits.values() for v in s["label"]]
    assert labels == [] and sorted(splits["train"].column_names) == ["label", "text", "text_pair"]
    assert min(scores) == 0.0 and max(scores) == 1.0
    path.write_text(json.dumps({"a": "x", "b": "y", "score": 7}))
    with pytest.raises(DataError, match=r"row 0: score 7 is not a number in score_range \[0, 5\]"):
        load(spec, task=REG)


def test_bad_column_and_label_name_the_file_and_the_valid_values(tmp_path):
    path = tmp_path / "d.csv"
    pd.DataFrame(rows(10, labels=("neg", "pos", "meh"))).to_csv(path, index=False)
    spec = DatasetSpec(path=str(path), text_fields=["text"], label_field="stars", labels=["neg", "pos"])
    with pytest.raises(DataError, match=r"d.csv\) \[train\]: column 'text' not found; columns are: review, stars"):
        load(spec)
    spec.text_fields = ["review"]
    with pytest.raises(DataError, match=r"d.csv\) \[train\] row 2: label 'meh' is not a declared label; valid: neg, pos"):
        load(spec)


def test_empty_texts_are_dropped_and_counted_not_fatal(tmp_path, caplog):
    path = tmp_path / "d.csv"
    data = rows(40)
    data[3]["review"] = "   "
    data[7]["review"] = None
    pd.DataFrame(data).to_csv(path, index=False)
    spec = DatasetSpec(path=str(path), text_fields=["review"], label_field="stars", labels=["neg", "pos"])
    splits, _ = load(spec)
    assert sum(len(d) for d in splits.values()) == 38
    assert any("dropped 2 row(s): empty text in 'review'" in r.message for r in caplog.records)


def test_max_rows_subsamples_before_processing_and_is_exact(tmp_path, monkeypatch):
    path = tmp_path / "d.parquet"
    pd.DataFrame(rows(5000)).to_parquet(path)
    seen = []
    original = CLS.canonical_batch
    monkeypatch.setattr(type(CLS), "canonical_batch",
                        lambda self, batch, numbers, raw: seen.extend(numbers) or original(batch, numbers, raw))
    spec = DatasetSpec(path=str(path), text_fields=["review"], label_field="stars", labels=["neg", "pos"], max_rows=300)
    splits, _ = load(spec)
    assert sum(len(d) for d in splits.values()) == 300
    assert len(seen) <= 400  # only (a few more than) the sampled rows were ever turned into Python objects
    again, _ = load(spec)
    assert again["test"]["text"] == splits["test"]["text"]
    other, _ = load(spec, seed=1)
    assert set(other["train"]["text"]) != set(splits["train"]["text"])


def test_paper_split_is_stratified_70_15_15_and_deterministic():
    labels = [i % 3 for i in range(600)]
    pool = Dataset.from_dict({"text": [str(i) for i in range(600)], "label": labels})
    a = make_splits({"pool": pool}, PAPER, CLS, 7, "x")
    assert [len(a[s]) for s in ("train", "validation", "test")] == [420, 90, 90]
    for s in ("train", "validation", "test"):
        counts = Counter(a[s]["label"])
        assert max(counts.values()) - min(counts.values()) <= 1, (s, counts)  # stratified
    assert set(a["train"]["text"]).isdisjoint(a["test"]["text"])
    assert a["test"]["text"] == make_splits({"pool": pool}, PAPER, CLS, 7, "x")["test"]["text"]
    assert a["test"]["text"] != make_splits({"pool": pool}, PAPER, CLS, 8, "x")["test"]["text"]


def test_eval_sets_are_split_into_validation_and_test_only():
    pool = Dataset.from_dict({"text": [str(i) for i in range(200)], "label": [i % 2 for i in range(200)]})
    out = make_splits({"pool": pool}, PAPER, CLS, 0, "x", eval_only=True)
    assert set(out) == {"validation", "test"} and [len(out[s]) for s in ("validation", "test")] == [100, 100]


def test_regression_split_stratifies_by_score_bins():
    pool = Dataset.from_dict({"text": [str(i) for i in range(200)], "label": [(i % 10) / 9 for i in range(200)]})
    test = make_splits({"pool": pool}, PAPER, REG, 0, "x")["test"]
    bins = Counter(min(int(v * 5), 4) for v in test["label"])
    assert len(bins) == 5 and max(bins.values()) - min(bins.values()) <= 1


def test_split_that_ends_up_empty_is_named():
    pool = Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]})
    with pytest.raises(DataError, match="split is empty after split=paper"):
        make_splits({"pool": pool}, PAPER, CLS, 0, "tiny.csv")


def test_translations_split_by_shared_id_never_leak_into_training(tmp_path):
    """STS-B de is a translation of STS-B en: without a shared split ~70 % of the German validation and
    test pairs had their English original (same score) in the intermediate's training data."""
    en, de = tmp_path / "en", tmp_path / "de"
    for folder, word in ((en, "the"), (de, "der")):
        folder.mkdir()
        for split, n in (("train", 300), ("dev", 60), ("test", 60)):
            pd.DataFrame([{"s1": f"{word} {split} {i}", "s2": f"{word} other {i}", "score": (i % 6)}
                          for i in range(n)]).to_csv(folder / f"{split}.csv", index=False)
    spec = dict(text_fields=["s1", "s2"], label_field="score", score_range=[0, 5])
    inter, _ = load(DatasetSpec(path=str(en), **spec), task=REG, by_id=True)
    target, _ = load(DatasetSpec(path=str(de), max_rows=200, **spec), task=REG, by_id=True)
    inter_train = set(inter["train"]["id"])
    held_out = set(target["validation"]["id"]) | set(target["test"]["id"])
    assert held_out and inter_train and not held_out & inter_train
    assert set(target["train"]["id"]) <= inter_train  # the same ids are training data on both sides
    # Without the shared id (the German set subsampled, as the config caps it) they overlap massively.
    plain_inter, _ = load(DatasetSpec(path=str(en), **spec), task=REG)
    plain_target, _ = load(DatasetSpec(path=str(de), max_rows=200, **spec), task=REG)
    en_train = {t.split(" ", 1)[1] for t in plain_inter["train"]["text"]}
    de_test = {t.split(" ", 1)[1] for t in plain_target["test"]["text"]}
    assert len(en_train & de_test) / len(de_test) > 0.5


@pytest.mark.parametrize("declared", [("train",), ("train", "dev")], ids=["train-only", "train+dev"])
def test_official_splits_carve_a_missing_split_of_translations_by_shared_id(tmp_path, declared):
    """split=official keeps declared splits; a split the files lack is carved from training rows, and for
    translations (by_id) by the shared id: a German held-out pair never has its English original in the
    English training rows. (Carved per dataset, stratified, most of them did.)"""
    en, de = tmp_path / "en", tmp_path / "de"
    for folder, word in ((en, "the"), (de, "der")):
        folder.mkdir()
        for split, n in (("train", 400), ("dev", 60)):
            if split in declared:
                pd.DataFrame([{"s1": f"{word} {split} {i}", "s2": f"{word} other {i}", "label": i % 2}
                              for i in range(n)]).to_csv(folder / f"{split}.csv", index=False)
    spec = dict(text_fields=["s1", "s2"], label_field="label", labels=["no", "yes"])
    inter, _ = load(DatasetSpec(path=str(en), **spec), split=OFFICIAL, by_id=True)
    target, _ = load(DatasetSpec(path=str(de), max_rows=300, **spec), split=OFFICIAL, by_id=True)
    carved = ["test"] if "dev" in declared else ["validation", "test"]
    held_out = set().union(*(target[name]["id"] for name in carved))
    assert held_out and not held_out & set(inter["train"]["id"])
    assert sum(len(target[s]) for s in target) == 300 + (60 if "dev" in declared else 0)  # max_rows caps train only
    if "dev" in declared:  # the declared split is kept as published
        assert len(target["validation"]) == 60 and target["validation"]["id"] == inter["validation"]["id"]
    # without the shared id (the German set capped, as a config may): carved per dataset, most German test
    # pairs have their English original in the English training rows
    plain_inter, _ = load(DatasetSpec(path=str(en), **spec), split=OFFICIAL)
    plain_target, _ = load(DatasetSpec(path=str(de), max_rows=300, **spec), split=OFFICIAL)
    en_train = {t.split(" ", 1)[1] for t in plain_inter["train"]["text"]}
    de_test = {t.split(" ", 1)[1] for t in plain_target["test"]["text"]}
    assert len(en_train & de_test) / len(de_test) > 0.5


def test_part_of_a_shared_id_is_stable_and_follows_the_fractions():
    parts = Counter(part_of(f"train:{i}", 3, (0.7, 0.15, 0.15)) for i in range(20000))
    assert abs(parts[0] / 20000 - 0.7) < 0.02 and abs(parts[2] / 20000 - 0.15) < 0.02
    assert part_of("x", 3, (0.7, 0.15, 0.15)) == part_of("x", 3, (0.7, 0.15, 0.15))


def test_the_shipped_crosslingual_similarity_target_is_split_by_id_with_its_intermediate(tmp_path):
    """conf/task/sentence_similarity.yaml as shipped: the German target declares itself a translation of the
    intermediate, and the run's own data path (identity.aligned_roles -> build.prepare_data) splits both by
    the shared id, so no German validation/test pair has its English original in the intermediate's training."""
    from hydra import compose, initialize_config_dir  # noqa: PLC0415

    from itt import identity  # noqa: PLC0415
    from itt.build import prepare_data  # noqa: PLC0415
    from itt.models.loading import load_tokenizer, pretrained_source  # noqa: PLC0415
    from itt.train import CONF_DIR  # noqa: PLC0415

    # Row i of each split is the translation of the English row i (as in PhilipMay/stsb_multi_mt).
    folders = {"en": tmp_path / "en", "de": tmp_path / "de"}
    for lang, folder in folders.items():
        folder.mkdir()
        for split, n in (("train", 600), ("test", 300)):
            pd.DataFrame([{"sentence1": f"{lang} a {split} {i}", "sentence2": f"{lang} b {split} {i}",
                           "similarity_score": i % 6} for i in range(n)]).to_csv(folder / f"{split}.csv", index=False)
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["task=sentence_similarity", "model=bert", "+stage=target",
                                          "stage.target=crosslingual", "stage.itt=true", f"paths.root={tmp_path / 'out'}",
                                          f"task.datasets.intermediate.path={folders['en']}",
                                          f"task.datasets.crosslingual.path={folders['de']}"])
    assert cfg.task.datasets.crosslingual.aligned_with == "intermediate"
    assert cfg.task.datasets.crosslingual.max_rows == 800  # the shipped cap: the target is a subsample of the 900 pairs
    target = identity.resolve(cfg)
    assert target.roles == ("crosslingual",) and target.parent.roles == ("intermediate",)
    tokenizer = load_tokenizer(pretrained_source(cfg.model, "embedded", tmp_path / "models"))
    (inter,), _ = prepare_data(target.parent, tokenizer)
    (german,), _ = prepare_data(target, tokenizer)

    def pair(text):  # the language-free part of a pair: the same for a row and its translation
        return text.split(" ", 1)[1]

    held_out = {s: {pair(t) for t in inter.rows[s]["text"]} for s in ("validation", "test")}
    every = {f"a {split} {i}" for split, n in (("train", 600), ("test", 300)) for i in range(n)}
    inter_train = every - held_out["validation"] - held_out["test"]
    assert len(inter.features["train"]) == len(inter_train)  # nothing else went missing
    german_held_out = {pair(t) for s in ("validation", "test") for t in german.rows[s]["text"]}
    assert len(german_held_out) > 100 and not german_held_out & inter_train
    assert german_held_out <= held_out["validation"] | held_out["test"]


@pytest.mark.parametrize("n, sizes", [(1000, [700, 150, 150]), (400, [280, 60, 60])])
def test_official_carve_of_a_train_only_dataset_is_the_configured_70_15_15(n, sizes):
    """A dataset with a train split only (every stand-in, a single local file): validation and test are the
    configured shares of all its rows. Test used to be 15 % of what validation left: 722/150/128 of 1,000."""
    train = Dataset.from_dict({"text": [str(i) for i in range(n)], "label": [i % 2 for i in range(n)]})
    out = make_splits({"train": train}, OFFICIAL, CLS, 0, "x")
    assert [len(out[s]) for s in ("train", "validation", "test")] == sizes
    assert sorted(t for s in out.values() for t in s["text"]) == sorted(train["text"])  # each row once
    for s in ("train", "validation", "test"):
        counts = Counter(out[s]["label"])
        assert max(counts.values()) - min(counts.values()) <= 1, (s, counts)  # stratified


def test_official_carve_of_one_lacking_split_is_that_share_of_the_train_rows():
    declared = {s: Dataset.from_dict({"text": [f"{s} {i}" for i in range(n)], "label": [i % 2 for i in range(n)]})
                for s, n in (("train", 1000), ("test", 200))}
    out = make_splits(declared, OFFICIAL, CLS, 0, "x")
    assert [len(out[s]) for s in ("train", "validation", "test")] == [850, 150, 200]
    assert out["test"]["text"] == declared["test"]["text"]


def test_only_datasets_whose_splits_changed_get_another_cache_key():
    """Cache entries built with the old splits are not served to the datasets whose splits changed (train
    only under split=official; extractive QA under split=paper); every other dataset keeps its key."""
    from itt.data.preparation import changed_splits  # noqa: PLC0415

    def marks(spec, task=CLS, split=OFFICIAL, source="embedded", by_id=False, eval_only=False):
        return changed_splits(spec, task, Protocol(split, 0, source, 128, Path("/nonexistent")), by_id, eval_only)

    hub, qa = DatasetSpec(path="some/dataset"), get_task("extractive_qa")
    assert marks(hub) == {"official_carve": "shares_of_all_rows"}  # a stand-in: train only
    assert marks(DatasetSpec(path="some/dataset", splits={"train": "train", "validation": None, "test": None}),
                 source="hub") == {"official_carve": "shares_of_all_rows"}
    assert marks(hub, source="hub") == {}  # declares all three (the spec default)
    assert marks(DatasetSpec(path="some/dataset", splits={"train": "train", "validation": None, "test": "test"}),
                 source="hub") == {}  # one carved: that share of train, as before
    assert marks(hub, by_id=True) == marks(hub, eval_only=True) == marks(hub, split=PAPER) == {}
    assert marks(hub, task=qa, split=PAPER) == {"paper_split": "by_group"}
    assert marks(hub, task=qa, split=OFFICIAL, source="hub") == {}  # declares all three: nothing carved
    # QA translations by their context's smallest shared id; a carved QA split by context
    assert marks(hub, task=qa, split=PAPER, by_id=True) == {"id_split": "group_of_shared_ids"}
    carved = DatasetSpec(path="some/dataset", splits={"train": "train", "validation": None, "test": "test"})
    assert marks(carved, task=qa, source="hub") == {"official_carve_groups": "by_group"}
    assert marks(carved, task=qa, source="hub", by_id=True) == {"id_split": "group_of_shared_ids"}
    assert marks(carved, task=qa, source="hub", eval_only=True) == {}


def test_a_prepared_entry_built_from_another_hub_commit_is_built_again(tmp_path):
    """A moving revision (main, refs/convert/parquet): after the hub moved it, a rerun with force=true read the
    features built from the old commit while its ledger row named the new one. Where the hub cannot be asked (an
    offline compute node) the entry is served as before: its key does not change."""
    from itt.data.tokenization import cached_entry

    builds = []

    def build():
        builds.append(1)
        rows = Dataset.from_dict({"text": [f"row {len(builds)} {i}" for i in range(6)], "label": [0, 1] * 3})
        return DatasetDict({"train": rows, "test": rows}), ["neg", "pos"]

    def encode(batch, training):
        return {"length": [len(t) for t in batch["text"]]}

    def entry(commit):
        _, rows, _, _, hit, _ = cached_entry(tmp_path, "k", build, encode, "x", lambda ds: np.arange(len(ds), dtype=np.uint64),
                                        commit=commit)
        return rows["test"]["text"][0], hit

    assert entry("a" * 40) == ("row 1 0", False)
    assert entry("a" * 40) == ("row 1 0", True)
    assert entry(None) == ("row 1 0", True)  # offline: served
    assert entry("b" * 40) == ("row 2 0", False)  # the revision moved: built again, not read back
    assert entry("b" * 40) == ("row 2 0", True) and len(builds) == 2
    # a build killed before its meta.json (a time limit while tokenizing) leaves arrow files: not read back either
    (tmp_path / "prepared" / "k" / "meta.json").unlink()
    assert entry("c" * 40) == ("row 3 0", False)


def test_official_carve_of_a_train_only_translation_leaves_its_held_out_ids_in_a_full_partners_train():
    """Why split=official refuses some chains (itt.stages.check_translations_held_out): English declares
    train/validation/test, its German translation train only. German's validation and test are carved from
    its train rows by shared id, but English keeps every train id in its train split, so English training
    holds the originals of German held-out items."""
    def rows_of(split, n, word):
        return Dataset.from_dict({"text": [f"{word} {i}" for i in range(n)], "label": [i % 2 for i in range(n)],
                                  "id": [f"{split}:{i}" for i in range(n)]})

    en = make_splits({s: rows_of(s, n, "the") for s, n in (("train", 400), ("validation", 60), ("test", 60))},
                     OFFICIAL, CLS, 0, "en", by_id=True)
    de = make_splits({"train": rows_of("train", 400, "der")}, OFFICIAL, CLS, 0, "de", by_id=True)
    assert len(en["train"]) == 400  # English's own splits as declared: every train id stays in training
    for carved in ("validation", "test"):
        assert set(de[carved]["id"]) & set(en["train"]["id"]) == set(de[carved]["id"]) != set()
    # a partner that carves the same splits leaves them out of its train: no overlap
    fr = make_splits({"train": rows_of("train", 400, "le")}, OFFICIAL, CLS, 0, "fr", by_id=True)
    assert not (set(de["validation"]["id"]) | set(de["test"]["id"])) & set(fr["train"]["id"])
