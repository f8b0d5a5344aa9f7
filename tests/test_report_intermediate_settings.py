"""ITT targets whose intermediates were trained with other settings (``intermediate.optim.lr=1e-5`` vs
``3e-5``) share the target's ``hparams_id``: the report keeps them in cells of their own, each against the
same no-ITT runs. Every expected number is computed here from the scores written into the ledger."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from report_ledger import dataset, eval_set, intermediate_row, target_row, write_ledger

from itt import identity, ledger, pipeline, rows
from itt.report import LedgerWarning, build_report, comparison_table, load_ledger, render_markdown, write_outputs
from itt.train import CONF_DIR

LO, HI = "hpint-lo", "hpint-hi"  # the intermediate runs' own hparams ids (two learning rates)


def parent_row(hp: str) -> dict:
    return intermediate_row(f"mnli-{hp}", dataset("intermediate", "mnli"), hparams_id=hp)


HEAD_POLICY = target_row("probe")["head_policy"]
SETTING = {hp: identity.chain_hparams_id(parent_row(hp), HEAD_POLICY) for hp in (LO, HI)}
# model -> {side: {seed: own test score}}; xlmr: both settings at the same seeds, mbert: at other seeds
SCORES = {
    "xlmr": {"none": {0: 0.70, 1: 0.72, 2: 0.71, 3: 0.69},
             LO: {0: 0.75, 1: 0.78, 2: 0.76}, HI: {0: 0.60, 1: 0.61, 2: 0.65}},
    "mbert": {"none": {0: 0.50, 1: 0.52, 2: 0.51, 3: 0.55},
              LO: {0: 0.58, 1: 0.57}, HI: {2: 0.40, 3: 0.44}},
}
EVAL_SHIFT = {"de": -0.10, "fr": -0.15}  # each zero-shot language's score: the own score plus this
DE = "de"  # xlmr, xnli: also ITT on German data (at LO), so the view by intermediate language has a table


def study_rows(*, recorded: bool, settings=(LO, HI)) -> list[dict]:
    """No-ITT and ITT targets of an XNLI-like task (eval sets de, fr) and, for xlmr, a NER-like task (a
    second target family); ``recorded``: rows carry ``intermediate_hparams_id`` (else rows written before
    the key, rebuilt by the report from the intermediate runs' rows)."""
    out = []
    parents = {hp: parent_row(hp) for hp in settings}
    parents[DE] = intermediate_row("mnli-de", dataset("intermediate_de", "mnli_de", lang="de"), hparams_id=LO)
    if not recorded:
        out += parents.values()
    for model, sides in SCORES.items():
        for side, by_seed in sides.items():
            if side != "none" and side not in settings:
                continue
            if side == LO and model == "xlmr":
                by_seed = {**{(DE, s): v - 0.02 for s, v in by_seed.items()}, **by_seed}
            for seed, value in by_seed.items():
                at = DE if isinstance(seed, tuple) else side
                seed = seed[1] if isinstance(seed, tuple) else seed
                tasks = [("xnli", "sequence_classification", "acc")]
                if model == "xlmr" and at != DE:
                    tasks.append(("ner", "token_classification", "f1"))
                for task, kind, metric in tasks:
                    evals = {lang: eval_set(lang, value + shift, path=task, metric=metric)
                             for lang, shift in EVAL_SHIFT.items()}
                    row = target_row(f"{model}-{task}-{at}-s{seed}", model=model, task=task, kind=kind,
                                     metric=metric, seed=seed, value=value, data=dataset("en", task),
                                     parent=parents.get(at), evals=evals)
                    if recorded and at in parents:
                        row["intermediate_hparams_id"] = identity.chain_hparams_id(parents[at], row["head_policy"])
                    out.append(row)
    return out


def own_cells(table, model, task="xnli"):
    sel = table[(table["model"] == model) & (table["task"] == task) & table["own"].astype(bool)
                & (table["itt_variant"] == "intermediate")]
    return sel.set_index("intermediate_hparams")


def build(tmp_path, **kw):
    write_ledger(tmp_path, study_rows(**kw))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = build_report(load_ledger(tmp_path / "results.jsonl"), root=tmp_path)
    repeated = [str(w.message) for w in caught if issubclass(w.category, LedgerWarning) and "repeat" in str(w.message)]
    assert not repeated, repeated  # one seed from two settings is two values, never a duplicate
    return report


@pytest.mark.parametrize("recorded", [True, False], ids=["recorded", "rebuilt-from-parents"])
def test_two_intermediate_settings_are_two_cells_each_against_the_same_no_itt_runs(tmp_path, recorded):
    report = build(tmp_path, recorded=recorded)
    for model, sides in SCORES.items():
        cells = own_cells(report.table, model)
        assert sorted(cells.index) == sorted(SETTING.values()), cells  # the rebuilt id is the recorded one
        no = sides["none"]
        for hp in (LO, HI):
            c = cells.loc[SETTING[hp]]
            assert c["itt_variant"] == "intermediate"
            assert c["itt_mean"] == pytest.approx(np.mean(list(sides[hp].values())))
            assert c["itt_n"] == len(sides[hp]) and c["noitt_n"] == len(no)
            assert c["noitt_mean"] == pytest.approx(np.mean(list(no.values())))
            pairs = sorted(sides[hp])
            assert c["paired_seeds"] == ",".join(map(str, pairs))
            assert c["delta"] == pytest.approx(np.mean([sides[hp][s] - no[s] for s in pairs]))
    # zero-shot languages: per language and their average, one row per setting
    langs = report.languages[(report.languages["model"] == "xlmr") & (report.languages["task"] == "xnli")
                             & (report.languages["itt_variant"] == "intermediate")]
    avg = langs[langs["view"] == "average"].set_index("intermediate_hparams")
    de = langs[(langs["view"] == "language") & (langs["eval"] == "de")].set_index("intermediate_hparams")
    zero_shot = np.mean(list(EVAL_SHIFT.values()))
    for hp in (LO, HI):
        scores = list(SCORES["xlmr"][hp].values())
        assert avg.loc[SETTING[hp], "itt_mean"] == pytest.approx(np.mean(scores) + zero_shot)
        assert de.loc[SETTING[hp], "itt_mean"] == pytest.approx(np.mean(scores) + EVAL_SHIFT["de"])
        assert de.loc[SETTING[hp], "p_holm"] == own_or_eval(report.table, "xlmr", "de", SETTING[hp])["p_holm"]
    rob = report.robustness[(report.robustness["model"] == "xlmr") & (report.robustness["task"] == "xnli")
                            & (report.robustness["eval"] == "mean over languages")
                            & (report.robustness["itt_variant"] == "intermediate")]
    assert sorted(rob["intermediate_hparams"]) == sorted(SETTING.values())
    fam = report.families[(report.families["model"] == "xlmr") & (report.families["view"] == "family")
                          & (report.families["family"] == "classification")
                          & (report.families["itt_variant"] == "intermediate")]
    assert sorted(fam.loc[fam["scope"] == "training language", "intermediate_hparams"]) == sorted(SETTING.values())
    piv = report.itt_languages[(report.itt_languages["task"] == "xnli") & (report.itt_languages["eval"] == "de")]
    assert sorted(piv["column"]) == sorted(["de", f"en · int-hp={SETTING[LO]}", f"en · int-hp={SETTING[HI]}"])
    assert piv.set_index("column").loc["de", "delta"] == pytest.approx(
        np.mean([SCORES["xlmr"][LO][s] - 0.02 - SCORES["xlmr"]["none"][s] for s in SCORES["xlmr"][LO]]))
    md = report.markdown()
    for hp in (LO, HI):
        assert f"| xlmr | intermediate · int-hp={SETTING[hp]} |" in md
    write_outputs(report, tmp_path / "report")  # the plots and CSVs take the two settings too


def own_or_eval(table, model, eval_name, setting):
    sel = table[(table["model"] == model) & (table["task"] == "xnli") & (table["eval"] == eval_name)
                & (table["itt_variant"] == "intermediate") & (table["intermediate_hparams"] == setting)]
    assert len(sel) == 1, sel
    return sel.iloc[0]


def test_one_intermediate_setting_reads_as_before(tmp_path):
    report = build(tmp_path, recorded=False, settings=(LO,))
    cells = own_cells(report.table, "xlmr")
    assert list(cells.index) == [SETTING[LO]]
    assert "int-hp" not in report.markdown()
    assert "| xlmr | intermediate |" in render_markdown(report.table)


def test_an_old_itt_row_whose_intermediate_is_not_in_the_ledger_has_unknown_settings(tmp_path):
    ledger_rows = study_rows(recorded=False, settings=(LO,))
    lost = intermediate_row("mnli-gone", dataset("intermediate", "mnli"), hparams_id=HI)
    for seed in (0, 1):  # its targets, written before the key; their parent's row is not in the ledger
        ledger_rows.append(target_row(f"xlmr-xnli-gone-s{seed}", seed=seed, value=0.5 + seed / 10,
                                      data=dataset("en", "xnli"), parent=lost))
    write_ledger(tmp_path, ledger_rows)
    table = comparison_table(load_ledger(tmp_path / "results.jsonl"))
    cells = own_cells(table, "xlmr")
    assert sorted(cells.index) == sorted([SETTING[LO], "n/a"])
    assert cells.loc["n/a", "itt_mean"] == pytest.approx(0.55)
    assert cells.loc["n/a", "noitt_mean"] == cells.loc[SETTING[LO], "noitt_mean"]


# -- the pipeline writes the key --------------------------------------------------------------------

SMALL = ["source=embedded", "logger=csv", "trainer.max_epochs=1", "model=bert", "task=sentiment",
         "task.datasets.intermediate.embedded_rows=200", "task.datasets.domain.embedded_rows=60",
         "task.datasets.crosslingual.embedded_rows=60"]


def make(root, *overrides):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=[*SMALL, f"paths.root={root}", *overrides])


