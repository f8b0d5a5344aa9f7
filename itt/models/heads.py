"""Task heads: what a run starting from another run's model keeps, and running heads in fp32.

**Hand-off** (``stage.head_policy`` for targets, ``intermediate.head_policy`` between chain steps).
A run that starts from a parent run (an ITT target, a later chain step) loads its new model as
``transformers`` initialises it for the task, then copies every parent weight whose name and shape
match. Architectures differ in where their heads live (BERT's pooler is inside the encoder and
pretrained; RoBERTa's ``classifier.dense`` and XLNet's ``sequence_summary`` are outside it), so the
policy is defined on the same two notions for all of them:

- the *final projection*: the last ``nn.Linear`` outside the encoder (BERT ``classifier``, RoBERTa
  ``classifier.out_proj``, XLNet ``logits_proj``, QA ``qa_outputs``);
- the *head*: every module outside the encoder, plus the encoder's pooler where it has one.

When the parent's label space (kind and label names) equals the new one, everything is kept
(``kept``). Otherwise ``projection`` (default) resets only the final projection and carries the rest
over from the parent (``projection_reset``); ``head`` resets the whole head (``head_reset``). Reset means
as the no-ITT run starts: freshly initialised, or pretrained where the checkpoint has the layer (BERT's
pooler). Encoder weights always come from the parent; a parent without them, or with one of another
shape, is an error.

**fp32 head.** Under bf16/fp16 autocast the head's matmuls would round the logits to 8 (bf16) or 11
bits: on a tiny BERT, 1,000 distinct regression predictions collapsed to 307 values, so Pearson and
Spearman were computed on ties. The head modules therefore run outside autocast, on fp32 inputs; it is
a few thousand FLOPs per row.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
from torch import nn

from itt.errors import ConfigError

POLICIES = ("projection", "head")


def encoder(model: nn.Module) -> nn.Module:
    return getattr(model, model.base_model_prefix)


def head_modules(model: nn.Module) -> dict[str, nn.Module]:
    """Dotted name -> module, for every module outside the encoder plus the encoder's pooler."""
    prefix = model.base_model_prefix
    heads = {name: m for name, m in model.named_children() if name != prefix}
    pooler = getattr(encoder(model), "pooler", None)
    if isinstance(pooler, nn.Module):
        heads[f"{prefix}.pooler"] = pooler
    return heads


def freeze_encoder(model: nn.Module) -> None:
    """``optim.freeze_encoder``: train the head only, the head as :func:`head_modules` has it, so BERT's pooler
    trains as RoBERTa's dense layer and XLNet's summary do (freezing ``base_model`` froze BERT's pooler alone).
    A multi-head model: each member's head, its one shared encoder frozen."""
    for member in getattr(model, "models", [model]):
        for p in encoder(member).parameters():
            p.requires_grad_(False)
        for module in head_modules(member).values():
            for p in module.parameters():
                p.requires_grad_(True)


def final_projection(model: nn.Module) -> str:
    """The dotted name of the last ``nn.Linear`` outside the encoder."""
    prefix = model.base_model_prefix
    linears = [name for name, m in model.named_modules() if isinstance(m, nn.Linear) and not name.startswith(prefix + ".")]
    if not linears:
        raise ConfigError(f"{type(model).__name__} has no linear layer outside its encoder: cannot tell its output layer")
    return linears[-1]


def _reset_names(model: nn.Module, policy: str) -> set[str]:
    modules = [final_projection(model)] if policy == "projection" else list(head_modules(model))
    return {f"{m}.{p}" for m in modules for p, _ in model.get_submodule(m).named_parameters()}


def check_policy(policy: str, key: str = "head_policy") -> None:
    if policy not in POLICIES:
        raise ConfigError(f"{key}={policy!r} is not a head policy; valid: {', '.join(POLICIES)}")


def hand_off(model: nn.Module, parent_dir: str | Path, same_label_space: bool, policy: str,
             head_weights: str | Path | None = None) -> str:
    """Copy the parent's weights into ``model`` per ``policy``; returns ``kept``, ``projection_reset``
    or ``head_reset`` (what the ledger row records as ``head``). ``head_weights``: a file of head
    weights (a multi-head parent's other head, ``itt.models.multihead``) used instead of the head
    saved with the parent's encoder."""
    check_policy(policy)
    parent = _state_dict(Path(parent_dir))
    prefix = model.base_model_prefix + "."
    if head_weights is not None:
        from safetensors.torch import load_file  # noqa: PLC0415

        parent = {k: v for k, v in parent.items() if k.startswith(prefix)}
        parent.update(load_file(str(head_weights)))
    reset = set() if same_label_space else _reset_names(model, policy)
    own = model.state_dict()
    missing = [k for k in own if k.startswith(prefix) and k not in parent and not k.endswith("position_ids")]
    if missing and not set(missing) <= _reset_names(model, "head"):
        raise ConfigError(f"{parent_dir}: holds no weights for {missing[0]} (and {len(missing) - 1} more); the parent "
                          f"run's model is not a {type(model).__name__} of the same architecture")
    # A weight of another shape is another architecture (a hub model changed since the parent ran), not one to
    # leave as pretrained while the row says the run started from its parent.
    copied = {k: v for k, v in parent.items() if k in own and k not in reset}
    for k, v in copied.items():
        if own[k].shape != v.shape:
            raise ConfigError(f"{parent_dir}: {k} is {tuple(v.shape)} there and {tuple(own[k].shape)} in this "
                              f"{type(model).__name__}; the parent run's model is not of the same architecture")
    model.load_state_dict(copied, strict=False)
    if same_label_space:
        return "kept"
    return "projection_reset" if policy == "projection" else "head_reset"


def _state_dict(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file  # noqa: PLC0415

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ConfigError(f"{folder}: no *.safetensors weights (written by save_pretrained) to start from")
    state: dict[str, torch.Tensor] = {}
    for f in files:
        state.update(load_file(str(f)))
    return state


def run_head_in_fp32(model: nn.Module) -> None:
    """Make the head modules compute in fp32 whatever autocast is active (idempotent)."""
    for module in head_modules(model).values():
        if not getattr(module, "_itt_fp32", False):
            module.forward = _fp32(module.forward)
            module._itt_fp32 = True


def _fp32(forward):
    @functools.wraps(forward)
    def wrapped(*args, **kwargs):
        tensors = [a for a in [*args, *kwargs.values()] if isinstance(a, torch.Tensor)]
        device = tensors[0].device.type if tensors else "cpu"
        args = [_float(a) for a in args]
        kwargs = {k: _float(v) for k, v in kwargs.items()}
        with torch.autocast(device_type=device, enabled=False):
            return forward(*args, **kwargs)
    return wrapped


def _float(value):
    return value.float() if isinstance(value, torch.Tensor) and value.is_floating_point() else value
