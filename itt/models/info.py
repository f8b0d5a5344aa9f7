"""What a model config says about its encoder, checked: the ``model_info`` the ledger records.

``pretraining`` and ``languages`` group runs in reports (text vs code encoders, English vs
multilingual ones, as XTREME-R compares them). They are plain strings in the schema (so that they stay
strings in the ledger) and are checked here, once per run.
"""

from __future__ import annotations

from itt.errors import ConfigError

PRETRAINING = ("text", "code")
LANGUAGES = ("en", "multi")


def model_info(model_cfg) -> dict:
    """``{hub_id, pretraining, languages, revision, local_weights}`` of ``model_cfg``; a value outside its set is a
    one-line ConfigError naming the key, the value and the valid ones. ``local_weights``: the package or builder
    the weights come from with any source (me5_small's is a 4-bit copy of its hub model), None for the hub's."""
    local = model_cfg.get("builder") or model_cfg.get("local_package")
    info = {"hub_id": model_cfg.get("hub_id"), "pretraining": model_cfg.get("pretraining", "text"),
            "languages": model_cfg.get("languages", "en"), "revision": model_cfg.get("revision"),
            "local_weights": local}
    for key, valid in (("pretraining", PRETRAINING), ("languages", LANGUAGES)):
        if info[key] not in valid:
            raise ConfigError(f"model.{key}={info[key]!r} (model={model_cfg.get('name')}) is not valid; "
                              f"valid: {', '.join(valid)}")
    return info


def hidden_size(config) -> int | None:
    """The encoder width a ``transformers`` config (or a model config's ``embedded.config`` node) gives:
    ``hidden_size``, or XLNet's ``d_model``; None when it says neither (or there is no config)."""
    return getattr(config, "hidden_size", None) or getattr(config, "d_model", None)
