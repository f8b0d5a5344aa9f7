"""Named-entity recognition in social-media posts (WNUT-17 stand-in): ``{"tokens", "tags"}`` with WNUT-17's
13 BIO tags, in the hub's ClassLabel order (``leondz/wnut_17``: O, B-corporation, I-corporation, ...).

Lower-case tweets and Reddit-style comments ("rt @jenny : taylor swift is coming to madison square
garden next week #music") naming corporations, creative works, groups, locations, people and
products, many of them in several tokens ("game of thrones", "golden state warriors", "iphone 12");
about one post in four has its entities capitalised, as some users write them. @handles and
#hashtags are O, as in WNUT-17, and some posts name nothing. English only, like WNUT-17.

No post is drawn twice: a repeat could be in a training split and a held-out split of the same stand-in.
Every template has hundreds of wordings (slots for names, handles, hashtags, times of day) besides its
ending, so skipping repeats leaves the mix of templates as drawn (~1 % of draws skipped at 2,400 rows).

It has other tags than ``ner`` (the WikiANN stand-in: PER, LOC, ORG), so offline, as on the hub, an
ITT target on it gets a fresh output layer and cannot score WikiANN's eval sets.
"""

from __future__ import annotations

import random
import re

from itt.data.embedded.generator import Generator, fixed_labels, register_generator
from itt.data.embedded.lexicons import load
from itt.data.embedded.sampling import Distinct, pick

TYPES = ("corporation", "creative-work", "group", "location", "person", "product")
LABELS = ("O", *(f"{bio}-{kind}" for kind in TYPES for bio in ("B", "I")))
_INDEX = {tag: i for i, tag in enumerate(LABELS)}
_SLOT = re.compile(r"\{(\w+)\}")
_TYPE = {"CORP": "corporation", "WORK": "creative-work", "GROUP": "group", "LOC": "location", "PER": "person",
         "PROD": "product"}
CAPITALISED = 0.25  # share of posts whose entities are written with capitals
ENDING = 0.3  # share of posts ending in "lol", "smh", "<3", ...


def make_rows(rng: random.Random, lang: str, domain: str, n_rows: int, k: int) -> list[dict]:
    lexicon = load("ner_social")
    rows, distinct = [], Distinct("ner_social", (lang,))
    while len(rows) < n_rows:
        template = pick(rng, lexicon["templates"])
        capitalised = rng.random() < CAPITALISED
        tokens: list[tuple[str, str]] = []
        for word in template.split():
            slot = _SLOT.fullmatch(word)
            if not slot:
                tokens.append((word, "O"))
            elif slot.group(1) == "HANDLE":
                tokens.append(("@" + pick(rng, lexicon["handles"]), "O"))
            elif slot.group(1) == "HASHTAG":
                tokens.append(("#" + pick(rng, lexicon["hashtags"]), "O"))
            elif slot.group(1) == "WHEN":
                tokens += [(w, "O") for w in pick(rng, lexicon["when"]).split()]
            else:
                kind = _TYPE[slot.group(1)]
                name = pick(rng, lexicon["entities"][kind])
                tokens += [(w[0].upper() + w[1:] if capitalised else w, ("B-" if j == 0 else "I-") + kind)
                           for j, w in enumerate(name.split())]
        if rng.random() < ENDING:
            tokens.append((pick(rng, lexicon["endings"]), "O"))
        if distinct.add({lang: tuple(w for w, _ in tokens)}):
            rows.append({"tokens": [w for w, _ in tokens], "tags": [_INDEX[t] for _, t in tokens]})
    return rows


GENERATOR = register_generator(Generator(
    name="ner_social", kind="token_classification", domains=("social_media",), make_rows=make_rows,
    resolve_labels=fixed_labels("ner_social", LABELS), label_names=lambda domain, k: list(LABELS), langs=("en",)))
