"""Multiple choice: accuracy on hand-made logits, (batch, choices, width) batches, the inputs a row
becomes, and COPA/XCOPA/Social IQa labels read through the spec convention."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from datasets import ClassLabel, Dataset, Features, Value

from itt.errors import DataError
from itt.schema import DatasetSpec
from itt.tasks import RawColumns, get_task


@pytest.fixture
def tokenizer(minilm_tokenizer):
    return minilm_tokenizer


def test_accuracy_on_hand_made_logits_in_row_order():
    metric = get_task("multiple_choice").evaluator([])
    # rows 0..4; right choices 1, 0, 2, 1, 0; predicted (argmax) 1, 2, 2, 0, 0 -> 3 of 5 right
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.2, 0.1, 0.7], [0.0, 0.1, 0.3], [0.5, 0.4, 0.1], [2.0, 1.0, 1.5]])
    golds = torch.tensor([1, 0, 2, 1, 0])
    for part in ([3, 1], [0, 4, 2]):
        idx = torch.tensor(part)
        metric.update(SimpleNamespace(logits=logits[idx]), {"labels": golds[idx], "idx": idx})
    assert float(metric.compute()["acc"]) == pytest.approx(3 / 5)
    assert metric.items() == [{"pred": p, "gold": g} for p, g in zip([1, 2, 2, 0, 0], [1, 0, 2, 1, 0])]


def test_a_row_becomes_one_pair_per_choice_with_the_question_phrased(tokenizer):
    task = get_task("multiple_choice")
    batch = {"premise": ["The man turned on the faucet.", "Tracy resisted."], "question": ["effect", "Why did Tracy do this?"],
             "choices": [["The toilet filled with water.", "Water flowed from the spout."], ["to rest", "to win", "to hide"]],
             "label": [1, 2]}
    out = task.encode(batch, tokenizer, 64, training=True)
    assert [len(row) for row in out["input_ids"]] == [2, 3] and out["labels"] == [1, 2]
    first = tokenizer.decode(out["input_ids"][0][1])
    assert first == "[CLS] the man turned on the faucet. what happened as a result? [SEP] water flowed from the spout. [SEP]"
    assert tokenizer.decode(out["input_ids"][1][0]).startswith("[CLS] tracy resisted. why did tracy do this? [SEP] to rest")
    assert out["length"] == [max(len(ids) for ids in row) for row in out["input_ids"]]


def test_collator_pads_to_batch_choices_width(tokenizer):
    task = get_task("multiple_choice")
    batch = {"premise": ["A short one.", "A much longer premise that goes on and on for a while."], "question": ["cause", ""],
             "choices": [["x", "y y y y"], ["z", "w"]], "label": [0, 1]}
    enc = task.encode(batch, tokenizer, 64, training=False)
    features = [{key: enc[key][i] for key in enc if key != "length"} | {"idx": i} for i in range(2)]
    out = task.collator(tokenizer, 8)(features)
    widest = max(len(ids) for row in enc["input_ids"] for ids in row)
    width = -(-widest // 8) * 8
    assert out["input_ids"].shape == out["attention_mask"].shape == out["token_type_ids"].shape == (2, 2, width)
    assert out["labels"].tolist() == [0, 1] and out["labels"].dtype == torch.long and out["idx"].tolist() == [0, 1]
    n = len(enc["input_ids"][0][1])
    assert out["input_ids"][0, 1, :n].tolist() == enc["input_ids"][0][1]
    assert (out["input_ids"][0, 1, n:] == tokenizer.pad_token_id).all() and out["attention_mask"][0, 1].sum() == n
    ragged = features[:1] + [{**features[1], **{k: features[1][k][:1] for k in ("input_ids", "attention_mask", "token_type_ids")}}]
    with pytest.raises(DataError, match=r"rows with \[1, 2\] choices in one batch"):
        task.collator(tokenizer, 1)(ragged)


def _canonical(ds, spec):
    task = get_task("multiple_choice")
    ctx = RawColumns(spec, [], "test.data", ds.features)
    return task.canonical_batch(ds[:], list(range(len(ds))), ctx)


def test_copa_siqa_and_xcopa_labels_through_the_spec_convention():
    copa = Dataset.from_dict({"premise": ["P1", "P2"], "question": ["cause", "effect"], "choice1": ["a", "c"],
                              "choice2": ["b", "d"], "label": [1, 0]},
                             features=Features({"premise": Value("string"), "question": Value("string"), "choice1": Value("string"),
                                                "choice2": Value("string"), "label": ClassLabel(names=["choice1", "choice2"])}))
    out, keep = _canonical(copa, DatasetSpec(path="x", text_fields=["premise", "question", "choice1", "choice2"]))
    assert out == {"premise": ["P1", "P2"], "question": ["cause", "effect"], "choices": [["a", "b"], ["c", "d"]], "label": [1, 0]}
    siqa = Dataset.from_dict({"context": ["C"], "question": ["Q?"], "answerA": ["a"], "answerB": ["b"], "answerC": ["c"], "label": ["3"]})
    spec = DatasetSpec(path="x", text_fields=["context", "question", "answerA", "answerB", "answerC"],
                       label_map={"1": "0", "2": "1", "3": "2"})
    assert _canonical(siqa, spec)[0]["label"] == [2]
    endings = Dataset.from_dict({"ctx": ["C"], "endings": [["e0", "e1", "e2", "e3"]], "label": [3]})
    out, _ = _canonical(endings, DatasetSpec(path="x", text_fields=["ctx", "", "endings"]))
    assert out["question"] == [""] and out["choices"] == [["e0", "e1", "e2", "e3"]]


def test_unlabelled_or_misdeclared_rows_fail_with_one_line():
    hidden = Dataset.from_dict({"premise": ["P"], "question": ["cause"], "choice1": ["a"], "choice2": ["b"], "label": [-1]})
    with pytest.raises(DataError, match=r"row 0: label -1 is not a choice index 0..1 \(hidden test labels"):
        _canonical(hidden, DatasetSpec(path="x", text_fields=["premise", "question", "choice1", "choice2"]))
    with pytest.raises(DataError, match="text_fields for multiple_choice are"):
        _canonical(hidden, DatasetSpec(path="x", text_fields=["premise", "choice1"]))
    with pytest.raises(DataError, match="labels is not used by multiple_choice"):
        _canonical(hidden, DatasetSpec(path="x", text_fields=["premise", "question", "choice1", "choice2"], labels=["1", "2"]))
