"""Multi-task intermediates: mixtures over label spaces (a multi-head model), chains across kinds, their
identities, and the sequence study's presets (docs/multitask.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import OFFLINE, read_ledger, run_itt, run_sweep
from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser

from itt import identity, schema
from itt.errors import ConfigError
from itt.models import multihead
from itt.models.loading import load_model
from itt.stages import resolve
from itt.tasks import get_task

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")
schema.register()
identity.register_resolvers()

CLS, REG = get_task("sequence_classification"), get_task("sequence_regression")
NLI_LABELS = ["entailment", "neutral", "contradiction"]


def _compose(*overrides: str, hydra_config: bool = False):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=hydra_config)


def _jobs(*overrides: str) -> list[list[str]]:
    """The override lists of the jobs ``python -m itt.train -m <overrides>`` launches (its preset's sweep)."""
    params = _compose(*overrides, hydra_config=True).hydra.sweeper.params or {}
    swept = [f"{k}={v}" for k, v in params.items()]
    (batch,) = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(swept), None)
    return [[*overrides, *job] for job in batch]


def _run_ids(spec) -> list[str]:
    return [identity.run_id(s) for s in [*spec.chain(), spec]]


# -- label spaces, heads, hand-off (in process, a tiny BERT written here) ---------------------------

def test_members_of_one_label_space_share_a_head():
    members = [("mnli", CLS, NLI_LABELS), ("stsb", REG, []), ("snli", CLS, NLI_LABELS), ("sick", REG, [])]
    heads, head_of = multihead.group_by_label_space(members)
    assert [(h.name, h.roles, h.kind) for h in heads] == [("mnli", ["mnli", "snli"], "sequence_classification"),
                                                          ("stsb", ["stsb", "sick"], "sequence_regression")]
    assert head_of == [0, 1, 0, 1]


@pytest.fixture(name="tiny_bert")
def tiny_bert_fixture(tmp_path):
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=32)
    BertModel(config).save_pretrained(tmp_path / "pretrained")
    return str(tmp_path / "pretrained")


def _two_head_model(pretrained):
    heads, head_of = multihead.group_by_label_space([("mnli", CLS, NLI_LABELS), ("stsb", REG, [])])
    models = [load_model(pretrained, CLS, NLI_LABELS)[0], load_model(pretrained, REG, [])[0]]
    return multihead.MultiHeadModel(models, heads, head_of)


def test_a_multi_head_model_shares_its_encoder_and_dispatches_on_the_member(tiny_bert):
    model = _two_head_model(tiny_bert)
    assert model.models[0].bert is model.models[1].bert is model.base_model
    ids = torch.tensor([[1, 5, 7, 2], [1, 9, 2, 0]])
    mask = (ids > 0).long()
    nli = model(0, input_ids=ids, attention_mask=mask, labels=torch.tensor([0, 2]))
    sts = model(torch.tensor([1, 1]), input_ids=ids, attention_mask=mask, labels=torch.tensor([0.2, 0.9]))
    assert nli.logits.shape == (2, 3) and sts.logits.shape == (2, 1)
    # each head's own loss: cross-entropy for the classifier, MSE for the regressor
    assert torch.allclose(nli.loss, torch.nn.functional.cross_entropy(nli.logits, torch.tensor([0, 2])))
    assert torch.allclose(sts.loss, torch.nn.functional.mse_loss(sts.logits.squeeze(-1), torch.tensor([0.2, 0.9])))
    # one optimizer step on one head moves the encoder the other head reads
    before = model.models[1].bert.embeddings.word_embeddings.weight.detach().clone()
    nli.loss.backward()
    torch.optim.SGD(model.parameters(), lr=1.0).step()
    assert not torch.equal(before, model.models[1].bert.embeddings.word_embeddings.weight)


