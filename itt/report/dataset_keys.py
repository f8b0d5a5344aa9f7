"""A dataset's ``key``: the stable string that says which data a run actually trained or was
evaluated on, so that two targets of one task that read different ``path``\\ s are two cells.

New ledger rows carry ``dataset["key"]`` (written by the training side) and it is used as is.
For older rows it is rebuilt the same way: ``path`` plus ``:subset`` when there is one; with
``source=embedded`` the data are generated from the spec's language and domain rather than read
from ``path``, so ``@lang/domain`` is appended. A mixture's key joins its members' keys with ``+``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

MISSING_KEY = "n/a"


def dataset_key(dataset: Mapping | None, source: str | None = None) -> str:
    """``"stanfordnlp/imdb"``, ``"mteb/amazon_reviews_multi:de"``, ``"stanfordnlp/imdb@en/movies"``
    (embedded); :data:`MISSING_KEY` for a row that names no dataset."""
    if not isinstance(dataset, Mapping) or not dataset:
        return MISSING_KEY
    if dataset.get("key"):
        return str(dataset["key"])
    path = dataset.get("path")
    if not path:
        return MISSING_KEY
    key = f"{path}:{dataset['subset']}" if dataset.get("subset") else str(path)
    if source == "embedded":
        key += f"@{dataset.get('lang') or '-'}/{dataset.get('domain') or '-'}"
    return key


def mixture_key(datasets: Sequence[Mapping] | None, dataset: Mapping | None,
                source: str | None = None) -> str:
    """Key of everything a run trained on: one dataset's key, or ``a+b`` for a mixture."""
    members = [d for d in (datasets or []) if isinstance(d, Mapping)]
    if len(members) > 1:
        return "+".join(dataset_key(d, source) for d in members)
    return dataset_key(dataset, source)
