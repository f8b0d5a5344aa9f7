"""``split=paper`` (pool everything, stratified 70/15/15 by seed) and ``split=official``.

Stratification uses ``datasets``' own ``train_test_split(stratify_by_column=...)``: by label for
classification, by five score bins for regression. Deterministic for a given seed.
"""

from __future__ import annotations

import logging

from datasets import ClassLabel, DatasetDict, concatenate_datasets

from itt.errors import DataError

log = logging.getLogger(__name__)
SCORE_BINS = 5


def make_splits(raw: DatasetDict, split_cfg, kind: str, seed: int, max_rows: int | None, where: str) -> DatasetDict:
    if split_cfg.name == "paper":
        pool = concatenate_datasets(list(raw.values())) if len(raw) > 1 else next(iter(raw.values()))
        pool = _subsample(pool, max_rows, seed)
        train, rest = _split(pool, split_cfg.validation + split_cfg.test, kind, seed)
        validation, test = _split(rest, split_cfg.test / (split_cfg.validation + split_cfg.test), kind, seed)
        out = DatasetDict(train=train, validation=validation, test=test)
    elif split_cfg.name == "official":
        if "train" not in raw:
            raise DataError(f"{where}: has no train split (splits: {', '.join(raw)}); use split=paper")
        train = _subsample(raw["train"], max_rows, seed)
        out = DatasetDict(train=train)
        for name, fraction in (("validation", split_cfg.validation), ("test", split_cfg.test)):
            if name in raw:
                out[name] = raw[name]
            else:  # carve the missing split from train, stratified
                out["train"], out[name] = _split(out["train"], fraction, kind, seed)
    else:
        raise DataError(f"split.name={split_cfg.name!r} is not a split; valid: paper, official")
    for name, ds in out.items():
        if len(ds) == 0:
            raise DataError(f"{where}: the {name} split is empty after split={split_cfg.name}; the dataset has too few rows ({sum(len(d) for d in raw.values())})")
    return out


def _subsample(ds, max_rows, seed):
    if max_rows is None or len(ds) <= max_rows:
        return ds
    return ds.shuffle(seed=seed).select(range(max_rows))


def _split(ds, test_fraction: float, kind: str, seed: int):
    if len(ds) < 2:
        return ds, ds.select([])
    strata = _with_strata(ds, kind)
    try:
        parts = strata.train_test_split(test_size=test_fraction, seed=seed, stratify_by_column="_stratum")
    except ValueError as exc:  # a class too small to appear on both sides: fall back to a random split
        log.warning("stratified split impossible (%s); using a random split", exc)
        parts = strata.train_test_split(test_size=test_fraction, seed=seed)
    return parts["train"].remove_columns("_stratum"), parts["test"].remove_columns("_stratum")


def _with_strata(ds, kind: str):
    # ds["label"][:], not iterating ds["label"]: datasets >= 4 returns a lazy column whose row-by-row
    # iteration costs ~100 us a row (20 s on a 200k-row intermediate set); the slice is one Arrow read.
    labels = ds["label"][:]
    if kind == "sequence_regression":
        strata = [min(int(v * SCORE_BINS), SCORE_BINS - 1) for v in labels]
        n = SCORE_BINS
    else:
        strata = list(labels)
        n = max(strata) + 1 if strata else 1
    out = ds.add_column("_stratum", strata)
    return out.cast_column("_stratum", ClassLabel(num_classes=n))
