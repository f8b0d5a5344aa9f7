"""Tests for itt.data.embedded: the offline synthetic datasets.

Besides shape/determinism checks, these tests check that the data is *learnable but not trivial*
with a bag-of-words naive Bayes written here with the standard library only, that sentiment
signal transfers across domains, and that similarity scores track word overlap.
"""

from __future__ import annotations

import math
import re
import statistics
import time
from collections import Counter

import pytest

from itt.data import embedded
from itt.data.embedded import DOMAINS, LANGS, corpus, generate, label_names

ALL_COMBINATIONS = [(task, lang, domain)
                    for task, domains in DOMAINS.items() for domain in domains for lang in LANGS]


# --- helpers: a bag-of-words baseline and a rank correlation, standard library only ----------

def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


class NaiveBayes:
    """Multinomial naive Bayes with add-one smoothing over lower-cased word tokens."""

    def fit(self, rows: list[dict]) -> NaiveBayes:
        self.counts: dict[int, Counter] = {}
        self.docs: Counter = Counter()
        for row in rows:
            self.docs[row["label"]] += 1
            self.counts.setdefault(row["label"], Counter()).update(_tokens(row["text"]))
        self.vocab = set().union(*self.counts.values())
        self.totals = {label: sum(c.values()) for label, c in self.counts.items()}
        return self

    def predict(self, text: str) -> int:
        n_docs = sum(self.docs.values())
        words = [w for w in _tokens(text) if w in self.vocab]  # unseen words carry no evidence

        def score(label: int) -> float:
            denominator = self.totals[label] + len(self.vocab)
            counts = self.counts[label]
            return math.log(self.docs[label] / n_docs) + sum(
                math.log((counts[w] + 1) / denominator) for w in words)

        return max(self.counts, key=score)

    def accuracy(self, rows: list[dict]) -> float:
        return sum(self.predict(r["text"]) == r["label"] for r in rows) / len(rows)


