"""Issue 5, point 7: API keys and tokens never reach saved configs, logs or the ledger;
``trust_remote_code`` is off unless asked for; checkpoints are loaded with ``weights_only=True``
(models are saved as safetensors).
End to end (no secret under paths.root with W&B on): test_reliability_sweep.py."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
import torch
from conftest import REPO
from hydra import compose, initialize_config_dir

from itt.models import loading
from itt.tasks import get_task
from itt.train import CONF_DIR
from itt.trainer import resume_point


@pytest.mark.parametrize("model", ["bert", "roberta", "xlnet", "minilm"])
def test_trust_remote_code_is_off_unless_turned_on(model):
    with initialize_config_dir(CONF_DIR, version_base="1.3"):
        assert compose("train", overrides=[f"model={model}", "+stage=intermediate"]).model.trust_remote_code is False
        on = compose("train", overrides=[f"model={model}", "+stage=intermediate", "model.trust_remote_code=true"])
        assert on.model.trust_remote_code is True


def test_loaders_pass_trust_remote_code_false_by_default(monkeypatch):
    calls = []

    from transformers import AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification

    def record(name, **kwargs):
        calls.append(kwargs.get("trust_remote_code", "not passed"))
        return BertForSequenceClassification(BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1,
                                                        num_attention_heads=2, intermediate_size=16))

    monkeypatch.setattr(loading.AutoTokenizer, "from_pretrained", record)
    monkeypatch.setattr(AutoModelForSequenceClassification, "from_pretrained", record)
    loading.load_tokenizer("some/model")
    loading.load_model("some/model", get_task("sequence_classification", "acc"), ["a", "b"])
    assert calls == [False, False]


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_checkpoint_with_pickled_code_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    ckpt.parent.mkdir()
    torch.save({"global_step": 7, "payload": _Payload(marker)}, ckpt)
    assert resume_point(tmp_path) == (None, None)  # refused: not resumed from, not unpickled
    assert not marker.exists()


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            yield node, node.func.attr, {k.arg: k.value for k in node.keywords}


def test_every_checkpoint_load_in_itt_is_weights_only():
    seen = 0
    for path in sorted((REPO / "itt").rglob("*.py")):
        for call, name, kwargs in _calls(ast.parse(path.read_text())):
            is_torch_load = name == "load" and getattr(call.func.value, "id", None) == "torch"
            is_trainer_load = name in ("fit", "validate", "test") and "ckpt_path" in kwargs
            if is_torch_load or is_trainer_load:
                seen += 1
                flag = kwargs.get("weights_only")
                assert isinstance(flag, ast.Constant) and flag.value is True, \
                    f"{path.relative_to(REPO)}:{call.lineno}: {name}(...) without weights_only=True"
    assert seen >= 4  # resume_point's torch.load and the pipeline's fit/validate/test
