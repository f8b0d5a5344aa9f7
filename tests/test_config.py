"""Composition: the groups of conf/ make a valid config; identities behave as the design needs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from itt import identity, languages, rows
from itt.errors import ConfigError
from itt.report.long_table import _lang_fields
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
    # a really pretrained encoder shipped in a package keeps the pretrained rate under source=embedded
    assert make("+stage=intermediate", "source=embedded", "model=minilm").optim.lr == pytest.approx(5e-5)


def test_run_id_is_stable_and_changes_with_what_determines_the_result():
    base = ["model=roberta", "task=sentiment", "+stage=target", "source=embedded"]
    a = identity.run_id(make(*base))
    assert a == identity.run_id(make(*base))
    assert a.startswith("roberta-sentiment-target-domain-itt-s0-")
    for change in ["seed=1", "stage.itt=false", "stage.target=crosslingual", "optim.lr=1e-4", "model=bert",
                   "task.datasets.domain.embedded_rows=100", "task.datasets.intermediate.embedded_rows=1000",
                   "trainer.precision=32-true", "data.pad_to_multiple_of=8", "model.fast_dropout=true",
                   "stage.head_policy=head", "intermediate.optim.lr=1e-5", "data.eval_batch_size=7",
                   "optim.freeze_encoder=true"]:
        assert identity.run_id(make(*base, change)) != a, change
    # what does not change the result does not change the id
    for same in ["logger=csv", "paths.root=/elsewhere", "data.num_workers=2", "trainer.enable_progress_bar=true",
                 "force=true", "data.eval_batch_size=64", "model.sparse_embedding_grad=false"]:
        assert identity.run_id(make(*base, same)) == a, same


def test_run_id_hashes_effective_numerics_not_auto(monkeypatch):
    """precision=auto and pad_to_multiple_of=auto are hashed as what they become on this machine: the
    same config on a GPU node (other precision, padding, dropout) is another run, not a cached one."""
    from itt import hardware

    base = ["model=bert", "task=sentiment", "+stage=target", "source=embedded"]
    monkeypatch.setattr(hardware, "cuda_available", lambda: False)
    monkeypatch.setattr(hardware, "cpu_has_bf16", lambda: True)
    cpu = make(*base)
    cpu_id, cpu_hparams = identity.run_id(cpu), identity.hparams_id(cpu)
    assert cpu_id == identity.run_id(make(*base, "trainer.precision=bf16-mixed", "data.pad_to_multiple_of=1"))
    assert identity.numerics(identity.resolve(cpu)) == {"device": "cpu", "precision": "bf16-mixed",
                                                        "pad_to_multiple_of": 1, "dropout": "torch"}
    assert identity.numerics(identity.resolve(make(*base, "model.fast_dropout=true")))["dropout"] == "hash64"
    assert identity.numerics(identity.resolve(make(*base, "data.eval_batch_size=128")))["eval_batch_size"] == 128
    with pytest.raises(ConfigError, match="data.eval_batch_size=0 is not valid"):
        identity.numerics(identity.resolve(make(*base, "data.eval_batch_size=0")))
    monkeypatch.setattr(hardware, "cuda_available", lambda: True)
    monkeypatch.setattr(hardware, "cuda_bf16", lambda: False)
    gpu = make(*base, "model.fast_dropout=true")  # opted in, but GPUs keep torch's fused dropout
    assert identity.numerics(identity.resolve(gpu)) == {"device": "cuda", "precision": "16-mixed",
                                                        "pad_to_multiple_of": 8, "dropout": "torch"}
    assert identity.run_id(gpu) != cpu_id and identity.hparams_id(gpu) != cpu_hparams


def test_local_datasets_are_keyed_by_content(tmp_path):
    data = tmp_path / "reviews.csv"
    data.write_text("text,label\ngood,positive\n")
    base = ["task=sentiment", "+stage=target", "stage.itt=false", f"task.datasets.domain.path={data}"]
    before = identity.run_id(make(*base))
    assert identity.run_id(make(*base)) == before
    data.write_text("text,label\nbad,negative\n")
    assert identity.run_id(make(*base)) != before


def test_intermediate_identity_ignores_targets_and_target_settings():
    base = ["model=bert", "task=sentiment", "+stage=target", "source=embedded"]
    ids = {identity.run_id(identity.resolve(make(*base, *extra)).parent)
           for extra in ([], ["stage.target=crosslingual"], ["task.datasets.domain.path=/data/other.csv"],
                         ["trainer.max_epochs=10", "optim.lr=3e-5", "intermediate.trainer.max_epochs=3",
                          "intermediate.optim.lr=2e-3"])}
    assert len(ids) == 1
    direct = identity.run_id(make("model=bert", "task=sentiment", "+stage=intermediate", "source=embedded"))
    assert ids == {direct}


def test_per_stage_settings_apply_to_intermediate_runs_only():
    base = ["model=bert", "task=sentiment", "source=embedded", "intermediate.trainer.max_epochs=1",
            "intermediate.optim.lr=2e-5", "trainer.max_epochs=10"]
    target = identity.resolve(make(*base, "+stage=target"))
    assert target.settings.trainer.max_epochs == 10 and target.settings.optim.lr == pytest.approx(2e-3)
    assert target.parent.settings.trainer.max_epochs == 1 and target.parent.settings.optim.lr == pytest.approx(2e-5)
    direct = identity.resolve(make(*base, "+stage=intermediate"))
    assert identity.run_id(direct) == identity.run_id(target.parent)
    with pytest.raises(Exception, match="max_epochs"):
        make(*base, "+stage=target", "intermediate.trainer.max_epochs=abc")


def test_none_turns_a_nullable_setting_off_for_intermediate_runs_alone():
    """null in ``intermediate.*`` inherits, so early stopping on for targets could not be off for intermediates."""
    base = ["model=bert", "task=sentiment", "source=embedded", "+stage=target", "optim.early_stopping_patience=2"]
    inherited = identity.resolve(make(*base))
    assert inherited.settings.optim.early_stopping_patience == 2 == inherited.parent.settings.optim.early_stopping_patience
    off = identity.resolve(make(*base, "intermediate.optim.early_stopping_patience=none",
                                "intermediate.trainer.gradient_clip_val=none"))
    assert off.settings.optim.early_stopping_patience == 2 and off.settings.trainer.gradient_clip_val == 1.0
    assert off.parent.settings.optim.early_stopping_patience is None and off.parent.settings.trainer.gradient_clip_val is None
    assert identity.run_id(off.parent) != identity.run_id(inherited.parent)
    assert identity.run_id(off) != identity.run_id(inherited)  # its parent is another run
    # A value of the setting's own type is used as typed; any other word is one line naming the key.
    three = identity.resolve(make(*base, "intermediate.optim.early_stopping_patience='3'"))
    assert three.parent.settings.optim.early_stopping_patience == 3
    with pytest.raises(ConfigError, match=r"^intermediate.optim.early_stopping_patience='off' is not valid .*none"):
        identity.resolve(make(*base, "intermediate.optim.early_stopping_patience=off"))
    with pytest.raises(Exception, match="max_epochs"):  # a setting that cannot be null takes no none
        make(*base, "intermediate.trainer.max_epochs=none")


def test_per_step_settings_apply_to_the_steps_that_train_their_role():
    from itt.stages import setting_key
    from itt.trainer import check_trainer_args

    base = ["model=bert", "task=sentiment", "+stage=target", "source=embedded", "stage.target=crosslingual",
            "intermediate.steps=[intermediate,domain]", "intermediate.trainer.max_epochs=1"]
    plain = identity.resolve(make(*base))
    stepped = identity.resolve(make(*base, "+intermediate.per_step.domain.trainer.max_epochs=2",
                                    "+intermediate.per_step.domain.optim.lr=1e-4"))
    first, second = stepped.chain()
    assert (first.settings.trainer.max_epochs, second.settings.trainer.max_epochs) == (1, 2)
    assert second.settings.optim.lr == pytest.approx(1e-4) and first.settings.optim.lr == plain.chain()[0].settings.optim.lr
    assert stepped.settings.trainer.max_epochs == plain.settings.trainer.max_epochs  # the target's own are untouched
    assert identity.run_id(first) == identity.run_id(plain.chain()[0])  # the shared first step is one run
    assert identity.run_id(second) != identity.run_id(plain.chain()[1])
    assert setting_key(second, "trainer.max_epochs") == "intermediate.per_step.domain.trainer.max_epochs"
    assert setting_key(first, "trainer.max_epochs") == "intermediate.trainer.max_epochs"
    zero = identity.resolve(make(*base, "+intermediate.per_step.domain.trainer.max_epochs=0")).chain()[1]
    with pytest.raises(ConfigError, match=r"^intermediate.per_step.domain.trainer.max_epochs=0 trains nothing"):
        check_trainer_args(zero.settings.trainer, lambda k: setting_key(zero, k))
    misspelt = identity.resolve(make(*base, "+intermediate.per_step.domain.trainer.max_epoch=2")).chain()[1]
    with pytest.raises(ConfigError, match=r"^intermediate.per_step.domain.trainer.max_epoch is not a Lightning Trainer"):
        check_trainer_args(misspelt.settings.trainer, lambda k: setting_key(misspelt, k))
    off = identity.resolve(make(*base, "optim.early_stopping_patience=2",
                                "+intermediate.per_step.intermediate.optim.early_stopping_patience=none"))
    assert [s.settings.optim.early_stopping_patience for s in off.chain()] == [None, 2]

    # A mixture step takes its members' settings, which must agree.
    mixed = [*base, "intermediate.steps=[[intermediate,domain]]"]
    agree = identity.resolve(make(*mixed, "+intermediate.per_step.domain.optim.lr=1e-4",
                                  "+intermediate.per_step.intermediate.optim.lr=1e-4"))
    assert agree.parent.settings.optim.lr == pytest.approx(1e-4)
    with pytest.raises(ConfigError, match=r"^intermediate.per_step.domain.optim.lr=0.0002 disagrees with "
                                          r"intermediate.per_step.intermediate.optim.lr=0.0001"):
        identity.resolve(make(*mixed, "+intermediate.per_step.intermediate.optim.lr=1e-4",
                              "+intermediate.per_step.domain.optim.lr=2e-4"))
    # a role no step of this run trains: fine (a sweep over intermediate.steps sets each step's own)
    assert identity.resolve(make(*base, "+intermediate.per_step.crosslingual.optim.lr=1e-4")).chain()[1].settings.optim.lr \
        == plain.chain()[1].settings.optim.lr
    for override, message in [
            ("+intermediate.per_step.crosslngual.optim.lr=1e-4",
             r"^intermediate.per_step.crosslngual: 'crosslngual' is not a dataset of task=sentiment; valid: intermediate, "),
            ("+intermediate.per_step.domain.optimizer.lr=1e-4",
             r"^intermediate.per_step.domain.optimizer is not valid; valid groups: trainer, optim, data"),
            ("+intermediate.per_step.domain.optim.learning_rate=1e-4",
             r"^intermediate.per_step.domain.optim.learning_rate is not a setting of optim; valid: lr, "),
            ("+intermediate.per_step.domain.data.batch_size=big",
             r"^intermediate.per_step.domain.data.batch_size='big' is not valid \(.*\); use a value like data.batch_size's, or null")]:
        with pytest.raises(ConfigError, match=message):
            identity.resolve(make(*base, override))


def test_chains_share_their_prefix_and_mixtures_are_one_step():
    base = ["model=bert", "task=sentiment", "+stage=target", "source=embedded", "stage.target=domain"]
    ab = identity.resolve(make(*base, "intermediate.steps=[intermediate,crosslingual]"))
    a = identity.resolve(make(*base))
    assert [s.label for s in ab.chain()] == ["intermediate", "crosslingual"] and ab.variant == "intermediate>crosslingual"
    assert identity.run_id(ab.chain()[0]) == identity.run_id(a.parent)  # the prefix A is one shared run
    assert identity.run_id(ab) != identity.run_id(a)
    mix = identity.resolve(make(*base, "intermediate.steps=[[intermediate,crosslingual]]"))
    assert mix.variant == "intermediate+crosslingual" and len(mix.chain()) == 1
    uniform = identity.resolve(make(*base, "sampler=uniform", "intermediate.steps=[[intermediate,crosslingual]]"))
    assert identity.run_id(uniform.parent) != identity.run_id(mix.parent)  # a mixture's id includes its sampler
    with pytest.raises(identity.ConfigError, match="'nope' is not a dataset of task=sentiment; valid: intermediate, domain, crosslingual"):
        identity.run_id(make(*base, "intermediate.steps=[nope]"))


def test_a_no_itt_target_needs_no_intermediate_role():
    # A task of one's own without an `intermediate` role (docs/crosslingual.md's local-file recipe, a chain study
    # with roles xnli_en, pawsx_de) could not run its no-ITT target without naming intermediate.steps, which a
    # no-ITT run never trains: "intermediate.steps: 'intermediate' is not a dataset of task=...".
    base = ["model=bert", "task=sentiment", "+stage=target", "source=embedded", "stage.target=domain",
            "~task.datasets.intermediate"]
    no_itt = identity.resolve(make(*base, "stage.itt=false"))
    assert no_itt.parent is None and no_itt.variant == "none"
    named = identity.resolve(make(*base, "stage.itt=false", "intermediate.steps=[crosslingual]"))
    assert identity.run_id(named) == identity.run_id(no_itt)  # the steps never entered a no-ITT run's id
    with pytest.raises(identity.ConfigError, match="'intermediate' is not a dataset of task=sentiment; valid: domain, crosslingual"):
        identity.resolve(make(*base, "stage.itt=true"))


def test_hparams_id_groups_like_with_like():
    base = ["+stage=target", "source=embedded"]
    h = identity.hparams_id(make(*base))
    assert identity.hparams_id(make(*base, "model=xlnet", "seed=3", "stage.itt=false")) == h
    assert identity.hparams_id(make(*base, "intermediate.optim.lr=1e-5")) == h  # the chain is not the target's hparams
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


def test_a_named_intermediate_is_one_run_for_every_task_that_names_it_alike():
    """MNLI before XNLI and MNLI before WikiANN: the same data, kind, metric and settings, one run."""
    shared = ("'+task.datasets={mnli:{path:nyu-mll/multi_nli,kind:sequence_classification,primary_metric:acc,"
              "generator:nli,text_fields:[premise,hypothesis]}}'")
    ids = set()
    for task in ("sentiment", "ner", "qa"):
        cfg = make(f"task={task}", "+stage=target", "source=embedded", shared.strip("'"), "intermediate.steps=[mnli]")
        parent = identity.resolve(cfg).parent
        ids.add(identity.run_id(parent))
        assert identity.run_id(cfg) not in ids  # the targets differ, of course
    assert len(ids) == 1 and next(iter(ids)).startswith("bert-intermediate-mnli-s0-")


def test_a_named_squad_step_is_one_run_for_the_qa_task_too():
    """SQuAD before XNLI and before the QA target: the QA task adds no options of its own to its datasets'
    identity (conf/task/qa.yaml leaves task.options at the kind's defaults), so it is the same run."""
    shared = ("+task.datasets={squad:{path:rajpurkar/squad,subset:plain_text,kind:extractive_qa,primary_metric:f1,"
              "generator:qa,text_fields:[question,context],label_field:answers,lang:en,domain:wiki}}")
    ids = {identity.run_id(identity.resolve(make(f"task={task}", "+stage=target", "stage.target=en", shared,
                                                  "intermediate.steps=[squad]")).parent) for task in ("xnli", "ner", "qa")}
    assert len(ids) == 1
    # a task option on the QA task is part of its QA datasets' identity: another run
    changed = make("task=qa", "+stage=target", "stage.target=en", shared, "intermediate.steps=[squad]",
                   "+task.options.doc_stride=64")
    assert identity.run_id(identity.resolve(changed).parent) not in ids


def test_all_eval_sets_offline_are_those_with_a_stand_in():
    """stage.evals=all: every eval set on the hub; under source=embedded, those whose language the stand-in
    generators write (en/de/fr/es) or that are local files. A list is taken as given."""
    hub = identity.resolve(make("task=ner", "+stage=target", "stage.target=en"))
    assert len(hub.evals) == 39 and "ar" in hub.evals
    local = "+task.evals={mine:{path:./my_arabic_ner.jsonl,lang:ar,text_fields:[tokens]}}"
    offline = identity.resolve(make("task=ner", "+stage=target", "stage.target=en", "source=embedded", local))
    assert offline.evals == ("de", "es", "fr", "mine")
    assert identity.resolve(make("task=copa", "+stage=target", "stage.target=en", "source=embedded")).evals == ()
    listed = identity.resolve(make("task=ner", "+stage=target", "stage.target=en", "source=embedded", "stage.evals=[ar,de]"))
    assert listed.evals == ("ar", "de")


def test_an_unknown_eval_set_advises_the_documented_spelling_and_that_spelling_composes():
    with pytest.raises(identity.ConfigError) as exc:
        identity.resolve(make("task=sentiment", "+stage=target", "stage.evals=[de]"))
    msg = str(exc.value)
    assert "'+task.evals={<name>:{path:...,lang:...}}'" in msg and "\n" not in msg
    filled = make("task=sentiment", "+stage=target", "+task.evals={de:{path:some/dataset,lang:de}}", "stage.evals=[de]")
    assert identity.resolve(filled).evals == ("de",) and filled.task.evals.de.path == "some/dataset"


@pytest.mark.parametrize("task", sorted(p.stem for p in (Path(CONF_DIR) / "task").glob("*.yaml")))
def test_shipped_datasets_take_family_genus_and_script_from_the_language_table(task):
    """No shipped spec repeats (or contradicts) the table; the row and the report's long table agree."""
    cfg = make(f"task={task}", "+stage=intermediate")
    for group in ("datasets", "evals"):
        for name, node in cfg.task[group].items():
            known = languages.lookup(node.lang, where=f"task={task} {group}.{name}")
            assert node.family is None, f"task={task}: task.{group}.{name}.family repeats the language table"
            info = rows.dataset_info(cfg, name, node)
            assert (info["family"], info["genus"], info["script"]) == (known.family, known.genus, known.script)
            fields = _lang_fields(info, "eval_")
            assert (fields["eval_family"], fields["eval_genus"], fields["eval_script"]) == (known.family, known.genus, known.script)


def test_an_unknown_language_code_is_one_line_unless_the_spec_gives_its_family():
    with pytest.raises(identity.ConfigError) as exc:
        identity.resolve(make("task=sentiment", "+stage=target", "+task.evals={x:{path:some/dataset,lang:ge}}"))
    msg = str(exc.value)
    assert msg.startswith("unknown language code 'ge' in task.evals.x.lang; did you mean ") and "\n" not in msg
    assert "a code of itt/languages.tsv, or set task.evals.x.family" in msg
    # the spec is checked whole: a run that does not evaluate the set, on embedded stand-ins, fails too
    # (on the hub it would), so a typo never waits for the one run that reads it
    with pytest.raises(identity.ConfigError, match=r"'ge' in task\.evals\.x\.lang"):
        identity.resolve(make("task=sentiment", "+stage=target", "source=embedded", "stage.evals=[]",
                              "+task.evals={x:{path:some/dataset,lang:ge}}"))
    with pytest.raises(identity.ConfigError, match=r"'english' in task\.datasets\.domain\.lang; did you mean en"):
        identity.resolve(make("task=sentiment", "+stage=intermediate", "task.datasets.domain.lang=english"))
    # a language the table lacks, with its family given: accepted, and the row carries that family
    cfg = make("task=sentiment", "+stage=target", "+task.evals={x:{path:some/dataset,lang:nds,family:Indo-European}}")
    assert identity.resolve(cfg).evals == ("x",)
    info = rows.dataset_info(cfg, "x", cfg.task.evals.x)
    assert (info["lang"], info["family"], info["genus"]) == ("nds", "Indo-European", None)


def test_a_label_map_over_numeric_labels_can_be_typed_on_the_command_line():
    """Hydra reads ``{0: negative}`` with int keys (its grammar has no quoted keys); the raw label is "0"."""
    from itt.build import dataset_spec  # noqa: PLC0415

    evals = make("task=sentiment", "+stage=target",
                 "+task.evals={de:{path:reviews_de.csv,text_fields:[review],label_field:stars,label_map:{0:negative,1:positive},lang:de}}")
    assert dataset_spec(evals.task.evals.de).label_map == {"0": "negative", "1": "positive"}
    # a config's map typed again (`++`: Hydra merges it into the config's "0": ... keys): the same run
    declared = make("task=sentiment", "+stage=target", "stage.target=crosslingual")
    typed = make("task=sentiment", "+stage=target", "stage.target=crosslingual",
                 "++task.datasets.crosslingual.label_map={0:negative,1:negative,2:null,3:positive,4:positive}")
    assert dataset_spec(typed.task.datasets.crosslingual).label_map == dataset_spec(declared.task.datasets.crosslingual).label_map
    assert identity.run_id(typed) == identity.run_id(declared)
    # one key overridden: the override wins over the config's "2", and the id is computed (no int/str sort)
    moved = make("task=sentiment", "+stage=target", "stage.target=crosslingual", "++task.datasets.crosslingual.label_map={2:positive}")
    assert dataset_spec(moved.task.datasets.crosslingual).label_map["2"] == "positive"
    assert identity.run_id(moved) != identity.run_id(declared)


def test_a_map_can_be_given_on_the_command_line_where_the_config_has_none():
    """``label_map`` and ``options`` default to null; a map typed for them on the command line composes (typed
    ``Optional[Dict]``, OmegaConf merged the override into the null node and failed with an AttributeError,
    omry/omegaconf#1360), and a value that is not a map is one line naming the key."""
    from itt.build import dataset_spec  # noqa: PLC0415

    cfg = make("task=sentiment", "+stage=target", "task.datasets.intermediate.label_map={0:negative,1:positive}",
               "task.datasets.intermediate.options={doc_stride:64}")
    spec = dataset_spec(cfg.task.datasets.intermediate)
    assert spec.label_map == {"0": "negative", "1": "positive"} and spec.options == {"doc_stride": 64}
    assert identity.run_id(cfg) != identity.run_id(make("task=sentiment", "+stage=target"))
    for key, value in (("label_map", "negative"), ("options", "[1,2]")):
        bad = make("task=sentiment", "+stage=target", f"task.datasets.intermediate.{key}={value}")
        with pytest.raises(identity.ConfigError, match=rf"task\.datasets\.intermediate\.{key}=.* is not a map"):
            identity.resolve(bad)


def test_official_splits_of_translations_are_another_run_than_before_the_carve_by_id():
    """split=official carves a split the files lack by shared id for translations (itt.data.splitting):
    other rows than the per-dataset carve of older versions, so such runs get another id; split=paper
    ones and runs without translations keep theirs."""
    def carve(*overrides):
        spec = identity.resolve(make("task=sentence_similarity", "+stage=target", "stage.target=crosslingual", *overrides))
        return identity.run_payload(spec)["datasets"]["crosslingual"].get("official_carve")

    assert carve("split=official") == "by_id"
    assert carve("split=paper") is None
    domain = identity.resolve(make("task=sentence_similarity", "+stage=target", "stage.target=domain", "split=official"))
    assert "official_carve" not in identity.run_payload(domain)["datasets"]["domain"]


@pytest.mark.parametrize("overrides, changed", [
    # split=official, train only: validation and test carved as 70/15/15 of all rows (was 72.25/15/12.75)
    (("task=sentiment", "source=embedded", "split=official"), {"domain"}),
    (("task=sentiment", "source=hub", "split=official", "task.datasets.domain.splits.test=null"), {"domain"}),
    (("task=sentiment", "source=hub", "split=official"), set()),  # declares test: validation carved as before
    (("task=sentiment", "source=hub", "split=official", "task.datasets.domain.splits.validation=validation"), set()),
    (("task=sentiment", "source=embedded", "split=paper"), set()),
    (("task=copa", "source=embedded", "split=official"), set()),  # translations: carved by shared id as before
    # split=paper, extractive QA: a context's questions kept in one split (eval sets too); by id when aligned
    (("task=qa", "source=hub", "split=paper"), {"domain", "evals"}),
    # split=official, extractive QA: TyDiQA's validation, carved from its train, by context too
    (("task=qa", "source=hub", "split=official"), {"domain"}),
    # the stand-ins are one stream, split by row id: by their context's smallest id (one question per context
    # offline, so the same splits, but a hub QA set declared aligned_with splits otherwise)
    (("task=qa", "source=embedded", "split=paper"), {"domain", "evals"}),
])
def test_runs_whose_splits_changed_get_another_id_and_no_other_run_does(monkeypatch, overrides, changed):
    """The old id is the one the run had before the two split fixes (itt.data.splitting): the same payload
    without their keys, made by switching the keys off."""
    spec = identity.resolve(make(*overrides, "+stage=target", "stage.target=domain"))
    payload = identity.run_payload(spec, machine=False)
    new = identity.config_id(spec)
    monkeypatch.setattr("itt.data.files.split_changes", lambda *args, **kwargs: {})
    assert (identity.config_id(spec) != new) == bool(changed)
    old = identity.run_payload(spec, machine=False)
    differ = {role for role in payload["datasets"] if payload["datasets"][role] != old["datasets"][role]}
    differ |= {"evals"} if payload["evals"] != old["evals"] else set()
    assert differ == changed


def test_the_kinds_named_as_grouping_rows_are_the_kinds_that_do():
    from itt.tasks import KINDS, Task  # noqa: PLC0415

    assert identity.ROW_GROUPING_KINDS == {kind for kind, cls in KINDS.items() if cls.split_groups is not Task.split_groups}


@pytest.mark.parametrize("split", ["official", "paper"])
def test_official_eval_sets_scored_on_their_declared_splits_are_another_run(split):
    """Under split=official a test-only eval set is scored on all its items (itt.data.splitting), where
    older versions carved a validation part out of its test rows: such runs get another id (their
    ledger rows hold other scores); split=paper eval sets and the training datasets keep theirs."""
    spec = identity.resolve(make("experiment=xtreme_r_demo", "model=mbert", "task=xnli", "+stage=target", "stage.target=en", f"split={split}"))
    payload = identity.run_payload(spec)
    assert payload["evals"], "the preset's target has eval sets"
    marks = {name: ev.get("official_eval") for name, ev in payload["evals"].items()}
    assert set(marks.values()) == ({"declared_splits"} if split == "official" else {None})
    assert not any("official_eval" in ds for ds in payload["datasets"].values())


TRANSLATIONS_TASK = """\
defaults: [/schema/task/task@_here_, _self_]
name: nli_pair
kind: sequence_classification
primary_metric: acc
datasets:
  en: {{path: {d}/en, columns: [premise, hypothesis, label], text_fields: [premise, hypothesis], labels: [yes, no], lang: en}}
  de: {{path: {d}/de.tsv, aligned_with: en, columns: [premise, hypothesis, label], text_fields: [premise, hypothesis], labels: [yes, no], splits: {{train: train, validation: null, test: null}}, lang: de}}
  fr: {{path: {d}/fr.tsv, aligned_with: de, columns: [premise, hypothesis, label], text_fields: [premise, hypothesis], labels: [yes, no], splits: {{train: train, validation: null, test: null}}, lang: fr}}
"""


@pytest.fixture(name="translations")
def translations_fixture(tmp_path):
    """English with its own train/validation/test (a folder), German and French translations with a train
    file only (fr aligned through de: one alignment group), as a task config on Hydra's search path."""
    for lang in ("en", "de_full"):  # de_full: German with splits of its own
        (tmp_path / lang).mkdir()
        for split in ("train", "validation", "test"):
            (tmp_path / lang / f"{split}.tsv").write_text("".join(f"{lang} {i}\t{lang} h {i}\t{('yes', 'no')[i % 2]}\n"
                                                                  for i in range(40)))
    for lang in ("de", "fr"):
        (tmp_path / f"{lang}.tsv").write_text("".join(f"{lang} {i}\t{lang} h {i}\t{('yes', 'no')[i % 2]}\n" for i in range(40)))
    (tmp_path / "conf" / "task").mkdir(parents=True)
    (tmp_path / "conf" / "task" / "nli_pair.yaml").write_text(TRANSLATIONS_TASK.format(d=tmp_path))

    def resolve(*overrides):
        return identity.resolve(make(f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "task=nli_pair", *overrides))

    return resolve


def test_official_refuses_scoring_a_carved_split_whose_originals_an_earlier_step_trained_on(translations, tmp_path):
    """English declares its splits, German carves validation and test from its train rows by shared id: English's
    train holds the originals of German's held-out items. An English intermediate, then a German target, under
    split=official, would be scored on translations it trained on: one ConfigError line before anything trains."""
    german_after_english = ("+stage=target", "stage.target=de", "intermediate.steps=[en]")
    with pytest.raises(ConfigError, match=r"^split=official: the target run 'de' is scored on task\.datasets\.de's "
                                          r"validation split, .* its intermediate step 'en' trains on its translation "
                                          r"task\.datasets\.en, .*declare task\.datasets\.de\.splits\.validation or use "
                                          r"split=paper$"):
        translations(*german_after_english, "split=official")
    assert translations(*german_after_english, "split=paper").target == "de"  # every translation split by the same ids
    assert translations(*german_after_english, "split=official", "stage.itt=false").parent is None  # no English training
    # English scored after German: English's held-out items are its own declared splits, not train rows of German
    assert translations("+stage=target", "stage.target=en", "intermediate.steps=[de]", "split=official").target == "en"
    # French (aligned through German) carves the same ids: German's train already leaves them out
    assert translations("+stage=target", "stage.target=de", "intermediate.steps=[fr]", "split=official").target == "de"
    # English as one file is read as a train split only, whatever it declares: it carves like German
    assert translations(*german_after_english, "split=official", f"task.datasets.en.path={tmp_path / 'fr.tsv'}").target == "de"
    # German with validation and test of its own: their ids are not English train ids, nothing carved to refuse
    assert translations(*german_after_english, "split=official", "task.datasets.de.splits.validation=validation",
                        "task.datasets.de.splits.test=test", f"task.datasets.de.path={tmp_path / 'de_full'}").target == "de"


def test_official_takes_a_local_folder_at_the_splits_it_has_files_for(translations, tmp_path):
    """A folder that declares a validation split but has no validation file carves it from its train rows
    (itt.data.loading reads only the files there): German as train.tsv + test.tsv after English is scored on
    translations of English training items, and refused; with its validation file it is not."""
    german = tmp_path / "de_no_dev"
    german.mkdir()
    for split in ("train", "test"):
        (german / f"{split}.tsv").write_text((tmp_path / "de_full" / f"{split}.tsv").read_text())
    declared = ("task.datasets.de.splits.validation=validation", "task.datasets.de.splits.test=test")
    german_after_english = ("+stage=target", "stage.target=de", "intermediate.steps=[en]", "split=official", *declared)
    with pytest.raises(ConfigError, match=r"^split=official: the target run 'de' is scored on task\.datasets\.de's "
                                          r"validation split, carved"):
        translations(*german_after_english, f"task.datasets.de.path={german}")
    (german / "dev.tsv").write_text((tmp_path / "de_full" / "validation.tsv").read_text())  # datasets: dev = validation
    assert translations(*german_after_english, f"task.datasets.de.path={german}").target == "de"


@pytest.mark.parametrize(("steps", "run", "scored"), [("[[en,de]]", "en+de", "de"), ("[en,de]", "de", "de"),
                                                      ("[en,fr,de]", "fr", "fr")],
                         ids=["mixture", "chain", "chain-of-three"])
def test_official_refuses_an_intermediate_scored_on_a_carved_split_after_training_on_its_original(translations, steps, run,
                                                                                                 scored):
    """An intermediate run is scored on its own datasets' validation/test too: a mixture or a later step that
    trains on English before (or with) a train-only translation is refused like a German target (the first such
    step of the chain is named)."""
    who = "it" if run == "en+de" else "its intermediate step 'en'"
    with pytest.raises(ConfigError, match=rf"the intermediate run '{re.escape(run)}' is scored on task\.datasets\.{scored}'s "
                                          rf"validation split.* but {who} trains on its translation task\.datasets\.en,"):
        translations("+stage=intermediate", f"intermediate.steps={steps}", "split=official")
    assert translations("+stage=intermediate", f"intermediate.steps={steps}", "split=paper").stage == "intermediate"


def test_every_config_file_opens_with_the_command_that_uses_it():
    """README: each config file starts with the command that uses it (in its header comment, before any key)."""
    from pathlib import Path  # noqa: PLC0415

    missing = []
    for path in sorted(Path(CONF_DIR).rglob("*.yaml")):
        header = []
        for line in path.read_text().splitlines():
            if not line.startswith("#"):
                break
            header.append(line)
        if not any("python -m itt." in line or "make demo" in line for line in header):
            missing.append(str(path.relative_to(CONF_DIR)))
    assert len(list(Path(CONF_DIR).rglob("*.yaml"))) > 40 and not missing, missing


def test_an_itt_target_of_a_kind_named_by_its_dotted_path_is_another_run_than_before_the_head_fix():
    """Such a target keeps its parent's head when the label spaces agree (itt.models.loading._parent_head);
    earlier versions reset its projection, so its id changes; a kind named by its short name keeps its id."""
    dotted = "task.kind=itt.tasks.sequence_classification.SequenceClassification"

    def parent_payload(*overrides):
        return identity.run_payload(identity.resolve(make("task=sentiment", "+stage=target", "stage.itt=true", *overrides)))["parent"]

    assert parent_payload(dotted).get("head_match") == "class_kind"
    assert "head_match" not in parent_payload()
    assert "head_match" not in identity.run_payload(identity.resolve(make("task=sentiment", "+stage=target", "stage.itt=false", dotted)))


def test_a_misspelt_kind_is_one_line_before_anything_is_planned_or_trained(tmp_path):
    """stages.resolve (itt.train, itt.plan) checks every dataset's kind by name, without importing the kinds."""
    with pytest.raises(identity.ConfigError, match=r"task\.kind='classifcation' is not a task kind; valid: .*retrieval"):
        identity.resolve(make("task=sentiment", "+stage=target", "source=embedded", "task.kind=classifcation"))
    with pytest.raises(identity.ConfigError, match=r"task\.datasets\.domain\.kind='nerr' is not a task kind"):
        identity.resolve(make("task=sentiment", "+stage=target", "+task.datasets.domain.kind=nerr"))
    dotted = make("task=sentiment", "+stage=target", "task.kind=itt.tasks.sequence_classification.SequenceClassification")
    assert identity.resolve(dotted).stage == "target"
    from itt import plan, stages, tasks  # noqa: PLC0415

    assert set(stages.BUILT_IN_KINDS) == set(tasks.KINDS)
    result = plan.main(["model=bert", "task=sentiment", "+stage=target", "source=embedded", "task.kind=classifcation",
                        f"paths.root={tmp_path}"])
    assert result == 2 and not (tmp_path / "results.jsonl").exists()


@pytest.mark.parametrize("task, target, split, left_out", [
    ("ner", "crosslingual", "paper", [("de", "crosslingual")]),      # WikiANN de: the target and eval set de
    ("qa", "crosslingual", "official", [("mlqa_de", "crosslingual")]),  # trains on MLQA de's test split, minus a carve
    ("qa", "domain", "paper", [("tydiqa_en", "domain")]),            # one hub config, languages told apart by row id
    ("copa", "crosslingual", "paper", [("it", "crosslingual")]),
    ("copa", "crosslingual", "official", [("it", "crosslingual")]),  # the target trains on XCOPA it's validation
    ("ner", "domain", "paper", []),
    ("ner", "crosslingual", "official", []),  # trains on WikiANN de's train split; eval de reads validation and test
])
def test_an_eval_set_reading_the_data_the_run_trains_on_is_left_out(task, target, split, left_out):
    """Split on its own, an eval set of the target's own dataset had ~40-85 % of its test rows in the target's
    training split (and MLQA de's official test split is what the target trains on): scored as a language of the
    run, it read as an in-language score. The target's own test split is that score."""
    spec = identity.resolve(make("+stage=target", f"task={task}", f"stage.target={target}", f"split={split}"))
    assert list(spec.same_data_evals) == left_out
    assert not {name for name, _ in left_out} & set(spec.evals)
    assert not {name for name, _ in left_out} & spec.selected_evals
    if left_out:
        name = left_out[0][0]
        with pytest.raises(ConfigError, match=rf"stage.select_on='{name}' is not an eval set of this run \({name} reads "
                                              r"the target's own data"):
            identity.resolve(make("+stage=target", f"task={task}", f"stage.target={target}", f"split={split}",
                                  f"stage.select_on={name}"))


def test_an_eval_set_of_other_splits_of_a_trained_dataset_stays():
    """XNLI's translate-train roles read XNLI de's train split; eval set de its validation and test splits."""
    for split in ("paper", "official"):
        spec = identity.resolve(make("+stage=intermediate", "task=xnli", f"split={split}",
                                     "intermediate.steps=[intermediate_translate_train_de]", "intermediate.evals=[de,fr]"))
        assert spec.evals == ("de", "fr") and spec.same_data_evals == ()


def test_intermediate_eval_sets_of_the_intermediates_own_data_are_left_out():
    wikiann_en = "{path:unimelb-nlp/wikiann,subset:en,lang:en,text_fields:[tokens],label_field:ner_tags}"
    spec = identity.resolve(make("+stage=intermediate", "task=ner", "+task.evals={wen:" + wikiann_en + "}",
                                 "intermediate.evals=[wen,de]"))
    assert spec.evals == ("de",) and spec.same_data_evals == (("wen", "intermediate"),)
