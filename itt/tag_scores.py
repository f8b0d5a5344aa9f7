"""Scores of tag sequences (token classification) as per-sentence counts: entity spans and word accuracy.

Both the token-classification evaluator (``itt.tasks.token_classification``: the metrics a run logs)
and the report's bootstrap scorers (``itt.report.scorers``: the same metrics on resampled sentences)
count with these functions, so the two can never disagree. Only seqeval and the standard library
are imported: the report does not import torch.

- **Span F1** (BIO/IOB2 tag sets): an entity is a (type, first word, last word) span; a predicted
  entity counts when the gold sentence has exactly that span. Micro precision, recall and F1 are
  computed from the counts summed over sentences: that is seqeval's ``precision_score``,
  ``recall_score`` and ``f1_score`` (tested against them). Entities are extracted by seqeval, in its
  default (conlleval) mode or, with ``strict``, its strict IOB2 mode (an ``I-X`` that does not continue
  a ``B-X``/``I-X`` starts no entity). A zero denominator gives 0, as in seqeval.
- **Word accuracy** (any tag set): correct words / words.

A word without a prediction (``None``: cut off by ``max_length``, never seen by the model) counts as
wrong for accuracy and as ``O`` (no entity) for spans.
"""

from __future__ import annotations

import re

_BIO = re.compile(r"^[BI]-.+")


def looks_like_bio(names) -> bool:
    """True when every tag is ``O``, ``B-<type>`` or ``I-<type>`` and at least one is ``B-``: the rule
    ``task.options.spans: auto`` uses to pick span F1 over word accuracy."""
    names = [str(n) for n in names]
    return bool(names) and all(n == "O" or _BIO.match(n) for n in names) and any(n.startswith("B-") for n in names)


def entities(tags, strict: bool = False) -> set[tuple[str, int, int]]:
    """The entities of one sentence as (type, start, end) with ``end`` exclusive."""
    tags = [t if t is not None else "O" for t in tags]
    if strict:
        from seqeval.scheme import IOB2, Entities  # noqa: PLC0415

        return {(e.tag, e.start, e.end) for e in Entities([tags], IOB2, suffix=False).entities[0]}
    from seqeval.metrics.sequence_labeling import get_entities  # noqa: PLC0415

    return {(kind, start, end + 1) for kind, start, end in get_entities(tags)}


def span_counts(gold, pred, strict: bool = False) -> tuple[int, int, int]:
    """(true positives, predicted entities, gold entities) of one sentence."""
    g, p = entities(gold, strict), entities(pred, strict)
    return len(g & p), len(p), len(g)


def span_scores(tp: float, n_pred: float, n_gold: float) -> dict[str, float]:
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * tp / (n_pred + n_gold) if n_pred + n_gold else 0.0
    return {"f1": f1, "precision": precision, "recall": recall}


def word_counts(gold, pred) -> tuple[int, int]:
    """(correct words, words) of one sentence; ``pred`` may be shorter than ``gold`` (missing = wrong)."""
    pred = list(pred) + [None] * (len(gold) - len(pred))
    return sum(p is not None and p == g for g, p in zip(gold, pred)), len(gold)


def reencoded(tags, strict: bool = True) -> list[str]:
    """The sentence's entities written back as clean IOB2 tags (``O`` elsewhere). In strict mode the
    saved predictions are these, so that any conlleval-style scorer of the saved items (the report's
    bootstrap) gives the strict figures the run logged."""
    out = ["O"] * len(tags)
    for kind, start, end in entities(tags, strict):
        out[start:end] = [f"B-{kind}"] + [f"I-{kind}"] * (end - start - 1)
    return out
