"""Issue 5, point 1: a mistake in the command is one line that names the key or value and what is
valid, a non-zero exit code, no traceback (unless ITT_DEBUG=1), and nothing written under paths.root."""

from __future__ import annotations

import pytest
from conftest import OFFLINE, error_lines

CASES = {
    "unknown group option": (
        ["model=bret", "+stage=intermediate"],
        "error: model=bret is not an option of model; valid: bert, codebert, graphcodebert, mbert, me5_small, minilm, "
        "roberta, unixcoder, xlmr, xlmr_large, xlnet"),
    "unknown key": (
        ["+stage=intermediate", "trainer.max_epoch=1"],
        "error: trainer.max_epoch is not a config key (did you mean trainer.max_epochs?); keys of trainer: max_epochs,"),
    "wrong type": (
        ["+stage=intermediate", "trainer.max_epochs=abc"],
        "error: trainer.max_epochs=abc: Value 'abc' of type 'str' could not be converted to Integer"),
    "target on an intermediate stage": (
        ["+stage=intermediate", "stage.target=domain"],
        "error: stage.target does not apply to +stage=intermediate"),
    "missing +stage": (
        ["model=roberta", "task=sentiment"],
        "error: no stage selected: add +stage=intermediate or +stage=target"),
    "unknown target": (
        ["+stage=target", "stage.target=medical"],
        "error: stage.target='medical' is not a target of task=sentiment; valid: domain, crosslingual"),
    "unknown language code": (
        ["+stage=target", "task.datasets.domain.lang=ge"],
        "error: unknown language code 'ge' in task.datasets.domain.lang; did you mean "),
    "unknown stage": (
        ["+stage=pretrain"],
        "error: stage=pretrain is not an option of stage; valid: intermediate, target"),
    "seed not an int": (
        ["+stage=target", "seed=abc"],
        "error: seed='abc' is not valid; use an int such as 0"),
    "split fractions that do not sum to 1": (
        ["+stage=intermediate", "split.train=0.9"],
        "error: split.train + split.validation + split.test = 0.9 + 0.15 + 0.15 = 1.2; the fractions must sum to 1"),
    "an empty split": (
        ["+stage=intermediate", "split.train=0.85", "split.test=0"],
        "error: split.test=0.0 is not valid; each split's fraction must be above 0 and below 1"),
    # A data file's name without ./ was taken for a hub id: offline, a generated stand-in was evaluated instead,
    # silently (on the hub: "not cached and the hub is unreachable"); with ./ it failed only after the
    # intermediate had trained. Now: one line, before a parent trains or anything is written.
    "a local eval file that does not exist": (
        ["+stage=target", "+task.evals={de:{path:data/reviews_de.csv,lang:de,text_fields:[body]}}"],
        "error: data/reviews_de.csv: no such file or folder (task.evals.de.path); give a csv/tsv/json/jsonl/parquet/"
        "conll/conllu file or a folder of them"),
    # key by key: "de=None: Invalid type assigned: dict is not a subclass of DatasetSpec. value: {}"
    "a new eval set key by key": (
        ["+stage=target", "+task.evals.de.path=./reviews_de.csv", "+task.evals.de.lang=de"],
        "error: task.evals.de.path=./reviews_de.csv: a new dataset spec is added as one entry, not key by key: "
        "'+task.evals={de:{path:./reviews_de.csv,lang:...}}'"),
    # a bad value of an existing spec's key keeps its own message (not the key-by-key advice above)
    "a bad value of an existing dataset's key": (
        ["+stage=target", "task.datasets.intermediate.embedded_rows=abc"],
        "error: task.datasets.intermediate.embedded_rows=abc: Value 'abc' of type 'str' could not be converted to Integer"),
    # an empty open section listed no keys: "task.options.foo is not a config key; keys of task.options:"
    "a key of an empty section without +": (
        ["+stage=target", "task.options.foo=1"],
        "error: task.options.foo is not a config key: task.options has none yet; add one with +task.options.foo=<value>"),
    # "MissingMandatoryValue raised while resolving interpolation: Missing mandatory value: task.evals.de.path"
    "an eval set without a path": (
        ["+stage=target", "+task.evals={de:{lang:de}}"],
        "error: task.evals.de.path has no value: give a hub dataset id (owner/name) or a local "
        "csv/tsv/json/jsonl/parquet/conll/conllu file or folder"),
    "a required model key left empty": (
        ["+stage=target", "model.name=???"],
        "error: model.name has no value: set it with model.name=<value>"),
    "a local training file that does not exist": (
        ["+stage=target", "stage.itt=false", "task.datasets.domain.path=./reviews.tsv"],
        "error: reviews.tsv: no such file or folder (task.datasets.domain.path)"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_config_error_is_one_line_and_writes_nothing(run_itt, tmp_path, case):
    overrides, expected = CASES[case]
    root = tmp_path / "root"
    result = run_itt(*overrides, *OFFLINE, root=root, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert error_lines(result.stderr) == [result.stderr.strip()], result.stderr  # the only thing printed
    assert result.stderr.startswith(expected), result.stderr
    assert not root.exists(), sorted(p.name for p in root.rglob("*"))


def test_a_root_under_a_file_is_one_line_naming_the_file(run_itt, tmp_path):
    """Hydra makes ``${paths.root}/runs/<run id>`` before the job starts: a root under a file (or read-only) was a
    NotADirectoryError traceback."""
    blocker = tmp_path / "outputs"
    blocker.write_text("a file\n")
    result = run_itt("+stage=target", "stage.itt=false", *OFFLINE, root=blocker / "root", timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    (line,) = error_lines(result.stderr)
    assert line.startswith(f"error: cannot make the output folder {blocker}/root/runs/bert-sentiment-target-domain-noitt-s0-")
    assert line.endswith(f": {blocker} is a file, not a folder; set paths.root to a folder you can write to"), line
    assert blocker.read_text() == "a file\n"


def test_debug_flag_shows_the_traceback(run_itt, tmp_path):
    result = run_itt("+stage=intermediate", "trainer.max_epochs=abc", *OFFLINE, root=tmp_path / "root",
                     env={"ITT_DEBUG": "1"}, timeout=120)
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "could not be converted to Integer" in result.stderr


def test_misspelt_trainer_argument_fails_before_anything_loads():
    from omegaconf import OmegaConf

    from itt.errors import ConfigError
    from itt.trainer import check_trainer_args

    trainer = OmegaConf.create({"_target_": "pytorch_lightning.Trainer", "max_epochs": 1, "max_epoch": 1})
    with pytest.raises(ConfigError, match=r"^trainer\.max_epoch is not a Lightning Trainer argument that can be set "
                                          r"\(did you mean trainer\.max_epochs\?\); valid: accelerator, strategy, "):
        check_trainer_args(trainer)
    with pytest.raises(ConfigError, match=r"trainer\.callbacks is not a Lightning Trainer argument that can be set"):
        check_trainer_args(OmegaConf.create({"_target_": "pytorch_lightning.Trainer", "callbacks": []}))
    check_trainer_args(OmegaConf.create({"_target_": "pytorch_lightning.Trainer", "limit_test_batches": 2}))


LATE_CASES = {
    "pad multiple": ("data.pad_to_multiple_of=0",
                     "error: data.pad_to_multiple_of=0 is not valid; use auto, or a positive int such as 8"),
    "mega batch": ("data.mega_batch=all",
                   "error: data.mega_batch='all' is not valid; use auto, or a positive int such as 50"),
    "batch size": ("data.batch_size=0", "error: data.batch_size=0 is not valid; use a positive int such as 32"),
    "eval batch size": ("data.eval_batch_size=-1",
                        "error: data.eval_batch_size=-1 is not valid; use a positive int such as 64"),
    "max length": ("data.max_length=0", "error: data.max_length=0 is not valid; use a positive int such as 128"),
    "no training length": ("trainer.max_epochs=-1",
                           "error: trainer.max_epochs=-1 with trainer.max_steps=-1 sets no training length (the "
                           "learning-rate schedule needs one); set trainer.max_epochs or trainer.max_steps >= 1"),
    "no epochs": ("trainer.max_epochs=0",
                  "error: trainer.max_epochs=0 trains nothing; use a positive int, or -1 with trainer.max_steps >= 1"),
    "learning rate": ("optim.lr=-1", "error: optim.lr=-1.0 is not valid; use a learning rate above 0 such as 5e-05"),
    "warmup ratio": ("optim.warmup_ratio=2",
                     "error: optim.warmup_ratio=2.0 is not valid; use a share of the training steps from 0 to 1 such as 0.1"),
    "weight decay": ("optim.weight_decay=-0.1", "error: optim.weight_decay=-0.1 is not valid; use 0 or more such as 0.01"),
    "early-stopping patience": ("optim.early_stopping_patience=0",
                                "error: optim.early_stopping_patience=0 is not valid; use null (no early stopping) or a "
                                "positive int such as 3"),
    "gradient accumulation": ("trainer.accumulate_grad_batches=0",
                              "error: trainer.accumulate_grad_batches=0 is not valid; use a positive int such as 1"),
    "negative clipping norm": ("trainer.gradient_clip_val=-1",
                               "error: trainer.gradient_clip_val=-1.0 is not valid; use null or 0 (no clipping) or a "
                               "positive norm such as 1.0"),
    "head policy": ("intermediate.head_policy=bogus",
                    "error: intermediate.head_policy='bogus' is not a head policy; valid: projection, head"),
    "an intermediate-only setting": ("intermediate.optim.lr=0",
                                     "error: intermediate.optim.lr=0.0 is not valid; use a learning rate above 0 such as 5e-05"),
    "trainer argument": ("+trainer.max_epoch=1",
                         "error: trainer.max_epoch is not a Lightning Trainer argument that can be set (did you mean "
                         "trainer.max_epochs?); valid: "),
}


@pytest.mark.parametrize("case", list(LATE_CASES))
def test_bad_value_seen_after_composition_fails_before_data_and_model_load(run_itt, tmp_path, case):
    """Values the schema cannot check (``auto`` or an int; any Lightning argument) are checked before
    data and model load: one line, no ledger row, no run dir, nothing cached."""
    override, expected = LATE_CASES[case]
    root = tmp_path / "root"
    result = run_itt("+stage=intermediate", override, *OFFLINE, root=root, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith(expected), result.stderr
    assert "Traceback" not in result.stderr
    assert not (root / "results.jsonl").exists()
    assert not list(root.glob("runs/*")), sorted(p.name for p in root.rglob("*"))
    assert not (root / "cache").exists(), sorted(p.name for p in (root / "cache").rglob("*"))  # no data, no model


@pytest.mark.parametrize("local", [True, False])
def test_a_misspelt_dataset_kind_is_named_where_it_was_given_before_a_parent_trains(run_itt, tmp_path, local):
    """A dataset's or eval set's own ``kind``: a local eval set's misspelt kind failed when its data loaded, after the
    intermediate had trained, and both it and a stand-in's were reported as ``task.kind``."""
    data = tmp_path / "reviews_de.csv"
    data.write_text("body,label\ngut,positive\nschlecht,negative\n")
    root = tmp_path / "root"
    if local:
        override = f"+task.evals={{de:{{path:{data},lang:de,text_fields:[body],kind:sequence_clasification}}}}"
        expected = ("error: task.evals.de.kind='sequence_clasification' is not a task kind; valid: sequence_classification, "
                    "sequence_regression, token_classification, extractive_qa, multiple_choice, retrieval, or the dotted path")
    else:
        override = "task.datasets.intermediate.kind=sequence_clasification"
        expected = ("error: task.datasets.intermediate.kind='sequence_clasification' is not a task kind; valid: "
                    "sequence_classification, ")
    result = run_itt("+stage=target", override, *OFFLINE, root=root, timeout=120)
    assert result.returncode == 2, result.stderr[-3000:]
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith(expected), result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert not (root / "results.jsonl").exists()
    assert not list(root.glob("runs/*")) and not (root / "cache").exists()  # no parent trained, no data read


@pytest.mark.parametrize("content", ["", "body,label\n\n"])
def test_an_empty_eval_file_fails_at_the_run_id_before_a_parent_trains(run_itt, tmp_path, content):
    """An empty or header-only eval file was found when its data loaded: after the intermediate had trained."""
    data = tmp_path / "reviews_de.csv"
    data.write_text(content)
    root = tmp_path / "root"
    result = run_itt("+stage=target", f"+task.evals={{de:{{path:{data},lang:de,text_fields:[body]}}}}", *OFFLINE,
                     root=root, timeout=120)
    assert result.returncode == 2, result.stderr[-3000:]
    lines = error_lines(result.stderr)
    assert lines == [f"error: {data}: no rows (an empty file, or a header line only); give one row per line, "
                     f"after a header line"], result.stderr[-3000:]
    assert not list(root.glob("runs/*")) and not (root / "cache").exists()  # no parent trained, no data read


BUGS = {
    # A TypeError in itt's own code while Hydra resolves the run directory (${itt.run_id:}).
    "bug in a resolver": "import itt.hardware as h; h.cpu_has_bf16 = None",
    # An OmegaConf error raised while the run is going (a wrong key in itt's code, not in the command).
    "OmegaConf error inside a run": "import itt.train as t; t._cached = lambda cfg: cfg.no_such_key",
}


@pytest.mark.parametrize("case", list(BUGS))
def test_a_bug_keeps_its_traceback_even_behind_hydra_and_omegaconf(tmp_path, case):
    """Only the user's mistakes become one line: a bug in itt (even one Hydra or OmegaConf wraps) keeps its
    traceback and Python's exit code, so it is reported, not mistaken for a bad command."""
    import subprocess
    import sys

    from conftest import REPO, itt_env

    script = f"{BUGS[case]}; import sys; sys.argv[0] = 'itt.train'; from itt import cli; from itt.train import main; cli.run(main)"
    result = subprocess.run([sys.executable, "-c", script, "+stage=target", *OFFLINE, f"paths.root={tmp_path}"],
                            cwd=REPO, env=itt_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback (most recent call last)" in result.stderr and not error_lines(result.stderr), result.stderr[-2000:]


def test_limit_batches_keep_lightnings_int_and_float_meanings_and_bad_values_fail():
    """``trainer.limit_train_batches=1`` means one batch to Lightning; the schema typed it float, so it became 1.0,
    every batch, and a run meant as one batch an epoch trained whole epochs. An int stays an int now; a share must be
    in (0, 1]."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from itt.errors import ConfigError
    from itt.train import CONF_DIR
    from itt.trainer import check_trainer_args

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["+stage=intermediate", "trainer.limit_train_batches=1",
                                          "trainer.limit_val_batches=0.25"])
    assert type(cfg.trainer.limit_train_batches) is int and cfg.trainer.limit_val_batches == 0.25
    check_trainer_args(cfg.trainer)
    check_trainer_args(OmegaConf.create({"_target_": "pytorch_lightning.Trainer", "limit_train_batches": 0}))  # none
    for bad in (1.5, -2, "all", True):
        trainer = OmegaConf.create({"_target_": "pytorch_lightning.Trainer", "limit_train_batches": bad})
        with pytest.raises(ConfigError, match=r"^trainer\.limit_train_batches=.* is not valid; use null \(every batch\), "
                                              r"a number of batches such as 1 \(0: none\), or a share"):
            check_trainer_args(trainer)


def test_warmup_steps_are_rounded_up_as_the_hf_trainer_rounds_them():
    """``int(0.1 * 9)`` is no warmup at all: a target of under 10 steps took its first step at the full learning rate,
    where the HF Trainer warms up for ceil(0.1 * 9) = 1 step."""
    import torch
    from omegaconf import OmegaConf
    from transformers import TrainingArguments

    from itt.module import build_optimizer

    model = torch.nn.Linear(4, 2)
    for total in (6, 9, 12, 46, 165, 938, 70):
        optim = OmegaConf.create({"lr": 1e-3, "weight_decay": 0.01, "warmup_ratio": 0.1, "freeze_encoder": False})
        _, scheduler = build_optimizer(model, optim, total, fused=False)
        warmup = next(step for step in range(total + 1) if scheduler.lr_lambdas[0](step) >= 1.0)
        hf = TrainingArguments(output_dir="/nonexistent", warmup_steps=0.1).get_warmup_steps(total)
        assert warmup == hf, (total, warmup, hf)


def test_run_ids_follow_what_changed_in_the_limits_and_the_fp16_schedule():
    """limit_*_batches was typed float: 0 and 2 were hashed as 0.0 and 2.0, and mean what they meant, so their
    ids stay; only 1 (one batch now, every batch before) is another run. An fp16 run's LR schedule now skips the
    steps the grad scaler skips: another run, also without warmup."""
    from hydra import compose, initialize_config_dir

    from itt import identity
    from itt.train import CONF_DIR

    def payload(*overrides):
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            cfg = compose("train", overrides=["+stage=intermediate", *overrides])
        return identity.hparams_payload(identity.resolve(cfg))

    trainer = payload("trainer.limit_train_batches=0", "trainer.limit_val_batches=2")["trainer"]
    assert repr(trainer["limit_train_batches"]) == "0.0" and repr(trainer["limit_val_batches"]) == "2.0"
    assert repr(payload("trainer.limit_train_batches=1")["trainer"]["limit_train_batches"]) == "1"
    assert payload("trainer.precision=16-mixed", "optim.warmup_ratio=0")["optim"]["schedule"] == "steps_taken"
    assert "schedule" not in payload("trainer.precision=bf16-mixed")["optim"]
