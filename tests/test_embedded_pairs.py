"""The embedded pair and choice generators: nli, paraphrase, choice and parallel (itt.data.embedded)."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from embedded_baselines import NaiveBayes, tokens
from itt.data.embedded import generate, label_names, langs
from itt.data.embedded.clauses import CITIES, world

LANGS = ("en", "de", "fr", "es")
ALIGNED = ["nli", "paraphrase", "choice"]
DOMAIN = {"choice": "causal"}  # the others' only domain: general


@pytest.mark.parametrize("generator,domain", [("nli", "general"), ("paraphrase", "general"), ("choice", "causal"),
                                              ("choice", "social"), ("parallel", "general")])
def test_deterministic_prefix_stable_and_seeded(generator, domain):
    lang = langs(generator)[-1]
    rows = generate(generator, lang, domain, 300, seed=4)
    assert rows == generate(generator, lang, domain, 300, seed=4)
    assert generate(generator, lang, domain, 600, seed=4)[:300] == rows
    assert rows != generate(generator, lang, domain, 300, seed=5)
    assert len({repr(r) for r in rows}) > 250  # (nearly) all distinct


@pytest.mark.parametrize("generator", ALIGNED)
def test_rows_are_translations_across_languages(generator):
    """Same arguments in two languages: same labels and question types, different words."""
    by_lang = {lang: generate(generator, lang, DOMAIN.get(generator, "general"), 200, seed=1) for lang in LANGS}
    for lang in LANGS[1:]:
        assert [r["label"] for r in by_lang[lang]] == [r["label"] for r in by_lang["en"]]
        assert all(r != e for r, e in zip(by_lang[lang], by_lang["en"]))
    if generator == "choice":
        assert len({tuple(r["question"] for r in rows) for rows in by_lang.values()}) == 1


@pytest.mark.parametrize("generator,n_labels", [("nli", 3), ("paraphrase", 2), ("choice", 2)])
def test_labels_balanced(generator, n_labels):
    counts = Counter(r["label"] for r in generate(generator, "fr", DOMAIN.get(generator, "general"), 1001, seed=3))
    assert set(counts) == set(range(n_labels)) and max(counts.values()) - min(counts.values()) <= 1


def test_label_names_follow_the_hub_datasets():
    assert label_names("nli", "general") == ["entailment", "neutral", "contradiction"]  # XNLI
    assert label_names("paraphrase", "general") == ["0", "1"]  # PAWS-X: 1 = paraphrase
    assert label_names("choice", "causal") == [] and label_names("parallel", "general") == []
    for generator, bad in [("nli", 2), ("paraphrase", 3), ("choice", 1), ("choice", 6), ("parallel", 2)]:  # choice: 2-5 choices
        with pytest.raises(ValueError, match=f"num_labels={bad}.*valid"):
            generate(generator, "de", DOMAIN.get(generator, "general"), 5, 0, num_labels=bad)


# --- nli -----------------------------------------------------------------------------------

NEGATIONS = {"en": {"not", "nobody"}, "de": {"nicht", "niemand"}, "fr": {"pas", "personne"}, "es": {"no", "nadie"}}
GENERAL_WORDS = {"en": {"someone", "something", "an", "animal"}, "de": {"jemand", "etwas", "ein", "tier"},
                 "fr": {"quelqu", "un", "quelque", "chose", "animal"}, "es": {"alguien", "algo", "un", "animal"}}


def _lexical_rule(row: dict, lang: str) -> int:
    """A hand-written reader of the cues: negation -> contradiction; nothing new -> entailment; else neutral."""
    premise, hypothesis = set(tokens(row["text"])), set(tokens(row["text_pair"]))
    if hypothesis & NEGATIONS[lang] - premise:
        return 2
    return 0 if hypothesis - premise <= GENERAL_WORDS[lang] else 1


@pytest.mark.parametrize("lang", LANGS)
def test_nli_labels_follow_lexical_cues_but_not_all(lang):
    rows = generate("nli", lang, "general", 1500, seed=0)
    accuracy = sum(_lexical_rule(r, lang) == r["label"] for r in rows) / len(rows)
    # colour/place changes look like additions to this rule (contradiction read as neutral), and 5 % noise
    assert 0.7 <= accuracy < 0.95, accuracy


def test_nli_hypothesis_differs_and_entailments_are_mostly_subsets():
    rows = generate("nli", "en", "general", 900, seed=2)
    assert all(r["text"] != r["text_pair"] for r in rows)
    entailed = [r for r in rows if r["label"] == 0]
    subset = sum(set(tokens(r["text_pair"])) - set(tokens(r["text"])) <= GENERAL_WORDS["en"] for r in entailed)
    assert subset / len(entailed) >= 0.9


def test_nli_bag_of_words_learns_something():
    train, test = generate("nli", "de", "general", 3000, seed=0), generate("nli", "de", "general", 600, seed=1)
    assert NaiveBayes().fit(train).accuracy(test) > 0.45  # chance: 1/3


# --- paraphrase ----------------------------------------------------------------------------

def _same_words(row: dict) -> bool:
    return Counter(re.findall(r"\w+", row["text"].lower())) == Counter(re.findall(r"\w+", row["text_pair"].lower()))


@pytest.mark.parametrize("lang", LANGS)
def test_paraphrase_both_classes_share_their_words(lang):
    """PAWS-style: paraphrases reorder, most non-paraphrases swap, so a bag of words cannot tell them apart."""
    rows = generate("paraphrase", lang, "general", 1200, seed=0)
    assert all(r["text"] != r["text_pair"] for r in rows)
    positives = [r for r in rows if r["label"] == 1]
    negatives = [r for r in rows if r["label"] == 0]
    assert sum(map(_same_words, positives)) / len(positives) >= 0.9  # all but the noisy labels
    # the swaps; German case endings ("der"/"den") and the Spanish personal "a" change with a
    # subject/object swap, as in real PAWS-X translations
    assert sum(map(_same_words, negatives)) / len(negatives) >= (0.45 if lang in ("de", "es") else 0.6)


def test_paraphrase_swaps_change_word_order_not_words():
    rows = [r for r in generate("paraphrase", "en", "general", 600, seed=1) if r["label"] == 0 and _same_words(r)]
    swapped = [r for r in rows if re.search(r"from (\w+) to (\w+)", r["text"])]
    assert len(swapped) > 30
    reversed_routes = sum(re.search(r"from (\w+) to (\w+)", r["text_pair"]).groups()
                          == re.search(r"from (\w+) to (\w+)", r["text"]).groups()[::-1] for r in swapped)
    assert reversed_routes / len(swapped) >= 0.9  # the rest are noisy labels (reordered paraphrases)


def test_paraphrase_is_hard_for_a_bag_of_words():
    train, test = generate("paraphrase", "en", "general", 3000, seed=0), generate("paraphrase", "en", "general", 600, seed=1)
    features = lambda r: [w for w, n in (Counter(tokens(r["text"])) - Counter(tokens(r["text_pair"]))).items()]  # noqa: E731
    assert NaiveBayes().fit(train).accuracy(test) < 0.75
    assert NaiveBayes(features).fit(train).accuracy(test) < 0.8  # even on the word difference


# --- choice (COPA, Social IQa) -------------------------------------------------------------

@pytest.mark.parametrize("domain", ["causal", "social"])
@pytest.mark.parametrize("lang", LANGS)
def test_choice_rows(lang, domain):
    rows = generate("choice", lang, domain, 400, seed=0)
    for row in rows:
        assert row["question"] in ("cause", "effect") and len(row["choices"]) == 2 and row["label"] in (0, 1)
        assert row["premise"] not in row["choices"] and row["choices"][0] != row["choices"][1]
        assert not re.search(r"[{}|=]|  | [.,]", row["premise"] + " ".join(row["choices"])), row
        assert all(t[0].isupper() and t.endswith(".") for t in (row["premise"], *row["choices"])), row
    assert {r["question"] for r in rows} == {"cause", "effect"}


def test_choice_templates_are_distinct_and_cover_every_thing():
    """No two templates of a domain share a side (a wrong choice would then be right), and every thing a causal
    template allows is allowed by enough others for MAX_CHOICES choices of that thing."""
    from itt.data.embedded.choice import MAX_CHOICES, templates

    sides = [tuple(t[lang][side] for lang in LANGS) for domain in ("causal", "social") for t in templates(domain)
             for side in (0, 1)]
    assert len(set(sides)) == len(sides)
    things = {t["en"] for t in world()["things"]}
    allowed = Counter(thing for t in templates("causal") for thing in t["things"])
    assert set(allowed) <= things and min(allowed.values()) >= MAX_CHOICES


@pytest.mark.parametrize("lang", LANGS)
def test_choice_french_and_spanish_agree_with_the_thing_and_the_person(lang):
    """Gender agreement is drawn from the slot: "la lampe s'est cassée", "le livre s'est cassé", "Anna est arrivée"."""
    rows = generate("choice", lang, "causal", 2000, seed=0)
    texts = {t for r in rows for t in (r["premise"], *r["choices"])}
    expected = {"fr": ["La lampe s'est cassée.", "La guitare s'est cassée.", "Le panier s'est cassé."],
                "es": ["La lámpara se rompió.", "El reloj se rompió."],
                "de": ["Die Lampe zerbrach.", "Der Korb zerbrach."], "en": ["The lamp broke.", "The basket broke."]}[lang]
    assert set(expected) <= texts
    if lang == "fr":
        assert any(re.fullmatch(r"(Anna|Lena|Sofia|Clara|Elena|Nina|Sara|Julia) est arrivée en retard\.", t) for t in texts)
        assert not any(re.fullmatch(r"(Anna|Lena|Sofia|Clara|Elena|Nina|Sara|Julia) est arrivé en retard\.", t) for t in texts)
    if lang == "de":  # the accusative: "ließ den Korb fallen"
        assert any(t.endswith(" ließ den Korb fallen.") for t in texts) and not any(" ließ der " in t for t in texts)


@pytest.mark.parametrize("domain", ["causal", "social"])
def test_choice_is_learnable_by_association(domain):
    """The right choice is the premise's partner: co-occurrence counts from training rows pick it. Each count is
    divided by the answer word's: names and things are in both choices, so raw counts favour frequent words."""
    pairs, answers = Counter(), Counter()
    for row in generate("choice", "en", domain, 2000, seed=0):
        premise, answer = frozenset(tokens(row["premise"])), set(tokens(row["choices"][row["label"]]))
        pairs.update((w, v) for w in premise for v in answer)
        answers.update(answer)
    test = generate("choice", "en", domain, 400, seed=1)

    def score(row, choice):
        return sum(pairs[(w, v)] / answers[v] for w in set(tokens(row["premise"])) for v in set(tokens(choice)) if answers[v])

    correct = sum(max((0, 1), key=lambda i: score(r, r["choices"][i])) == r["label"] for r in test)
    assert correct / len(test) >= 0.75  # chance: 0.5


