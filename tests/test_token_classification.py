"""Token classification: span F1 equal to seqeval's (and to hand counts), word accuracy, first-sub-token
label alignment on a real tokenizer, tags read from hub-like and local data, and the report's bootstrap
scorers giving the numbers the run logged."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.scheme import IOB2
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from itt import tag_scores
from itt.errors import ConfigError, DataError
from itt.report.scorers import get_scorer
from itt.schema import DatasetSpec
from itt.tasks import RawColumns, get_task
from itt.tasks.token_classification import IGNORE, first_subtoken_labels

NER = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]

# Hand-made sentences: a multi-word entity found exactly, a boundary error, a wrong type, a missed and a
# spurious entity, and an ill-formed I- tag (strict and default modes disagree on it).
GOLD = [["B-PER", "I-PER", "O", "B-LOC"],              # John Smith (PER), Paris (LOC)
        ["B-ORG", "I-ORG", "I-ORG", "O", "O"],         # a 3-word ORG
        ["O", "B-PER", "O", "B-LOC", "I-LOC"],
        ["O", "O", "B-ORG", "O"]]
PRED = [["B-PER", "I-PER", "O", "B-LOC"],              # both right: tp 2
        ["B-ORG", "I-ORG", "O", "O", "O"],             # boundary error: ORG 0-2 instead of 0-3
        ["O", "B-ORG", "O", "B-LOC", "O"],             # wrong type (ORG for PER) and boundary (LOC 3-4)
        ["I-ORG", "O", "B-ORG", "B-PER"]]              # ill-formed I-ORG (an entity only by default), ORG right, spurious PER
# By hand, default (conlleval) mode: gold entities 2+1+2+1 = 6; predicted 2+1+2+3 = 8; right: 2+0+0+1 = 3.
HAND_DEFAULT = {"precision": 3 / 8, "recall": 3 / 6, "f1": 2 * 3 / (8 + 6)}
# Strict IOB2: the lone I-ORG is no entity: predicted 7, right 3.
HAND_STRICT = {"precision": 3 / 7, "recall": 3 / 6, "f1": 2 * 3 / (7 + 6)}


def _pooled(gold, pred, strict):
    totals = np.sum([tag_scores.span_counts(g, p, strict) for g, p in zip(gold, pred)], axis=0)
    return tag_scores.span_scores(*totals)


@pytest.mark.parametrize("strict, hand", [(False, HAND_DEFAULT), (True, HAND_STRICT)])
def test_span_scores_equal_seqeval_and_hand_counts(strict, hand):
    got = _pooled(GOLD, PRED, strict)
    mode = {"mode": "strict", "scheme": IOB2} if strict else {}
    reference = {"precision": precision_score(GOLD, PRED, **mode), "recall": recall_score(GOLD, PRED, **mode),
                 "f1": f1_score(GOLD, PRED, **mode)}
    for name in ("precision", "recall", "f1"):
        assert got[name] == pytest.approx(reference[name], abs=1e-12)
        assert got[name] == pytest.approx(hand[name], abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_span_scores_equal_seqeval_on_random_sequences(seed):
    rng = np.random.default_rng(seed)
    tags = np.array(NER)
    gold = [list(tags[rng.integers(0, 7, rng.integers(1, 12))]) for _ in range(60)]
    pred = [[t if rng.random() < 0.7 else str(rng.choice(tags)) for t in g] for g in gold]
    for strict in (False, True):
        mode = {"mode": "strict", "scheme": IOB2} if strict else {}
        assert _pooled(gold, pred, strict)["f1"] == pytest.approx(f1_score(gold, pred, **mode), abs=1e-12)


def test_strict_reencoding_makes_the_default_mode_give_the_strict_figures():
    """Saved items of a strict run are re-encoded, so the report's (default-mode) scorer agrees with the run."""
    re_gold = [tag_scores.reencoded(g) for g in GOLD]
    re_pred = [tag_scores.reencoded(p) for p in PRED]
    assert re_pred[3] == ["O", "O", "B-ORG", "B-PER"]  # the lone I-ORG is gone
    assert f1_score(re_gold, re_pred) == pytest.approx(f1_score(GOLD, PRED, mode="strict", scheme=IOB2), abs=1e-12)


