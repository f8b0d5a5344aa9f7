"""Every hub dataset a task config names loads through the project's own hub code path, on an offline
replica of its real schema (tests/hub_replicas): declared splits exist, the text and label fields are
there, labels map onto the declared label names, scores fall in their range. A spec that would break
on the hub breaks here first."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from hub_replicas.fixture import hub_replica  # noqa: F401
from hub_replicas.specs_xtreme import WNUT17_TAGS
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from itt import identity, schema, stages
from itt.build import dataset_spec, task_of
from itt.data.canonical import canonicalize
from itt.data.files import is_local
from itt.data.loading import load_embedded, load_raw
from itt.tasks import RawColumns

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")
TASKS = sorted(p.stem for p in (Path(CONF_DIR) / "task").glob("*.yaml"))
schema.register()
identity.register_resolvers()


def _read_only(cfg):
    """A config the tests share (cached): one that changed it would fail here, not make another test pass."""
    OmegaConf.set_readonly(cfg, True)
    return cfg

@functools.cache  # composed once per file (~0.5 s each; ~300 tests read them)
def _task_config(task: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return _read_only(compose("train", overrides=[f"task={task}", "+stage=target"]))


@functools.cache  # composed once per file (~0.5 s each; ~300 tests read them)
def _offline_config(task: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return _read_only(compose("train", overrides=[f"task={task}", "+stage=target", "source=embedded"]))


def _specs():
    for task in TASKS:
        cfg = _task_config(task)
        for group in ("datasets", "evals"):
            for name, node in (cfg.task.get(group) or {}).items():
                if not is_local(node.path):
                    yield pytest.param(task, group, name, id=f"{task}.{group}.{name}")


# Stand-ins that still differ from their hub dataset (strict: fixing one fails here until it is taken out).
STAND_IN_GAPS: dict[str, str] = {}


def _stand_in_specs():
    """Every hub role and eval set of every task that has an offline stand-in, i.e. whose generator writes its
    language (stage.evals=all picks the same; the others, WikiANN Arabic and the like, do not run offline)."""
    for task in TASKS:
        offline = _offline_config(task)
        for group in ("datasets", "evals"):
            for name, node in (offline.task.get(group) or {}).items():
                if not is_local(node.path) and stages._has_stand_in(offline, node):
                    gap = STAND_IN_GAPS.get(f"{task}.{group}.{name}")
                    marks = [pytest.mark.xfail(strict=True, reason=gap)] if gap else []
                    yield pytest.param(task, group, name, id=f"{task}.{group}.{name}", marks=marks)


EXPERIMENTS = sorted(p.stem for p in (Path(CONF_DIR) / "experiment").glob("*.yaml"))


@functools.cache  # composed once per file (~0.5 s each; ~300 tests read them)
def _preset_config(experiment: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return _read_only(compose("train", overrides=[f"experiment={experiment}", "+stage=target"]))


def _preset_specs():
    """The datasets a hub preset adds to every task of its sweep (experiment=nli_vs_qa: mnli, squad)."""
    for experiment in EXPERIMENTS:
        added = (OmegaConf.load(Path(CONF_DIR) / "experiment" / f"{experiment}.yaml").get("task") or {}).get("datasets") or {}
        if added and _preset_config(experiment).source.name == "hub":
            for name in added:
                yield pytest.param(experiment, name, id=f"{experiment}.{name}")


@pytest.mark.parametrize("task, group, name", list(_specs()))
def test_every_hub_spec_reads_its_replica(hub_replica, task, group, name):
    cfg = _task_config(task)
    _check_spec(cfg, cfg.task[group][name])


@pytest.mark.parametrize("experiment, name", list(_preset_specs()))
def test_every_hub_spec_a_preset_adds_reads_its_replica(hub_replica, experiment, name):
    cfg = _preset_config(experiment)
    _check_spec(cfg, cfg.task.datasets[name])


def _check_spec(cfg, node):
    spec, kind = dataset_spec(node), task_of(cfg, node)
    raw, where = load_raw(spec, "hub")
    declared = [theirs for theirs in spec.splits.values() if theirs]
    assert sorted(raw) == sorted(n for n, theirs in spec.splits.items() if theirs), (raw, declared)
    labels = kind.label_names(raw, spec)
    ctx = RawColumns(spec, labels, where)
    rows = canonicalize(raw, kind, ctx, None, 0)
    assert len(rows) > 0
    assert not ctx.dropped.get(f"empty text in {spec.text_fields[0]!r}"), ctx.dropped
    if kind.kind == "sequence_classification":
        assert labels == list(spec.labels or labels) and len(labels) >= 2
        assert set(rows["label"]) <= set(range(len(labels)))
    if kind.kind == "sequence_regression":
        assert all(0.0 <= v <= 1.0 for v in rows["label"])
    if kind.kind == "token_classification":
        assert labels == list(spec.labels or labels) and "_" not in labels
        assert all(len(w) == len(t) > 0 for w, t in zip(rows["tokens"], rows["tags"]))
        assert {t for tags in rows["tags"] for t in tags} <= set(range(len(labels)))
    if kind.kind == "multiple_choice":
        assert all(0 <= y < len(c) for y, c in zip(rows["label"], rows["choices"]))
        assert len({len(c) for c in rows["choices"]}) == 1  # one number of choices per dataset


def test_imdb_extra_split_is_never_read_and_its_names_map(hub_replica):
    """The defect that broke all 18 sentiment/domain runs of experiment=paper: IMDb's labels are
    ClassLabel(neg, pos) and its `unsupervised` split is labelled -1."""
    cfg = _task_config("sentiment")
    node = cfg.task.datasets.domain
    spec, kind = dataset_spec(node), task_of(cfg, node)
    raw, where = load_raw(spec, "hub")
    assert "unsupervised" not in raw and set(raw) == {"train", "test"}
    rows = canonicalize(raw, kind, RawColumns(spec, kind.label_names(raw, spec), where), None, 0)
    assert sorted(set(rows["label"])) == [0, 1]


def test_the_wnut17_stand_in_has_the_hub_tags(hub_replica):
    """task=ner's domain role is WNUT-17: its offline stand-in (source=embedded) has the hub's 13 tags in its
    ClassLabel order, not WikiANN's, so an ITT target on it gets a fresh output layer offline as on the hub."""
    cfg = _task_config("ner")
    node = cfg.task.datasets.domain
    spec, kind = dataset_spec(node), task_of(cfg, node)
    raw, _ = load_raw(spec, "hub")
    assert kind.label_names(raw, spec) == list(WNUT17_TAGS)
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        offline = compose("train", overrides=["task=ner", "+stage=target", "source=embedded"])
    rows, names = load_embedded(dataset_spec(offline.task.datasets.domain, offline), task_of(offline, offline.task.datasets.domain))
    assert names == list(WNUT17_TAGS)
    assert len(rows) == node.embedded_rows and {t for tags in rows["tags"] for t in tags} == set(range(len(WNUT17_TAGS)))


