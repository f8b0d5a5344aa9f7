"""Gain vs divergence: measures.jsonl joined to Δ per (model, intermediate key, target/eval key)."""

from __future__ import annotations

import itertools
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from report_ledger import dataset, eval_set, intermediate_row, target_row, write_ledger
from scipy import stats as sps

from itt.report import Bootstrap, build_report, gain_vs_measure_plots, load_ledger, write_outputs
from itt.report.divergence import EXACT_P_MAX_N, rho_table, scopes, spearman_ci
from itt.report.plots import _fmt_rho

INTERMEDIATES = {"A": 0.9, "B": 0.5, "C": 0.2, "D": 0.7}   # overlap with the target data
GAIN = {"A": 0.05, "B": 0.02, "C": -0.01, "D": 0.03}        # Δ on the own test set


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("div")
    rows, measures = [], []
    for model, scale in (("xlmr", 1.0), ("mbert", 0.5)):
        for s in range(2):
            data = dataset("en", "xnli", "en")
            evals = {"de": eval_set("de", 0.70 + 0.01 * s)}
            rows.append(target_row(f"{model}-none-{s}", model=model, seed=s, data=data,
                                   value=0.80 + 0.01 * s, evals=evals))
            for name, gain in GAIN.items():
                inter = intermediate_row(f"{model}-{name}-{s}", dataset(name, f"data/{name}"),
                                         model=model, seed=s)
                evals = {"de": eval_set("de", 0.70 + 0.01 * s + gain / 2)}
                rows += [inter, target_row(f"{model}-{name}-t{s}", model=model, seed=s, data=data,
                                           value=0.80 + 0.01 * s + scale * gain, parent=inter,
                                           evals=evals)]
    for name, overlap in INTERMEDIATES.items():
        for b_key in ("xnli:en", "xnli:de"):
            for seed in (0, 1):  # repeated measurements are averaged
                measures.append({"a_key": f"data/{name}", "b_key": b_key, "model": None,
                                 "measure": "overlap", "value": overlap + 0.01 * seed,
                                 "n_a": 100, "n_b": 100, "params": {"n": 1}, "seed": seed})
        # a per-model measure, once named by config name, once by hub id
        for model in ("xlmr", "org/mbert"):
            measures.append({"a_key": f"data/{name}", "b_key": "xnli:en", "model": model,
                             "measure": "mmd", "value": 1 - overlap, "n_a": 50, "n_b": 50,
                             "params": None, "seed": 0})
    write_ledger(root, rows)
    (root / "measures.jsonl").write_text("\n".join(json.dumps(m) for m in measures)
                                         + "\n{broken\n")
    return root


@pytest.fixture(scope="module")
def report(root):
    with pytest.warns(UserWarning, match="skipping measure line"):
        return build_report(load_ledger(root / "results.jsonl"), root=root)


def test_join(report):
    g = report.gains
    # overlap: 2 models × 4 intermediates × 2 evaluated sets (en own, de); mmd: own set only
    assert (g["measure"] == "overlap").sum() == 16
    assert (g["measure"] == "mmd").sum() == 8
    row = g[(g.model == "xlmr") & (g.a_key == "data/A") & (g["eval"] == "de")
            & (g.measure == "overlap")].iloc[0]
    assert row["b_key"] == "xnli:de" and row["eval_lang"] == "de"
    assert row["measure_value"] == pytest.approx(0.9 + 0.005)  # mean of the two seeds
    assert row["delta"] == pytest.approx(GAIN["A"] / 2)
    mb = g[(g.model == "mbert") & (g.a_key == "data/C") & (g.measure == "mmd")].iloc[0]
    assert mb["delta"] == pytest.approx(0.5 * GAIN["C"]) and mb["measure_value"] == pytest.approx(0.8)


def _exact_p(x, y) -> float:
    """Two-sided permutation p of Spearman's ρ over every ordering of y (brute force)."""
    rx, ry = sps.rankdata(x), sps.rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    shuffled = ry[np.array(list(itertools.permutations(range(len(ry)))))]  # one row per ordering
    rhos = shuffled @ rx / np.sqrt((rx @ rx) * (ry @ ry))
    rho = sps.spearmanr(x, y).statistic
    return float(np.mean(np.abs(rhos) >= abs(rho) - 1e-9))


