"""Topic classification: ``{"text", "label"}``, the label indexing the domain's topics.

Each domain's topics are those of the hub dataset it stands in for, with its ClassLabel names in its
order, so an offline run has the hub run's head size, label names and f1_macro classes:

* ``news``: AG News's 4 (World, Sports, Business, Sci/Tech);
* ``questions``: Yahoo! Answers' 10 (Society & Culture, ..., Politics & Government);
* ``headlines``: MasakhaNEWS's 7 (business, entertainment, health, politics, religion, sports, technology), the
  ClassLabel of all its languages; a stand-in declaring some of them as its ``labels`` (French: 5) gets those
  (``itt.data.embedded.stand_in_classes``);
* ``wiki``: 5 DBpedia-like entity types (company, artist, athlete, place, animal).

Keywords of the text's topic are slotted into domain-typical templates (headlines for news and
headlines, forum questions for questions, encyclopaedic statements for wiki). Each topic name points to
a keyword list (``topics.json``: ``topics``); domains share keyword lists (the "sports" list serves
news, questions and headlines), and a few keywords sit in two topics on purpose ("sanctions" in world
and business) so topics are not perfectly separable.
"""

from __future__ import annotations

import random

from itt.data.embedded.generator import Generator, register_generator
from itt.data.embedded.lexicons import load
from itt.data.embedded.sampling import balanced_labels, noisy_label, pick, randint
from itt.data.embedded.templates import fill, n_words, sentence

DOMAINS = ("news", "questions", "wiki", "headlines")
# MasakhaNEWS's headlines are news like AG News's: the same templates, other topics.
TEMPLATES_OF = {"headlines": "news"}
LONG_FRACTION = 0.10  # share of paragraph-like texts (40-120 words); the rest are 6-25 words
LABEL_NOISE = 0.03
# Share of keyword slots filled with a keyword of another topic of the same domain.
DISTRACTOR_RATE = 0.15


def topics(domain: str) -> tuple[str, ...]:
    """The domain's topic names (its label names), in label-index order."""
    return tuple(load("topics")["topics"][domain])


def keyword_lists(domain: str) -> tuple[str, ...]:
    """The keyword list (a key of ``topics.json``'s ``keywords``) of each of the domain's topics, in label-index order."""
    return tuple(load("topics")["topics"][domain].values())


def template_domain(domain: str) -> str:
    """The domain whose templates and fillers the domain's texts use (``topics.json``: ``templates``)."""
    return TEMPLATES_OF.get(domain, domain)


def resolve_labels(domain: str, num_labels: int | None) -> int:
    n_topics = len(topics(domain))
    if num_labels is None:
        return n_topics
    if isinstance(num_labels, bool) or not isinstance(num_labels, int) or not 2 <= num_labels <= n_topics:
        raise ValueError(f"num_labels={num_labels!r} for topics/{domain}; valid: 2..{n_topics} "
                         "(the first k topics)")
    return num_labels


def label_names(domain: str, k: int) -> list[str]:
    return list(topics(domain)[:k])


def make_rows(rng: random.Random, lang: str, domain: str, n_rows: int, k: int) -> list[dict]:
    return [{"text": _text(rng, lang, domain, noisy_label(rng, label, k, LABEL_NOISE), k), "label": label}
            for label in balanced_labels(rng, n_rows, k)]


def _text(rng: random.Random, lang: str, domain: str, label: int, k: int) -> str:
    lexicon = load("topics")
    names = keyword_lists(domain)[:k]
    keywords = lexicon["keywords"][lang]
    own = keywords[names[label]]
    others = [t for t in names if t != names[label]]
    spec = lexicon["templates"][template_domain(domain)][lang]

    used: set[str] = set()

    def keyword() -> str:
        for _ in range(3):  # avoid "products and products" (a few redraws, then accept)
            if rng.random() < DISTRACTOR_RATE:
                word = pick(rng, keywords[pick(rng, others)])
            else:
                word = pick(rng, own)
            if word not in used:
                break
        used.add(word)
        return word

    long = rng.random() < LONG_FRACTION
    target_keywords = randint(rng, 8, 16) if long else randint(rng, 2, 4)
    sentences: list[str] = []
    n_keywords = 0
    while n_keywords < target_keywords:
        template = pick(rng, spec["templates"])
        n_keywords += template.count("{k}")
        sentences.append(sentence(fill(template, rng, lang, keyword)))
        if long and rng.random() < 0.35:
            sentences.append(sentence(fill(pick(rng, spec["fillers"]), rng, lang)))
    if not long and rng.random() < 0.3:
        sentences.append(sentence(fill(pick(rng, spec["fillers"]), rng, lang)))
    text = " ".join(sentences)
    while n_words(text) < (40 if long else 6):
        text += " " + sentence(fill(pick(rng, spec["fillers"]), rng, lang))
    return text


GENERATOR = register_generator(Generator(
    name="topics", kind="sequence_classification", domains=DOMAINS, make_rows=make_rows,
    resolve_labels=resolve_labels, label_names=label_names, seed_name="text_classification"))