def _ranks(values: list[float]) -> list[float]:
    """Ranks starting at 1, ties get their average rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _spearman(x: list[float], y: list[float]) -> float:
    rx, ry = _ranks(x), _ranks(y)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    return cov / math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))


def _jaccard(a: str, b: str) -> float:
    sa, sb = set(_tokens(a)), set(_tokens(b))
    return len(sa & sb) / len(sa | sb)


def _train_test(task, lang, domain, num_labels=None, n_train=2000, n_test=500):
    train = generate(task, lang, domain, n_train, seed=0, num_labels=num_labels)
    test = generate(task, lang, domain, n_test, seed=1, num_labels=num_labels)
    return train, test


# --- API and shapes ------------------------------------------------------------------------

def test_public_constants():
    assert set(LANGS) >= {"en", "de", "fr", "es"}
    assert set(DOMAINS) == {"sentiment", "text_classification", "sentence_similarity"}
    assert set(DOMAINS["sentiment"]) >= {"products", "movies", "restaurants"}
    assert set(DOMAINS["text_classification"]) >= {"news", "questions", "wiki"}
    assert set(DOMAINS["sentence_similarity"]) >= {"general", "news", "biomedical"}


def test_lexicons_cover_every_language():
    """Every lexicon has the same keys in every language, so no (lang, domain) is half-filled."""
    for lang in LANGS:
        assert embedded.SENTIMENT_GENERAL[lang].keys() == embedded.SENTIMENT_GENERAL["en"].keys()
        assert embedded.TOPIC_KEYWORDS[lang].keys() == embedded.TOPIC_KEYWORDS["en"].keys()
        assert lang in embedded.DAYS and lang in embedded.SIMILARITY_TEMPLATES
        for domain in DOMAINS["sentiment"]:
            lexicon = embedded.SENTIMENT_DOMAIN[domain][lang]
            english = embedded.SENTIMENT_DOMAIN[domain]["en"]
            assert lexicon.keys() == english.keys()
            assert len(lexicon["aspects"]) == len(english["aspects"])
            for aspect in lexicon["aspects"]:
                assert aspect.keys() == {"nouns", "pos", "neg"}
                if lang in ("fr", "es"):  # adjective agreement reads the gender off the article
                    assert all(n.split()[0] in ("le", "la", "el") for n in aspect["nouns"]), aspect
        for domain in DOMAINS["text_classification"]:
            assert embedded.TOPIC_TEMPLATES[domain][lang].keys() == {"templates", "fillers"}
        for domain in DOMAINS["sentence_similarity"]:
            assert embedded.SIMILARITY_LEXICON[domain][lang].keys() == embedded.SLOT_WEIGHTS.keys()
    for domain, topics in embedded.TOPICS.items():
        for topic in topics:
            assert all(topic in embedded.TOPIC_KEYWORDS[lang] for lang in LANGS), topic


@pytest.mark.parametrize("task,lang,domain", ALL_COMBINATIONS)
def test_every_combination_generates(task, lang, domain):
    rows = generate(task, lang, domain, 60, seed=3)
    assert len(rows) == 60
    for row in rows:
        texts = [row["text"]] + ([row["text_pair"]] if "text_pair" in row else [])
        for text in texts:
            assert isinstance(text, str) and len(text.split()) >= 4, row
            assert "{" not in text and "}" not in text and "|" not in text, row  # all filled in
            assert text == text.strip() and "  " not in text, row
        if task == "sentence_similarity":
            assert set(row) == {"text", "text_pair", "label"}
            assert isinstance(row["label"], float) and 0.0 <= row["label"] <= 5.0
        else:
            assert set(row) == {"text", "label"}
            assert isinstance(row["label"], int)
            assert 0 <= row["label"] < len(label_names(task, domain))


def test_label_names():
    assert label_names("sentiment", "movies") == ["negative", "positive"]
    assert label_names("sentiment", "movies", 3) == ["negative", "neutral", "positive"]
    assert label_names("sentiment", "products", 5) == [
        "1 star", "2 stars", "3 stars", "4 stars", "5 stars"]
    assert label_names("text_classification", "news") == ["world", "sports", "business", "science"]
    assert label_names("text_classification", "wiki", 2) == ["company", "artist"]
    assert label_names("sentence_similarity", "biomedical") == []
    for domain in DOMAINS["text_classification"]:
        assert len(label_names("text_classification", domain)) >= 4


def test_num_labels_restricts_topics():
    rows = generate("text_classification", "en", "questions", 300, seed=0, num_labels=3)
    assert {r["label"] for r in rows} == {0, 1, 2}


@pytest.mark.parametrize("call,bad", [
    (lambda: generate("sentimnt", "en", "movies", 5, 0), "sentimnt"),
    (lambda: generate("sentiment", "xx", "movies", 5, 0), "xx"),
    (lambda: generate("sentiment", "en", "news", 5, 0), "news"),
    (lambda: generate("text_classification", "en", "restaurants", 5, 0), "restaurants"),
    (lambda: generate("sentiment", "en", "movies", 5, 0, num_labels=4), "4"),
    (lambda: generate("text_classification", "en", "news", 5, 0, num_labels=9), "9"),
    (lambda: generate("sentiment", "en", "movies", -1, 0), "-1"),
    (lambda: label_names("nope", "movies"), "nope"),
    (lambda: label_names("sentiment", "wiki"), "wiki"),
])
def test_bad_values_raise_one_line_value_error(call, bad):
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert bad in message and "\n" not in message
    assert "valid" in message  # and says what would be valid


def test_bad_task_message_lists_valid_tasks():
    with pytest.raises(ValueError, match="sentiment.*text_classification.*sentence_similarity"):
        generate("nli", "en", "general", 5, 0)


# --- determinism and balance ---------------------------------------------------------------

@pytest.mark.parametrize("task,domain", [("sentiment", "products"),
                                         ("text_classification", "wiki"),
                                         ("sentence_similarity", "general")])
def test_deterministic(task, domain):
    a = generate(task, "de", domain, 200, seed=7)
    assert a == generate(task, "de", domain, 200, seed=7)
    assert a != generate(task, "de", domain, 200, seed=8)
    other_domain = [d for d in DOMAINS[task] if d != domain][0]
    texts = {r["text"] for r in a}
    assert len(texts & {r["text"] for r in generate(task, "de", other_domain, 200, 7)}) < 5
    assert generate(task, "de", domain, 500, seed=7)[:200] == a  # prefixes are stable
    assert len(texts) > 190  # rows are (nearly) all distinct


def test_default_num_labels_is_the_explicit_default():
    assert generate("sentiment", "en", "movies", 50, 0) == generate("sentiment", "en", "movies",
                                                                    50, 0, num_labels=2)
    assert generate("text_classification", "fr", "wiki", 50, 0) == generate(
        "text_classification", "fr", "wiki", 50, 0, num_labels=len(label_names(
            "text_classification", "wiki")))
    assert generate("sentence_similarity", "es", "news", 50, 0) == generate(
        "sentence_similarity", "es", "news", 50, 0, num_labels=1)


def test_deterministic_across_processes():
    """The seed is derived with a stable hash, not Python's salted hash()."""
    import subprocess
    import sys
    code = ("from itt.data.embedded import generate; "
            "print(repr(generate('sentiment', 'fr', 'movies', 20, 5)))")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, env={"PYTHONHASHSEED": str(s), "PYTHONPATH": "."}
                              ).stdout for s in (1, 2)}
    assert len(outputs) == 1
    assert outputs.pop().strip() == repr(generate("sentiment", "fr", "movies", 20, 5))