def test_rho_matches_scipy(report):
    g, rho = report.gains, report.rho.set_index(["measure", "model", "scope"])
    for (measure, model, scope), r in rho.iterrows():
        sub = g[g.measure == measure] if model == "all" else g[(g.measure == measure)
                                                                & (g.model == model)]
        sub = {"all": sub, "training language": sub[sub.own], "zero-shot": sub[~sub.own]}[scope]
        ref = sps.spearmanr(sub["measure_value"], sub["delta"])
        assert r["n"] == len(sub)
        assert r["rho"] == pytest.approx(ref.statistic)
        # few points: the exact permutation p (scipy's t approximation gives 0 for a perfect ranking)
        p = _exact_p(sub["measure_value"], sub["delta"]) if len(sub) <= EXACT_P_MAX_N else ref.pvalue
        assert r["p_value"] == pytest.approx(p)
        assert r["rho_ci_low"] <= r["rho"] + 1e-12 and r["rho"] - 1e-12 <= r["rho_ci_high"]
    # per model on the own set, the gains are ordered exactly like the overlaps
    assert rho.loc[("mmd", "xlmr", "all"), "rho"] == pytest.approx(-1.0)
    assert rho.loc[("mmd", "xlmr", "all"), "p_value"] == pytest.approx(2 / 24)  # 4 points: 2 of 24 orderings as extreme
    assert {len(g[g.measure == "overlap"]), len(g[g.measure == "mmd"])} == {16, 8}  # both sides of EXACT_P_MAX_N
    # overlap mixes the own set (en) and de: its ρ also per scope; mmd has own points only
    assert set(rho.loc["overlap"].index.get_level_values("scope")) == {"all", "training language", "zero-shot"}
    assert set(rho.loc["mmd"].index.get_level_values("scope")) == {"all"}


def test_a_few_points_get_an_exact_p_and_many_keep_scipys():
    x = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert spearman_ci(x, [1.0, 2.0, 3.0, 5.0, 4.0])[3] == pytest.approx(10 / 120)  # ρ = ±0.9 or ±1: 10 orderings
    with pytest.warns(sps.ConstantInputWarning):  # no ρ, so no p
        assert np.isnan(spearman_ci(x, [2.0, 2.0, 2.0, 2.0, 2.0])[3])
    rng = np.random.default_rng(0)
    many_x, many_y = rng.random(12), rng.random(12)
    assert spearman_ci(many_x, many_y)[3] == pytest.approx(sps.spearmanr(many_x, many_y).pvalue)


def test_outputs(report, tmp_path):
    written = write_outputs(report, tmp_path)
    for name in ("gain_vs_overlap", "gain_vs_mmd"):
        png = written[name]
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    rho = pd.read_csv(written["divergence_rho"])
    assert set(rho["model"]) == {"all", "xlmr", "mbert"}
    assert "## Gain vs divergence" in report.markdown()
    assert np.isfinite(pd.read_csv(written["divergence"])["measure_value"]).all()


def test_no_measures_file(tmp_path):
    rows = [target_row("t", value=0.8)]
    write_ledger(tmp_path, rows)
    report = build_report(load_ledger(tmp_path / "results.jsonl"), root=tmp_path)
    assert report.gains.empty and report.rho.empty


# One target (en) scored on its own test set and zero-shot in two languages after three intermediates.
# The own points are far off (the in-language gain is much larger, and the target's own data are the
# closest to the intermediates): pooled, they carry ρ; the zero-shot points alone rank otherwise.
OWN = {"A": (0.10, 0.12), "B": (0.12, 0.10), "C": (0.08, 0.15)}  # intermediate: (measure, Δ)
ZERO_SHOT_LANGS = ("de", "sw")


def _zero_shot_point(k: int) -> tuple[float, float]:
    """(measure, Δ) of the k-th (intermediate, language) pair: Δ a permutation of the order of the measure."""
    return 0.40 + 0.02 * k, 0.01 + 0.002 * ((5 * k) % 6)


