"""Domain-divergence measures on constructed distributions whose answers are known: identical and
disjoint samples, hand-computed tiny cases, scipy references, separable and overlapping Gaussian
clouds, seeded determinism, and the Hugging Face mean-pooling embedder on a tiny random BERT."""

from __future__ import annotations

import itertools

import json
import logging
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon, pdist

from itt.errors import ConfigError
from itt.measures import DIRECTION, MEASURES, TextSample, compute, hf_tokenize, mean_pooled_embedder, measure_pair, sample
from itt.measures import content_words as cw
from itt.measures.mmd import median_bandwidth, mmd2_unbiased, squared_distances
from itt.measures.proxy_a_distance import held_out_balanced_error
from itt.measures.vocab_overlap import top_k_inclusion

SENTENCES = [
    "The committee approved the annual budget after a long debate.",
    "Researchers measured protein folding rates in yeast cells.",
    "The striker scored twice in the second half of the match.",
    "Heavy rain flooded the valley roads on Tuesday night.",
    "The new phone ships with a faster processor and better camera.",
    "Patients reported fewer symptoms after the revised treatment.",
]


def word_ids_tokenizer():
    """A ``tokenize`` callable: whitespace words -> ids, one shared growing vocabulary."""
    vocabulary: dict[str, int] = {}

    def tokenize(texts):
        return [[vocabulary.setdefault(word, len(vocabulary)) for word in text.split()] for text in texts]

    return tokenize


def table_pair(x: np.ndarray, y: np.ndarray) -> tuple[TextSample, TextSample]:
    """Two samples whose texts are row names and whose (shared) ``embed`` looks the rows up."""
    names_x, names_y = [f"x{i}" for i in range(len(x))], [f"y{i}" for i in range(len(y))]
    table = {**dict(zip(names_x, x)), **dict(zip(names_y, y))}

    def embed(texts):
        return np.array([table[t] for t in texts])

    return TextSample(names_x, "en", embed=embed), TextSample(names_y, "en", embed=embed)


def gaussian_clouds(shift: float, n: int = 200, dim: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, dim)), rng.normal(size=(n, dim))
    y[:, 0] += shift
    return table_pair(x, y)


# --- identical and disjoint samples -------------------------------------------------------------

def test_identical_samples_give_zero_divergence():
    tokenize = word_ids_tokenizer()
    rng = np.random.default_rng(1)
    table = {t: rng.normal(size=16) + 3.0 for t in SENTENCES}

    def embed(texts):
        return np.array([table[t] for t in texts])

    a = TextSample(SENTENCES, "en", tokenize, embed)
    b = TextSample(list(SENTENCES), "en", tokenize, embed)
    values = compute(None, a, b)
    assert values["vocab_overlap"] == 1.0
    assert values["unigram_js"] == pytest.approx(0.0, abs=1e-15)
    assert values["embedding_cosine"] == pytest.approx(0.0, abs=1e-12)
    # MMD²_u of a sample with itself, row for row (Lemma 6: every h(z_i, z_j) is 0): 0 up to rounding.
    assert values["mmd"] == pytest.approx(0.0, abs=1e-14)
    # Each held-out row has a twin with the other label in the training folds, which pulls its
    # prediction to the wrong side: ε >= 0.5, and PAD is clipped to 0 (0.2 leaves room for one fold
    # of noise on 6 rows per side without admitting any real separation).
    assert values["proxy_a_distance"] <= 0.2
    # that ε > 0.5 is reported as 0 (no evidence of a difference), not as a negative distance
    assert held_out_balanced_error(a.embeddings, b.embeddings) > 0.5 and values["proxy_a_distance"] == 0.0


def test_disjoint_vocabularies_give_js_ln2_and_no_overlap():
    tokenize = word_ids_tokenizer()
    a = TextSample(["alpha beta gamma", "gamma alpha delta"], "en", tokenize)
    b = TextSample(["omega sigma", "kappa sigma lambda"], "en", tokenize)
    assert compute("unigram_js", a, b)["unigram_js"] == pytest.approx(math.log(2), abs=1e-12)
    assert compute("vocab_overlap", a, b)["vocab_overlap"] == 0.0


