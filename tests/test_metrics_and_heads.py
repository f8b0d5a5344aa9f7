"""The numbers a run reports: metrics equal independent references (scikit-learn, scipy), regression
predictions are fp32 under bf16 autocast, and the head hand-off follows one policy for every
architecture."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score
from transformers import (AutoModelForSequenceClassification, BertConfig, RobertaConfig, XLMRobertaConfig,
                          XLNetConfig)

from itt.models import heads
from itt.models.loading import load_model
from itt.tasks import get_task
from itt.tasks.sequence_classification import SequenceClassification


def _batch(preds_logits, golds):
    from types import SimpleNamespace

    return SimpleNamespace(logits=preds_logits), {"labels": golds, "idx": torch.arange(len(golds))}


@pytest.mark.parametrize("seed", range(5))
def test_classification_metrics_equal_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    n, k = 200, 4
    golds = rng.integers(0, k, n)
    golds[golds == 3] = 2 if seed % 2 else 3  # some seeds: a class that never occurs
    logits = rng.normal(size=(n, k))
    metric = get_task("sequence_classification").evaluator(["a", "b", "c", "d"])
    # two batches, shuffled: the evaluator puts items back in row order
    order = rng.permutation(n)
    for part in np.array_split(order, 2):
        out, batch = _batch(torch.tensor(logits[part]), torch.tensor(golds[part]))
        batch["idx"] = torch.tensor(part)
        metric.update(out, batch)
    got = {k: float(v) for k, v in metric.compute().items()}
    preds = logits.argmax(1)
    assert got["acc"] == pytest.approx(accuracy_score(golds, preds), abs=1e-6)
    assert got["f1_macro"] == pytest.approx(f1_score(golds, preds, average="macro"), abs=1e-6)
    assert [i["pred"] for i in metric.items()] == preds.tolist()  # per-item predictions in row order


@pytest.mark.parametrize("seed", range(5))
def test_regression_metrics_equal_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    golds = rng.integers(0, 6, 300) / 5  # STS-like scores: many ties
    preds = golds + rng.normal(scale=0.3, size=300)
    preds[:40] = preds[0]  # ties in the predictions too
    metric = get_task("sequence_regression").evaluator([])
    out, batch = _batch(torch.tensor(preds, dtype=torch.float32).unsqueeze(-1), torch.tensor(golds, dtype=torch.float32))
    metric.update(out, batch)
    got = {k: float(v) for k, v in metric.compute().items()}
    assert got["pearson"] == pytest.approx(stats.pearsonr(preds, golds).statistic, abs=1e-5)
    assert got["spearman"] == pytest.approx(stats.spearmanr(preds, golds).statistic, abs=1e-5)


def _tiny(config_cls, **extra):
    common = dict(vocab_size=60, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    if config_cls is XLNetConfig:
        common = dict(vocab_size=60, d_model=16, n_layer=1, n_head=2, d_inner=32)
    return config_cls(**{**common, **extra})


ARCHITECTURES = {
    "bert": (BertConfig, "classifier", ["bert.pooler.dense"]),
    "roberta": (RobertaConfig, "classifier.out_proj", ["classifier.dense"]),
    "xlmr": (XLMRobertaConfig, "classifier.out_proj", ["classifier.dense"]),
    "xlnet": (XLNetConfig, "logits_proj", ["sequence_summary.summary"]),
}


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_the_head_policy_is_the_same_for_every_architecture(tmp_path, arch):
    """BERT's pooler sits inside the encoder and RoBERTa's dense layer and XLNet's summary outside it; the
    policy treats them alike: ``projection`` re-initialises only the final output layer, ``head`` every
    task-specific layer, and an equal label space keeps everything."""
    config_cls, projection, inner_head = ARCHITECTURES[arch]
    torch.manual_seed(0)
    parent = AutoModelForSequenceClassification.from_config(_tiny(config_cls, num_labels=3))
    with torch.no_grad():  # make every parent weight recognisable
        for p in parent.parameters():
            p.add_(1.0)
    parent.save_pretrained(tmp_path / "parent")
    assert heads.final_projection(parent) == projection

    def child(policy, same):
        torch.manual_seed(1)
        model = AutoModelForSequenceClassification.from_config(_tiny(config_cls, num_labels=3))
        fresh = {k: v.clone() for k, v in model.state_dict().items()}
        outcome = heads.hand_off(model, tmp_path / "parent", same, policy)
        return model.state_dict(), fresh, outcome

    parent_state = parent.state_dict()
    for policy, reset in (("projection", [projection]), ("head", [*heads.head_modules(parent)])):
        state, fresh, outcome = child(policy, same=False)
        assert outcome == f"{policy}_reset"
        for key, value in state.items():
            in_reset = any(key.startswith(m + ".") for m in reset)
            expected = fresh[key] if in_reset else parent_state[key]
            assert torch.equal(value, expected), (policy, key, in_reset)
        for module in inner_head:  # carried over by `projection`, fresh under `head`
            key = f"{module}.weight"
            assert torch.equal(state[key], parent_state[key]) is (policy == "projection"), (policy, key)
    state, _, outcome = child("projection", same=True)
    assert outcome == "kept" and all(torch.equal(state[k], parent_state[k]) for k in state)


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_freeze_encoder_trains_the_same_head_in_every_architecture(arch):
    """optim.freeze_encoder=true trains exactly what the head policy calls the head: BERT's pooler too."""
    config_cls, projection, inner_head = ARCHITECTURES[arch]
    model = AutoModelForSequenceClassification.from_config(_tiny(config_cls, num_labels=3))
    heads.freeze_encoder(model)
    trained = {name for name, p in model.named_parameters() if p.requires_grad}
    head = {f"{m}.{name}" for m, module in heads.head_modules(model).items() for name, _ in module.named_parameters()}
    assert trained == head and f"{projection}.weight" in trained and all(f"{m}.weight" in trained for m in inner_head)


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_weight_decay_spares_the_parameters_the_hf_trainer_spares(arch):
    """run_glue.py's Trainer decays every weight but biases and norms; so does itt, XLNet's 2-d attention
    biases (r_w_bias, r_r_bias, r_s_bias) included."""
    from omegaconf import OmegaConf  # noqa: PLC0415
    from transformers import Trainer  # noqa: PLC0415

    from itt.module import build_optimizer  # noqa: PLC0415

    model = AutoModelForSequenceClassification.from_config(_tiny(ARCHITECTURES[arch][0], num_labels=3))
    optim = OmegaConf.create({"lr": 1e-3, "weight_decay": 0.01, "warmup_ratio": 0.0})
    optimizer, _ = build_optimizer(model, optim, 10, fused=False)
    decayed = {id(p) for group in optimizer.param_groups if group["weight_decay"] > 0 for p in group["params"]}
    names = {name for name, p in model.named_parameters() if id(p) in decayed}
    assert names == set(Trainer.get_decay_parameter_names(None, model))


