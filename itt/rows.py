"""The ledger row of a run (``itt.ledger.LedgerRow``), built in one place from its ``RunSpec``.

What the row says about a dataset (``dataset``, ``datasets``, ``evals``) comes from its spec and the
language table: language, family, genus and script, the domain, where it came from and a ``key`` that
names the data actually read (a hub id and subset, a local path with its content hash, or the embedded
generator with its language, domain and, when set, ``embedded_offset``), so the report keeps two targets of
one role apart.
"""

from __future__ import annotations

from omegaconf import OmegaConf

from itt import hardware, identity, languages
from itt.data.files import fingerprint, is_local, quoting_changes_rows
from itt.models.info import model_info
from itt.progress import sweep_dir
from itt.stages import RunSpec


def dataset_info(cfg, name: str, node) -> dict:
    spec = OmegaConf.to_container(node, resolve=True)
    local = is_local(spec["path"])
    content = fingerprint(spec["path"]) if local else None
    if local:
        key = f"{spec['path']}#{content}"
        if quoting_changes_rows(spec["path"], spec.get("quoting")):  # other rows from the same bytes
            key += f"?quoting={spec['quoting']}"
    elif cfg.source.name == "embedded":
        key = f"embedded:{identity.generator_of(cfg, node)}/{spec.get('lang')}/{spec.get('embedded_domain') or spec.get('domain')}"
        if spec.get("embedded_offset"):  # another part of the generator's stream: other data (XQuAD's, not SQuAD's)
            key += f"@{spec['embedded_offset']}"
    else:
        key = spec["path"] + (f":{spec['subset']}" if spec.get("subset") else "")
    return {"role": name, "key": key, "path": spec["path"], "subset": spec.get("subset"),
            "revision": spec.get("revision"), "lang": spec.get("lang"), **languages.describe(spec),
            "domain": spec.get("domain"), "fingerprint": content}


def base_row(spec: RunSpec, run_id: str) -> dict:
    cfg = spec.cfg
    numerics = identity.numerics(spec)
    members = [dataset_info(cfg, role, cfg.task.datasets[role]) for role in spec.roles]
    kind, primary = identity.kind_of(cfg, cfg.task.datasets[spec.roles[0]])
    chain = [{"run_id": identity.run_id(step), "roles": list(step.roles),
              "langs": [cfg.task.datasets[r].get("lang") for r in step.roles],
              "kinds": [identity.kind_of(cfg, cfg.task.datasets[r])[0] for r in step.roles]} for step in spec.chain()]
    parent = chain[-1]["run_id"] if chain else None
    payload = identity.run_payload(spec, machine=False)  # once: the config id and the setup ids both digest it
    setup, eval_setups = identity.setup_ids(spec, payload)
    return {
        "run_id": run_id, "config_id": identity.config_id(spec, payload), "status": None, "model": cfg.model.name, "model_info": model_info(cfg.model),
        "task": cfg.task.name, "kind": kind, "stage": spec.stage, "target": spec.target,
        "itt": spec.is_itt if spec.stage == "target" else None, "itt_variant": spec.variant,
        "seed": cfg.seed, "split": cfg.split.name, "source": cfg.source.name,
        "hparams_id": identity.hparams_id(spec), "setup_id": setup,
        "intermediate_hparams_id": None,  # from the parent's row, once it exists (itt.pipeline)
        "primary_metric": primary, "selected_on": None,
        "metrics": {}, "dataset": members[0], "datasets": members,
        # Each eval set's kind: the report never averages one kind's scores with another's (XNLI and Tatoeba
        # both report acc).
        "evals": {name: {**dataset_info(cfg, name, cfg.task.evals[name]), "kind": identity.kind_of(cfg, cfg.task.evals[name])[0],
                         "setup": eval_setups[name]}
                  for name in spec.evals},
        "n_test": None, "parent_run_id": parent, "intermediate_run_id": parent if spec.is_itt else None,
        "chain": chain, "head": None, "head_policy": spec.head_policy if parent else None,
        "checkpoint": None, "weights_digest": None, "parent_weights_digest": None, "predictions": None, "data_sizes": None,
        "precision": numerics["precision"], "device": hardware.device_name(numerics["device"]),
        "numerics": {k: v for k, v in numerics.items() if k != "device"},
        "machine": identity.run_machine(spec),
        "sampler": OmegaConf.to_container(cfg.sampler, resolve=True) if len(spec.roles) > 1 and cfg.get("sampler") else None,
        "overlap": None,
        "wall_s": None, "train_s": None, "eval_s": None, "resumed_from_step": None, "error": None,
        "sweep": sweep_dir(),
    }


def with_metrics(row: dict, metrics: dict, sizes: dict) -> dict:
    """``metrics`` (flat, as logged) into the row, and each eval set's share of them (``val/acc``,
    ``test/acc``) and sizes under ``evals``."""
    row = {**row, "metrics": metrics, "evals": {name: dict(info) for name, info in row["evals"].items()}}
    for name, info in row["evals"].items():
        info["n"] = sizes.get(name)
        info["metrics"] = {}
        for key, value in metrics.items():
            split, _, rest = key.partition("/")
            if rest.startswith(f"{name}/") and "/" not in rest[len(name) + 1:]:
                info["metrics"][f"{split}/{rest[len(name) + 1:]}"] = value
    return row
