"""Offline replicas of the Hugging Face hub datasets the project names (see make_replicas.py).

``INDEX`` maps each hub id to its replica: folder, replicated configs with their real split sizes and
features, the real configs not replicated, legacy aliases, sources, and the facts not verified.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent
INDEX: dict[str, dict] = json.loads((ROOT / "index.json").read_text(encoding="utf-8"))
ALIASES: dict[str, str] = {alias: hub_id for hub_id, entry in INDEX.items() for alias in entry["aliases"]}


def entry(hub_id: str) -> dict | None:
    """The index entry of a hub id or of a legacy alias the hub redirects (``imdb`` -> ``stanfordnlp/imdb``)."""
    return INDEX.get(hub_id) or INDEX.get(ALIASES.get(hub_id, ""))


def folder(hub_id: str) -> Path:
    return ROOT / entry(hub_id)["folder"]