def test_entities_are_type_start_and_exclusive_end_in_both_modes():
    tags = ["B-PER", "I-PER", "O", "B-LOC", None, "I-ORG"]
    assert tag_scores.entities(tags) == {("PER", 0, 2), ("LOC", 3, 4), ("ORG", 5, 6)}
    assert tag_scores.entities(tags, strict=True) == {("PER", 0, 2), ("LOC", 3, 4)}  # a lone I-ORG is no entity


def test_word_accuracy_counts_unpredicted_words_as_wrong():
    gold = [["NOUN", "VERB", "PUNCT"], ["DET", "NOUN"]]
    pred = [["NOUN", "NOUN", None], ["DET"]]  # 2nd word wrong, 3rd and last cut off
    correct, words = np.sum([tag_scores.word_counts(g, p) for g, p in zip(gold, pred)], axis=0)
    assert (correct, words) == (2, 5)


def test_bio_rule():
    assert tag_scores.looks_like_bio(NER)
    assert tag_scores.looks_like_bio(["O", "B-corporation", "I-creative-work"])
    assert not tag_scores.looks_like_bio(["NOUN", "VERB", "ADJ"])
    assert not tag_scores.looks_like_bio(["O", "I-PER"])  # IOB1-like without B-: not span-scored automatically
    assert not tag_scores.looks_like_bio(["O", "B-PER", "X"])


# -- the evaluator ------------------------------------------------------------------------------------

def _feed(metric, gold_rows, predicted, kept, order):
    """Feed ``metric`` batches in ``order`` (row positions): each row's first ``kept`` words reach the
    model (label on a first sub-token, a second sub-token with -100 after it), predicted ``predicted``."""
    names = metric.labels
    width = 1 + 2 * max(kept) + 1
    for part in np.array_split(np.array(order), 2):
        labels = torch.full((len(part), width), IGNORE)
        logits = torch.zeros(len(part), width, len(names))
        for b, i in enumerate(part):
            for w in range(kept[i]):
                labels[b, 1 + 2 * w] = names.index(gold_rows[i][w])
                logits[b, 1 + 2 * w, names.index(predicted[i][w])] = 5.0
                logits[b, 2 + 2 * w, names.index("O" if "O" in names else names[0])] = 9.0  # -100 position: ignored
        metric.update(SimpleNamespace(logits=logits), {"labels": labels, "idx": torch.tensor(part)})


def test_evaluator_scores_words_from_first_subtokens_and_counts_cut_words():
    task = get_task("token_classification", "f1")
    rows = Dataset.from_dict({"tokens": [["w"] * len(g) for g in GOLD], "tags": [[NER.index(t) for t in g] for g in GOLD]})
    metric = task.evaluator(NER, rows)
    kept = [4, 5, 3, 4]  # sentence 2 loses its last two words (B-LOC I-LOC gold) to max_length
    _feed(metric, GOLD, PRED, kept, order=[2, 0, 3, 1])
    got = {k: float(v) for k, v in metric.compute().items()}
    seen_pred = [p[:k] + ["O"] * (len(p) - k) for p, k in zip(PRED, kept)]
    assert got["f1"] == pytest.approx(f1_score(GOLD, seen_pred), abs=1e-6)
    assert set(got) == {"f1", "precision", "recall"}
    items = metric.items()
    assert [i["gold"] for i in items] == GOLD
    assert items[2]["pred"] == ["O", "B-ORG", "O", None, None]  # in row order; cut words have no prediction


def test_pos_evaluator_is_word_accuracy_and_picks_acc_as_primary():
    upos = ["NOUN", "VERB", "DET", "PUNCT"]
    gold = [["DET", "NOUN", "VERB", "PUNCT"], ["NOUN", "VERB"]]
    pred = [["DET", "NOUN", "NOUN", "PUNCT"], ["NOUN", "VERB"]]
    task = get_task("token_classification")  # no primary metric given (e.g. a spec with kind: in another task)
    rows = Dataset.from_dict({"tokens": [["w"] * 4, ["w"] * 2], "tags": [[upos.index(t) for t in g] for g in gold]})
    metric = task.evaluator(upos, rows)
    assert task.primary_metric == "acc"
    _feed(metric, gold, pred, kept=[3, 2], order=[1, 0])  # the PUNCT of sentence 0 is cut off
    assert float(metric.compute()["acc"]) == pytest.approx(4 / 6)  # DET NOUN | NOUN VERB right; VERB wrong; PUNCT unseen


