"""Part-of-speech tagging (UDPOS stand-in): ``{"tokens": [...], "tags": [...]}``, tags indexing the 17 UPOS tags.

Sentences of one or two clauses from the shared parallel lexicon: names, people, animals and things
doing things, states ("the man is tired"), colours, journeys; negation, fronted places/times,
pronouns, numbers ("at 5 o'clock"), the odd interjection. Tags follow Universal Dependencies
conventions of each language as far as a small lexicon can (German adverbial adjectives are ADJ,
French "ne ... pas" are ADV, English "not" is PART). Rows are translation-aligned.
"""

from __future__ import annotations

import random
from dataclasses import replace

from itt.data.embedded.clauses import NP, Clause, random_clause
from itt.data.embedded.generator import LANGS, Generator, fixed_labels, register_generator
from itt.data.embedded.rendering import UPOS, sentence_tokens
from itt.data.embedded.sampling import Distinct, pick

_INDEX = {tag: i for i, tag in enumerate(UPOS)}


def random_sentence(rng: random.Random) -> tuple[list[Clause], bool]:
    """(clauses, interjection?) of a varied sentence; shared with the parallel generator."""
    first = _varied(rng, random_clause(rng))
    clauses = [first]
    if rng.random() < 0.3:
        second = random_clause(rng, pick(rng, ("thing", "state", "agent")), p_adv=0.1, p_place=0.2, p_time=0.1)
        if second.frame != "color" and first.frame != "color" and rng.random() < 0.5:
            second = replace(second, subj=NP("pron", ref=first.subj))  # "... and she sells the lamp"
        clauses.append(_varied(rng, second))
    return clauses, rng.random() < 0.05


def _varied(rng: random.Random, c: Clause) -> Clause:
    if c.frame != "color" and rng.random() < 0.2:
        c = replace(c, neg=True)
    movable = [name for name in ("place", "time") if getattr(c, name) is not None]
    if movable and rng.random() < 0.25:
        c = replace(c, front=pick(rng, movable))
    return c


def make_rows(rng: random.Random, lang: str, domain: str, n_rows: int, k: int) -> list[dict]:
    rows, distinct = [], Distinct("pos", LANGS)
    while len(rows) < n_rows:
        clauses, interjection = random_sentence(rng)
        # No sentence twice (short ones, "The chair is red.", recur in ~4 % of 2,400 rows); clauses differing
        # only in fields the sentence does not say read alike.
        tokens = {other: sentence_tokens(clauses, other, interjection) for other in LANGS}
        if distinct.add({other: tuple(w for w, _ in tokens[other]) for other in LANGS}):
            rows.append({"tokens": [w for w, _ in tokens[lang]], "tags": [_INDEX[t] for _, t in tokens[lang]]})
    return rows


GENERATOR = register_generator(Generator(
    name="pos", kind="token_classification", domains=("general",), make_rows=make_rows,
    resolve_labels=fixed_labels("pos", UPOS), label_names=lambda domain, k: list(UPOS), aligned=True,
    split_by_row=True))
