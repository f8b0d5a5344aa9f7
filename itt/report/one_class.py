"""Runs that predicted one class for every item of a test set.

Such a run's accuracy is the share of that class in the set, not something it learned: on a small
PAWS-X target, multilingual-e5-small at 3e-5 for 2 epochs predicted "not a paraphrase" for all 292
test pairs in every language, and its per-language accuracies (.596 to .616) and "transfer gap"
(-.009) only restated how the labels of each translation happen to be distributed. The comparison
tables cannot show this (an accuracy near the majority share looks like a weak model), so the report
lists such (run, test set) pairs from the runs' prediction files.

Only for kinds whose prediction is one label per item (``KINDS``); sets whose gold labels are all one
class are left out (predicting it is then right, not degenerate).
"""

from __future__ import annotations

import pandas as pd

from .intervals import BootstrapUnavailable, prediction_file, read_predictions

KINDS = ("sequence_classification", "multiple_choice")
COLUMNS = ["run_id", "model", "task", "target", "itt_variant", "seed", "eval", "predicted", "n_items", "share"]


def one_class_runs(ok: pd.DataFrame) -> pd.DataFrame:
    """One line per (ok target run, test set: its own and each eval set) whose prediction file holds a
    single predicted class for more than one item, with that class and its share of the gold labels."""
    lines = []
    for run in ok[ok["stage"] == "target"].itertuples(index=False):
        if not run.predictions:
            continue
        evals = run.evals or {}
        sets = [(run.target, True, run.kind)] + [(name, False, evals[name].get("kind") or run.kind) for name in sorted(evals)]
        for name, own, kind in sets:
            if kind not in KINDS:
                continue
            try:
                gold, pred = read_predictions(prediction_file(run.predictions, name, own))
            except BootstrapUnavailable:  # no file (older rows, retrieval sets): nothing to say
                continue
            if len(pred) < 2 or object in (pred.dtype, gold.dtype) or len(set(gold.tolist())) < 2:
                continue
            classes = set(pred.tolist())
            if len(classes) == 1:
                (predicted,) = classes
                lines.append({"run_id": run.run_id, "model": run.model, "task": run.task, "target": run.target,
                              "itt_variant": run.itt_variant, "seed": run.seed, "eval": name,
                              "predicted": predicted, "n_items": len(pred),
                              "share": float((gold == predicted).mean())})
    return pd.DataFrame(lines, columns=COLUMNS)


def notes(table: pd.DataFrame) -> list[str]:
    """One line per run with one-class predictions (its test sets), for the report's header."""
    if table.empty:
        return []
    lines = []
    for run_id, sets in table.groupby("run_id", sort=True):
        names = ", ".join(f"{r.eval} (class {r.predicted!s}, {r.share:.3f} of {r.n_items} items)" for r in sets.itertuples())
        lines.append(f"one class predicted for every item (accuracy = that class's share, nothing learned): "
                     f"{run_id}: {names}")
    return lines