def test_a_parent_of_another_architecture_is_refused(tmp_path):
    parent = AutoModelForSequenceClassification.from_config(_tiny(RobertaConfig, num_labels=2))
    parent.save_pretrained(tmp_path / "parent")
    model = AutoModelForSequenceClassification.from_config(_tiny(BertConfig, num_labels=2))
    with pytest.raises(heads.ConfigError, match="not a BertForSequenceClassification of the same architecture"):
        heads.hand_off(model, tmp_path / "parent", True, "projection")


def test_a_parent_weight_of_another_shape_is_refused_not_left_pretrained(tmp_path):
    """A parent whose vocabulary grew (a hub model updated since it ran): its word embeddings were skipped without a
    word, so the encoder kept that layer pretrained while the row said the run started from its parent."""
    parent = AutoModelForSequenceClassification.from_config(_tiny(BertConfig, num_labels=2, vocab_size=110))
    parent.save_pretrained(tmp_path / "parent")
    model = AutoModelForSequenceClassification.from_config(_tiny(BertConfig, num_labels=2))
    with pytest.raises(heads.ConfigError, match=r"bert.embeddings.word_embeddings.weight is \(110, \d+\) there and "
                                                r"\(\d+, \d+\) in this BertForSequenceClassification"):
        heads.hand_off(model, tmp_path / "parent", True, "projection")


