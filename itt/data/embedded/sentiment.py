"""Sentiment reviews: ``{"text", "label"}`` with 2 labels (negative/positive), 3 (+ neutral) or 5 (stars).

General opinion words are shared by all domains (what transfers across domains); each domain adds
its own nouns, opinion words, phrases and neutral filler (what does not). Predicative use ("the
battery is great") keeps German adjectives uninflected; French/Spanish adjectives agree with the
noun (``"m|f"`` = masculine|feminine form, chosen by the noun's article).

A good model still cannot reach 100 %: negation flips words, some opinions are mixed, and ~5 % of
the labels are noisy.
"""

from __future__ import annotations

import functools
import random

from itt.data.embedded.generator import Generator, register_generator
from itt.data.embedded.lexicons import load
from itt.data.embedded.sampling import balanced_labels, noisy_label, pick, randint
from itt.data.embedded.templates import fill, n_words, sentence

DOMAINS = ("products", "movies", "restaurants", "kitchen", "books", "tweets")

# Domains in order of increasing vocabulary divergence from products, by construction: the share of
# products' domain-specific opinion words and phrases (aspect adjectives, set phrases) that a domain
# keeps, and of the general opinion words it keeps. kitchen and books are derived from products
# (sentiment.json: "derived_from", null = keep products' word); movies was written independently
# and shares only the general words; tweets also swaps half the general words for informal ones.
# Nouns and neutral filler are each domain's own.
DIVERGENCE_ORDER = ("products", "kitchen", "books", "movies", "tweets")
DOMAIN_WORDS_SHARED = {"products": 1.0, "kitchen": 0.75, "books": 0.5, "movies": 0.0, "tweets": 0.0}
GENERAL_WORDS_SHARED = {"products": 1.0, "kitchen": 1.0, "books": 1.0, "movies": 1.0, "tweets": 0.5}

# Label sets; every label is realised through star ratings, so the binary, 3-way and 5-star
# variants of a domain read alike.
LABELS = {
    2: ("negative", "positive"),
    3: ("negative", "neutral", "positive"),
    5: ("1 star", "2 stars", "3 stars", "4 stars", "5 stars"),
}
_LABEL_STARS = {
    2: ((1, 2), (4, 5)),
    3: ((1, 2), (3,), (4, 5)),
    5: ((1,), (2,), (3,), (4,), (5,)),
}
# Star -> (P(positive opinion), P(negative opinion), intensifiers); the rest are mixed opinions.
# Extremes are nearly pure and intense, 2/4 stars are hedged, 3 stars are mostly "okay".
_STAR_PROFILE = {
    1: (0.04, 0.88, "strong"),
    2: (0.05, 0.83, "weak"),
    3: (0.18, 0.18, "weak"),
    4: (0.83, 0.05, "weak"),
    5: (0.88, 0.04, "strong"),
}

LONG_FRACTION = 0.10  # share of paragraph-like texts (40-120 words); the rest are 6-25 words
LABEL_NOISE = 0.05  # share of rows whose text was written for another label
# Share of opinion clauses written as a negated opposite ("not terrible" for a positive opinion):
# a bag-of-words model gets these wrong, a model that reads word order need not.
NEGATION_RATE = 0.10
_OPPOSITE = {"pos": "neg", "neg": "pos"}


def resolve_labels(domain: str, num_labels: int | None) -> int:
    if num_labels is None:
        return 2
    if isinstance(num_labels, bool) or num_labels not in LABELS:
        raise ValueError(f"num_labels={num_labels!r} for sentiment; valid: {', '.join(map(str, LABELS))}")
    return num_labels


def label_names(domain: str, k: int) -> list[str]:
    return list(LABELS[k])


def make_rows(rng: random.Random, lang: str, domain: str, n_rows: int, k: int) -> list[dict]:
    rows = []
    for label in balanced_labels(rng, n_rows, k):
        text = _review(rng, lang, domain, _noisy_star_label(rng, label, k), k)
        rows.append({"text": text, "label": label})
    return rows


def _noisy_star_label(rng: random.Random, label: int, k: int) -> int:
    """Like ``noisy_label``, but star ratings are ordinal: a mislabelled star is off by one."""
    if k != 5:
        return noisy_label(rng, label, k, LABEL_NOISE)
    if rng.random() >= LABEL_NOISE:
        return label
    if label in (0, 4):
        return 1 if label == 0 else 3
    return label + pick(rng, (-1, 1))


@functools.cache
def lexicon(domain: str, lang: str) -> tuple[dict, dict]:
    """(general words, domain words) of one domain as the generator uses them.

    A domain derived from another (``"derived_from"`` in sentiment.json) lists its own words with
    ``null`` where the base domain's word at that position is kept; ``"general"`` in a domain
    entry overrides general opinion words the same way. So the share of vocabulary a derived domain
    has in common with its base is fixed by construction (see ``DIVERGENCE_ORDER``).
    """
    data = load("sentiment")
    general = data["general"][lang]
    entry = data["domains"][domain][lang]
    base_name = data["domains"][domain].get("derived_from")
    if base_name is None:
        return general, entry
    base = lexicon(base_name, lang)[1]
    own = {key: value for key, value in entry.items() if key not in ("aspects", "general")}
    for key in ("pos_phrases", "neg_phrases"):
        own[key] = spliced(base[key], entry[key])
    own["aspects"] = tuple(
        {"nouns": aspect["nouns"], "pos": spliced(base_aspect["pos"], aspect["pos"]),
         "neg": spliced(base_aspect["neg"], aspect["neg"])}
        for base_aspect, aspect in zip(base["aspects"], entry["aspects"], strict=True))
    if "general" in entry:
        general = {**general, **{key: spliced(general[key], words) for key, words in entry["general"].items()}}
    return general, own