# --- hand-computed values and scipy references ------------------------------------------------

def test_js_of_two_three_token_distributions_by_hand():
    # P = (1/2, 1/4, 1/4), Q = (1/4, 1/4, 1/2), M = (3/8, 1/4, 3/8):
    # JS = ½[½ ln(4/3) + ¼ ln 1 + ¼ ln(2/3)] + ½[¼ ln(2/3) + ¼ ln 1 + ½ ln(4/3)] = ½ ln(4/3) + ¼ ln(2/3)
    tokenize = word_ids_tokenizer()
    a = TextSample(["x x y z"], "en", tokenize)
    b = TextSample(["x y z z"], "en", tokenize)
    expected = 0.5 * math.log(4 / 3) + 0.25 * math.log(2 / 3)
    assert compute("unigram_js", a, b)["unigram_js"] == pytest.approx(expected, abs=1e-15)
    # P = (1, 0), Q = (½, ½), M = (¾, ¼): JS = ½ ln(4/3) + ¼ ln(2/3) + ¼ ln 2 (zero-probability term dropped)
    c, d = TextSample(["x x"], "en", tokenize), TextSample(["x y"], "en", tokenize)
    expected = 0.5 * math.log(4 / 3) + 0.25 * math.log(2 / 3) + 0.25 * math.log(2)
    assert compute("unigram_js", c, d)["unigram_js"] == pytest.approx(expected, abs=1e-15)


def test_js_matches_scipy_jensenshannon_squared():
    rng = np.random.default_rng(7)
    for trial in range(5):
        counts_a, counts_b = rng.integers(0, 6, size=40), rng.integers(0, 6, size=40)
        counts_a[0] = counts_b[1] = 1  # neither side empty
        ids_a = [[t for t, c in enumerate(counts_a) for _ in range(c)]]
        ids_b = [[t for t, c in enumerate(counts_b) for _ in range(c)]]

        def tokenize(texts, _ids={"a": ids_a, "b": ids_b}):
            return _ids[texts[0]]

        ours = compute("unigram_js", TextSample(["a"], "en", tokenize), TextSample(["b"], "en", tokenize))
        reference = jensenshannon(counts_a / counts_a.sum(), counts_b / counts_b.sum()) ** 2  # base e by default
        assert ours["unigram_js"] == pytest.approx(reference, rel=1e-10), trial


def test_js_excludes_special_token_ids():
    words = word_ids_tokenizer()

    def with_specials(texts):  # [CLS]=1000 ... [SEP]=1001 around every text, as a BERT tokenizer does
        return [[1000, *row, 1001] for row in words(texts)]

    plain = compute("unigram_js", TextSample(["a b b"], "en", words), TextSample(["a c"], "en", words))["unigram_js"]
    a, b = TextSample(["a b b"], "en", with_specials), TextSample(["a c"], "en", with_specials)
    assert compute("unigram_js", a, b, exclude_ids=[1000, 1001])["unigram_js"] == pytest.approx(plain, abs=1e-15)
    assert compute("unigram_js", a, b)["unigram_js"] < plain - 0.05  # shared specials pull JS down


def test_cosine_of_given_embedding_means():
    # means (1, 1) and (1, 0): cos = 1/√2
    a, b = table_pair(np.array([[1.0, 0.0], [1.0, 2.0]]), np.array([[2.0, 0.0], [0.0, 0.0]]))
    assert compute("embedding_cosine", a, b)["embedding_cosine"] == pytest.approx(1 - 1 / math.sqrt(2), abs=1e-15)
    orthogonal = table_pair(np.array([[0.0, 3.0]]), np.array([[5.0, 0.0]]))
    assert compute("embedding_cosine", *orthogonal)["embedding_cosine"] == pytest.approx(1.0, abs=1e-15)
    opposite = table_pair(np.array([[1.0, 1.0]]), np.array([[-2.0, -2.0]]))
    assert compute("embedding_cosine", *opposite)["embedding_cosine"] == pytest.approx(2.0, abs=1e-15)