@pytest.fixture(scope="module")
def scoped(tmp_path_factory):
    root = tmp_path_factory.mktemp("scope")
    rows, measures = [], []
    data = dataset("en", "xnli", "en")
    for s in range(2):
        rows.append(target_row(f"none-{s}", seed=s, data=data, value=0.80,
                               evals={lg: eval_set(lg, 0.60) for lg in ZERO_SHOT_LANGS}))
    for i, (name, (own_value, own_gain)) in enumerate(OWN.items()):
        evals = {}
        for j, lang in enumerate(ZERO_SHOT_LANGS):
            value, gain = _zero_shot_point(len(ZERO_SHOT_LANGS) * i + j)
            evals[lang] = eval_set(lang, 0.60 + gain)
            measures.append({"a_key": f"data/{name}", "b_key": f"xnli:{lang}", "model": None,
                             "measure": "cosine", "value": value, "params": None, "seed": 0})
        measures.append({"a_key": f"data/{name}", "b_key": "xnli:en", "model": None,
                         "measure": "cosine", "value": own_value, "params": None, "seed": 0})
        for s in range(2):
            inter = intermediate_row(f"{name}-{s}", dataset(name, f"data/{name}"), seed=s)
            rows += [inter, target_row(f"{name}-t{s}", seed=s, data=data, value=0.80 + own_gain,
                                       parent=inter, evals=evals)]
    write_ledger(root, rows)
    (root / "measures.jsonl").write_text("".join(json.dumps(m) + "\n" for m in measures))
    return root, build_report(load_ledger(root / "results.jsonl"), root=root)


def test_rho_is_given_for_the_training_language_and_the_zero_shot_languages_apart(scoped):
    _, report = scoped
    g = report.gains
    assert g["own"].sum() == 3 and (~g["own"]).sum() == 6
    assert set(g["lang"]) == {"en"}  # the target's training language reaches the points (scopes reads it)
    rho = report.rho[report.rho["model"] == "all"].set_index("scope")
    assert list(rho.index) == ["all", "training language", "zero-shot"]
    for scope, sub in (("all", g), ("training language", g[g["own"]]), ("zero-shot", g[~g["own"]])):
        ref = sps.spearmanr(sub["measure_value"], sub["delta"])
        assert rho.loc[scope, "n"] == len(sub)
        assert rho.loc[scope, "rho"] == pytest.approx(ref.statistic), scope
    # the ρ over all points is the one the report gave before there were scopes
    assert tuple(rho.loc["all", ["rho", "rho_ci_low", "rho_ci_high", "p_value"]]) == pytest.approx(
        spearman_ci(g["measure_value"], g["delta"]))
    # pooled, the three own points make a strong, "significant" ρ; the zero-shot points alone do not
    assert rho.loc["all", "rho"] < -0.5 and rho.loc["all", "p_value"] < 0.05
    assert abs(rho.loc["zero-shot", "rho"]) < 0.5 and rho.loc["zero-shot", "p_value"] > 0.05
    assert rho.loc["training language", "rho"] == pytest.approx(-1.0)


def test_a_scope_with_fewer_than_three_points_has_no_rho_and_one_kind_of_point_has_no_scopes():
    # PAWS-X-like: one intermediate, the training language and six zero-shot languages
    deltas = [0.20, 0.01, 0.03, 0.00, 0.02, -0.01, 0.015]
    joined = pd.DataFrame({"measure": "cosine", "metric": "test/acc", "eval_kind": "sequence_classification",
                           "model": "me5", "own": [True] + [False] * 6,
                           "measure_value": [0.95, 0.80, 0.82, 0.70, 0.78, 0.60, 0.75], "delta": deltas})
    rho = rho_table(joined).set_index(["model", "scope"])
    own = rho.loc[("all", "training language")]
    assert own["n"] == 1 and np.isnan(own["rho"]) and np.isnan(own["p_value"])
    zs = joined[~joined["own"]]
    assert rho.loc[("me5", "zero-shot"), "rho"] == pytest.approx(
        sps.spearmanr(zs["measure_value"], zs["delta"]).statistic)
    assert rho.loc[("all", "all"), "n"] == 7
    only_own = rho_table(joined.assign(own=True))
    assert set(only_own["scope"]) == {"all"} and len(only_own) == 2  # all models, me5


