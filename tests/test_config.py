"""Composition: the groups of conf/ make a valid config; identities behave as the design needs."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from itt import identity
from itt.train import CONF_DIR  # registers schemas and resolvers

MODELS = ["bert", "roberta", "xlnet", "minilm"]
TASKS = ["text_classification", "sentiment", "sentence_similarity"]


def make(*overrides):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=list(overrides))


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("task", TASKS)
def test_every_model_and_task_composes(model, task):
    cfg = make(f"model={model}", f"task={task}", "+stage=target", "source=embedded")
    assert cfg.model.name == model and cfg.task.name == task
    assert set(cfg.task.datasets) == {"intermediate", "domain", "crosslingual"}
    for role, spec in cfg.task.datasets.items():
        assert spec.path and spec.lang and spec.domain, role
    # the study's design: the intermediate is at least ten times each target
    inter = cfg.task.datasets.intermediate.embedded_rows
    assert all(inter >= 10 * cfg.task.datasets[r].embedded_rows for r in ("domain", "crosslingual"))
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves


def test_crosslingual_targets_change_language_and_domain_targets_change_domain():
    for task in TASKS:
        ds = make(f"task={task}", "+stage=intermediate").task.datasets
        assert ds.crosslingual.lang != ds.intermediate.lang, task
        assert ds.domain.lang == ds.intermediate.lang and ds.domain.domain != ds.intermediate.domain, task


def test_typed_schema_rejects_wrong_type_and_unknown_key():
    with pytest.raises(Exception, match="max_epochs"):
        make("+stage=intermediate", "trainer.max_epochs=abc")
    with pytest.raises(Exception, match="max_epoch"):
        make("+stage=intermediate", "trainer.max_epoch=1")
    with pytest.raises(Exception, match="target"):
        make("+stage=intermediate", "stage.target=domain")


def test_source_embedded_sets_a_learning_rate_the_command_line_still_wins():
    assert make("+stage=intermediate", "source=embedded").optim.lr == pytest.approx(2e-3)
    assert make("+stage=intermediate").optim.lr == pytest.approx(5e-5)
    assert make("+stage=intermediate", "source=embedded", "optim.lr=1e-4").optim.lr == pytest.approx(1e-4)


def test_run_id_is_stable_and_changes_with_what_determines_the_result():
    base = ["model=roberta", "task=sentiment", "+stage=target", "source=embedded"]
    a = identity.run_id(make(*base))
    assert a == identity.run_id(make(*base))
    assert a.startswith("roberta-sentiment-target-domain-itt-s0-")
    for change in ["seed=1", "stage.itt=false", "stage.target=crosslingual", "optim.lr=1e-4", "model=bert",
                   "task.datasets.domain.embedded_rows=100", "task.datasets.intermediate.embedded_rows=1000"]:
        assert identity.run_id(make(*base, change)) != a, change
    # what does not change the result does not change the id
    for same in ["logger=csv", "paths.root=/elsewhere", "data.num_workers=2", "trainer.enable_progress_bar=true", "force=true"]:
        assert identity.run_id(make(*base, same)) == a, same


def test_intermediate_identity_ignores_targets():
    base = ["model=bert", "task=sentiment", "+stage=target", "source=embedded"]
    ids = {identity.run_id(identity.intermediate_config(make(*base, *extra)))
           for extra in ([], ["stage.target=crosslingual"], ["stage.itt=false"],
                         ["task.datasets.domain.path=/data/other.csv"])}
    assert len(ids) == 1
    direct = identity.run_id(make("model=bert", "task=sentiment", "+stage=intermediate", "source=embedded"))
    assert ids == {direct}


def test_hparams_id_groups_like_with_like():
    base = ["+stage=target", "source=embedded"]
    h = identity.hparams_id(make(*base))
    assert identity.hparams_id(make(*base, "model=xlnet", "seed=3", "stage.itt=false")) == h
    assert identity.hparams_id(make(*base, "optim.lr=1e-4")) != h
    assert identity.hparams_id(make(*base, "split=official")) != h


def test_missing_stage_is_a_config_error():
    cfg = make()
    with pytest.raises(identity.ConfigError, match=r"\+stage=intermediate or \+stage=target"):
        identity.run_id(cfg)


def test_experiment_demo_sweeps_the_grid():
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["experiment=demo", "+stage=target"], return_hydra_config=True)
    params = cfg.hydra.sweeper.params
    assert params.model.split(",") == ["bert", "roberta", "xlnet"]
    assert len(params.task.split(",")) == 3 and params["stage.itt"] == "true,false"
    assert cfg.source.name == "embedded"