def test_top_k_overlap_with_known_count():
    # A: apple 5, banana 4, cherry 3, date 2, elder 1;  B: apple 5, cherry 4, fig 3, grape 2, date 1;
    # stop words ("the", "and", "of") outnumber everything and must not count.
    text_a = "apple " * 5 + "banana " * 4 + "cherry " * 3 + "date " * 2 + "elder " + "the and of " * 9
    text_b = "Apple " * 5 + "cherry " * 4 + "fig " * 3 + "grape " * 2 + "date " + "The of " * 9
    a, b = TextSample([text_a], "en"), TextSample([text_b], "en")
    assert compute("vocab_overlap", a, b, k=3)["vocab_overlap"] == pytest.approx(2 / 3)  # {apple, cherry}
    assert compute("vocab_overlap", a, b, k=4)["vocab_overlap"] == pytest.approx(2 / 4)
    # k = 10 > 5 distinct words on each side: divide by min(5, 5); shared {apple, cherry, date}
    assert compute("vocab_overlap", a, b, k=10)["vocab_overlap"] == pytest.approx(3 / 5)
    # B is a subset of a larger A: every one of B's 2 words is in A's list, so 1 (min denominator)
    assert compute("vocab_overlap", a, TextSample(["apple cherry apple"], "en"), k=10)["vocab_overlap"] == 1.0


def test_ties_at_the_cut_give_the_expected_overlap_of_random_tie_breaks():
    # k=3: "maple" (twice) is in both lists; 2 places left on each side among 4 words seen once.
    a = TextSample(["maple maple ash birch cedar dogwood"], "en")
    b = TextSample(["maple maple ash birch elm fir"], "en")
    assert top_k_inclusion(a, 3) == {"maple": 1.0, "ash": 0.5, "birch": 0.5, "cedar": 0.5, "dogwood": 0.5}
    # every way of filling the free places, each side on its own, equally likely
    overlaps = [len({"maple", *x} & {"maple", *y}) / 3
                for x in itertools.combinations(["ash", "birch", "cedar", "dogwood"], 2)
                for y in itertools.combinations(["ash", "birch", "elm", "fir"], 2)]
    value = compute("vocab_overlap", a, b, k=3)["vocab_overlap"]
    assert value == pytest.approx(sum(overlaps) / len(overlaps))
    # one fixed tie-break on both sides (alphabetical) picked ash and birch twice: 1.0, an overlap of
    # the tie-break, not of the samples
    assert value == pytest.approx(0.5)


def test_content_words_tokenizer_and_stop_lists():
    assert cw.word_tokens("It’s 42 km—U.S. x_y café") == ["it's", "km", "u", "s", "x", "y", "café"]
    assert cw.content_words("Don't stop: the children's toys, U.S. 2024!", "en") == ["stop", "children", "toys"]
    assert cw.content_words("L'homme qu'il a vu dans la maison", "fr") == ["homme", "vu", "maison"]
    assert cw.content_words("Ich glaube, dass der Hund schläft", "de") == ["glaube", "hund", "schläft"]
    assert cw.content_words("El perro de los vecinos duerme", "es-ES") == ["perro", "vecinos", "duerme"]
    assert {"en", "de", "fr", "es"} <= set(cw.available_languages())


def test_unknown_language_keeps_every_word_and_logs_once(caplog):
    cw._stopwords_of_code.cache_clear()
    with caplog.at_level(logging.WARNING, logger="itt.measures.content_words"):
        assert cw.content_words("the cat and the hat", "xq") == ["the", "cat", "and", "the", "hat"]
        cw.content_words("and again", "xq")
        cw.content_words("and again", "xq-Latn")
    assert len([r for r in caplog.records if "'xq'" in r.getMessage()]) == 1


