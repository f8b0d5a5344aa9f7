"""task=copa: XCOPA's languages translate English COPA row by row (XCOPA validation row i is COPA validation row i,
SuperGLUE's idx i; test alike), so no eval set may score the translation of a row the target trains on."""

from __future__ import annotations

import datasets
import pytest
from hub_replicas import INDEX

from itt import identity


def _hub_sized(spec, **kwargs):
    """A hub dataset of task=copa as ``datasets`` returns it: the replica's schema (tests/hub_replicas) at the hub's
    split sizes, every row saying which question it is (``<split> <idx>``, the same in COPA and each XCOPA language)."""
    recorded = INDEX[spec.path]["configs"][spec.subset]
    features = datasets.Features.from_dict(recorded["features"])
    out = {}
    for split, n in recorded["splits"].items():
        rows = [{"premise": f"{spec.subset} {split} {i} happened", "choice1": f"cause a {i}", "choice2": f"cause b {i}",
                 "question": "cause" if i % 2 else "effect", "idx": i, "label": i % 2 if split != "test" or
                 spec.path != "aps/super_glue" else -1, "changed": False} for i in range(n)]
        out[split] = datasets.Dataset.from_list([{k: r[k] for k in features} for r in rows], features=features)
    return datasets.DatasetDict(out)


def _question(text: str) -> str:
    return " ".join(text.split()[1:3])  # "<split> <idx>": the question, whatever the language


@pytest.mark.parametrize("target,split", [("crosslingual", "official"), ("crosslingual", "paper"), ("en", "paper"),
                                          ("en", "official"), ("domain", "paper")])
def test_no_xcopa_eval_set_scores_a_translation_of_a_training_row(tmp_path, monkeypatch, target, split):
    """Nothing declared XCOPA aligned: under split=official the crosslingual target trains on XCOPA Italian's
    validation split, and every other language's validation split (85 of 100 rows here) was translations of its
    training rows; under split=paper each dataset was split on its own, so ~40 % of an XCOPA test split was, and the
    COPA targets trained on the English of ~70 % of every XCOPA validation row. Now none is."""
    from hydra import compose, initialize_config_dir  # noqa: PLC0415

    from itt.build import prepare_data  # noqa: PLC0415
    from itt.data import loading  # noqa: PLC0415
    from itt.models.loading import load_tokenizer, pretrained_source  # noqa: PLC0415
    from itt.train import CONF_DIR  # noqa: PLC0415

    monkeypatch.setattr(loading, "hub_dataset", _hub_sized)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["task=copa", "model=bert", "+stage=target", f"stage.target={target}",
                                          "stage.itt=false", f"split={split}", "source=hub", f"paths.root={tmp_path}",
                                          f"paths.cache={tmp_path / 'cache'}"])
    spec = identity.resolve(cfg)
    tokenizer = load_tokenizer(pretrained_source(cfg.model, "embedded", tmp_path / "models"))
    (trained_set,), evals = prepare_data(spec, tokenizer)
    assert len(evals) == (10 if target == "crosslingual" else 11)  # XCOPA it is the crosslingual target's own data
    node = cfg.task.datasets[target]
    read = {f"{theirs} {i}" for theirs in node.splits.values() if theirs
            for i in range(INDEX[node.path]["configs"][node.subset]["splits"][theirs])}
    held = {_question(t) for rows in trained_set.rows.values() for t in rows["premise"]}
    trained = read - held
    assert len(trained_set.features["train"]) == len(trained)
    seen = {e.name: sum(_question(t) in trained for rows in e.rows.values() for t in rows["premise"]) for e in evals}
    assert not any(seen.values()), f"eval rows that are translations of training rows: {seen}"
    assert all(len(rows) for e in evals for rows in e.rows.values())  # each still scores something
