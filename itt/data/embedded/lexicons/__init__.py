"""The generators' word lists: one JSON file per generator (plus ``shared.json``), read once.

Lists come back as tuples so a cached lexicon cannot be changed by the code that draws from it.
"""

from __future__ import annotations

import functools
import json
from importlib import resources


@functools.cache
def load(name: str):
    """The parsed ``<name>.json`` of this folder, with every list turned into a tuple."""
    text = resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    return _frozen(json.loads(text))


def _frozen(value):
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return {k: _frozen(v) for k, v in value.items()}
    return value
