"""Measures by name: ``@register``, ``compute`` (name -> value) and ``measure_pair`` (ledger-ready rows).

Keyword parameters are routed by name: each measure receives only the parameters its signature
declares (``k`` reaches ``vocab_overlap``, ``seed`` reaches ``proxy_a_distance``, ...), so one set of
parameters serves any choice of measures. A parameter that no registered measure declares is a
``ConfigError``, so a misspelt ``K=5000`` cannot silently fall back to the default.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable

from itt.errors import ConfigError
from itt.measures.text_sample import TextSample

#: name -> ``measure(a: TextSample, b: TextSample, **params) -> float``
MEASURES: dict[str, Callable[..., float]] = {}
#: name -> "divergence" (larger = further apart) or "similarity" (larger = closer)
DIRECTION: dict[str, str] = {}
#: name -> the version of its definition: a new one gives its rows new cache keys (``itt.measures.pairs``)
VERSION: dict[str, int] = {}
#: The version of how a pair's two samples are drawn (``itt.measures.pairs``); a new one gives every row a new
#: cache key. 2: an item both sides hold is measured on one side only (``text_sample.disjoint_items``).
SAMPLING = 2


def register(name: str, direction: str = "divergence",
             version: int = 1) -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Add the decorated ``measure`` function to ``MEASURES`` under ``name``. Raise ``version`` when a
    change of the definition changes its values, so values cached under the old one are computed again."""
    if direction not in ("divergence", "similarity"):
        raise ValueError(f"direction={direction!r}: use 'divergence' or 'similarity'")

    def add(function: Callable[..., float]) -> Callable[..., float]:
        if name in MEASURES and MEASURES[name] is not function:
            raise ValueError(f"measure {name!r} is registered twice")
        MEASURES[name] = function
        DIRECTION[name] = direction
        VERSION[name] = version
        return function

    return add


def _names(names: str | Iterable[str] | None) -> list[str]:
    chosen = sorted(MEASURES) if names is None else [names] if isinstance(names, str) else list(names)
    unknown = [n for n in chosen if n not in MEASURES]
    if unknown:
        raise ConfigError(f"unknown measure {', '.join(map(repr, unknown))}; valid: {', '.join(sorted(MEASURES))}")
    return chosen


def parameters(name: str) -> dict[str, object]:
    """The keyword parameters of measure ``name`` and their defaults (a ``**params`` catch-all names none)."""
    signature = inspect.signature(MEASURES[name])
    return {p.name: p.default for p in list(signature.parameters.values())[2:]
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def _route(names: list[str], params: dict[str, object]) -> dict[str, dict[str, object]]:
    """Each chosen measure's resolved parameters: its defaults, overridden by the ``params`` it declares."""
    accepted = set().union(*(parameters(name) for name in MEASURES))
    stray = sorted(set(params) - accepted)
    if stray:
        raise ConfigError(f"measure parameter(s) {', '.join(stray)} not taken by any measure; "
                          f"valid: {', '.join(sorted(accepted))}")
    return {name: {key: params.get(key, default) for key, default in parameters(name).items()} for name in names}


def compute(names: str | Iterable[str] | None, a: TextSample, b: TextSample, **params) -> dict[str, float]:
    """``{name: value}`` for each requested measure (``None``: every registered one), in order."""
    return {row["measure"]: row["value"] for row in measure_pair(a, b, names, **params)}


def measure_pair(a: TextSample, b: TextSample, names: str | Iterable[str] | None, **params) -> list[dict]:
    """One row per measure: ``{"measure", "value", "direction", "n_a", "n_b", "params"}``, where
    ``params`` holds every parameter the measure ran with (defaults included), so a row says exactly
    how its value was computed."""
    chosen = _names(names)
    routed = _route(chosen, params)
    return [{"measure": name, "value": float(MEASURES[name](a, b, **routed[name])), "direction": DIRECTION[name],
             "n_a": len(a), "n_b": len(b), "params": {k: _plain(v) for k, v in routed[name].items()}}
            for name in chosen]


def _plain(value: object) -> object:
    """Sets and tuples as sorted/ordered lists, so that a row serialises to JSON."""
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return list(value) if isinstance(value, tuple) else value