def test_the_wikiann_stand_ins_have_the_hub_tags(hub_replica):
    """task=ner's WikiANN roles and eval sets: the offline stand-in's tag names are the hub's ClassLabel names in
    their order (O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC), so tag i means the same offline and on the hub."""
    cfg = _task_config("ner")
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        offline = compose("train", overrides=["task=ner", "+stage=target", "source=embedded"])
    for group, name in (("datasets", "intermediate"), ("datasets", "en"), ("datasets", "crosslingual"), ("evals", "de")):
        node = cfg.task[group][name]
        spec, kind = dataset_spec(node), task_of(cfg, node)
        raw, _ = load_raw(spec, "hub")
        hub_names = kind.label_names(raw, spec)
        assert hub_names == raw["train" if "train" in raw else "test"].features["ner_tags"].feature.names
        stand_in = offline.task[group][name]
        rows, names = load_embedded(dataset_spec(stand_in, offline), task_of(offline, stand_in))
        assert names == hub_names, name
        assert {t for tags in rows["tags"] for t in tags} == set(range(len(hub_names))), name


def test_the_masakhanews_fra_target_has_the_five_topics_french_has(hub_replica):
    """MasakhaNEWS's ClassLabel holds the 7 topics of all its languages; French has 5 (the MasakhaNEWS repo's
    data/fra/labels.txt). Read through the ClassLabel, the target had a 7-way head and f1_macro averaged over 2
    classes it never sees; offline, its stand-in wrote 7 topics, the ClassLabel's count."""
    from collections import Counter

    fra = ["business", "health", "politics", "sports", "technology"]
    cfg = _task_config("text_classification")
    node = cfg.task.datasets.crosslingual
    spec, kind = dataset_spec(node), task_of(cfg, node)
    raw, where = load_raw(spec, "hub")
    hub_names = raw["train"].features["label"].names
    assert len(hub_names) == 7 and kind.label_names(raw, spec) == fra
    rows = canonicalize(raw, kind, RawColumns(spec, fra, where), None, 0)
    # each row keeps its topic: the ClassLabel's names map onto the declared ones by name
    assert Counter(fra[i] for i in rows["label"]) == Counter(hub_names[i] for split in raw.values() for i in split["label"])
    assert kind.model_kwargs(fra)["num_labels"] == 5
    offline = _offline_config("text_classification")
    stand_in = offline.task.datasets.crosslingual
    rows, names = load_embedded(dataset_spec(stand_in, offline), task_of(offline, stand_in))
    assert names == fra and len(rows) == stand_in.embedded_rows
    assert sorted(Counter(rows["label"]).values()) == [stand_in.embedded_rows // 5] * 5


@pytest.mark.parametrize("task, group, name", list(_stand_in_specs()))
def test_every_stand_in_has_its_hub_datasets_label_space(hub_replica, task, group, name):
    """Offline (source=embedded) a spec runs on its generated stand-in, which must have the label space the
    hub run resolves from the replica: the same label names in the same order (so the same head size, the
    same head kept or reset after an intermediate, the same eval sets scored, f1_macro over as many classes),
    every class present; multiple choice the same number of choices; regression scores in [0, 1]."""
    cfg, offline = _task_config(task), _offline_config(task)
    node = cfg.task[group][name]
    spec, kind = dataset_spec(node), task_of(cfg, node)
    raw, where = load_raw(spec, "hub")
    hub_names = kind.label_names(raw, spec)
    hub_rows = canonicalize(raw, kind, RawColumns(spec, hub_names, where), None, 0)
    stand_in = offline.task[group][name]
    rows, names = load_embedded(dataset_spec(stand_in, offline), task_of(offline, stand_in))
    assert names == hub_names
    assert kind.label_space(names) == kind.label_space(hub_names)
    if kind.kind == "sequence_classification":
        assert sorted(set(rows["label"])) == list(range(len(names)))
    if kind.kind == "token_classification":
        assert {t for tags in rows["tags"] for t in tags} <= set(range(len(names)))
    if kind.kind == "sequence_regression":
        assert all(0.0 <= v <= 1.0 for v in rows["label"]) and all(0.0 <= v <= 1.0 for v in hub_rows["label"])
    if kind.kind == "multiple_choice":
        assert {len(c) for c in rows["choices"]} == {len(c) for c in hub_rows["choices"]}


def test_a_hub_repo_that_is_a_loading_script_says_to_read_its_parquet_export(hub_replica):
    """datasets >= 4 refuses a repo whose main branch holds a loading script; the one-line error names the spec's
    place and the way out (the hub's parquet export), not only datasets' "scripts are no longer supported"."""
    from itt.errors import DataError

    cfg = _task_config("qa")
    node = OmegaConf.merge(cfg.task.evals.mlqa_de, {"revision": None})
    with pytest.raises(DataError) as caught:
        load_raw(dataset_spec(node), "hub", where="task.evals.mlqa_de (facebook/mlqa)")
    message = str(caught.value)
    assert "\n" not in message and "task.evals.mlqa_de" in message, message
    assert "revision: refs/convert/parquet" in message and "mlqa.py" in message, message
