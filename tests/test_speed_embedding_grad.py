"""``model.sparse_embedding_grad``: the input embedding's sparse backward into a kept dense gradient
gives the dense backward's gradient bit for bit (across steps, with gradient accumulation, padding
rows and a tied dense use of the weight), trains to the same weights, and is installed only where
it is meant to be."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from itt.models import sparse_embedding_grad as seg
from itt.module import build_optimizer, clip_norm_in_fused_step, prepare_for_training


def _tiny_bert(seed: int = 0):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    return BertForSequenceClassification(BertConfig(vocab_size=97, hidden_size=32, num_hidden_layers=2,
                                                    num_attention_heads=4, intermediate_size=64, num_labels=2,
                                                    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))


def _batch(generator, rows=6, length=9):
    ids = torch.randint(1, 40, (rows, length), generator=generator)  # rows 40..96 never used
    mask = torch.ones_like(ids)
    ids[0, 5:], mask[0, 5:] = 0, 0  # padding: BERT's padding_idx 0 gets no gradient
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.randint(0, 2, (rows,), generator=generator)}


def _train(install: bool, steps=4, accumulate=1, fused=True, max_norm=0.5):
    """``steps`` AdamW steps with norm clipping; returns the word-embedding gradients seen before each
    step (copies) and the final weights."""
    model = _tiny_bert()
    model.train()
    if install:
        assert seg.install(model)
    optim = type("Optim", (), {"lr": 1e-2, "weight_decay": 0.01, "warmup_ratio": 0.0})
    optimizer, _ = build_optimizer(model, optim, steps, fused=fused)
    params = [p for p in model.parameters()]
    weight = model.get_input_embeddings().weight
    generator = torch.Generator().manual_seed(1)
    grads = []
    for _ in range(steps):
        for _ in range(accumulate):
            model(**_batch(generator)).loss.backward()
        assert weight.grad.layout == torch.strided  # the optimizer always sees a dense gradient
        grads.append(weight.grad.clone())
        if fused:
            clip_norm_in_fused_step(optimizer, params, max_norm)
        else:
            torch.nn.utils.clip_grad_norm_(params, max_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return grads, {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("accumulate, fused, max_norm", [(1, True, 1e6), (2, True, 1e6), (1, False, 0.5)])
def test_same_gradients_and_weights_bit_for_bit(accumulate, fused, max_norm):
    """Bit for bit where clipping reads every row the same way (clip_grad_norm_) or does not clip."""
    dense_grads, dense_weights = _train(False, accumulate=accumulate, fused=fused, max_norm=max_norm)
    sparse_grads, sparse_weights = _train(True, accumulate=accumulate, fused=fused, max_norm=max_norm)
    for dense, sparse in zip(dense_grads, sparse_grads):
        assert torch.equal(dense, sparse)
        assert dense[40:].abs().sum() == 0 and dense[0].abs().sum() == 0  # untouched and padding rows
    assert dense_weights.keys() == sparse_weights.keys()
    assert all(torch.equal(dense_weights[k], sparse_weights[k]) for k in dense_weights)


@pytest.mark.parametrize("accumulate", [1, 2])
def test_clipped_in_the_fused_step_same_weights_up_to_rounding(accumulate):
    """Clipping in the fused step reads the embedding's touched rows only: the norm, and so the weights,
    agree up to float summation order (the first step's gradients still bit for bit)."""
    dense_grads, dense_weights = _train(False, accumulate=accumulate)
    sparse_grads, sparse_weights = _train(True, accumulate=accumulate)
    assert torch.equal(dense_grads[0], sparse_grads[0])
    for k in dense_weights:
        torch.testing.assert_close(sparse_weights[k], dense_weights[k], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("accumulate", [1, 3])
def test_clipping_norm_from_the_touched_rows_equals_the_full_norm(accumulate):
    model = _tiny_bert()
    seg.install(model)
    weight = model.get_input_embeddings().weight
    optim = type("Optim", (), {"lr": 1e-2, "weight_decay": 0.01, "warmup_ratio": 0.0})
    optimizer, _ = build_optimizer(model, optim, 2, fused=True)
    params = list(model.parameters())
    generator = torch.Generator().manual_seed(4)
    for step in range(2):  # the second step's rows differ from the first's: stale rows are zero, not counted
        for i in range(accumulate):
            batch = _batch(generator)
            batch["input_ids"] = batch["input_ids"] % 10 + 10 * i + 1  # each accumulated backward: its own rows
            model(**batch).loss.backward()
        full = torch.nn.utils.get_total_norm([p.grad for p in params])
        rows_norm = seg.touched_rows_norm(weight)
        assert rows_norm is not None
        torch.testing.assert_close(rows_norm, torch.linalg.vector_norm(weight.grad), rtol=1e-6, atol=0)
        clip_norm_in_fused_step(optimizer, params, 1e-3)
        torch.testing.assert_close(optimizer.grad_scale, (full + 1e-6) / 1e-3, rtol=1e-6, atol=0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)


def test_no_touched_rows_norm_after_a_dense_use_or_without_the_switch():
    model = _tiny_bert()
    assert seg.touched_rows_norm(model.get_input_embeddings().weight) is None  # not installed
    seg.install(model)
    embedding = model.get_input_embeddings()
    (embedding(torch.tensor([[1, 2]])).sum() + embedding.weight.sum()).backward()  # every row written
    assert seg.touched_rows_norm(embedding.weight) is None


def test_the_gradient_tensor_is_kept_and_stale_rows_are_cleared():
    model = _tiny_bert()
    seg.install(model)
    weight = model.get_input_embeddings().weight
    generator = torch.Generator().manual_seed(2)
    model(**_batch(generator)).loss.backward()
    kept = weight.grad
    first_rows = set(torch.nonzero(kept.abs().sum(1)).flatten().tolist())
    weight.grad = None  # zero_grad(set_to_none=True)
    batch = _batch(generator)
    batch["input_ids"][:, :] = 7  # every token is row 7 now
    model(**batch).loss.backward()
    assert weight.grad is kept  # no new vocab x hidden tensor
    assert set(torch.nonzero(kept.abs().sum(1)).flatten().tolist()) == {7}
    assert len(first_rows - {7}) > 5  # the previous step's rows were there and were zeroed


def test_zero_grad_without_set_to_none_keeps_the_row_list_bounded():
    model = _tiny_bert()
    seg.install(model)
    weight = model.get_input_embeddings().weight
    keeper = weight._itt_row_gradient
    generator = torch.Generator().manual_seed(3)
    for _ in range(100):
        model(**_batch(generator)).loss.backward()
        weight.grad.zero_()  # what zero_grad(set_to_none=False) does
    assert weight.grad is keeper.grad and len(keeper.written) <= 65
    assert set(torch.cat(keeper.written).tolist()) <= set(range(1, 40))


def test_a_dense_use_of_the_same_weight_is_added_in_full():
    """A tied output layer (logits over the vocabulary) writes every row of the gradient."""
    def run(install: bool):
        torch.manual_seed(0)
        embedding = nn.Embedding(50, 8, padding_idx=0)
        holder = type("Tied", (nn.Module,), {"get_input_embeddings": lambda self: self.embedding})()
        holder.embedding = embedding
        if install:
            assert seg.install(holder)
        grads = []
        for step in range(3):
            ids = torch.randint(0, 50, (4, 6), generator=torch.Generator().manual_seed(step))
            hidden = embedding(ids)
            loss = hidden.pow(2).sum() if step == 1 else (hidden @ embedding.weight.t()).logsumexp(-1).sum()
            loss.backward()
            grads.append(embedding.weight.grad.clone())
            embedding.weight.grad = None
        return grads

    for dense, sparse in zip(run(False), run(True)):
        torch.testing.assert_close(sparse, dense, rtol=0, atol=1e-6)


@pytest.mark.parametrize("enabled, device, world_size, expected", [
    (True, "cpu", 1, True), (False, "cpu", 1, False), (True, "cuda", 1, False), (True, "cpu", 2, False)])
def test_apply_installs_only_for_single_process_cpu_training(enabled, device, world_size, expected):
    model = _tiny_bert()
    assert seg.apply(model, enabled, torch.device(device), world_size) is expected
    assert model.get_input_embeddings().sparse is expected
    assert seg.installed(model) is expected
    assert seg.install(model) is False or not expected  # idempotent


def test_frozen_or_embeddingless_models_are_left_alone():
    frozen = _tiny_bert()
    frozen.get_input_embeddings().weight.requires_grad_(False)
    assert seg.apply(frozen, True, torch.device("cpu")) is False
    assert seg.apply(nn.Linear(3, 3), True, torch.device("cpu")) is False


def test_prepare_for_training_applies_both_switches():
    from itt.models.fast_dropout import FastDropout

    model = _tiny_bert()
    prepare_for_training(model, fast_dropout=False, sparse_embedding_grad=True, device=torch.device("cpu"))
    assert seg.installed(model) and not any(isinstance(m, FastDropout) for m in model.modules())


def test_model_group_declares_the_switch():
    from hydra import compose, initialize_config_dir

    from itt.train import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        base = ["model=minilm", "task=sentiment", "+stage=intermediate"]
        assert compose("train", overrides=base).model.sparse_embedding_grad is True
        assert compose("train", overrides=base + ["model.sparse_embedding_grad=false"]).model.sparse_embedding_grad is False
