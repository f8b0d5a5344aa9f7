"""Filling a lexicon template's placeholders and casing the result as a sentence.

Placeholders: ``{name}``, ``{brand}``, ``{city}``, ``{num}``, ``{year}``, ``{day}``, ``{ent}``
(a person, brand or city) from ``shared.json``, and ``{k}`` filled by a caller's function.
"""

from __future__ import annotations

import random
import re

from itt.data.embedded.lexicons import load
from itt.data.embedded.sampling import pick, randint

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# template -> [literal, placeholder, literal, ...] (re.split with a group), parsed once.
_PARSED: dict[str, list[str]] = {}


def parse(template: str) -> list[str]:
    parts = _PARSED.get(template)
    if parts is None:
        parts = _PARSED[template] = _PLACEHOLDER.split(template)
    return parts


def fill(text: str, rng: random.Random, lang: str, keyword=None) -> str:
    """``text`` with every placeholder filled (``{k}`` by calling ``keyword()``)."""
    parts = parse(text)
    if len(parts) == 1:
        return text
    out = parts[:]
    for i in range(1, len(parts), 2):
        out[i] = keyword() if parts[i] == "k" else placeholder(parts[i], rng, lang)
    return "".join(out)


def placeholder(key: str, rng: random.Random, lang: str) -> str:
    shared = load("shared")
    if key == "name":
        return pick(rng, shared["names"])
    if key == "num":
        return str(randint(rng, 2, 60))
    if key == "city":
        return pick(rng, shared["cities"])
    if key == "brand":
        return pick(rng, shared["brands"])
    if key == "day":
        return pick(rng, shared["days"][lang])
    if key == "year":
        return str(randint(rng, 1950, 2023))
    if key == "ent":  # an encyclopaedia entry: a person, a brand or a city
        r = rng.random()
        if r < 0.5:
            return f"{pick(rng, shared['names'])} {pick(rng, shared['surnames'])}"
        return pick(rng, shared["brands"]) if r < 0.8 else pick(rng, shared["cities"])
    raise KeyError(f"unknown placeholder {{{key}}}")


def sentence(text: str) -> str:
    """Capitalise the first letter (after a leading "¿"/"¡", not after a digit); end with a stop."""
    i = 1 if text[0] in "¿¡" else 0
    text = text[:i] + text[i].upper() + text[i + 1:]
    return text if text[-1] in ".?!" else text + "."


def n_words(text: str) -> int:
    return text.count(" ") + 1