def test_saved_encoder_loads_with_automodel_and_each_head_goes_to_its_label_space(tiny_bert, tmp_path):
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoModelForSequenceClassification

    model = _two_head_model(tiny_bert)
    with torch.no_grad():  # make the heads and encoder recognisable
        model.models[0].classifier.weight.fill_(0.25)
        model.models[1].classifier.weight.fill_(-0.5)
        model.base_model.embeddings.word_embeddings.weight.fill_(0.125)
    out = tmp_path / "mixture"
    model.save_pretrained(out)
    assert [h["name"] for h in json.loads((out / multihead.MANIFEST).read_text())] == ["mnli", "stsb"]

    encoder, info = AutoModel.from_pretrained(out, output_loading_info=True)
    assert not info["missing_keys"]
    assert torch.all(encoder.embeddings.word_embeddings.weight == 0.125)
    stsb_head = load_file(str(out / "heads" / "stsb" / "head.safetensors"))
    assert set(stsb_head) == {"classifier.weight", "classifier.bias"}  # no encoder copy

    parent = (str(out), "sequence_classification", NLI_LABELS)
    regressor, head = load_model(tiny_bert, REG, [], parent=parent)  # a regression target: the stsb head
    assert head == "kept" and torch.all(regressor.classifier.weight == -0.5)
    assert torch.all(regressor.bert.embeddings.word_embeddings.weight == 0.125)
    classifier, head = load_model(tiny_bert, CLS, NLI_LABELS, parent=parent)  # an NLI target: the mnli head
    assert head == "kept" and torch.all(classifier.classifier.weight == 0.25)
    binary, head = load_model(tiny_bert, CLS, ["no", "yes"], parent=parent)  # another label space: reset
    assert head == "projection_reset" and torch.all(binary.bert.embeddings.word_embeddings.weight == 0.125)
    member = multihead.load_member(out, "stsb", AutoModelForSequenceClassification)
    assert member.config.num_labels == 1 and torch.all(member.classifier.weight == -0.5)

    # A head file whose weights the model does not name would leave the head random: an error naming the file.
    from safetensors.torch import save_file

    save_file({f"renamed_{k}": v for k, v in stsb_head.items()}, str(out / "heads" / "stsb" / "head.safetensors"))
    with pytest.raises(ValueError, match=r"heads/stsb/head.safetensors: head 'stsb' does not fit .*classifier.weight"):
        multihead.load_member(out, "stsb", AutoModelForSequenceClassification)


# -- identity: members, order, sampler, settings; chains across kinds --------------------------------

SEQ = ("task=pawsx_multitask", "+stage=target", "stage.target=target", "source=embedded")


def test_mixture_and_chain_ids_follow_members_order_sampler_and_kinds():
    def ids(*overrides):
        return _run_ids(resolve(_compose(*SEQ, *overrides)))

    mixed = ids("intermediate.steps=[[mnli,stsb]]")
    assert mixed == ids("intermediate.steps=[[mnli,stsb]]")  # the same command: the same runs (reruns cache)
    assert mixed[0] != ids("intermediate.steps=[[stsb,mnli]]")[0]  # member order
    assert mixed[0] != ids("intermediate.steps=[[mnli,stsb]]", "sampler=uniform")[0]  # sampler
    assert mixed[0] != ids("intermediate.steps=[[mnli,stsb]]", "sampler=temperature", "sampler.temperature=3")[0]
    assert mixed[0] != ids("intermediate.steps=[[mnli,stsb]]", "intermediate.select_on=stsb")[0]  # selection
    assert mixed[0] != ids("intermediate.steps=[[mnli,stsb]]", "task.datasets.stsb.kind=sequence_classification",
                           "task.datasets.stsb.labels=[a,b]")[0]  # a member's kind
    # members shuffled with seeds of their own (samplers.member_seed), not seed + i as before: another run
    assert identity.run_payload(resolve(_compose(*SEQ, "intermediate.steps=[[mnli,stsb]]")).parent)["member_seeds"] == "spread"
    assert "member_seeds" not in identity.run_payload(resolve(_compose(*SEQ, "intermediate.steps=[mnli]")).parent)
    a_b, b_a, a = ids("intermediate.steps=[mnli,stsb]"), ids("intermediate.steps=[stsb,mnli]"), ids("intermediate.steps=[mnli]")
    assert a_b[0] == a[0] and a_b[1] != b_a[0] and a_b[1] != b_a[1]  # A is a shared prefix; B after A is not B after nothing
    assert len({*a_b, *b_a, *mixed}) == 8