def test_mmd_of_two_point_masses_by_hand():
    # X = 3 copies of (0, 0), Y = 3 copies of (3, 4): pooled distances are 6 zeros and 9 fives, so the
    # median σ = 5; k_xx = k_yy = 1, k_xy = exp(-25/50): MMD²_u = 1 + 1 - 2 exp(-1/2).
    a, b = table_pair(np.zeros((3, 2)), np.tile([3.0, 4.0], (3, 1)))
    assert compute("mmd", a, b)["mmd"] == pytest.approx(2 - 2 * math.exp(-0.5), abs=1e-14)


def test_mmd_estimator_matches_a_loop_over_the_formula():
    rng = np.random.default_rng(3)
    x, y, sigma = rng.normal(size=(7, 3)), rng.normal(size=(5, 3)) + 0.5, 1.3

    def k(p, q):
        return math.exp(-np.sum((p - q) ** 2) / (2 * sigma**2))

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(p, q) for p in x for q in y) / (m * n)
    assert mmd2_unbiased(x, y, sigma) == pytest.approx(xx + yy - 2 * xy, abs=1e-14)


def test_mmd_of_equal_sizes_is_lemma_6_over_the_pairs():
    """m = n: Gretton et al.'s Lemma 6, the mean of h(z_i, z_j) = k(x_i,x_j) + k(y_i,y_j) - k(x_i,y_j) - k(x_j,y_i)
    over i != j."""
    rng = np.random.default_rng(4)
    x, y, sigma = rng.normal(size=(6, 3)), rng.normal(size=(6, 3)) + 0.5, 1.3

    def k(p, q):
        return math.exp(-np.sum((p - q) ** 2) / (2 * sigma**2))

    m = len(x)
    h = [k(x[i], x[j]) + k(y[i], y[j]) - k(x[i], y[j]) - k(x[j], y[i]) for i in range(m) for j in range(m) if i != j]
    assert mmd2_unbiased(x, y, sigma) == pytest.approx(sum(h) / (m * (m - 1)), abs=1e-14)


def test_mmd_is_unbiased_for_samples_drawn_as_pairs():
    """Row i of Y tied to row i of X (an aligned dataset, e.g. translations, sampled with one seed) and both
    of one distribution (y = -x, x standard normal): the mean over 2,000 draws is 0 within 3 standard errors.
    Eq. 3's cross sum, which counts k(x_i, y_i), gives +0.030 (11 standard errors)."""
    rng = np.random.default_rng(0)
    values = []
    for _ in range(2000):
        x = rng.normal(size=(10, 2))
        values.append(mmd2_unbiased(x, -x, 1.0))
    values = np.array(values)
    assert abs(values.mean()) < 3 * values.std() / math.sqrt(len(values))


def test_median_bandwidth_matches_scipy_pdist():
    rng = np.random.default_rng(4)
    for rows in (6, 7, 40):  # 15 (odd), 21 (odd) and 780 (even) pairs
        z = rng.normal(size=(rows, 5))
        z[1] = z[0]  # a coincident pair
        assert median_bandwidth(squared_distances(z)) == pytest.approx(np.median(pdist(z)), rel=1e-12)
    # most pairs coincide (median 0): fall back to the mean pairwise distance
    z = np.array([[0.0, 0.0]] * 5 + [[3.0, 4.0]])
    assert median_bandwidth(squared_distances(z)) == pytest.approx(np.mean(pdist(z)), rel=1e-12)


def test_pad_of_a_known_linear_error():
    # 1-D: A is 40 rows at -1 and 10 at +1, B the mirror image. The best linear rule (sign) errs on
    # 10/50 rows of each side, and every training fold (stratified) learns that rule: ε = 0.2, so
    # PAD = 2(1 - 2·0.2) = 1.2.
    x = np.array([[-1.0]] * 40 + [[1.0]] * 10)
    assert compute("proxy_a_distance", *table_pair(x, -x))["proxy_a_distance"] == pytest.approx(1.2, abs=1e-12)