# --- parallel ------------------------------------------------------------------------------

def test_parallel_pairs_translate_english():
    """English is text_pair, as google/xtreme's target_sentence (itt.tasks.retrieval searches with it)."""
    english = {lang: [r["text_pair"] for r in generate("parallel", lang, "general", 300, seed=0)] for lang in ("de", "fr", "es")}
    assert english["de"] == english["fr"] == english["es"]  # the same English sentences for every language
    pairs = {lang: [r["text"] for r in generate("parallel", lang, "general", 300, seed=0)] for lang in ("de", "fr", "es")}
    for lang, translations in pairs.items():
        for en, other in zip(english[lang], translations):
            assert en != other
            assert 0.6 <= len(other.split()) / len(en.split()) <= 1.7, (en, other)
        assert len(set(translations)) > 250
    assert all(len({pairs[lang][i] for lang in pairs}) == 3 for i in range(300))


def test_parallel_refuses_english():
    with pytest.raises(ValueError, match="unknown lang 'en' for generator 'parallel'; valid: de, fr, es"):
        generate("parallel", "en", "general", 5, 0)


def test_parallel_translations_are_word_for_word():
    """Names, cities and digits are the same words in every language: both sides of a pair have the same ones."""
    proper = set(CITIES) | {n for names in world()["names"].values() for n in names}
    for lang in ("de", "fr", "es"):
        for row in generate("parallel", lang, "general", 300, seed=2):
            en, other = re.findall(r"\w+", row["text_pair"]), re.findall(r"\w+", row["text"])
            assert Counter(w for w in en if w in proper or w.isdigit()) == Counter(w for w in other if w in proper or w.isdigit())
