"""Paraphrase identification (PAWS-X stand-in): ``{"text", "text_pair", "label"}``, label "1" = paraphrase.

Like PAWS, both classes have nearly the same words, so word order must be read:

* paraphrase (1): another word order of the same meaning (a place or time moved to the front, the
  two objects of "the red car and the blue bag" in the other order);
* not a paraphrase (0): a swap that changes who does what (subject and object exchanged, "from
  Paris to Oslo" vs "from Oslo to Paris", the colours of two objects exchanged), half of them also
  reordered; a quarter of the negatives instead change one word (verb, place), a lexical cue.

Rows are translation-aligned across languages (drawn from language-free clauses). No pair is drawn
twice, in any language: a repeat could be in a training split and a held-out split of the same stand-in.
"""

from __future__ import annotations

import random
from dataclasses import replace

from itt.data.embedded.clauses import NP, Clause, random_clause, random_thing_np, world
from itt.data.embedded.generator import LANGS, Generator, fixed_labels, register_generator
from itt.data.embedded.rendering import render
from itt.data.embedded.sampling import Distinct, balanced_labels, below, noisy_label, other_index, pick

LABELS = ("0", "1")  # PAWS-X's label names: 1 = paraphrase
LABEL_NOISE = 0.05
REPLACE_RATE = 0.25  # negatives that change a word instead of swapping two


def make_rows(rng: random.Random, lang: str, domain: str, n_rows: int, k: int) -> list[dict]:
    rows, distinct = [], Distinct("paraphrase", LANGS)
    for label in balanced_labels(rng, n_rows, 2):
        while True:  # no pair twice (~1 in 2,400 rows repeats by chance): every language skips the same draws
            a, b = pair(rng, noisy_label(rng, label, 2, LABEL_NOISE))
            texts = {other: (render([a], other), render([b], other)) for other in LANGS}
            if distinct.add(texts):
                break
        rows.append({"text": texts[lang][0], "text_pair": texts[lang][1], "label": label})
    return rows


def pair(rng: random.Random, label: int) -> tuple[Clause, Clause]:
    structure = pick(rng, ("agent", "route", "objects"))
    a = _sentence(rng, structure)
    if label == 1:
        return a, _reordered(rng, a)
    if rng.random() < REPLACE_RATE:
        return a, _replaced(rng, a)
    b = _swapped(a)
    return a, _reordered(rng, b) if rng.random() < 0.5 else b


def _sentence(rng: random.Random, structure: str) -> Clause:
    """A clause with something to swap and at least one place or time to move."""
    if structure == "objects":
        c = random_clause(rng, "thing", p_color=0.0, p_place=0.7, p_time=0.6)
        first = random_thing_np(rng, 1.0)
        second = random_thing_np(rng, 1.0)
        while second.index == first.index or second.color == first.color:
            second = random_thing_np(rng, 1.0)
        c = replace(c, obj=NP("things", items=(first, second)))
    else:
        c = random_clause(rng, structure, p_place=0.7, p_time=0.6)
    if c.place is None and c.time is None:
        c = replace(c, time=below(rng, len(world()["times"])))
    if rng.random() < 0.3:
        c = replace(c, front=pick(rng, [name for name in ("place", "time") if getattr(c, name) is not None]))
    return c


def _reordered(rng: random.Random, c: Clause) -> Clause:
    """The same meaning in another word order."""
    options = [name for name in ("place", "time") if getattr(c, name) is not None and name != c.front]
    moves = ["front"] * len(options) + (["unfront"] if c.front else []) + (["objects"] if c.obj and c.obj.kind == "things" else [])
    move = pick(rng, moves)
    if move == "objects":
        return replace(c, obj=replace(c.obj, items=c.obj.items[::-1]))
    if move == "unfront":
        return replace(c, front="")
    return replace(c, front=pick(rng, options))


def _swapped(c: Clause) -> Clause:
    """Two parts exchanged: the same words, another meaning."""
    if c.frame == "route":
        return replace(c, route=c.route[::-1])
    if c.obj.kind == "things":
        first, second = c.obj.items
        return replace(c, obj=replace(c.obj, items=(replace(first, color=second.color), replace(second, color=first.color))))
    return replace(c, subj=c.obj, obj=c.subj)


def _replaced(rng: random.Random, c: Clause) -> Clause:
    """One content word changed: the verb, or the place/time."""
    w = world()
    if c.frame in ("thing", "agent") and rng.random() < 0.5:
        table = "thing_verbs" if c.frame == "thing" else "agent_verbs"
        return replace(c, verb=other_index(rng, len(w[table]), c.verb))
    name = pick(rng, [n for n in ("place", "time") if getattr(c, n) is not None])
    table = {"place": "places", "time": "times"}[name]
    return replace(c, **{name: other_index(rng, len(w[table]), getattr(c, name))})


GENERATOR = register_generator(Generator(
    name="paraphrase", kind="sequence_classification", domains=("general",), make_rows=make_rows,
    resolve_labels=fixed_labels("paraphrase", LABELS), label_names=lambda domain, k: list(LABELS), aligned=True))
