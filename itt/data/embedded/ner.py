"""Named-entity recognition (WikiANN stand-in): ``{"tokens", "tags"}`` with BIO tags for PER, LOC and ORG.

News-like sentences with people ("Anna", "Elena López", "Tom van Dijk"), places (cities and
countries, "Rio de Janeiro", "München"/"Munich"/"Múnich") and organisations (companies "Zentra
GmbH", institutions "the United Nations", "the University of Oslo" with a city inside an ORG).
Multi-token entities and lowercase particles ("de", "van") inside entities are common; in German
every noun is capitalised, so capitals are no shortcut. Rows are translation-aligned: template i
is the same sentence in every language and entities are drawn before the language is; no
sentence is drawn twice.
"""

from __future__ import annotations

import random
import re

from itt.data.embedded.clauses import world
from itt.data.embedded.generator import LANGS, Generator, fixed_labels, register_generator
from itt.data.embedded.lexicons import load
from itt.data.embedded.sampling import Distinct, below, pick, randint

LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")  # WikiANN's ner_tags ClassLabel order
_INDEX = {tag: i for i, tag in enumerate(LABELS)}
_SLOT = re.compile(r"\{(\w+)\}")
# Template slot -> the kind of value it takes; values are drawn per kind, in English slot order.
_KIND = {"PER": "per", "ORG": "org", "CO": "co", "IN_LOC": "loc", "FROM_LOC": "loc", "LOC": "loc", "CITY": "city",
         "year": "year", "num": "num", "day": "day"}
_FR_ELIDES = tuple("aeiouéèêàâîôûAEIOUÉÈÊÀÂÎÔÛhH")


def make_rows(rng: random.Random, lang: str, domain: str, n_rows: int, k: int) -> list[dict]:
    lexicon = load("ner")
    rows, distinct = [], Distinct("ner", LANGS)
    while len(rows) < n_rows:
        i = below(rng, len(lexicon["templates"]["en"]))
        values: dict[str, list] = {}
        for slot in _SLOT.findall(lexicon["templates"]["en"][i]):
            values.setdefault(_KIND[slot], []).append(_draw(rng, _KIND[slot]))
        # No sentence twice (~1 % of 2,400 rows repeat by chance): every language skips the same draws.
        tokens = {other: _sentence(lexicon["templates"][other][i], other, values) for other in LANGS}
        if distinct.add({other: tuple(w for w, _ in tokens[other]) for other in LANGS}):
            rows.append({"tokens": [w for w, _ in tokens[lang]], "tags": [_INDEX[t] for _, t in tokens[lang]]})
    return rows


def _sentence(template: str, lang: str, values: dict[str, list]) -> list[tuple[str, str]]:
    tokens = _render(template, lang, values)
    if lang == "fr":
        tokens = _elide(tokens)
    first, tag = tokens[0]
    tokens[0] = (first[0].upper() + first[1:], tag)
    return tokens


def _draw(rng: random.Random, kind: str):
    lexicon, names = load("ner"), world()["names"]
    if kind == "per":
        first = pick(rng, names[pick(rng, ("f", "m"))])
        r = rng.random()
        n_surnames = 0 if r < 0.2 else 1 if r < 0.85 else 2
        return (first, *(pick(rng, lexicon["surnames"]) for _ in range(n_surnames)))
    if kind in ("loc", "city"):
        if kind == "loc" and rng.random() < 0.35:
            return ("country", below(rng, len(lexicon["countries"])))
        return ("city", below(rng, len(lexicon["cities"])))
    if kind == "org":
        if rng.random() < 0.5:
            return ("institution", below(rng, len(lexicon["institutions"]["en"])), below(rng, len(lexicon["cities"])))
        kind = "co"
    if kind == "co":
        suffix = below(rng, len(lexicon["company_suffixes"]["en"])) if rng.random() < 0.6 else None
        return ("company", pick(rng, load("shared")["brands"]), suffix)
    if kind == "year":
        return str(randint(rng, 1950, 2023))
    if kind == "num":
        return str(randint(rng, 2, 900))
    return below(rng, 7)  # day


def _render(template: str, lang: str, values: dict[str, list]) -> list[tuple[str, str]]:
    lexicon = load("ner")
    used: dict[str, int] = {}
    out: list[tuple[str, str]] = []
    for word in template.split():
        slot = _SLOT.fullmatch(word)
        if not slot:
            out.append((word, "O"))
            continue
        name = slot.group(1)
        kind = _KIND[name]
        value = values[kind][used.get(kind, 0)]
        used[kind] = used.get(kind, 0) + 1
        if kind == "per":
            out += _entity(" ".join(value), "PER")
        elif kind in ("loc", "city"):
            where, index = value
            entity = _entity(_place_name(where, index, lang), "LOC")
            prepositions = lexicon["prepositions"][lang]
            if name == "IN_LOC":
                out.append((prepositions["in_city" if where == "city" else "in_country"], "O"))
            elif name == "FROM_LOC":
                out.append((prepositions["from"], "O"))
            out += entity
        elif kind in ("org", "co"):
            out += _organisation(value, lang)
        elif kind == "day":
            out.append((load("shared")["days"][lang][value], "O"))
        else:
            out.append((value, "O"))
    return out


def _place_name(where: str, index: int, lang: str) -> str:
    entry = load("ner")["cities" if where == "city" else "countries"][index]
    return entry if isinstance(entry, str) else entry[lang]


def _entity(name: str, label: str) -> list[tuple[str, str]]:
    return [(word, ("B-" if j == 0 else "I-") + label) for j, word in enumerate(name.split())]


def _organisation(value: tuple, lang: str) -> list[tuple[str, str]]:
    lexicon = load("ner")
    if value[0] == "company":
        _, brand, suffix = value
        return _entity(brand if suffix is None else f"{brand} {lexicon['company_suffixes'][lang][suffix]}", "ORG")
    _, index, city = value
    spec = lexicon["institutions"][lang][index].replace("{city}", _place_name("city", city, lang))
    before, rest = spec.split("[")
    inside, after = rest.split("]")
    return [(w, "O") for w in before.split()] + _entity(inside, "ORG") + [(w, "O") for w in after.split()]


def _elide(tokens: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """French "de" before a vowel is "d'" ("d'Oslo", "Université d'Oslo")."""
    return [("d'", tag) if word == "de" and j + 1 < len(tokens) and tokens[j + 1][0].startswith(_FR_ELIDES) else (word, tag)
            for j, (word, tag) in enumerate(tokens)]


GENERATOR = register_generator(Generator(
    name="ner", kind="token_classification", domains=("wiki",), make_rows=make_rows,
    resolve_labels=fixed_labels("ner", LABELS), label_names=lambda domain, k: list(LABELS), aligned=True,
    split_by_row=True), default_for_kind=True)