def spliced(base: tuple, own: tuple) -> tuple:
    """``own`` with each null replaced by ``base``'s word at the same position."""
    if len(base) != len(own):
        raise ValueError(f"derived sentiment list {own!r} must have {len(base)} entries like its base {base!r}")
    return tuple(b if o is None else o for b, o in zip(base, own))


def opinion_words(domain: str, lang: str) -> tuple[set[str], set[str]]:
    """(general, domain-specific) opinion words and phrases of a domain: what carries its labels."""
    general, specific = lexicon(domain, lang)
    domain_words = {w for key in ("pos_phrases", "neg_phrases") for w in specific[key]}
    domain_words |= {w for aspect in specific["aspects"] for key in ("pos", "neg") for w in aspect[key]}
    return {w for key in ("pos", "neg") for w in general[key]}, domain_words


def _agree(adjective: str, noun: str) -> str:
    """Pick the masculine or feminine form of an "m|f" adjective from the noun's article."""
    if "|" not in adjective:
        return adjective
    masculine, feminine = adjective.split("|")
    return feminine if noun.startswith("la ") else masculine


def _opinion(rng: random.Random, lang: str, domain: str, polarity: str, strength: str) -> str:
    """One opinion clause of the given polarity ("pos", "neg" or "mixed")."""
    general, specific = lexicon(domain, lang)
    if rng.random() < 0.3:  # a set phrase ("I highly recommend it")
        if polarity == "mixed":
            return pick(rng, general["mixed_phrases"])
        source = general if rng.random() < 0.5 else specific
        return fill(pick(rng, source[polarity + "_phrases"]), rng, lang)
    aspect = pick(rng, specific["aspects"])
    noun = pick(rng, aspect["nouns"])
    copula, negated_copula = general["copula"]
    if polarity == "mixed":
        adjective = _agree(pick(rng, general["mixed"]), noun)
        if rng.random() < 0.3:
            adjective = f"{pick(rng, general['weak'])} {adjective}"
        return f"{noun} {copula} {adjective}"
    # Half the opinion words are general (shared by all domains), half domain-specific.
    source = general if rng.random() < 0.5 else aspect
    if rng.random() < NEGATION_RATE:  # "not terrible" for a positive opinion
        adjective = _agree(pick(rng, source[_OPPOSITE[polarity]]), noun)
        return f"{noun} {negated_copula} {adjective}"
    adjective = _agree(pick(rng, source[polarity]), noun)
    if rng.random() < 0.5:
        adjective = f"{pick(rng, general[strength])} {adjective}"
    return f"{noun} {copula} {adjective}"


def _review(rng: random.Random, lang: str, domain: str, label: int, k: int) -> str:
    star = pick(rng, _LABEL_STARS[k][label])
    p_pos, p_neg, strength = _STAR_PROFILE[star]
    long = rng.random() < LONG_FRACTION
    n_opinions = randint(rng, 5, 9) if long else pick(rng, (1, 2, 2, 3, 3, 3))
    n_fillers = randint(rng, 2, 4) if long else int(rng.random() < 0.35)

    units: list[tuple[str, str]] = []  # (polarity or "filler", clause)
    for _ in range(n_opinions):
        r = rng.random()
        polarity = "pos" if r < p_pos else "neg" if r < p_pos + p_neg else "mixed"
        units.append((polarity, _opinion(rng, lang, domain, polarity, strength)))
    fillers = lexicon(domain, lang)[1]["fillers"]
    for _ in range(n_fillers):
        units.append(("filler", fill(pick(rng, fillers), rng, lang)))
    rng.shuffle(units)

    # Pair up neighbouring opinion clauses with "and" / "but" into one sentence.
    and_, but = load("shared")["connectors"][lang]
    sentences, i = [], 0
    while i < len(units):
        polarity, clause = units[i]
        if (polarity != "filler" and i + 1 < len(units) and units[i + 1][0] != "filler"
                and rng.random() < 0.5):
            connector = and_ if units[i + 1][0] == polarity else but
            clause = f"{clause} {connector} {units[i + 1][1]}"
            i += 1
        sentences.append(sentence(clause))
        i += 1
    text = " ".join(sentences)
    # Very short reviews get a neutral sentence so texts are mostly >= 6 words.
    while n_words(text) < (40 if long else 6):
        text += " " + sentence(fill(pick(rng, fillers), rng, lang))
    return text


GENERATOR = register_generator(Generator(
    name="sentiment", kind="sequence_classification", domains=DOMAINS, make_rows=make_rows,
    resolve_labels=resolve_labels, label_names=label_names, corpus_num_labels=5), default_for_kind=True)
