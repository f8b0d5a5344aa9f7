"""Graded sentence similarity (STS-B style): ``{"text", "text_pair", "label"}``, label in [0, 1].

A sentence is a template whose slots are filled with meaning units; its pair keeps some units
(possibly as a synonym, ``"a|b"`` in the lexicon) and replaces the others with different units of
the same slot. The label is the weighted fraction of sentence A's meaning that B keeps, plus
annotator-like noise, on a 0.04 grid (STS-B's 0..5 on a 0.2 grid, divided by 5). Subjects are
singular so verbs agree in every language; the templates of one group are word orders of the same
slots (German: verb-second inversion), so B may reorder A.
"""

from __future__ import annotations

import functools
import random

from itt.data.embedded.generator import Generator, no_labels, register_generator
from itt.data.embedded.lexicons import load
from itt.data.embedded.sampling import randint
from itt.data.embedded.templates import parse, sentence

DOMAINS = ("general", "news", "biomedical")
LONG_FRACTION = 0.10
# How much of a sentence's meaning each slot carries: who/does/what matter most, the
# circumstances less.
SLOT_WEIGHTS = {"subj": 1.0, "verb": 1.0, "obj": 1.0, "adv": 0.4, "place": 0.6, "time": 0.5}
SCORE_NOISE = 0.25  # standard deviation of the noise added to the 0..5 score


@functools.cache
def _synonym_lexicon(domain: str, lang: str) -> dict[str, tuple[tuple[str, ...], ...]]:
    """The domain's lexicon with each "a|b" entry split into its synonyms."""
    return {slot: tuple(tuple(entry.split("|")) for entry in entries)
            for slot, entries in load("similarity")["lexicon"][domain][lang].items()}


@functools.cache
def _groups(lang: str) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """The language's templates as (slots of the group, its paraphrase templates) pairs."""
    return tuple((tuple(parse(group[0])[1::2]), group) for group in load("similarity")["templates"][lang])


def make_rows(rng: random.Random, lang: str, domain: str, n_rows: int, k: int) -> list[dict]:
    return [_row(rng, lang, domain) for _ in range(n_rows)]


def _row(rng: random.Random, lang: str, domain: str) -> dict:
    # The hot loop of the package: rng.random is bound locally and indexes are drawn inline.
    rand = rng.random
    lexicon = _synonym_lexicon(domain, lang)
    groups = _groups(lang)
    n_clauses = randint(rng, 4, 8) if rand() < LONG_FRACTION else 1
    # Probability that B keeps each meaning unit of A: uniform, with extra mass at both ends so
    # unrelated (0) and equivalent (1) pairs are common, as in STS-B.
    r = rand()
    keep = 0.0 if r < 0.08 else 1.0 if r < 0.16 else rand()

    a_clauses, b_clauses = [], []
    kept = total = 0.0
    for _ in range(n_clauses):
        slots, templates = groups[int(rand() * len(groups))]
        fill_a, fill_b = {}, {}
        for slot in slots:
            entries = lexicon[slot]
            i = int(rand() * len(entries))
            synonyms = entries[i]
            fill_a[slot] = synonyms[int(rand() * len(synonyms))]
            weight = SLOT_WEIGHTS[slot]
            total += weight
            if rand() < keep:
                kept += weight
                # maybe a synonym: same meaning, less word overlap
                fill_b[slot] = synonyms[int(rand() * len(synonyms))]
            else:  # another unit of the same slot: different meaning
                j = int(rand() * (len(entries) - 1))
                other = entries[j + (j >= i)]
                fill_b[slot] = other[int(rand() * len(other))]
        # B may use another word order of the same group (same slots).
        a_clauses.append(sentence(templates[int(rand() * len(templates))].format_map(fill_a)))
        b_clauses.append(sentence(templates[int(rand() * len(templates))].format_map(fill_b)))

    score = 5.0 * kept / total + rng.gauss(0.0, SCORE_NOISE)
    score = min(5.0, max(0.0, round(score * 5) / 5))  # STS-B's 0..5 scale on a 0.2 grid
    return {"text": " ".join(a_clauses), "text_pair": " ".join(b_clauses), "label": score / 5.0}


GENERATOR = register_generator(Generator(
    name="similarity", kind="sequence_regression", domains=DOMAINS, make_rows=make_rows,
    resolve_labels=no_labels("similarity", "sequence_regression", (None, 1)),
    label_names=lambda domain, k: [], seed_name="sentence_similarity"), default_for_kind=True)