def test_pad_weighs_classes_and_uses_the_balanced_error_for_unequal_samples():
    # A: 40 rows at -1, 10 at +1; B (four times as large): 100 at +1, 100 at -1. Weighted by class,
    # -1 is A's (40 x 2.5 > 100 x 0.625) and +1 is B's: A errs on 10/50 = 0.2, B on 100/200 = 0.5, so the
    # balanced ε = 0.35 and PAD = 2(1 - 0.7) = 0.6. (Unweighted, every row goes to the majority B and
    # PAD = 0; the plain error 110/250 would give 0.24.)
    x = np.array([[-1.0]] * 40 + [[1.0]] * 10)
    y = np.array([[1.0]] * 100 + [[-1.0]] * 100)
    assert compute("proxy_a_distance", *table_pair(x, y))["proxy_a_distance"] == pytest.approx(0.6, abs=1e-12)


def test_pad_does_not_depend_on_the_embedding_scale():
    # features are standardised on each training fold, so C means the same for any encoder's scale
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(60, 6)), rng.normal(size=(60, 6)) + 0.4
    values = [compute("proxy_a_distance", *table_pair(x * scale, y * scale))["proxy_a_distance"] for scale in (1.0, 1e-3)]
    assert values[0] == pytest.approx(values[1], abs=1e-12) and values[0] > 0


# --- Gaussian clouds ----------------------------------------------------------------------------

def test_separable_clouds_give_pad_near_2_and_large_mmd():
    far = compute(["proxy_a_distance", "mmd"], *gaussian_clouds(shift=10.0))
    same = compute(["proxy_a_distance", "mmd"], *gaussian_clouds(shift=0.0))
    assert far["proxy_a_distance"] >= 1.95  # 10 standard deviations apart: no held-out errors expected
    # within-cloud kernel values ≈ exp(-16/(2σ²)), across ≈ exp(-116/(2σ²)): MMD² ≈ 1 for σ near the
    # median distance; 0.8 leaves room for the draw, and it must dwarf the same-distribution value.
    assert far["mmd"] > 0.8 and far["mmd"] > 50 * abs(same["mmd"])


def test_overlapping_clouds_give_pad_near_0_and_mmd_near_0():
    values = compute(["proxy_a_distance", "mmd"], *gaussian_clouds(shift=0.0, n=200))
    # ε of a guess on 400 held-out rows has standard error √(0.25/400) = 0.025, i.e. 0.1 in PAD:
    # 0.3 is three standard errors.
    assert values["proxy_a_distance"] <= 0.3
    # Under equal distributions m·MMD²_u converges in distribution (Gretton et al. 2012, Thm 12) with
    # kernel values in [0, 1], so fluctuations are O(1/m); 4/m = 0.02 is well above the spread seen
    # over seeds (< 0.002) yet 50 times below the separable clouds' value.
    assert abs(values["mmd"]) <= 4 / 200


# --- determinism --------------------------------------------------------------------------------

def test_sample_is_seeded_without_replacement():
    texts = [f"text {i}" for i in range(100)]
    first = sample(texts, 10, seed=0)
    assert first == sample(texts, 10, seed=0)
    assert first != sample(texts, 10, seed=1)
    assert len(set(first)) == 10 and set(first) <= set(texts)
    assert first == sorted(first, key=texts.index)  # original order kept
    assert sample(texts, 500, seed=0) == texts and sample(texts, None, seed=3) == texts
    with pytest.raises(ConfigError, match="n=0"):
        sample(texts, 0, seed=0)


def test_same_seed_same_values():
    def run(seed):
        return compute(None, *clouds_with_text(seed), seed=seed)

    assert run(0) == run(0)


def test_pad_folds_follow_the_seed():
    a, b = gaussian_clouds(shift=0.3, n=60)
    values = {seed: compute("proxy_a_distance", a, b, seed=seed)["proxy_a_distance"] for seed in range(4)}
    assert values[0] == compute("proxy_a_distance", a, b, seed=0)["proxy_a_distance"]
    assert len(set(values.values())) > 1, values  # another split of 120 near-overlapping rows, another ε