def test_the_intermediate_settings_id_changes_with_how_the_chain_was_made():
    """Whatever makes an intermediate step train differently, or a run take its weights differently, is
    another id: settings, data, checkpoint metric, a mixture's sampler, head policies, earlier steps."""
    base = parent_row(LO)
    first = identity.chain_hparams_id(base, "projection")
    assert first == identity.chain_hparams_id(dict(base), "projection")
    mixture = {**base, "datasets": [dataset("a", "a"), dataset("b", "b")]}
    changed = {
        "hparams": ({**base, "hparams_id": HI}, "projection"),
        "data": ({**base, "dataset": dataset("intermediate", "other"), "datasets": [dataset("intermediate", "other")]},
                 "projection"),
        "checkpoint metric": ({**base, "selected_on": "val/f1_macro"}, "projection"),
        "head policy of this run": (base, "head"),
        "an earlier step": ({**base, "parent_run_id": "step0", "intermediate_hparams_id": "abc"}, "projection"),
        "mixture": (mixture, "projection"),
    }
    ids = {name: identity.chain_hparams_id(row, policy) for name, (row, policy) in changed.items()}
    assert first not in ids.values() and len(set(ids.values())) == len(ids), ids
    assert identity.chain_hparams_id({**mixture, "sampler": {"name": "uniform"}}, "projection") != ids["mixture"]
    # a step's own head policy counts only when it took weights from an earlier step
    assert identity.chain_hparams_id({**base, "head_policy": "head"}, "projection") == first
    later = {**base, "parent_run_id": "step0", "intermediate_hparams_id": "abc"}
    assert identity.chain_hparams_id({**later, "head_policy": "head"}, "projection") != ids["an earlier step"]
    # the parent's row cannot say: None (the report rebuilds it from the ledger, or calls it unknown)
    assert identity.chain_hparams_id({**base, "parent_run_id": "step0"}, "projection") is None
    assert identity.chain_hparams_id({**base, "dataset": dataset("i", "x", key=None), "datasets": []}, "p") is None