def test_an_eval_set_in_the_training_language_is_not_zero_shot():
    """An English target's English eval sets (XQuAD en, MLQA en next to SQuAD) are in-language gains:
    they go with the own test sets, not into the zero-shot ρ."""
    joined = pd.DataFrame({"measure": "cosine", "model": "m", "lang": "en",
                           "own": [True, False, False, False, False, False],
                           "eval_lang": ["en", "en", "de", "en", "es", "fr"],
                           "measure_value": [0.9, 0.8, 0.5, 0.7, 0.4, 0.3], "delta": [0.1, 0.2, 0.0, 0.3, 0.05, 0.01]})
    scoped = dict(scopes(joined))
    assert list(scoped["zero-shot"]["eval_lang"]) == ["de", "es", "fr"]
    assert len(scoped["training language"]) == 3
    assert len(scoped["all"]) == 6


def test_the_outputs_name_the_scope(scoped, tmp_path):
    _, report = scoped
    written = write_outputs(report, tmp_path)
    assert "own" in pd.read_csv(written["divergence"]).columns
    assert set(pd.read_csv(written["divergence_rho"])["scope"]) == {"all", "training language", "zero-shot"}
    md = report.markdown()
    assert "| scope |" in md.replace("  ", " ") and "zero-shot" in md
    (fig,) = gain_vs_measure_plots(report.gains, report.rho).values()
    ax = fig.axes[0]
    rho = report.rho[report.rho["model"] == "all"].set_index("scope")
    title = ax.get_title()
    assert f"{rho.loc['all', 'rho']:+.2f}" in title and f"{rho.loc['zero-shot', 'rho']:+.2f}" in title
    assert "zero-shot" in title
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("training language" in t for t in labels), labels
    markers = {c.get_paths()[0].vertices.tobytes() for c in ax.collections if len(c.get_offsets())}
    assert len(markers) == 2  # own-language points drawn with another marker


def _xnli_cell(**changes) -> dict:
    """A main-table cell (every TABLE_COLUMNS key) of an ITT target on XNLI en, intermediate A."""
    from itt.report.stats import TABLE_COLUMNS

    return dict.fromkeys(TABLE_COLUMNS) | {
        "source": "hub", "split": "official", "hparams_id": "hp000001", "task": "xnli", "target": "en",
        "key": "xnli:en", "eval": "en", "eval_kind": "sequence_classification", "metric": "test/acc",
        "model": "xlmr", "hub_id": "org/xlmr", "itt_variant": "A", "intermediate_hparams": "ih01",
        "intermediate_key": "data/A", "own": True, "eval_key": "xnli:en"} | changes


def test_cells_that_differ_only_in_their_checkpoint_metric_are_two_points():
    """Runs whose checkpoint was selected on val/acc and on val/de/acc are two cells (selected_on is a group
    key), but the join's de-duplication did not look at selected_on and kept one: 1 point (Δ +0.020) of 2."""
    from itt.report.divergence import join_gains
    cell = _xnli_cell(n_pairs=2)
    cells = pd.DataFrame([cell | {"selected_on": "val/acc", "delta": 0.02},
                          cell | {"selected_on": "val/de/acc", "delta": 0.04}])
    measures = pd.DataFrame([{"a_key": "data/A", "b_key": "xnli:en", "model": None, "measure": "overlap",
                              "value": 0.9, "n_a": 100, "n_b": 100, "params": "", "seed": 0}])
    assert sorted(join_gains(cells, measures)["delta"]) == [0.02, 0.04]


def test_each_point_says_whether_its_gain_is_paired():
    """A cell without a seed on both sides has the difference of the two means as its Δ: divergence.csv says so."""
    from itt.report.divergence import join_gains
    cell = _xnli_cell(selected_on="val/acc")
    cells = pd.DataFrame([cell | {"delta": 0.02, "delta_kind": "paired", "n_pairs": 3},
                          cell | {"itt_variant": "B", "intermediate_key": "data/B", "delta": 0.05,
                                  "delta_kind": "unpaired", "n_pairs": 0}])
    measures = pd.DataFrame([{"a_key": k, "b_key": "xnli:en", "model": None, "measure": "overlap", "value": v,
                              "n_a": 100, "n_b": 100, "params": "", "seed": 0} for k, v in (("data/A", 0.9), ("data/B", 0.5))])
    joined = join_gains(cells, measures).set_index("itt_variant")
    assert joined.loc["A", "delta_kind"] == "paired" and joined.loc["B", "delta_kind"] == "unpaired"