def test_select_on_names_a_mixture_member_or_fails_in_one_line():
    spec = resolve(_compose(*SEQ, "intermediate.steps=[mnli,[mnli,stsb]]", "intermediate.select_on=stsb"))
    assert [s.select_on for s in spec.chain()] == [None, "stsb"]
    with pytest.raises(ConfigError, match=r"intermediate.select_on='target' is not a member of a mixture step; valid: mnli, stsb"):
        resolve(_compose(*SEQ, "intermediate.steps=[[mnli,stsb]]", "intermediate.select_on=target"))


def test_the_zero_shot_eval_sets_are_held_out_with_their_english_originals(tmp_path):
    """PAWS-X's de/zh (fr/es in the demo) are translations of the English target's rows: they are split by the
    shared id with it, so no eval item's English original is in the target's training rows (under split=paper,
    unaligned, most were: the pooled English dev/test went 70 % into training)."""
    from itt.build import prepare_data  # noqa: PLC0415
    from itt.models.loading import load_tokenizer, pretrained_source  # noqa: PLC0415

    cfg = _compose("experiment=sequence_study_demo", "+stage=target", "stage.target=target", "stage.itt=false",
                   "stage.evals=[de,fr,es]", f"paths.root={tmp_path}")  # split=paper: stand-ins have no official splits
    assert {"target", "de", "fr", "es"} <= identity.aligned_roles(cfg)
    assert {"target", "de", "zh"} <= identity.aligned_roles(_compose(*SEQ))
    tokenizer = load_tokenizer(pretrained_source(cfg.model, "embedded", tmp_path / "models"))
    (target,), evals = prepare_data(resolve(cfg), tokenizer)
    held_out = set(target.rows["validation"]["id"]) | set(target.rows["test"]["id"])
    for e in evals:
        ids = {i for s in ("validation", "test") for i in e.rows[s]["id"]}
        assert ids and ids <= held_out, (e.name, len(ids - held_out))


UPOS = "[ADJ,ADP,ADV,AUX,CCONJ,DET,INTJ,NOUN,NUM,PART,PRON,PROPN,PUNCT,SCONJ,SYM,VERB,X]"


def test_a_mixture_with_tags_outside_a_tagging_task_logs_its_mean_of_primary_metrics(tmp_path):
    """A POS set (tags that are not BIO) in a sentiment task has no primary metric of the task: its kind's
    evaluator settles it (acc, not span f1) once the tags are known. The mixture's val/acc (what selection reads)
    is the mean of the members' metrics as settled (before: of the f1 the POS evaluator never computes, a KeyError
    at the first validation)."""
    import pytorch_lightning as pl  # noqa: PLC0415

    from itt.build import build_run  # noqa: PLC0415

    pos = (f"+task.datasets={{pos:{{path:universal-dependencies/universal_dependencies,subset:en_ewt,"
           f"kind:token_classification,generator:pos,text_fields:[tokens],label_field:upos,labels:{UPOS},lang:en,"
           f"embedded_rows:120}}}}")
    cfg = _compose("model=bert", "task=sentiment", "+stage=intermediate", "source=embedded", f"paths.root={tmp_path}",
                   "intermediate.steps=[[intermediate,pos]]", "task.datasets.intermediate.embedded_rows=120", pos)
    built = build_run(resolve(cfg))
    assert built.monitor == "val/acc"
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         default_root_dir=tmp_path)
    metrics = {k: v for loader in trainer.validate(built.module, datamodule=built.data, verbose=False) for k, v in loader.items()}
    assert metrics["val/acc"] == pytest.approx((metrics["val/intermediate/acc"] + metrics["val/pos/acc"]) / 2)


@pytest.mark.parametrize("preset", ["sequence_study", "sequence_study_demo"])
def test_the_sequence_study_names_six_targets_and_five_intermediate_runs(preset):
    jobs = _jobs(f"experiment={preset}", "+stage=target")
    assert len(jobs) == 10
    specs = [resolve(_compose(*job)) for job in jobs]
    targets = {identity.run_id(s): s.variant for s in specs}
    assert sorted(targets.values()) == ["mnli", "mnli+stsb", "mnli>stsb", "none", "stsb", "stsb>mnli"]
    runs = {run for s in specs for run in _run_ids(s)}
    assert len(runs) == 11  # 6 targets + mnli, stsb, stsb after mnli, mnli after stsb, the mixture