def clouds_with_text(seed):
    rng = np.random.default_rng(seed)
    texts = sample([f"w{i} w{i % 7} common" for i in range(300)], 60, seed)
    other = sample([f"w{i} v{i % 5} common" for i in range(300)], 60, seed)
    table = {t: rng.normal(size=4) for t in texts + other}
    tokenize = word_ids_tokenizer()

    def embed(batch):
        return np.array([table[t] for t in batch])

    return TextSample(texts, "en", tokenize, embed), TextSample(other, "en", tokenize, embed)


# --- registry -------------------------------------------------------------------------------------

def test_all_measures_tokenise_and_embed_each_sample_once():
    calls = {"tokenize": 0, "embed": 0}
    tokenize = word_ids_tokenizer()

    def counting_tokenize(texts):
        calls["tokenize"] += 1
        return tokenize(texts)

    def counting_embed(texts):
        calls["embed"] += 1
        return np.array([[len(t), t.count("e"), 1.0] for t in texts])

    a = TextSample(SENTENCES[:3] * 2, "en", counting_tokenize, counting_embed)
    b = TextSample(SENTENCES[3:] * 2, "en", counting_tokenize, counting_embed)
    compute(None, a, b)
    assert calls == {"tokenize": 2, "embed": 2}


def test_unknown_measure_is_a_one_line_config_error():
    a = TextSample(["one text"], "en")
    with pytest.raises(ConfigError) as error:
        compute(["vocab_overlap", "kl"], a, a)
    message = str(error.value)
    assert "\n" not in message and "'kl'" in message
    assert all(name in message for name in MEASURES)


def test_parameter_no_measure_takes_is_a_config_error():
    a = TextSample(["one text"], "en")
    with pytest.raises(ConfigError, match="K"):
        compute(["vocab_overlap"], a, a, K=5)
    # another measure's parameter is fine: one parameter set serves any choice of measures
    assert compute(["vocab_overlap"], a, a, seed=3, exclude_ids=[1]) == {"vocab_overlap": 1.0}
    with pytest.raises(ConfigError, match="k=0"):
        compute(["vocab_overlap"], a, a, k=0)


def test_measure_pair_rows_record_values_and_parameters():
    a, b = clouds_with_text(0)
    rows = measure_pair(a, b, ["vocab_overlap", "unigram_js", "proxy_a_distance"], k=50, exclude_ids={3, 1})
    assert [r["measure"] for r in rows] == ["vocab_overlap", "unigram_js", "proxy_a_distance"]
    assert rows[0]["params"] == {"k": 50} and rows[1]["params"] == {"exclude_ids": [1, 3]}
    assert rows[2]["params"] == {"seed": 0, "C": 1.0}  # defaults recorded
    assert all(r["n_a"] == 60 and r["n_b"] == 60 and r["direction"] == DIRECTION[r["measure"]] for r in rows)
    expected = compute(["vocab_overlap", "unigram_js", "proxy_a_distance"], a, b, k=50, exclude_ids={3, 1})
    assert {r["measure"]: r["value"] for r in rows} == expected
    json.dumps(rows)  # ready for measures.jsonl
    assert DIRECTION["vocab_overlap"] == "similarity" and DIRECTION["mmd"] == "divergence"


def test_samples_with_different_tokenizers_are_refused():
    a = TextSample(["a b"], "en", word_ids_tokenizer())
    b = TextSample(["a b"], "en", word_ids_tokenizer())
    with pytest.raises(ConfigError, match="tokenize"):
        compute("unigram_js", a, b)


# --- Hugging Face adapters ----------------------------------------------------------------------

WORDS = ["the", "cat", "sat", "on", "mat", "dog", "ran", "in", "park", "a", "big", "small", "red", "house"]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    vocab_file = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    vocab_file.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tokenizer = BertTokenizer(str(vocab_file))
    torch.manual_seed(0)
    config = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, vocab_size=100)
    return BertModel(config), tokenizer


