"""The language table: ISO 639-1 code → name, family, genus, script (``itt/languages.tsv``).

Rows are every language of the XTREME-R benchmark (Ruder et al., 2021, "XTREME-R: Towards More
Challenging and Nuanced Multilingual Evaluation", EMNLP; 50 languages) plus any other code the
project's configs use (today none: en, de, fr and es are XTREME-R languages). Where each column
comes from:

* **code** – the union of ``XTREME_R_TASK2LANGS`` in google-research/xtreme ``evaluate.py`` (the
  benchmark's own language list per task; 50 codes).
* **family** – the family names of the XTREME papers (google-research/xtreme README: "Afro-Asiatic,
  Austro-Asiatic, Austronesian, Dravidian, Indo-European, Japonic, Kartvelian, Kra-Dai,
  Niger-Congo, Sino-Tibetan, Turkic, and Uralic ... two isolates, Basque and Korean"), plus the two
  that XTREME-R adds with Quechua and Haitian Creole (Quechuan, Creole): 14 families and two
  isolates, as the XTREME-R paper counts them.
* **genus** – WALS (Dryer & Haspelmath, eds., The World Atlas of Language Structures Online,
  v2020.4; cldf-datasets/wals ``cldf/languages.csv``, column ``Genus``, entry of the standard
  variety, e.g. Arabic (Modern Standard), German, Mandarin, Quechua (Cuzco)).
* **script** – the ISO 15924 name of the script the XTREME-R data are written in.

Genus is finer than family (Indo-European → Germanic, Romance, Slavic, Indic, ...); the report
averages over both. Look-ups are exact on the lower-cased code (``"DE"`` → ``de``); region tags
(``pt-BR``) are cut to the language.
"""

from __future__ import annotations

import csv
import difflib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from itt.errors import ConfigError

TABLE_PATH = Path(__file__).with_name("languages.tsv")


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    family: str
    genus: str
    script: str


@lru_cache(maxsize=1)
def table() -> dict[str, Language]:
    """Every language of the table, by code (read once)."""
    with TABLE_PATH.open(encoding="utf-8") as fh:
        lines = [line for line in fh if line.strip() and not line.startswith("#")]
    return {r["code"]: Language(**r) for r in csv.DictReader(lines, delimiter="\t")}


def normalise(code: str) -> str:
    return str(code).strip().replace("_", "-").split("-")[0].lower()


def lookup(code: str, where: str = "", remedy: str = "") -> Language:
    """The record of ``code``; an unknown code is a :class:`ConfigError` naming it and ``where``
    it was found (a config key, a ledger line) with the closest known codes or names, and ``remedy``
    (default: add it to the table if it is real)."""
    langs = table()
    found = langs.get(normalise(code)) if code is not None else None
    if found is not None:
        return found
    by_name = {lang.name.lower(): c for c, lang in langs.items()}
    text = str(code).strip().lower()
    if text in by_name:  # a language name given for its code
        close = [by_name[text]]
    else:
        close = difflib.get_close_matches(normalise(text), list(langs), n=3, cutoff=0.5) \
            if len(text) <= 3 else []
        close += [by_name[n] for n in difflib.get_close_matches(text, list(by_name), n=2,
                                                                 cutoff=0.7)]
    close = list(dict.fromkeys(close))[:3]
    hint = (f"did you mean {', '.join(f'{c} ({langs[c].name})' for c in close)}?" if close
            else f"known codes: {', '.join(sorted(langs))}")
    place = f" in {where}" if where else ""
    remedy = remedy or f"add it to {TABLE_PATH.name} if it is real"
    raise ConfigError(f"unknown language code {code!r}{place}; {hint} ({remedy})")


def get(code: str | None) -> Language | None:
    """Like :func:`lookup` but None for a missing or unknown code (for readers of old rows)."""
    if code is None:
        return None
    return table().get(normalise(code))


def describe(spec) -> dict:
    """Family, genus and script of a dataset spec's ``lang``: the table's for a known code, else the spec's
    own (``itt.stages.check_languages`` refuses an unknown code without a family). The ledger row and the
    report's long table both read languages this way, so they never disagree."""
    known = get(spec.get("lang"))
    if known is not None:
        return {"family": known.family, "genus": known.genus, "script": known.script}
    return {k: spec.get(k) for k in ("family", "genus", "script")}


def code(value):
    """The table's code of a known language (``EN``, ``en-US`` -> ``en``), anything else as given: the report
    compares languages by this, so a region-tagged ``lang`` is its language there too."""
    known = get(value)
    return known.code if known is not None else value
