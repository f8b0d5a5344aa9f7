"""A mixture intermediate over several label spaces: one shared encoder, one head per label space.

Each head is the head of its kind's own ``transformers`` class (``Task.auto_model()``: e.g.
``AutoModelForSequenceClassification`` with 3 labels for NLI and with 1 output for a regression),
loaded by ``itt.models.loading.load_model`` exactly as a single-task run loads it (hand-off from a
parent included); the members' encoders are then replaced by one shared encoder object. A batch holds
rows of one mixture member (``itt.data.samplers.MixtureBatches``) and names it (``task``), so
``forward(member=i, **inputs)`` runs the head of member ``i``'s label space. Members of one label space
share one head. Nothing here knows a kind: heads, losses and outputs are the kinds' classes'.

**Saved** (``save_pretrained(folder)``): the *primary* head's model (the first member's label space)
as an ordinary ``save_pretrained`` checkpoint holding the shared encoder, so the folder loads with
``AutoModel`` (the encoder) or with the primary kind's ``AutoModelFor...``; each other head's weights
(everything outside the encoder) and config under ``heads/<name>/``; and ``itt_heads.json`` listing
every head: name, roles, kind, labels, label space, weights file. The shared encoder is the members'
largest one (BERT's sequence classifiers carry a pooler, its token classifiers and QA models do not),
so no head loses an encoder weight it needs.

**Hand-off** to the next step or target (``itt.models.heads.parent_head``): the encoder always
carries over. If one of the saved heads has the new run's label space, that head is kept (``kept``);
otherwise the primary head is handed off under the head policy (``projection_reset`` /
``head_reset``), exactly as from a single-task parent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from itt.models.heads import encoder

MANIFEST = "itt_heads.json"


@dataclass
class HeadSpec:
    """One head of a multi-head model: the label space it serves and the mixture members that use it."""

    name: str  # the first role of its members: the name of its folder under heads/
    roles: list[str]
    kind: str
    labels: list[str]
    label_space: list  # Task.label_space(labels) as JSON (tuples as lists), compared at hand-off


def label_space_json(task, labels) -> list:
    """``task.label_space(labels)`` as it reads back from JSON, so saved and live spaces compare equal."""
    return json.loads(json.dumps(task.label_space(list(labels))))


def group_by_label_space(members) -> tuple[list[HeadSpec], list[int]]:
    """``members``: (role, task, labels) per mixture member, in order. Returns one ``HeadSpec`` per
    distinct label space (in order of first use) and, per member, the index of its head."""
    heads: list[HeadSpec] = []
    head_of: list[int] = []
    for role, task, labels in members:
        space = label_space_json(task, labels)
        found = next((i for i, h in enumerate(heads) if h.label_space == space), None)
        if found is None:
            heads.append(HeadSpec(role, [role], task.kind, list(labels), space))
            found = len(heads) - 1
        else:
            heads[found].roles.append(role)
        head_of.append(found)
    return heads, head_of


class MultiHeadModel(nn.Module):
    """Task models (one per label space) that share one encoder module; ``forward(member=i, ...)``."""

    def __init__(self, models: list[nn.Module], heads: list[HeadSpec], head_of: list[int]):
        super().__init__()
        if len(models) != len(heads) or not models:
            raise ValueError(f"{len(models)} models for {len(heads)} heads")
        shared = max((encoder(m) for m in models), key=lambda e: len(e.state_dict()))
        for m in models:
            setattr(m, m.base_model_prefix, shared)
        self.models = nn.ModuleList(models)
        self.heads, self.head_of = heads, list(head_of)

    # The attributes the training code reads from a transformers model, answered for the shared encoder.
    @property
    def primary(self) -> nn.Module:
        return self.models[0]

    @property
    def config(self):
        return self.primary.config

    @property
    def base_model(self) -> nn.Module:
        return encoder(self.primary)

    @property
    def base_model_prefix(self) -> str:
        return self.primary.base_model_prefix

    def get_input_embeddings(self):
        return self.primary.get_input_embeddings()

    def set_attn_implementation(self, implementation) -> None:
        for m in self.models:
            m.set_attn_implementation(implementation)

    def forward(self, member: int | torch.Tensor = 0, **inputs):
        if isinstance(member, torch.Tensor):  # a training batch's ``task`` column: one member per batch
            member = int(member.reshape(-1)[0])
        return self.models[self.head_of[member]](**inputs)

    def save_pretrained(self, folder: str | Path) -> None:
        folder = Path(folder)
        self.primary.save_pretrained(folder)
        prefix = self.base_model_prefix + "."
        manifest = []
        for i, (model, head) in enumerate(zip(self.models, self.heads)):
            entry = {"name": head.name, "roles": head.roles, "kind": head.kind, "labels": head.labels,
                     "label_space": head.label_space, "weights": None, "config": None}
            if i > 0:
                from safetensors.torch import save_file  # noqa: PLC0415

                out = folder / "heads" / head.name
                out.mkdir(parents=True, exist_ok=True)
                model.config.save_pretrained(out)
                weights = {k: v.detach().contiguous() for k, v in model.state_dict().items() if not k.startswith(prefix)}
                save_file(weights, str(out / "head.safetensors"))
                entry.update(weights=f"heads/{head.name}/head.safetensors", config=f"heads/{head.name}/config.json")
            manifest.append(entry)
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))


def saved_heads(folder: str | Path) -> list[dict] | None:
    """The heads a multi-head checkpoint holds (``itt_heads.json``), or None for a single-head one."""
    path = Path(folder) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


def load_member(folder: str | Path, name: str, auto_class):
    """One head of a saved multi-head model as a full ``AutoModelFor...`` (the shared encoder + that head),
    e.g. ``load_member(run/"model", "stsb", AutoModelForSequenceClassification)``."""
    from safetensors.torch import load_file  # noqa: PLC0415
    from transformers import AutoConfig  # noqa: PLC0415

    folder = Path(folder)
    entry = next((h for h in saved_heads(folder) or [] if h["name"] == name), None)
    if entry is None:
        raise KeyError(f"{folder}: no head {name!r}")
    if entry["weights"] is None:
        return auto_class.from_pretrained(folder)
    config = AutoConfig.from_pretrained(folder / Path(entry["config"]).parent)
    # The folder's own head (the primary's) may have other shapes: it is replaced just below.
    model, info = auto_class.from_pretrained(folder, config=config, ignore_mismatched_sizes=True,
                                             output_loading_info=True)
    head_file = folder / entry["weights"]
    head = load_file(str(head_file))
    # Only the encoder comes from the folder's weights; every parameter they did not give must come from the
    # head's file, and the file must hold nothing the model lacks (else a head would silently stay random).
    not_loaded = set(info["missing_keys"]) | {m[0] if isinstance(m, tuple) else m for m in info["mismatched_keys"]}
    result = model.load_state_dict(head, strict=False)
    if result.unexpected_keys or not_loaded - set(head):
        raise ValueError(f"{head_file}: head {name!r} does not fit {auto_class.__name__}: "
                         f"weights it lacks {sorted(not_loaded - set(head))}, weights it has that the model has not "
                         f"{sorted(result.unexpected_keys)}")
    return model
