"""``hub_replica``: run the project's real hub code path against the offline replicas.

    from hub_replicas.fixture import hub_replica  # noqa: F401  (in a test module under tests/)

    def test_x(hub_replica):
        datasets.load_dataset("stanfordnlp/imdb")   # -> tests/hub_replicas/stanfordnlp__imdb

``datasets.load_dataset`` is patched for the test: a replicated hub id (or a legacy alias the hub
redirects) loads its replica folder with the same config (``revision`` is ignored); local paths and
packaged builders (csv, json, parquet, ...) load as usual. What would fail on the hub fails the same
way: a repo whose main branch holds a loading script raises datasets' own RuntimeError (unless the
spec reads the hub's parquet export, ``revision: refs/convert/parquet``), and a
multi-config dataset called without a config raises datasets' ValueError. The parquet export is laid
out as the hub's parquet-converter writes that branch: ``<config>/<split>/0000.parquet`` and no dataset
card (the converter deletes README.md there), so datasets sees one config, ``default``, and a config is
reached by ``data_dir``, not by name. A hub id without a replica,
or a config without one, fails the test loudly: the test would otherwise run on data nobody checked
against the hub.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import datasets
import pytest
from datasets.packaged_modules import _PACKAGED_DATASETS_MODULES

from . import ROOT, entry

PARQUET_EXPORT = "refs/convert/parquet"


def _is_local_or_packaged(path) -> bool:
    return str(path) in _PACKAGED_DATASETS_MODULES or os.path.exists(os.path.expanduser(str(path)))


def _parquet_export(found: dict, where: Path) -> Path:
    """The replica laid out like the hub's ``refs/convert/parquet`` branch: one folder per config, one per
    split, no README.md (e.g. huggingface.co/datasets/AnonyCAD/VSP/commit/de5a3b6: "Update parquet files",
    README.md deleted, default/test/0000.parquet added)."""
    for config, recorded in found["configs"].items():
        for split in recorded["splits"]:
            target = where / config / split / "0000.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / found["folder"] / config / f"{split}-00000-of-00001.parquet", target)
    return where


@pytest.fixture
def hub_replica(monkeypatch, tmp_path_factory):
    real_load_dataset = datasets.load_dataset
    cache_dir = str(tmp_path_factory.mktemp("hub_replica_cache"))
    # Nothing may reach the network, and the project's reachability probe answers at once.
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(name, "1")

    def load_dataset(path, name=None, *args, revision=None, **kwargs):
        if _is_local_or_packaged(path):
            return real_load_dataset(path, name, *args, revision=revision, **kwargs)
        found = entry(path)
        if found is None:
            pytest.fail(f"hub_replica: no offline replica of hub dataset {path!r}; add its spec to "
                        f"tests/hub_replicas/specs_*.py and run make_replicas.py", pytrace=False)
        # The hub's parquet export (what revision="refs/convert/parquet" reads) holds the same features and
        # rows as the replica, in the export's layout.
        if revision == PARQUET_EXPORT:
            if kwargs.get("data_dir") is not None and kwargs["data_dir"] not in found["configs"]:
                pytest.fail(f"hub_replica: {path!r} has no replica of config {kwargs['data_dir']!r} (replicated: "
                            f"{sorted(found['configs'])}); add it to its spec in tests/hub_replicas", pytrace=False)
            export = _parquet_export(found, tmp_path_factory.mktemp(f"{found['folder']}_parquet_export"))
            kwargs.setdefault("cache_dir", cache_dir)
            return real_load_dataset(str(export), name, *args, **kwargs)
        if found["script"]:
            raise RuntimeError(f"Dataset scripts are no longer supported, but found {found['script']}")
        configs = found["configs"]
        if name is None and len(configs) == 1 and not found["other_configs"]:
            name = next(iter(configs))
        if name is not None and name not in configs:
            pytest.fail(f"hub_replica: {path!r} has no replica of config {name!r} (replicated: {sorted(configs)}; "
                        f"other real configs: {found['other_configs']}); add it to its spec in tests/hub_replicas",
                        pytrace=False)
        kwargs.setdefault("cache_dir", cache_dir)
        return real_load_dataset(str(ROOT / found["folder"]), name, *args, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return load_dataset
