"""Task kind extractive_qa: SQuAD/MLQA scoring against hand-computed values, windows and their labels on
a real tokenizer, post-processing from constructed logits, canonical rows from the hub replicas, and a
run end to end through ``python -m itt.train``."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import OFFLINE, read_ledger, run_itt
from datasets import Dataset
from hub_replicas.fixture import hub_replica  # noqa: F401
from omegaconf import OmegaConf

from itt.data import embedded
from itt.data.preparation import Protocol, split_rows
from itt.data.splitting import make_splits
from itt.errors import ConfigError, DataError
from itt.schema import DatasetSpec
from itt.tasks import RawColumns, get_task
from itt.tasks.extractive_qa.predictions import SpanMetric
from itt.tasks.extractive_qa.scoring import best_scores, gold_item, item_scores, normalize_squad, normalizer

# -- scoring ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("pred, golds, em, f1", [
    ("the Eiffel Tower!", ["Eiffel tower"], 1.0, 1.0),             # article, punctuation, case
    ("  A  big\tdog ", ["big dog"], 1.0, 1.0),                      # whitespace collapsed, article dropped
    ("U.S.", ["US"], 1.0, 1.0),                                     # punctuation inside a word
    ("theater", ["the ater"], 0.0, 0.0),                            # 'the' only as a whole word: "theater" vs "ater"
    ("Carl Scheele", ["Carl Wilhelm Scheele", "Scheele"], 0.0, 0.8),  # P=1, R=2/3 vs the first: 0.8 > 2/3
    ("an apple pie", ["apple tart"], 0.0, 0.5),                     # 1 shared token of 2 and 2
    ("Scheele", ["Carl Wilhelm Scheele", "Scheele"], 1.0, 1.0),     # max over gold answers
    ("the", ["a"], 1.0, 0.0),                                       # both empty after normalisation: EM 1, F1 0 (v1.1)
    ("", ["Paris"], 0.0, 0.0),
    ("paris paris", ["Paris"], 0.0, 2 / 3),                          # P=1/2 (one shared of two), R=1
])
def test_squad_exact_match_and_f1_by_hand(pred, golds, em, f1):
    assert best_scores(pred, golds) == pytest.approx((em, f1))
    assert item_scores(gold_item(golds), pred) == pytest.approx((em, f1))
    assert item_scores(golds, pred) == pytest.approx((em, f1))  # a plain list of answers: SQuAD's rules


def test_squad_normalisation_steps():
    assert normalize_squad("  The  Quick, brown FOX!  ") == "quick brown fox"
    assert normalize_squad("«Faust»") == "«faust»"  # SQuAD removes ASCII punctuation only


@pytest.mark.parametrize("lang, pred, gold, squad, mlqa", [
    ("de", "der Rhein", "Rhein", (0.0, 2 / 3), (1.0, 1.0)),           # German article
    ("de", "„Faust“", "Faust", (0.0, 0.0), (1.0, 1.0)),               # Unicode quotation marks (categories Ps, Pf)
    ("es", "la casa", "casa", (0.0, 2 / 3), (1.0, 1.0)),
    ("zh", "北京市", "北京", (0.0, 0.0), (0.0, 0.8)),                   # characters: 2 shared of 3 and 2
    ("ar", "الكتاب", "كتاب", (0.0, 0.0), (1.0, 1.0)),                 # every "ال" goes
    ("en", "the 'Eiffel' tower", "Eiffel Tower", (1.0, 1.0), (1.0, 1.0)),  # English: the same as SQuAD here
])
def test_mlqa_normalisation_differs_per_language(lang, pred, gold, squad, mlqa):
    assert best_scores(pred, [gold]) == pytest.approx(squad)
    assert best_scores(pred, [gold], normalizer("mlqa", lang)) == pytest.approx(mlqa)
    assert item_scores(gold_item([gold], "mlqa", lang), pred) == pytest.approx(mlqa)


def test_mlqa_normalisation_outside_mlqa_languages_is_a_config_error():
    with pytest.raises(ValueError, match="defined for ar, de, en, es, hi, vi, zh"):
        normalizer("mlqa", "fi")
    with pytest.raises(ConfigError, match="dataset x.*not lang='fi'"):
        get_task("extractive_qa", options={"normalization": "mlqa"}, spec=DatasetSpec(path="x", lang="fi"))
    with pytest.raises(ConfigError, match="task.options.n_best=0"):
        get_task("extractive_qa", options={"n_best": 0})



def _official_scores(prediction: str, gold: str, lang: str | None) -> tuple[float, float]:
    """(EM, F1) as SQuAD v1.1's ``evaluate-v1.1.py`` (``lang`` None) or MLQA's ``mlqa_evaluation_v1.py``
    (``lang``) compute them, written out here step by step as the scripts do."""
    import re
    import string
    from collections import Counter

    punct = _mlqa_punctuation()

    def normalize(text: str) -> str:
        text = text.lower()
        if lang is None:
            text = "".join(ch for ch in text if ch not in set(string.punctuation))
            return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())
        text = "".join(ch for ch in text if ch not in punct)
        articles = {"en": r"\b(a|an|the)\b", "es": r"\b(un|una|unos|unas|el|la|los|las)\b",
                    "vi": r"\b(của|là|cái|chiếc|những)\b",
                    "de": r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b", "ar": "\\sال^|ال"}
        if lang in articles:
            text = re.sub(articles[lang], " ", text)
        if lang != "zh":
            tokens = text.split()
        else:  # mixed segmentation: each CJK character or punctuation mark alone, whitespace words elsewhere
            tokens, pending = [], ""
            for ch in text:
                if re.search(r"[\u4e00-\u9fa5]", ch) or ch in punct:
                    tokens += pending.split()
                    pending = ""
                    tokens.append(ch)
                else:
                    pending += ch
            tokens += pending.split()
        return " ".join(t for t in tokens if t.strip() != "")

    pred_tokens, gold_tokens = normalize(prediction).split(), normalize(gold).split()
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    f1 = 0.0 if same == 0 else 2 * same / (len(pred_tokens) + len(gold_tokens))
    return float(normalize(prediction) == normalize(gold)), f1


@functools.cache
def _mlqa_punctuation() -> frozenset[str]:
    """MLQA's PUNCT: every character of a Unicode category P*, and ``string.punctuation``."""
    import string
    import sys
    import unicodedata

    return frozenset({chr(i) for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P")}
                     | set(string.punctuation))


def test_squad_and_mlqa_scores_equal_the_official_scripts_on_random_strings():
    import random

    pieces = [*"abcdeTHE thé an A ,.;:!?'\"()-$%", "the ", " a ", " an ", "An ", "der ", "Die ", "des ", "el ", "LA ",
              "unos ", "của ", "là ", "ال", "الكتاب ", "北", "京市", "。", "、", "„", "“", "«", "»", "¿", "–", "\t", "\n",
              "\u00a0", "\u3000", "ß", "İ", "ǅ", "3.5", "U.S."]
    rng = random.Random(0)
    for _ in range(3000):
        pred, gold = ("".join(rng.choice(pieces) for _ in range(rng.randint(0, 10))) for _ in range(2))
        assert best_scores(pred, [gold]) == pytest.approx(_official_scores(pred, gold, None)), (pred, gold)
        for lang in ("ar", "de", "en", "es", "hi", "vi", "zh"):
            assert best_scores(pred, [gold], normalizer("mlqa", lang)) == pytest.approx(
                _official_scores(pred, gold, lang)), (lang, pred, gold)


def test_the_report_scores_qa_items_like_the_run():
    from itt.report.scorers import get_scorer

    golds = [gold_item(["Rhein"], "mlqa", "de"), gold_item(["Carl Wilhelm Scheele", "Scheele"])]
    preds = ["der Rhein", "Carl Scheele"]
    assert get_scorer("test/em", "extractive_qa")(golds, preds) == pytest.approx(0.5)
    assert get_scorer("f1", "extractive_qa")(golds, preds) == pytest.approx((1.0 + 0.8) / 2)


# -- windows and post-processing on the real MiniLM tokenizer --------------------------------------

FILLER = "the old ship sailed across the quiet sea and " * 7
LONG = {"id": "q1", "question": "Where is the treasure hidden?", "context": FILLER + "the treasure is hidden in valparaiso near the harbour.",
        "answers": {"text": ["valparaiso"], "answer_start": [len(FILLER) + len("the treasure is hidden in ")]}}


@pytest.fixture
def tokenizer(minilm_tokenizer):
    return minilm_tokenizer


def _batch(*rows):
    return {key: [r[key] for r in rows] for key in rows[0]}


def _collated(task, tokenizer, features, indices):
    collate = task.collator(tokenizer, 1)
    return collate([{k: features[k][i] for k in features if k != "length"} for i in indices])


def test_a_long_context_is_split_and_only_the_window_holding_the_answer_points_at_it(tokenizer):
    task = get_task("extractive_qa", options={"doc_stride": 16})
    train = task.encode(_batch(LONG), tokenizer, 64, training=True)
    evaluation = task.encode(_batch(LONG), tokenizer, 64, training=False)
    assert len(train["input_ids"]) == 2 and all(n <= 64 for n in train["length"])
    assert train["start_positions"][0] == train["end_positions"][0] == 0  # window 1: CLS (BERT's first token)
    s, e = train["start_positions"][1], train["end_positions"][1]
    assert 0 < s <= e
    assert (evaluation["start_positions"], evaluation["end_positions"]) == (train["start_positions"], train["end_positions"])
    assert LONG["context"][evaluation["offset_start"][1][s]:evaluation["offset_end"][1][e]] == "valparaiso"
    assert evaluation["example_id"] == ["q1", "q1"] and "example_id" not in train
    # The windows overlap by the stride: window 2's first context characters are inside window 1.
    first_of_2 = next(o for o in evaluation["offset_start"][1] if o >= 0)
    assert first_of_2 < max(evaluation["offset_end"][0])


def _logits(width, n, at, base=0.0):
    logits = torch.full((n, width), base)
    for (window, token), value in at.items():
        logits[window, token] = value
    return logits


def test_the_answer_comes_from_the_second_window_and_long_spans_are_skipped(tokenizer):
    features = get_task("extractive_qa", options={"doc_stride": 16}).encode(_batch(LONG), tokenizer, 64, training=False)
    s2, e2 = features["start_positions"][1], features["end_positions"][1]
    c0 = next(t for t, o in enumerate(features["offset_start"][0]) if o >= 0)  # window 1's first context token
    long_text = LONG["context"][features["offset_start"][0][c0]:features["offset_end"][0][c0 + 35]]
    for max_answer_length, expected in ((30, "valparaiso"), (40, long_text)):
        task = get_task("extractive_qa", options={"doc_stride": 16, "max_answer_length": max_answer_length})
        batch = _collated(task, tokenizer, features, [0, 1])
        width = batch["input_ids"].shape[1]
        # Window 1: the CLS token (not context: ignored) and a 36-token span outscore window 2's answer.
        start = _logits(width, 2, {(0, 0): 100, (0, c0): 30, (1, s2): 10}, base=-100)
        end = _logits(width, 2, {(0, 0): 100, (0, c0 + 35): 30, (1, e2): 10}, base=-100)
        metric = task.evaluator([], _batch(LONG))
        metric.update(SimpleNamespace(start_logits=start, end_logits=end), batch)
        (item,) = metric.items()
        assert item["pred"] == expected
        assert metric.compute()["em"].item() == float(expected == "valparaiso")


def test_n_best_limits_the_candidates_of_a_window(tokenizer):
    row = {"id": "q2", "question": "Who won?", "context": "In the final match of the long season the red team won again.",
           "answers": {"text": ["the red team"], "answer_start": [38]}}
    probe = get_task("extractive_qa").encode(_batch(row), tokenizer, 64, training=False)
    c = [t for t, o in enumerate(probe["offset_start"][0]) if o >= 0]
    # The best start (c[9]) has no end after it among the top ends; the second start (c[2]) does (c[4]).
    # CLS scores highest but is not context: it takes none of the n-best places (run_qa.py's would lose one).
    at_start, at_end = {(0, 0): 50, (0, c[9]): 9, (0, c[2]): 8}, {(0, 0): 50, (0, c[4]): 9}
    expected = row["context"][probe["offset_start"][0][c[2]]:probe["offset_end"][0][c[4]]]
    for n_best, pred in ((1, ""), (2, expected), (500, expected)):  # 500: more than the window's tokens
        task = get_task("extractive_qa", options={"n_best": n_best})
        batch = _collated(task, tokenizer, probe, [0])
        width = batch["input_ids"].shape[1]
        metric = task.evaluator([], _batch(row))
        metric.update(SimpleNamespace(start_logits=_logits(width, 1, at_start), end_logits=_logits(width, 1, at_end)), batch)
        assert metric.items()[0]["pred"] == pred


def test_windows_seen_by_different_processes_merge_into_the_same_answers(tokenizer):
    """DDP: each process keeps its own windows; torchmetrics concatenates the list states."""
    other = {"id": "q3", "question": "What did the ship cross?", "context": "The old ship crossed the quiet sea at night.",
             "answers": {"text": ["the quiet sea"], "answer_start": [21]}}
    task = get_task("extractive_qa", options={"doc_stride": 16})
    rows = _batch(LONG, other)
    features = task.encode(rows, tokenizer, 64, training=False)
    assert features["example_id"] == ["q1", "q1", "q3"]
    torch.manual_seed(0)
    outputs = {}
    for i in range(3):
        width = len(features["input_ids"][i])
        outputs[i] = (torch.randn(1, width), torch.randn(1, width))

    def fed(metric, indices):
        for i in indices:
            batch = _collated(task, tokenizer, features, [i])
            metric.update(SimpleNamespace(start_logits=outputs[i][0], end_logits=outputs[i][1]), batch)
        return metric

    whole = fed(task.evaluator([], rows), [0, 1, 2])
    first, second = fed(task.evaluator([], rows), [1]), fed(task.evaluator([], rows), [2, 0])
    first.merge_state(second)
    assert first.items() == whole.items() and len(whole.items()) == 2
    assert [i["gold"]["text"] for i in whole.items()] == [["valparaiso"], ["the quiet sea"]]  # row order
    assert {k: v.item() for k, v in first.compute().items()} == {k: v.item() for k, v in whole.compute().items()}


def test_duplicate_ids_in_evaluation_rows_are_a_data_error():
    with pytest.raises(DataError, match="share the id 'q1'"):
        SpanMetric(_batch(LONG, LONG))


# -- canonical rows --------------------------------------------------------------------------------

def test_tydiqa_rows_are_kept_by_the_language_their_id_names(hub_replica):
    from itt.data.canonical import canonicalize
    from itt.data.loading import load_raw

    for lang, prefix in (("en", "english-"), ("fi", "finnish-")):
        spec = DatasetSpec(path="google-research-datasets/tydiqa", subset="secondary_task", text_fields=["question", "context"],
                           label_field="answers", splits={"train": "train", "validation": "validation"}, lang=lang)
        task = get_task("extractive_qa", options={"language_from_id": True}, spec=spec)
        raw, where = load_raw(spec, "hub")
        ctx = RawColumns(spec, [], where)
        rows = canonicalize(raw, task, ctx, None, 0)
        assert len(rows) == 2 and all(i.startswith(prefix) for i in rows["id"])  # one row per split in the replica
        assert sum(ctx.dropped.values()) == 2 * 8  # the row of each of the other eight languages, in both splits
        for row in rows:
            answer = row["answers"]
            assert row["context"][answer["answer_start"][0]:][:len(answer["text"][0])] == answer["text"][0]


def test_canonical_answers_in_both_layouts_and_bad_offsets():
    task = get_task("extractive_qa")
    ctx = RawColumns(DatasetSpec(path="x.jsonl"), [], "x.jsonl [train]")
    batch = {"question": ["Who?", "Where?", " "], "context": ["Anna did it.", "In Oslo.", "x"],
             "answers": [{"text": ["Anna"], "answer_start": [0]}, [{"text": "Oslo", "answer_start": 3}],
                         {"text": ["x"], "answer_start": [0]}]}
    out, kept = task.canonical_batch(batch, [0, 1, 2], ctx)
    assert kept == [0, 1] and out["answers"][1] == {"text": ["Oslo"], "answer_start": [3]}
    assert out["id"] == ["x.jsonl [train]#0", "x.jsonl [train]#1"] and ctx.dropped == {"empty text in 'question'": 1}
    bad = {**batch, "answers": [{"text": ["Anna"], "answer_start": [20]}] * 3}
    with pytest.raises(DataError, match=r"row 0: answer 'Anna' starts at 20, outside its context"):
        task.canonical_batch(bad, [0, 1, 2], ctx)


# -- end to end ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_qa_trains_and_tests_end_to_end_offline(tmp_path):
    result = run_itt("model=bert", "task=qa", "+stage=target", *OFFLINE, "trainer.max_epochs=1",
                     "task.datasets.intermediate.embedded_rows=200", "task.datasets.domain.embedded_rows=80",
                     "task.evals.xquad_de.embedded_rows=240", root=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_ledger(tmp_path)
    (target,) = [r for r in rows if r["stage"] == "target"]
    assert target["status"] == "ok" and target["kind"] == "extractive_qa" and target["head"] == "kept"
    assert {"val/em", "val/f1", "test/em", "test/f1", "test/xquad_de/em", "test/xquad_de/f1"} <= set(target["metrics"])
    folder = Path(target["predictions"])
    own = [json.loads(line) for line in (folder / "test.jsonl").read_text().splitlines()]
    xquad = [json.loads(line) for line in (folder / "xquad_de.jsonl").read_text().splitlines()]
    # One line per example (not per window), as many as the row's test items.
    assert len(own) == target["n_test"] == target["data_sizes"]["test"] == 19
    # (an eval set keeps the rows whose id the QA stand-ins' shared split holds out: 26 of 240)
    assert len(xquad) == target["evals"]["xquad_de"]["n"]["test"] == 26
    assert all(isinstance(i["pred"], str) and i["gold"]["text"] for i in own + xquad)
    # The report's item scorers reproduce the run's own numbers from the saved predictions.
    from itt.report.scorers import get_scorer

    for metric in ("em", "f1"):
        score = get_scorer(metric, "extractive_qa")([i["gold"] for i in own], [i["pred"] for i in own])
        assert score == pytest.approx(target["metrics"][f"test/{metric}"], abs=1e-6)


@pytest.mark.parametrize("model", ["bert", "xlnet"])  # xlnet: padding on the left, context first, CLS last
def test_every_training_label_of_generated_rows_points_at_its_answer(model, tmp_path):
    from hydra import compose, initialize_config_dir

    from itt import identity, schema
    from itt.models.loading import load_tokenizer, pretrained_source

    schema.register()
    identity.register_resolvers()
    with initialize_config_dir(config_dir=str(Path(__file__).resolve().parent.parent / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"model={model}", "source=embedded", "+stage=target"])
    tokenizer = load_tokenizer(pretrained_source(cfg.model, "embedded", tmp_path))
    rows = embedded.generate("qa", "en", "wiki", 120, seed=0)  # a third are longer than 128 tokens
    features = get_task("extractive_qa").encode(_batch(*rows), tokenizer, 128, training=False)
    by_id = {r["id"]: r for r in rows}
    answered = set()
    for i, row_id in enumerate(features["example_id"]):
        start, end = features["start_positions"][i], features["end_positions"][i]
        if features["input_ids"][i][start] == tokenizer.cls_token_id:
            assert start == end
            continue
        answer = by_id[row_id]["answers"]
        first, last = answer["answer_start"][0], answer["answer_start"][0] + len(answer["text"][0])
        # The smallest token span covering the answer: its first token holds the answer's first character,
        # its last token the last one (a token may be wider: the xlnet stand-in keeps "Omnio." whole).
        assert features["offset_start"][i][start] <= first < features["offset_end"][i][start]
        assert features["offset_start"][i][end] < last <= features["offset_end"][i][end]
        answered.add(row_id)
    assert len(features["example_id"]) > len(rows) and answered == set(by_id)



@pytest.mark.parametrize("model", ["bert", "xlnet"])  # xlnet: padding on the left, so a padded batch moves every token
def test_labels_point_at_the_same_tokens_after_a_batch_is_padded(model, tmp_path):
    """start/end_positions count from a window's first token; in a batch padded on the left the window's
    tokens sit after its padding, and the labels must move with them (else the loss trains the wrong tokens)."""
    from hydra import compose, initialize_config_dir

    from itt import identity, schema
    from itt.models.loading import load_tokenizer, pretrained_source

    schema.register()
    identity.register_resolvers()
    with initialize_config_dir(config_dir=str(Path(__file__).resolve().parent.parent / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"model={model}", "source=embedded", "+stage=target"])
    tokenizer = load_tokenizer(pretrained_source(cfg.model, "embedded", tmp_path))
    rows = embedded.generate("qa", "en", "wiki", 40, seed=0)
    task = get_task("extractive_qa")
    for training in (True, False):
        features = task.encode(_batch(*rows), tokenizer, 128, training=training)
        windows = range(len(features["input_ids"]))
        batch = _collated(task, tokenizer, features, windows)
        assert min(features["length"]) < batch["input_ids"].shape[1]  # some windows are padded
        answers = 0
        for i in windows:
            start, end = features["start_positions"][i], features["end_positions"][i]
            padded_start, padded_end = int(batch["start_positions"][i]), int(batch["end_positions"][i])
            assert batch["input_ids"][i, padded_start:padded_end + 1].tolist() == features["input_ids"][i][start:end + 1]
            assert bool(batch["attention_mask"][i, padded_start:padded_end + 1].all())
            answers += features["input_ids"][i][start] != tokenizer.cls_token_id
        assert answers >= len(rows)  # every row's answer is labelled in at least one window


def _paragraphs(n: int, questions: int = 3) -> list[dict]:
    """SQuAD-style rows from the embedded QA stand-in: ``n`` paragraphs, each ``questions`` stand-in contexts
    joined, with the stand-in's question about each part (the stand-in itself asks one question per context,
    SQuAD several: ~5 per paragraph)."""
    stories = embedded.generate("qa", "en", "wiki", n * questions, seed=0)
    rows = []
    for p in range(n):
        parts = stories[p * questions:(p + 1) * questions]
        context, offset = " ".join(r["context"] for r in parts), 0
        for q, r in enumerate(parts):
            starts = [s + offset for s in r["answers"]["answer_start"]]
            rows.append({"id": f"{p}-{q}", "question": r["question"], "context": context,
                         "answers": {"text": r["answers"]["text"], "answer_start": starts}})
            offset += len(r["context"]) + 1
    return rows


@pytest.mark.parametrize("eval_only", [False, True])
def test_paper_split_keeps_a_contexts_questions_in_one_split(tmp_path, eval_only):
    """Split per question, ~all paragraphs had questions in training and in test: the model read the test
    paragraph, and answers about it, in training. Now a context's questions land in one split."""
    path = tmp_path / "squad_like.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _paragraphs(200)))
    spec = DatasetSpec(path=str(path), text_fields=["question", "context"], label_field="answers")
    task = get_task("extractive_qa", spec=spec)
    split = OmegaConf.create({"name": "paper", "train": 0.7, "validation": 0.15, "test": 0.15})
    splits, _ = split_rows(spec, task, Protocol(split, 0, "hub", 128, Path("/nonexistent")), eval_only=eval_only)
    assert set(splits) == ({"validation", "test"} if eval_only else {"train", "validation", "test"})
    assert sum(len(d) for d in splits.values()) == 600
    contexts = {name: set(d["context"]) for name, d in splits.items()}
    for a in contexts:
        for b in contexts:
            assert a == b or not contexts[a] & contexts[b], (a, b, len(contexts[a] & contexts[b]))
    shares = {name: len(c) / 200 for name, c in contexts.items()}
    expected = {"validation": 0.5, "test": 0.5} if eval_only else {"train": 0.7, "validation": 0.15, "test": 0.15}
    assert shares == pytest.approx(expected, abs=0.08)


@pytest.mark.parametrize("declared", [("train",), ("train", "validation")])
def test_official_carve_keeps_a_contexts_questions_in_one_split(declared):
    """MLQA has no train split: under split=official the target trains on its test split minus a carved test
    part, and SQuAD's test is carved from its train. Carved per question, 666 of 678 MLQA de test questions had
    their paragraph in training; carved by context, none."""
    rows = Dataset.from_list(_paragraphs(200))
    canonical = {"train": rows, **({"validation": Dataset.from_list(_paragraphs(20))} if "validation" in declared else {})}
    split = OmegaConf.create({"name": "official", "train": 0.7, "validation": 0.15, "test": 0.15})
    out = make_splits(canonical, split, get_task("extractive_qa"), 0, "x")
    assert set(out) == {"train", "validation", "test"} and len(out["test"]) > 0
    carved = [name for name in ("validation", "test") if name not in declared]
    for name in carved:
        assert not set(out[name]["context"]) & set(out["train"]["context"]), name
    assert sum(len(out[n]) for n in ["train", *carved]) == 600
    # the run id and the cache key of such a dataset change (its cached features are other rows now)
    from itt.data.files import split_changes

    splits = {n: (n if n in declared else None) for n in ("train", "validation", "test")}
    assert split_changes("official", "hub", "facebook/mlqa", splits, by_id=False, eval_only=False,
                         grouped=True).get("official_carve_groups") == "by_group"
    assert "official_carve_groups" not in split_changes("official", "hub", "facebook/mlqa", splits, by_id=False,
                                                        eval_only=False, grouped=False)


@pytest.mark.parametrize("split_name", ["paper", "official"])
def test_translations_of_qa_rows_keep_a_paragraph_on_one_side_in_every_language(split_name):
    """An aligned QA dataset (XQuAD's or MLQA's languages) is split by shared id, and by each row's own id that
    put a paragraph's questions into all three splits: now by the smallest id of its paragraph, the same in
    every language, so the paragraph is on one side everywhere and translations stay together."""
    rows = _paragraphs(60)
    german = [{**r, "context": "de " + r["context"], "question": "de " + r["question"]} for r in rows]
    task = get_task("extractive_qa")
    split = OmegaConf.create({"name": split_name, "train": 0.7, "validation": 0.15, "test": 0.15})
    key = "pool" if split_name == "paper" else "train"
    out = {lang: make_splits({key: Dataset.from_list(data)}, split, task, 0, "x", by_id=True)
           for lang, data in (("en", rows), ("de", german))}
    for lang, parts in out.items():
        contexts = {name: set(ds["context"]) for name, ds in parts.items()}
        assert all(contexts.values())
        for a in contexts:
            for b in contexts:
                assert a == b or not contexts[a] & contexts[b], (lang, a, b)
    for name in ("train", "validation", "test"):
        assert set(out["en"][name]["id"]) == set(out["de"][name]["id"])