# -- end to end: python -m itt.train -------------------------------------------------------------------

MIXTURE = ("model=bert", *SEQ[:3], *OFFLINE, "trainer.max_epochs=1", "intermediate.steps=[[mnli,stsb]]",
           "task.datasets.mnli.embedded_rows=200", "task.datasets.stsb.embedded_rows=200",
           "task.datasets.target.embedded_rows=120", "stage.evals=[de]", "task.evals.de.embedded_rows=60")


@pytest.mark.slow
def test_a_mixture_of_two_kinds_trains_saves_and_feeds_a_target(tmp_path):
    from transformers import AutoModel

    first = run_itt(*MIXTURE, root=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    rows = read_ledger(tmp_path)
    (mixture,) = [r for r in rows if r["stage"] == "intermediate"]
    (target,) = [r for r in rows if r["stage"] == "target"]
    assert [(d["role"], d["key"]) for d in mixture["datasets"]] == [("mnli", "embedded:nli/en/general"),
                                                                    ("stsb", "embedded:similarity/en/general")]
    assert [c["kinds"] for c in target["chain"]] == [["sequence_classification", "sequence_regression"]]
    m = mixture["metrics"]
    assert mixture["selected_on"] == "val/primary_mean" and mixture["primary_metric"] == "primary_mean"
    assert m["val/primary_mean"] == pytest.approx((m["val/mnli/acc"] + m["val/stsb/spearman"]) / 2, abs=1e-6)
    assert mixture["sampler"] == {"_target_": "itt.data.samplers.Proportional"}
    folder = Path(mixture["checkpoint"])
    _, info = AutoModel.from_pretrained(folder, output_loading_info=True)
    assert not info["missing_keys"]
    assert [h["kind"] for h in json.loads((folder / multihead.MANIFEST).read_text())] == \
        ["sequence_classification", "sequence_regression"]
    assert target["parent_run_id"] == mixture["run_id"] and target["itt_variant"] == "mnli+stsb"
    assert target["head"] == "projection_reset"  # PAWS labels are neither head's label space
    assert {"test/acc", "test/de/acc"} <= set(target["metrics"])

    again = run_itt(*MIXTURE, root=tmp_path)  # the same command: nothing trains
    assert again.returncode == 0, again.stderr[-3000:]
    assert [r["status"] for r in read_ledger(tmp_path)][2:] == ["cached"]


@pytest.mark.slow
def test_the_sequence_study_demo_runs_and_the_report_shows_robustness_against_single_task(tmp_path):
    result, _ = run_sweep("experiment=sequence_study_demo", "+stage=target", root=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_ledger(tmp_path)
    assert sum(r["status"] == "ok" for r in rows) == 11 and sum(r["status"] == "cached" for r in rows) == 4
    # chains across kinds: each hand-off to another label space re-initialises the projection
    later = {r["dataset"]["role"]: r for r in rows if r["stage"] == "intermediate" and r["parent_run_id"]}
    assert later["stsb"]["kind"] == "sequence_regression" and later["stsb"]["head"] == "projection_reset"
    assert later["mnli"]["kind"] == "sequence_classification" and later["mnli"]["head"] == "projection_reset"
    report = run_itt(root=tmp_path, module="itt.report")
    assert report.returncode == 0, report.stderr[-3000:]
    import pandas as pd

    robust = pd.read_csv(tmp_path / "report" / "robustness.csv")
    stats = robust.groupby("itt_variant")["eval"].apply(set).to_dict()
    assert set(stats) == {"mnli", "stsb", "mnli>stsb", "stsb>mnli", "mnli+stsb"}
    assert all(s == {"mean over languages", "worst language", "std across languages"} for s in stats.values())
    singles = robust.drop_duplicates("itt_variant").set_index("itt_variant")["single_variant"]
    assert singles["mnli>stsb"] == "stsb" and singles["stsb>mnli"] == "mnli"  # Δ vs single-task ITT
    assert "## Robustness across languages" in (tmp_path / "report" / "comparison.md").read_text()