def test_mean_pooled_embedder_equals_unpadded_mean(tiny_bert):
    import torch

    model, tokenizer = tiny_bert
    texts = ["the cat sat on the mat", "a dog", "the big red house in the park", "cat", "small dog ran"]
    model.train()  # the embedder must switch dropout off itself, then restore this mode
    embedded = mean_pooled_embedder(model, tokenizer, batch_size=2, max_length=64)(texts)
    assert model.training
    model.eval()
    with torch.no_grad():  # one text at a time: no padding, so a plain mean over every position
        manual = np.stack([model(**tokenizer(t, return_tensors="pt")).last_hidden_state[0].mean(dim=0).numpy()
                           for t in texts])
    assert embedded.shape == (5, 32) and embedded.dtype == np.float32
    np.testing.assert_allclose(embedded, manual, rtol=0, atol=1e-5)
    # padding must not leak in: the short text embeds the same alone as next to a long one
    alone = mean_pooled_embedder(model, tokenizer, batch_size=1, max_length=64)(["a dog"])
    np.testing.assert_allclose(embedded[1], alone[0], rtol=0, atol=1e-5)
    assert not any(p.grad is not None for p in model.parameters())


def test_hf_tokenize_leaves_special_tokens_out(tiny_bert):
    _, tokenizer = tiny_bert
    ids = hf_tokenize(tokenizer)(["the cat sat", "big house"])
    assert ids == [[tokenizer.convert_tokens_to_ids(w) for w in text.split()] for text in ["the cat sat", "big house"]]
    assert not {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id} & {i for row in ids for i in row}


def test_measures_import_without_torch():
    code = "import sys, itt.measures; assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    repo = Path(__file__).resolve().parent.parent  # this checkout's itt, not another install's
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo)
    assert result.returncode == 0, result.stderr


def test_a_measure_taking_any_keyword_parameters_writes_a_json_row(monkeypatch):
    """The interface's ``measure(a, b, **params)``: ``**params`` is no parameter of the measure's own, so the
    row's ``params`` has none (it once held ``inspect.Parameter.empty``, which is no JSON)."""
    def word_count_gap(a, b, **params):
        return abs(sum(len(t.split()) for t in a.texts) - sum(len(t.split()) for t in b.texts))

    monkeypatch.setitem(MEASURES, "word_count_gap", word_count_gap)
    monkeypatch.setitem(DIRECTION, "word_count_gap", "divergence")
    (row,) = measure_pair(TextSample(["a b c"], "en"), TextSample(["a b"], "en"), ["word_count_gap"])
    assert row["params"] == {} and row["value"] == 1.0
    json.dumps(row)


# -- disjoint items: an item both samples hold is measured on one side only -----------------------------

def _kept(keys_a, keys_b, seed=0):
    from itt.measures.text_sample import disjoint_items

    keep_a, keep_b = disjoint_items(keys_a, keys_b, seed)
    return [keys_a[i] for i in keep_a], [keys_b[i] for i in keep_b]


def test_disjoint_items_leave_no_item_on_both_sides_and_keep_the_rest():
    # a: 100 rows, ids 0-99; b: 40 translations of a's rows 0-39 (shared ids) and 20 rows of its own
    keys_a = [(f"text:en {i}", f"id:g:{i}") for i in range(100)]
    keys_b = [(f"text:de {i}", f"id:g:{i}") for i in range(40)] + [(f"text:de own {i}",) for i in range(20)]
    kept_a, kept_b = _kept(keys_a, keys_b)
    ids = lambda rows: {k for keys in rows for k in keys if k.startswith("id:")}  # noqa: E731
    assert not ids(kept_a) & ids(kept_b)
    assert ids(kept_a) | ids(kept_b) == ids(keys_a)  # each shared item went to one side, none was lost
    assert [k for k in keys_b if len(k) == 1] == [k for k in kept_b if len(k) == 1]  # b's own rows all kept
    assert len(kept_b) == 60 and len(kept_a) == 60  # b keeps every shared item: a still has more rows
    assert _kept(keys_a, keys_b) == (kept_a, kept_b)  # seeded