def test_regression_predictions_are_fp32_under_bf16_autocast(tmp_path):
    """On a tiny BERT under bf16 autocast 1,000 distinct inputs gave ~300 distinct bf16 predictions, so
    Pearson and Spearman were computed on ties; the head runs in fp32 and keeps them apart."""
    torch.manual_seed(0)
    AutoModelForSequenceClassification.from_config(_tiny(BertConfig, num_labels=1)).save_pretrained(tmp_path / "m")
    task = get_task("sequence_regression")
    ours, _ = load_model(str(tmp_path / "m"), task, [])
    plain = AutoModelForSequenceClassification.from_pretrained(tmp_path / "m", **task.model_kwargs([]))
    ids = torch.randint(5, 60, (1000, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        ours_out = ours(input_ids=ids).logits
        plain_out = plain(input_ids=ids).logits
    assert ours_out.dtype == torch.float32 and plain_out.dtype == torch.bfloat16
    assert len(torch.unique(ours_out)) > 990 > 500 > len(torch.unique(plain_out))


class RenamedKind(SequenceClassification):
    """A kind given by its dotted path (``task.kind=test_metrics_and_heads.RenamedKind``), whose ``kind``
    is another name: a parent row records the path, the child's Task has the class's ``kind``."""

    kind = "renamed_kind"


def test_a_kind_given_by_its_dotted_path_keeps_the_head_of_a_parent_with_its_label_space(tmp_path):
    labels = ["no", "yes"]
    for name in ("pretrained", "parent"):
        AutoModelForSequenceClassification.from_config(_tiny(BertConfig, num_labels=2)).save_pretrained(tmp_path / name)
    task = get_task("test_metrics_and_heads.RenamedKind")
    _, head = load_model(str(tmp_path / "pretrained"), task, labels,
                         parent=(str(tmp_path / "parent"), "test_metrics_and_heads.RenamedKind", labels))
    assert head == "kept"


@pytest.mark.parametrize("labels,warned", [(["0", "1"], True), (["no", "yes"], False)])
def test_a_head_kept_on_labels_named_by_numbers_only_is_warned_about(tmp_path, caplog, labels, warned):
    """Equal label names keep the parent's head: a CoLA-like parent's 0/1 head went whole into a PAWS-like 0/1
    target (every input "1" at step 0) with nothing said, while the same parent spelt unacceptable/acceptable was
    reset. Names make a label space; numbers alone are said, with how to name them."""
    for name in ("pretrained", "parent"):
        AutoModelForSequenceClassification.from_config(_tiny(BertConfig, num_labels=2)).save_pretrained(tmp_path / name)
    task = get_task("sequence_classification")
    with caplog.at_level("WARNING", logger="itt.models.loading"):
        _, head = load_model(str(tmp_path / "pretrained"), task, labels,
                             parent=(str(tmp_path / "parent"), "sequence_classification", labels))
    assert head == "kept"
    said = [r.getMessage() for r in caplog.records if "numbers only" in r.getMessage()]
    assert bool(said) == warned and (not said or "label_map" in said[0] and "\n" not in said[0])


def test_fp16_steps_the_learning_rate_schedule_only_on_steps_the_grad_scaler_took():
    """16-mixed (precision=auto on GPUs without bf16): a step whose gradients overflow is skipped by the GradScaler,
    and Lightning stepped the LR schedule anyway (the HF Trainer does not): with every step overflowing, Adam took 0
    steps while the schedule ran to its end. Here the schedule counts the steps taken."""
    import pytorch_lightning as pl  # noqa: PLC0415
    from omegaconf import OmegaConf  # noqa: PLC0415

    from itt.module import EvalSet, ITTModule  # noqa: PLC0415

    def run(init_scale):
        torch.manual_seed(0)
        model = AutoModelForSequenceClassification.from_config(_tiny(BertConfig, num_labels=2))
        optim = OmegaConf.create({"lr": 1e-3, "weight_decay": 0.01, "warmup_ratio": 0.0, "freeze_encoder": False})
        module = ITTModule(model, [EvalSet(None, get_task("sequence_classification", "acc"), ["a", "b"])], optim,
                           sparse_embedding_grad=False)
        g = torch.Generator().manual_seed(0)
        batches = [{"input_ids": torch.randint(5, 60, (4, 8), generator=g), "attention_mask": torch.ones(4, 8, dtype=torch.long),
                    "labels": torch.randint(0, 2, (4,), generator=g)} for _ in range(6)]
        scaler = torch.amp.GradScaler("cpu", init_scale=init_scale, growth_interval=1000)
        trainer = pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                             plugins=[pl.plugins.precision.MixedPrecision("16-mixed", "cpu", scaler=scaler)])
        trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader(batches, batch_size=None))
        optimizer = trainer.optimizers[0]
        taken = int(next(iter(optimizer.state.values()))["step"]) if optimizer.state else 0
        return taken, trainer.lr_scheduler_configs[0].scheduler.last_epoch

    skipped_first = run(2.0 ** 40)  # overflows until the scale has halved far enough
    assert skipped_first[0] < 6 and skipped_first == (skipped_first[0], skipped_first[0])
    assert run(2.0 ** 4) == (6, 6)  # nothing skipped: one schedule step per optimizer step
