"""Exact match and token F1 of a predicted answer against gold answers, as the official scripts score them.

Nothing here imports torch: the report's item bootstrap (``itt.report.scorers``) scores saved
predictions with the same functions the runs logged their metrics with.

**SQuAD** (``evaluate-v1.1.py``, also what XTREME uses for XQuAD and TyDiQA-GoldP): lower-case,
remove ASCII punctuation (``string.punctuation``), remove the articles ``a|an|the`` (whole words),
collapse whitespace. Tokens are whitespace-separated words.

**MLQA** (``mlqa_evaluation_v1.py``), per language of the context: the same steps in the same order,
but

* punctuation is every Unicode character of category P* (plus ``string.punctuation``, which adds
  ASCII symbols such as ``$``, ``+``, ``^``), so ``«``, ``„``, ``¿``, ``。`` and ``、`` are removed too;
* the articles are the language's: en ``a an the``; es ``un una unos unas el la los las``; de ``ein
  eine einen einem eines einer der die das den dem des``; vi ``của là cái chiếc những``; ar every
  ``ال`` (the script's pattern ``\\sال^|ال`` removes each occurrence, also inside words); hi, zh none;
* zh is tokenised character by character for CJK ideographs (``[\\u4e00-\\u9fa5]``), words elsewhere,
  so F1 on Chinese counts shared characters.

The script defines only ar, de, en, es, hi, vi, zh; any other language is a ``ValueError`` (the kind
turns it into a config error before training). EM and F1 of an item are maxima over its gold answers;
a metric is the mean over items, in [0, 1] (the scripts print 100x that).
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections import Counter

SQUAD = "squad"
MLQA = "mlqa"
STYLES = (SQUAD, MLQA)

_ASCII_PUNCT = frozenset(string.punctuation)
_MLQA_ARTICLES = {
    "en": r"\b(a|an|the)\b",
    "es": r"\b(un|una|unos|unas|el|la|los|las)\b",
    "hi": None,
    "vi": r"\b(của|là|cái|chiếc|những)\b",
    "de": r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b",
    "ar": r"\sال^|ال",
    "zh": None,
}
MLQA_LANGS = tuple(sorted(_MLQA_ARTICLES))
_MIXED_SEGMENTATION = {"zh"}
_CJK = re.compile(r"[\u4e00-\u9fa5]")
_SQUAD_ARTICLES = re.compile(r"\b(a|an|the)\b")


def _is_unicode_punct(ch: str) -> bool:
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


@functools.lru_cache(maxsize=None)
def normalizer(style: str = SQUAD, lang: str = "en"):
    """The answer normalisation ``text -> text`` of ``style`` (squad | mlqa) for context language ``lang``."""
    if style == SQUAD:
        return normalize_squad
    if style != MLQA:
        raise ValueError(f"normalization={style!r} is not an answer normalisation; valid: {', '.join(STYLES)}")
    if lang not in _MLQA_ARTICLES:
        raise ValueError(f"normalization=mlqa is defined for {', '.join(MLQA_LANGS)}, not lang={lang!r}; "
                         f"use normalization=squad (what XTREME uses outside MLQA)")
    articles = re.compile(_MLQA_ARTICLES[lang]) if _MLQA_ARTICLES[lang] else None
    mixed = lang in _MIXED_SEGMENTATION

    def normalize(text: str) -> str:
        text = "".join(ch for ch in text.lower() if not _is_unicode_punct(ch))
        if articles is not None:
            text = articles.sub(" ", text)
        tokens = _mixed_segmentation(text) if mixed else text.split()
        return " ".join(t for t in tokens if t.strip())

    return normalize


def normalize_squad(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in _ASCII_PUNCT)
    return " ".join(_SQUAD_ARTICLES.sub(" ", text).split())


def _mixed_segmentation(text: str) -> list[str]:
    """MLQA's Chinese segmentation: each CJK ideograph (or punctuation mark) a token, words elsewhere."""
    out, pending = [], ""
    for ch in text:
        if _CJK.search(ch) or _is_unicode_punct(ch):
            out.extend(pending.split())
            pending = ""
            out.append(ch)
        else:
            pending += ch
    out.extend(pending.split())
    return out


def exact_match(prediction: str, gold: str, normalize=normalize_squad) -> float:
    return float(normalize(prediction) == normalize(gold))


def token_f1(prediction: str, gold: str, normalize=normalize_squad) -> float:
    """Harmonic mean of token precision and recall; 0 when no token is shared (also when both are
    empty after normalisation, as in the v1.1 script)."""
    pred_tokens, gold_tokens = normalize(prediction).split(), normalize(gold).split()
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def best_scores(prediction: str, golds: list[str], normalize=normalize_squad) -> tuple[float, float]:
    """(EM, F1) of one prediction: the maximum over the gold answers (0, 0 when there are none)."""
    if not golds:
        return 0.0, 0.0
    return (max(exact_match(prediction, g, normalize) for g in golds),
            max(token_f1(prediction, g, normalize) for g in golds))


def gold_item(texts: list[str], style: str = SQUAD, lang: str = "en") -> dict:
    """What a prediction file stores as an item's gold: the answers and how to normalise them."""
    return {"text": list(texts), "normalization": style if style == SQUAD else f"{style}:{lang}"}


def item_scores(gold, prediction: str) -> tuple[float, float]:
    """(EM, F1) of a saved item (``gold_item``; a plain list of answers means SQuAD normalisation)."""
    if isinstance(gold, dict):
        style, _, lang = str(gold.get("normalization", SQUAD)).partition(":")
        return best_scores(str(prediction), list(gold["text"]), normalizer(style, lang or "en"))
    return best_scores(str(prediction), [str(g) for g in gold])
