"""Language-free sentence structures over the shared parallel lexicon (``lexicons/world.json``).

A :class:`Clause` says who does what to whom, where and when, as indexes into the lexicon; it is
drawn with the dataset's random generator *before* any language is chosen, so rendering the same
clauses in two languages (``rendering.py``) gives word-for-word translations. The nli, paraphrase,
pos and parallel generators build on this; drawing never depends on the language, which keeps
their rows translation-aligned.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, replace

from itt.data.embedded.lexicons import load
from itt.data.embedded.sampling import below, other_index, pick, randint

CITIES = ("Berlin", "Paris", "Madrid", "London", "Toronto", "Tokyo", "Sydney", "Chicago", "Oslo", "Lisbon", "Dublin", "Zurich")
FRAMES = ("thing", "agent", "state", "color", "route")


@dataclass(frozen=True)
class NP:
    """A noun phrase: ``kind`` is agent | name | thing | things | someone | something | animal | nobody | pron."""

    kind: str
    index: int = 0  # into agents / things / names[sex]
    sex: str = ""  # names: "f" | "m"
    color: int | None = None  # things: index into colors
    items: tuple = ()  # things: the coordinated thing NPs
    ref: NP | None = None  # pron: the NP it stands for


@dataclass(frozen=True)
class Clause:
    """One clause; ``verb`` indexes thing_verbs, agent_verbs, states (frame state) or colors (frame color)."""

    frame: str
    subj: NP
    verb: int = 0
    obj: NP | None = None
    route: tuple[str, str] = ()  # frame route: from, to
    adv: int | None = None
    place: int | None = None
    time: int | None = None
    neg: bool = False
    front: str = ""  # "place" | "time": that adjunct opens the sentence
    city: str = ""  # fills {city} in a place
    day: int = 0  # fills {day} in a time
    hour: int = 0  # fills {hour} in a time


def world() -> dict:
    return load("world")


def city_place() -> int:
    """Index of the place "in {city}"."""
    return next(i for i, p in enumerate(world()["places"]) if "{city}" in p["en"])


def random_agent_np(rng: random.Random, p_name: float = 0.35, persons_only: bool = False) -> NP:
    """A name, or a person or (unless ``persons_only``) an animal with an article."""
    if rng.random() < p_name:
        sex = "f" if rng.random() < 0.5 else "m"
        return NP("name", below(rng, len(world()["names"][sex])), sex=sex)
    if persons_only:
        return NP("agent", pick(rng, _persons()))
    return NP("agent", below(rng, len(world()["agents"])))


@functools.cache
def _persons() -> tuple[int, ...]:
    return tuple(i for i, agent in enumerate(world()["agents"]) if agent["class"] == "person")


def random_thing_np(rng: random.Random, p_color: float) -> NP:
    color = below(rng, len(world()["colors"])) if rng.random() < p_color else None
    return NP("thing", below(rng, len(world()["things"])), color=color)


def with_adjuncts(rng: random.Random, clause: Clause, p_adv: float = 0.25, p_place: float = 0.5,
                  p_time: float = 0.4) -> Clause:
    w = world()
    adv = below(rng, len(w["adverbs"])) if rng.random() < p_adv else None
    place = below(rng, len(w["places"])) if rng.random() < p_place else None
    time = below(rng, len(w["times"])) if rng.random() < p_time else None
    return replace(clause, adv=adv, place=place, time=time, city=pick(rng, CITIES),
                   day=below(rng, 7), hour=randint(rng, 2, 11))


def random_clause(rng: random.Random, frame: str | None = None, p_color: float = 0.5, **adjunct_rates) -> Clause:
    """A clause of ``frame`` (drawn when None) with random content and adjuncts."""
    w = world()
    frame = frame or pick(rng, ("thing", "thing", "thing", "agent", "agent", "state", "color", "route"))
    if frame == "thing":  # people buy, carry and repair things; animals do not
        clause = Clause("thing", random_agent_np(rng, persons_only=True), below(rng, len(w["thing_verbs"])),
                        random_thing_np(rng, p_color))
    elif frame == "agent":
        subj = random_agent_np(rng)
        obj = random_agent_np(rng)
        while obj == subj:
            obj = random_agent_np(rng)
        clause = Clause("agent", subj, below(rng, len(w["agent_verbs"])), obj)
    elif frame == "state":
        clause = Clause("state", random_agent_np(rng), below(rng, len(w["states"])))
    elif frame == "color":
        # "the chair is red" holds anywhere, any time: no adjuncts
        return Clause("color", NP("thing", below(rng, len(w["things"]))), below(rng, len(w["colors"])))
    elif frame == "route":
        start = below(rng, len(CITIES))
        clause = Clause("route", random_agent_np(rng, persons_only=True),
                        route=(CITIES[start], CITIES[other_index(rng, len(CITIES), start)]))
        adjunct_rates = {**adjunct_rates, "p_place": 0.0}  # the route says where
    else:
        raise ValueError(f"unknown frame {frame!r}; valid: {', '.join(FRAMES)}")
    return with_adjuncts(rng, clause, **adjunct_rates)


def adjuncts(clause: Clause) -> list[str]:
    """The names of the adjunct fields the clause has."""
    return [name for name in ("adv", "place", "time") if getattr(clause, name) is not None]


def is_person(np: NP) -> bool:
    return np.kind in ("name", "someone") or (np.kind == "agent" and world()["agents"][np.index]["class"] == "person")