def test_a_rebuilt_id_of_a_two_step_chain_is_the_recorded_one(tmp_path):
    step0 = intermediate_row("step0", dataset("intermediate", "mnli"), hparams_id=LO)
    step1 = intermediate_row("step1", dataset("crosslingual", "xnli_de", lang="de"), parent=step0, hparams_id=HI)
    step1["intermediate_hparams_id"] = identity.chain_hparams_id(step0, step1["head_policy"])
    target = target_row("t-s0", parent=step1, data=dataset("en", "xnli"))
    recorded = identity.chain_hparams_id(step1, target["head_policy"])
    bare = [{**r, "intermediate_hparams_id": None} for r in (step0, step1, target)]
    write_ledger(tmp_path, bare)
    from itt.report.chain import intermediate_hparams  # noqa: PLC0415
    rebuilt = intermediate_hparams(load_ledger(tmp_path / "results.jsonl"))
    assert rebuilt["t-s0"] == recorded and rebuilt["step1"] == step1["intermediate_hparams_id"]


@pytest.mark.slow
def test_targets_after_two_intermediate_learning_rates_are_two_cells(tmp_path):
    done = [pipeline.run(make(tmp_path, "+stage=target", f"intermediate.optim.lr={lr}")) for lr in ("1e-5", "3e-5")]
    done.append(pipeline.run(make(tmp_path, "+stage=target", "stage.itt=false")))
    assert [r["status"] for r in done] == ["ok"] * 3
    parents = {r["run_id"]: r for r in ledger.read(tmp_path) if r["stage"] == "intermediate"}
    assert len(parents) == 2
    for r in done[:2]:
        assert r["intermediate_hparams_id"] == identity.chain_hparams_id(parents[r["parent_run_id"]], r["head_policy"])
    assert done[2]["intermediate_hparams_id"] is None
    table = comparison_table(load_ledger(tmp_path / "results.jsonl"))
    own = table[table["own"].astype(bool)]
    assert sorted(own["intermediate_hparams"]) == sorted(r["intermediate_hparams_id"] for r in done[:2])
    assert (own["n_pairs"] == 1).all() and own["noitt_mean"].nunique() == 1


