"""Natural language inference (XNLI stand-in): ``{"text": premise, "text_pair": hypothesis, "label"}``.

Labels (XNLI's order): entailment, neutral, contradiction. The hypothesis is derived from one
clause of the premise by operations whose words a model can learn to read:

* entailment: drop adverb/place/time/colour, generalise the subject ("someone", "an animal") or the
  object ("something"), or restate one conjunct of a two-clause premise;
* neutral: add an adverb/place/time/colour the premise does not give, or state something new about
  the subject ("the man is tired");
* contradiction: negate the clause, say "nobody" did it, or change its colour or place.

Rows are translation-aligned across languages (drawn from language-free clauses). No pair is drawn
twice, in any language: a repeat could be in a training split and a held-out split of the same stand-in.
"""

from __future__ import annotations

import random
from dataclasses import replace

from itt.data.embedded.clauses import CITIES, NP, Clause, city_place, is_person, random_clause, world
from itt.data.embedded.generator import LANGS, Generator, fixed_labels, register_generator
from itt.data.embedded.rendering import render
from itt.data.embedded.sampling import Distinct, balanced_labels, below, noisy_label, other_index, pick

LABELS = ("entailment", "neutral", "contradiction")
LABEL_NOISE = 0.05
TWO_CLAUSE_RATE = 0.3  # premises of two clauses joined by "and"


def make_rows(rng: random.Random, lang: str, domain: str, n_rows: int, k: int) -> list[dict]:
    rows, distinct = [], Distinct("nli", LANGS)
    for label in balanced_labels(rng, n_rows, 3):
        while True:  # no pair twice (~1 in 2,400 rows repeats by chance): every language skips the same draws
            premise, hypothesis = pair(rng, noisy_label(rng, label, 3, LABEL_NOISE))
            texts = {other: (render(premise, other), render([hypothesis], other)) for other in LANGS}
            if distinct.add(texts):
                break
        rows.append({"text": texts[lang][0], "text_pair": texts[lang][1], "label": label})
    return rows


def pair(rng: random.Random, label: int) -> tuple[list[Clause], Clause]:
    """(premise clauses, hypothesis clause) written for ``label``."""
    rates = dict(p_adv=0.3, p_place=0.6, p_time=0.5)
    main = random_clause(rng, pick(rng, ("thing", "thing", "agent", "route")), **rates)
    premise = [main]
    if rng.random() < TWO_CLAUSE_RATE:
        premise = [main, random_clause(rng, "thing", p_adv=0, p_place=0, p_time=0)]
        if rng.random() < 0.5:
            premise.reverse()
    hypothesis = (_entailed, _neutral, _contradicted)[label](rng, main, two_clauses=len(premise) == 2)
    return premise, hypothesis


def _dropped_adjuncts(rng: random.Random, c: Clause, keep_one: bool = False) -> Clause:
    """``c`` without a random non-empty subset of its adjuncts/colour (all of them when keep_one is False)."""
    present = [name for name in ("adv", "place", "time") if getattr(c, name) is not None]
    if c.obj is not None and c.obj.kind == "thing" and c.obj.color is not None:
        present.append("color")
    drop = ([name for name in present if rng.random() < 0.6] or present[:1]) if keep_one else present
    for name in drop:
        c = replace(c, obj=replace(c.obj, color=None)) if name == "color" else replace(c, **{name: None})
    return replace(c, front="")


def _general_subject(c: Clause) -> NP:
    return NP("someone") if is_person(c.subj) else NP("animal")


def _entailed(rng: random.Random, c: Clause, two_clauses: bool) -> Clause:
    has_details = any(getattr(c, name) is not None for name in ("adv", "place", "time")) or (
        c.obj is not None and c.obj.kind == "thing" and c.obj.color is not None)
    ops = ["subject"] + (["drop", "drop"] if has_details else []) + (["object"] if c.frame == "thing" else [])
    if two_clauses and rng.random() < 0.4:
        return replace(c, front="")  # one conjunct of the premise, as it is
    op = pick(rng, ops)
    if op == "drop":
        return _dropped_adjuncts(rng, c, keep_one=True)
    c = _dropped_adjuncts(rng, c) if rng.random() < 0.5 else replace(c, front="")
    if op == "subject":
        return replace(c, subj=_general_subject(c))
    return replace(c, obj=NP("something"))


def _neutral(rng: random.Random, c: Clause, two_clauses: bool) -> Clause:
    w = world()
    missing = [name for name in ("adv", "place", "time") if getattr(c, name) is None]
    if c.frame == "thing" and c.obj.color is None:
        missing.append("color")
    if not missing or rng.random() < 0.25:  # something new about the subject: "the man is tired"
        subj = c.subj if c.subj.kind != "pron" else c.subj.ref
        return Clause("state", subj, below(rng, len(w["states"])))
    name = pick(rng, missing)
    c = replace(c, front="")
    if name == "color":
        return replace(c, obj=replace(c.obj, color=below(rng, len(w["colors"]))))
    table = {"adv": "adverbs", "place": "places", "time": "times"}[name]
    return replace(c, **{name: below(rng, len(w[table]))})


def _contradicted(rng: random.Random, c: Clause, two_clauses: bool) -> Clause:
    w = world()
    ops = ["negate", "negate"] + (["nobody"] if is_person(c.subj) else [])
    if c.frame == "thing" and c.obj.color is not None:
        ops.append("color")
    if c.place is not None:
        ops.append("place")
    op = pick(rng, ops)
    if op == "color":
        return replace(c, obj=replace(c.obj, color=other_index(rng, len(w["colors"]), c.obj.color)), front="")
    if op == "place":
        if c.place == city_place():  # another city, not another kind of place (a park may be in Paris)
            return replace(c, city=CITIES[other_index(rng, len(CITIES), CITIES.index(c.city))])
        others = [i for i in range(len(w["places"])) if i not in (c.place, city_place())]
        return replace(c, place=pick(rng, others))
    c = replace(c, adv=None, place=None, time=None, front="")  # "not in the park" would be another claim
    return replace(c, neg=True) if op == "negate" else replace(c, subj=NP("nobody"))


GENERATOR = register_generator(Generator(
    name="nli", kind="sequence_classification", domains=("general",), make_rows=make_rows,
    resolve_labels=fixed_labels("nli", LABELS), label_names=lambda domain, k: list(LABELS), aligned=True))
