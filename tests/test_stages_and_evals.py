"""Per-stage settings, chains of intermediate steps, eval sets, and task kinds as the one extension point,
end to end through ``python -m itt.train``."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest
import torch
from conftest import ITT_TINY, REPO, itt_env, read_ledger, run_itt
from hub_replicas.fixture import hub_replica  # noqa: F401  (pytest fixture)
from hub_replicas.specs_xtreme import WNUT17_TAGS

from itt.data.embedded import Generator, register_generator
from itt.data.embedded.generator import fixed_labels
from itt.tasks import Task
from itt.tasks.evaluation import ItemMetric

TARGET = ("model=bert", "task=sentiment", "+stage=target", *ITT_TINY)


def _ok(rows, **match):
    return [r for r in rows if r["status"] == "ok" and all(r.get(k) == v for k, v in match.items())]


@pytest.mark.slow
def test_one_intermediate_serves_targets_with_different_target_settings(tmp_path):
    """The usual protocol: the intermediate for 1 epoch at one rate, the targets for more epochs at others."""
    common = (*TARGET, "intermediate.trainer.max_epochs=1", "intermediate.optim.lr=2e-3")
    first = run_itt(*common, "trainer.max_epochs=2", "optim.lr=1e-3", root=tmp_path)
    second = run_itt(*common, "trainer.max_epochs=3", "optim.lr=3e-3", root=tmp_path)
    assert first.returncode == 0 and second.returncode == 0, (first.stderr + second.stderr)[-3000:]
    rows = read_ledger(tmp_path)
    (inter,) = _ok(rows, stage="intermediate")
    targets = _ok(rows, stage="target")
    assert len(targets) == 2 and {t["intermediate_run_id"] for t in targets} == {inter["run_id"]}
    assert targets[0]["hparams_id"] != targets[1]["hparams_id"]
    direct = run_itt("model=bert", "task=sentiment", "+stage=intermediate", *ITT_TINY,
                     "intermediate.trainer.max_epochs=1", "intermediate.optim.lr=2e-3", root=tmp_path)
    assert direct.returncode == 0 and "cached" in direct.stdout + direct.stderr  # the same run, named directly


@pytest.mark.slow
def test_a_chain_shares_its_prefix(tmp_path):
    """A -> B -> target, then A -> target: A is trained once, B once; each step is a run with its row,
    naming its parent."""
    chain = run_itt(*TARGET, "intermediate.steps=[intermediate,crosslingual]", root=tmp_path)
    single = run_itt(*TARGET, root=tmp_path)
    assert chain.returncode == 0 and single.returncode == 0, (chain.stderr + single.stderr)[-3000:]
    rows = read_ledger(tmp_path)
    steps = _ok(rows, stage="intermediate")
    assert len(steps) == 2  # A and B, each trained once
    a = next(r for r in steps if r["parent_run_id"] is None)
    b = next(r for r in steps if r["parent_run_id"] == a["run_id"])
    assert b["dataset"]["role"] == "crosslingual" and b["head"] in ("kept", "projection_reset")
    by_variant = {r["itt_variant"]: r for r in _ok(rows, stage="target")}
    assert set(by_variant) == {"intermediate>crosslingual", "intermediate"}
    assert by_variant["intermediate>crosslingual"]["parent_run_id"] == b["run_id"]
    assert by_variant["intermediate>crosslingual"]["chain"][0]["run_id"] == a["run_id"]
    assert by_variant["intermediate"]["parent_run_id"] == a["run_id"]


@pytest.mark.slow
def test_a_target_with_three_eval_sets_writes_them_in_one_row_and_the_report_shows_each(tmp_path):
    # An eval set is added as one entry (OmegaConf cannot build a typed entry key by key).
    evals = [f"+task.evals={{{lang}:{{path:amazon_reviews_{lang},lang:{lang},domain:products,embedded_rows:60}}}}"
             for lang in ("de", "fr", "es")]
    # Selected on the German eval set: the checkpoint follows it and the row says so.
    result = run_itt(*TARGET, "stage.itt=false", *evals, "stage.select_on=de", root=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = _ok(read_ledger(tmp_path), stage="target")
    assert set(row["evals"]) == {"de", "fr", "es"}
    assert row["selected_on"] == "val/de/acc"
    header = (tmp_path / "runs" / row["run_id"] / "csv" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {f"{split}/{name}/acc" for split in ("val", "test") for name in ("de", "fr", "es")} <= set(header), header
    for name, entry in row["evals"].items():
        assert entry["lang"] == name and entry["family"] == "Indo-European"
        assert entry["n"]["test"] == 30 and set(entry["metrics"]) == {"val/acc", "val/f1_macro", "test/acc", "test/f1_macro"}
        assert row["metrics"][f"test/{name}/acc"] == entry["metrics"]["test/acc"]
    predictions = {p.name for p in (tmp_path / "runs" / row["run_id"] / "predictions").iterdir()}
    assert predictions == {"test.jsonl", "de.jsonl", "fr.jsonl", "es.jsonl"}
    report = run_itt(root=tmp_path, module="itt.report")
    assert report.returncode == 0, report.stderr[-2000:]
    from itt.report import load_ledger, long_table

    long = long_table(load_ledger(tmp_path))
    shown = set(long.loc[(long["eval_split"] == "test") & (long["metric"] == "acc"), "eval"])
    assert {"de", "fr", "es"} <= shown


@pytest.mark.slow
def test_an_official_test_only_eval_set_is_scored_on_all_items_and_cannot_pick_the_checkpoint(tmp_path):
    """XQuAD's shape under split=official: a test split only. Its every row is scored; no validation score."""
    folder = tmp_path / "xq"
    folder.mkdir()
    with open(folder / "test.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["review", "stars"])
        writer.writerows([f"text {i} " + ("good" if i % 2 else "bad"), ("negative", "positive")[i % 2]] for i in range(40))
    evals = f"+task.evals={{xq:{{path:{folder},text_fields:[review],label_field:stars,lang:de}}}}"
    result = run_itt(*TARGET, "stage.itt=false", "split=official", evals, root=tmp_path / "out")
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = _ok(read_ledger(tmp_path / "out"), stage="target")
    assert row["evals"]["xq"]["n"] == {"test": 40}
    assert set(row["evals"]["xq"]["metrics"]) == {"test/acc", "test/f1_macro"}
    assert "val/acc" in row["metrics"] and not any(k.startswith("val/xq/") for k in row["metrics"])
    refused = run_itt(*TARGET, "stage.itt=false", "split=official", evals, "stage.select_on=xq", root=tmp_path / "sel")
    assert refused.returncode != 0
    assert "stage.select_on=xq: that eval set has a test split only" in refused.stderr


# -- a task kind defined only here ---------------------------------------------------------------

class TwoFlags(Task):
    """Multi-label classification with two independent yes/no flags per text: a kind itt does not ship."""

    kind = "two_flags"
    metric_names = ("exact",)

    def canonical_batch(self, batch, rows, raw):
        texts = [str(t) for t in batch["text"]]
        return {"text": texts, "flags": [[float(a), float(b)] for a, b in zip(batch["a"], batch["b"])]}, list(range(len(texts)))

    def encode(self, batch, tokenizer, max_length, training):
        out = dict(tokenizer(batch["text"], truncation=True, max_length=max_length))
        out["length"] = [len(ids) for ids in out["input_ids"]]
        out["labels"] = batch["flags"]
        return out

    def collator(self, tokenizer, pad_multiple):
        from itt.data.collation import PaddingCollator

        pad = PaddingCollator(tokenizer, pad_multiple)

        def collate(features):
            flags = torch.tensor([f.pop("labels") for f in features], dtype=torch.float)
            return {**pad(features), "labels": flags}
        return collate

    def auto_model(self):
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification

    def model_kwargs(self, labels):
        return {"num_labels": 2, "problem_type": "multi_label_classification"}

    def evaluator(self, labels, rows=None):
        return _ExactMatch()


def _flag_rows(rng, lang, domain, n_rows, k):
    rows = []
    for i in range(n_rows):
        a, b = rng.random() < 0.5, rng.random() < 0.5
        rows.append({"text": f"{'cheap' if a else 'costly'} and {'fast' if b else 'slow'} item {i}", "flags": [float(a), float(b)]})
    return rows


# Its offline stand-in, shipped with the kind: registered at import (the run imports this module for
# task.kind=test_stages_and_evals.TwoFlags), nothing edited in itt/.
FLAGS = register_generator(
    Generator(name="flags", kind=TwoFlags.kind, domains=("general",), make_rows=_flag_rows,
              resolve_labels=fixed_labels("flags", ("a", "b")), label_names=lambda domain, k: ["a", "b"], langs=("en",)),
    default_for_kind=True, row_keys={"text", "flags"})


class _ExactMatch(ItemMetric):
    def __init__(self):
        super().__init__(torch.float32)

    def predict(self, outputs, batch):
        return (outputs.logits > 0).float()

    def score(self, preds, golds):
        return {"exact": (preds == golds).all(dim=-1).float().mean()}


@pytest.mark.slow
def test_a_kind_defined_only_in_a_test_module_trains_end_to_end(tmp_path):
    data = tmp_path / "flags.csv"
    with open(data, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "a", "b"])
        for i in range(120):
            writer.writerow([f"{'cheap' if i % 2 else 'costly'} and {'fast' if i % 3 else 'slow'} item {i}", i % 2, int(i % 3 > 0)])
    command = [sys.executable, "-m", "itt.train", "model=bert", "task=sentiment", "+stage=target", "stage.itt=false",
               *ITT_TINY, "task.kind=test_stages_and_evals.TwoFlags", "task.primary_metric=exact",
               f"task.datasets.domain.path={data}", "task.datasets.domain.text_fields=[text]", "trainer.max_epochs=2",
               f"paths.root={tmp_path}"]
    result = subprocess.run(command, cwd=REPO, env=itt_env({"PYTHONPATH": str(REPO / "tests")}),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = _ok(read_ledger(tmp_path), stage="target")
    assert row["kind"] == "test_stages_and_evals.TwoFlags" and set(row["metrics"]) == {"val/exact", "test/exact"}
    assert row["selected_on"] == "val/exact" and 0.0 <= row["metrics"]["test/exact"] <= 1.0


@pytest.mark.slow
def test_a_kind_defined_only_in_a_test_module_runs_offline_on_its_own_generator(tmp_path):
    command = [sys.executable, "-m", "itt.train", "model=bert", "task=sentiment", "+stage=target", "stage.itt=false",
               *ITT_TINY, "task.kind=test_stages_and_evals.TwoFlags", "task.primary_metric=exact", "task.generator=null",
               "task.datasets.domain.embedded_rows=120", "trainer.max_epochs=2", f"paths.root={tmp_path}"]
    result = subprocess.run(command, cwd=REPO, env=itt_env({"PYTHONPATH": str(REPO / "tests")}),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = _ok(read_ledger(tmp_path), stage="target")
    assert row["kind"] == "test_stages_and_evals.TwoFlags" and set(row["metrics"]) == {"val/exact", "test/exact"}
    assert row["dataset"]["key"] == "embedded:flags/en/movies" and sum(row["data_sizes"].values()) == 120
    assert 0.0 <= row["metrics"]["test/exact"] <= 1.0


@pytest.mark.slow
def test_a_parent_trained_by_a_target_logs_into_its_own_run(tmp_path):
    """One command, two runs: the intermediate the target pulls in logs under its own run directory
    (and would be its own W&B run), not the target's."""
    result = run_itt(*TARGET, root=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = _ok(read_ledger(tmp_path))
    for row in rows:
        metrics = tmp_path / "runs" / row["run_id"] / "csv" / "metrics.csv"
        assert metrics.exists(), row["run_id"]
        header = metrics.read_text().splitlines()[0]
        assert ("val/acc" in header), header
    hparams = (tmp_path / "runs" / rows[0]["run_id"] / "csv" / "hparams.yaml").read_text()
    assert f"run_id: {rows[0]['run_id']}" in hparams


@pytest.mark.slow
def test_an_eval_set_whose_labels_the_head_does_not_predict_is_refused(tmp_path):
    """An eval set is scored with the run's head: its gold label i must be the head's output i. The same
    test items, declared with the labels in another order, scored 1 - acc (0.6 against the own split's 0.4)
    instead of being refused; another label set (WNUT-17's tags on a WikiANN eval set) would index past them."""
    data = tmp_path / "data"
    data.mkdir()
    for split, n in (("train", 60), ("validation", 20), ("test", 20)):
        with open(data / f"{split}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["review", "stars"])
            writer.writerows([f"text {i} " + ("good" if i % 2 else "bad"), ("negative", "positive")[i % 2]] for i in range(n))
    own = (f"task.datasets.domain.path={data}", "task.datasets.domain.text_fields=[review]",
           "task.datasets.domain.label_field=stars", "task.datasets.domain.labels=[negative,positive]",
           "task.datasets.domain.label_map=null")
    evals = f"+task.evals={{same:{{path:{data},text_fields:[review],label_field:stars,labels:[positive,negative],lang:en}}}}"
    result = run_itt(*TARGET, "stage.itt=false", "split=official", *own, evals, root=tmp_path / "out")
    assert result.returncode != 0, "scored an eval set whose label i is not the head's label i"
    assert "task.evals.same: labels [positive, negative]" in result.stderr, result.stderr[-2000:]
    assert "the run's head predicts [negative, positive]" in result.stderr


def _hub_ner_run(tmp_path, *overrides, source="hub"):
    """``model=minilm task=ner`` on the hub code path (the hub_replica fixture answers every dataset from
    its offline replica, with the real ClassLabel names), built as the pipeline builds it; ``source=embedded``:
    on the generated stand-ins instead (split=paper: a stand-in is one pool)."""
    from hydra import compose, initialize_config_dir  # noqa: PLC0415

    from itt import identity  # noqa: PLC0415
    from itt.build import build_run  # noqa: PLC0415
    from itt.train import CONF_DIR  # noqa: PLC0415

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["model=minilm", "task=ner", "+stage=target", "stage.itt=false", f"source={source}",
                                          f"split={'official' if source == 'hub' else 'paper'}", f"paths.root={tmp_path}", *overrides])
    spec = identity.resolve(cfg)
    return spec, build_run(spec)


@pytest.mark.slow
def test_all_leaves_out_the_eval_sets_a_wnut17_head_cannot_score(hub_replica, tmp_path, caplog):
    """``stage.evals=all`` is every eval set the run can score: a WNUT-17 target (13 tags) leaves ner's
    WikiANN eval sets (7 tags) out, in one log line naming them and both tag sets, and builds; the run id
    still lists what ``all`` resolved to. WikiANN English as the target scores them all."""
    from itt import identity  # noqa: PLC0415

    caplog.set_level("WARNING", logger="itt.build")
    spec, built = _hub_ner_run(tmp_path, "stage.target=domain")
    wikiann = list(spec.cfg.task.evals)
    assert len(wikiann) == 39 and spec.evals == tuple(wikiann) and list(identity.run_payload(spec)["evals"]) == wikiann
    assert built.labels[:3] == ["O", "B-corporation", "I-corporation"] and len(built.labels) == 13
    assert built.evals == [] and [e.name for e in built.module.evals] == [None]
    (line,) = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert line.startswith(f"stage.evals=all: left out {', '.join(wikiann)} (labels [O, B-PER, I-PER, B-ORG, "), line
    assert "the run's head predicts [O, B-corporation, I-corporation, " in line and "name one in stage.evals" in line

    caplog.clear()
    _, built = _hub_ner_run(tmp_path, "stage.target=en")
    assert [p.name for p in built.evals] == wikiann
    assert not [r for r in caplog.records if "left out" in r.getMessage()]


@pytest.mark.slow
def test_offline_all_leaves_out_the_eval_sets_a_wnut17_head_cannot_score(tmp_path, caplog):
    """The same under source=embedded: the WNUT-17 stand-in has the hub's 13 tags, so ``all`` (the eval
    sets with a stand-in: de, es, fr) leaves the WikiANN stand-ins out, as the hub run leaves WikiANN out."""
    caplog.set_level("WARNING", logger="itt.build")
    spec, built = _hub_ner_run(tmp_path, "stage.target=domain", source="embedded")
    assert spec.evals == ("de", "es", "fr")
    assert built.labels == list(WNUT17_TAGS) and built.evals == []
    (line,) = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert line.startswith("stage.evals=all: left out de, es, fr (labels [O, B-PER, I-PER, "), line
    assert "the run's head predicts [O, B-corporation, I-corporation, " in line

    caplog.clear()
    _, built = _hub_ner_run(tmp_path, "stage.target=en", source="embedded")
    assert [p.name for p in built.evals] == ["de", "es", "fr"]
    assert not [r for r in caplog.records if "left out" in r.getMessage()]


@pytest.mark.slow
def test_a_named_eval_set_the_head_cannot_score_is_still_refused(hub_replica, tmp_path, caplog):
    """Named (not picked by ``all`` or a pattern), an eval set the head cannot score is the one-line error;
    picked by a pattern, it is left out like under ``all``."""
    from itt.errors import ConfigError  # noqa: PLC0415

    caplog.set_level("WARNING", logger="itt.build")
    _, built = _hub_ner_run(tmp_path, "stage.target=domain", "stage.evals=[f?]")
    assert built.evals == []
    assert [r.getMessage()[:45] for r in caplog.records if "left out" in r.getMessage()] == [
        "stage.evals=[f?]: left out fa, fi, fr (labels"]
    with pytest.raises(ConfigError, match=r"^task\.evals\.de: labels \[O, B-PER, .*but the run's head predicts \[O, B-corp"):
        _hub_ner_run(tmp_path, "stage.target=domain", "stage.evals=[de,fr]")
    with pytest.raises(ConfigError, match=r"^task\.evals\.de: labels"):  # named beside a pattern that picks it too
        _hub_ner_run(tmp_path, "stage.target=domain", "stage.evals=[d?,de]")


@pytest.mark.slow
def test_eval_sets_left_out_by_all_are_not_in_the_row_or_the_predictions(tmp_path):
    """What ``all`` left out (another label set than the head's) is in no part of the run's record: the
    ledger row's evals (which the W&B evals table and the report read) and the predictions hold the
    scored eval sets only; with every eval set left out the run still ends ok, scored on its own split."""
    for labels in (("negative", "positive"), ("negative", "neutral", "positive")):
        data = tmp_path / f"data{len(labels)}"
        data.mkdir()
        for split, n in (("train", 60), ("validation", 20), ("test", 20)):
            with open(data / f"{split}.csv", "w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(["review", "stars"])
                writer.writerows([f"text {i}", labels[i % len(labels)]] for i in range(n))
    own = ("stage.itt=false", "split=official", f"task.datasets.domain.path={tmp_path / 'data2'}",
           "task.datasets.domain.text_fields=[review]", "task.datasets.domain.label_field=stars",
           "task.datasets.domain.labels=[negative,positive]", "task.datasets.domain.label_map=null")
    three = f"{{path:{tmp_path / 'data3'},text_fields:[review],label_field:stars,labels:[negative,neutral,positive],lang:de}}"
    same = f"{{path:{tmp_path / 'data2'},text_fields:[review],label_field:stars,labels:[negative,positive],lang:fr}}"
    for evals, scored in ((f"+task.evals={{three:{three},same:{same}}}", ["same"]), (f"+task.evals={{three:{three}}}", [])):
        root = tmp_path / f"out{len(scored)}"
        result = run_itt(*TARGET, *own, evals, root=root)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "stage.evals=all: left out three (labels [negative, neutral, positive]): the run's head predicts " \
               "[negative, positive]" in result.stdout + result.stderr, result.stdout[-3000:]
        (row,) = read_ledger(root)
        assert row["status"] == "ok" and list(row["evals"]) == scored, row["evals"]
        assert not [k for k in row["metrics"] if "/three/" in k], row["metrics"]
        assert sorted(p.name for p in (root / "runs" / row["run_id"] / "predictions").iterdir()) == \
            sorted(["test.jsonl", *(f"{n}.jsonl" for n in scored)])


def test_a_mixture_leaves_out_what_a_pattern_picked_for_no_head_and_refuses_it_named(caplog):
    """A multi-head run (a mixture of label spaces) scores an eval set with the head of its label space:
    one no head has is left out when a pattern picked it, an error when named; retrieval is always kept."""
    from types import SimpleNamespace  # noqa: PLC0415

    from omegaconf import OmegaConf  # noqa: PLC0415

    from itt.build import scored_evals  # noqa: PLC0415
    from itt.errors import ConfigError  # noqa: PLC0415
    from itt.models import multihead  # noqa: PLC0415
    from itt.tasks import get_task  # noqa: PLC0415

    def prepared(name, kind, labels):
        return SimpleNamespace(name=name, task=get_task(kind), labels=labels)

    train = [prepared("a", "sequence_classification", ["neg", "pos"]), prepared("b", "sequence_classification", ["x", "y", "z"])]
    heads, _ = multihead.group_by_label_space([(p.name, p.task, p.labels) for p in train])
    evals = [prepared("e_b", "sequence_classification", ["x", "y", "z"]), prepared("e_other", "sequence_classification", ["u", "v"]),
             prepared("e_tatoeba", "retrieval", [])]
    cfg = OmegaConf.create({"intermediate": {"evals": ["e_*"]}})
    picked = SimpleNamespace(stage="intermediate", cfg=cfg, selected_evals=frozenset(p.name for p in evals),
                             same_data_evals=())
    caplog.set_level("WARNING", logger="itt.build")
    assert [p.name for p in scored_evals(picked, evals, heads, train)] == ["e_b", "e_tatoeba"]
    assert [r.getMessage() for r in caplog.records] == [
        "intermediate.evals=[e_*]: left out e_other (labels [u, v]): the mixture's heads predict [neg, pos] / [x, y, z]; "
        "name one in intermediate.evals to see the error"]
    named = SimpleNamespace(stage="intermediate", cfg=cfg, selected_evals=frozenset({"e_b", "e_tatoeba"}), same_data_evals=())
    with pytest.raises(ConfigError, match=r"^intermediate\.evals: 'e_other' \(sequence_classification \['u', 'v'\]\) has a label space no head"):
        scored_evals(named, evals, heads, train)