def test_runs_whose_checkpoint_was_picked_on_another_metric_are_other_cells(tmp_path):
    """stage.select_on=de (the checkpoint picked on German validation) is in the run id, not in hparams_id:
    those runs are not averaged with, or paired against, runs picked on the target's own validation."""
    parent = parent_row(LO)
    made = []
    for seed in (0, 1):
        for picked, offset in (("val/acc", 0.0), ("val/de/acc", 0.2)):
            for itt in (False, True):
                row = target_row(f"t-{picked}-{itt}-s{seed}", seed=seed, value=0.5 + offset + 0.1 * itt + 0.01 * seed,
                                 parent=parent if itt else None)
                row["selected_on"] = picked
                made.append(row)
    write_ledger(tmp_path, [parent, *made])
    table = comparison_table(load_ledger(tmp_path / "results.jsonl"))
    own = table[table["own"].astype(bool)].set_index("selected_on")
    assert sorted(own.index) == ["val/acc", "val/de/acc"]
    assert own.loc["val/acc", "noitt_mean"] == pytest.approx(0.505)
    assert own.loc["val/de/acc", "noitt_mean"] == pytest.approx(0.705)
    assert list(own["delta"]) == pytest.approx([0.1, 0.1]) and (own["n_pairs"] == 2).all()