def test_disjoint_items_deal_shared_items_to_even_the_sides():
    keys_a = [(f"t{i}",) for i in range(100)]
    keys_b = [(f"t{i}",) for i in range(100)]  # the same 100 texts on both sides
    kept_a, kept_b = _kept(keys_a, keys_b, seed=3)
    assert len(kept_a) == len(kept_b) == 50 and not set(kept_a) & set(kept_b)
    assert _kept(keys_a, keys_b, seed=4) != (kept_a, kept_b)  # another seed, another deal


def test_keys_one_row_holds_together_are_one_item():
    # an English target inside its English intermediate: each twin shares both its text and its id, and is
    # kept on one side, never dropped from both
    keys_a = [(f"text:{i}", f"id:g:{i}") for i in range(60)]
    keys_b = [(f"text:{i}", f"id:g:{i}") for i in range(20)]
    kept_a, kept_b = _kept(keys_a, keys_b)
    assert len(kept_a) + len(kept_b) == 60 and not set(kept_a) & set(kept_b)
    # b's row shares a's id with one row of a and a's text with another: the three are one item, on one side
    keys_a = [("text:x", "id:g:1"), ("text:y", "id:g:2")] + [(f"text:a{i}",) for i in range(10)]
    keys_b = [("text:y", "id:g:1")] + [(f"text:b{i}",) for i in range(10)]
    for seed in range(20):
        kept_a, kept_b = _kept(keys_a, keys_b, seed)
        assert not {k for r in kept_a for k in r} & {k for r in kept_b for k in r}, seed
        on_a, on_b = keys_a[0] in kept_a and keys_a[1] in kept_a, keys_b[0] in kept_b
        assert on_a != on_b and (on_a or (keys_a[0] not in kept_a and keys_a[1] not in kept_a)), seed


def test_samples_without_shared_items_are_left_whole():
    from itt.measures.text_sample import disjoint_items

    assert disjoint_items([("a",), ("b",)], [("c",)], 0) == ([0, 1], [0])


def test_twins_across_the_samples_pull_the_proxy_a_distance_down_and_disjoint_items_do_not():
    """Two aligned sides (row i of b is row i of a in another language: the same item, its own noise, a shift):
    with the twins in both samples the domain classifier is tested on rows whose twin it trained on with the
    other label, and the distance comes out below that of two independent samples; with each item on one side
    only it is that of independent samples. Means over 6 draws (one draw's value moves by ~0.1)."""
    from itt.measures.text_sample import disjoint_items

    n, d, spread, shift = 400, 20, 3.0, 0.25

    def pad(x, y):
        return 2 * (1 - 2 * held_out_balanced_error(x, y, seed=0))

    values = []
    for draw in range(6):
        rng = np.random.default_rng(draw)
        items = rng.normal(size=(n, d)) * spread  # what a row says: shared by a row and its translation
        a, b = items + rng.normal(size=(n, d)), items + rng.normal(size=(n, d)) + shift
        keep_a, keep_b = disjoint_items([(f"id:{i}",) for i in range(n)], [(f"id:{i}",) for i in range(n)], draw)
        half = n // 2
        fresh = [rng.normal(size=(half, d)) * spread + rng.normal(size=(half, d)) for _ in range(2)]
        values.append((pad(a[:half], b[:half]), pad(a[keep_a], b[keep_b]), pad(fresh[0], fresh[1] + shift)))
    twins, disjoint, independent = np.mean(values, axis=0)
    print(f"PAD twins {twins:.3f}, disjoint items {disjoint:.3f}, independent samples {independent:.3f}")
    assert twins < disjoint - 0.1 and abs(disjoint - independent) < 0.1