def test_metric_choice_and_options_fail_with_one_line():
    with pytest.raises(ConfigError, match="primary_metric='f1'.*not computed"):
        get_task("token_classification", "f1").evaluator(["NOUN", "VERB"])
    with pytest.raises(ConfigError, match="spans=true.*not BIO"):
        get_task("token_classification", None, {"spans": True}).evaluator(["NOUN", "VERB"])
    assert get_task("token_classification", "acc", {"spans": False}).evaluator(NER) is not None
    with pytest.raises(ConfigError, match="task.options.spans='yes'"):
        get_task("token_classification", None, {"spans": "yes"})


# -- label alignment on real tokenizers ---------------------------------------------------------------


def test_first_subtoken_carries_the_tag_on_minilm(minilm_tokenizer):
    task = get_task("token_classification", "f1")
    words = ["Dr", "Unbelievably", "Kowalczykowski", "visited", "Saskatoon", "."]
    tags = [1, 2, 2, 0, 5, 0]
    out = task.encode({"tokens": [words], "tags": [tags]}, minilm_tokenizer, 64, training=True)
    enc = minilm_tokenizer(words, is_split_into_words=True)
    word_ids = enc.word_ids()
    assert len(set(w for w in word_ids if w is not None)) == len(words)
    assert sum(word_ids.count(w) > 1 for w in range(len(words))) >= 2  # the tokenizer really splits words
    labels = out["labels"][0]
    assert out["input_ids"][0] == enc["input_ids"] and out["length"] == [len(enc["input_ids"])]
    for pos, w in enumerate(word_ids):
        first = w is not None and (pos == 0 or word_ids[pos - 1] != w)
        assert labels[pos] == (tags[w] if first else IGNORE), (pos, w)
    assert [t for t in labels if t != IGNORE] == tags  # each word exactly once, in order


def test_words_without_tokens_get_the_unknown_token_and_cut_words_get_no_label(minilm_tokenizer):
    task = get_task("token_classification", "f1")
    words = ["Anna", "\u200b", "lives", "in", "Oslo"]  # a zero-width space: no token of its own
    tags = [1, 0, 0, 0, 5]
    assert None not in minilm_tokenizer(words, is_split_into_words=True).word_ids()[1:-1]
    assert 1 not in minilm_tokenizer(words, is_split_into_words=True).word_ids()  # the tokenizer drops it
    out = task.encode({"tokens": [words], "tags": [tags]}, minilm_tokenizer, 64, training=False)
    assert [t for t in out["labels"][0] if t != IGNORE] == tags
    assert minilm_tokenizer.unk_token_id in out["input_ids"][0]
    short = task.encode({"tokens": [words], "tags": [tags]}, minilm_tokenizer, 4, training=False)
    assert len(short["input_ids"][0]) == 4 and [t for t in short["labels"][0] if t != IGNORE] == tags[:2]