def test_proxy_a_distance_measured_with_two_seeds_is_one_measure_averaged_over_them(tmp_path):
    """``itt.measure`` writes proxy_a_distance's fold seed into its row's ``params`` (``{"C": 1.0, "seed": s}``),
    so rows of ``measure.seed=0,1`` differed in params and became two measures ("proxy_a_distance {... seed 0}"
    and "... seed 1"), each with its own ρ, where every other measure's seeds are averaged into one point."""
    from itt.report.divergence import join_gains, load_measures
    cell = _xnli_cell(n_pairs=2, delta=0.02)
    rows = [{"a_key": "data/A", "b_key": "xnli:en", "model": "xlmr", "measure": measure, "value": value,
             "n_a": 100, "n_b": 100, "params": params, "seed": seed}
            for seed, pad, mmd in ((0, 1.2, 0.03), (1, 1.4, 0.05))
            for measure, value, params in (("proxy_a_distance", pad, {"C": 1.0, "seed": seed}), ("mmd", mmd, {}))]
    (tmp_path / "measures.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    joined = join_gains(pd.DataFrame([cell]), load_measures(tmp_path)).set_index("measure")["measure_value"]
    assert joined.to_dict() == pytest.approx({"mmd": 0.04, "proxy_a_distance": 1.3})
    # another C is another measure, as before
    rows.append(rows[0] | {"params": {"C": 0.1, "seed": 0}, "value": 0.9})
    (tmp_path / "measures.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    labels = set(join_gains(pd.DataFrame([cell]), load_measures(tmp_path))["measure"])
    assert labels == {"mmd", 'proxy_a_distance {"C": 0.1}', 'proxy_a_distance {"C": 1.0}'}


def test_gains_of_different_metrics_are_ranked_apart(tmp_path):
    """A classification target (test/acc) and a regression target (test/pearson), each after the same four
    intermediates: the accuracy gain grows with the measure and the Pearson gain shrinks. Ranked together, the
    eight Δs of two metrics gave one unlabelled ρ = 0 over n = 8; each metric's own ranking is ρ = +1 and −1."""
    from itt.report.tables import render_rho_markdown

    gains = {"acc": [0.01, 0.02, 0.03, 0.04], "pearson": [0.30, 0.20, 0.10, 0.05]}
    rows, measures = [], []
    for metric, kind, task in (("acc", "sequence_classification", "cls"), ("pearson", "sequence_regression", "sts")):
        target = dataset("target", f"{task}_target")
        for s in range(3):
            rows.append(target_row(f"{task}-none-{s}", task=task, kind=kind, metric=metric, seed=s, data=target,
                                   value=0.5 + 0.01 * s))
        for k, gain in enumerate(gains[metric]):
            inter = intermediate_row(f"{task}-int{k}", dataset("intermediate", f"data/i{k}"), task=task, kind=kind,
                                     metric=metric)
            rows.append(inter)
            rows += [target_row(f"{task}-i{k}-{s}", task=task, kind=kind, metric=metric, seed=s, data=target,
                                value=0.5 + 0.01 * s + gain + 0.001 * s * s, parent=inter, variant=f"i{k}")
                     for s in range(3)]
            measures.append({"a_key": f"data/i{k}", "b_key": f"{task}_target", "model": None, "measure": "overlap",
                             "value": float(k), "params": {}})
    write_ledger(tmp_path, rows)
    (tmp_path / "measures.jsonl").write_text("".join(json.dumps(m) + "\n" for m in measures))
    report = build_report(load_ledger(tmp_path / "results.jsonl"), root=tmp_path)

    assert (report.rho["n"] == 4).all(), report.rho  # no ρ over the 8 points of both metrics
    rho = report.rho[report.rho["model"] == "all"].set_index("metric")
    assert sorted(rho.index) == ["test/acc", "test/pearson"]
    assert rho.loc["test/acc", "rho"] == pytest.approx(1.0) and rho.loc["test/acc", "n"] == 4
    assert rho.loc["test/pearson", "rho"] == pytest.approx(-1.0) and rho.loc["test/pearson", "n"] == 4
    assert "| test/pearson |" in render_rho_markdown(report.rho)
    figures = gain_vs_measure_plots(report.gains, report.rho)
    assert len(figures) == 2  # one scatter per metric, its Δ axis naming the metric
    assert sorted(f.axes[0].get_ylabel() for f in figures.values()) == [
        "Δ test/acc, sequence_classification (ITT − no-ITT)", "Δ test/pearson, sequence_regression (ITT − no-ITT)"]


def test_gains_of_different_eval_kinds_are_ranked_apart(tmp_path):
    """An XNLI target scored on its own test set (classification accuracy) and on a Tatoeba eval set (retrieval
    accuracy, also ``test/acc``) after four intermediates: one metric name, two quantities. Ranked together they
    gave ρ = 0 over n = 8; each kind's own ranking is ρ = +1 (classification) and −1 (retrieval)."""
    from itt.report.tables import render_rho_markdown

    gains = {"sequence_classification": [0.01, 0.02, 0.03, 0.04], "retrieval": [0.30, 0.20, 0.10, 0.05]}
    data = dataset("en", "xnli", "en")

    def tatoeba(value: float) -> dict:
        return eval_set("de", value, path="tatoeba") | {"kind": "retrieval"}

    rows = [target_row(f"none-{s}", seed=s, value=0.5 + 0.01 * s, data=data, evals={"tatoeba_de": tatoeba(0.4)})
            for s in range(3)]
    measures = []
    for k in range(4):
        inter = intermediate_row(f"int{k}", dataset("intermediate", f"data/i{k}"))
        rows.append(inter)
        rows += [target_row(f"i{k}-{s}", seed=s, data=data, parent=inter, variant=f"i{k}",
                            value=0.5 + 0.01 * s + gains["sequence_classification"][k] + 0.001 * s * s,
                            evals={"tatoeba_de": tatoeba(0.4 + gains["retrieval"][k] + 0.001 * s * s)})
                 for s in range(3)]
        measures += [{"a_key": f"data/i{k}", "b_key": b_key, "model": None, "measure": "overlap",
                      "value": float(k), "params": {}} for b_key in ("xnli:en", "tatoeba:de")]
    write_ledger(tmp_path, rows)
    (tmp_path / "measures.jsonl").write_text("".join(json.dumps(m) + "\n" for m in measures))
    report = build_report(load_ledger(tmp_path / "results.jsonl"), root=tmp_path)

    assert (report.rho["n"] == 4).all(), report.rho  # no ρ over the 8 points of both kinds
    rho = report.rho[report.rho["model"] == "all"].set_index("eval_kind")
    assert rho.loc["sequence_classification", "rho"] == pytest.approx(1.0)
    assert rho.loc["retrieval", "rho"] == pytest.approx(-1.0)
    assert "| retrieval |" in render_rho_markdown(report.rho)
    figures = gain_vs_measure_plots(report.gains, report.rho)
    assert len(figures) == 2  # one scatter per kind, its Δ axis naming the kind
    assert sorted(f.axes[0].get_ylabel() for f in figures.values()) == [
        "Δ test/acc, retrieval (ITT − no-ITT)", "Δ test/acc, sequence_classification (ITT − no-ITT)"]


def test_no_resamples_means_no_rho_interval_but_the_same_rho_and_p(root, report, tmp_path):
    with pytest.warns(UserWarning, match="skipping measure line"):
        plain = build_report(load_ledger(root / "results.jsonl"), root=root, bootstrap=Bootstrap(resamples=0))
    assert plain.rho[["rho_ci_low", "rho_ci_high"]].isna().all().all()
    assert np.isfinite(report.rho["rho_ci_low"]).any()  # with resamples, the intervals are there
    pd.testing.assert_series_equal(plain.rho["rho"], report.rho["rho"])
    pd.testing.assert_series_equal(plain.rho["p_value"], report.rho["p_value"])
    rho_section = plain.markdown().split("## Gain vs divergence")[1]
    assert "nan" not in rho_section.lower()
    label = _fmt_rho(plain.rho.iloc[0].to_dict())
    assert "nan" not in label and label.startswith("ρ = ")
    assert write_outputs(plain, tmp_path)["gain_vs_mmd"].stat().st_size > 10_000


def test_rows_of_an_older_measure_definition_or_sampling_are_left_out_and_said(tmp_path):
    """itt.measure's rows from before its samples kept each shared item on one side (no ``sampling``), or from an
    older definition of their measure (mmd ``version`` 1), are other quantities: averaged with today's they moved
    the value. Rows not written by itt.measure (no ``cache_key``) are read as they are."""
    from itt.measures.registry import SAMPLING, VERSION
    from itt.report.divergence import join_gains, load_measures

    cell = _xnli_cell(n_pairs=2, delta=0.02)
    base = {"a_key": "data/A", "b_key": "xnli:en", "model": "xlmr", "n_a": 100, "n_b": 100, "params": {}, "seed": 0}
    now = {"version": VERSION["mmd"], "sampling": SAMPLING, "cache_key": "k1"}
    rows = [base | {"measure": "mmd", "value": 0.01, "cache_key": "k0"},                  # before sampling was recorded
            base | {"measure": "mmd", "value": 0.02} | now | {"version": 1, "cache_key": "k2"},  # an older mmd
            base | {"measure": "mmd", "value": 0.05} | now,
            base | {"measure": "unigram_js", "value": 0.3}]                                   # written by hand
    (tmp_path / "measures.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with warnings.catch_warnings():  # both stale rows are measured again by the current one: nothing to say
        warnings.simplefilter("error")
        measures = load_measures(tmp_path)
    joined = join_gains(pd.DataFrame([cell]), measures).set_index("measure")["measure_value"]
    assert joined.to_dict() == pytest.approx({"mmd": 0.05, "unigram_js": 0.3})
    # a pair measured only the old way is left out, and the report says so
    rows.append(base | {"b_key": "xnli:de", "measure": "mmd", "value": 0.04, "cache_key": "k3"})
    (tmp_path / "measures.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.warns(UserWarning, match=r"measures.jsonl: leaving out 1 measure rows of another definition"):
        assert set(load_measures(tmp_path)["b_key"]) == {"xnli:en"}


def test_the_plots_zero_shot_line_fits_the_points_its_title_counts_as_zero_shot():
    """XQuAD en of a SQuAD target is in-language for the ρ scopes; the plot drew it as a zero-shot circle and fit
    the dashed line through it, so the line and the title's zero-shot ρ were over other points."""
    from itt.report.plots import plot_gain_vs_measure

    joined = pd.DataFrame({"measure": "cosine", "model": "m", "lang": "en", "metric": "f1", "eval_kind": "qa",
                           "own": [True, False, False, False, False, False],
                           "eval_lang": ["en", "en", "de", "es", "fr", "ar"],
                           "measure_value": [0.9, 0.8, 0.5, 0.4, 0.3, 0.2], "delta": [0.1, 0.4, 0.0, 0.03, 0.05, 0.01]})
    rho = {"rho": 1.0, "rho_ci_low": np.nan, "rho_ci_high": np.nan, "n": 6, "p_value": 0.1}
    fig = plot_gain_vs_measure(joined, rho, zero_shot=rho | {"rho": 0.4, "n": 4, "p_value": 0.5})
    ax = fig.axes[0]
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 1
    zero = joined[joined["eval_lang"] != "en"]
    slope = np.polyfit(zero["measure_value"], zero["delta"], 1)[0]
    assert f"slope {slope:+.3g}" in dashed[0].get_label()
    # 4 zero-shot circles and 2 in-language squares (the own test set and XQuAD en)
    assert sorted(len(c.get_offsets()) for c in ax.collections if len(c.get_offsets())) == [2, 4]


def test_a_pair_measured_at_two_sample_sizes_is_read_at_the_larger(tmp_path):
    """A measure moves with the sample size: averaged over 2,000 and 200 rows per side, pair B ranked as further
    from its target than pair C, measured at 2,000 only, where at one size it is closer."""
    from itt.report.divergence import join_gains, load_measures

    rows = [{"a_key": "data/B", "b_key": "xnli:en", "model": "xlmr", "measure": "mmd", "value": 0.40, "n_a": 2000,
             "n_b": 2000, "params": {}, "seed": 0, "sample_size": 2000},
            {"a_key": "data/B", "b_key": "xnli:en", "model": "xlmr", "measure": "mmd", "value": 1.20, "n_a": 200,
             "n_b": 200, "params": {}, "seed": 0, "sample_size": 200},
            {"a_key": "data/C", "b_key": "xnli:en", "model": "xlmr", "measure": "mmd", "value": 0.60, "n_a": 2000,
             "n_b": 2000, "params": {}, "seed": 0, "sample_size": None}]  # null: every row
    (tmp_path / "measures.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cells = pd.DataFrame([_xnli_cell(n_pairs=2, delta=0.02) | {"intermediate_key": f"data/{k}", "itt_variant": k}
                          for k in ("B", "C")])
    with pytest.warns(UserWarning, match=r"1 measured pair\(s\) have rows at several sample sizes"):
        joined = join_gains(cells, load_measures(tmp_path))
    assert joined.set_index("a_key")["measure_value"].to_dict() == pytest.approx({"data/B": 0.40, "data/C": 0.60})


def test_a_rho_over_points_measured_on_samples_of_other_sizes_is_warned_about_and_each_point_says_its_size(tmp_path):
    """A set smaller than measure.sample_size is measured whole, so one sample size gives each pair its own number
    of rows (PAN-X jv/my/yo: 200 rows against 2,000), and a measure moves with it; the ρ over them said nothing.
    Settings that change a pair's rows under one sample size (max_rows) were averaged silently too."""
    from itt.report.divergence import join_gains, load_measures

    def measure(a, value, n):
        return {"a_key": f"data/{a}", "b_key": "xnli:en", "model": "xlmr", "measure": "mmd", "value": value,
                "n_a": n, "n_b": 2000, "params": {}, "seed": 0, "sample_size": 2000}

    (tmp_path / "measures.jsonl").write_text("".join(json.dumps(r) + "\n" for r in (
        measure("A", 0.2, 2000), measure("B", 0.5, 2000), measure("C", 0.9, 200))))
    cells = pd.DataFrame([_xnli_cell(n_pairs=2, delta=d) | {"intermediate_key": f"data/{k}", "itt_variant": k}
                          for k, d in (("A", 0.03), ("B", 0.02), ("C", -0.01))])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one size per pair: nothing said at the join
        joined = join_gains(cells, load_measures(tmp_path))
    assert joined.set_index("a_key")["measure_rows"].to_dict() == {"data/A": 2000, "data/B": 2000, "data/C": 200}
    with pytest.warns(UserWarning, match=r"measured on 200 to 2,000 rows per side.*measure.sample_size=200"):
        rho_table(joined, resamples=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # within the tolerance: no warning
        rho_table(joined[joined["a_key"] != "data/C"], resamples=0)
    # the same pair measured twice at one sample size on other rows (another max_rows): averaged, and said
    (tmp_path / "measures.jsonl").write_text("".join(json.dumps(r) + "\n" for r in (
        measure("A", 0.2, 2000), measure("A", 0.4, 900))))
    with pytest.warns(UserWarning, match=r"1 measured pair\(s\) have rows of several sample sizes at one"):
        joined = join_gains(cells[cells["itt_variant"] == "A"], load_measures(tmp_path))
    assert joined["measure_value"].tolist() == pytest.approx([0.3])


def test_values_of_several_encoders_under_one_model_name_are_said_to_be_averaged(tmp_path):
    """A measure row named its encoder by config name only: a sweep of model.hub_id (or an embedded config) wrote
    rows that the join averaged into one value per cell, silently. Rows name the encoder now; several are said."""
    from itt.report.divergence import join_gains, load_measures

    def measure(value, encoder):
        return {"a_key": "data/A", "b_key": "xnli:en", "model": "bert", "measure": "mmd", "value": value,
                "n_a": 500, "n_b": 500, "params": {}, "seed": 0, "sample_size": 2000, "encoder": encoder}

    cells = pd.DataFrame([_xnli_cell(n_pairs=2, delta=0.01) | {"intermediate_key": "data/A", "itt_variant": "A",
                                                                "model": "bert"}])
    (tmp_path / "measures.jsonl").write_text("".join(json.dumps(r) + "\n" for r in (measure(0.2, "e1"), measure(0.6, "e2"))))
    with pytest.warns(UserWarning, match=r"1 measured pair\(s\) have values of several encoders under one model name"):
        join_gains(cells, load_measures(tmp_path))
    (tmp_path / "measures.jsonl").write_text("".join(json.dumps(r) + "\n" for r in (measure(0.2, "e1"), measure(0.6, None))))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a row from before encoders were named: not told apart
        join_gains(cells, load_measures(tmp_path))
