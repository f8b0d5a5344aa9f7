"""Measures by name: ``@register``, ``compute`` (name -> value) and ``measure_pair`` (ledger-ready rows).

Keyword parameters are routed by name: each measure receives only the parameters its signature
declares (``k`` reaches ``vocab_overlap``, ``seed`` reaches ``proxy_a_distance``, ...). A parameter
that none of the requested measures declares is a ``ConfigError``, so a misspelt ``K=5000`` cannot
silently fall back to the default.
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


def register(name: str, direction: str = "divergence") -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Add the decorated ``measure`` function to ``MEASURES`` under ``name``."""
    if direction not in ("divergence", "similarity"):
        raise ValueError(f"direction={direction!r}: use 'divergence' or 'similarity'")

    def add(function: Callable[..., float]) -> Callable[..., float]:
        if name in MEASURES and MEASURES[name] is not function:
            raise ValueError(f"measure {name!r} is registered twice")
        MEASURES[name] = function
        DIRECTION[name] = direction
        return function

    return add


def _names(names: str | Iterable[str] | None) -> list[str]:
    chosen = sorted(MEASURES) if names is None else [names] if isinstance(names, str) else list(names)
    unknown = [n for n in chosen if n not in MEASURES]
    if unknown:
        raise ConfigError(f"unknown measure {', '.join(map(repr, unknown))}; valid: {', '.join(sorted(MEASURES))}")
    return chosen


def parameters(name: str) -> dict[str, object]:
    """The keyword parameters of measure ``name`` and their defaults."""
    signature = inspect.signature(MEASURES[name])
    return {p.name: p.default for p in list(signature.parameters.values())[2:]}


def _route(names: list[str], params: dict[str, object]) -> dict[str, dict[str, object]]:
    """Each measure's resolved parameters: its defaults, overridden by the ``params`` it declares."""
    declared = {name: parameters(name) for name in names}
    accepted = set().union(*declared.values()) if declared else set()
    stray = sorted(set(params) - accepted)
    if stray:
        raise ConfigError(f"measure parameter(s) {', '.join(stray)} not used by {', '.join(names)}; "
                          f"their parameters: {', '.join(sorted(accepted)) or 'none'}")
    return {name: {key: params.get(key, default) for key, default in own.items()}
            for name, own in declared.items()}


def compute(names: str | Iterable[str] | None, a: TextSample, b: TextSample, **params) -> dict[str, float]:
    """``{name: value}`` for each requested measure (``None``: every registered one), in order."""
    chosen = _names(names)
    routed = _route(chosen, params)
    return {name: float(MEASURES[name](a, b, **routed[name])) for name in chosen}


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
