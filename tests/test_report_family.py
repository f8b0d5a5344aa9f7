"""The report's "Δ by target family" view (itt/report/target_family.py) on a synthetic ledger of the NLI-vs-QA
shape: XNLI, PAWS-X, QA and NER targets, each without ITT, after `mnli` and after `squad`, seeds 0-2; every
expected number is computed here from the scores written into the ledger."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from report_ledger import dataset, eval_set, intermediate_row, stamp, target_row, write_ledger
from scipy import stats as sps

from itt.report import LedgerWarning, build_report, load_ledger, write_outputs
from itt.report.target_family import FAMILY_MEAN, benchmark_of

SEEDS = (0, 1, 2)
# Δ of every score of a family after each intermediate (plus 0.005 x seed, so the differences vary)
GAIN = {("mnli", "classification"): 0.04, ("squad", "classification"): 0.01,
        ("mnli", "question answering"): -0.01, ("squad", "question answering"): 0.06,
        ("mnli", "structured prediction"): 0.0, ("squad", "structured prediction"): 0.02,
        ("mnli", "retrieval"): 0.03, ("squad", "retrieval"): 0.05}
# task -> (kind, metric, own English score, {eval: (lang, score, eval kind or None)})
TARGETS = {
    "xnli": ("sequence_classification", "acc", 0.80, {"de": ("de", 0.70, None), "fr": ("fr", 0.60, None),
                                                       "tatoeba_de": ("de", 0.40, "retrieval"),
                                                       "tatoeba_fr": ("fr", 0.30, "retrieval")}),
    "pawsx": ("sequence_classification", "acc", 0.90, {"de": ("de", 0.80, None), "tatoeba_de": ("de", 0.50, "retrieval")}),
    "qa": ("extractive_qa", "f1", 0.85, {"xquad_de": ("de", 0.65, None), "xquad_en": ("en", 0.83, None),
                                         "mlqa_de": ("de", 0.55, None)}),
    "ner": ("token_classification", "f1", 0.82, {"de": ("de", 0.72, None), "fr": ("fr", 0.70, None)}),
}
FAMILY = {"sequence_classification": "classification", "extractive_qa": "question answering",
          "token_classification": "structured prediction", "retrieval": "retrieval"}
MISSING = ("qa", "squad", 2, "mlqa_de")  # this run never scored this set


def score(base: float, variant: str, family: str, seed: int) -> float:
    gain = 0.0 if variant == "none" else GAIN[(variant, family)] + 0.005 * seed
    return base + 0.001 * seed + gain


def study_rows(tasks=TARGETS) -> list[dict]:
    rows = []
    for seed in SEEDS:
        parents = {"mnli": intermediate_row(f"mnli-{seed}", dataset("mnli", "nyu-mll/multi_nli"), seed=seed),
                   "squad": intermediate_row(f"squad-{seed}", dataset("squad", "rajpurkar/squad"), seed=seed,
                                             kind="extractive_qa", metric="f1")}
        rows += parents.values()
        for task, (kind, metric, own, evals) in tasks.items():
            for variant in ("none", "mnli", "squad"):
                scored = {}
                for name, (lang, base, eval_kind) in evals.items():
                    if (task, variant, seed, name) == MISSING:
                        continue
                    family = FAMILY[eval_kind or kind]
                    entry = eval_set(lang, score(base, variant, family, seed), path=task, metric=metric)
                    scored[name] = {**entry, "kind": eval_kind} if eval_kind else entry
                rows.append(target_row(f"{task}-{variant}-{seed}", task=task, kind=kind, metric=metric, seed=seed,
                                       value=score(own, variant, FAMILY[kind], seed), data=dataset("en", task),
                                       parent=parents.get(variant), evals=scored))
    return rows


@pytest.fixture(name="report")
def report_fixture(tmp_path):
    write_ledger(tmp_path, study_rows())
    return build_report(load_ledger(tmp_path / "results.jsonl"), root=tmp_path)


def test_benchmarks_are_the_task_or_the_eval_name_without_its_language():
    assert benchmark_of("xnli", "en", "en", True) == "xnli"  # the own test set
    assert benchmark_of("xnli", "de", "de", False) == "xnli"  # a bare language code
    assert benchmark_of("qa", "xquad_de", "de", False) == "xquad"
    assert benchmark_of("xnli", "tatoeba_zh", "zh", False) == "tatoeba"
    assert benchmark_of("qa", "squad_dev", "en", False) == "squad_dev"  # no language suffix: the name


def _expected(cells: dict[str, list[float]], variant: str) -> dict:
    """Δ, t-interval and paired t-test of ITT vs no-ITT from per-seed values {side: [seed 0, 1, 2]}."""
    yes, no = np.array(cells[variant]), np.array(cells["none"])
    d = yes - no
    lo, hi = sps.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=sps.sem(d))
    return {"delta": d.mean(), "ci_low": lo, "ci_high": hi, "p_value": sps.ttest_rel(yes, no).pvalue,
            "noitt_mean": no.mean(), "itt_mean": yes.mean()}


def _row(table: pd.DataFrame, scope: str, family: str, benchmark: str, variant: str) -> pd.Series:
    hit = table[(table["scope"] == scope) & (table["family"] == family) & (table["benchmark"] == benchmark)
                & (table["itt_variant"] == variant)]
    assert len(hit) == 1, (scope, family, benchmark, variant, hit)
    return hit.iloc[0]


def test_zero_shot_benchmarks_and_families(report):
    table = report.families
    assert set(table["model"]) == {"xlmr"} and set(table["itt_variant"]) == {"mnli", "squad"}
    assert set(table["family"]) == {"classification", "question answering", "structured prediction", "retrieval"}
    x = TARGETS["xnli"][3]
    # XNLI zero-shot: the mean of de and fr, each seed
    xnli = {v: [np.mean([score(x[lang][1], v, "classification", s) for lang in ("de", "fr")]) for s in SEEDS]
            for v in ("none", "mnli", "squad")}
    for variant in ("mnli", "squad"):
        row = _row(table, "zero-shot", "classification", "xnli", variant)
        assert row[["delta", "ci_low", "ci_high", "p_value", "noitt_mean"]].to_dict() == pytest.approx(
            {k: v for k, v in _expected(xnli, variant).items() if k != "itt_mean"})
        assert row["n_pairs"] == 3 and row["metrics"] == "test/acc"
    # Tatoeba is one benchmark over the XNLI (de, fr) and PAWS-X (de) encoders: per seed, the mean of the two runs
    p = TARGETS["pawsx"][3]
    tatoeba = {v: [np.mean([np.mean([score(x[n][1], v, "retrieval", s) for n in ("tatoeba_de", "tatoeba_fr")]),
                            score(p["tatoeba_de"][1], v, "retrieval", s)]) for s in SEEDS] for v in ("none", "mnli", "squad")}
    ret = _row(table, "zero-shot", "retrieval", "tatoeba", "squad")
    assert ret["itt_mean"] == pytest.approx(np.mean(tatoeba["squad"]))
    assert ret["delta"] == pytest.approx(0.05 + 0.005) and ret["p_value"] == pytest.approx(_expected(tatoeba, "squad")["p_value"])
    assert _row(table, "zero-shot", "retrieval", FAMILY_MEAN, "squad")["delta"] == pytest.approx(ret["delta"])
    # classification's family mean: XNLI and PAWS-X (the same gain) and no retrieval set mixed in
    fam = _row(table, "zero-shot", "classification", FAMILY_MEAN, "mnli")
    assert fam["benchmarks"] == "pawsx,xnli" and fam["delta"] == pytest.approx(0.04 + 0.005)
    noitt = np.mean([np.mean([xnli["none"][s], score(p["de"][1], "none", "classification", s)]) for s in SEEDS])
    assert fam["noitt_mean"] == pytest.approx(noitt)


def test_a_family_compares_the_benchmarks_both_sides_scored(report):
    """squad's seed-2 QA run lacks MLQA: at seed 2 the family mean is XQuAD's on both sides, not XQuAD's on
    one and XQuAD's and MLQA's on the other (which would add 0.05 to that seed's difference)."""
    table = report.families
    q = TARGETS["qa"][3]
    cells = {v: [np.mean([score(q[n][1], v, "question answering", s) for n in ("xquad_de", "mlqa_de")
                          if s != 2 or v == "mnli" or n == "xquad_de"]) for s in SEEDS] for v in ("none", "squad")}
    row = _row(table, "zero-shot", "question answering", FAMILY_MEAN, "squad")
    assert row["delta"] == pytest.approx(_expected(cells, "squad")["delta"]) == pytest.approx(0.06 + 0.005)
    assert row["ci_low"] == pytest.approx(_expected(cells, "squad")["ci_low"])
    assert _row(table, "zero-shot", "question answering", "mlqa", "squad")["n_pairs"] == 2
    assert _row(table, "zero-shot", "question answering", "xquad", "squad")["n_pairs"] == 3


def test_training_language_scope_has_the_own_sets_and_english_eval_sets(report):
    table = report.families
    qa = table[(table["scope"] == "training language") & (table["family"] == "question answering")]
    assert set(qa["benchmark"]) == {"qa", "xquad", FAMILY_MEAN}  # SQuAD dev (own) and xquad_en; MLQA has no en here
    own = _row(table, "training language", "structured prediction", "ner", "squad")
    assert own["delta"] == pytest.approx(0.02 + 0.005) and own["metrics"] == "test/f1"
    assert _row(table, "training language", "question answering", "xquad", "mnli")["delta"] == pytest.approx(-0.01 + 0.005)


def test_family_p_values_join_the_report_holm_family_and_are_written(report, tmp_path):
    table = report.families
    p = table["p_value"].dropna()
    assert len(p) > 0 and report.n_tests >= len(p) + report.table["p_value"].notna().sum()
    smallest = table.loc[table["p_value"].idxmin()]
    assert smallest["p_holm"] == pytest.approx(min(1.0, report.n_tests * smallest["p_value"]))
    assert (table["p_holm"].dropna() >= table["p_value"].dropna() - 1e-12).all()
    text = report.markdown()
    assert "## Δ by target family" in text and "### xlmr · zero-shot" in text and "| **question answering** (test/f1) |" in text
    written = write_outputs(report, tmp_path / "out")
    csv = pd.read_csv(written["families"])
    assert len(csv) == len(table) and {"family", "benchmark", "scope", "delta", "ci_low", "p_holm"} <= set(csv.columns)


def test_a_single_family_ledger_has_no_family_view(tmp_path):
    write_ledger(tmp_path, study_rows({"xnli": TARGETS["xnli"]}))
    report = build_report(load_ledger(tmp_path / "results.jsonl"), root=tmp_path)
    assert report.families.empty and "Δ by target family" not in report.markdown()
    assert "families" not in write_outputs(report, tmp_path / "out")



def test_a_benchmark_compares_the_languages_both_sides_scored(tmp_path):
    """mnli's seed-0 XNLI run was not scored on fr (0.60, the weaker language). Its XNLI value was de's alone
    against no-ITT's mean of de and fr, which added 0.05 to that seed's difference: XNLI Δ +0.062 instead of
    +0.045, and the classification family mean's +0.053 instead of +0.045."""
    rows = study_rows()
    run = next(r for r in rows if r["run_id"] == "xnli-mnli-0")
    del run["evals"]["fr"], run["metrics"]["val/fr/acc"], run["metrics"]["test/fr/acc"]
    write_ledger(tmp_path, rows)
    table = build_report(load_ledger(tmp_path / "results.jsonl"), root=tmp_path).families
    xnli = _row(table, "zero-shot", "classification", "xnli", "mnli")
    assert xnli["delta"] == pytest.approx(0.04 + 0.005) and xnli["n_pairs"] == 3
    assert _row(table, "zero-shot", "classification", FAMILY_MEAN, "mnli")["delta"] == pytest.approx(0.04 + 0.005)
    # the seeds where both sides scored both languages keep both: no-ITT's mean is over de and fr there
    x = TARGETS["xnli"][3]
    assert xnli["noitt_mean"] == pytest.approx(np.mean(
        [score(x["de"][1], "none", "classification", 0)]
        + [np.mean([score(x[lang][1], "none", "classification", s) for lang in ("de", "fr")]) for s in (1, 2)]))


def test_a_family_mixes_tasks_whose_checkpoints_are_picked_on_different_metrics(tmp_path):
    """POS is selected on val/acc and NER on val/f1 (each task's primary metric): structured prediction is one
    family of both, as XTREME's group averages (and docs/nli-vs-qa.md) mix POS accuracy with NER span F1, not two
    families under two identical headings, one per checkpoint metric."""
    pos = {"pos": ("token_classification", "acc", 0.90, {"de": ("de", 0.80, None), "fr": ("fr", 0.78, None)})}
    write_ledger(tmp_path, study_rows({**TARGETS, **pos}))
    report = build_report(load_ledger(tmp_path / "results.jsonl"), root=tmp_path)
    fam = _row(report.families, "zero-shot", "structured prediction", FAMILY_MEAN, "squad")
    assert fam["benchmarks"] == "ner,pos" and fam["metrics"] == "test/acc,test/f1"
    assert fam["delta"] == pytest.approx(0.02 + 0.005)
    text = report.markdown()
    assert text.count("### xlmr · zero-shot") == 1 and text.count("### xlmr · training language") == 1


def test_a_repeated_seed_counts_once(tmp_path):
    """A second run of mnli's seed-0 XNLI target under another run id, scored 0.10 higher everywhere: the main
    and cross-lingual tables keep the latest run of a seed (with a warning); the family view averaged both, so its
    XNLI Δ was 0.05 / 3 away from the main table's."""
    rows = study_rows()
    rerun = copy.deepcopy(next(r for r in rows if r["run_id"] == "xnli-mnli-0"))
    rerun.update(run_id="xnli-mnli-0-rerun", time=stamp())
    rerun["metrics"] = {k: v + 0.10 for k, v in rerun["metrics"].items()}
    for spec in rerun["evals"].values():
        spec["metrics"] = {k: v + 0.10 for k, v in spec["metrics"].items()}
    write_ledger(tmp_path, rows + [rerun])
    with pytest.warns(LedgerWarning, match="repeat an existing"):
        report = build_report(load_ledger(tmp_path / "results.jsonl"), root=tmp_path)
    x = TARGETS["xnli"][3]
    xnli = {v: [np.mean([score(x[lang][1], v, "classification", s) + 0.10 * (v == "mnli" and s == 0)
                         for lang in ("de", "fr")]) for s in SEEDS] for v in ("none", "mnli")}
    row = _row(report.families, "zero-shot", "classification", "xnli", "mnli")
    assert row["delta"] == pytest.approx(_expected(xnli, "mnli")["delta"])
    t = report.table
    own = t[(t["task"] == "xnli") & t["own"].astype(bool) & (t["itt_variant"] == "mnli")]
    trained = _row(report.families, "training language", "classification", "xnli", "mnli")
    assert trained["delta"] == pytest.approx(own["delta"].iloc[0])