def test_byte_level_bpe_without_prefix_space_splits_words_as_in_running_text():
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    text = ["the world is wide and the sea is deep", "world peace in the world"] * 20
    tok.train_from_iterator(text, trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<unk>"],
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>")
    words = ["the", "world", "is", "deep"]
    out = get_task("token_classification", "acc", {"spans": False}).encode(
        {"tokens": [words], "tags": [[0, 1, 0, 1]]}, tokenizer, 32, training=True)
    assert out["input_ids"][0] == tokenizer(" ".join(words))["input_ids"]  # "Ġworld", not "world"
    assert [t for t in out["labels"][0] if t != IGNORE] == [0, 1, 0, 1]


def test_first_subtoken_labels_skips_specials_between_words():
    assert first_subtoken_labels([None, 0, 0, 1, None, 2, 2, None], [7, 8, 9]) == [IGNORE, 7, IGNORE, 8, IGNORE, 9, IGNORE, IGNORE]


# -- raw data -> canonical rows -----------------------------------------------------------------------

def _canonical(task, splits: dict, spec: DatasetSpec):
    raw = DatasetDict(splits)
    labels = task.label_names(raw, spec)
    ds = raw["train"]
    ctx = RawColumns(spec, labels, "test.data", ds.features)
    out, keep = task.canonical_batch(ds[:], list(range(len(ds))), ctx)
    return labels, out, keep, ctx


def test_classlabel_tags_with_a_declared_order_and_dropped_multiword_lines():
    ud = ["NOUN", "PUNCT", "_", "AUX", "PART", "VERB"]  # UD's own ClassLabel order, with '_' for multiword lines
    features = Features({"tokens": List(Value("string")), "upos": List(ClassLabel(names=ud))})
    ds = Dataset.from_dict({"tokens": [["don't", "do", "n't", "go", "."]], "upos": [[2, 3, 4, 5, 1]]}, features=features)
    spec = DatasetSpec(path="x", text_fields=["tokens"], label_field="upos",
                       labels=["AUX", "NOUN", "PART", "PUNCT", "VERB"], label_map={"_": None})
    task = get_task("token_classification", "acc")
    labels, out, keep, _ = _canonical(task, {"train": ds}, spec)
    assert labels == spec.labels
    assert out["tokens"] == [["do", "n't", "go", "."]]
    assert out["tags"] == [[0, 2, 4, 3]]  # AUX PART VERB PUNCT in the declared order


def test_string_tags_without_declared_names_and_bad_rows():
    ds = Dataset.from_dict({"w": [["a", "b"], ["c"], ["d", "e"]], "t": [["B-X", "O"], ["O"], ["I-X", "Q"]]})
    spec = DatasetSpec(path="x", text_fields=["w"], label_field="t", label_map={"Q": "O"})
    task = get_task("token_classification", "f1")
    labels, out, _, _ = _canonical(task, {"train": ds}, spec)
    assert labels == ["B-X", "I-X", "O"]  # sorted distinct values, Q renamed to O
    assert out["tags"][2] == [1, 2]
    bad = Dataset.from_dict({"w": [["a", "b"]], "t": [["O"]]})
    with pytest.raises(DataError, match="row 0: 2 words in 'w' but 1 tags in 't'"):
        _canonical(task, {"train": bad}, DatasetSpec(path="x", text_fields=["w"], label_field="t"))
    unknown = Dataset.from_dict({"w": [["a"]], "t": [["B-Y"]]})
    with pytest.raises(DataError, match="tag 'B-Y' in 't' is not a declared tag"):
        _canonical(task, {"train": unknown}, DatasetSpec(path="x", text_fields=["w"], label_field="t", labels=["O", "B-X"]))


# -- the report's bootstrap scorers ---------------------------------------------------------------------

def test_report_scorers_score_sentence_items_like_the_run(tmp_path):
    items = [{"pred": p, "gold": g} for g, p in zip(GOLD, PRED)] + [{"pred": ["O", None], "gold": ["O", "B-PER"]}]
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    from itt.report.intervals import read_predictions

    gold, pred = read_predictions(path)
    filled = [[t or "O" for t in i["pred"]] for i in items]
    golds = [i["gold"] for i in items]
    assert get_scorer("f1", "token_classification")(gold, pred) == pytest.approx(f1_score(golds, filled), abs=1e-12)
    assert get_scorer("precision", "token_classification")(gold, pred) == pytest.approx(precision_score(golds, filled), abs=1e-12)
    assert get_scorer("recall", "token_classification")(gold, pred) == pytest.approx(recall_score(golds, filled), abs=1e-12)
    words = sum(len(g) for g in golds)
    right = sum(p == g for i in items for g, p in zip(i["gold"], i["pred"]))
    assert get_scorer("acc")(gold, pred) == pytest.approx(right / words)  # words, not sentences
    assert get_scorer("acc")(np.array([1, 2, 3]), np.array([1, 0, 3])) == pytest.approx(2 / 3)  # labels as before