@pytest.mark.parametrize("task,domain,num_labels", [
    ("sentiment", "restaurants", None), ("sentiment", "movies", 3), ("sentiment", "products", 5),
    ("text_classification", "news", None), ("text_classification", "wiki", None),
])
def test_labels_are_balanced(task, domain, num_labels):
    n_labels = len(label_names(task, domain, num_labels))
    rows = generate(task, "es", domain, 1003, seed=2, num_labels=num_labels)
    counts = Counter(r["label"] for r in rows)
    assert set(counts) == set(range(n_labels))
    assert max(counts.values()) - min(counts.values()) <= 1


def test_text_lengths_are_realistic():
    for task, domain in [("sentiment", "movies"), ("text_classification", "news"),
                         ("sentence_similarity", "biomedical")]:
        lengths = [len(r["text"].split()) for r in generate(task, "en", domain, 2000, seed=0)]
        long = sum(n >= 40 for n in lengths) / len(lengths)
        short = sum(6 <= n <= 25 for n in lengths) / len(lengths)
        assert 0.05 <= long <= 0.16, (task, long)
        assert short >= 0.75, (task, short)
        assert max(lengths) <= 130, task


def test_generation_is_fast():
    for task, domain in [("sentiment", "products"), ("text_classification", "questions"),
                         ("sentence_similarity", "news")]:
        best = math.inf
        for _ in range(2):  # best of two; CPU time, so other busy processes do not count
            start = time.process_time()
            generate(task, "en", domain, 20_000, seed=0)
            best = min(best, time.process_time() - start)
        assert best < 1.0, (task, best)


def test_corpus():
    texts = list(corpus(seed=0))
    assert 2000 <= len(texts) <= 10000
    assert texts == list(corpus(seed=0))
    joined = " ".join(texts)
    for word in ("great", "toll", "génial", "excelente",  # sentiment words of every language
                 "footballer", "Regierung", "mémoire", "hígado"):  # topic / similarity words
        assert word in joined, word
    assert any(len(t.split()) >= 40 for t in texts)


# --- learnability and transfer -------------------------------------------------------------

@pytest.mark.parametrize("lang,domain", [("en", "products"), ("en", "movies"),
                                         ("en", "restaurants"), ("de", "products"),
                                         ("fr", "movies"), ("es", "restaurants")])
