"""``model.eager_attention`` (opt-in, changes numerics): the run's model computes attention on
transformers' eager path; the setting is part of the run id and the row's numerics only when on, so the
ids of runs with SDPA (the default) stay what they were."""

from __future__ import annotations

import pytest
import torch
from hydra import compose, initialize_config_dir

from itt import identity
from itt.errors import ConfigError
from itt.train import CONF_DIR

BASE = ["model=bert", "task=sentiment", "+stage=target", "stage.itt=false", "source=embedded", "logger=csv",
        "task.datasets.domain.embedded_rows=60"]


def _spec(*overrides):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return identity.resolve(compose("train", overrides=[*BASE, *overrides]))


def test_the_run_id_changes_only_when_it_is_on(tmp_path):
    root = f"paths.root={tmp_path}"
    default, off, on = _spec(root), _spec(root, "model.eager_attention=false"), _spec(root, "model.eager_attention=true")
    assert identity.run_id(default) == identity.run_id(off) != identity.run_id(on)
    assert "attention" not in identity.numerics(default)
    assert identity.numerics(on)["attention"] == "eager"


def test_with_the_hashed_dropout_it_is_a_one_line_config_error(tmp_path):
    spec = _spec(f"paths.root={tmp_path}", "model.eager_attention=true", "model.fast_dropout=true",
                 "trainer.accelerator=cpu")
    with pytest.raises(ConfigError, match="cannot be combined"):
        identity.run_id(spec)


def test_the_built_model_attends_eagerly_with_bf16_scores(tmp_path):
    from itt.build import build_run

    plain = build_run(_spec(f"paths.root={tmp_path}")).module.model
    eager = build_run(_spec(f"paths.root={tmp_path}", "model.eager_attention=true")).module.model
    assert plain.config._attn_implementation == "sdpa" and eager.config._attn_implementation == "eager"
    scores = []
    hook = torch.matmul

    def recording(a, b, *args, **kwargs):  # the attention scores: query x key^T, 4-d
        out = hook(a, b, *args, **kwargs)
        if out.dim() == 4:
            scores.append(out.dtype)
        return out

    ids = torch.randint(5, 50, (2, 7))
    torch.matmul = recording
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            eager.train()(input_ids=ids, attention_mask=torch.ones_like(ids))
    finally:
        torch.matmul = hook
    assert scores and scores[0] == torch.bfloat16