def test_sentiment_is_learnable_but_not_trivial(lang, domain):
    train, test = _train_test("sentiment", lang, domain)
    accuracy = NaiveBayes().fit(train).accuracy(test)
    assert 0.8 <= accuracy < 1.0, accuracy
    # Label noise means even the training data cannot be fit perfectly by the baseline.
    assert NaiveBayes().fit(train).accuracy(train) < 1.0


def test_five_star_sentiment_is_ordinal_and_learnable():
    train, test = _train_test("sentiment", "en", "products", num_labels=5)
    model = NaiveBayes().fit(train)
    predictions = [model.predict(r["text"]) for r in test]
    accuracy = sum(p == r["label"] for p, r in zip(predictions, test)) / len(test)
    off_by_at_most_one = sum(abs(p - r["label"]) <= 1 for p, r in zip(predictions, test))
    assert accuracy >= 0.4, accuracy  # chance: 0.2
    assert off_by_at_most_one / len(test) >= 0.8


@pytest.mark.parametrize("lang,domain", [("en", "news"), ("en", "questions"), ("en", "wiki"),
                                         ("de", "news"), ("fr", "questions"), ("es", "wiki")])
def test_topics_are_learnable(lang, domain):
    train, test = _train_test("text_classification", lang, domain)
    accuracy = NaiveBayes().fit(train).accuracy(test)
    assert 0.7 <= accuracy < 1.0, accuracy


@pytest.mark.parametrize("source,target", [("products", "movies"), ("movies", "restaurants"),
                                           ("restaurants", "products")])
def test_sentiment_transfers_across_domains(source, target):
    """A model of one domain beats chance on another (shared general opinion words), but is
    worse there than in-domain: transfer is partial, so intermediate training can matter."""
    model = NaiveBayes().fit(generate("sentiment", "en", source, 2000, seed=0))
    target_test = generate("sentiment", "en", target, 500, seed=1)
    cross = model.accuracy(target_test)
    in_domain = NaiveBayes().fit(generate("sentiment", "en", target, 2000, seed=0)
                                 ).accuracy(target_test)
    assert cross >= 0.6, cross
    assert cross < in_domain - 0.03, (cross, in_domain)


def test_cross_lingual_signal_is_weak():
    """English sentiment knowledge says little about German text (only names/digits/cognates)."""
    model = NaiveBayes().fit(generate("sentiment", "en", "products", 2000, seed=0))
    accuracy = model.accuracy(generate("sentiment", "de", "products", 500, seed=1))
    assert accuracy < 0.75, accuracy


# --- sentence similarity -------------------------------------------------------------------

@pytest.mark.parametrize("lang,domain", [("en", "general"), ("de", "news"),
                                         ("fr", "biomedical"), ("es", "general")])
def test_similarity_scores_spread_over_range(lang, domain):
    scores = [r["label"] for r in generate("sentence_similarity", lang, domain, 2000, seed=0)]
    assert min(scores) == 0.0 and max(scores) == 5.0
    assert all(abs(s * 5 - round(s * 5)) < 1e-9 for s in scores)  # on the 0.2 grid
    assert statistics.pstdev(scores) >= 1.2
    # every unit interval of the range is populated
    for low in range(5):
        share = sum(low <= s < low + 1 for s in scores) / len(scores)
        assert share >= 0.08, (low, share)


@pytest.mark.parametrize("lang,domain", [("en", "general"), ("en", "news"),
                                         ("en", "biomedical"), ("de", "general"),
                                         ("fr", "news"), ("es", "biomedical")])
def test_similarity_score_tracks_word_overlap(lang, domain):
    rows = generate("sentence_similarity", lang, domain, 1000, seed=0)
    overlap = [_jaccard(r["text"], r["text_pair"]) for r in rows]
    rho = _spearman(overlap, [r["label"] for r in rows])
    assert 0.7 <= rho < 0.995, rho  # high, but synonyms/noise keep it from being exact


def test_spearman_helper():
    assert _spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert _spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert _ranks([5.0, 1.0, 5.0]) == [2.5, 1.0, 2.5]
